// The checker's invariants on rings built by hand: each holds on a correct ring and fails on one
// broken the way it is meant to catch; and the shrinker finds the smallest failing schedule.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SPEC_SPACE, type Id } from '../src/core/id-space.js';
import {
  checkAlone,
  checkCopies,
  checkOwnership,
  checkPredecessors,
  checkRing,
  checkSuccessors,
  checkWrite,
  rightPeers,
  type PeerState,
  type RingView,
} from '../src/check/invariants.js';
import { shrink } from '../src/check/shrink.js';

const IDS = [10, 40, 70, 100, 130, 200];
const R = 4;
const K = 3;

/** A correct ring of IDS: true successors and predecessors, each key owned by its owner, files on their right peers. */
function ring(files: Record<string, number[]> = { '0050': [70, 100, 130], '0250': [10, 40, 70] }): {
  peers: Map<number, { successors: number[]; pred1?: number; pred2?: number }>;
  holds: Map<number, Set<string>>;
  owners: Map<number, (key: number) => boolean>;
  files: string[];
  view: () => RingView;
} {
  const n = IDS.length;
  const peers = new Map<number, { successors: number[]; pred1?: number; pred2?: number }>();
  IDS.forEach((id, i) => {
    const successors = Array.from({ length: Math.min(R, n - 1) }, (_, j) => IDS[(i + j + 1) % n]!);
    peers.set(id, { successors, pred1: IDS[(i - 1 + n) % n], pred2: IDS[(i - 2 + n) % n] });
  });
  const holds = new Map<number, Set<string>>(IDS.map((id) => [id, new Set<string>()]));
  for (const [f, at] of Object.entries(files)) for (const id of at) holds.get(id)!.add(f);
  const owners = new Map<number, (key: number) => boolean>();
  for (const id of IDS) owners.set(id, (key) => SPEC_SPACE.betweenRightClosed(BigInt(peers.get(id)!.pred1!), BigInt(key), BigInt(id)));
  const t = {
    peers,
    holds,
    owners,
    files: Object.keys(files),
    view: (): RingView => ({
      space: SPEC_SPACE,
      r: R,
      k: K,
      peers: [...peers].map(([id, p]): PeerState => ({
        id: BigInt(id),
        phase: 'active',
        successors: p.successors.map(BigInt),
        pred1: p.pred1 === undefined ? undefined : BigInt(p.pred1),
        pred2: p.pred2 === undefined ? undefined : BigInt(p.pred2),
      })),
      owns: (id: Id, key: Id) => t.owners.get(Number(id))!(Number(key)),
      holds: (id: Id, name: string) => t.holds.get(Number(id))!.has(name),
      files: t.files,
    }),
  };
  return t;
}

test('a correct ring keeps every invariant', () => {
  const r = ring();
  assert.equal(checkRing(r.view()), undefined);
  assert.deepEqual(rightPeers(r.view(), 50n).map(Number), [70, 100, 130]);
  assert.deepEqual(rightPeers(r.view(), 250n).map(Number), [10, 40, 70], 'keys past the largest id wrap round');
});

test('successors: a missing, a stale or a misordered entry is caught', () => {
  let r = ring();
  r.peers.get(70)!.successors = [100, 130, 200];
  assert.match(checkSuccessors(r.view())?.detail ?? '', /Peer 70 has successors 100,130,200; the live ring says 100,130,200,10/);
  r = ring();
  r.peers.get(200)!.successors = [10, 40, 55, 70];
  assert.equal(checkSuccessors(r.view())?.invariant, 'successors');
  r = ring();
  r.peers.get(10)!.successors = [70, 40, 100, 130];
  assert.equal(checkSuccessors(r.view())?.invariant, 'successors');
  assert.equal(checkRing(r.view())?.invariant, 'successors');
});

