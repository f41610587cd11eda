// `npm run bench`: the figures the README quotes, measured on this machine with real peer
// processes on 127.0.0.1 (and one on the simulator). Each section prints what it measured.
// BENCH=repair,request,transport,hop,sim,flood,node,one-ring picks sections (default: all but api and client).
// BENCH=api (bench/api.ts: the library's put/get vs the console's Store/Request vs plain TCP) takes
// about two minutes, so it runs only when asked for. BENCH=client (bench/client.ts: a client with no
// peer through a member's gateway vs the member's own library, 256 peers; CLIENT_PEERS, CLIENT_GETS,
// CLIENT_RUNS, CLIENT_VALUES, CLIENT_ROUTING) takes about four minutes and also runs only when asked for.
// BENCH=versus (bench/versus.ts: cdht and hyperdht side by side at 64, 256 and 1000 peers, fresh process
// each, medians of 3; VERSUS_PEERS, VERSUS_RUNS, VERSUS_IDLE_MS, VERSUS_README=1) takes the better part of
// an hour and runs only when asked for; BENCH=versus-readme makes its table again from bench/results/versus.json.
// BENCH=multi (bench/multi.ts: one ring of 4096 peers over 4 processes; MULTI_PEERS, MULTI_PROCESSES,
// MULTI_WARMUP_MS, MULTI_IDLE_MS, MULTI_LOOKUPS, MULTI_PING_MS, MULTI_README=1) takes a few minutes and runs only when asked for.
// BENCH=surplus (bench/surplus.ts: disk used on a 64-peer ring before and after a simulated churn hour,
// with surplus copies collected and without) takes a few minutes and runs only when asked for.
// BENCH=idle (bench/idle.ts: what an idle peer sends, by transport and type, counted on the simulator;
// IDLE_PEERS, IDLE_PING_MS, IDLE_WARMUP_S, IDLE_WINDOW_S, IDLE_SEED) runs only when asked for.
// BENCH=alloc (bench/alloc.ts: bytes an idle ring of sockets allocates a peer a second, by site; ALLOC_PEERS,
// ALLOC_PING_MS, ALLOC_WARMUP_S, ALLOC_WINDOW_S) and BENCH=profile (the same file: a CPU profile of an idle
// ring of PROFILE_PEERS, 1000, top self time) run only when asked for.
import { writeRandomFile } from './files.js';
import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Contact } from '../src/core/contact.js';
import { createThrowawayRing, tlsClientOptions } from '../src/security/tls.js';
import { createNodeRuntime } from '../src/transport/node/endpoint.js';
import type { TlsIdentity } from '../src/transport/types.js';
import { encodeFrame, encodeLink } from '../src/wire/index.js';
import type { ChildCommand, ChildReport } from './transfer-child.js';
import { createTestnet } from '../src/testnet.js';
import { CliRing, FIGURE1 } from '../test/helpers/cli.js';
import { routingBench, scaleBench } from './routing.js';
import { secureBench } from './secure.js';
import { floodBench } from './flood.js';
import { nodeBench } from './node-ops.js';
import { oneRingBench } from './one-ring.js';
import { apiBench } from './api.js';
import { clientBench } from './client.js';
import { versusBench, versusReadme } from './versus.js';
import { multiBench } from './multi.js';
import { churnBench, handoverBench, sweepBench } from './check.js';
import { surplusBench } from './surplus.js';
import { idleBench } from './idle.js';
import { allocBench, profileBench } from './alloc.js';
import { freeBasePort, freePortSpan } from '../test/helpers/ports.js';

const REPAIR_RUNS = Number(process.env.REPAIR_RUNS ?? 5);
const TRANSFER_MIB = Number(process.env.TRANSFER_MIB ?? 256);
const SECTIONS = new Set((process.env.BENCH ?? 'repair,request,transport,hop,routing,scale,secure,sim,check,churn,handover,churn-real,flood,node,one-ring').split(','));
/** Transfers per contender in the transport section; the best of each counts. */
const TRANSFER_RUNS = 3;
const HOP_MESSAGES = 2000;
const FRESH_MESSAGES = 300;
/** Messages in flight at once for the pipelined figure (within MAX_UNACKED_PER_LINK). */
const BURST_MESSAGES = 1000;

