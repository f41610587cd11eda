// `cdht check`: the seed sweep. Runs seeds on the fault simulator with real peers, checks every
// invariant (src/check), and exits 0 only if every seed kept every one. A failing seed prints
// the one command that replays it and the shortest schedule the shrinker found. The command is
// declared here without the simulator, which loads only when a sweep runs.
import { Command } from 'commander';
import { CHECK_DEFAULTS } from '../check/defaults.js';
import { defaultRouting, type RoutingName } from '../core/config.js';
import { DEFAULT_EPISODES } from '../check/scenario.js';
import { MAX_BITS, MIN_BITS } from '../core/id-space.js';
import type { SeedFailure, SweepResult } from '../check/sweep.js';
import { PROFILES, type Profile } from '../check/profiles.js';
import { ArgumentProblem, parseBits, parseIntegerIn, parseRouting } from './args.js';

const USAGE_EXIT_CODE = 2;
export const DEFAULT_SEEDS = 1000;
export const DEFAULT_CHECK_PEERS = 8;
const MAX_SEEDS = 10_000_000;
const MAX_PEERS = 64;
const MAX_WORKERS = 64;
const MAX_EPISODES = 20;
const MAX_WAIT_MS = 600_000;

export interface CheckPlan {
  seeds: number;
  from: number;
  peers: number;
  episodes: number;
  quietMs: number;
  settleMs: number;
  json: boolean;
  shrink: boolean;
  workers?: number;
  steps?: number[];
  /** Share of Byzantine peers (0: none). */
  byzantine: number;
  /** The kind of schedule: the fault mix, long partitions, or concurrent joins with failures. */
  profile: Profile;
  /** Id space size, how the peers route, and whether the ring is private. */
  bits: number;
  routing: RoutingName;
  secure: boolean;
}

interface RawCheckOptions {
  seeds: string;
  from: string;
  peers: string;
  episodes: string;
  quietMs: string;
  settleMs: string;
  json?: boolean;
  shrink?: boolean;
  workers?: string;
  steps?: string;
  byzantine?: string;
  profile?: string;
  bits?: string;
  routing?: string;
  secure?: boolean;
}

/** At most half the ring may be Byzantine: the honest peers must still hold every key's copies. */
const MAX_BYZANTINE = 0.5;

const CHECK_HELP = `
Each seed makes a ring of --peers peers on the simulator and a schedule of faults (kills, quits,
joins, pauses, partitions that heal, datagram loss, delay, duplicates, reordering) with stores and
requests, then checks at every quiet point: successor lists and predecessors are the true ring, no
peer is alone, one owner per key, every stored file on its owner and next k - 1 live peers, every
Request answered; and at every step, that no file's bytes ever change.

With --byzantine F, that share of the peers are Byzantine: beside each, a forger offers names with
other bytes, pushes copies under guessed ids, asks for files outside the store, and sends stores,
requests and joins in other peers' names. Then also: no byte a peer keeps outside its store is ever
sent, and every Request gets exactly the bytes that were stored.

Examples:
  cdht check --seeds 1000                  the sweep CI runs
  cdht check --seeds 1000 --byzantine 0.25 a quarter of the peers forge
  cdht check --seeds 100 --profile partitions   cut in two for 1 minute to an hour, then healed
  cdht check --seeds 1000 --profile joins   up to 5 joining at once while up to 3 are killed
  cdht check --seeds 200 --bits 32        32-bit ids from the peers' addresses, Chord's fingers
  cdht check --bits 16 --routing successor 16-bit ids, the successor walk
  cdht check --bits 160 --secure           a private ring (stand-in certificates on the simulator)
  cdht check --seeds 1 --from 4711         replay one seed
  cdht check --seeds 1 --from 4711 --steps 2,5,9   replay a shrunk schedule`;

