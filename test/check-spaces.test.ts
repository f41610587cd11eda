// The checker beyond the specification's space: the scenario's slots become peers of a 16-, 32- or
// 160-bit ring (ids from their addresses), the invariants follow that space, and sweeps of seeds
// keep every invariant with Chord's fingers and with the successor walk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SPEC_SPACE } from '../src/core/id-space.js';
import { checkRing, rightPeers, storedNameOf } from '../src/check/invariants.js';
import { CheckWorld, slotContacts } from '../src/check/run.js';
import { generate, ID_COUNT } from '../src/check/scenario.js';
import { replayCommand, sweep, type SweepOptions } from '../src/check/sweep.js';
import { idSpace } from '../src/space.js';

/**
 * Every kind of sweep gets the same thousand seeds as the specification's walk (issues 14 and 16):
 * fingers and the successor walk above 8 bits and private rings; rings of 64 peers get half (below).
 * CHECK_SEEDS sets them all (CHECK_SPACE_SEEDS the 16-bit walk's, CHECK_SEEDS_64 the 64-peer rings').
 */
const FINGER_SEEDS = Number(process.env.CHECK_SEEDS ?? 1000);
const SPACE_SEEDS = Number(process.env.CHECK_SPACE_SEEDS ?? FINGER_SEEDS);

/** Each failing seed as one readable block (empty when every seed held). */
async function failuresOf(o: Omit<SweepOptions, 'from' | 'seeds' | 'peers'>, seeds = SPACE_SEEDS, peers = 8): Promise<string[]> {
  const r = await sweep({ from: 1, seeds, peers, ...o });
  assert.equal(r.seeds, seeds);
  assert.ok(r.events > seeds * 1000, `${r.events} events`);
  return r.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.detail}\n  replay: ${f.replay}\n  slots: ${f.slots?.join(' ')}\n  shrunk: ${f.shrunk?.replay}\n    ${f.shrunk?.steps.join('\n    ')}`);
}

test(`cdht check --bits 32 --routing fingers: ${FINGER_SEEDS} seeds keep every invariant`, async () => {
  assert.deepEqual(await failuresOf({ bits: 32, routing: 'fingers' }, FINGER_SEEDS), []);
});

test(`cdht check --secure --bits 32 --routing fingers: ${FINGER_SEEDS} seeds of private rings keep every invariant`, async () => {
  assert.deepEqual(await failuresOf({ bits: 32, routing: 'fingers', secure: true }, FINGER_SEEDS), []);
});

/**
 * Rings of 64 peers (issue 16): the same faults, each seed's ring eight times larger. Half the
 * seeds of the others by default: a thousand of each passed in a whole CI run (12 min 57 s on
 * 2026-12-06), but they alone then took 7 of its minutes; CHECK_SEEDS_64=1000 runs them all.
 */
const SEEDS_64 = Number(process.env.CHECK_SEEDS_64 ?? Math.ceil(FINGER_SEEDS / 2));

test(`cdht check --peers 64 --bits 32 --routing fingers: ${SEEDS_64} seeds keep every invariant`, async () => {
  assert.deepEqual(await failuresOf({ bits: 32, routing: 'fingers' }, SEEDS_64, 64), []);
});

test(`cdht check --peers 64: ${SEEDS_64} seeds keep every invariant by the specification's walk`, async () => {
  assert.deepEqual(await failuresOf({}, SEEDS_64, 64), []);
});

test(`cdht check --bits 16 --routing successor: ${SPACE_SEEDS} seeds keep every invariant`, async () => {
  assert.deepEqual(await failuresOf({ bits: 16, routing: 'successor' }), []);
});

/**
 * Seeds beyond the sweeps above that failed the same way before issue 14's repair: with fingers,
 * after a partition or a pause, a Request went as its final hop to a peer that did not own the
 * key (a peer whose first successor lay far behind it, walking back a peer a ping).
 */
const ONCE_FAILING = [
  { seed: 232, peers: 8, bits: 32 },
  { seed: 86, peers: 16, bits: 32 },
  { seed: 37, peers: 24, bits: 64 },
  // issue 16's slower finger refreshes: a Store reached a leaving peer through a finger a sweep
  // old, and the origin's own copy never went to the owner that came back (312); a request went
  // final to a peer named by a finger's stale successor (655)
  { seed: 312, peers: 8, bits: 32 },
  { seed: 655, peers: 8, bits: 32 },
];

