// BENCH=multi (issue 16): one ring of MULTI_PEERS peers (4096) spread over MULTI_PROCESSES fresh
// processes (4) on 127.0.0.1, each its slice (bench/multi-child.ts): 32-bit ids, fingers, a ping
// every MULTI_PING_MS (`cdht node`'s default, 5 s). After MULTI_WARMUP_MS every process measures
// MULTI_IDLE_MS at rest at once, then asks MULTI_LOOKUPS lookups, all processes at once, from its
// own random peers to random keys (owner checked against the whole ring). Prints a markdown table
// with the date, the machine and its load, writes it to bench/results/multi-N.md (raw: multi-N.json);
// with MULTI_README=1 also into README.md between the multi markers. A watchdog (MULTI_MAX_MS)
// ends the run with what it measured; the children go with the parent.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PING_INTERVAL_S } from '../src/config/settings.js';
import { freePortSpan } from '../test/helpers/ports.js';
import type { MultiCommand, MultiPlan, MultiReport } from './multi-child.js';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const PEERS = num('MULTI_PEERS', 4096);
const PROCESSES = num('MULTI_PROCESSES', 4);
const PING_MS = num('MULTI_PING_MS', DEFAULT_PING_INTERVAL_S * 1000);
/** Past the start-up burst (every peer's fingers checked at full pace at first) at 1024 peers a process. */
const WARMUP_MS = num('MULTI_WARMUP_MS', 60_000);
const IDLE_MS = num('MULTI_IDLE_MS', 20_000);
/** Lookups asked by each process. */
const LOOKUPS = num('MULTI_LOOKUPS', 250);
const LOOKUP_STAGE_MAX_MS = num('MULTI_STAGE_MAX_MS', 120_000);
/** Fingers seeded from the true ring, as the successors are (MULTI_SEED_FINGERS=0: learned by fix_fingers only). */
const SEED_FINGERS = process.env.MULTI_SEED_FINGERS !== '0';
/** Outbound links a peer keeps open (MULTI_LINKS; unset: the testnet's own bound, 6 above 300 peers a process). */
const LINKS = process.env.MULTI_LINKS === undefined ? undefined : Number(process.env.MULTI_LINKS);
/** The whole run, at most; then it reports what it has. */
const MAX_MS = num('MULTI_MAX_MS', 600_000);
/** Building a slice, at most (every peer up, or the child reports why not). */
const START_MAX_MS = 180_000;

/** One pair of files a ring size, so a 2048-peer run does not overwrite the 4096-peer one. */
const RESULTS = fileURLToPath(new URL(`../../bench/results/multi-${PEERS}.md`, import.meta.url));
const RAW = fileURLToPath(new URL(`../../bench/results/multi-${PEERS}.json`, import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const BEGIN = '<!-- multi:begin -->';
const END = '<!-- multi:end -->';

export interface MultiResult {
  at: string;
  peers: number;
  processes: number;
  pingMs: number;
  warmupMs: number;
  seedFingers: boolean;
  /** Load averages (1, 5, 15 min) when the run began, and cores. */
  load: number[];
  cores: number;
  partial: boolean;
  errors: string[];
  up?: Extract<MultiReport, { kind: 'up' }>[];
  idle?: Extract<MultiReport, { kind: 'idle' }>[];
  lookups?: number;
  lookupP50Ms?: number;
  lookupP99Ms?: number;
  lookupMaxMs?: number;
  unanswered?: number;
  wrongOwner?: number;
}

/** A slice's process, spoken to over IPC. */
class Slice {
  readonly proc: ChildProcess;
  private readonly inbox: MultiReport[] = [];
  private waiter: ((r: MultiReport) => void) | undefined;
  exited: string | undefined;

  constructor(readonly index: number) {
    this.proc = fork(fileURLToPath(new URL('./multi-child.js', import.meta.url)), [], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (r: MultiReport) => {
      if (this.waiter) this.waiter(r);
      else this.inbox.push(r);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = `process ${index} exited (${signal ?? code})`;
      this.waiter?.({ kind: 'failed', index, error: this.exited });
    });
  }

  /** Sends `c` and waits for its report, at most `ms`. */
  ask(c: MultiCommand, ms: number): Promise<MultiReport> {
    if (this.exited) return Promise.resolve({ kind: 'failed', index: this.index, error: this.exited });
    this.proc.send(c);
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done({ kind: 'failed', index: this.index, error: `process ${this.index}: no answer to ${c.kind} within ${ms / 1000} s` }), ms);
      const done = (r: MultiReport) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(r);
      };
      this.waiter = done;
    });
  }

  stop(): Promise<void> {
    if (this.exited) return Promise.resolve();
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    const kill = setTimeout(() => this.proc.kill('SIGKILL'), 30_000);
    this.proc.send({ kind: 'exit' } satisfies MultiCommand);
    return gone.finally(() => clearTimeout(kill));
  }
}

