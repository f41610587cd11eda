// One contender of BENCH=api in a process of its own, so that its peak RSS is its own: the
// library's put/get, the console's Store/Request (done when the traces say so), or a plain TCP
// copy on loopback, ITERS times for one size. The parent (bench/api.ts) forks it and gets a report.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Peer, PeerTrace } from '../src/peer.js';
import { createTestnet, type Testnet } from '../src/testnet.js';
import type { Trace } from '../src/core/trace.js';
import { freeBasePort } from '../test/helpers/ports.js';

export type Contender = 'api' | 'console' | 'tcp';
export interface ApiChildArgs {
  how: Contender;
  /** The bytes to move (the same file for every contender). */
  src: string;
  iters: number;
  /** A directory of this child's own, removed by the parent. */
  dir: string;
  peers: number;
  replicas: number;
}
export interface ApiPhase {
  op: string;
  /** Each operation's latency, in order. */
  ms: number[];
  /** VmRSS when the phase began (after a GC) and VmHWM at its end (the peak reset in between). */
  baseKiB: number;
  peakKiB: number;
}
export type ApiChildReport = { ok: true; phases: ApiPhase[]; peakReset: boolean } | { ok: false; error: string };

/** Untimed operations first: links opened, code warmed. */
const WARMUP_OPS = 20;
const WARMUP_BYTES = 1024;
/** One operation, or a console command's completion, at most this long. */
const OP_TIMEOUT_MS = 120_000;
/** Names tried to find ITERS whose holders leave the caller out. */
const NAME_TRIES_PER_OP = 50;

const args = JSON.parse(process.argv[2]!) as ApiChildArgs;
const size = statSync(args.src).size;
/** Above this the bytes are never held whole here: they go from the file, as a program would send them. */
const big = size > 1 << 20;
const bytes = big ? Buffer.alloc(0) : readFileSync(args.src);
const { sha } = await sha256Of(createReadStream(args.src));

