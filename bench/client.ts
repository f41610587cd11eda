// BENCH=client: a client without a peer (connect() to a member's gateway over HTTP) against the
// member's own library, in a ring of CLIENT_PEERS (default 256) in one process on 127.0.0.1
// (16-bit ids, settled, k = 3). CLIENT_VALUES names of 1 KiB are put through the library first;
// then CLIENT_GETS of each operation, interleaved: the client's get, the member's getBuffer (no
// HTTP), and the stat of each (the gateway's GET is a stat, then a get); hops from the client's
// lookup of each name. Routing by fingers and, as the baseline in the same run, by the successor
// walk (CLIENT_ROUTING picks); each ring in a fresh process, CLIENT_RUNS runs, the table gives
// medians over the runs. A ring that is not healthy at this size (stale successors or a failed
// put) is tried again at half the size, down to MIN_PEERS, and the table says which size it got.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientChildArgs, ClientChildReport, ClientChildResult, Routing } from './client-child.js';

const PEERS = Number(process.env.CLIENT_PEERS ?? 256);
const GETS = Number(process.env.CLIENT_GETS ?? 500);
const VALUES = Number(process.env.CLIENT_VALUES ?? 100);
const RUNS = Number(process.env.CLIENT_RUNS ?? 3);
const ROUTINGS = (process.env.CLIENT_ROUTING ?? 'fingers,successor').split(',') as Routing[];
const REPLICAS = 3;
/** 256 peers' pings in one process on 2 cores: a ping every 5 s keeps the loop free for the gets. */
const PING_INTERVAL_MS = 5000;
/** The smallest ring the fallback tries. */
const MIN_PEERS = 16;
/** One child (ring, puts, gets) at most this long. */
const CHILD_TIMEOUT_MS = 600_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;

function runChild(a: ClientChildArgs): Promise<ClientChildResult> {
  const child = fork(fileURLToPath(new URL('./client-child.js', import.meta.url)), [JSON.stringify(a)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let report: ClientChildReport | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('message', (r: ClientChildReport) => (report = r));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (report?.ok) resolve(report.result);
      else reject(new Error(`client bench child ${a.routing} x ${a.peers} (${code ?? signal}): ${report && !report.ok ? report.error : 'no report'}`));
    });
  });
}

const CONTENDERS = [
  { key: 'clientGet', label: 'get, client through the gateway (HTTP)' },
  { key: 'memberGet', label: "get, the member's own library (getBuffer)" },
  { key: 'clientStat', label: 'stat, client through the gateway' },
  { key: 'memberStat', label: "stat, the member's own library" },
] as const;

interface Row {
  p50: number[];
  p99: number[];
}

/** "256", or "254 to 256" when an address hash collision left a peer out of some ring. */
function peersText(xs: number[]): string {
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  return lo === hi ? String(lo) : `${lo} to ${hi}`;
}

export async function clientBench(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cdht-bench-client-'));
  const t0 = performance.now();
  const rows = new Map<string, Row>();
  const hopRows = new Map<Routing, { median: number[]; mean: number[] }>();
  let peers = PEERS;
  const actual: number[] = [];
  const notes: string[] = [];
  try {
    // bounded: an unhealthy ring halves the size and starts the runs again, down to MIN_PEERS
    sizes: for (;;) {
      for (let run = 0; run < RUNS; run++) {
        for (const routing of ROUTINGS) {
          const dir = join(root, `run-${run}-${routing}-${peers}`);
          mkdirSync(dir);
          let r: ClientChildResult;
          try {
            r = await runChild({ peers, routing, values: VALUES, gets: GETS, replicas: REPLICAS, pingIntervalMs: PING_INTERVAL_MS, dir });
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
          if (r.unhealthy) {
            notes.push(`${peers} peers (${routing}, run ${run + 1}) not healthy: ${r.unhealthy}`);
            if (peers / 2 < MIN_PEERS) throw new Error(`no healthy ring down to ${MIN_PEERS} peers: ${notes.join('; ')}`);
            peers = Math.floor(peers / 2);
            rows.clear();
            actual.length = 0;
            hopRows.clear();
            continue sizes;
          }
          actual.push(r.peers);
          console.log(`  run ${run + 1} ${routing}: ${r.peers} peers up in ${(r.startMs / 1000).toFixed(1)} s, ${VALUES} of ${VALUES} puts at ${REPLICAS} copies in ${(r.putMs / 1000).toFixed(1)} s, no stale successor before or after`);
          for (const c of CONTENDERS) {
            const key = `${routing} ${c.key}`;
            const row = rows.get(key) ?? { p50: [], p99: [] };
            rows.set(key, row);
            row.p50.push(pct(r.ms[c.key], 50));
            row.p99.push(pct(r.ms[c.key], 99));
          }
          const h = hopRows.get(routing) ?? { median: [], mean: [] };
          hopRows.set(routing, h);
          h.median.push(median(r.hops));
          h.mean.push(r.hops.reduce((a, b) => a + b, 0) / r.hops.length);
        }
      }
      break;
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  for (const n of notes) console.log(`  ${n}`);
  console.log(
    `Client without a peer vs the member's library: ${peersText(actual)} peers on 127.0.0.1 (16-bit ids, settled, k = ${REPLICAS}, ping every ${PING_INTERVAL_MS / 1000} s, one process), ` +
      `${VALUES} values of 1 KiB, ${GETS} of each operation interleaved, a fresh process per ring, medians of ${RUNS} runs (${secs} s):`,
  );
  console.log('  | routing | operation | p50 ms | p99 ms | hops of a lookup: median (mean) |');
  console.log('  |---|---|---|---|---|');
  const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(0));
  for (const routing of ROUTINGS) {
    const hops = hopRows.get(routing);
    for (const c of CONTENDERS) {
      const r = rows.get(`${routing} ${c.key}`);
      if (r) console.log(`  | ${routing} | ${c.label} | ${ms(median(r.p50))} | ${ms(median(r.p99))} | ${hops ? `${median(hops.median)} (${median(hops.mean).toFixed(2)})` : '-'} |`);
    }
  }
}
