// Private rings against open ones, same run: a Store routed round the reference ring (per-hop
// cost on kept-open links), a join's latency, and what a 256-peer private ring costs in memory
// and file descriptors in one process (as `cdht ring --secure --random 256` runs it).
import { readdirSync } from 'node:fs';
import type { PeerLine } from '../src/peer.js';
import type { TlsIdentity } from '../src/security/identity.js';
import { createThrowawayRing } from '../src/security/tls.js';
import { createTestnet, REFERENCE_RING, type Testnet } from '../src/testnet.js';
import { freeBasePort } from '../test/helpers/ports.js';

const STORES = Number(process.env.SECURE_STORES ?? 200);
const JOINS = Number(process.env.SECURE_JOINS ?? 20);
const BIG = Number(process.env.SECURE_PEERS ?? 256);

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const ms = (x: number) => `${x.toFixed(3)} ms`;

async function identities(ids: bigint[]): Promise<(id: bigint) => TlsIdentity> {
  const ring = await createThrowawayRing();
  const map = new Map<bigint, TlsIdentity>();
  for (const id of ids) map.set(id, await ring.identityFor(id));
  return (id) => map.get(id)!;
}

/** Stores from 2 of a key owned by 19 (6 forwards: 2 > 4 > 5 > 8 > 9 > 14 > 19), one at a time. */
async function storeRound(net: Testnet): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < STORES; i++) {
    const name = String(19 + 256 * (i % 39)).padStart(4, '0'); // keys of 19
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const on = (l: PeerLine) => {
        if (l.id === 19n && l.text === `Store ${name} request accepted`) {
          net.off('line', on);
          resolve();
        }
      };
      net.on('line', on);
      net.peer(2)!.store(name);
    });
    times.push(performance.now() - t0);
  }
  return times;
}

async function joins(net: Testnet, base: number[]): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < JOINS; i++) {
    const id = base[i % base.length]!;
    const t0 = performance.now();
    const p = await net.join(id, 2, 10_000);
    if (p.isInRing) times.push(performance.now() - t0);
    await net.quit(id);
  }
  return times;
}

export async function secureBench(): Promise<void> {
  console.log(`Private ring vs open ring (reference ring on sockets, one process; ${STORES} stores, ${JOINS} joins each):`);
  const extra = [20, 30, 40, 50, 60, 70, 80];
  const idsAll = [...REFERENCE_RING, ...extra.map(BigInt)];
  for (const secure of [false, true]) {
    const basePort = await freeBasePort([...REFERENCE_RING.map(Number), ...extra]);
    const identityFor = secure ? await identities(idsAll) : undefined;
    const net = await createTestnet({ basePort, pingIntervalMs: 1000, ...(identityFor ? { secure: true, identityFor } : {}) });
    try {
      await net.run(2500);
      await storeRound(net); // the first round opens the links
      const s = await storeRound(net);
      const j = await joins(net, extra);
      console.log(
        `  ${secure ? 'private' : 'open   '}  Store routed round the ring (6 hops): p50 ${ms(q(s, 0.5))}, p99 ${ms(q(s, 0.99))} (${ms(q(s, 0.5) / 6)} a hop); join p50 ${ms(q(j, 0.5))}, p99 ${ms(q(j, 0.99))}`,
      );
    } finally {
      await net.close();
    }
  }
  // a 256-peer private ring in one process: RSS and open file descriptors after it settles
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const fd0 = readdirSync('/proc/self/fd').length;
  const ring = await createThrowawayRing();
  const ids: bigint[] = [];
  for (let i = 0; ids.length < BIG && i < 256; i++) ids.push(BigInt(i));
  const map = new Map<bigint, TlsIdentity>();
  for (const id of ids) map.set(id, await ring.identityFor(id));
  const basePort = await freeBasePort(ids.map(Number));
  const big = await createTestnet({ ids, basePort, pingIntervalMs: 1000, secure: true, identityFor: (id) => map.get(id)! });
  await big.run(20_000);
  global.gc?.();
  const rss = process.memoryUsage().rss - rss0;
  const fds = readdirSync('/proc/self/fd').length - fd0;
  console.log(`  ${BIG} peers on a private ring in one process, after 20 s: +${(rss / 2 ** 20).toFixed(1)} MiB RSS (${(rss / 1024 / BIG).toFixed(1)} KiB a peer), ${fds} file descriptors (${(fds / BIG).toFixed(1)} a peer), stale rows ${big.staleIds().length}`);
  await big.close();
}
