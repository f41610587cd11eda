// The settings of `cdht node`: flags over CDHT_* variables over a config file (TOML or JSON)
// over the defaults, each value's shape checked and its source kept for error messages; and
// core/config.ts's checkConfig, where every default, limit and cross-rule of a peer is decided.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentProblem, initPlan, nodePlan, ringPlan } from '../src/cli/args.js';
import { checkConfig, ConfigError, DEFAULT_BASE_PORT, DEFAULT_HOST, DEFAULT_PING_MISSES, MAX_SUCCESSORS, settingsOf, type ConfigInput, type Surface } from '../src/core/config.js';
import { MAX_SUCCESSORS as WIRE_MAX_SUCCESSORS } from '../src/core/messages.js';
import { RingController } from '../src/control/ring-controller.js';
import { startPeer } from '../src/peer.js';
import { createTestnet } from '../src/testnet.js';
import { idSpace } from '../src/space.js';
import { ConfigProblem, describeSource, loadConfig, mergeConfig, readConfigFile } from '../src/config/merge.js';
import { SETTINGS, camelName, envName } from '../src/config/settings.js';
import { REPO_ROOT } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cdht-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('config: names', () => {
  test('a setting\'s variable is its name in capitals with underscores, its flag key in camel case', () => {
    assert.equal(envName('data-dir'), 'CDHT_DATA_DIR');
    assert.equal(envName('seeds'), 'CDHT_SEEDS');
    assert.equal(camelName('max-file-size'), 'maxFileSize');
  });

  test('every option of init and join is a setting, and so are seeds', () => {
    const names = new Set(SETTINGS.map((s) => s.name));
    for (const n of ['id', 'bits', 'listen', 'advertise', 'tls', 'replicas', 'successors', 'base-port', 'host', 'data-dir', 'ping-misses', 'ping-lines', 'debug', 'shortcuts', 'routing', 'max-file-size', 'seeds']) {
      assert.ok(names.has(n), n);
    }
  });
});

describe('config: precedence', () => {
  const toml = () => file('cdht.toml', 'base-port = 20000\nhost = "10.0.0.1"\nping-misses = 7\nseeds = ["a.example:7000", "9@b.example:7000"]\ndebug = true\n');

  test('with nothing given, the defaults are the ones args.ts and contact.ts define', () => {
    const c = mergeConfig({}, {});
    assert.equal(c.values['base-port'], DEFAULT_BASE_PORT);
    assert.equal(c.values['host'], DEFAULT_HOST);
    assert.equal(c.values['ping-misses'], DEFAULT_PING_MISSES);
    assert.deepEqual(c.values['seeds'], []);
    assert.equal(c.values['id'], undefined);
    assert.deepEqual(c.sources['host'], { kind: 'default' });
  });

  test('a TOML file overrides the defaults', () => {
    const c = loadConfig({ config: toml() }, {});
    assert.equal(c.values['base-port'], 20000);
    assert.equal(c.values['host'], '10.0.0.1');
    assert.deepEqual(c.values['seeds'], ['a.example:7000', '9@b.example:7000']);
    assert.equal(c.values['debug'], true);
    assert.equal(c.sources['host']?.kind, 'file');
  });

  test('a JSON file reads the same, and CDHT_CONFIG names it when --config does not', () => {
    const path = file('cdht.json', JSON.stringify({ 'base-port': 20000, seeds: ['a.example:7000'], 'data-dir': '/var/lib/cdht' }));
    const c = loadConfig({}, { CDHT_CONFIG: path });
    assert.equal(c.values['base-port'], 20000);
    assert.deepEqual(c.values['seeds'], ['a.example:7000']);
    assert.equal(c.values['data-dir'], '/var/lib/cdht');
  });

  test('variables override the file; comma-separated seeds become a list; empty variables are unset', () => {
    const env = { CDHT_HOST: '10.0.0.2', CDHT_SEEDS: 'c.example:7000, d.example:7000', CDHT_PING_MISSES: '', CDHT_DEBUG: 'false' };
    const c = loadConfig({ config: toml() }, env);
    assert.equal(c.values['host'], '10.0.0.2');
    assert.deepEqual(c.values['seeds'], ['c.example:7000', 'd.example:7000']);
    assert.equal(c.values['ping-misses'], 7, 'the file, since the variable is empty');
    assert.equal(c.values['debug'], false);
    assert.deepEqual(c.sources['host'], { kind: 'env', variable: 'CDHT_HOST' });
  });

  test('flags override variables, the file and the defaults', () => {
    const c = loadConfig({ config: toml(), host: '10.0.0.3', seeds: 'e.example:7000', 'base-port': '21000' }, { CDHT_HOST: '10.0.0.2', CDHT_BASE_PORT: '22000' });
    assert.equal(c.values['host'], '10.0.0.3');
    assert.deepEqual(c.values['seeds'], ['e.example:7000']);
    assert.equal(c.values['base-port'], 21000, 'digits become a number, as a file would hold it');
    assert.equal(mergeConfig({ 'base-port': '021000' }, {}).values['base-port'], '021000', 'other text stays as typed, for args.ts to quote back');
    assert.equal(c.values['ping-misses'], 7);
    assert.deepEqual(c.sources['host'], { kind: 'flag' });
  });

  test('init and join\'s CDHT_TLS_DIR still names the certificates, after CDHT_TLS', () => {
    assert.equal(mergeConfig({}, { CDHT_TLS_DIR: '/a' }).values['tls'], '/a');
    assert.equal(mergeConfig({}, { CDHT_TLS_DIR: '/a', CDHT_TLS: '/b' }).values['tls'], '/b');
  });
});

