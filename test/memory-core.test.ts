// Unit tests of src/core/membership/memory.ts through one PeerCore driven by hand. The ring memory
// is read where it is used: the merge probe asks only remembered peers that are not successors,
// one each round, in turn; so the peers it asks over many rounds are the memory (less the
// successors). Rules: only peers that answered a ping of ours from inside a ring enter; one per
// scale of clockwise distance, the first heard kept until it has been silent MEMORY_STALE_MS; the
// farthest MEMORY_SLOTS scales kept; the first MEMORY_SEEDS start-up contacts kept for good;
// entries outlive death marks. Hand clock, r = 2, no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdSpace } from '../src/core/id-space.js';
import { MEMORY_SEEDS, MEMORY_SLOTS, MEMORY_STALE_MS } from '../src/core/membership/memory.js';
import { HandCore, peer } from './helpers/hand-core.js';

const RING = [1, 8, 14, 21, 32];
const ping2 = (c: HandCore, from: number) => c.receive({ type: 'ping', from: peer(from), seq: 1, role: 2, loud: false }, 'udp');

/** Runs `ms` of probes (the predecessors pinging) and returns whom the merge probe asked, in order. */
function askedOver(c: HandCore, ms: number): number[] {
  const key = c.space.add(BigInt(c.opts.id), 1n);
  const mark = c.sent.length;
  for (let t = 0; t < ms; t += 1000) {
    c.run(1000);
    c.heartbeat();
  }
  return c.sentOf('lookup', mark).filter((s) => s.msg.key === key && s.msg.hops === 1).map((s) => Number(s.to.id));
}
const set = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);

test('only peers that answered a ping of ours enter: a pinger that never answers is never asked', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 2 } });
  c.setRing([...RING, 60]); // 60 answers; 100 does not
  ping2(c, 60);
  ping2(c, 100);
  // ...nor a peer someone else names
  c.receive({ type: 'successor-change', from: peer(14), successors: [peer(120)] });
  assert.deepEqual(set(askedOver(c, 600_000)), [1, 32, 60]);
});

test('one peer per scale of distance: the first heard stays until it has been silent MEMORY_STALE_MS', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 2 } });
  // 8 -> 50 and 8 -> 60 are both in [32, 64); 200 (far behind) keeps the heartbeat's pingers 1 and 200
  c.setRing([...RING, 50, 60, 200]);
  ping2(c, 50);
  c.run(1000);
  ping2(c, 60);
  assert.deepEqual(set(askedOver(c, 400_000)), [1, 32, 50]);
  // 50 stops answering; 60 answers a ping of ours again, first before 50 is stale, then after
  c.mute.add(50);
  askedOver(c, MEMORY_STALE_MS - c.now - 400_000);
  ping2(c, 60);
  assert.ok(!askedOver(c, 300_000).includes(60), 'not before 50 is stale');
  askedOver(c, 150_000);
  ping2(c, 60);
  const later = set(askedOver(c, 400_000));
  assert.ok(later.includes(60) && !later.includes(50), `60 takes 50's place: ${later}`);
});

test(`the first ${MEMORY_SEEDS} start-up contacts are kept for good, even when they never answer`, () => {
  const given = [14, 21, 40, 50, 60].map(peer); // 40, 50, 60 never answer
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 2, mode: { kind: 'init', successors: given } } });
  const asked = set(askedOver(c, 900_000));
  assert.deepEqual(asked, [1, 32, 40, 50], 'the seeds beyond the successors, and the predecessors heard');
});

test('entries outlive death marks: a successor declared dead is still asked long after its ghost is forgotten', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 2 } });
  askedOver(c, 3000);
  c.mute.add(21);
  c.setRing([1, 8, 14, 32]);
  askedOver(c, 10_000);
  assert.deepEqual(c.core.snapshot().successors, [14n, 32n]);
  askedOver(c, 15 * 60_000);
  assert.ok(askedOver(c, 300_000).includes(21), 'the dead peer is asked (a healed partition brings it back)');
});

test(`the farthest ${MEMORY_SLOTS} scales are kept: the nearest give way`, () => {
  const space = new IdSpace(20);
  const far = Array.from({ length: 19 }, (_, b) => 8 + 2 ** (b + 1)); // one peer per scale 1..19
  const c = new HandCore({ id: 8, ring: [8, ...far], space, config: { successors: 2 } });
  for (const id of far) ping2(c, id);
  const asked = set(askedOver(c, 1_500_000));
  // successors (scales 1 and 2) are never asked; of the 17 others, the nearest (scale 3) was pushed out
  assert.deepEqual(asked, far.slice(20 - MEMORY_SLOTS - 1).sort((a, b) => a - b));
  assert.ok(!asked.includes(8 + 8));
});
