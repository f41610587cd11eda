// One ring over several processes (issue 16): two testnets on real sockets, slices 0/2 and 1/2
// of the same 16 peers on the same base port, as two processes would start them, form ONE ring:
// every peer knows its true successors and predecessors, and a lookup from a peer of one slice
// finds a key's owner in the other. Each testnet has a runtime (sockets) of its own, as a process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Id } from '../src/core/id-space.js';
import { createTestnet, sliceRange, type Testnet } from '../src/testnet.js';
import { freePortSpan } from './helpers/ports.js';

const PEERS = 16;
const WAIT_MS = 20_000;

test('sliceRange shares port offsets in equal runs, the first ones one longer, covering all', () => {
  assert.deepEqual([0, 1, 2].map((index) => sliceRange(10, { index, of: 3 })), [
    { from: 0, to: 4 },
    { from: 4, to: 7 },
    { from: 7, to: 10 },
  ]);
  assert.deepEqual(sliceRange(4096, { index: 3, of: 4 }), { from: 3072, to: 4096 });
});

test('a slice needs ids derived from addresses, on sockets, and a share that exists', async () => {
  await assert.rejects(createTestnet({ bits: 8, slice: { index: 0, of: 2 } }), /derived from addresses/);
  await assert.rejects(createTestnet({ bits: 32, count: 8, runtime: 'sim', slice: { index: 0, of: 2 } }), /on sockets/);
  await assert.rejects(createTestnet({ bits: 32, count: 8, slice: { index: 2, of: 2 } }), /0 <= index < of/);
});

test(`two slices of ${PEERS} peers, started apart, make one ring: true neighbours, lookups across`, { timeout: 180_000 }, async () => {
  const basePort = await freePortSpan(PEERS);
  const opts = { bits: 32, count: PEERS, basePort, routing: 'fingers' as const, settled: true, seedFingers: false, pingIntervalMs: 500 };
  const nets: Testnet[] = [];
  try {
    nets.push(await createTestnet({ ...opts, slice: { index: 0, of: 2 } }));
    nets.push(await createTestnet({ ...opts, slice: { index: 1, of: 2 } }));
    const [a, b] = nets as [Testnet, Testnet];
    const ring = [...a.ringIds()];
    assert.deepEqual(b.ringIds(), ring, 'both slices plan the same ring');
    assert.equal(ring.length, PEERS);
    assert.equal(a.runningIds().length, PEERS / 2);
    assert.deepEqual([...a.runningIds(), ...b.runningIds()].sort((x, y) => (x < y ? -1 : 1)), ring, 'the slices share the ring without overlap');

    const at = (id: Id, k: number) => ring[(ring.indexOf(id) + k + ring.length) % ring.length]!;
    // every peer's first two predecessors come from pings, often from the other slice
    const trueNeighbours = (net: Testnet) =>
      net.runningIds().every((id) => {
        const s = net.peer(id)!.snapshot();
        return s.successors[0] === at(id, 1) && s.successors[1] === at(id, 2) && s.pred1 === at(id, -1) && s.pred2 === at(id, -2);
      });
    const settled = await Promise.all(nets.map((n) => n.until(() => trueNeighbours(n), WAIT_MS)));
    for (const [i, net] of nets.entries()) {
      for (const id of net.runningIds()) {
        const s = net.peer(id)!.snapshot();
        assert.deepEqual([s.pred2, s.pred1, s.successors.slice(0, 4)], [at(id, -2), at(id, -1), [1, 2, 3, 4].map((k) => at(id, k))], `slice ${i}: Peer ${id}'s neighbours`);
      }
      assert.ok(settled[i], `slice ${i} settled within ${WAIT_MS} ms`);
    }
    // keys owned in the other slice, asked from each slice: the true owner answers
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const owner of to.runningIds().slice(0, 4)) {
        const key = a.space.add(at(owner, -1), 1n); // just past its predecessor: owned by `owner`
        const asker = from.peer(from.runningIds()[0]!)!;
        const r = await asker.lookup(key, { timeoutMs: 30_000 });
        assert.equal(r.owner.id, owner, `key ${key} from Peer ${asker.id}`);
        assert.equal(r.owner.id, a.space.ownerOf(key, ring));
      }
    }
  } finally {
    await Promise.all(nets.map((n) => n.close()));
  }
});