describe('config: mistakes are one line each', () => {
  const problem = (f: () => unknown, pattern: RegExp) =>
    assert.throws(f, (err: unknown) => err instanceof ConfigProblem && pattern.test(err.message) && !err.message.includes('\n'));

  test('an unknown key in a file is refused, naming the file and the key', () => {
    const path = file('typo.toml', 'data_dir = "/var/lib/cdht"\n');
    problem(() => loadConfig({ config: path }, {}), /typo\.toml: unknown setting "data_dir"/);
  });

  test('a value of the wrong type is refused, naming where it came from', () => {
    problem(() => loadConfig({ config: file('bad.toml', 'base-port = "x"\nseeds = "a:1"\n') }, {}), /bad\.toml: seeds must be a list of strings/);
    problem(() => loadConfig({ config: file('bad.json', '{"debug": "maybe"}') }, {}), /bad\.json: debug must be true or false/);
    problem(() => mergeConfig({}, { CDHT_SHORTCUTS: 'perhaps' }), /^CDHT_SHORTCUTS must be true or false/);
    problem(() => loadConfig({ config: file('frac.toml', 'bits = 16.5\n') }, {}), /frac\.toml: bits must be an integer/);
  });

  test('a file that does not parse, cannot be read or is neither TOML nor JSON is refused in one line', () => {
    problem(() => readConfigFile(file('broken.toml', 'host = \n')), /broken\.toml: not valid TOML/);
    problem(() => readConfigFile(file('broken.json', '{"host": ')), /broken\.json: not valid JSON/);
    problem(() => readConfigFile(join(dir, 'missing.toml')), /missing\.toml: cannot be read \(ENOENT\)/);
    problem(() => readConfigFile(file('cdht.yaml', 'host: a\n')), /must end in \.toml or \.json/);
  });

  test('errors name a setting by its source', () => {
    assert.equal(describeSource('bits', { kind: 'env', variable: 'CDHT_BITS' }), 'CDHT_BITS');
    assert.equal(describeSource('bits', { kind: 'file', path: 'cdht.toml' }), 'cdht.toml: bits');
    assert.equal(describeSource('bits', { kind: 'flag' }), '--bits');
  });
});

