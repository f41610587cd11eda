// Routing at scale on the simulator: build a settled ring of N peers, send L lookups of random
// keys from random peers through the real protocol, and measure hops against the true owners.
// `cdht sim`, the scale tests and the benchmarks all use this.
import type { Id } from './core/id-space.js';
import { ConfigError, DEFAULT_SIM_SEED, defaultRouting, SCALE_BITS, SIM_BASE_PORT, TESTNET_PING_INTERVAL_MS, type PeerSettings, type RoutingName } from './core/config.js';
import type { PeerTrace } from './peer.js';
import { idSpace } from './space.js';
import { createTestnet } from './testnet.js';
import { mulberry32 } from './util/prng.js';

/** Routing as core/config.ts declares it (default: the id space's). */
export interface ScaleOptions extends Pick<PeerSettings, 'routing'> {
  peers: number;
  bits?: number;
  lookups?: number;
  seed?: number;
  /**
   * How the finger tables start: 'seeded' from the true ring (a settled ring, fast at any size),
   * or 'protocol' (empty, filled by fix_fingers during the warm-up).
   */
  fingers?: 'seeded' | 'protocol';
  /** A private ring (stand-in certificates): every lookup carries its origin's proof. */
  secure?: boolean;
  /** Virtual time the ring runs before the lookups (pings, stabilization, fix_fingers). */
  warmupMs?: number;
}

export interface ScaleResult {
  peers: number;
  bits: number;
  routing: RoutingName;
  lookups: number;
  /** Lookups answered by a peer that is not the key's true owner, or not answered at all. */
  failures: number;
  meanHops: number;
  p50Hops: number;
  p99Hops: number;
  maxHops: number;
  /** ½·log2 N, Chord's expected path length. */
  halfLog2N: number;
  virtualMs: number;
  wallMs: number;
  events: number;
  seed: number;
}

/** The value at quantile q of sorted numbers. */
function quantile(sorted: readonly number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

export async function runScale(o: ScaleOptions): Promise<ScaleResult> {
  const t0 = performance.now();
  const seed = o.seed ?? DEFAULT_SIM_SEED;
  const bits = o.bits ?? SCALE_BITS;
  const routing = o.routing ?? defaultRouting(idSpace(bits));
  const lookups = o.lookups ?? 1000;
  const net = await createTestnet({
    runtime: 'sim',
    seed,
    bits,
    routing,
    settled: true,
    pingIntervalMs: TESTNET_PING_INTERVAL_MS,
    basePort: SIM_BASE_PORT,
    ...(bits > 8 ? { count: o.peers } : { ids: pickSpecIds(o.peers, seed) }),
    // fingers from the protocol: start from successors only and let fix_fingers fill the tables
    seedFingers: o.fingers !== 'protocol',
    ...(o.secure ? { secure: true } : {}),
  });
  const sim = net.sim!;
  try {
    const startVirtual = sim.now();
    await net.run(o.warmupMs ?? (o.fingers === 'protocol' ? 40_000 : 0));
    const ids = net.runningIds();
    const rand = mulberry32(seed ^ 0x5ca1e);
    const results: { key: Id; owner?: Id; hops: number }[] = [];
    const onTrace = (t: PeerTrace) => {
      if (t.trace.kind === 'lookup-result') results.push(t.trace);
    };
    net.on('trace', onTrace);
    for (let i = 0; i < lookups; i++) {
      const from = ids[Math.floor(rand() * ids.length)]!;
      net.peer(from)!.findOwner(randomKey(rand, net.space.size));
    }
    await net.until(() => results.length >= lookups, 60_000);
    net.off('trace', onTrace);
    let failures = lookups - results.length;
    const hops: number[] = [];
    for (const r of results) {
      if (r.owner === undefined || r.owner !== net.space.ownerOf(r.key, ids)) failures++;
      hops.push(r.hops);
    }
    hops.sort((a, b) => a - b);
    return {
      peers: ids.length,
      bits,
      routing,
      lookups,
      failures,
      meanHops: hops.reduce((a, b) => a + b, 0) / Math.max(1, hops.length),
      p50Hops: quantile(hops, 0.5),
      p99Hops: quantile(hops, 0.99),
      maxHops: hops[hops.length - 1] ?? 0,
      halfLog2N: Math.log2(ids.length) / 2,
      virtualMs: sim.now() - startVirtual,
      wallMs: performance.now() - t0,
      events: sim.stats().eventsProcessed,
      seed,
    };
  } finally {
    await net.close();
  }
}

/** A uniformly random key below `size` from a generator of numbers in [0, 1). */
export function randomKey(rand: () => number, size: bigint): Id {
  let v = 0n;
  const words = Math.ceil(size.toString(2).length / 32);
  for (let i = 0; i < words; i++) v = (v << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
  return v % size;
}

/** N distinct random ids of the 8-bit space. */
function pickSpecIds(n: number, seed: number): Id[] {
  if (n > 256) throw new ConfigError('count', 'the 8-bit space holds at most 256 peers', 1, 256);
  const rand = mulberry32(seed);
  const pool = Array.from({ length: 256 }, (_, i) => BigInt(i));
  const out: Id[] = [];
  for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  return out;
}