test('seeds that failed with fingers before the repairs of issues 14 and 16 keep every invariant', async () => {
  const failed: string[] = [];
  for (const k of ONCE_FAILING) {
    const r = await sweep({ from: k.seed, seeds: 1, peers: k.peers, bits: k.bits, routing: 'fingers', workers: 1, shrink: false });
    failed.push(...r.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.detail}\n  replay: ${f.replay}`));
  }
  assert.deepEqual(failed, []);
});

test('slots: at 8 bits slot s is Peer s at base port + s, as every seed before other spaces replays', () => {
  const table = slotContacts(SPEC_SPACE);
  assert.equal(table.length, ID_COUNT);
  table.forEach((c, slot) => {
    assert.equal(c.id, BigInt(slot));
    assert.equal(c.port, table[0]!.port + slot);
  });
});

test('slots: above 8 bits each slot has the id of its address, every id and port distinct, even where two addresses collide', () => {
  const base = slotContacts(SPEC_SPACE)[0]!.port;
  for (const bits of [16, 32, 160]) {
    const space = idSpace(bits);
    const table = slotContacts(space);
    assert.equal(new Set(table.map((c) => c.id)).size, ID_COUNT, `${bits} bits: distinct ids`);
    assert.equal(new Set(table.map((c) => c.port)).size, ID_COUNT, `${bits} bits: distinct ports`);
    for (const c of table) assert.equal(c.id, space.idOfAddress(c.host, c.port));
    const moved = table.flatMap((c, slot) => (c.port === base + slot ? [] : [slot]));
    // 127.0.0.1:20041 and :20185 hash to one 16-bit id: the later slot moves up 256 ports
    assert.deepEqual(moved, bits === 16 ? [185] : [], `${bits} bits: slots off their own port`);
    if (bits === 16) assert.equal(table[185]!.port, base + 185 + ID_COUNT);
  }
});

test('a 32-bit world: ring order is id order, stored names sit in each store folder under the name itself, and are requested back', async () => {
  const sc = generate(7, { peers: 6, quietMs: 4000 });
  const w = new CheckWorld({ ...sc, steps: [] }, { peers: 6, bits: 32 });
  await w.start();
  await w.sim.runFor(4000);
  const live = w.liveIds();
  const ids = live.map((s) => w.idOf(s));
  assert.deepEqual(ids, [...ids].sort((a, b) => (a < b ? -1 : 1)), 'live slots in id order');
  assert.notDeepEqual(live, [...live].sort((a, b) => a - b), 'which is not slot order for this seed');
  assert.ok(w.store(live[0]!, '0042', 700));
  await w.sim.runFor(3000);
  assert.equal(checkRing(w.view(['0042'])), undefined, 'the ring is right and 0042 is on its three right peers');
  const right = rightPeers(w.view(['0042']), w.space.keyOf('0042')).map((id) => w.slotOf(id));
  assert.equal(right.length, 3);
  for (const s of right) {
    assert.ok(w.sim.disk.read(`peer-${s}/store`, '0042'), `slot ${s} holds 0042 in its store folder`);
    assert.equal(w.sim.disk.read(`peer-${s}`, '0042.pdf'), undefined, 'nothing spelled the 8-bit way');
  }
  await w.requestAll(['0042']);
  assert.equal(w.failure, undefined, w.failure?.detail);
});

test("storedNameOf follows the run's space: NNNN.pdf at 8 bits, the name itself above", () => {
  const big = idSpace(32);
  assert.deepEqual(storedNameOf('0042.pdf', SPEC_SPACE), { name: '0042', received: false });
  assert.deepEqual(storedNameOf('received_0042.pdf', SPEC_SPACE), { name: '0042', received: true });
  assert.equal(storedNameOf('0042', SPEC_SPACE), undefined);
  assert.deepEqual(storedNameOf('0042', big), { name: '0042', received: false });
  assert.deepEqual(storedNameOf('received_0042', big), { name: '0042', received: true });
  assert.equal(storedNameOf('0042.pdf', big), undefined);
  assert.equal(storedNameOf('notes.txt', big), undefined);
});

test('replay lines carry the space, the routing when it is not the space default, and --secure', () => {
  const at = (o: Partial<SweepOptions>) => replayCommand(5, { peers: 8, ...o });
  assert.equal(at({}), 'cdht check --seeds 1 --from 5 --peers 8');
  assert.equal(at({ bits: 8, routing: 'successor' }), 'cdht check --seeds 1 --from 5 --peers 8');
  assert.equal(at({ bits: 8, routing: 'fingers' }), 'cdht check --seeds 1 --from 5 --peers 8 --routing fingers');
  assert.equal(at({ bits: 32, routing: 'fingers' }), 'cdht check --seeds 1 --from 5 --peers 8 --bits 32');
  assert.equal(at({ bits: 16, routing: 'successor', secure: true }), 'cdht check --seeds 1 --from 5 --peers 8 --bits 16 --routing successor --secure');
  assert.equal(replayCommand(5, { peers: 8, bits: 160 }, [1, 4]), 'cdht check --seeds 1 --from 5 --peers 8 --bits 160 --steps 1,4');
});
