// Finger upkeep at rest (issue 16): a table that stopped changing is refreshed rarely, so an idle
// ring sends almost no lookups; a finger that dies is still routed round at once and replaced,
// and every lookup keeps reaching the true owner. On the simulator, through the real protocol.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Id } from '../src/core/id-space.js';
import { createTestnet } from '../src/testnet.js';
import { mulberry32 } from '../src/util/prng.js';

const SEED = Number(process.env.SEED ?? 1);
const PEERS = 64;

/** The true owner of `key` among the live ids (the first at or after it, clockwise). */
function ownerOf(ids: Id[], key: Id): Id {
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.find((id) => id >= key) ?? sorted[0]!;
}

test(`an idle ring of ${PEERS} peers routed by fingers sends a tenth of the lookup traffic of a refresh a second once its tables hold, and routes round a dead finger`, async () => {
  const net = await createTestnet({ runtime: 'sim', seed: SEED, bits: 32, count: PEERS, routing: 'fingers', settled: true, seedFingers: false, pingIntervalMs: 1000 });
  try {
    // the tables fill at one refresh a second, then the pauses between sweeps grow
    await net.run(600_000);
    const filled = [...net.peers.values()].map((p) => p.snapshot().fingers?.length ?? 0).sort((a, b) => a - b);
    const median = filled[Math.floor(filled.length / 2)]!;
    assert.ok(median >= Math.log2(PEERS) - 2, `median finger table ${median} entries (seed ${SEED})`);

    // lookups travel over TCP, hop by hop; at rest nothing else does (no files, no joins) but the
    // merge probe's question every 30 s; a refresh every second took about 3 messages a second
    const before = net.sim!.stats().messagesSent;
    const windowMs = 120_000;
    await net.run(windowMs);
    const perPeerPerSecond = (net.sim!.stats().messagesSent - before) / PEERS / (windowMs / 1000);
    assert.ok(perPeerPerSecond < 0.3, `${perPeerPerSecond.toFixed(3)} TCP messages a peer a second at rest (seed ${SEED}); every refresh at one a second would be above 1`);

    // kill the peer that most tables name as a finger
    const named = new Map<Id, number>();
    for (const p of net.peers.values()) for (const f of p.snapshot().fingers ?? []) named.set(f, (named.get(f) ?? 0) + 1);
    const [victim, count] = [...named].sort((a, b) => b[1] - a[1])[0]!;
    assert.ok(count >= 2, `the busiest finger is named by ${count} tables`);
    await net.kill(victim);
    await net.run(5_000);
    const live = [...net.peers.keys()].filter((id) => id !== victim);

    // lookups straight away, from every peer, to random keys: each reaches the true owner
    const rand = mulberry32(SEED);
    for (let i = 0; i < 200; i++) {
      const from = net.peers.get(live[Math.floor(rand() * live.length)]!)!;
      const key = BigInt(Math.floor(rand() * 2 ** 32));
      const r = await net.settle(from.lookup(key, { timeoutMs: 10_000 }));
      assert.equal(r.owner.id, ownerOf(live, key), `lookup of ${key} from ${from.id} (seed ${SEED})`);
    }
    // and within a sweep at full pace no table names the dead peer any more
    let stale = live.filter((id) => net.peers.get(id)!.snapshot().fingers?.includes(victim));
    for (let round = 0; round < 12 && stale.length > 0; round++) {
      await net.run(30_000);
      stale = live.filter((id) => net.peers.get(id)!.snapshot().fingers?.includes(victim));
    }
    assert.deepEqual(stale, [], `tables still naming the dead peer ${victim} after 6 minutes (seed ${SEED})`);
  } finally {
    await net.close();
  }
});