const quantile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** All slices' answers to one stage; failures are kept in `out.errors` and end the run. */
async function stage<K extends MultiReport['kind']>(slices: Slice[], c: MultiCommand | ((s: Slice) => MultiCommand), ms: number, kind: K, out: MultiResult): Promise<Extract<MultiReport, { kind: K }>[] | undefined> {
  const got = await Promise.all(slices.map((s) => s.ask(typeof c === 'function' ? c(s) : c, ms)));
  const bad = got.filter((r) => r.kind !== kind);
  for (const r of bad) out.errors.push(r.kind === 'failed' ? r.error : `process ${r.index}: ${r.kind} instead of ${kind}`);
  return bad.length ? undefined : (got as Extract<MultiReport, { kind: K }>[]);
}

async function measure(out: MultiResult, slices: Slice[]): Promise<void> {
  const basePort = await freePortSpan(PEERS);
  const plan = (index: number): MultiPlan => ({ index, processes: PROCESSES, peers: PEERS, basePort, pingIntervalMs: PING_MS, seedFingers: SEED_FINGERS, ...(LINKS !== undefined ? { links: LINKS } : {}) });
  for (let i = 0; i < PROCESSES; i++) slices.push(new Slice(i));
  const up = await stage(slices, (s) => ({ kind: 'start', plan: plan(s.index) }), START_MAX_MS, 'up', out);
  if (!up) return;
  out.up = up;
  console.log(`  up: ${up.map((u) => `process ${u.index} ${u.peers} peers in ${u.buildS} s`).join(', ')}; warming up ${WARMUP_MS / 1000} s`);
  await sleep(WARMUP_MS);
  const idle = await stage(slices, { kind: 'idle', ms: IDLE_MS }, IDLE_MS + 60_000, 'idle', out);
  if (!idle) return;
  out.idle = idle;
  console.log(`  idle: ${JSON.stringify(idle)}`);
  const looked = await stage(slices, (s) => ({ kind: 'lookups', count: LOOKUPS, maxMs: LOOKUP_STAGE_MAX_MS, seed: 1 + s.index }), LOOKUP_STAGE_MAX_MS + 60_000, 'lookups', out);
  if (!looked) return;
  const ms = looked.flatMap((l) => l.ms).sort((a, b) => a - b);
  const missed = looked.reduce((a, l) => a + l.missed, 0);
  const wrong = looked.reduce((a, l) => a + l.wrong, 0);
  Object.assign(out, { lookups: ms.length + missed + wrong, lookupP50Ms: quantile(ms, 0.5), lookupP99Ms: quantile(ms, 0.99), lookupMaxMs: ms[ms.length - 1] ?? NaN, unanswered: missed, wrongOwner: wrong });
}

const fmt = (x: number | undefined, d: number) => (x !== undefined && Number.isFinite(x) ? x.toFixed(d) : 'n/a');
/** Per process figures as "a / b / c / d", in process order. */
const each = (r: MultiResult, f: (i: NonNullable<MultiResult['idle']>[number]) => number, d: number) => (r.idle ? [...r.idle].sort((a, b) => a.index - b.index).map((i) => fmt(f(i), d)).join(' / ') : 'n/a');