function kib(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** Linux: writing 5 to clear_refs resets VmHWM to the current RSS. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

let peakReset = true;
async function phase(op: string, n: number, one: (i: number) => Promise<void>): Promise<ApiPhase> {
  global.gc?.();
  peakReset = resetPeak() && peakReset;
  const baseKiB = kib('VmRSS');
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await one(i);
    ms.push(performance.now() - t0);
  }
  return { op, ms, baseKiB, peakKiB: kib('VmHWM') };
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${OP_TIMEOUT_MS} ms`)), OP_TIMEOUT_MS)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** `count` names whose holders (owner and its k - 1 first successors) leave `caller` out: their bytes cross the network. */
async function remoteNames(caller: Peer, prefix: string, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count * NAME_TRIES_PER_OP && out.length < count; i++) {
    const name = `${prefix}-${i}`;
    const where = await caller.lookup(caller.space.keyOf(name));
    const holders = [where.owner, ...where.successors.slice(0, args.replicas - 1)];
    if (!holders.some((h) => h.id === caller.id)) out.push(name);
  }
  if (out.length < count) throw new Error(`only ${out.length} of ${count} names held away from the caller`);
  return out;
}

async function sha256Of(stream: AsyncIterable<Uint8Array>): Promise<{ sha: string; size: number }> {
  const h = createHash('sha256');
  let n = 0;
  for await (const c of stream) {
    h.update(c);
    n += c.length;
  }
  return { sha: h.digest('hex'), size: n };
}

// ---- the library ------------------------------------------------------------------------------

async function apiPhases(caller: Peer): Promise<ApiPhase[]> {
  const warm = await remoteNames(caller, 'warm', WARMUP_OPS);
  const small = randomBytes(WARMUP_BYTES);
  for (const n of warm) await within(caller.put(n, small), `warm-up put ${n}`);
  for (const n of warm) await within(caller.getBuffer(n), `warm-up get ${n}`);
  const names = await remoteNames(caller, 'api', args.iters);
  const put = await phase('put', names.length, async (i) => {
    const r = await within(caller.put(names[i]!, big ? { path: args.src } : bytes), `put ${names[i]}`);
    if (r.sha256 !== sha || r.holders.some((h) => h.id === caller.id)) throw new Error(`put ${names[i]}: ${r.sha256} held by ${r.holders.map((h) => h.id)}`);
  });
  const get = await phase('get', names.length, async (i) => {
    const got = big ? await within(sha256Of(caller.get(names[i]!)), `get ${names[i]}`) : await within(caller.getBuffer(names[i]!), `get ${names[i]}`).then((b) => ({ sha: createHash('sha256').update(b).digest('hex'), size: b.length }));
    if (got.sha !== sha || got.size !== size) throw new Error(`get ${names[i]}: ${got.size} bytes, sha256 ${got.sha}`);
  });
  return [put, get];
}

// ---- the console's Store and Request, their end seen in the traces ------------------------------

/** Resolves on the trace that ends a command, rejects on one that says it failed. */
function traceEnd(caller: Peer, name: string, done: (t: Trace) => boolean, failed: (t: Trace) => boolean): Promise<Trace> {
  return within(
    new Promise<Trace>((resolve, reject) => {
      const on = ({ trace: t }: PeerTrace) => {
        if (!('file' in t) || t.file !== name) return;
        if (done(t)) {
          caller.off('trace', on);
          resolve(t);
        } else if (failed(t)) {
          caller.off('trace', on);
          reject(new Error(`${name}: ${JSON.stringify(t, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`));
        }
      };
      caller.on('trace', on);
    }),
    name,
  );
}

function stored(caller: Peer, name: string): Promise<Trace> {
  const p = traceEnd(
    caller,
    name,
    (t) => t.kind === 'copy' && t.phase === 'sent',
    (t) => (t.kind === 'copy' && (t.phase === 'failed' || t.phase === 'missing')) || t.kind === 'store-accepted',
  );
  caller.coreTyped('store', name);
  return p;
}

function requested(caller: Peer, name: string): Promise<Trace> {
  const p = traceEnd(
    caller,
    name,
    (t) => t.kind === 'receive' && t.purpose === 'request' && t.phase === 'done',
    (t) => (t.kind === 'receive' && t.phase === 'failed') || t.kind === 'request-timeout' || t.kind === 'request-missing' || t.kind === 'request-busy',
  );
  caller.coreTyped('request', name);
  return p;
}

/** The console's files: placed in the caller's store directory before the clock starts. */
function place(caller: Peer, name: string, from: Buffer | string): void {
  const to = join(caller.storeDir, caller.space.fileOf(name));
  if (typeof from === 'string') linkSync(from, to);
  else writeFileSync(to, from);
}

async function consolePhases(ring: Testnet, caller: Peer): Promise<ApiPhase[]> {
  const warm = await remoteNames(caller, 'warm', WARMUP_OPS);
  const small = randomBytes(WARMUP_BYTES);
  for (const n of warm) {
    place(caller, n, small);
    await stored(caller, n);
  }
  for (const n of warm) await requested(caller, n);
  const names = await remoteNames(caller, 'console', args.iters);
  for (const n of names) place(caller, n, big ? args.src : bytes);
  const store = await phase('store', names.length, async (i) => {
    await stored(caller, names[i]!);
  });
  const dataDir = ring.dataDirOf(caller.id);
  const request = await phase('request', names.length, async (i) => {
    const t = await requested(caller, names[i]!);
    if (t.kind === 'receive' && t.from === caller.id) throw new Error(`${names[i]} was served by the caller itself`);
  });
  // the received copies, checked after the clock (a Request checks its bytes on the way as well)
  for (const n of names) {
    const file = join(dataDir, caller.space.receivedFileOf(n));
    const got = await sha256Of(createReadStream(file));
    if (got.sha !== sha) throw new Error(`received ${n}: sha256 ${got.sha}, ${got.size} bytes`);
    rmSync(file);
  }
  return [store, request];
}

// ---- the floor: a plain Node TCP copy ----------------------------------------------------------

async function tcpPhases(): Promise<ApiPhase[]> {
  let arrived: ((r: { sha: string; size: number }) => void) | undefined;
  let copies = 0;
  const server = net.createServer((sock) => {
    const dst = join(args.dir, `tcp-${copies++}.bin`);
    const h = createHash('sha256');
    let n = 0;
    const out = createWriteStream(dst);
    sock.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    sock.pipe(out);
    out.on('finish', () => {
      rmSync(dst, { force: true });
      arrived?.({ sha: h.digest('hex'), size: n });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const copy = (payload: Buffer | string): Promise<{ sha: string; size: number }> =>
    within(
      new Promise((resolve, reject) => {
        arrived = resolve;
        const sock = net.connect({ host: '127.0.0.1', port });
        sock.on('error', reject);
        sock.once('connect', () => {
          if (typeof payload === 'string') createReadStream(payload).on('error', reject).pipe(sock);
          else sock.end(payload);
        });
      }),
      'tcp copy',
    );
  try {
    const small = randomBytes(WARMUP_BYTES);
    for (let i = 0; i < WARMUP_OPS; i++) await copy(small);
    const p = await phase('copy', args.iters, async () => {
      const got = await copy(big ? args.src : bytes);
      if (got.sha !== sha || got.size !== size) throw new Error(`tcp copy: ${got.size} bytes, sha256 ${got.sha}`);
    });
    return [p];
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

async function main(): Promise<ApiChildReport> {
  if (args.how === 'tcp') return { ok: true, phases: await tcpPhases(), peakReset };
  const ids = Array.from({ length: args.peers }, (_, i) => i);
  const ring = await createTestnet({ runtime: 'node', bits: 16, count: args.peers, basePort: await freeBasePort(ids), dataDir: args.dir, perPeerDirs: true, replicas: args.replicas });
  try {
    const caller = [...ring.peers.values()][0]!;
    const phases = args.how === 'api' ? await apiPhases(caller) : await consolePhases(ring, caller);
    return { ok: true, phases, peakReset };
  } finally {
    await ring.close();
  }
}

const report: ApiChildReport = await main().catch((err: unknown) => ({ ok: false as const, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }));
process.send!(report, () => process.exit(0));
