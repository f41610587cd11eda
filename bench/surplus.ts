// BENCH=surplus: disk used on a 64-peer ring (32 bits, k = 3) on the simulator before and after
// an hour of churn (a kill and a join every minute), with surplus copies collected and without.
// Counts the copies and bytes in the running peers' store folders, the files no live peer holds
// and those not on all of their k right peers. SURPLUS_PEERS, SURPLUS_FILES, SURPLUS_KIB,
// SURPLUS_MINUTES, SURPLUS_SEED change the run.
import { createTestnet, type Testnet } from '../src/testnet.js';
import { mulberry32 } from '../src/util/prng.js';
import type { Id } from '../src/core/id-space.js';

const PEERS = Number(process.env.SURPLUS_PEERS ?? 64);
const FILES = Number(process.env.SURPLUS_FILES ?? 256);
const KIB = Number(process.env.SURPLUS_KIB ?? 16);
const MINUTES = Number(process.env.SURPLUS_MINUTES ?? 60);
const SEED = Number(process.env.SURPLUS_SEED ?? 1);
const K = 3;
/** Time the ring gets after the churn before it is measured. */
const SETTLE_MS = 120_000;

export interface DiskUse {
  copies: number;
  bytes: number;
  /** Files no live peer holds. */
  lost: number;
  /** Files not on all of their min(k, live) right peers. */
  short: number;
}

function measure(net: Testnet, names: readonly string[]): DiskUse {
  const sim = net.sim!;
  const ids = net.runningIds();
  let copies = 0;
  let bytes = 0;
  const holders = new Map<string, Set<Id>>();
  for (const id of ids) {
    const dir = net.peer(id)!.storeDir;
    for (const name of sim.disk.list(dir)) {
      if (name.startsWith('.') || !names.includes(name)) continue;
      copies++;
      bytes += sim.disk.size(dir, name) ?? 0;
      const h = holders.get(name) ?? new Set<Id>();
      h.add(id);
      holders.set(name, h);
    }
  }
  let lost = 0;
  let short = 0;
  const k = Math.min(K, ids.length);
  for (const name of names) {
    const h = holders.get(name);
    if (!h?.size) {
      lost++;
      continue;
    }
    const at = ids.indexOf(net.space.ownerOf(net.space.keyOf(name), ids)!);
    if (Array.from({ length: k }, (_, i) => ids[(at + i) % ids.length]!).some((id) => !h.has(id))) short++;
  }
  return { copies, bytes, lost, short };
}

export async function surplusRun(collect: boolean): Promise<{ before: DiskUse; after: DiskUse; kills: number; joins: number; wallMs: number }> {
  const t0 = performance.now();
  const rand = mulberry32(SEED);
  const net = await createTestnet({ runtime: 'sim', seed: SEED, bits: 32, count: PEERS, settled: true, replicas: K, perPeerDirs: true, dataDir: '/sim', pingIntervalMs: 1000, collectSurplus: collect });
  try {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const names: string[] = [];
    for (let i = 0; i < FILES; i++) {
      const name = `file-${i}.bin`;
      const bytes = new Uint8Array(KIB * 1024).map((_, j) => (i * 31 + j) & 255);
      await net.settle(net.peer(pick(net.runningIds()))!.put(name, bytes));
      names.push(name);
    }
    await net.run(30_000);
    const before = measure(net, names);
    let kills = 0;
    let joins = 0;
    for (let m = 0; m < MINUTES; m++) {
      const live = net.runningIds();
      const victim = pick(live);
      void net.kill(victim);
      kills++;
      let fresh: Id;
      do fresh = BigInt(Math.floor(rand() * 2 ** 32));
      while (net.peer(fresh));
      const via = pick(live.filter((x) => x !== victim));
      const p = net.start({ id: fresh, mode: { kind: 'join', known: net.contactOf(via) } });
      p.ready.then(() => joins++, () => undefined);
      await net.run(60_000);
    }
    await net.run(SETTLE_MS);
    return { before, after: measure(net, names), kills, joins, wallMs: performance.now() - t0 };
  } finally {
    await net.close();
  }
}

export async function surplusBench(): Promise<void> {
  console.log(`\n== Surplus copies: ${PEERS} peers, 32 bits, k = ${K}, ${FILES} files of ${KIB} KiB, ${MINUTES} min of churn (a kill and a join a minute), simulator ==`);
  const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  for (const collect of [false, true]) {
    const r = await surplusRun(collect);
    const row = (what: string, d: DiskUse) => `${what}: ${d.copies} copies, ${kib(d.bytes)} (${(d.copies / FILES).toFixed(2)} a file), ${d.lost} lost, ${d.short} short of k`;
    console.log(`${collect ? 'collected   ' : 'not collected'}  ${row('before', r.before)}; ${row('after', r.after)}; ${r.kills} kills, ${r.joins} joins; ${(r.wallMs / 1000).toFixed(0)} s of wall time`);
  }
}