test('the README\'s config file example holds only known settings of the right types', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const example = /```toml\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'a TOML example in the README');
  const c = loadConfig({ config: file('readme.toml', example) }, {});
  assert.deepEqual(c.values['seeds'], ['10.0.0.1:7000', 'seed.example:7000']);
  assert.equal(c.values['log-format'], 'json');
});


// ---- checkConfig -------------------------------------------------------------------------------
// Expected values are written out here on purpose: a default or a limit changed in config.ts
// changes what every surface does, and must fail a test.

const SPEC = idSpace(8);
const WIDE = idSpace(32);
const checked = (input: ConfigInput, surface: Surface = 'library', space = SPEC) => checkConfig(input, { space, surface });

/** The ConfigError checkConfig throws for `input`. */
function refusal(input: ConfigInput, surface: Surface = 'library'): ConfigError {
  try {
    checked(input, surface);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${String(err)}`);
    assert.ok(err instanceof RangeError, 'a RangeError, as Peer always threw');
    return err;
  }
  assert.fail(`${JSON.stringify(input)} was taken`);
}

describe('checkConfig: defaults', () => {
  test('the library\'s defaults are the specification\'s in every id space: the successor walk and one copy', () => {
    for (const space of [SPEC, idSpace(16), WIDE]) {
      assert.deepEqual(checked({}, 'library', space), {
        pingMisses: 3,
        routing: 'successor',
        successors: 4,
        replicas: 1,
        maxFileBytes: 1024 ** 3,
        requestTimeoutMs: 15_000,
        originProofs: true,
        collectSurplus: true,
        basePort: 12000,
      });
    }
  });

  test('a peer started by the CLI routes and copies by its id space: successor and 1 at 8 bits, fingers and 3 above', () => {
    assert.equal(checked({}, 'peer', SPEC).routing, 'successor');
    assert.equal(checked({}, 'peer', SPEC).replicas, 1);
    for (const space of [idSpace(9), idSpace(16), WIDE, idSpace(160)]) {
      assert.equal(checked({}, 'peer', space).routing, 'fingers', `${space.bits} bits`);
      assert.equal(checked({}, 'peer', space).replicas, 3, `${space.bits} bits`);
    }
  });

  test('a whole ring on one machine keeps three copies even at 8 bits, and routes by its id space', () => {
    assert.deepEqual([checked({}, 'ring', SPEC).routing, checked({}, 'ring', SPEC).replicas], ['successor', 3]);
    assert.deepEqual([checked({}, 'ring', WIDE).routing, checked({}, 'ring', WIDE).replicas], ['fingers', 3]);
  });

  test('what is given is kept, and a request timeout of 0 means the default', () => {
    const c = checked({ routing: 'shortcuts', successors: 8, replicas: 9, pingMisses: 1, requestTimeoutMs: 0, originProofs: false }, 'ring', WIDE);
    assert.deepEqual([c.routing, c.successors, c.replicas, c.pingMisses, c.requestTimeoutMs, c.originProofs], ['shortcuts', 8, 9, 1, 15_000, false]);
    assert.equal(checked({ requestTimeoutMs: 250 }).requestTimeoutMs, 250);
  });

  test('the longest successor list is the longest a message carries', () => {
    assert.equal(MAX_SUCCESSORS, 32);
    assert.equal(MAX_SUCCESSORS, WIRE_MAX_SUCCESSORS);
  });
});

