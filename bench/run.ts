// `npm run bench`: the figures the README quotes, measured on this machine with real peer
// processes on 127.0.0.1 (and one on the simulator). Each section prints what it measured.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimNetwork } from '../src/transport/sim/network.js';
import { createTestnet } from '../src/testnet.js';
import { CliRing, FIGURE1 } from '../test/helpers/cli.js';
import { routingBench } from './routing.js';
import { churnBench, handoverBench, sweepBench } from './check.js';
import { freeBasePort } from '../test/helpers/ports.js';

const REPAIR_RUNS = Number(process.env.REPAIR_RUNS ?? 5);
const TRANSFER_MIB = Number(process.env.TRANSFER_MIB ?? 256);

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

/** Request a TRANSFER_MIB file across two peer processes; time and both peers' peak RSS. */
async function transfer(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-bench-'));
  const src = join(dir, '4103.pdf');
  const fd = openSync(src, 'w');
  const block = randomBytes(1 << 20);
  for (let i = 0; i < TRANSFER_MIB; i++) {
    block.writeUInt32BE(i, 0); // no two MiB alike
    writeSync(fd, block);
  }
  closeSync(fd);
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
  const sim = new SimNetwork({ seed: 1 });
  const ids = Array.from({ length: 256 }, (_, i) => i);
  const t0 = performance.now();
  const net = await createTestnet({ runtime: 'sim', sim, ids, pingIntervalMs: 1000 });
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

/** BENCH=routing,transfer runs only those sections (default: all). */
const only = new Set((process.env.BENCH ?? '').split(',').filter(Boolean));
const wanted = (name: string) => only.size === 0 || only.has(name);

async function main(): Promise<void> {
  console.log(`cdht benchmarks (node ${process.version}, ${new Date().toISOString().slice(0, 10)})`);
  if (wanted('routing')) await routingBench();
  if (wanted('check')) await sweepBench();
  if (wanted('churn')) await churnBench('sim');
  if (wanted('handover')) await handoverBench();
  if (wanted('churn-real')) await churnBench('node');
  if (wanted('repair')) {
    const runs: { detectS: number; repairS: number }[] = [];
    for (let i = 0; i < REPAIR_RUNS; i++) runs.push(await repairOnce());
    console.log(`Kill -> repair, reference ring, interval 1 s, --ping-misses 3 (${REPAIR_RUNS} runs; before the quick re-probes: 3.6 to 4 s):`);
    console.log(`  detected after ${runs.map((r) => r.detectS.toFixed(2)).join(', ')} s (median ${median(runs.map((r) => r.detectS)).toFixed(2)} s)`);
    console.log(`  repaired at 9 and 8 after ${runs.map((r) => r.repairS.toFixed(2)).join(', ')} s (median ${median(runs.map((r) => r.repairS)).toFixed(2)} s)`);
  }
  if (wanted('transfer')) await transfer();
  if (wanted('simulator')) await simulate();
}

await main();
