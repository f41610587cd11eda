// The checker's figures: how fast the seed sweep runs, Requests under churn (simulated and on
// real sockets), and the bytes a join moves by hand-over in a ring holding 1000 files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { churn, type ChurnResult } from '../src/check/churn.js';
import { checkCopies } from '../src/check/invariants.js';
import { CheckWorld } from '../src/check/run.js';
import { ID_COUNT, NORMAL_LATENCY } from '../src/check/scenario.js';
import { sweep } from '../src/check/sweep.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import { mulberry32 } from '../src/util/prng.js';
import { freeBasePort } from '../test/helpers/ports.js';

const SWEEP_SEEDS = Number(process.env.SWEEP_SEEDS ?? 1000);
const CHURN_PEERS = 64;
const CHURN_MS = Number(process.env.CHURN_SECONDS ?? 300) * 1000;
const HANDOVER_FILES = 1000;
const HANDOVER_BYTES = 4096;
const HANDOVER_JOINS = 5;

const n = (x: number) => x.toLocaleString('en-US');
const pct = (a: number, b: number) => `${((100 * a) / Math.max(b, 1)).toFixed(2)} %`;

export async function sweepBench(): Promise<void> {
  const r = await sweep({ from: 1, seeds: SWEEP_SEEDS, peers: 8 });
  const s = r.wallMs / 1000;
  console.log(`cdht check: ${SWEEP_SEEDS} seeds of 8 peers (faults of every kind, ${r.workers} workers):`);
  console.log(`  ${s.toFixed(1)} s wall, ${(r.seeds / s).toFixed(0)} seeds/s, ${n(r.events)} events (${n(Math.round(r.events / s))} events/s), ${(r.virtualMs / 1000 / 3600).toFixed(1)} h of virtual time; ${r.failures.length} failed`);
  if (r.failures.length) process.exitCode = 1;
}

function churnLine(what: string, r: ChurnResult): void {
  const answered = r.succeeded + r.failed;
  console.log(`Requests under churn, ${what}: ${CHURN_PEERS} peers, a kill and a join every 2 s for ${CHURN_MS / 60_000} min, r = 4, k = 3, 200 files:`);
  console.log(`  ${n(r.succeeded)} of ${n(answered)} Requests succeeded (${pct(r.succeeded, answered)}; ${r.abandoned} left unanswered because their requester was killed); ${r.kills} kills, ${r.joins} joins (${r.joinsFailed} refused)`);
  console.log(`  after the churn: ${r.lost} files lost, ${r.shortOfCopies} short of their 3 copies${r.events ? `; ${n(r.events)} events in ${(r.elapsedMs / 1000).toFixed(0)} s virtual` : ''}`);
  for (const why of r.reasons) console.log(`  failed: ${why}`);
  if (r.lost || answered === 0 || r.succeeded / answered < 0.999) process.exitCode = 1;
}