describe('checkConfig: each limit at its edge', () => {
  const edges: { field: ConfigError['field']; ok: ConfigInput[]; bad: ConfigInput[]; message: RegExp }[] = [
    { field: 'pingMisses', ok: [{ pingMisses: 1 }, { pingMisses: 100 }], bad: [{ pingMisses: 0 }, { pingMisses: 101 }, { pingMisses: 2.5 }, { pingMisses: NaN }], message: /^ping misses must be an integer from 1 to 100$/ },
    { field: 'successors', ok: [{ successors: 2 }, { successors: 32 }], bad: [{ successors: 1 }, { successors: 33 }, { successors: NaN }], message: /^successors must be an integer from 2 to 32$/ },
    { field: 'replicas', ok: [{ replicas: 1 }, { replicas: 5 }], bad: [{ replicas: 0 }, { replicas: 6 }, { replicas: 1.5 }], message: /^replicas must be an integer from 1 to the successor list length \+ 1$/ },
    { field: 'basePort', ok: [{ basePort: 1 }, { basePort: 65280 }], bad: [{ basePort: 0 }, { basePort: 65281 }], message: /^base port must be an integer from 1 to 65280$/ },
    { field: 'port', ok: [{ port: 1 }, { port: 65535 }], bad: [{ port: 0 }, { port: 65536 }], message: /^port must be an integer from 1 to 65535$/ },
    { field: 'maxFileBytes', ok: [{ maxFileBytes: 0 }, { maxFileBytes: Number.MAX_SAFE_INTEGER }], bad: [{ maxFileBytes: -1 }, { maxFileBytes: 0.5 }, { maxFileBytes: 2 ** 53 }], message: /^maxFileBytes must be a non-negative integer$/ },
    { field: 'pingIntervalMs', ok: [{ pingIntervalMs: 0.001 }], bad: [{ pingIntervalMs: 0 }, { pingIntervalMs: -5 }, { pingIntervalMs: Infinity }], message: /^ping interval must be a positive number$/ },
    { field: 'routing', ok: [{ routing: 'successor' }, { routing: 'shortcuts' }, { routing: 'fingers' }], bad: [{ routing: 'chord' as never }], message: /^routing must be one of successor, shortcuts, fingers$/ },
  ];
  for (const e of edges) {
    test(`${e.field}: ${e.ok.map((o) => JSON.stringify(o)).join(' ')} taken; ${e.bad.map((o) => JSON.stringify(o)).join(' ')} refused`, () => {
      for (const o of e.ok) assert.doesNotThrow(() => checked(o), JSON.stringify(o));
      for (const o of e.bad) {
        const err = refusal(o);
        assert.equal(err.field, e.field);
        assert.match(err.message, e.message);
      }
    });
  }

  test('a refusal carries the bounds a CLI quotes', () => {
    const err = refusal({ pingMisses: 0 });
    assert.deepEqual([err.min, err.max], [1, 100]);
    const succ = refusal({ successors: 40 });
    assert.deepEqual([succ.min, succ.max], [2, 32]);
  });

  test('with an advertised port the base port is not used, so not checked', () => {
    assert.doesNotThrow(() => checked({ basePort: 65500, port: 7000 }));
    assert.equal(refusal({ basePort: 65500 }).field, 'basePort');
  });
});

describe('checkConfig: cross-rules', () => {
  test('replicas ≤ successors + 1: the bound follows the list length given', () => {
    assert.equal(checked({ successors: 2, replicas: 3 }).replicas, 3);
    const err = refusal({ successors: 2, replicas: 4 });
    assert.equal(err.field, 'replicas');
    assert.deepEqual([err.min, err.max], [1, 3]);
    assert.equal(checked({ successors: 32, replicas: 33 }).replicas, 33);
    assert.deepEqual([refusal({ successors: 32, replicas: 34 }).max], [33]);
  });

  test('a bad list length is named before the replicas it bounds', () => {
    assert.equal(refusal({ successors: 1, replicas: 9 }).field, 'successors');
  });

  test('settingsOf passes a ring\'s settings through untouched, and nothing else', () => {
    const o = { routing: 'fingers' as const, replicas: 2, pingMisses: undefined, collectSurplus: false, host: '10.0.0.1', bits: 16 };
    assert.deepEqual(settingsOf(o), { routing: 'fingers', replicas: 2, collectSurplus: false });
  });
});

