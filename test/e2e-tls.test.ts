// Private rings from the command line: cdht ca makes the certificates, --tls DIR (or
// CDHT_TLS_DIR) puts a peer on the ring, a missing or wrong file is one line and exit 2,
// an outsider cannot join, and `cdht ring --secure` runs a whole private ring.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CliProcess, runCli } from './helpers/cli.js';
import { freeBasePort } from './helpers/ports.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const T = { timeout: 300_000 };

function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-tls-'));
  dirs.push(d);
  return d;
}

async function authority(ids: number[]): Promise<string> {
  const dir = temp();
  assert.equal((await runCli(['ca', 'create', dir], { cwd: dir })).status.code, 0);
  for (const id of ids) assert.equal((await runCli(['ca', 'issue', String(id), '--ca', dir], { cwd: dir })).status.code, 0);
  return dir;
}

test('--tls problems are one line naming the file, and exit 2', T, async () => {
  const ca = await authority([2]);
  const cwd = temp();
  const missing = await runCli(['init', '4', '2', '5', '1', '--tls', ca], { cwd });
  assert.equal(missing.status.code, 2, missing.describe());
  assert.equal(missing.err.filter((l) => l.startsWith('cdht: error:')).length, 1, missing.describe());
  assert.match(missing.err[0]!, /--tls: .*peer-4\.(key|crt)/);
  const env = await runCli(['init', '4', '2', '5', '1'], { cwd, env: { ...process.env, CDHT_TLS_DIR: join(cwd, 'nowhere') } });
  assert.equal(env.status.code, 2, env.describe());
  assert.match(env.err[0]!, /^cdht: error: CDHT_TLS_DIR: /);
});

test('a private ring of processes: the spec lines, an outsider refused, a file fetched', T, async () => {
  const ca = await authority([2, 4, 5, 7]);
  const other = await authority([7]);
  const cwd = temp();
  const base = await freeBasePort([2, 4, 5, 7]);
  const peer = (args: string[], tls: string, label: string) =>
    new CliProcess([...args, '--base-port', String(base), '--tls', tls], { cwd, label });
  const peers = [peer(['init', '2', '4', '5', '0.5'], ca, 'peer 2'), peer(['init', '4', '5', '2', '0.5'], ca, 'peer 4'), peer(['init', '5', '2', '4', '0.5'], ca, 'peer 5')];
  try {
    await Promise.all(peers.map((p) => p.waitFor([/^This is a private ring|^Peer \d+ /, /^Ping response received from Peer \d+$/])));
    assert.ok(!peers[0]!.out.some((l) => l.startsWith('This ring is open')), 'a private ring does not say it is open');
    // an outsider with another authority's certificate for 7
    const outsider = peer(['join', '7', '2', '0.5'], other, 'outsider 7');
    peers.push(outsider);
    const st = await outsider.waitForExit();
    assert.equal(st.code, 1, outsider.describe());
    // told the cause: another authority, not silence
    assert.ok(
      outsider.out.some((l) => /^Join failed: the peer at 127\.0\.0\.1:\d+ has a certificate of another authority \(SELF_SIGNED_CERT_IN_CHAIN\): this peer's --tls DIR is not from that ring's authority$/.test(l)),
      outsider.describe(),
    );
    // a peer without --tls is told that this ring needs it
    const plain = new CliProcess(['join', '7', '2', '0.5', '--base-port', String(base)], { cwd, label: 'plain 7' });
    peers.push(plain);
    assert.equal((await plain.waitForExit()).code, 1, plain.describe());
    assert.ok(
      plain.out.some((l) => /^Join failed: tcp to 127\.0\.0\.1:\d+ refused the connection: this ring is private: start the peer with --tls DIR holding a certificate of its authority$/.test(l)),
      plain.describe(),
    );
    // the real 7 joins, stores and requests
    const seven = peer(['join', '7', '2', '0.5'], ca, 'peer 7');
    peers.push(seven);
    await seven.waitFor(['Join request has been accepted', 'My first successor is Peer 2']);
    await peers[2]!.waitFor(['Peer 7 Join request received', 'My new first successor is Peer 7']);
    // key 7 is 7's now; the file crosses the private ring encrypted and lands whole
    const bytes = Buffer.alloc(300_000, 7);
    writeFileSync(join(cwd, '4103.pdf'), bytes);
    peers[1]!.send('Request 4103');
    await peers[1]!.waitFor(['Peer 7 had File 4103', 'File 4103 received']);
    assert.deepEqual(readFileSync(join(cwd, 'received_4103.pdf')), bytes);
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
});

test('cdht ring --secure: a throwaway authority, joins through the console', T, async () => {
  const base = await freeBasePort([2, 4, 5, 8, 9, 14, 19, 40]);
  const ring = new CliProcess(['ring', '--secure', '--base-port', String(base), '--interval', '0.3'], { cwd: temp(), label: 'secure ring' });
  try {
    await ring.waitFor([/^This is a private ring \(a throwaway authority/]);
    ring.send('join 40 via 9');
    await ring.waitFor([/Peer 40 joined through Peer 9/]);
    ring.send('route 40 from 2');
    await ring.waitFor([/Key 40 is owned by Peer 40/]);
  } finally {
    ring.send('exit');
    await ring.stop();
  }
});

test('above 8 bits a peer refuses to start with its --tls folder inside the store folder it serves', T, async () => {
  const data = temp();
  const store = join(data, 'store');
  assert.equal((await runCli(['ca', 'create', store], { cwd: data })).status.code, 0);
  assert.equal((await runCli(['ca', 'issue', '1', '--ca', store], { cwd: data })).status.code, 0);
  const r = await runCli(['init', '1', '2@127.0.0.1:1', '3@127.0.0.1:2', '1', '--bits', '16', '--advertise', '127.0.0.1:3', '--data-dir', data, '--tls', store], { cwd: data });
  assert.equal(r.status.code, 2, r.describe());
  assert.match(r.err[0]!, /^cdht: error: --tls: .* is inside .*store, the folder this peer serves/);
});
