// One ring, always (Zave's invariants: at least one ring, at most one ring, ordered, every peer
// connected), tried on the simulator with the real protocol:
// - partitions of every shape, long enough that every peer forgets the other side's ghosts;
// - concurrent joins with failures in rings of one to eight peers, as fast-check draws them;
// - 10 to 50% of 256 peers killed at once.
// A failing property prints fast-check's seed and the shrunk schedule; replay with SEED=.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { runMassFailure } from '../src/check/mass.js';
import { runPartition } from '../src/check/partition.js';
import { PARTITION_SETTLE_MS } from '../src/check/profiles.js';
import { runScenario } from '../src/check/run.js';
import { formatStep, NORMAL_LATENCY, START_MS, type Scenario, type Step } from '../src/check/scenario.js';
import { sweep } from '../src/check/sweep.js';
import type { Contact } from '../src/core/contact.js';
import { defaultContact } from '../src/space.js';
import type { Effect } from '../src/core/effects.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import { ALONE_MAX_GAP_MS } from '../src/core/membership/successors.js';
import { PeerCore } from '../src/core/peer-core.js';

const SEED = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const SEEDS = Number(process.env.CHECK_SEEDS ?? 1000);

test('a peer whose every successor died says once that it is alone and keeps asking them, pausing longer each silent round, up to a minute', () => {
  const c = (id: number): Contact => defaultContact(BigInt(id), '127.0.0.1', 30_000);
  let seq = 7;
  const core = new PeerCore({ self: c(10), space: SPEC_SPACE, mode: { kind: 'init', successors: [c(20), c(30)] }, pingIntervalMs: 1000, pingMisses: 3, random32: () => (seq = (seq * 1103515245 + 12345) >>> 0), storeId: 'x' });
  const asked: number[] = [];
  let alone = 0;
  const take = (effects: Effect[], now: number) => {
    for (const e of effects) {
      if (e.kind === 'send' && e.msg.type === 'successor-query') asked.push(now);
      if (e.kind === 'trace' && e.trace.kind === 'alone') alone++;
    }
  };
  take(core.handle({ type: 'start', now: 0 }), 0);
  // 20 and 30 never answer; every query to them fails as a dead peer's would
  for (let t = 0; t <= 20 * 60_000; t += 250) {
    take(core.handle({ type: 'timer', name: 'ping', now: t }), t);
    take(core.handle({ type: 'timer', name: 'liveness', now: t }), t);
  }
  assert.deepEqual(core.snapshot().successors, []);
  assert.equal(alone, 1, 'said once');
  const gaps = asked.slice(1).map((t, i) => t - asked[i]!);
  assert.ok(asked.length >= 20, `${asked.length} questions in 20 minutes`);
  assert.ok(gaps.some((g) => g >= ALONE_MAX_GAP_MS / 2), `the pause grew (gaps ${gaps.join(', ')})`);
  assert.ok(gaps.every((g) => g <= ALONE_MAX_GAP_MS + 1000), `never more than ${ALONE_MAX_GAP_MS} ms between rounds (gaps ${gaps.join(', ')})`);
  assert.ok(asked[asked.length - 1]! > 19 * 60_000, 'still asking after 19 minutes');
});

for (const [shape, side] of [
  ['every other peer', [0, 2, 4]],
  ['an arc of three', [1, 2, 3]],
  ['one peer alone', [3]],
] as const) {
  test(`a partition of an hour (${shape} cut off) heals into one ring with every copy in place`, async () => {
    const r = await runPartition({ side, lengthMs: 60 * 60_000, maxMs: PARTITION_SETTLE_MS });
    assert.equal(r.last, undefined);
    assert.ok(r.oneRingMs !== undefined && r.copiesMs !== undefined, 'one ring, copies in place');
    assert.ok(r.copiesMs <= PARTITION_SETTLE_MS, `${r.copiesMs} ms after the heal`);
  });
}

