// BENCH=alloc: what an idle ring allocates, by the code that allocates it. A ring of ALLOC_PEERS
// (256) peers on 127.0.0.1 in this process (32-bit ids, fingers, a ping every ALLOC_PING_MS, 1000),
// left ALLOC_WARMUP_S (15) seconds, then V8's sampling heap profiler over ALLOC_WINDOW_S (10) seconds,
// counting objects the collector has already freed as well (so the figure is the allocation rate,
// not what is live). Every allocation site's bytes are summed by function and line; the top
// ALLOC_TOP (20) print. Bytes a peer a second are what drives the young generation's growth (and
// so the RSS a peer) and the collector's share of the CPU. The sample is random (one per
// ALLOC_SAMPLE bytes, 4096, on average): runs differ by a few percent.
// BENCH=profile: the same ring (PROFILE_PEERS, 1000; PROFILE_PING_MS, 1000; PROFILE_WARMUP_S, 60),
// then V8's CPU profiler over PROFILE_WINDOW_S (20) seconds: self time by function and line, the
// top PROFILE_TOP (10), with the process's CPU a peer a second over the window.
// Run on their own: node dist/bench/alloc.js [--json] [--cpu]
import { Session } from 'node:inspector/promises';
import { createTestnet, type Testnet } from '../src/testnet.js';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

export interface AllocResult {
  peers: number;
  pingMs: number;
  windowS: number;
  /** Sampled bytes allocated a peer a second, in KiB. */
  kibPerPeerPerS: number;
  /** The top sites: `function file:line` -> share of all bytes, in percent. */
  top: [string, number][];
}

const site = (n: ProfileNode): string => {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/dist\//, '').replace(/^file:\/\//, '');
  return `${f.functionName || '(anonymous)'} ${file || '(native)'}${f.url ? `:${f.lineNumber + 1}` : ''}`;
};

/** An idle ring of sockets as `PREFIX_PEERS`, `_PING_MS`, `_WARMUP_S` and `_WINDOW_S` say, once its warm-up is over. */
async function idleRing(prefix: string, dflt: { peers: number; warmupS: number; windowS: number }): Promise<{ tn: Testnet; pingMs: number; windowMs: number }> {
  const pingMs = num(`${prefix}_PING_MS`, 1000);
  const basePort = 10_000 + Math.floor(Math.random() * 15_000);
  const tn = await createTestnet({ bits: 32, count: num(`${prefix}_PEERS`, dflt.peers), routing: 'fingers', basePort, pingIntervalMs: pingMs, settled: true, seedFingers: false });
  await new Promise((r) => setTimeout(r, num(`${prefix}_WARMUP_S`, dflt.warmupS) * 1000));
  return { tn, pingMs, windowMs: num(`${prefix}_WINDOW_S`, dflt.windowS) * 1000 };
}

export async function allocProfile(): Promise<AllocResult> {
  const { tn, pingMs, windowMs } = await idleRing('ALLOC', { peers: 256, warmupS: 15, windowS: 10 });
  const session = new Session();
  try {
    session.connect();
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: num('ALLOC_SAMPLE', 4096), includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await new Promise((r) => setTimeout(r, windowMs));
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
    const bySite = new Map<string, number>();
    let total = 0;
    const stack: ProfileNode[] = [profile.head];
    for (let n = stack.pop(); n; n = stack.pop()) {
      total += n.selfSize;
      if (n.selfSize) bySite.set(site(n), (bySite.get(site(n)) ?? 0) + n.selfSize);
      stack.push(...n.children);
    }
    const top = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, num('ALLOC_TOP', 20));
    return {
      peers: tn.peers.size,
      pingMs,
      windowS: windowMs / 1000,
      kibPerPeerPerS: Number((total / 1024 / tn.peers.size / (windowMs / 1000)).toFixed(2)),
      top: top.map(([k, v]) => [k, Number(((100 * v) / total).toFixed(1))]),
    };
  } finally {
    session.disconnect();
    await tn.close();
  }
}

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

export interface CpuResult {
  peers: number;
  pingMs: number;
  windowS: number;
  /** Process CPU over the window, a peer a second (ms). */
  cpuMsPerPeerPerS: number;
  /** Share of the window's samples that were idle, in percent. */
  idlePercent: number;
  /** The top functions by self time: share of the samples that were not idle, in percent. */
  top: [string, number][];
}

/** A CPU profile of an idle ring: which functions the time at rest goes to. */
export async function cpuProfile(): Promise<CpuResult> {
  const { tn, pingMs, windowMs } = await idleRing('PROFILE', { peers: 1000, warmupS: 60, windowS: 20 });
  const session = new Session();
  try {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: { nodes: CpuNode[]; samples: number[] } };
    const byNode = new Map<number, CpuNode>(profile.nodes.map((n) => [n.id, n]));
    const bySite = new Map<string, number>();
    for (const id of profile.samples) {
      const n = byNode.get(id);
      if (n) bySite.set(site(n as unknown as ProfileNode), (bySite.get(site(n as unknown as ProfileNode)) ?? 0) + 1);
    }
    const total = profile.samples.length || 1;
    const idle = [...bySite].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
    const top = [...bySite].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, num('PROFILE_TOP', 10));
    return {
      peers: tn.peers.size,
      pingMs,
      windowS: Number(secs.toFixed(1)),
      cpuMsPerPeerPerS: Number(((cpu.user + cpu.system) / 1000 / secs / tn.peers.size).toFixed(3)),
      idlePercent: Number(((100 * idle) / total).toFixed(1)),
      top: top.map(([k, v]) => [k, Number(((100 * v) / Math.max(1, total - idle)).toFixed(1))]),
    };
  } finally {
    session.disconnect();
    await tn.close();
  }
}

export async function profileBench(): Promise<void> {
  const r = await cpuProfile();
  if (process.argv.includes('--json')) return void console.log(JSON.stringify(r));
  console.log(`\n== CPU at rest: ${r.peers} peers on 127.0.0.1, 32-bit ids, fingers, a ping every ${r.pingMs} ms, ${r.windowS} s profiled`);
  console.log(`   ${r.cpuMsPerPeerPerS} ms of CPU a peer a second; idle ${r.idlePercent}% of the samples; top self time (share of the busy samples):`);
  for (const [k, v] of r.top) console.log(`   ${v.toFixed(1).padStart(5)}%  ${k}`);
}

export async function allocBench(): Promise<void> {
  const r = await allocProfile();
  if (process.argv.includes('--json')) return void console.log(JSON.stringify(r));
  console.log(`\n== allocation at rest: ${r.peers} peers on 127.0.0.1, 32-bit ids, fingers, a ping every ${r.pingMs} ms, ${r.windowS} s sampled`);
  console.log(`   ${r.kibPerPeerPerS} KiB allocated a peer a second; the top sites:`);
  for (const [k, v] of r.top) console.log(`   ${v.toFixed(1).padStart(5)}%  ${k}`);
}

if (process.argv[1]?.endsWith('/alloc.js')) {
  await (process.argv.includes('--cpu') ? profileBench() : allocBench());
  process.exit(0);
}
