// `cdht status` and `cdht decommission` on real sockets (loopback, a random base port), against
// peers that are separate `cdht init` processes: the walk prints every peer, --json parses, a
// decommission makes its peer leave (its process exits 0, its predecessors repair), a stranger's
// is refused on a private ring, and usage mistakes and unreachable peers say so in one line.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CliRing, FIGURE1, freeBasePort, runCli } from './helpers/cli.js';

const INTERVAL_S = 0.5;
const rings: CliRing[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-status-'));
  dirs.push(d);
  return d;
}

after(async () => {
  await Promise.all(rings.map((r) => r.stopAll()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Row {
  id: string;
  address: string;
  state: string;
  keys: number;
  bytes: number;
  share: number;
  shortOfK: number | null;
  handovers: number;
  pred: string | null;
  successors: string[];
}

describe('cdht status and decommission, end to end', () => {
  test('status walks a ring of separate processes; decommission makes a peer leave and the ring repairs', async () => {
    const dir = tempDir();
    const ring = new CliRing(dir, await freeBasePort());
    rings.push(ring);
    for (const [id, s1, s2] of FIGURE1) ring.init(id, s1, s2, INTERVAL_S);
    await ring.pingsSeen(FIGURE1);
    const at = (id: number) => `127.0.0.1:${ring.basePort + id}`;

    const text = await runCli(['status', '--peer', at(8)], { cwd: dir });
    assert.equal(text.status.code, 0, text.describe());
    assert.match(text.out[0]!, /^Ring of 7 peers \(8-bit ids\) walked from /);
    const rows = text.out.filter((l) => /^\d+\s/.test(l)).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(rows.map((r) => r[0]), ['8', '9', '14', '19', '2', '4', '5']);
    for (const r of rows) {
      assert.equal(r[1], at(Number(r[0])));
      assert.equal(r[2], 'normal');
    }
    assert.ok(text.out.some((l) => l.startsWith('Shares add up to 100.00%')), text.describe());

    const json = await runCli(['status', '--peer', at(2), '--json'], { cwd: dir });
    assert.equal(json.status.code, 0, json.describe());
    const peers = JSON.parse(json.out.join('\n')) as Row[];
    assert.deepEqual(peers.map((p) => p.id), ['2', '4', '5', '8', '9', '14', '19']);
    assert.ok(Math.abs(peers.reduce((s, p) => s + p.share, 0) - 1) < 1e-9);
    assert.equal(peers.find((p) => p.id === '2')!.pred, '19');
    assert.deepEqual(peers.find((p) => p.id === '19')!.successors.slice(0, 2), ['2', '4']);
    assert.ok(peers.every((p) => p.state === 'normal' && p.keys === 0 && p.handovers === 0));

    // the peer's own host asks 14 to leave: it hands over, tells 9 and 8, and its process ends with 0
    ring.markAll();
    const bye = await runCli(['decommission', '--peer', at(14)], { cwd: dir });
    assert.equal(bye.status.code, 0, bye.describe());
    assert.match(bye.out[0]!, /^Peer 14 at 127\.0\.0\.1:\d+ is leaving the ring/);
    assert.deepEqual(await ring.peer(14).waitForExit(), { code: 0, signal: null });
    await ring.peer(9).waitFor(['Peer 14 will depart from the network', 'My new first successor is Peer 19', 'My new second successor is Peer 2'], { ordered: true });
    await ring.peer(8).waitFor(['Peer 14 will depart from the network', 'My new first successor is Peer 9', 'My new second successor is Peer 19'], { ordered: true });
    const after = await runCli(['status', '--peer', at(19), '--json'], { cwd: dir });
    assert.equal(after.status.code, 0, after.describe());
    assert.deepEqual((JSON.parse(after.out.join('\n')) as Row[]).map((p) => p.id), ['19', '2', '4', '5', '8', '9']);
  });

  test('usage mistakes are one line and exit 2; an unreachable peer exits 1 with a clear line', async () => {
    const dir = tempDir();
    for (const args of [['status'], ['status', '--peer', 'nowhere'], ['status', '--peer', '127.0.0.1:0'], ['decommission', '--peer', '127.0.0.1:70000'], ['status', '--peer', '127.0.0.1:1', '--max', '0'], ['status', '--peer', '127.0.0.1:1', '--id', '4']]) {
      const p = await runCli(args, { cwd: dir });
      assert.equal(p.status.code, 2, p.describe());
      assert.equal(p.err.length, 1, p.describe());
      assert.match(p.err[0]!, /^cdht: error: /);
      assert.deepEqual(p.out, []);
    }
    const port = (await freeBasePort()) + 7;
    for (const cmd of ['status', 'decommission']) {
      const p = await runCli([cmd, '--peer', `127.0.0.1:${port}`], { cwd: dir });
      assert.equal(p.status.code, 1, p.describe());
      assert.match(p.err.join('\n'), new RegExp(`^cdht: no peer answered at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
    }
  });

  test('a private ring: status needs a certificate; decommission only with the peer\'s own, or its authority\'s key', async () => {
    const dir = tempDir();
    // the keys live outside the folder the peers serve their files from
    const keys = tempDir();
    const ca = join(keys, 'ring-ca');
    const spare = join(keys, 'operator');
    assert.equal((await runCli(['ca', 'create', ca], { cwd: dir })).status.code, 0);
    for (const id of [2, 4, 5]) assert.equal((await runCli(['ca', 'issue', String(id), '--ca', ca], { cwd: dir })).status.code, 0);
    assert.equal((await runCli(['ca', 'issue', '1000', '--ca', ca, '--out', spare], { cwd: dir })).status.code, 0);
    const three: [number, number, number][] = [[2, 4, 5], [4, 5, 2], [5, 2, 4]];
    const ring = new CliRing(dir, await freeBasePort());
    rings.push(ring);
    for (const [id, s1, s2] of three) ring.init(id, s1, s2, INTERVAL_S, ['--tls', ca]);
    await ring.pingsSeen(three);
    const at = (id: number) => `127.0.0.1:${ring.basePort + id}`;

    const plain = await runCli(['status', '--peer', at(2)], { cwd: dir });
    assert.equal(plain.status.code, 1, plain.describe());
    assert.match(plain.err.join('\n'), /is private: give --tls DIR/);

    const walk = await runCli(['status', '--peer', at(4), '--tls', spare, '--json'], { cwd: dir });
    assert.equal(walk.status.code, 0, walk.describe());
    assert.deepEqual((JSON.parse(walk.out.join('\n')) as Row[]).map((p) => p.id), ['4', '5', '2']);

    // a member of the ring, but not peer 5: refused, and 5 stays
    const stranger = await runCli(['decommission', '--peer', at(5), '--tls', spare], { cwd: dir });
    assert.equal(stranger.status.code, 1, stranger.describe());
    assert.match(stranger.out.join('\n'), /refused to leave: on a private ring only this peer's own certificate/);
    assert.equal(ring.peer(5).running, true);

    ring.markAll();
    const own = await runCli(['decommission', '--peer', at(5), '--tls', ca, '--id', '5'], { cwd: dir });
    assert.equal(own.status.code, 0, own.describe());
    assert.deepEqual(await ring.peer(5).waitForExit(), { code: 0, signal: null });
    await ring.peer(4).waitFor(['Peer 5 will depart from the network', 'My new first successor is Peer 2'], { ordered: true });

    // the ring's authority, holding no certificate of peer 4: one is issued in memory, and 4 leaves
    for (const f of readdirSync(ca)) if (f.startsWith('peer-4.')) rmSync(join(ca, f));
    const byAuthority = await runCli(['decommission', '--peer', at(4), '--tls', ca, '--id', '4'], { cwd: dir });
    assert.equal(byAuthority.status.code, 0, byAuthority.describe());
    assert.match(byAuthority.out.join('\n'), /Peer 4 at .* is leaving the ring/);
    assert.deepEqual(await ring.peer(4).waitForExit(), { code: 0, signal: null });
  });
});