export function checkPlan(o: RawCheckOptions): CheckPlan {
  const seeds = parseIntegerIn('--seeds', o.seeds, 1, MAX_SEEDS);
  const from = parseIntegerIn('--from', o.from, 0, 2 ** 32 - 1 - seeds);
  const peers = parseIntegerIn('--peers', o.peers, 3, MAX_PEERS);
  const episodes = parseIntegerIn('--episodes', o.episodes, 0, MAX_EPISODES);
  const quietMs = parseIntegerIn('--quiet-ms', o.quietMs, 0, MAX_WAIT_MS);
  const settleMs = parseIntegerIn('--settle-ms', o.settleMs, 0, MAX_WAIT_MS);
  const workers = o.workers === undefined ? undefined : parseIntegerIn('--workers', o.workers, 1, MAX_WORKERS);
  let steps: number[] | undefined;
  if (o.steps !== undefined) {
    if (o.steps === 'none') steps = [];
    else if (!/^\d+(,\d+)*$/.test(o.steps)) throw new ArgumentProblem(`--steps must be step numbers separated by commas, e.g. 2,5,9, or none (got '${o.steps}')`);
    else steps = o.steps.split(',').map(Number);
  }
  let byzantine = 0;
  if (o.byzantine !== undefined) {
    byzantine = Number(o.byzantine);
    if (!/^(0|0?\.\d+|1)$/.test(o.byzantine.trim()) || !(byzantine >= 0 && byzantine <= MAX_BYZANTINE)) {
      throw new ArgumentProblem(`--byzantine must be a share of the peers from 0 to ${MAX_BYZANTINE}, e.g. 0.25 (got '${o.byzantine}')`);
    }
  }
  const space = parseBits(o.bits);
  const routing = parseRouting(o.routing) ?? defaultRouting(space);
  // the forgers spell names and ids the 8-bit way
  if (byzantine > 0 && !space.spec) throw new ArgumentProblem(`--byzantine runs in the 8-bit space only (got --bits ${space.bits})`);
  const profile = (o.profile ?? 'faults') as Profile;
  if (!PROFILES.includes(profile)) throw new ArgumentProblem(`--profile must be one of ${PROFILES.join(', ')} (got '${o.profile}')`);
  if (profile !== 'faults' && byzantine > 0) throw new ArgumentProblem(`--byzantine goes with the faults profile only (got --profile ${profile})`);
  const where = { bits: space.bits, routing, secure: !!o.secure };
  return { seeds, from, peers, episodes, quietMs, settleMs, json: !!o.json, shrink: o.shrink !== false, byzantine, profile, ...where, ...(workers !== undefined ? { workers } : {}), ...(steps ? { steps } : {}) };
}

export function addCheckCommand(program: Command, name: string, onCheck: (plan: CheckPlan) => void): void {
  const cmd = program
    .command('check')
    .description('prove the protocol on the fault simulator: run seeds, check every invariant, shrink what fails')
    .option('--seeds <N>', 'how many seeds to run', String(DEFAULT_SEEDS))
    .option('--from <S>', 'the first seed', '1')
    .option('--peers <P>', `peers the ring of each seed starts with (3..${MAX_PEERS})`, String(DEFAULT_CHECK_PEERS))
    .option('--episodes <N>', 'bursts of faults per seed', String(DEFAULT_EPISODES))
    .option('--quiet-ms <MS>', 'virtual time without a step before the invariants are checked', String(CHECK_DEFAULTS.quietMs))
    .option('--settle-ms <MS>', 'virtual time after the last step by which the ring must be right', String(CHECK_DEFAULTS.settleMs))
    .option('--steps <LIST>', 'run only these steps of each schedule (a shrunk schedule\'s replay gives them)')
    .option('--bits <B>', `id space size in bits, ${MIN_BITS} to ${MAX_BITS} (default 8; above, each peer's id is its address's)`)
    .option('--routing <R>', 'successor, shortcuts or fingers (default: a peer\'s own, successor at 8 bits, fingers above)')
    .option('--secure', 'a private ring: each peer holds the simulator\'s stand-in certificate for its id')
    .option('--profile <P>', `the kind of schedule: ${PROFILES.join(', ')} (long partitions; concurrent joins with failures in rings of 1 to 8)`, 'faults')
    .option('--byzantine <F>', `share of the peers that forge messages and copies (0 to ${MAX_BYZANTINE})`)
    .option('--workers <N>', 'worker threads (default: up to 2, the cores there are)')
    .option('--no-shrink', 'do not shrink failing schedules')
    .option('--json', 'print one JSON object instead of text')
    .addHelpText('after', CHECK_HELP)
    .showHelpAfterError(`Usage: ${name} check [--seeds N] [--from S] [--peers P] [--bits B] [--routing R] [--json]\nRun '${name} check --help' for the options.`)
    .allowExcessArguments();
  cmd.action((_opts: unknown, c: Command) => {
    try {
      if (c.args.length) throw new ArgumentProblem(`unexpected argument ${c.args.map((a) => `'${a}'`).join(' ')} (check takes options only)`);
      onCheck(checkPlan(c.opts<RawCheckOptions>()));
    } catch (err) {
      if (err instanceof ArgumentProblem) c.error(`error: ${err.message}`, { exitCode: USAGE_EXIT_CODE, code: 'cdht.badArgument' });
      throw err;
    }
  });
}