export async function churnBench(runtime: 'sim' | 'node'): Promise<void> {
  const t0 = performance.now();
  if (runtime === 'sim') {
    const r = await churn({ runtime, peers: CHURN_PEERS, files: 200, fileBytes: 1024, churnEveryMs: 2000, durationMs: CHURN_MS, requestEveryMs: 100, seed: 1 });
    churnLine(`simulated (${((performance.now() - t0) / 1000).toFixed(1)} s wall)`, r);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'cdht-churn-'));
  try {
    const basePort = await freeBasePort(Array.from({ length: ID_COUNT }, (_, i) => i));
    const r = await churn({ runtime, peers: CHURN_PEERS, files: 200, fileBytes: 1024, churnEveryMs: 2000, durationMs: CHURN_MS, requestEveryMs: 200, seed: 1, basePort, dataDir: dir });
    churnLine(`real sockets on 127.0.0.1 (${((performance.now() - t0) / 1000).toFixed(0)} s wall)`, r);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A ring of 64 holding 1000 files (k = 3); one peer joins: the bytes written to it for keys it
 * now owns (hand-over) and all other bytes written anywhere meanwhile (replica traffic).
 */
export async function handoverBench(): Promise<void> {
  const rand = mulberry32(64);
  const order = Array.from({ length: ID_COUNT }, (_, i) => i).sort(() => rand() - 0.5);
  const ids = order.slice(0, 64).sort((a, b) => a - b);
  const w = new CheckWorld({ seed: 64, ids, net: { codec: true, latencyMs: [...NORMAL_LATENCY], duplicateRate: 0, reorderRate: 0 }, steps: [] }, { peers: 64 });
  await w.start();
  await w.sim.runFor(5000);
  const names: string[] = [];
  const used = new Set<string>();
  while (names.length < HANDOVER_FILES) {
    const name = String(Math.floor(rand() * 10_000)).padStart(4, '0');
    if (used.has(name)) continue;
    used.add(name);
    names.push(name);
    w.store(ids[Math.floor(rand() * ids.length)]!, name, HANDOVER_BYTES);
  }
  await w.sim.runFor(30_000);
  const missing = checkCopies(w.view(names));
  if (missing) console.log(`  (before the joins: ${missing.detail})`);
  const prev = w.sim.disk.onWrite!;
  let watching: number | undefined;
  let handover = 0;
  let replicaToJoiner = 0;
  let replicaElsewhere = 0;
  const written = new Map<string, number>();
  w.sim.disk.onWrite = (dir, file, bytes) => {
    prev(dir, file, bytes);
    if (watching === undefined || file.startsWith('received_')) return;
    if (dir !== w.dir(watching)) return void (replicaElsewhere += bytes.length);
    written.set(file, (written.get(file) ?? 0) + 1);
    const live = w.liveIds().map(BigInt);
    const owner = SPEC_SPACE.ownerOf(SPEC_SPACE.keyOf(file.replace(/\.pdf$/, '')), live);
    if (owner === BigInt(watching)) handover += bytes.length;
    else replicaToJoiner += bytes.length;
  };
  console.log(`Hand-over when one peer joins a ring of 64 holding ${n(HANDOVER_FILES)} files of ${n(HANDOVER_BYTES)} bytes (k = 3), ${HANDOVER_JOINS} joins:`);
  const shares: number[] = [];
  const moved: number[] = [];
  for (let j = 0; j < HANDOVER_JOINS; j++) {
    const id = order.slice(64).find((x) => !w.peers.has(x))!;
    handover = replicaToJoiner = replicaElsewhere = 0;
    written.clear();
    watching = id;
    const live = w.liveIds();
    w.apply({ at: 0, kind: 'join', id, via: live[Math.floor(rand() * live.length)]! });
    await w.sim.runFor(20_000);
    watching = undefined;
    const ring = w.liveIds().map(BigInt);
    const owned = names.filter((f) => SPEC_SPACE.ownerOf(SPEC_SPACE.keyOf(f), ring) === BigInt(id)).length;
    // the files it must hold as a replica: those whose owner's next k - 1 include it
    const at = ring.indexOf(BigInt(id));
    const behind = [ring[(at - 1 + ring.length) % ring.length]!, ring[(at - 2 + ring.length) % ring.length]!];
    const needed = names.filter((f) => behind.includes(SPEC_SPACE.ownerOf(SPEC_SPACE.keyOf(f), ring)!)).length;
    const twice = [...written.values()].filter((c) => c > 1).length;
    shares.push(owned);
    moved.push(handover);
    const short = checkCopies(w.view(names));
    console.log(
      `  join of ${id}: it now owns ${owned} files (${pct(owned, names.length)}; 1/64 = 1.56 %): hand-over ${n(handover)} bytes (${(handover / HANDOVER_BYTES).toFixed(0)} files), ` +
        `replicas to it ${n(replicaToJoiner)} bytes (${(replicaToJoiner / HANDOVER_BYTES).toFixed(0)} files; it must hold ${needed} as a replica; ${twice} came twice), replica traffic elsewhere ${n(replicaElsewhere)} bytes${short ? `; ${short.detail}` : ''}`,
    );
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`  mean: ${mean(shares).toFixed(1)} files owned, hand-over ${n(Math.round(mean(moved)))} bytes = ${(mean(moved) / HANDOVER_BYTES).toFixed(1)} files (1000/64 x ${HANDOVER_BYTES} = ${n(Math.round((1000 / 64) * HANDOVER_BYTES))} bytes expected)`);
}
