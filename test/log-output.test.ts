// --log-format json on the commands that print results (issue 17: JSON logs on every command):
// each line becomes one object with the command as `event`, stderr's at level error; text stays
// the default, word for word; a bad value or one combined with --json is a usage error.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from './helpers/cli.js';

const BIN = fileURLToPath(new URL('../../bin/cdht.js', import.meta.url));
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

function jsonLines(text: string): Record<string, unknown>[] {
  const lines = text.split('\n').filter((l) => l !== '');
  return lines.map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    assert.equal(typeof o['time'], 'number', l);
    assert.equal(typeof o['msg'], 'string', l);
    return o;
  });
}

test('ca create: the same sentence as text and as one JSON object', { timeout: 300_000 }, async () => {
  const base = mkdtempSync(join(tmpdir(), 'cdht-logout-'));
  dirs.push(base);
  const text = await run(['ca', 'create', join(base, 'a')]);
  assert.equal(text.code, 0, text.err);
  const json = await run(['ca', 'create', join(base, 'b'), '--log-format', 'json']);
  assert.equal(json.code, 0, json.err);
  const objs = jsonLines(json.out);
  assert.equal(objs.length, text.out.trim().split('\n').length, 'one object a line');
  assert.deepEqual(objs.map((o) => [o['event'], o['level']]), objs.map(() => ['ca create', 'info']));
  assert.equal(objs[0]!['msg'], text.out.trim().replaceAll(join(base, 'a'), join(base, 'b')));
});

test('an error goes to stderr as a JSON object at level error, with the exit code unchanged', { timeout: 300_000 }, async () => {
  const text = await run(['lookup', '5', '--via', '127.0.0.1:1']);
  const json = await run(['lookup', '5', '--via', '127.0.0.1:1', '--log-format', 'json']);
  assert.notEqual(text.code, 0);
  assert.equal(json.code, text.code);
  assert.equal(json.out, '');
  const objs = jsonLines(json.err);
  assert.ok(objs.length >= 1);
  assert.deepEqual([objs[0]!['event'], objs[0]!['level']], ['lookup', 'error']);
  assert.equal(objs[0]!['msg'], text.err.trim().split('\n')[0]);
});

test('check through CDHT_LOG_FORMAT: every line an object; --json typed beside it wins over the environment', { timeout: 300_000 }, async () => {
  const json = await run(['check', '--seeds', '2', '--no-shrink'], { CDHT_LOG_FORMAT: 'json' });
  assert.equal(json.code, 0, json.err);
  const objs = jsonLines(json.out);
  assert.ok(objs.length >= 1 && objs.every((o) => o['event'] === 'check'));
  assert.match(String(objs.at(-1)!['msg']), /every invariant held/);
  const explicit = await run(['check', '--seeds', '2', '--no-shrink', '--json'], { CDHT_LOG_FORMAT: 'json' });
  assert.equal(explicit.code, 0, explicit.err);
  const result = JSON.parse(explicit.out) as Record<string, unknown>;
  assert.equal(result['msg'], undefined, 'the result object itself, not a log line');
});

test('a bad value, or json beside --json on the command line, is a usage error', { timeout: 300_000 }, async () => {
  const bad = await run(['lookup', '5', '--via', '127.0.0.1:1', '--log-format', 'yaml']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--log-format must be text or json \(got "yaml"\)/);
  const both = await run(['check', '--seeds', '1', '--json', '--log-format', 'json']);
  assert.equal(both.code, 2);
  assert.match(both.err, /--json and --log-format json cannot be used together/);
});