test('a partition of fifteen minutes in a 32-bit ring routed by fingers heals too', async () => {
  const r = await runPartition({ bits: 32, count: 8, routing: 'fingers', side: [0, 2, 4, 6], lengthMs: 15 * 60_000, maxMs: PARTITION_SETTLE_MS });
  assert.equal(r.last, undefined);
  assert.ok(r.oneRingMs !== undefined && r.copiesMs !== undefined);
});

for (const [where, space] of [
  ['8-bit ids, successor walk', {}],
  ['32-bit ids, fingers', { bits: 32, routing: 'fingers' as const }],
] as const) {
  test(`cdht check --profile partitions (${where}): ${Math.ceil(SEEDS / 10)} seeds keep every invariant`, async () => {
    const r = await sweep({ from: 1, seeds: Math.ceil(SEEDS / 10), peers: 8, profile: 'partitions', shrink: false, ...space });
    assert.deepEqual(r.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.detail}\n  replay: ${f.replay}`), []);
  });
  test(`cdht check --profile joins (${where}): ${SEEDS} seeds keep every invariant`, async () => {
    const r = await sweep({ from: 1, seeds: SEEDS, peers: 8, profile: 'joins', shrink: false, ...space });
    assert.deepEqual(r.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.detail}\n  replay: ${f.replay}`), []);
  });
}

/** A schedule of joins and kills drawn by fast-check: ids are 8-bit, peers 1..3 to start. */
const schedule = fc
  .record({
    first: fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 3 }),
    joiners: fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 5 }),
    joinAt: fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 5, maxLength: 5 }),
    via: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
    kills: fc.array(fc.record({ who: fc.nat(), at: fc.integer({ min: 0, max: 1500 }) }), { maxLength: 3 }),
  })
  .map(({ first, joiners, joinAt, via, kills }): Scenario => {
    const fresh = joiners.filter((j) => !first.includes(j));
    const t = START_MS + 4_000;
    const steps: Step[] = fresh.map((id, i) => {
      const known = [...first, ...fresh.slice(0, i)];
      return { at: t + joinAt[i]!, kind: 'join', id, via: known[via[i]! % known.length]! };
    });
    const everyone = [...first, ...fresh];
    for (const k of kills) steps.push({ at: t + k.at, kind: 'kill', id: everyone[k.who % everyone.length]! });
    steps.push({ at: t + 8_000, kind: 'store', id: first[0]!, file: '0042', size: 300 });
    steps.sort((a, b) => a.at - b.at);
    return { seed: 1, ids: [...first].sort((a, b) => a - b), net: { codec: false, latencyMs: [...NORMAL_LATENCY], duplicateRate: 0, reorderRate: 0 }, steps, minUp: 1, forgiveLost: true };
  });

test(`property: any few concurrent joins and kills in a ring of one to eight end in one ordered ring (seed ${SEED})`, async () => {
  await fc.assert(
    fc.asyncProperty(schedule, async (sc) => {
      const r = await runScenario(sc, { peers: sc.ids.length });
      assert.equal(r.failure, undefined, `${r.failure?.invariant}: ${r.failure?.detail}\n  ${sc.steps.map(formatStep).join('\n  ')}`);
    }),
    { seed: SEED, numRuns: 150 },
  );
});

for (const fraction of [0.1, 0.2, 0.3, 0.5]) {
  test(`${fraction * 100}% of 256 peers killed at once (r = 4, k = 3, fingers): one ring within 30 s, copies back within 60 s, no lookup answered by a wrong owner`, async () => {
    const r = await runMassFailure({ peers: 256, fraction, successors: 4, replicas: 3, files: 200, maxMs: 60_000 });
    assert.equal(r.wrongOwner, 0, `${r.wrongOwner} of ${r.lookups} lookups answered by a wrong owner`);
    assert.ok(r.reconvergeMs !== undefined && r.reconvergeMs <= 30_000, `successor lists true after ${r.reconvergeMs} ms (${r.last ?? ''})`);
    assert.ok(r.copiesMs !== undefined && r.copiesMs <= 60_000, `copies back after ${r.copiesMs} ms (${r.last ?? ''})`);
    assert.ok(r.lookups >= 100, `${r.lookups} lookups asked during the repair`);
  });
}
