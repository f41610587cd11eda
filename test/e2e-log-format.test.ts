// --log-format json on init, join and ring: the same scenario run twice, once as text and once as
// JSON lines, must say the same things (every JSON line valid, with its event, level and time),
// and text stays the default, word for word.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess, cleanEnv, expectUsageErrors } from './helpers/cli.js';
import { freeBasePort } from './helpers/ports.js';

const WAIT_MS = 30_000;
const dirs: string[] = [];
const procs: CliProcess[] = [];

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-logfmt-'));
  dirs.push(d);
  return d;
}

function spawn(args: string[], cwd: string, label: string): CliProcess {
  const p = new CliProcess(args, { cwd, label, env: cleanEnv() });
  procs.push(p);
  return p;
}

interface JsonLine {
  event: string;
  msg: string;
  level: string;
  time: number;
  [field: string]: unknown;
}

/**
 * Peers 10, 100 and 200 started by init, Peer 10 watched in `format`: it stores 0150 (owned by
 * 200), requests it back, and sees Peer 100 quit. Returns Peer 10's output lines once all is said.
 */
async function scenario(format: 'text' | 'json'): Promise<{ lines: string[]; base: number; dir: string }> {
  const root = tempDir();
  const base = await freeBasePort([10, 100, 200]);
  const dir = (id: number) => {
    const d = join(root, `peer-${id}`);
    mkdirSync(d);
    return d;
  };
  const common = ['0.5', '--base-port', String(base)];
  const quiet = ['--no-ping-lines'];
  const tenDir = dir(10);
  writeFileSync(join(tenDir, '0150.pdf'), 'stored through Peer 10');
  const watched = format === 'json' ? ['--log-format', 'json'] : [];
  const ten = spawn(['init', '10', '100', '200', ...common, '--data-dir', tenDir, ...watched], root, `peer 10 (${format})`);
  const hundred = spawn(['init', '100', '200', '10', ...common, ...quiet, '--data-dir', dir(100)], root, 'peer 100');
  spawn(['init', '200', '10', '100', ...common, ...quiet, '--data-dir', dir(200)], root, 'peer 200');
  const said = (text: string) => (format === 'json' ? new RegExp(`"msg":"${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`) : text);
  // both successors answer before anything is typed (a Store routed while one is still starting says so)
  await ten.waitFor([said('Ping response received from Peer 100'), said('Ping response received from Peer 200')], { timeoutMs: WAIT_MS });
  ten.send('Store 0150');
  await ten.waitFor([said('Store 0150 accepted by Peer 200'), said('File 0150 copied to Peer 200')], { timeoutMs: WAIT_MS });
  ten.send('Request 0150');
  await ten.waitFor([said('File 0150 received')], { timeoutMs: WAIT_MS });
  ten.send('help');
  await ten.waitFor([/Quit {2,}leave the ring gracefully \(Ctrl\+C leaves abruptly\)/], { timeoutMs: WAIT_MS });
  hundred.send('Quit');
  await ten.waitFor([said('Peer 100 will depart from the network'), said('My new first successor is Peer 200')], { timeoutMs: WAIT_MS });
  assert.equal((await hundred.waitForExit(WAIT_MS)).code, 0);
  return { lines: ten.out.slice(), base, dir: tenDir };
}

/** Lines that name this run's ports, folders or transfer times, made comparable across runs. */
function normal(line: string, base: number, dir: string): string {
  return line
    .split(dir)
    .join('<dir>')
    .replace(new RegExp(`\\b${base + 10}\\b`, 'g'), '<port>')
    .replace(/ in [\d.]+ s \([^)]*\)$/, ' in <time>');
}

