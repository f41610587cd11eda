// One run of BENCH=client in a process of its own: a ring of PEERS on 127.0.0.1, VALUES names of
// 1 KiB put through the library, a gateway on one member and a client of it (no peer); then the
// same gets from the client, from the member's own library, and the stat of each, interleaved (the
// gateway's GET is a stat and then a get: the stats show what the client's get is made of).
import { createHash, randomBytes } from 'node:crypto';
import { connect } from '../src/api/client.js';
import { startGateway } from '../src/api/gateway.js';
import { createTestnet } from '../src/testnet.js';
import { freeBasePort } from '../test/helpers/ports.js';

export type Routing = 'fingers' | 'successor';
export interface ClientChildArgs {
  peers: number;
  routing: Routing;
  /** Names put before the clock starts. */
  values: number;
  /** Timed operations per contender. */
  gets: number;
  replicas: number;
  pingIntervalMs: number;
  /** A directory of this child's own, removed by the parent. */
  dir: string;
}
export interface ClientChildResult {
  /** Peers actually in the ring (an address hash collision leaves one out). */
  peers: number;
  /** Latencies in ms, in order, per contender. */
  ms: { clientGet: number[]; memberGet: number[]; clientStat: number[]; memberStat: number[] };
  hops: number[];
  /** Why the ring is not healthy at this size (stale successors, a failed put), if it is not. */
  unhealthy?: string;
  startMs: number;
  putMs: number;
}
export type ClientChildReport = { ok: true; result: ClientChildResult } | { ok: false; error: string };

const SIZE = 1024;
/** Untimed operations of each contender first: links opened, code warmed. */
const WARMUP_OPS = 30;
/** One operation at most this long. */
const OP_TIMEOUT_MS = 30_000;

const args = JSON.parse(process.argv[2]!) as ClientChildArgs;

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${OP_TIMEOUT_MS} ms`)), OP_TIMEOUT_MS)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function timed<T>(into: number[], op: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await op();
  into.push(performance.now() - t0);
  return r;
}

async function main(): Promise<ClientChildResult> {
  const ids = Array.from({ length: args.peers }, (_, i) => i);
  const t0 = performance.now();
  const ring = await createTestnet({
    runtime: 'node',
    bits: 16,
    count: args.peers,
    settled: true,
    routing: args.routing,
    replicas: args.replicas,
    pingIntervalMs: args.pingIntervalMs,
    basePort: await freeBasePort(ids),
    dataDir: args.dir,
    perPeerDirs: true,
  });
  const startMs = performance.now() - t0;
  try {
    const peers = [...ring.peers.values()];
    const member = peers[0]!;
    const stale = () => ring.staleIds().length;
    if (stale()) return { peers: peers.length, ms: { clientGet: [], memberGet: [], clientStat: [], memberStat: [] }, hops: [], unhealthy: `${stale()} stale at start`, startMs, putMs: 0 };
    // names put from peers all round the ring, so their owners (and the callers) spread over it
    const values = Array.from({ length: args.values }, () => randomBytes(SIZE));
    const names = values.map((_, i) => `client-${i}`);
    const failed: string[] = [];
    const p0 = performance.now();
    for (let i = 0; i < names.length; i++) {
      const from = peers[(i * 97) % peers.length]!;
      const r = await within(from.put(names[i]!, values[i]!), `put ${names[i]}`).catch((err: unknown) => (failed.push(`${names[i]}: ${String(err)}`), undefined));
      if (r && (r.sha256 !== sha(values[i]!) || r.holders.length < args.replicas)) failed.push(`${names[i]}: ${r.holders.length} holders`);
    }
    const putMs = performance.now() - p0;
    const gateway = await startGateway(member, { port: 0 });
    const client = await connect(`${gateway.address.host}:${gateway.address.port}`);
    const ms = { clientGet: [] as number[], memberGet: [] as number[], clientStat: [] as number[], memberStat: [] as number[] };
    const hops: number[] = [];
    try {
      const check = (b: Buffer, i: number, who: string) => {
        if (sha(b) !== sha(values[i]!)) throw new Error(`${who} get ${names[i]}: ${b.length} bytes, not the value put`);
      };
      for (let w = 0; w < WARMUP_OPS; w++) {
        const i = w % names.length;
        await within(client.getBuffer(names[i]!), 'warm-up');
        await within(member.getBuffer(names[i]!), 'warm-up');
        await within(client.stat(names[i]!), 'warm-up');
        await within(member.stat(names[i]!), 'warm-up');
      }
      // interleaved, one at a time, so that each contender meets the same moments of the ring
      for (let g = 0; g < args.gets; g++) {
        const i = g % names.length;
        const n = names[i]!;
        check(await timed(ms.clientGet, () => within(client.getBuffer(n), `client get ${n}`)), i, 'client');
        check(await timed(ms.memberGet, () => within(member.getBuffer(n), `member get ${n}`)), i, 'member');
        const st = await timed(ms.clientStat, () => within(client.stat(n), `client stat ${n}`));
        if (!st || st.size !== SIZE) throw new Error(`client stat ${n}: ${JSON.stringify(st && { size: st.size })}`);
        const ms2 = await timed(ms.memberStat, () => within(member.stat(n), `member stat ${n}`));
        if (!ms2 || ms2.size !== SIZE) throw new Error(`member stat ${n}: ${JSON.stringify(ms2 && { size: ms2.size })}`);
      }
      for (const n of names) hops.push((await within(client.lookup(member.space.keyOf(n)), `lookup ${n}`)).hops);
    } finally {
      client.close();
      await gateway.close();
    }
    const why = [failed.length ? `${failed.length} of ${names.length} puts failed (${failed[0]})` : '', stale() ? `${stale()} stale after the gets` : ''].filter(Boolean).join('; ');
    return { peers: peers.length, ms, hops, startMs, putMs, ...(why ? { unhealthy: why } : {}) };
  } finally {
    await ring.close();
  }
}

const report: ClientChildReport = await main().then(
  (result) => ({ ok: true as const, result }),
  (err: unknown) => ({ ok: false as const, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
);
process.send!(report, () => process.exit(0));
