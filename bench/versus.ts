// BENCH=versus (issue 16): cdht (fingers) and hyperdht side by side at VERSUS_PEERS peers, each
// ring in a fresh process of its own (bench/versus-child.ts), the two systems interleaved, medians
// of VERSUS_RUNS: lookups, joins, idle CPU and traffic, memory and event-loop delay per peer.
// Prints a markdown table with the date and the machine and writes it to bench/results/versus.md;
// with VERSUS_README=1 it also rewrites README.md's block between the versus markers, and with
// VERSUS_MERGE=1 it keeps the ring sizes it did not measure this time from bench/results/versus.json.
// Long (a minute or two a child, up to six at 1000 peers on a busy machine): it runs only when asked for.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { System, VersusResult } from './versus-child.js';

const PEERS = (process.env.VERSUS_PEERS ?? '64,256,1000').split(',').map(Number);
const RUNS = Number(process.env.VERSUS_RUNS ?? 3);
/** A child that overruns its own watchdog (VERSUS_CHILD_MAX_MS, 360 s) by this much is killed. */
const CHILD_KILL_AFTER_MS = Number(process.env.VERSUS_CHILD_MAX_MS ?? 360_000) + 60_000;
const SYSTEMS: readonly System[] = ['cdht', 'hyperdht'];
/** Where the table goes (from dist/bench/, the repository's own). */
const RESULTS = fileURLToPath(new URL('../../bench/results/versus.md', import.meta.url));
/** Every run's raw result; with VERSUS_MERGE=1 the sizes not measured this time are kept from it (e.g. 1000 peers run once, apart). */
const RAW = fileURLToPath(new URL('../../bench/results/versus.json', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const BEGIN = '<!-- versus:begin -->';
const END = '<!-- versus:end -->';

function runChild(system: System, peers: number): VersusResult {
  const script = fileURLToPath(new URL('./versus-child.js', import.meta.url));
  const r = spawnSync(process.execPath, ['--expose-gc', script, system, String(peers)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: CHILD_KILL_AFTER_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = (r.stdout ?? '').trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) return { system, peers, partial: true, error: `no result (exit ${r.status ?? r.signal}${r.error ? `, ${r.error.message}` : ''})` };
  return JSON.parse(line) as VersusResult;
}

/** The middle of the runs that measured `f` (the upper middle of an even count); NaN if none did. */
function median(runs: VersusResult[], f: (r: VersusResult) => number | undefined): number {
  const xs = runs.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  return xs.length ? xs[Math.floor(xs.length / 2)]! : NaN;
}

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** A child's result with when it was measured. */
type Stamped = VersusResult & { at?: string };

interface Row {
  label: string;
  cell: (runs: VersusResult[]) => string;
}

const ROWS: Row[] = [
  { label: 'lookup p50 / p99 (ms)', cell: (r) => `${fmt(median(r, (x) => x.lookupP50Ms), 2)} / ${fmt(median(r, (x) => x.lookupP99Ms), 2)}` },
  { label: 'lookups unanswered', cell: (r) => `${fmt(median(r, (x) => x.lookupsMissed), 0)} of ${fmt(median(r, (x) => x.lookups), 0)}` },
  { label: 'join p50 / p99 (ms)', cell: (r) => `${fmt(median(r, (x) => x.joinP50Ms), 1)} / ${fmt(median(r, (x) => x.joinP99Ms), 0)}` },
  { label: 'joins done within 15 s', cell: (r) => `${fmt(median(r, (x) => x.joinsDone), 0)} of ${fmt(median(r, (x) => x.joins), 0)}` },
  {
    label: 'hyperdht: a persistent node\'s join p50 / p99 (ms), done',
    cell: (r) =>
      r[0]!.system === 'cdht'
        ? 'as above'
        : `${fmt(median(r, (x) => x.memberJoinP50Ms), 0)} / ${fmt(median(r, (x) => x.memberJoinP99Ms), 0)}, ${fmt(median(r, (x) => x.memberJoinsDone), 0)} of ${fmt(median(r, (x) => x.memberJoins), 0)}`,
  },
  { label: 'routing table a peer, median (cdht: fingers)', cell: (r) => fmt(median(r, (x) => x.tableMedian), 0) },
  { label: 'idle CPU a peer (ms/s)', cell: (r) => fmt(median(r, (x) => x.idleCpuMsPerS), 3) },
  { label: 'idle datagrams a peer (/s)', cell: (r) => fmt(median(r, (x) => x.idleDatagramsPerS), 2) },
  { label: 'idle TCP writes a peer (/s)', cell: (r) => fmt(median(r, (x) => x.idleTcpWritesPerS), 2) },
  { label: 'RSS a peer after GC (KiB)', cell: (r) => fmt(median(r, (x) => x.rssKiB), 0) },
  { label: 'live heap a peer (KiB)', cell: (r) => fmt(median(r, (x) => x.heapKiB), 0) },
  { label: 'event-loop delay p99 at rest (ms)', cell: (r) => fmt(median(r, (x) => x.loopDelayP99Ms), 1) },
  { label: 'ring built in (s)', cell: (r) => fmt(median(r, (x) => x.buildS), 1) },
];

/** The markdown table of medians, cdht and hyperdht side by side for each ring size, dated, with the machine. */
export function versusTable(results: Stamped[], when = new Date()): string {
  const sizes = [...new Set(results.map((r) => r.peers))].sort((a, b) => a - b);
  const runsAt = sizes.map((n) => results.filter((r) => r.peers === n && r.system === 'cdht').length);
  const runs = runsAt.every((x) => x === runsAt[0])
    ? `medians of ${runsAt[0]} run${runsAt[0] === 1 ? '' : 's'}`
    : `runs per cell (the median where more than one): ${sizes.map((n, i) => `${runsAt[i]} at ${n} peers`).join(', ')}`;
  const days = [...new Set(results.map((r) => (r.at ?? when.toISOString()).slice(0, 10)))].sort();
  const pingS = Number(process.env.VERSUS_PING_MS ?? 1000) / 1000;
  const cols = sizes.flatMap((n) => SYSTEMS.map((s) => ({ n, s, runs: results.filter((r) => r.peers === n && r.system === s) })));
  const cpu = cpus();
  const partial = results.filter((r) => r.partial || r.error);
  const lines = [
    `| ${['per peer, one ring in one process', ...cols.map((c) => `${c.s === 'cdht' ? 'cdht fingers' : 'hyperdht'} ${c.n}`)].join(' | ')} |`,
    `|${['---', ...cols.map(() => '---:')].join('|')}|`,
    ...ROWS.map((row) => `| ${[row.label, ...cols.map((c) => (c.runs.length ? row.cell(c.runs) : 'n/a'))].join(' | ')} |`),
    '',
    `Measured ${days.length > 1 ? `${days[0]} to ${days[days.length - 1]}` : days[0]} on ${cpu[0]?.model.trim() ?? 'an unknown CPU'} (${cpu.length} cores), Node ${process.version}, ${process.platform}: ` +
      `\`BENCH=versus npm run bench\`, loopback, a fresh process per ring, cdht and hyperdht interleaved, ${runs}. ` +
      `cdht: 32-bit ids, \`--routing fingers\`, a ping every ${pingS} s${pingS === 1 ? " (the testnet's default)" : ''}, its defaults otherwise; ` +
      'hyperdht 6 through `@hyperswarm/testnet`. ' +
      'Lookups one at a time from random members to random keys (hyperdht: `findNode`, answered when it ends with replies; cdht: `peer.lookup`, answered when the owner is right). ' +
      'A join is a new peer through a random member until it is in the ring; hyperdht: a new node until `fullyBootstrapped()`, as its testnet\'s `createNode()` makes one (ephemeral) and, in the next row, a persistent one (a member others route through, like every cdht peer), half of the joins each. ' +
      'Idle figures over a quiet window after the warm-up; memory is what the ring added to the process after a GC, divided by N.',
  ];
  if (partial.length) lines.push('', `Incomplete runs: ${partial.map((r) => `${r.system} ${r.peers}${r.partial ? ' (stopped by its time limit)' : ''}${r.error ? `: ${r.error}` : ''}`).join('; ')}.`);
  return `${lines.join('\n')}\n`;
}

/** Rewrites README.md between the versus markers with `table`; false if the markers are missing. */
export function writeReadmeTable(table: string, path = README): boolean {
  const text = readFileSync(path, 'utf8');
  const [a, b] = [text.indexOf(BEGIN), text.indexOf(END)];
  if (a < 0 || b < a) return false;
  writeFileSync(path, `${text.slice(0, a + BEGIN.length)}\n\n${table}\n${text.slice(b)}`);
  return true;
}

export async function versusBench(): Promise<void> {
  console.log(`cdht vs hyperdht: ${PEERS.join(', ')} peers, ${RUNS} run${RUNS === 1 ? '' : 's'} each, a fresh process per ring`);
  const results: Stamped[] = [];
  for (const peers of PEERS) {
    for (let run = 0; run < RUNS; run++) {
      // interleaved, and each system goes first in every other run
      for (const system of run % 2 === 0 ? SYSTEMS : [...SYSTEMS].reverse()) {
        const t0 = performance.now();
        const r: Stamped = { ...runChild(system, peers), at: new Date().toISOString() };
        results.push(r);
        const took = ((performance.now() - t0) / 1000).toFixed(0);
        console.log(`  ${String(peers).padStart(4)} ${system.padEnd(8)} run ${run + 1} (${took} s): ${JSON.stringify(r)}`);
      }
    }
  }
  mkdirSync(dirname(RESULTS), { recursive: true });
  if (process.env.VERSUS_MERGE === '1' && existsSync(RAW)) {
    const earlier = JSON.parse(readFileSync(RAW, 'utf8')) as Stamped[];
    results.unshift(...earlier.filter((r) => !PEERS.includes(r.peers)));
  }
  writeFileSync(RAW, `${JSON.stringify(results, null, 1)}\n`);
  const table = versusTable(results);
  console.log(`\n${table}`);
  writeFileSync(RESULTS, table);
  console.log(`  written to ${RESULTS}`);
  if (process.env.VERSUS_README === '1') console.log(writeReadmeTable(table) ? `  and into ${README}` : `  README.md has no ${BEGIN} ... ${END} block: not changed`);
}

/** BENCH=versus-readme: the table again from the raw runs in bench/results/versus.json, into versus.md and README.md, without measuring. */
export function versusReadme(): void {
  const table = versusTable(JSON.parse(readFileSync(RAW, 'utf8')) as Stamped[]);
  writeFileSync(RESULTS, table);
  console.log(table);
  const ok = writeReadmeTable(table);
  console.log(ok ? `README.md's versus table rewritten from ${RAW}` : `README.md has no ${BEGIN} ... ${END} block: not changed`);
}
