// The seed sweep: runs seeds from..from+count-1 (spread over worker threads), collects the
// failures, shrinks each failing schedule and says how to replay it.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { IdSpace } from '../core/id-space.js';
import { defaultRouting } from '../core/config.js';
import { idSpace } from '../space.js';
import { CHECK_DEFAULTS, runScenario, slotContacts, type CheckOptions, type RunResult } from './run.js';
import { DEFAULT_EPISODES, formatStep, generate, units, type Scenario } from './scenario.js';
import { generateJoins, generatePartitions, type Profile } from './profiles.js';
import { shrink } from './shrink.js';

export interface SeedOptions extends CheckOptions {
  /** Only these steps of each scenario (indices), as a shrunk schedule's replay gives them. */
  steps?: readonly number[];
  /** Shrink a failing schedule (default true). */
  shrink?: boolean;
  /** The kind of schedule (default 'faults', the mix of scenario.ts). */
  profile?: Profile;
}

export interface SweepOptions extends SeedOptions {
  from: number;
  seeds: number;
  /** Worker threads (default: up to 2, the cores there are); 1 runs in this thread. */
  workers?: number;
  /** Called as each seed finishes (in no particular order across workers). */
  onSeed?: (r: SeedReport) => void;
}

export interface SeedFailure {
  seed: number;
  invariant: string;
  detail: string;
  /** Virtual time of the failure, in seconds. */
  atS: number;
  /** The command that replays this seed. */
  replay: string;
  /** The shortest schedule found that fails the same way: one step a line, and its replay. */
  shrunk?: { steps: string[]; replay: string; runs: number };
  /** Above 8 bits: the ids of the slots the schedule names its peers by ("22=41087052"), in slot order. */
  slots?: string[];
}

export interface SeedReport {
  seed: number;
  events: number;
  virtualMs: number;
  failure?: SeedFailure;
}

export interface SweepResult {
  seeds: number;
  events: number;
  virtualMs: number;
  wallMs: number;
  workers: number;
  failures: SeedFailure[];
}

/** The scenario of `seed` under these options (only the steps asked for, if any). */
export function scenarioOf(seed: number, o: SeedOptions): Scenario {
  const sc =
    o.profile === 'partitions'
      ? generatePartitions(seed, o.peers)
      : o.profile === 'joins'
        ? generateJoins(seed)
        : generate(seed, { peers: o.peers, quietMs: o.quietMs ?? CHECK_DEFAULTS.quietMs, ...(o.episodes !== undefined ? { episodes: o.episodes } : {}) });
  if (!o.steps) return sc;
  const keep = new Set(o.steps);
  return { ...sc, steps: sc.steps.filter((_, i) => keep.has(i)) };
}

/** `cdht check` words that replay `seed` with these options. */
export function replayCommand(seed: number, o: SeedOptions, steps?: readonly number[]): string {
  const words = ['cdht check --seeds 1', `--from ${seed}`, `--peers ${o.peers}`];
  if (o.episodes !== undefined && o.episodes !== DEFAULT_EPISODES) words.push(`--episodes ${o.episodes}`);
  if (o.quietMs !== undefined && o.quietMs !== CHECK_DEFAULTS.quietMs) words.push(`--quiet-ms ${o.quietMs}`);
  if (o.settleMs !== undefined && o.settleMs !== CHECK_DEFAULTS.settleMs) words.push(`--settle-ms ${o.settleMs}`);
  if (o.byzantine) words.push(`--byzantine ${o.byzantine}`);
  if (o.profile && o.profile !== 'faults') words.push(`--profile ${o.profile}`);
  words.push(...spaceWords(o));
  const kept = steps ?? o.steps;
  if (kept) words.push(`--steps ${kept.length ? kept.join(',') : 'none'}`);
  return words.join(' ');
}

