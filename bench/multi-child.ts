// One process of BENCH=multi (bench/multi.ts): its slice of a ring spread over several processes
// on 127.0.0.1 (src/testnet.ts `slice`), driven by the parent over IPC, one stage at a time so
// every process is idle, or asking, at once. Reports idle CPU, traffic, event-loop delay and RSS
// per peer of its slice, and its lookups' times (owner checked against the whole ring's ids).
// Exits when the parent goes away. Run by the parent with --expose-gc:
//   node --expose-gc dist/bench/multi-child.js   (the plan comes in the first IPC message)
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createTestnet, type Testnet } from '../src/testnet.js';
import { mulberry32 } from '../src/util/prng.js';

export interface MultiPlan {
  index: number;
  processes: number;
  peers: number;
  basePort: number;
  pingIntervalMs: number;
  seedFingers: boolean;
  /** Outbound links a peer keeps open, if not the testnet's own bound. */
  links?: number;
}

export type MultiCommand = { kind: 'start'; plan: MultiPlan } | { kind: 'idle'; ms: number } | { kind: 'lookups'; count: number; maxMs: number; seed: number } | { kind: 'exit' };

export type MultiReport =
  | { kind: 'up'; index: number; peers: number; buildS: number }
  | { kind: 'idle'; index: number; cpuMsPerSPerPeer: number; datagramsPerSPerPeer: number; tcpWritesPerSPerPeer: number; loopDelayP99Ms: number; rssKiBPerPeer: number; heapKiBPerPeer: number; fingersMedian: number }
  | { kind: 'lookups'; index: number; ms: number[]; missed: number; wrong: number }
  | { kind: 'failed'; index: number; error: string };

/** One lookup that has not answered within this long is unanswered. */
const LOOKUP_TIMEOUT_MS = 5_000;

const sent = { datagrams: 0, writes: 0 };
/** Every datagram and TCP write of this process, counted where they are sent. */
function countSends(): void {
  const udp = dgram.Socket.prototype as unknown as { send: (...a: unknown[]) => unknown };
  const udpSend = udp.send;
  udp.send = function (this: unknown, ...a: unknown[]) {
    sent.datagrams++;
    return udpSend.apply(this, a);
  };
  const tcp = net.Socket.prototype as unknown as { write: (...a: unknown[]) => unknown };
  const tcpWrite = tcp.write;
  tcp.write = function (this: unknown, ...a: unknown[]) {
    sent.writes++;
    return tcpWrite.apply(this, a);
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (x: number, d = 3) => Number(x.toFixed(d));
const gc = () => (globalThis as { gc?: () => void }).gc?.();
const report = (r: MultiReport) => process.send?.(r);

let ring: Testnet | undefined;
let plan: MultiPlan | undefined;
let before: NodeJS.MemoryUsage | undefined;

async function start(p: MultiPlan): Promise<void> {
  plan = p;
  gc();
  before = process.memoryUsage();
  const t0 = performance.now();
  ring = await createTestnet({
    bits: 32,
    count: p.peers,
    basePort: p.basePort,
    routing: 'fingers',
    settled: true,
    seedFingers: p.seedFingers,
    pingIntervalMs: p.pingIntervalMs,
    slice: { index: p.index, of: p.processes },
    ...(p.links !== undefined ? { limits: { maxOutboundLinks: p.links } } : {}),
  });
  report({ kind: 'up', index: p.index, peers: ring.runningIds().length, buildS: round((performance.now() - t0) / 1000, 1) });
}

async function idle(ms: number): Promise<void> {
  const r = ring!;
  const n = r.runningIds().length;
  gc();
  const mem = process.memoryUsage();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  const sent0 = { ...sent };
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  loop.enable();
  await sleep(ms);
  loop.disable();
  const secs = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fingers = r
    .runningIds()
    .map((id) => r.peer(id)!.snapshot().fingers?.length ?? 0)
    .sort((a, b) => a - b);
  report({
    kind: 'idle',
    index: plan!.index,
    cpuMsPerSPerPeer: round((cpu.user + cpu.system) / 1000 / secs / n),
    datagramsPerSPerPeer: round((sent.datagrams - sent0.datagrams) / secs / n),
    tcpWritesPerSPerPeer: round((sent.writes - sent0.writes) / secs / n),
    loopDelayP99Ms: round(loop.percentile(99) / 1e6),
    rssKiBPerPeer: round((mem.rss - before!.rss) / 1024 / n, 1),
    heapKiBPerPeer: round((mem.heapUsed - before!.heapUsed) / 1024 / n, 1),
    fingersMedian: fingers[Math.floor(fingers.length / 2)] ?? 0,
  });
}

/** One at a time, from random peers of this slice to random keys; answered only by the true owner. */
async function lookups(count: number, maxMs: number, seed: number): Promise<void> {
  const r = ring!;
  const mine = r.runningIds();
  const all = r.ringIds();
  const rand = mulberry32(seed);
  const ms: number[] = [];
  let missed = 0;
  let wrong = 0;
  const t0 = performance.now();
  for (let i = 0; i < count && performance.now() - t0 < maxMs; i++) {
    const from = r.peer(mine[Math.floor(rand() * mine.length)]!)!;
    const key = BigInt(Math.floor(rand() * 2 ** 32));
    const l0 = performance.now();
    try {
      const got = await from.lookup(key, { timeoutMs: LOOKUP_TIMEOUT_MS });
      if (got.owner.id === r.space.ownerOf(key, all)) ms.push(performance.now() - l0);
      else wrong++;
    } catch {
      missed++;
    }
  }
  report({ kind: 'lookups', index: plan!.index, ms: ms.map((x) => round(x)), missed, wrong });
}

async function close(): Promise<never> {
  const closing = ring?.close();
  // a ring that will not close in time is left to the exit
  await Promise.race([closing, sleep(20_000)]);
  process.exit(0);
}

countSends();
// the parent gone (a crash, its watchdog, Ctrl+C): this slice goes too
process.on('disconnect', () => void close());
process.on('message', (c: MultiCommand) => {
  const run = async () => {
    if (c.kind === 'start') await start(c.plan);
    else if (c.kind === 'idle') await idle(c.ms);
    else if (c.kind === 'lookups') await lookups(c.count, c.maxMs, c.seed);
    else await close();
  };
  run().catch((e: unknown) => report({ kind: 'failed', index: plan?.index ?? -1, error: e instanceof Error ? e.message : String(e) }));
});
