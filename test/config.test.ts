// The settings of `cdht node`: flags over CDHT_* variables over a config file (TOML or JSON)
// over the defaults, each value's shape checked and its source kept for error messages.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BASE_PORT, DEFAULT_HOST, DEFAULT_PING_MISSES } from '../src/core/config.js';
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

