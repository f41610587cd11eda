// BENCH=api: the library's put and get between two peers of a ring on real sockets (16-bit ids,
// API_PEERS peers in one process, names held away from the caller so the bytes cross the network),
// beside the console's Store and Request of the same bytes (done when the traces say so) and a
// plain Node TCP copy on loopback as the floor. 1 KiB (API_SMALL_OPS operations a run) and API_MIB
// MiB (API_BIG_OPS a run); every contender in a fresh process (bench/api-child.ts), interleaved,
// API_RUNS runs; the table gives medians over the runs of each run's p50, p99, MiB/s and peak RSS.
import { writeRandomFile } from './files.js';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiChildArgs, ApiChildReport, ApiPhase, Contender } from './api-child.js';

const RUNS = Number(process.env.API_RUNS ?? 5);
const BIG_MIB = Number(process.env.API_MIB ?? 64);
const SMALL_OPS = Number(process.env.API_SMALL_OPS ?? 200);
const BIG_OPS = Number(process.env.API_BIG_OPS ?? 3);
const PEERS = Number(process.env.API_PEERS ?? 5);
/** Copies a put waits for (the ring's k); 1 is the ring's default, as a Store (done once the owner has it). */
const REPLICAS = Number(process.env.API_K ?? 1);
/** One child (a ring, its warm-up and its operations) at most this long. */
const CHILD_TIMEOUT_MS = 600_000;
const CONTENDERS: readonly Contender[] = ['api', 'console', 'tcp'];
const LABELS: Record<string, string> = {
  'api put': 'put (library)',
  'api get': 'get (library)',
  'console store': 'Store (console)',
  'console request': 'Request (console)',
  'tcp copy': 'TCP copy (plain Node)',
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

function runChild(a: ApiChildArgs): Promise<ApiPhase[]> {
  const child = fork(fileURLToPath(new URL('./api-child.js', import.meta.url)), [JSON.stringify(a)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<ApiPhase[]>((resolve, reject) => {
    let report: ApiChildReport | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('message', (r: ApiChildReport) => (report = r));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (report?.ok) resolve(report.phases);
      else reject(new Error(`api bench child ${a.how} (${code ?? signal}): ${report && !report.ok ? report.error : 'no report'}`));
    });
  });
}


interface Row {
  op: string;
  size: string;
  p50: number[];
  p99: number[];
  mibs: number[];
  peakKiB: number[];
  addedKiB: number[];
}

export async function apiBench(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cdht-bench-api-'));
  const sizes = [
    { label: '1 KiB', path: join(root, 'small.bin'), bytes: 1024, ops: SMALL_OPS },
    { label: `${BIG_MIB} MiB`, path: join(root, 'big.bin'), bytes: BIG_MIB * 1024 * 1024, ops: BIG_OPS },
  ];
  writeFileSync(sizes[0]!.path, randomBytes(1024));
  writeRandomFile(sizes[1]!.path, BIG_MIB);
  const rows = new Map<string, Row>();
  const t0 = performance.now();
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const s of sizes) {
        for (const how of CONTENDERS) {
          const dir = join(root, `run-${run}-${s.bytes}-${how}`);
          mkdirSync(dir);
          try {
            const phases = await runChild({ how, src: s.path, iters: s.ops, dir, peers: PEERS, replicas: REPLICAS });
            for (const p of phases) {
              const key = `${how} ${p.op} ${s.label}`;
              const row = rows.get(key) ?? { op: LABELS[`${how} ${p.op}`] ?? `${how} ${p.op}`, size: s.label, p50: [], p99: [], mibs: [], peakKiB: [], addedKiB: [] };
              rows.set(key, row);
              row.p50.push(pct(p.ms, 50));
              row.p99.push(pct(p.ms, 99));
              row.mibs.push((s.bytes * p.ms.length) / (1024 * 1024) / (p.ms.reduce((a, b) => a + b, 0) / 1000));
              row.peakKiB.push(p.peakKiB);
              row.addedKiB.push(p.peakKiB - p.baseKiB);
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        }
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  console.log(
    `Data API vs console vs plain TCP: ${PEERS} peers on 127.0.0.1 (16-bit ids, k = ${REPLICAS}, one process), caller to a peer holding the name; ` +
      `1 KiB x ${SMALL_OPS} and ${BIG_MIB} MiB x ${BIG_OPS} a run, each contender a fresh process, medians of ${RUNS} interleaved runs (${secs} s):`,
  );
  console.log('  | operation | size | p50 ms | p99 ms | MiB/s | peak RSS (above the phase start) |');
  console.log('  |---|---|---|---|---|---|');
  const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
  const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
  for (const s of sizes) {
    for (const r of [...rows.values()].filter((x) => x.size === s.label)) {
      const rate = median(r.mibs);
      console.log(`  | ${r.op} | ${r.size} | ${ms(median(r.p50))} | ${ms(median(r.p99))} | ${rate < 10 ? rate.toFixed(2) : rate.toFixed(0)} | ${mib(median(r.peakKiB))} (+${mib(median(r.addedKiB))}) |`);
    }
  }
}
