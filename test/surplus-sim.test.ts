// Surplus copies on the simulator: a peer that is no longer among a key's k holders (a peer
// joined in front of the owner) deletes its copy once the holders responsible now have confirmed
// theirs, and never before: not while it cannot reach them, not when one holds other bytes, not
// on a chain of holders that does not run into its own predecessors.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { createTestnet, type Testnet } from '../src/index.js';
import type { Contact } from '../src/core/contact.js';
import { Ctx } from '../src/core/context.js';
import { IdSpace, type Id } from '../src/core/id-space.js';
import type { Liveness } from '../src/core/membership/liveness.js';
import type { Successors } from '../src/core/membership/successors.js';
import type { Lookups } from '../src/core/routing/lookups.js';
import type { Message } from '../src/core/messages.js';
import { KeyStore } from '../src/core/storage/key-store.js';
import { Surplus } from '../src/core/storage/surplus.js';
import { mulberry32 } from '../src/util/prng.js';
import { encodeFrame } from '../src/wire/index.js';

async function simRing(seed = 5): Promise<Testnet> {
  return createTestnet({ runtime: 'sim', bits: 16, count: 10, settled: true, replicas: 3, seed, perPeerDirs: true, dataDir: '/sim', pingIntervalMs: 1000 });
}

function onDisk(net: Testnet, name: string): Id[] {
  return net.runningIds().filter((id) => net.sim!.disk.read(net.peer(id)!.storeDir, name) !== undefined);
}

/** The first k running peers at or after `key`, clockwise. */
function responsible(net: Testnet, key: Id, k: number): Id[] {
  const ids = net.runningIds();
  const owner = net.space.ownerOf(key, ids)!;
  const at = ids.indexOf(owner);
  return Array.from({ length: k }, (_, i) => ids[(at + i) % ids.length]!);
}

/**
 * Puts `name` from a peer, then joins a peer with the key's own id in front of its owner: the
 * joiner owns the key now, and the third holder of before (`surplus`) is one too many.
 */
async function surplusAfterJoin(net: Testnet, name: string, bytes: string): Promise<{ key: Id; joiner: Id; surplus: Id; before: Id[] }> {
  const key = net.space.keyOf(name);
  assert.ok(!net.runningIds().includes(key), 'the key is no peer id');
  const put = await net.settle(net.peer(net.runningIds()[0]!)!.put(name, bytes));
  assert.equal(put.holders.length, 3);
  const before = responsible(net, key, 3);
  assert.deepEqual(new Set(onDisk(net, name)), new Set(before));
  await net.join(key, net.runningIds()[1]!);
  assert.ok(net.peer(key)!.isInRing);
  return { key, joiner: key, surplus: before[2]!, before };
}

test('a surplus copy is deleted once the holders responsible now confirm theirs', async () => {
  const net = await simRing();
  try {
    const { key, surplus } = await surplusAfterJoin(net, 'report.txt', 'the genuine bytes');
    const now = responsible(net, key, 3);
    assert.ok(!now.includes(surplus));
    // the joiner gets its copy from the ring; then the fourth holder lets its copy go
    assert.ok(await net.until(() => onDisk(net, 'report.txt').length === 3 && !onDisk(net, 'report.txt').includes(surplus), 120_000), `on disk at ${onDisk(net, 'report.txt')}`);
    assert.deepEqual(new Set(onDisk(net, 'report.txt')), new Set(now));
    assert.ok(!net.peer(surplus)!.snapshot().files.some((f) => f.name === 'report.txt'), 'the key store forgot it too');
    // it stays collected (no holder pushes it back), and the name still reads
    await net.run(60_000);
    assert.deepEqual(new Set(onDisk(net, 'report.txt')), new Set(now));
    assert.equal((await net.settle(net.peer(surplus)!.getBuffer('report.txt'))).toString(), 'the genuine bytes');
  } finally {
    await net.close();
  }
});

test('a surplus copy is kept while its holder cannot reach the new owner, and goes once it can', async () => {
  const net = await simRing(9);
  try {
    const key = net.space.keyOf('ledger.txt');
    const put = await net.settle(net.peer(net.runningIds()[0]!)!.put('ledger.txt', 'ledger bytes'));
    assert.equal(put.holders.length, 3);
    const before = responsible(net, key, 3);
    const third = net.contactOf(before[2]!);
    const joiner = net.contactOf(key);
    // the third holder cannot hear the joiner (nor the joiner it) from the start
    net.sim!.partition([`${third.host}:${third.port}`], [`${joiner.host}:${joiner.port}`]);
    await net.join(key, before[0]!);
    assert.ok(await net.until(() => onDisk(net, 'ledger.txt').includes(key), 60_000), 'the joiner got its copy');
    // a long time cut off: its copy stays (the new owner never confirmed anything to it)
    await net.run(5 * 60_000);
    assert.ok(onDisk(net, 'ledger.txt').includes(before[2]!), `the copy at ${before[2]} was deleted unconfirmed`);
    net.sim!.heal();
    assert.ok(await net.until(() => !onDisk(net, 'ledger.txt').includes(before[2]!), 180_000), 'collected once confirmed');
    assert.deepEqual(new Set(onDisk(net, 'ledger.txt')), new Set(responsible(net, key, 3)));
  } finally {
    await net.close();
  }
});