describe('checkConfig: each surface renders its refusal', () => {
  const init = (o: Record<string, string>) => initPlan({ peer: '2', first: '4', second: '5', interval: '30' }, { pingLines: true, ...o });
  const problem = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof ArgumentProblem, String(err));
      return err.message;
    }
    return assert.fail('taken');
  };

  test('the CLI names the flag and quotes what was typed', () => {
    assert.equal(problem(() => init({ successors: '33' })), "--successors must be an integer from 2 to 32 (got '33')");
    assert.equal(problem(() => init({ successors: 'four' })), "--successors must be an integer from 2 to 32 (got 'four')");
    assert.equal(problem(() => init({ replicas: '6' })), "--replicas must be an integer from 1 to 5 (got '6')");
    assert.equal(problem(() => init({ successors: '2', replicas: '4' })), "--replicas must be an integer from 1 to 3 (got '4')");
    assert.equal(problem(() => init({ pingMisses: '101' })), "--ping-misses must be an integer from 1 to 100 (got '101')");
    assert.equal(problem(() => init({ basePort: '65281' })), "--base-port must be an integer from 1 to 65280 (got '65281')");
    assert.equal(problem(() => init({ basePort: '0', basePortSource: 'env' })), "--base-port (from CDHT_BASE_PORT) must be an integer from 1 to 65280 (got '0')");
    assert.equal(problem(() => ringPlan({ interval: '1', speed: '1', successors: '40' })), "--successors must be an integer from 2 to 32 (got '40')");
  });

  test('init, node and ring take their defaults from the config\'s surfaces', () => {
    const spec = init({}).peer;
    assert.deepEqual([spec.routing, spec.replicas, spec.successors, spec.pingMisses, spec.basePort], ['successor', 1, 4, 3, 12000]);
    assert.equal(init({ shortcuts: true as never }).peer.routing, 'shortcuts');
    const wide = nodePlan({ pingLines: true, bits: '16', advertise: '127.0.0.1:40000', pingInterval: '5' }).peer;
    assert.deepEqual([wide.routing, wide.replicas], ['fingers', 3]);
    const ring = ringPlan({ interval: '1', speed: '1' });
    assert.deepEqual([ring.routing, ring.replicas, ring.successors, ring.pingMisses, ring.basePort], ['successor', 3, 4, 3, 12000]);
    const big = ringPlan({ interval: '1', speed: '1', bits: '32', random: '8' });
    assert.deepEqual([big.routing, big.replicas], ['fingers', 3]);
  });

  test('a library peer throws the config\'s sentence as a RangeError, before it opens a socket', () => {
    const start = (o: ConfigInput) => () => startPeer({ id: 2, mode: { kind: 'init', successors: [4, 5] }, pingIntervalMs: 1000, ...o });
    assert.throws(start({ successors: 33 }), { name: 'RangeError', message: 'successors must be an integer from 2 to 32' });
    assert.throws(start({ replicas: 6 }), { name: 'RangeError', message: 'replicas must be an integer from 1 to the successor list length + 1' });
    assert.throws(start({ pingMisses: 0 }), { name: 'RangeError', message: 'ping misses must be an integer from 1 to 100' });
    assert.throws(start({ pingIntervalMs: 0 }), { name: 'RangeError', message: 'ping interval must be a positive number' });
  });

  test('a testnet and a ring controller refuse a setting before they start a peer', async () => {
    await assert.rejects(createTestnet({ runtime: 'sim', successors: 40 }), { name: 'RangeError', message: 'successors must be an integer from 2 to 32' });
    assert.throws(() => new RingController({ runtime: 'sim', successors: 2, replicas: 4 }), { name: 'RangeError', message: 'replicas must be an integer from 1 to the successor list length + 1' });
  });
});