const n = (x: number) => x.toLocaleString('en-US');

function summary(r: SweepResult): string {
  const secs = r.wallMs / 1000;
  const verdict = r.failures.length === 0 ? 'every invariant held' : `${r.failures.length} seed${r.failures.length > 1 ? 's' : ''} failed`;
  return (
    `cdht check: ${n(r.seeds)} seed${r.seeds > 1 ? 's' : ''}, ${n(r.events)} simulated events in ${secs.toFixed(1)} s ` +
    `(${n(Math.round(r.events / Math.max(secs, 1e-3)))} events/s, ${(r.virtualMs / 1000 / Math.max(secs, 1e-3)).toFixed(0)}x real time, ${r.workers} worker${r.workers > 1 ? 's' : ''}): ${verdict}`
  );
}

function describe(f: SeedFailure): string[] {
  const out = [`FAIL seed ${f.seed}: ${f.invariant}: ${f.detail} (at ${f.atS.toFixed(3)} s virtual)`, `  replay: ${f.replay}`];
  if (f.slots) out.push(`  the schedule's slots and their ids: ${f.slots.join(' ')}`);
  if (f.shrunk) {
    out.push(`  shortest schedule found (${f.shrunk.steps.length} step${f.shrunk.steps.length === 1 ? '' : 's'}, ${f.shrunk.runs} runs), replay: ${f.shrunk.replay}`);
    for (const s of f.shrunk.steps) out.push(`    ${s}`);
  }
  return out;
}

export async function runCheck(plan: CheckPlan, write: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  // the simulator and the peers load only for a sweep: the command's declaration above stays light
  const { sweep } = await import('../check/sweep.js');
  const r = await sweep({
    from: plan.from,
    seeds: plan.seeds,
    peers: plan.peers,
    episodes: plan.episodes,
    quietMs: plan.quietMs,
    settleMs: plan.settleMs,
    shrink: plan.shrink,
    bits: plan.bits,
    routing: plan.routing,
    ...(plan.secure ? { secure: true } : {}),
    ...(plan.byzantine > 0 ? { byzantine: plan.byzantine } : {}),
    ...(plan.profile !== 'faults' ? { profile: plan.profile } : {}),
    ...(plan.workers !== undefined ? { workers: plan.workers } : {}),
    ...(plan.steps ? { steps: plan.steps } : {}),
    ...(plan.json ? {} : { onSeed: (s) => s.failure && write(`${describe(s.failure).join('\n')}\n`) }),
  });
  if (plan.json) {
    const failures = r.failures.map((f) => ({ seed: f.seed, invariant: f.invariant, detail: f.detail, atS: f.atS, replay: f.replay, shrunk: f.shrunk ?? null, ...(f.slots ? { slots: f.slots } : {}) }));
    write(`${JSON.stringify({ seeds: r.seeds, events: r.events, eventsPerSecond: Math.round(r.events / Math.max(r.wallMs / 1000, 1e-3)), wallMs: Math.round(r.wallMs), virtualMs: r.virtualMs, workers: r.workers, failures })}\n`);
  } else {
    write(`${summary(r)}\n`);
  }
  return r.failures.length === 0 ? 0 : 1;
}