test('a holder of other bytes does not count, nor do forged answers in its name: the surplus copy stays', async () => {
  const net = await simRing(13);
  try {
    const key = net.space.keyOf('notes.txt');
    const put = await net.settle(net.peer(net.runningIds()[0]!)!.put('notes.txt', 'the genuine notes'));
    assert.equal(put.holders.length, 3);
    const before = responsible(net, key, 3);
    // the joiner's directory already has other bytes under the name (it keeps them: names are write-once)
    net.sim!.disk.write(`/sim/peer-${key}/store`, 'notes.txt', new TextEncoder().encode('other bytes!!'));
    await net.join(key, before[0]!);
    assert.ok(net.peer(key)!.isInRing);
    assert.equal(net.peer(key)!.storeDir, `/sim/peer-${key}/store`);
    // meanwhile a forger answers holds queries in the owner's name, from its address, with the
    // genuine record and guessed query ids: 3000 guesses, none taken
    const genuine = { name: 'notes.txt', size: 17, sha256: new Uint8Array(createHash('sha256').update('the genuine notes').digest()) };
    const owner = net.contactOf(key);
    const rand = mulberry32(99);
    for (let i = 0; i < 300; i++) {
      for (let j = 0; j < 10; j++) {
        const forged: Message = { type: 'holds-reply', from: owner, qid: Math.floor(rand() * 2 ** 32) || 1, file: 'notes.txt', record: genuine, successors: [] };
        net.sim!.deliverRaw(net.contactOf(before[2]!), encodeFrame(forged), 'tcp', { src: owner });
      }
      await net.run(1000);
    }
    assert.ok(onDisk(net, 'notes.txt').includes(before[2]!), 'the fourth holder kept the genuine copy: the owner holds other bytes');
  } finally {
    await net.close();
  }
});

// ---- the chain of holders behind a peer, judged against its own predecessors -----------------

function surplusAt(self: bigint, pred1: bigint, pred2: bigint, succs: bigint[], k = 3): Surplus {
  const space = new IdSpace(16);
  const c = (id: bigint): Contact => ({ id, host: '10.0.0.1', port: 1000 + Number(id % 50000n) });
  const ctx = new Ctx({ self: c(self), space, mode: { kind: 'init', successors: [] }, pingIntervalMs: 1000, pingMisses: 3, random32: () => 7, storeId: 's', replicas: k });
  const live = { pred1: c(pred1), pred2: c(pred2) } as unknown as Liveness;
  const succ = { list: succs.map(c), ids: () => succs } as unknown as Successors;
  return new Surplus(ctx, live, succ, new KeyStore(space), {} as Lookups, { check: () => undefined, busy: () => false });
}
const c = (id: bigint): Contact => ({ id, host: '10.0.0.1', port: 1000 + Number(id % 50000n) });

test('the chain an owner reports counts only if it runs into our own predecessors, k of them before us', () => {
  // we are 500, our predecessors 400 and 300; the key 100
  const s = surplusAt(500n, 400n, 300n, [600n, 700n, 800n, 900n]);
  // owner 200, then 300, 400, us: we are fourth, so the copy is surplus; 300 and 400 confirm too
  assert.deepEqual(s.chain(100n, [c(200n), c(300n), c(400n), c(500n)])?.map((x) => x.id), [200n, 300n, 400n]);
  // the owner is our second predecessor: we are its second replica, not surplus
  assert.equal(s.chain(250n, [c(300n), c(400n), c(500n)]), undefined);
  // a lying owner that names peers of its own between it and us, skipping our predecessors
  assert.equal(s.chain(100n, [c(200n), c(210n), c(220n), c(500n)]), undefined);
  // ... or puts a stranger between our two predecessors
  assert.equal(s.chain(100n, [c(200n), c(300n), c(350n), c(400n)]), undefined);
  // ... or names our predecessor at another address
  assert.equal(s.chain(100n, [c(200n), c(300n), { ...c(400n), port: 9 }]), undefined);
  // ... or a peer not between the key and us, or out of order
  assert.equal(s.chain(100n, [c(600n), c(300n), c(400n)]), undefined);
  assert.equal(s.chain(100n, [c(300n), c(200n), c(300n), c(400n)]), undefined);
  // a longer honest chain: the first three are the holders, our predecessors confirm as well
  assert.deepEqual(s.chain(100n, [c(150n), c(200n), c(300n), c(400n)])?.map((x) => x.id), [150n, 200n, 300n, 400n]);
});

test('a key ahead is judged by our own successor list; ours and our predecessors\' replicas are kept', () => {
  const s = surplusAt(500n, 400n, 300n, [600n, 700n, 800n, 900n]);
  assert.deepEqual(s.plan(650n), { confirmers: [c(700n), c(800n), c(900n)] });
  assert.ok('keep' in s.plan(750n), 'its third holder is beyond our list');
  assert.ok('keep' in s.plan(450n), 'ours');
  assert.ok('keep' in s.plan(350n), 'our first replica');
  assert.deepEqual(s.plan(250n), { lookup: true });
  const one = surplusAt(500n, 400n, 300n, [600n, 700n], 1);
  assert.deepEqual(one.plan(650n), { confirmers: [c(700n)] });
  assert.deepEqual(one.plan(350n), { lookup: true });
});
