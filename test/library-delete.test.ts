// The library's delete: only a name's publisher removes it, every copy goes, a copy missed by the
// delete never comes back (not by a read, a re-offer or a store), the name can be put again, and
// who published what survives a restart. On the simulator, plus the gateway and CLI on sockets.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CdhtError, connect, createTestnet, startGateway, type Testnet } from '../src/index.js';
import type { Id } from '../src/core/id-space.js';
import { runCli } from './helpers/cli.js';
import { eventually } from './helpers/endpoints.js';
import { freeBasePort } from './helpers/ports.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function simRing(opts: { secure?: boolean; seed?: number } = {}): Promise<Testnet> {
  return createTestnet({ runtime: 'sim', bits: 16, count: 12, settled: true, replicas: 3, seed: opts.seed ?? 7, perPeerDirs: true, dataDir: '/sim', pingIntervalMs: 5000, ...(opts.secure ? { secure: true } : {}) });
}

/** The peers whose store holds `name` on the simulated disk. */
function onDisk(net: Testnet, name: string): Id[] {
  return net.runningIds().filter((id) => net.sim!.disk.read(net.peer(id)!.storeDir, name) !== undefined);
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof CdhtError && e.code === code);
}

for (const secure of [false, true]) {
  test(`${secure ? 'private' : 'open'} ring: only the publisher deletes, and every copy goes`, async () => {
    const net = await simRing({ secure });
    try {
      const ids = net.runningIds();
      const [a, b] = [net.peer(ids[3]!)!, net.peer(ids[8]!)!];
      const put = await net.settle(a.put('report.txt', 'first bytes'));
      assert.equal(put.holders.length, 3);
      assert.deepEqual(new Set(onDisk(net, 'report.txt')), new Set(put.holders.map((h) => h.id)));
      await rejects(net.settle(b.delete('report.txt')), 'CDHT_ERR_FORBIDDEN');
      assert.equal(onDisk(net, 'report.txt').length, 3, 'a refused delete removes nothing');
      await net.settle(a.delete('report.txt'));
      await net.run(30_000);
      assert.deepEqual(onDisk(net, 'report.txt'), []);
      assert.equal(await net.settle(b.stat('report.txt')), null);
      await rejects(net.settle(b.getBuffer('report.txt')), 'CDHT_ERR_NOT_FOUND');
      await rejects(net.settle(a.delete('report.txt')), 'CDHT_ERR_NOT_FOUND');
      await rejects(net.settle(a.delete('never-stored.txt')), 'CDHT_ERR_NOT_FOUND');
    } finally {
      await net.close();
    }
  });
}

test('a replica holder away during the delete never serves the old bytes, and drops them when back', async () => {
  const net = await simRing({ seed: 11 });
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[2]!)!;
    const put = await net.settle(a.put('ledger.txt', 'old bytes'));
    const away = put.holders[2]!;
    assert.ok(net.sim!.pause(away));
    await net.settle(a.delete('ledger.txt'));
    await net.run(4_000);
    net.sim!.resume(away);
    assert.deepEqual(onDisk(net, 'ledger.txt'), [away.id], 'the holder that was away still has its copy at first');
    // a read in the meantime finds nothing: the owner gives no replica fallback for a deleted name
    await rejects(net.settle(a.getBuffer('ledger.txt')), 'CDHT_ERR_NOT_FOUND');
    const gone = await net.until(() => onDisk(net, 'ledger.txt').length === 0, 10 * 60_000);
    assert.ok(gone, `still on disk at ${onDisk(net, 'ledger.txt')}`);
  } finally {
    await net.close();
  }
});

test('after a delete the publisher may put the name again; another peer may not, within the tombstone', async () => {
  const net = await simRing({ seed: 5 });
  try {
    const ids = net.runningIds();
    const [a, b] = [net.peer(ids[1]!)!, net.peer(ids[6]!)!];
    await net.settle(a.put('draft.txt', 'v1'));
    await net.settle(a.delete('draft.txt'));
    // the owner took it from a; unless b is that owner it is told the name was deleted lately
    const owner = (await net.settle(b.lookup(b.space.keyOf('draft.txt')))).owner.id;
    if (owner !== b.id) await rejects(net.settle(b.put('draft.txt', 'not yours')), 'CDHT_ERR_EXISTS');
    const again = await net.settle(a.put('draft.txt', 'v2'));
    assert.equal(again.holders.length, 3);
    assert.equal((await net.settle(b.getBuffer('draft.txt'))).toString(), 'v2');
  } finally {
    await net.close();
  }
});

test('who published a name survives its owner restarting (the record log)', async () => {
  const net = await simRing({ seed: 3 });
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const put = await net.settle(a.put('kept.txt', 'bytes'));
    const owner = put.holders[0]!.id;
    assert.notEqual(owner, a.id, 'seed 3 puts the owner elsewhere');
    await net.kill(owner);
    // the ring must see it gone before the same id may join again
    assert.ok(await net.until(() => net.staleIds().length === 0, 120_000), `stale: ${net.staleIds()}`);
    const back = net.start({ id: owner, mode: { kind: 'join', known: a.id } });
    assert.ok(await net.until(() => back.isInRing, 60_000));
    await net.run(30_000);
    await net.settle(a.delete('kept.txt'));
    assert.ok(await net.until(() => onDisk(net, 'kept.txt').length === 0, 10 * 60_000), `still on ${onDisk(net, 'kept.txt')}`);
  } finally {
    await net.close();
  }
});

test('through a gateway and the CLI: delete by name, NOT_FOUND after, exit statuses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-delete-'));
  dirs.push(dir);
  const net = await createTestnet({ bits: 16, count: 3, settled: true, replicas: 2, basePort: await freeBasePort([0, 1, 2]), dataDir: dir, perPeerDirs: true });
  const gw = await startGateway(net.peer(net.runningIds()[0]!)!, { port: 0 });
  const via = `127.0.0.1:${gw.address.port}`;
  const client = await connect(via);
  try {
    await client.put('a b (c).txt', 'through the gateway');
    assert.equal(await client.has('a b (c).txt'), true);
    await client.delete('a b (c).txt');
    assert.equal(await client.has('a b (c).txt'), false);
    const src = join(dir, 'cli.txt');
    writeFileSync(src, 'from the command line');
    const put = await runCli(['put', src, '--via', via], { cwd: dir, timeoutMs: 30_000 });
    assert.equal(put.status.code, 0, put.describe());
    const del = await runCli(['delete', 'cli.txt', '--via', via, '--json'], { cwd: dir, timeoutMs: 30_000 });
    assert.equal(del.status.code, 0, del.describe());
    assert.deepEqual(JSON.parse(del.out[0]!), { deleted: 'cli.txt' });
    const again = await runCli(['delete', 'cli.txt', '--via', via], { cwd: dir, timeoutMs: 30_000 });
    assert.equal(again.status.code, 3, again.describe());
    assert.match(again.err.join('\n'), /cdht delete: .*cli\.txt/);
    // the record log lives beside the stored files, hidden, one per peer, at the peers that hold
    // (or held) a name; it is appended to after the fact, so it is waited for
    const stores = net.runningIds().map((id) => net.peer(id)!.storeDir);
    const logs = () => stores.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => /^\.cdht-records-\d+$/.test(f)) : []));
    await eventually('a record log beside the stored files', () => logs().length > 0);
    // the files go as the holders drop the name (removing a file is the shell's, a moment later)
    await eventually('cli.txt gone from every store', () => stores.every((d) => !existsSync(join(d, 'cli.txt'))));
  } finally {
    client.close();
    await gw.close();
    await net.close();
  }
});
