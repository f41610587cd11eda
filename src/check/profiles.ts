// Schedules of other kinds than the default fault mix (scenario.ts), for the faults Chord's own
// analyses single out (Zave, "Reasoning about identifier spaces: how to make Chord correct",
// TSE 2017): partitions long enough that every peer forgets the other side's ghosts, and
// concurrent joins mixed with failures in rings of one to eight peers. Same seed, same schedule;
// the runner (run.ts) plays them and checks the same invariants.
//
// - partitions: a ring of 4 to 8 peers cut into two sides (interleaved, an arc, or one peer
//   alone) for 1 to 60 minutes of virtual time, with stores and requests on both sides while cut
//   off; then healed. The ring must be one again, and every file on its k right peers, within
//   PARTITION_SETTLE_MS of the heal (two merge-probe intervals and the repair after them).
// - joins: a ring of 1 to 3 peers; 1 to 5 peers join at once, through the old peers or through
//   each other, while up to 3 peers (the ones joined through among them) are killed during the
//   joins; a second wave may follow. Every peer left running must end in one ordered ring, and
//   files stored after the waves must reach their k right peers.
import { mulberry32 } from '../util/prng.js';
import { ID_COUNT, NORMAL_LATENCY, START_MS, type Scenario, type Step } from './scenario.js';
import { MERGE_EVERY_MS } from '../core/membership/merge.js';

export type Profile = 'faults' | 'partitions' | 'joins';
export const PROFILES: readonly Profile[] = ['faults', 'partitions', 'joins'];

/** How long after a heal the ring may take to be one again, with every copy in place. */
export const PARTITION_SETTLE_MS = 2 * 1.25 * MERGE_EVERY_MS + 30_000;
/** Partition lengths drawn from (ms): past GHOST_MEMORY_MS (10 min) only the ring memory remembers the other side. */
const PARTITION_LENGTHS = [60_000, 5 * 60_000, 12 * 60_000, 30 * 60_000, 60 * 60_000];

function drawer(seed: number, salt: number) {
  const rand = mulberry32((seed ^ salt) >>> 0);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ids = (n: number): number[] => {
    const pool = Array.from({ length: ID_COUNT }, (_, i) => i);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
    return out;
  };
  return { rand, int, pick, ids };
}

/** Four-digit names not used yet in this schedule. */
function namer(int: (lo: number, hi: number) => number) {
  const used = new Set<string>();
  return (): string => {
    for (;;) {
      const name = String(int(0, 9999)).padStart(4, '0');
      if (!used.has(name)) {
        used.add(name);
        return name;
      }
    }
  };
}

export function generatePartitions(seed: number, peers: number): Scenario {
  const { rand, int, pick, ids: drawIds } = drawer(seed, 0x51ab1e);
  const n = Math.max(4, Math.min(8, peers));
  const ids = drawIds(n).sort((a, b) => a - b);
  const name = namer(int);
  const steps: Step[] = [];
  const files: string[] = [];
  const store = (at: number, among: readonly number[]) => {
    const file = name();
    files.push(file);
    steps.push({ at, kind: 'store', id: pick(among), file, size: int(100, 3000) });
  };
  let t = START_MS;
  for (let i = int(1, 3); i > 0; i--) store((t += 100), ids);
  t += 8_000;
  // the cut side: every other peer, an arc, or one peer alone
  const shape = int(0, 2);
  const side =
    shape === 0 ? ids.filter((_, i) => i % 2 === 0) : shape === 1 ? Array.from({ length: int(1, n - 1) }, (_, i) => ids[(int(0, n - 1) + i) % n]!) : [pick(ids)];
  const cut = [...new Set(side)].sort((a, b) => a - b);
  const rest = ids.filter((x) => !cut.includes(x));
  const length = pick(PARTITION_LENGTHS);
  const group = 1;
  steps.push({ at: t, kind: 'partition', side: cut, group });
  // each side stores and asks while cut off, once each side has noticed
  const during = t + Math.min(30_000, length / 2);
  for (let i = int(1, 2); i > 0; i--) {
    store(during + i * 50, cut);
    store(during + 25 + i * 50, rest);
  }
  if (files.length > 0) steps.push({ at: during + 400, kind: 'request', id: pick(rest), file: pick(files) });
  steps.push({ at: t + length, kind: 'heal', group });
  // a request after the heal for a name stored on the cut side: it must be found in the one ring
  steps.push({ at: t + length + PARTITION_SETTLE_MS, kind: 'request', id: pick(ids), file: pick(files) });
  store(t + length + PARTITION_SETTLE_MS + 500, ids);
  steps.sort((a, b) => a.at - b.at);
  return { seed, ids, net: { codec: seed % 2 === 0, latencyMs: [...NORMAL_LATENCY], duplicateRate: rand() < 0.2 ? 0.02 : 0, reorderRate: 0 }, steps, minUp: 1, settleMs: PARTITION_SETTLE_MS };
}

export function generateJoins(seed: number): Scenario {
  const { rand, int, pick, ids: drawIds } = drawer(seed, 0x70145);
  const all = drawIds(8);
  const n0 = int(1, 3);
  const ids = all.slice(0, n0).sort((a, b) => a - b);
  let waiting = all.slice(n0);
  const up = [...ids];
  const steps: Step[] = [];
  const name = namer(int);
  let t = START_MS;
  const waves = int(1, 2);
  for (let w = 0; w < waves && waiting.length > 0; w++) {
    t += 6_000;
    const joiners = waiting.slice(0, int(1, Math.min(5, waiting.length)));
    waiting = waiting.slice(joiners.length);
    const vias = new Set<number>();
    for (const [i, id] of joiners.entries()) {
      // through an old peer, or through a peer that joins in this same wave
      const via = i > 0 && rand() < 0.3 ? joiners[int(0, i - 1)]! : pick(up);
      vias.add(via);
      steps.push({ at: t + int(0, 300), kind: 'join', id, via });
    }
    // failures during the joins: often a peer joined through, at least one peer stays
    const kills = int(0, 3);
    const alive = new Set([...up, ...joiners]);
    for (let k = 0; k < kills && alive.size > 1; k++) {
      // a peer joined through, an old peer (all of them, some seeds), or anyone
      const fromVias = [...vias].filter((v) => alive.has(v));
      const old = up.filter((x) => alive.has(x));
      const r = rand();
      const id = r < 0.4 && fromVias.length ? pick(fromVias) : r < 0.8 && old.length ? pick(old) : pick([...alive]);
      alive.delete(id);
      // in the middle of the joins' handshakes as often as after them
      steps.push({ at: t + (rand() < 0.5 ? int(0, 120) : int(0, 800)), kind: 'kill', id });
    }
    up.splice(0, up.length, ...alive);
  }
  // stores only once the waves are over: in a ring of three, killing the three old peers takes
  // every copy there is, a loss no protocol survives; what these schedules try is the ring itself
  for (let i = int(1, 2); i > 0; i--) steps.push({ at: t + 6_000 + i * 100, kind: 'store', id: pick(up), file: name(), size: int(100, 2000) });
  steps.sort((a, b) => a.at - b.at);
  return { seed, ids, net: { codec: seed % 2 === 0, latencyMs: [...NORMAL_LATENCY], duplicateRate: 0, reorderRate: rand() < 0.3 ? 0.2 : 0 }, steps, minUp: 1, forgiveLost: true };
}
