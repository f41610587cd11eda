// A seeded schedule: the ring's first peers, the network's character (codec, latency,
// duplicates, reordering) and a list of steps (faults, membership changes, stores, requests),
// all drawn from one seed. The same seed always gives the same scenario; the runner (run.ts)
// plays it on the simulator and the shrinker removes steps from it.
//
// Rules it keeps
// - Episodes: a burst of faults, then a calm gap longer than the runner's quiet time, so the
//   invariants get checked between bursts (and once more at the end, after everything healed).
// - The faults stay within what the protocol claims to survive: per episode at most two
//   departures (kill or quit) and one pause, so with r = 4 successors and k = 3 copies no more
//   than r - 1 adjacent peers and k - 1 holders of a key fail before repair; at least three
//   peers stay up; a partition, a pause, a loss or a delay always comes with its end (same
//   `group`), and the shrinker removes the pair together. A peer cut off by a partition does
//   not quit (it could hand its keys to nobody: that is a crash, and kills are counted as such).
// - Steps name their peers and files, so a step removed by the shrinker leaves the others as
//   they were; a step whose peer is not there when it comes is skipped by the runner.
import { mulberry32 } from '../util/prng.js';

export type Step =
  | { at: number; kind: 'kill'; id: number }
  | { at: number; kind: 'quit'; id: number }
  | { at: number; kind: 'join'; id: number; via: number }
  | { at: number; kind: 'pause'; id: number; group: number }
  | { at: number; kind: 'resume'; id: number; group: number }
  /** Cut `side` off from every other address until the heal of the same group. */
  | { at: number; kind: 'partition'; side: number[]; group: number }
  | { at: number; kind: 'heal'; group: number }
  /** Datagram loss rate from now until the loss step of the same group with rate 0. */
  | { at: number; kind: 'loss'; rate: number; group: number }
  /** One-way latency range from now until the delay step of the same group back to normal. */
  | { at: number; kind: 'delay'; min: number; max: number; group: number }
  | { at: number; kind: 'store'; id: number; file: string; size: number }
  | { at: number; kind: 'request'; id: number; file: string };

export type StepKind = Step['kind'];

export interface NetCharacter {
  /** Every message through the wire codec (off for part of the sweep: faster). */
  codec: boolean;
  latencyMs: [number, number];
  duplicateRate: number;
  reorderRate: number;
}

export interface Scenario {
  seed: number;
  /** Ids of the peers the ring starts with. */
  ids: number[];
  net: NetCharacter;
  steps: Step[];
  /** Fewest peers a departure may leave up (default MIN_UP). */
  minUp?: number;
  /** The settle bound of this kind of schedule, when it needs its own (long partitions). */
  settleMs?: number;
  /**
   * The schedule may crash every holder of a file (k or more kills at once, as the joins profile
   * does in rings of three): such a file is no longer owed. Otherwise a file once found on its
   * right peers is owed for good, and losing it fails the seed.
   */
  forgiveLost?: boolean;
}

export interface ScenarioOptions {
  /** Peers the ring starts with (3..64). */
  peers: number;
  /** Bursts of faults (default 3). */
  episodes?: number;
  /** The runner's quiet time; calm gaps are made longer than this. */
  quietMs: number;
}

/**
 * The scenario names its peers by slot, 0..255: Peer s in the specification's 8-bit space (file
 * NNNN has key NNNN mod 256); run.ts gives each slot an address and its id in larger spaces.
 */
export const ID_COUNT = 256;
/** When the first steps come (the ring's first pings have gone round). */
export const START_MS = 2_000;
/** A burst of faults spreads over this long. */
const BURST_MS = 4_000;
/** A pause, partition, loss or delay lasts this long at most. */
const MAX_OUTAGE_MS = 8_000;
const MIN_OUTAGE_MS = 300;
/** At least this many peers stay up (not killed, quit or paused); the runner holds to it too. */
export const MIN_UP = 3;
export const DEFAULT_EPISODES = 3;
/** Latency every seed starts from and returns to after a delay. */
export const NORMAL_LATENCY: [number, number] = [1, 10];

