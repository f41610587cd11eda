// Lean liveness on a whole simulated ring (issue 16): above the spec's id space a ring at rest
// sends about half the datagrams of the spec's two-successor pings, every peer still knows both
// its predecessors, and a killed peer is out of both its predecessors' first two successors
// within two ping intervals, as in the spec's space. Virtual time only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Id } from '../src/core/id-space.js';
import { createTestnet } from '../src/testnet.js';
import { mulberry32 } from '../src/util/prng.js';

const SEED = Number(process.env.SEED ?? 5);
const PEERS = 64;
const INTERVAL_MS = 1000;

const sortIds = (ids: Id[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

async function datagramsAtRest(bits: number): Promise<number> {
  // the same number of peers in either space (8 bits: every fourth id)
  const shape = bits === 8 ? { ids: Array.from({ length: PEERS }, (_, i) => 4 * i) } : { count: PEERS };
  const net = await createTestnet({ runtime: 'sim', seed: SEED, bits, ...shape, routing: 'successor', settled: true, pingIntervalMs: INTERVAL_MS });
  try {
    assert.equal(net.runningIds().length, PEERS);
    await net.run(120_000);
    const before = net.sim!.stats().datagramsSent;
    const windowMs = 60_000;
    await net.run(windowMs);
    return (net.sim!.stats().datagramsSent - before) / PEERS / (windowMs / 1000);
  } finally {
    await net.close();
  }
}

test(`at rest, ${PEERS} peers with 32-bit ids send about half the datagrams of the spec's 8-bit liveness`, async () => {
  const spec = await datagramsAtRest(8);
  const lean = await datagramsAtRest(32);
  assert.ok(spec >= 3.9, `the spec's space pings two successors a second and answers two: ${spec.toFixed(2)} datagrams a peer a second`);
  assert.ok(lean <= 0.6 * spec, `lean ${lean.toFixed(2)} against the spec's ${spec.toFixed(2)} datagrams a peer a second (seed ${SEED})`);
});

test(`a killed peer leaves both its predecessors' first two successors within two intervals, and every peer knows both predecessors`, async () => {
  const net = await createTestnet({ runtime: 'sim', seed: SEED, bits: 32, count: PEERS, routing: 'fingers', settled: true, seedFingers: false, pingIntervalMs: INTERVAL_MS });
  try {
    await net.run(60_000);
    const rand = mulberry32(SEED);
    const worst: number[] = [];
    for (let round = 0; round < 6; round++) {
      const live = sortIds(net.runningIds());
      // every peer knows its two true predecessors
      for (const [i, id] of live.entries()) {
        const s = net.peer(id)!.snapshot();
        const want1 = live[(i - 1 + live.length) % live.length];
        const want2 = live[(i - 2 + live.length) % live.length];
        assert.deepEqual([s.pred1, s.pred2], [want1, want2], `Peer ${id}'s predecessors before kill ${round} (seed ${SEED})`);
      }
      const at = Math.floor(rand() * live.length);
      const victim = live[at]!;
      const preds = [live[(at - 1 + live.length) % live.length]!, live[(at - 2 + live.length) % live.length]!];
      // kill at a random point of the ping cycle
      await net.run(Math.floor(rand() * INTERVAL_MS));
      await net.kill(victim);
      const start = net.sim!.stats().now;
      const repairedAt = new Map<Id, number>();
      for (let step = 0; step < 200 && repairedAt.size < preds.length; step++) {
        await net.run(20);
        for (const p of preds) {
          const firstTwo = net.peer(p)!.snapshot().successors.slice(0, 2);
          if (!repairedAt.has(p) && !firstTwo.includes(victim) && firstTwo.length === 2) repairedAt.set(p, net.sim!.stats().now - start);
        }
      }
      assert.equal(repairedAt.size, 2, `both predecessors of ${victim} repaired within 4 s (seed ${SEED}, round ${round})`);
      worst.push(Math.max(...repairedAt.values()));
      await net.run(20_000);
    }
    assert.ok(Math.max(...worst) <= 2 * INTERVAL_MS, `repair took ${worst.join(', ')} ms of virtual time (seed ${SEED})`);
    assert.deepEqual(net.staleIds(), [], 'no stale successor list at the end');
  } finally {
    await net.close();
  }
});