/** The words that give the run's id space, routing and privacy (none for the 8-bit open ring's defaults). */
function spaceWords(o: SeedOptions): string[] {
  const bits = o.bits ?? CHECK_DEFAULTS.bits;
  const words = bits !== CHECK_DEFAULTS.bits ? [`--bits ${bits}`] : [];
  if (o.routing !== undefined && o.routing !== defaultRouting(idSpace(bits))) words.push(`--routing ${o.routing}`);
  if (o.secure) words.push('--secure');
  return words;
}

/**
 * Which id each slot of the scenario has: the schedule names peers by slot, the invariants by id
 * (at 8 bits the two are one). Every slot a step names is in the first ring or joins.
 */
function slotLegend(sc: Scenario, space: IdSpace): string[] {
  const slots = new Set([...sc.ids, ...sc.steps.flatMap((s) => (s.kind === 'join' ? [s.id] : []))]);
  const table = slotContacts(space);
  return [...slots].sort((a, b) => a - b).map((slot) => `${slot}=${space.format(table[slot]!.id)}`);
}

/** Runs one seed; a failure is shrunk (unless told not to) and comes with its replay commands. */
export async function checkSeed(seed: number, o: SeedOptions): Promise<SeedReport> {
  const sc = scenarioOf(seed, o);
  const r: RunResult = await runScenario(sc, o);
  const report: SeedReport = { seed, events: r.events, virtualMs: r.virtualMs };
  if (!r.failure) return report;
  const f = r.failure;
  const failure: SeedFailure = { seed, invariant: f.invariant, detail: f.detail, atS: f.at / 1000, replay: replayCommand(seed, o) };
  const space = idSpace(o.bits ?? CHECK_DEFAULTS.bits);
  if (!space.spec) failure.slots = slotLegend(sc, space);
  if (o.shrink !== false) {
    // indices are into the scenario as run (all steps, or those --steps kept)
    const full = scenarioOf(seed, { ...o, steps: undefined });
    const only = o.steps ? new Set(o.steps) : undefined;
    const base = full.steps.map((_, i) => i).filter((i) => !only || only.has(i));
    const fails = async (kept: number[]) => {
      const idx = kept.map((i) => base[i]!);
      const again = await runScenario({ ...full, steps: idx.map((i) => full.steps[i]!) }, o);
      return again.failure?.invariant === f.invariant;
    };
    const s = await shrink(units(sc.steps), fails);
    const kept = s.kept.map((i) => base[i]!);
    failure.shrunk = { steps: kept.map((i) => formatStep(full.steps[i]!)), replay: replayCommand(seed, o, kept), runs: s.runs };
  }
  report.failure = failure;
  return report;
}

/** Seeds of worker w out of n: every n-th one. */
function share(from: number, count: number, w: number, n: number): number[] {
  const out: number[] = [];
  for (let s = from + w; s < from + count; s += n) out.push(s);
  return out;
}

export async function sweep(o: SweepOptions): Promise<SweepResult> {
  const t0 = performance.now();
  const workers = Math.max(1, Math.min(o.workers ?? Math.min(2, availableParallelism()), o.seeds));
  const reports: SeedReport[] = [];
  const take = (r: SeedReport) => {
    reports.push(r);
    o.onSeed?.(r);
  };
  const { onSeed: _, ...plain } = o;
  if (workers === 1) {
    for (let s = o.from; s < o.from + o.seeds; s++) take(await checkSeed(s, plain));
  } else {
    await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { seeds: share(o.from, o.seeds, w, workers), opts: plain } });
          worker.on('message', (r: SeedReport) => take(r));
          worker.on('error', reject);
          // plain: a crashed worker is the checker's own failure, reported as it is
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`check worker ${w} exited with code ${code}`))));
        }),
      ),
    );
  }
  reports.sort((a, b) => a.seed - b.seed);
  return {
    seeds: reports.length,
    events: reports.reduce((n, r) => n + r.events, 0),
    virtualMs: reports.reduce((n, r) => n + r.virtualMs, 0),
    wallMs: performance.now() - t0,
    workers,
    failures: reports.flatMap((r) => (r.failure ? [r.failure] : [])),
  };
}