/** Deterministic bytes of a stored file: what every copy of it must equal. */
export function contentOf(file: string, size: number): Uint8Array {
  let h = 2166136261;
  for (let i = 0; i < file.length; i++) h = Math.imul(h ^ file.charCodeAt(i), 16777619);
  const rand = mulberry32(h >>> 0);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

export function generate(seed: number, opts: ScenarioOptions): Scenario {
  const rand = mulberry32((seed ^ 0x9e3779b9) >>> 0);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const shuffled = Array.from({ length: ID_COUNT }, (_, i) => i);
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const ids = shuffled.slice(0, opts.peers).sort((a, b) => a - b);
  const net: NetCharacter = {
    codec: seed % 2 === 0,
    latencyMs: [...NORMAL_LATENCY],
    duplicateRate: rand() < 0.3 ? 0.02 : 0,
    reorderRate: rand() < 0.3 ? 0.2 : 0,
  };

  const steps: Step[] = [];
  const up = new Set(ids); // in the ring and not paused (as planned)
  const ever = new Set(ids);
  const files: string[] = [];
  const usedNames = new Set<string>();
  let group = 0;
  const newFile = (): string => {
    for (;;) {
      const name = String(int(0, 9999)).padStart(4, '0');
      if (!usedNames.has(name)) {
        usedNames.add(name);
        return name;
      }
    }
  };
  const store = (at: number) => {
    const file = newFile();
    files.push(file);
    steps.push({ at, kind: 'store', id: pick([...up]), file, size: int(100, 4000) });
  };

  // stores in the calm start: the first checkpoint must find them on k peers
  let t = START_MS;
  for (let i = int(2, 4); i > 0; i--) store((t += 100));
  const episodes = opts.episodes ?? DEFAULT_EPISODES;
  for (let e = 0; e < episodes; e++) {
    t += opts.quietMs + 2_000;
    const start = t;
    const times = Array.from({ length: int(2, 6) }, () => start + int(0, BURST_MS)).sort((a, b) => a - b);
    let departures = 0;
    let pauses = 0;
    let partitions = 0;
    let losses = 0;
    let delays = 0;
    let joins = 0;
    const ends: Step[] = [];
    let applied = 0;
    const paused = new Set<number>();
    /** Peers on the cut side of a partition, until its heal. */
    let cut = new Set<number>();
    let healAt = Infinity;
    let end = start;
    for (const at of times) {
      // restorations due before this step happen first (the planned membership follows them)
      ends.sort((a, b) => a.at - b.at);
      for (; applied < ends.length && ends[applied]!.at <= at; applied++) {
        const r = ends[applied]!;
        if (r.kind === 'resume') {
          paused.delete(r.id);
          up.add(r.id);
        }
      }
      if (at >= healAt) cut = new Set();
      const kinds: StepKind[] = ['store', 'request'];
      if (departures < 2 && up.size > MIN_UP) kinds.push('kill', 'kill', 'quit');
      if (pauses < 1 && up.size > MIN_UP) kinds.push('pause', 'pause');
      if (joins < 2 && ever.size < ID_COUNT) kinds.push('join', 'join');
      if (partitions < 1 && up.size >= 4) kinds.push('partition', 'partition');
      if (losses < 1) kinds.push('loss');
      if (delays < 1) kinds.push('delay');
      const kind = pick(kinds);
      const outage = int(MIN_OUTAGE_MS, MAX_OUTAGE_MS);
      switch (kind) {
        case 'store':
          store(at);
          break;
        case 'request':
          if (files.length) steps.push({ at, kind: 'request', id: pick([...up]), file: pick(files) });
          break;
        case 'kill':
        case 'quit': {
          const id = pick([...up].filter((x) => kind === 'kill' || !cut.has(x)));
          up.delete(id);
          departures++;
          steps.push({ at, kind, id });
          break;
        }
        case 'pause': {
          const id = pick([...up]);
          up.delete(id);
          paused.add(id);
          pauses++;
          const g = ++group;
          steps.push({ at, kind: 'pause', id, group: g });
          ends.push({ at: at + outage, kind: 'resume', id, group: g });
          break;
        }
        case 'join': {
          // sometimes a peer that died comes back (a restarted process: same address, same files)
          const gone = [...ever].filter((x) => !up.has(x) && !paused.has(x));
          const fresh = shuffled.find((x) => !ever.has(x));
          const id = gone.length && (rand() < 0.3 || fresh === undefined) ? pick(gone) : fresh!;
          ever.add(id);
          up.add(id);
          joins++;
          steps.push({ at, kind: 'join', id, via: pick([...up].filter((x) => x !== id)) });
          break;
        }
        case 'partition': {
          const members = [...up].sort((a, b) => a - b);
          const size = int(1, Math.floor(members.length / 2));
          // an arc of the ring or a scattered set
          let side: number[];
          if (rand() < 0.5) {
            const from = int(0, members.length - 1);
            side = Array.from({ length: size }, (_, i) => members[(from + i) % members.length]!);
          } else {
            side = [...members].sort(() => rand() - 0.5).slice(0, size);
          }
          partitions++;
          const g = ++group;
          steps.push({ at, kind: 'partition', side: side.sort((a, b) => a - b), group: g });
          ends.push({ at: at + outage, kind: 'heal', group: g });
          cut = new Set(side);
          healAt = at + outage;
          break;
        }
        case 'loss': {
          losses++;
          const g = ++group;
          steps.push({ at, kind: 'loss', rate: pick([0.05, 0.1, 0.2, 0.5]), group: g });
          ends.push({ at: at + outage, kind: 'loss', rate: 0, group: g });
          break;
        }
        case 'delay': {
          delays++;
          const g = ++group;
          const max = pick([50, 200, 800, 2000]);
          steps.push({ at, kind: 'delay', min: int(1, max / 2), max, group: g });
          ends.push({ at: at + outage, kind: 'delay', min: NORMAL_LATENCY[0], max: NORMAL_LATENCY[1], group: g });
          break;
        }
      }
      end = Math.max(end, at);
    }
    ends.forEach((r, i) => {
      steps.push(r);
      if (i >= applied && r.kind === 'resume') up.add(r.id);
      end = Math.max(end, r.at);
    });
    t = end;
  }
  // one store in the calm after the last burst: the final checkpoint owes it
  store(t + 500);
  steps.sort((a, b) => a.at - b.at);
  return { seed, ids, net, steps };
}

/** Steps that stand or fall together (a fault and its end): what the shrinker removes. */
export function units(steps: readonly Step[]): number[][] {
  const byGroup = new Map<number, number[]>();
  const out: number[][] = [];
  steps.forEach((s, i) => {
    if ('group' in s) {
      let u = byGroup.get(s.group);
      if (!u) {
        u = [];
        byGroup.set(s.group, u);
        out.push(u);
      }
      u.push(i);
    } else {
      out.push([i]);
    }
  });
  return out;
}

/** One line per step, as the shrunk schedule prints. */
export function formatStep(s: Step): string {
  const t = `${(s.at / 1000).toFixed(3)}s`.padStart(9);
  switch (s.kind) {
    case 'kill':
    case 'quit':
      return `${t} ${s.kind} ${s.id}`;
    case 'join':
      return `${t} join ${s.id} via ${s.via}`;
    case 'pause':
    case 'resume':
      return `${t} ${s.kind} ${s.id}`;
    case 'partition':
      return `${t} partition ${s.side.join(',')} | rest`;
    case 'heal':
      return `${t} heal`;
    case 'loss':
      return `${t} loss ${s.rate}`;
    case 'delay':
      return `${t} delay ${s.min}-${s.max} ms`;
    case 'store':
      return `${t} store ${s.file} at ${s.id} (${s.size} bytes)`;
    case 'request':
      return `${t} request ${s.file} at ${s.id}`;
  }
}
