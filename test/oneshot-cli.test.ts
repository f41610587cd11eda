// `cdht put/get/lookup --via` as separate processes against a gateway in this process (its api an
// in-memory fake): exit statuses, JSON lines, bytes on stdout, files saved whole.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type Gateway } from '../src/api/gateway.js';
import { createAuthority, issuePeer, loadTlsIdentity, writeAuthority, writePeer } from '../src/security/ca.js';
import { FakeApi } from './helpers/fake-api.js';
import { CLI_SCRIPT, cleanEnv } from './helpers/cli.js';

const WAIT_MS = 60_000;

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the CLI without blocking this process (the gateway it talks to lives here), killed after WAIT_MS. */
function cdht(args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_SCRIPT, ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`cdht ${args.join(' ')} did not finish in ${WAIT_MS} ms`));
    }, WAIT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

describe('cdht put/get/lookup --via', () => {
  const api = new FakeApi();
  let gw: Gateway;
  let via: string;
  let dir: string;
  before(async () => {
    gw = await startGateway(api, { port: 0 });
    via = `127.0.0.1:${gw.address.port}`;
    dir = mkdtempSync(join(tmpdir(), 'cdht-oneshot-'));
  });
  after(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('put stores a file under its base name and prints one JSON line', async () => {
    const bytes = randomBytes(300_000);
    writeFileSync(join(dir, 'Quarterly report (final).pdf'), bytes);
    const r = await cdht(['put', 'Quarterly report (final).pdf', '--via', via, '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.toString().trim().split('\n');
    assert.equal(lines.length, 1);
    const json = JSON.parse(lines[0]!) as { name: string; size: number; sha256: string; key: string; holders: Array<{ id: string }> };
    assert.equal(json.name, 'Quarterly report (final).pdf');
    assert.equal(json.size, bytes.length);
    assert.equal(json.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.match(json.key, /^\d+$/);
    assert.match(json.holders[0]!.id, /^\d+$/);
    assert.deepEqual(api.files.get('Quarterly report (final).pdf'), bytes);
  });

  test('put --name, then the same name again is refused with exit 3', async () => {
    writeFileSync(join(dir, 'a.bin'), 'first');
    const ok = await cdht(['put', 'a.bin', '--via', via, '--name', 'renamed'], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout.toString(), /^Stored renamed: 5 B/);
    const again = await cdht(['put', 'a.bin', '--via', via, '--name', 'renamed'], dir);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /^cdht put: .*stored already\n$/);
  });

  test('get -o - writes exactly the bytes to stdout', async () => {
    const bytes = randomBytes(200_000);
    api.files.set('raw.bin', bytes);
    const r = await cdht(['get', 'raw.bin', '--via', via, '-o', '-'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout, bytes);
  });

  test('get saves to ./NAME by default, or to -o PATH', async () => {
    api.files.set('saved.txt', Buffer.from('kept'));
    const r = await cdht(['get', 'saved.txt', '--via', via], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dir, 'saved.txt'), 'utf8'), 'kept');
    const j = await cdht(['get', 'saved.txt', '--via', via, '-o', 'elsewhere.txt', '--json'], dir);
    assert.equal(j.code, 0, j.stderr);
    assert.equal((JSON.parse(j.stdout.toString()) as { size: number }).size, 4);
    assert.equal(readFileSync(join(dir, 'elsewhere.txt'), 'utf8'), 'kept');
  });

  test('a name not found exits 3 with one line, and leaves no file', async () => {
    const before = readdirSync(dir).sort();
    const r = await cdht(['get', 'missing.txt', '--via', via], dir);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^cdht get: no holder has missing\.txt\n$/);
    assert.deepEqual(readdirSync(dir).sort(), before);
  });

  test('lookup prints the owner; --json has decimal ids', async () => {
    const r = await cdht(['lookup', '1234', '--via', via, '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout.toString()) as { key: string; owner: { id: string }; hops: number };
    assert.equal(json.key, '1234');
    assert.equal(json.hops, 3);
    const text = await cdht(['lookup', '99', '--via', via], dir);
    assert.match(text.stdout.toString(), /^Key 99 is owned by peer \d+ at 127\.0\.0\.1:7000 \(3 hops, path 1 > 2 > 3 > \d+\)/);
  });

  test('bad arguments exit 2', async () => {
    for (const args of [
      ['lookup', '12abc', '--via', via],
      ['get', 'x'],
      ['get', 'x', '--via', 'nowhere'],
      ['put', 'no-such-file', '--via', via],
      ['get', 'x', '--via', via, '--timeout', '0'],
      ['get', 'x', '--via', via, '-o', '-', '--json'],
    ]) {
      const r = await cdht(args, dir);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });

  test('a gateway that is not there exits 4', async () => {
    const r = await cdht(['lookup', '1', '--via', '127.0.0.1:1'], dir);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^cdht lookup: no gateway answered/);
  });
});

describe('cdht lookup --via a private ring\'s gateway', () => {
  let gw: Gateway;
  let via: string;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cdht-oneshot-tls-'));
    const ca = await createAuthority();
    await writeAuthority(dir, ca);
    for (const id of [1n, 2n]) await writePeer(dir, id, await issuePeer(ca, id));
    const { warnings: _w, ...tls } = loadTlsIdentity(dir, 1n);
    gw = await startGateway(new FakeApi(), { port: 0, tls });
    via = `127.0.0.1:${gw.address.port}`;
  });
  after(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('with --tls DIR --id it gets in; without, exit 4 and a word on certificates', async () => {
    const ok = await cdht(['lookup', '7', '--via', via, '--tls', dir, '--id', '2', '--json'], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout.toString()) as { key: string }).key, '7');
    const refused = await cdht(['lookup', '7', '--via', via], dir);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /^cdht lookup: .*refused us.*certificates/);
  });
});
