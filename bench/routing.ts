// Routing on real sockets, in one process: a 256-peer ring (32-bit ids) routed by fingers and,
// in the same run, by the successor walk. Lookup latency (one at a time, from random peers),
// hops, the time a join into 255 peers takes, and memory per peer with 256 and 1000 peers.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Id } from '../src/core/id-space.js';
import type { RoutingName } from '../src/core/context.js';
import type { PeerTrace } from '../src/peer.js';
import { createTestnet, type Testnet } from '../src/testnet.js';
import { mulberry32 } from '../src/util/prng.js';
import { freeBasePort } from '../test/helpers/ports.js';

const PEERS = Number(process.env.ROUTING_PEERS ?? 256);
const LOOKUPS = Number(process.env.ROUTING_LOOKUPS ?? 500);
/** Ring sizes for the memory rows (256: the size the Kademlia comparison was made at). */
const MEMORY_PEERS = (process.env.MEMORY_PEERS ?? '256,1000').split(',').map(Number);
const MEMORY_RUNS = Number(process.env.MEMORY_RUNS ?? 3);
/** A large ring reaches into the ephemeral range otherwise: its ports start here. */
const MEMORY_BASE_PORT = 20_000;

const q = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
const ms = (x: number) => `${x.toFixed(3)} ms`;

async function ring(routing: RoutingName, peers: number): Promise<Testnet> {
  // ports base .. base + peers + joins, all free (a large ring may reach into the ephemeral range: bound it)
  const basePort = peers <= 256 ? await freeBasePort(Array.from({ length: peers + 16 }, (_, i) => i)) : 20_000;
  const net = await createTestnet({ bits: 32, count: peers, routing, basePort, pingIntervalMs: 1000, settled: true, seedFingers: false });
  // let pings teach predecessors and fix_fingers fill the tables (about log2 N entries, one a second)
  await net.run(routing === 'fingers' ? 15_000 : 3_000);
  return net;
}

/** One lookup at a time from random peers: hops and wall-clock latency of each. */
async function lookups(net: Testnet, n: number, seed: number): Promise<{ hops: number[]; latency: number[]; missed: number }> {
  const ids = net.runningIds();
  const rand = mulberry32(seed);
  const hops: number[] = [];
  const latency: number[] = [];
  let missed = 0;
  for (let i = 0; i < n; i++) {
    const from = ids[Math.floor(rand() * ids.length)]!;
    const key = BigInt(Math.floor(rand() * 2 ** 32)) as Id;
    const t0 = performance.now();
    const result = await new Promise<PeerTrace['trace'] | undefined>((resolve) => {
      const timer = setTimeout(() => done(undefined), 5000);
      const on = (t: PeerTrace) => {
        if (t.trace.kind === 'lookup-result' && t.trace.key === key && t.id === from) done(t.trace);
      };
      const done = (r: PeerTrace['trace'] | undefined) => {
        clearTimeout(timer);
        net.off('trace', on);
        resolve(r);
      };
      net.on('trace', on);
      net.peer(from)!.findOwner(key);
    });
    latency.push(performance.now() - t0);
    if (!result || result.kind !== 'lookup-result' || result.owner !== net.space.ownerOf(key, ids)) missed++;
    else hops.push(result.hops);
  }
  return { hops: hops.sort((a, b) => a - b), latency: latency.sort((a, b) => a - b), missed };
}

/** Joins through a random peer: the time from start until the joiner is in the ring. */
async function joins(net: Testnet, n: number): Promise<number[]> {
  const times: number[] = [];
  const rand = mulberry32(7);
  for (let i = 0; i < n; i++) {
    const ids = net.runningIds();
    const via = ids[Math.floor(rand() * ids.length)]!;
    const id = BigInt(Math.floor(rand() * 2 ** 32));
    const t0 = performance.now();
    const p = await net.join(id, via, 10_000);
    if (p.isInRing) times.push(performance.now() - t0);
    await net.quit(id);
  }
  return times.sort((a, b) => a - b);
}

export async function routingBench(): Promise<void> {
  console.log(`Routing on sockets: ${PEERS} peers in one process, 32-bit ids, ${LOOKUPS} lookups one at a time`);
  for (const routing of ['fingers', 'successor'] as const) {
    const net = await ring(routing, PEERS);
    try {
      const r = await lookups(net, routing === 'successor' ? Math.min(LOOKUPS, 100) : LOOKUPS, 1);
      const mean = r.hops.reduce((a, b) => a + b, 0) / Math.max(1, r.hops.length);
      const j = await joins(net, 10);
      console.log(
        `  ${routing.padEnd(9)} mean hops ${mean.toFixed(2)} (½·log2 N = ${(Math.log2(PEERS) / 2).toFixed(1)}), lookup p50 ${ms(q(r.latency, 0.5))}, p99 ${ms(q(r.latency, 0.99))}, missed ${r.missed}; join p50 ${ms(q(j, 0.5))} (${j.length} joins)`,
      );
    } finally {
      await net.close();
    }
  }
  // memory: rings of each size in MEMORY_PEERS, each routing in a fresh process of its own (median of MEMORY_RUNS)
  for (const peers of MEMORY_PEERS) {
    console.log(`  memory: ${peers} peers on sockets in one process, added per peer after a GC (median of ${MEMORY_RUNS} processes each):`);
    for (const routing of ['fingers', 'successor'] as const) {
      const runs: MemoryResult[] = [];
      for (let i = 0; i < MEMORY_RUNS; i++) runs.push(memoryChild(routing, peers));
      const med = (f: (r: MemoryResult) => number) => q(runs.map(f).sort((a, b) => a - b), 0.5);
      console.log(
        `    ${routing.padEnd(9)} RSS ${med((r) => r.rssKiB)} KiB, live heap ${med((r) => r.heapUsedKiB)} KiB, V8 heap reserved ${med((r) => r.heapTotalKiB)} KiB; ${(med((r) => r.fds) / peers).toFixed(1)} descriptors a peer (RSS runs: ${runs.map((r) => r.rssKiB).join(', ')})`,
      );
    }
  }
}

interface MemoryResult {
  rssKiB: number;
  heapUsedKiB: number;
  heapTotalKiB: number;
  fds: number;
}

function memoryChild(routing: RoutingName, peers: number): MemoryResult {
  const script = fileURLToPath(new URL('./memory-child.js', import.meta.url));
  const out = execFileSync(process.execPath, ['--expose-gc', script, routing, String(peers), String(MEMORY_BASE_PORT)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as MemoryResult;
}

/** `cdht sim` at 16 to 16384 peers: mean and p99 hops of 1000 lookups against ½·log2 N. */
export async function scaleBench(): Promise<void> {
  const { runScale } = await import('../src/scale.js');
  console.log('Lookups on the simulator (cdht sim --peers N, 32-bit ids, fingers, 1000 lookups, seed 1):');
  for (const peers of [16, 256, 4096, 16384]) {
    const r = await runScale({ peers, bits: 32, routing: 'fingers', lookups: 1000, seed: 1 });
    console.log(
      `  N = ${String(peers).padStart(5)}: mean ${r.meanHops.toFixed(2)} hops (½·log2 N = ${r.halfLog2N.toFixed(1)}), p50 ${r.p50Hops}, p99 ${r.p99Hops}, max ${r.maxHops}, missed ${r.failures}; ${(r.wallMs / 1000).toFixed(1)} s wall`,
    );
  }
}