test('init: --log-format json says what the text says, one valid JSON object a line with its event', { timeout: 120_000 }, async () => {
  const text = await scenario('text');
  const json = await scenario('json');
  const parsed = json.lines.map((l) => JSON.parse(l) as JsonLine);
  for (const l of parsed) {
    assert.equal(typeof l.event, 'string', JSON.stringify(l));
    assert.equal(typeof l.msg, 'string', JSON.stringify(l));
    assert.equal(typeof l.time, 'number', JSON.stringify(l));
    assert.ok(['info', 'debug'].includes(l.level), JSON.stringify(l));
  }
  // the same sentences, as sets: the interleaving of pings and answers is the network's, and how
  // many ping rounds fall in the scenario too (ping lines are checked on their own)
  const ping = /^Ping (request|response|requests) /;
  const fromText = new Set(text.lines.filter((l) => !ping.test(l)).map((l) => normal(l, text.base, text.dir)));
  const fromJson = new Set(parsed.filter((l) => !ping.test(l.msg)).map((l) => normal(l.msg, json.base, json.dir)));
  const pings = parsed.filter((l) => ping.test(l.msg));
  assert.ok(pings.length > 0 && pings.every((l) => l.level === 'debug' && /^ping-/.test(l.event) || l.event === 'pong-received'), JSON.stringify(pings.slice(0, 3)));
  assert.ok(text.lines.some((l) => l === 'Ping response received from Peer 100'));
  assert.deepEqual([...fromJson].filter((l) => !fromText.has(l)), [], 'said in JSON only');
  assert.deepEqual([...fromText].filter((l) => !fromJson.has(l)), [], 'said in text only');
  // and each carries the kind of event it reports
  const event = (msg: string) => parsed.find((l) => l.msg === msg)?.event;
  assert.equal(event('Store 0150 accepted by Peer 200'), 'store-confirmed');
  assert.equal(event('File 0150 received'), 'receive');
  assert.equal(event('Peer 100 will depart from the network'), 'depart-received');
  assert.equal(event('My new first successor is Peer 200'), 'successor');
  assert.equal(event('Commands (case-insensitive):'), 'console');
  assert.equal(parsed.find((l) => /^File 0150: 22 B in /.test(l.msg))?.event, 'transfer-rate');
  const start = parsed.find((l) => l.event === 'start');
  assert.deepEqual([start?.['id'], start?.['port']], ['10', json.base + 10]);
  assert.equal(parsed.find((l) => l.event === 'store-confirmed')?.['by'], '200', 'ids as the space prints them');
  // text is the default, with no JSON in it
  assert.ok(text.lines.every((l) => !l.startsWith('{')), text.lines.join('\n'));
});

test('join and ring take --log-format json too; a wrong format, or json with ring --json, is a usage error', { timeout: 120_000 }, async () => {
  const root = tempDir();
  const base = await freeBasePort([10, 20, 30]);
  const ring = spawn(['ring', '--peers', '10,20', '--interval', '0.5', '--base-port', String(base), '--data-dir', root, '--log-format', 'json'], root, 'ring (json)');
  await ring.waitFor([/"event":"console".*"msg":"cdht ring: 2 peers \(10, 20\)/], { timeoutMs: WAIT_MS });
  const joiner = spawn(['join', '30', '10', '0.5', '--no-ping-lines', '--base-port', String(base), '--data-dir', root, '--log-format', 'json'], root, 'join 30 (json)');
  await joiner.waitFor([/"event":"join-accepted".*"msg":"Join request has been accepted"/], { timeoutMs: WAIT_MS });
  await ring.waitFor([/"event":"join-received".*"id":"20".*"msg":"Peer 30 Join request received"/], { timeoutMs: WAIT_MS });
  ring.send('exit');
  assert.equal((await ring.waitForExit(WAIT_MS)).code, 0, ring.describe());
  for (const p of [ring, joiner]) for (const l of p.out) assert.equal(typeof (JSON.parse(l) as JsonLine).event, 'string', `${p.describe()}\n${l}`);
  await expectUsageErrors(
    [
      [['init', '2', '4', '5', '1', '--log-format', 'xml'], /--log-format must be text or json \(got "xml"\)/],
      [['ring', '--json', '--log-format', 'json'], /--json and --log-format json cannot be used together/],
    ],
    root,
    'Usage: cdht ',
  );
});