function kib(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}
const mib = (k: number) => `${(k / 1024).toFixed(1)} MiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function sha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Kill 14 in the reference ring at interval 1 s; time until 9 and 8 have repaired. */
async function repairOnce(): Promise<{ detectS: number; repairS: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-bench-'));
  const ring = new CliRing(dir, await freeBasePort(FIGURE1.map(([id]) => id)));
  try {
    for (const [id, s1, s2] of FIGURE1) ring.init(id, s1, s2, 1);
    await Promise.all([8, 9].map((id) => ring.peer(id).waitFor(['Ping response received from Peer 14'])));
    ring.peer(9).mark();
    ring.peer(8).mark();
    await ring.peer(9).waitFor(['Ping response received from Peer 14']); // kill just after an answered ping
    const t0 = performance.now();
    ring.peer(14).signal('SIGKILL');
    await ring.peer(9).waitFor(['Peer 14 is no longer alive'], { timeoutMs: 60_000 });
    const detectS = (performance.now() - t0) / 1000;
    await Promise.all([
      ring.peer(9).waitFor(['My new second successor is Peer 2'], { timeoutMs: 60_000 }),
      ring.peer(8).waitFor(['My new second successor is Peer 19'], { timeoutMs: 60_000 }),
    ]);
    return { detectS, repairS: (performance.now() - t0) / 1000 };
  } finally {
    await ring.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}


/**
 * Lean liveness (ids above 8 bits): a 16-peer ring with 32-bit ids on sockets, interval 1 s;
 * kill a random peer at a random point of the ping cycle and time until both its predecessors'
 * first two successors have left it behind.
 */
async function leanRepairOnce(run: number): Promise<number> {
  const net = await createTestnet({ bits: 32, count: 16, routing: 'fingers', settled: true, pingIntervalMs: 1000, basePort: await freePortSpan(24) });
  try {
    const ids = net.runningIds();
    await new Promise((r) => setTimeout(r, 3000 + ((run * 397) % 1000)));
    const at = (run * 5 + 3) % ids.length;
    const victim = ids[at]!;
    const preds = [ids[(at - 1 + ids.length) % ids.length]!, ids[(at - 2 + ids.length) % ids.length]!];
    const t0 = performance.now();
    await net.kill(victim);
    const left = () => preds.every((p) => { const two = net.peer(p)!.snapshot().successors.slice(0, 2); return two.length === 2 && !two.includes(victim); });
    if (!(await net.until(left, 30_000))) throw new Error(`lean repair: Peer ${victim} still named after 30 s`);
    return (performance.now() - t0) / 1000;
  } finally {
    await net.close();
  }
}

/** A bench child process (transfer-child.ts), spoken to over IPC. */
class Child {
  private readonly proc: ChildProcess;
  private readonly inbox: ChildReport[] = [];
  private readonly waiters: Array<{ kind: ChildReport['kind']; resolve: (r: ChildReport) => void }> = [];

  constructor() {
    this.proc = fork(fileURLToPath(new URL('./transfer-child.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (r: ChildReport) => {
      const i = this.waiters.findIndex((w) => w.kind === r.kind);
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(r);
      else this.inbox.push(r);
    });
  }

  send(c: ChildCommand): void {
    this.proc.send(c);
  }

  next(kind: ChildReport['kind'], timeoutMs = 300_000): Promise<ChildReport> {
    const i = this.inbox.findIndex((r) => r.kind === kind);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bench child: no ${kind} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ kind, resolve: (r) => (clearTimeout(timer), resolve(r)) });
    });
  }

  async exit(): Promise<void> {
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send({ kind: 'exit' });
    await gone;
  }
}

const pem = (i: TlsIdentity): Omit<TlsIdentity, 'id'> => ({ keyPem: i.keyPem, certPem: i.certPem, caPem: i.caPem });

/**
 * A TRANSFER_MIB file from one endpoint process to another (sendFile, as a Request answer),
 * against a plain Node copy of the same file between the same two processes (TCP, or mutual
 * TLS 1.3 when `secure`), interleaved, best of TRANSFER_RUNS each.
 */
async function transferVsPlain(secure: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-bench-'));
  const [rDir, sDir] = [join(dir, 'receiver'), join(dir, 'sender')];
  mkdirSync(rDir);
  mkdirSync(sDir);
  const src = join(sDir, 'big.bin');
  writeRandomFile(src, TRANSFER_MIB);
  const base = await freeBasePort([1, 2, 3, 4]);
  const ring = secure ? await createThrowawayRing() : undefined;
  const [rId, sId] = [1n, 3n];
  const receiver = new Child();
  const sender = new Child();
  try {
    receiver.send({ kind: 'open', id: String(rId), host: '127.0.0.1', port: base + 1, plainPort: base + 2, dataDir: rDir, ...(ring ? { tls: pem(await ring.identityFor(rId)) } : {}) });
    sender.send({ kind: 'open', id: String(sId), host: '127.0.0.1', port: base + 3, plainPort: base + 4, dataDir: sDir, ...(ring ? { tls: pem(await ring.identityFor(sId)) } : {}) });
    await Promise.all([receiver.next('ready'), sender.next('ready')]);
    const times = { cdht: [] as number[], plain: [] as number[] };
    const cpu = { cdht: [] as string[], plain: [] as string[] };
    let same = false;
    for (let run = 0; run < TRANSFER_RUNS; run++) {
      for (const how of ['cdht', 'plain'] as const) {
        receiver.send({ kind: 'clean' });
        sender.send({ kind: 'clean' });
        await Promise.all([receiver.next('cleaned'), sender.next('cleaned')]);
        const t0 = performance.now();
        if (how === 'cdht') sender.send({ kind: 'send-file', to: { id: String(rId), host: '127.0.0.1', port: base + 1 }, name: 'big.bin', size: TRANSFER_MIB * 1024 * 1024 });
        else sender.send({ kind: 'plain-copy', port: base + 2, path: src });
        const got = await receiver.next('received');
        times[how].push(performance.now() - t0);
        const sent = await sender.next('sent');
        if (got.kind !== 'received' || !got.ok || sent.kind !== 'sent' || !sent.ok) throw new Error(`${how} transfer failed: ${JSON.stringify([got, sent])}`);
        cpu[how].push(`${got.cpuMs}+${sent.cpuMs}`);
        if (how === 'cdht' && run === 0) same = (await sha256(src)) === (await sha256(join(rDir, 'received.bin')));
      }
    }
    const best = { cdht: Math.min(...times.cdht), plain: Math.min(...times.plain) };
    const mibs = (ms: number) => (TRANSFER_MIB / (ms / 1000)).toFixed(0);
    const what = secure ? 'private ring (mutual TLS 1.3)' : 'open ring';
    console.log(`Transfer of ${TRANSFER_MIB} MiB between two endpoint processes, ${what}, best of ${TRANSFER_RUNS} interleaved:`);
    console.log(`  cdht sendFile        ${times.cdht.map((t) => t.toFixed(0)).join(', ')} ms -> best ${best.cdht.toFixed(0)} ms (${mibs(best.cdht)} MiB/s), byte-identical: ${same}`);
    console.log(`  plain Node ${secure ? 'TLS 1.3' : 'TCP    '} copy ${times.plain.map((t) => t.toFixed(0)).join(', ')} ms -> best ${best.plain.toFixed(0)} ms (${mibs(best.plain)} MiB/s)`);
    console.log(`  ratio (cdht throughput / plain): ${(best.plain / best.cdht).toFixed(2)}x`);
    console.log(`  CPU ms receiver+sender per run: cdht ${cpu.cdht.join(', ')}; plain ${cpu.plain.join(', ')}`);
    if (!same) process.exitCode = 1;
  } finally {
    await Promise.all([receiver.exit(), sender.exit()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One message written on a fresh connection (hello, the message), until its acknowledgement. */
function freshConnectionHop(to: Contact, frame: Uint8Array, identity: TlsIdentity | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = identity ? tls.connect({ host: to.host, port: to.port, ...tlsClientOptions(identity, to.id) }) : net.connect({ host: to.host, port: to.port });
    sock.setNoDelay(true);
    let got = 0;
    sock.once(identity ? 'secureConnect' : 'connect', () => sock.write(Buffer.concat([encodeLink({ type: 'hello' }), frame])));
    // The answer is the peer's hello (6 bytes) and then the acknowledgement (10 bytes).
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= 16) {
        sock.destroy();
        resolve();
      }
    });
    sock.on('error', reject);
  });
}

/** Per-hop cost of a message: kept-open link vs a fresh connection per message, to another process. */
async function perHop(secure: boolean): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-bench-'));
  const base = await freeBasePort([1, 2, 3]);
  const ring = secure ? await createThrowawayRing() : undefined;
  const receiver = new Child();
  const me: Contact = { id: 3n, host: '127.0.0.1', port: base + 3 };
  const to: Contact = { id: 1n, host: '127.0.0.1', port: base + 1 };
  const identity = ring ? await ring.identityFor(me.id) : undefined;
  const ep = await createNodeRuntime().openEndpoint({ self: me, dataDir: dir, ...(identity ? { tls: identity } : {}) }, {
    onMessage() {},
    onBadInput() {},
    onFileOffer: () => null,
    onFileDone() {},
  });
  try {
    receiver.send({ kind: 'open', id: String(to.id), host: to.host, port: to.port, plainPort: base + 2, dataDir: dir, ...(ring ? { tls: pem(await ring.identityFor(to.id)) } : {}) });
    await receiver.next('ready');
    const msg = { type: 'successor-query', from: me, qid: 0 } as const;
    for (let i = 0; i < 200; i++) await ep.sendMessage(to, msg); // warm up: the link, the JIT
    const kept: number[] = [];
    for (let i = 0; i < HOP_MESSAGES; i++) {
      const t0 = performance.now();
      await ep.sendMessage(to, { ...msg, qid: i });
      kept.push(performance.now() - t0);
    }
    const burst0 = performance.now();
    await Promise.all(Array.from({ length: BURST_MESSAGES }, (_, i) => ep.sendMessage(to, { ...msg, qid: i })));
    const pipelined = (performance.now() - burst0) / BURST_MESSAGES;
    const fresh: number[] = [];
    const frame = encodeFrame(msg);
    for (let i = 0; i < FRESH_MESSAGES; i++) {
      const t0 = performance.now();
      await freshConnectionHop(to, frame, identity);
      fresh.push(performance.now() - t0);
    }
    const ms = (x: number) => `${x.toFixed(3)} ms`;
    console.log(`Per-hop cost of a message to another process, ${secure ? 'private ring (TLS)' : 'open ring'} (send until acknowledged, medians):`);
    console.log(`  kept-open connection   ${ms(median(kept))} one at a time (${HOP_MESSAGES} messages); ${ms(pipelined)} each when ${BURST_MESSAGES} are in flight`);
    console.log(`  fresh connection each  ${ms(median(fresh))} (${FRESH_MESSAGES} messages)`);
  } finally {
    await ep.close();
    await receiver.exit();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Request a TRANSFER_MIB file across two peer processes; time and both peers' peak RSS. */
async function transfer(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-bench-'));
  const src = join(dir, '4103.pdf');
  writeRandomFile(src, TRANSFER_MIB);
  const ring = new CliRing(dir, await freeBasePort([2, 8, 19]));
  try {
    ring.init(2, 8, 19, 1);
    ring.init(8, 19, 2, 1);
    ring.init(19, 2, 8, 1);
    await ring.peer(2).waitFor(['Ping response received from Peer 8', 'Ping response received from Peer 19']);
    await ring.peer(8).waitFor(['Ping request message received from Peer 2']);
    const pid2 = ring.peer(2).child.pid!;
    const pid8 = ring.peer(8).child.pid!;
    const before = { r: kib(pid2, 'VmRSS'), o: kib(pid8, 'VmRSS') };
    const t0 = performance.now();
    ring.peer(2).send('Request 4103');
    await ring.peer(2).waitFor(['File 4103 received'], { timeoutMs: 300_000 });
    const secs = (performance.now() - t0) / 1000;
    const peak = { r: kib(pid2, 'VmHWM'), o: kib(pid8, 'VmHWM') };
    const same = (await sha256(src)) === (await sha256(join(dir, 'received_4103.pdf')));
    console.log(`Request of a ${TRANSFER_MIB} MiB file (owner 8 -> requester 2, separate processes):`);
    console.log(`  time ${secs.toFixed(2)} s (${(TRANSFER_MIB / secs).toFixed(0)} MiB/s), byte-identical: ${same}`);
    console.log(`  requester peak RSS ${mib(peak.r)} (was ${mib(before.r)} before: +${mib(peak.r - before.r)})`);
    console.log(`  owner     peak RSS ${mib(peak.o)} (was ${mib(before.o)} before: +${mib(peak.o - before.o)})`);
    if (!same) process.exitCode = 1;
  } finally {
    await ring.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 256 peers on the simulator, 60 s of virtual time with churn: how fast the simulator runs. */
async function simulate(): Promise<void> {
  const ids = Array.from({ length: 256 }, (_, i) => i);
  const t0 = performance.now();
  const net = await createTestnet({ runtime: 'sim', seed: 1, ids, pingIntervalMs: 1000 });
  const sim = net.sim!;
  await net.run(10_000);
  for (const id of [7, 8, 100, 200]) void net.kill(id);
  const ok = await net.until(() => net.staleIds().length === 0, 50_000);
  await net.run(Math.max(0, 60_000 - sim.now()));
  const wall = (performance.now() - t0) / 1000;
  const st = sim.stats();
  console.log(`Simulator: 256 peers, ${(sim.now() / 1000).toFixed(0)} s virtual with 4 kills (repaired: ${ok})`);
  console.log(`  ${wall.toFixed(2)} s wall, ${st.eventsProcessed} events (${Math.round(st.eventsProcessed / wall)} events/s)`);
  await net.close();
}

async function main(): Promise<void> {
  console.log(`cdht benchmarks (node ${process.version}, ${new Date().toISOString().slice(0, 10)})`);
  if (SECTIONS.has('routing')) await routingBench();
  if (SECTIONS.has('scale')) await scaleBench();
  if (SECTIONS.has('secure')) await secureBench();
  if (SECTIONS.has('check')) await sweepBench();
  if (SECTIONS.has('churn')) await churnBench('sim');
  if (SECTIONS.has('handover')) await handoverBench();
  if (SECTIONS.has('churn-real')) await churnBench('node');
  if (SECTIONS.has('repair')) {
    const runs: { detectS: number; repairS: number }[] = [];
    for (let i = 0; i < REPAIR_RUNS; i++) runs.push(await repairOnce());
    console.log(`Kill -> repair, reference ring, interval 1 s, --ping-misses 3 (${REPAIR_RUNS} runs; before the quick re-probes: 3.6 to 4 s):`);
    console.log(`  detected after ${runs.map((r) => r.detectS.toFixed(2)).join(', ')} s (median ${median(runs.map((r) => r.detectS)).toFixed(2)} s)`);
    console.log(`  repaired at 9 and 8 after ${runs.map((r) => r.repairS.toFixed(2)).join(', ')} s (median ${median(runs.map((r) => r.repairS)).toFixed(2)} s)`);
    const lean: number[] = [];
    for (let i = 0; i < REPAIR_RUNS; i++) lean.push(await leanRepairOnce(i));
    console.log(`Kill -> repair, 16 peers, 32-bit ids (lean liveness: the first successor pinged), interval 1 s (${REPAIR_RUNS} runs):`);
    console.log(`  both predecessors repaired after ${lean.map((x) => x.toFixed(2)).join(', ')} s (median ${median(lean).toFixed(2)} s)`);
  }
  if (SECTIONS.has('request')) await transfer();
  if (SECTIONS.has('transport')) {
    await transferVsPlain(false);
    await transferVsPlain(true);
  }
  if (SECTIONS.has('hop')) {
    await perHop(false);
    await perHop(true);
  }
  if (SECTIONS.has('sim')) await simulate();
  if (SECTIONS.has('idle')) await idleBench();
  if (SECTIONS.has('alloc')) await allocBench();
  if (SECTIONS.has('profile')) await profileBench();
  if (SECTIONS.has('flood')) await floodBench();
  if (SECTIONS.has('node')) await nodeBench();
  if (SECTIONS.has('one-ring')) await oneRingBench();
  if (SECTIONS.has('api')) await apiBench();
  if (SECTIONS.has('client')) await clientBench();
  if (SECTIONS.has('versus')) await versusBench();
  if (SECTIONS.has('versus-readme')) versusReadme();
  if (SECTIONS.has('multi')) await multiBench();
  if (SECTIONS.has('surplus')) await surplusBench();
}

await main();