test('predecessors: a wrong first or second predecessor is caught', () => {
  let r = ring();
  r.peers.get(100)!.pred1 = 40;
  assert.match(checkPredecessors(r.view())?.detail ?? '', /Peer 100 has predecessors 40,40; the live ring says 70,40/);
  r = ring();
  delete r.peers.get(130)!.pred2;
  assert.equal(checkPredecessors(r.view())?.invariant, 'predecessors');
});

test('alone: a live peer that knows no successor while others are live is caught', () => {
  const r = ring();
  r.peers.get(40)!.successors = [];
  assert.match(checkAlone(r.view())?.detail ?? '', /Peer 40 knows no successor while 5 other peers are live/);
  assert.equal(checkRing(r.view())?.invariant, 'alone');
});

test('ownership: two peers taking one key, or none, is caught', () => {
  let r = ring();
  // 100 also believes it owns key 50 (it thinks its predecessor is 40)
  r.owners.set(100, (key) => SPEC_SPACE.betweenRightClosed(40n, BigInt(key), 100n));
  assert.match(checkOwnership(r.view())?.detail ?? '', /key 50 is taken by 70,100; its owner among the live peers is 70/);
  r = ring();
  r.owners.set(70, () => false);
  assert.equal(checkOwnership(r.view())?.invariant, 'ownership');
});

test('copies: a file missing at one of its k right peers is caught; extra copies are fine', () => {
  let r = ring({ '0050': [70, 100] });
  assert.match(checkCopies(r.view())?.detail ?? '', /file 0050 \(key 50\) is missing at 130; it must be on 70,100,130; live holders: 70,100/);
  r = ring({ '0050': [10, 40, 70, 100, 130] });
  assert.equal(checkCopies(r.view()), undefined);
  r = ring({ '0050': [] });
  assert.equal(checkRing(r.view())?.invariant, 'copies');
});

test('content: a stored name written with other bytes, or a name nobody stored, is caught', () => {
  const originals = new Map([['2067', new Uint8Array([1, 2, 3])]]);
  assert.equal(checkWrite(SPEC_SPACE, originals, 'peer-19', '2067.pdf', new Uint8Array([1, 2, 3])), undefined);
  assert.equal(checkWrite(SPEC_SPACE, originals, 'peer-2', 'received_2067.pdf', new Uint8Array([1, 2, 3])), undefined);
  assert.equal(checkWrite(SPEC_SPACE, originals, 'peer-2', 'notes.txt', new Uint8Array([9])), undefined, 'not a data file');
  assert.match(checkWrite(SPEC_SPACE, originals, 'peer-19', '2067.pdf', new Uint8Array([1, 2, 4]))?.detail ?? '', /other bytes/);
  assert.match(checkWrite(SPEC_SPACE, originals, 'peer-2', 'received_2067.pdf', new Uint8Array([1, 2]))?.detail ?? '', /other bytes/);
  assert.match(checkWrite(SPEC_SPACE, originals, 'peer-8', '4103.pdf', new Uint8Array([1]))?.detail ?? '', /nobody stored 4103/);
});

test('shrink: the two units that fail together are all that is left', async () => {
  const units = Array.from({ length: 20 }, (_, i) => [i]);
  let runs = 0;
  const r = await shrink(units, async (kept) => {
    runs++;
    return kept.includes(3) && kept.includes(11);
  });
  assert.deepEqual(r.kept, [3, 11]);
  assert.equal(r.runs, runs);
  assert.ok(runs < 60, `${runs} runs`);
});

test('shrink: a fault and its end go together; an empty schedule that fails shrinks to nothing; runs are bounded', async () => {
  const units = [[0], [1, 4], [2], [3, 5]];
  const r = await shrink(units, async (kept) => kept.includes(1));
  assert.deepEqual(r.kept, [1, 4], 'the pair stays whole');
  assert.deepEqual((await shrink(units, async () => true)).kept, []);
  const bounded = await shrink(Array.from({ length: 64 }, (_, i) => [i]), async (kept) => kept.length > 40, 10);
  assert.ok(bounded.runs <= 10);
  assert.ok(bounded.kept.length > 40, 'what it returns still fails');
});
