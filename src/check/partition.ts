// A long partition on the simulator, played out and measured: a ring cut into two sides (any
// sides: interleaved, an arc, one peer alone) for a given virtual time, files stored on each side
// while it is cut off, then the heal. What is measured from the heal on:
// - one ring: the first moment every live peer's successor list is the true one of the whole ring;
// - copies: the first moment every file, stored before or during the cut, is on its k right peers.
// `cdht check --partition`, the bench and the tests use it.
import type { Id } from '../core/id-space.js';
import { DEFAULT_SUCCESSORS, RING_REPLICAS, SIM_BASE_PORT, TESTNET_PING_INTERVAL_MS, type PeerSettings } from '../core/config.js';
import { createTestnet } from '../testnet.js';
import { storeFolder, testnetView } from './testnet-view.js';
import { mulberry32 } from '../util/prng.js';
import { checkAlone, checkCopies, checkSuccessors } from './invariants.js';

/** Routing, r and k as core/config.ts declares them (default: the peer's routing, 4 and 3). */
export interface PartitionOptions extends Pick<PeerSettings, 'routing' | 'successors' | 'replicas'> {
  /** The ring's ids (8-bit space) or, above 8 bits, how many peers. */
  ids?: readonly number[];
  count?: number;
  bits?: number;
  /** Which peers (by index in ring order) are on the cut side. */
  side: readonly number[];
  /** How long the cut lasts (virtual ms). */
  lengthMs: number;
  /** Files stored on each side while cut off (and as many before). */
  filesPerSide?: number;
  seed?: number;
  /** How long after the heal to wait for one ring at most. */
  maxMs?: number;
}

export interface PartitionResult {
  peers: number;
  cut: number;
  lengthMs: number;
  /** Virtual ms from the heal until one ring; undefined if not within maxMs. */
  oneRingMs: number | undefined;
  /** Virtual ms from the heal until every file is on its k right peers. */
  copiesMs: number | undefined;
  files: number;
  last?: string;
}

const SAMPLE_MS = 500;

export async function runPartition(o: PartitionOptions): Promise<PartitionResult> {
  const seed = o.seed ?? 1;
  const r = o.successors ?? DEFAULT_SUCCESSORS;
  const k = o.replicas ?? RING_REPLICAS;
  const rand = mulberry32((seed ^ 0x9a27) >>> 0);
  const bits = o.bits ?? 8;
  const net = await createTestnet({
    runtime: 'sim',
    seed,
    bits,
    ...(o.routing ? { routing: o.routing } : {}),
    settled: true,
    successors: r,
    replicas: k,
    pingIntervalMs: TESTNET_PING_INTERVAL_MS,
    basePort: SIM_BASE_PORT,
    perPeerDirs: true,
    ...(bits > 8 ? { count: o.count ?? 6 } : { ids: o.ids ?? [10, 50, 90, 130, 170, 210] }),
  });
  const sim = net.sim!;
  try {
    await net.run(3_000);
    const ids = net.runningIds();
    const cut = new Set(o.side.map((i) => ids[i]!));
    const rest = ids.filter((id) => !cut.has(id));
    const files: string[] = [];
    const storeFrom = (at: Id) => {
      let name: string;
      do name = String(1000 + Math.floor(rand() * 9000));
      while (files.includes(name));
      files.push(name);
      sim.disk.write(storeFolder(net, at), net.space.fileOf(name), Uint8Array.from({ length: 200 }, (_, i) => (i * name.length + Number(name)) & 255));
      net.peer(at)!.coreTyped('store', name);
    };
    const perSide = o.filesPerSide ?? 3;
    for (let i = 0; i < perSide; i++) storeFrom(ids[Math.floor(rand() * ids.length)]!);
    await net.until(() => !checkCopies(testnetView(net, r, k, files)), 20_000);

    const addr = (id: Id) => {
      const c = net.contactOf(id);
      return `${c.host}:${c.port}`;
    };
    sim.partition([...cut].map(addr), rest.map(addr));
    // each side stores while it is cut off (a minute in, when each side has settled)
    await net.run(Math.min(60_000, o.lengthMs / 2));
    for (let i = 0; i < perSide; i++) {
      storeFrom([...cut][Math.floor(rand() * cut.size)]!);
      storeFrom(rest[Math.floor(rand() * rest.length)]!);
    }
    await net.run(Math.max(0, o.lengthMs - Math.min(60_000, o.lengthMs / 2)));
    sim.heal();
    const healedAt = sim.now();
    const maxMs = o.maxMs ?? 300_000;
    let oneRingMs: number | undefined;
    let copiesMs: number | undefined;
    let last: string | undefined;
    while (sim.now() - healedAt < maxMs && copiesMs === undefined) {
      await net.run(SAMPLE_MS);
      const v = testnetView(net, r, k, files);
      if (oneRingMs === undefined) {
        const bad = checkAlone(v) ?? checkSuccessors(v);
        if (!bad) oneRingMs = sim.now() - healedAt;
        else last = bad.detail;
      }
      if (oneRingMs !== undefined) {
        const bad = checkCopies(v);
        if (!bad) copiesMs = sim.now() - healedAt;
        else last = bad.detail;
      }
    }
    return {
      peers: ids.length,
      cut: cut.size,
      lengthMs: o.lengthMs,
      oneRingMs,
      copiesMs,
      files: files.length,
      ...(copiesMs === undefined && last !== undefined ? { last } : {}),
    };
  } finally {
    await net.close();
  }
}