/** The markdown table of one run, dated, with the machine and its load. */
export function multiTable(r: MultiResult): string {
  const cpu = cpus();
  const rows: [string, string][] = [
    ['lookup p50 / p99 / max (ms)', `${fmt(r.lookupP50Ms, 2)} / ${fmt(r.lookupP99Ms, 2)} / ${fmt(r.lookupMaxMs, 1)}`],
    ['lookups unanswered / wrong owner', `${fmt(r.unanswered, 0)} / ${fmt(r.wrongOwner, 0)} of ${fmt(r.lookups, 0)}`],
    ['idle CPU a peer (ms/s), each process', each(r, (i) => i.cpuMsPerSPerPeer, 3)],
    ['idle datagrams / TCP writes a peer (/s), each process', each(r, (i) => i.datagramsPerSPerPeer, 2) + ' ; ' + each(r, (i) => i.tcpWritesPerSPerPeer, 2)],
    ['event-loop delay p99 at rest (ms), each process', each(r, (i) => i.loopDelayP99Ms, 1)],
    ['RSS a peer after GC (KiB), each process', each(r, (i) => i.rssKiBPerPeer, 0)],
    ['finger table median, each process', each(r, (i) => i.fingersMedian, 0)],
    ['slice up in (s), each process', r.up ? [...r.up].sort((a, b) => a.index - b.index).map((u) => fmt(u.buildS, 1)).join(' / ') : 'n/a'],
  ];
  const lines = [
    `| ${r.peers} peers in ${r.processes} processes, one ring | cdht fingers |`,
    '|---|---:|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
    `Measured ${r.at.slice(0, 16).replace('T', ' ')} UTC on ${cpu[0]?.model.trim() ?? 'an unknown CPU'} (${r.cores} cores, load average ${r.load.map((x) => x.toFixed(1)).join(' ')} at the start), Node ${process.version}, ${process.platform}: ` +
      `\`BENCH=multi npm run bench\`, loopback, ${r.processes} fresh processes of ${Math.round(r.peers / r.processes)} peers each (\`slice\` of one testnet), 32-bit ids, \`--routing fingers\`, ` +
      `a ping every ${r.pingMs / 1000} s${r.pingMs === DEFAULT_PING_INTERVAL_S * 1000 ? " (`cdht node`'s default)" : ''}, successors${r.seedFingers ? ' and fingers' : ''} seeded from the true ring, ${r.warmupMs / 1000} s of warm-up. ` +
      'Idle figures over a window at rest, all processes at once; then lookups one at a time in every process at once, from its random peers to random keys, answered when the owner is the true one of the whole ring.',
  ];
  if (r.partial || r.errors.length) lines.push('', `Incomplete: ${[...(r.partial ? ['stopped by its time limit'] : []), ...r.errors].join('; ')}.`);
  return `${lines.join('\n')}\n`;
}

function writeReadme(table: string): boolean {
  const text = readFileSync(README, 'utf8');
  const [a, b] = [text.indexOf(BEGIN), text.indexOf(END)];
  if (a < 0 || b < a) return false;
  writeFileSync(README, `${text.slice(0, a + BEGIN.length)}\n\n${table}\n${text.slice(b)}`);
  return true;
}

export async function multiBench(): Promise<void> {
  console.log(`One ring over processes: ${PEERS} peers in ${PROCESSES} processes, ping every ${PING_MS / 1000} s, warm-up ${WARMUP_MS / 1000} s`);
  const out: MultiResult = { at: new Date().toISOString(), peers: PEERS, processes: PROCESSES, pingMs: PING_MS, warmupMs: WARMUP_MS, seedFingers: SEED_FINGERS, load: loadavg(), cores: cpus().length, partial: false, errors: [] };
  const slices: Slice[] = [];
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<void>((r) => (timer = setTimeout(() => ((out.partial = true), r()), MAX_MS)));
  try {
    await Promise.race([measure(out, slices).catch((e: unknown) => void out.errors.push(e instanceof Error ? e.message : String(e))), watchdog]);
  } finally {
    clearTimeout(timer);
    await Promise.all(slices.map((s) => s.stop()));
  }
  const table = multiTable(out);
  console.log(`\n${table}`);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RAW, `${JSON.stringify(out, null, 1)}\n`);
  writeFileSync(RESULTS, table);
  console.log(`  written to ${RESULTS} (raw: ${RAW})`);
  if (process.env.MULTI_README === '1') console.log(writeReadme(table) ? `  and into ${README}` : `  README.md has no ${BEGIN} ... ${END} block: not changed`);
}
