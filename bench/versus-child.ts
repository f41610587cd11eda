// One ring of N peers in this process on 127.0.0.1, cdht (fingers) or hyperdht, measured for
// BENCH=versus (bench/versus.ts): idle CPU, traffic and event-loop delay, memory per peer after a
// GC, lookups and joins. Prints one JSON line (VersusResult) and exits by itself, within
// VERSUS_CHILD_MAX_MS even if a stage hangs (then with what it measured so far, `partial: true`).
// Run with --expose-gc:  node --expose-gc dist/bench/versus-child.js cdht|hyperdht N
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Id } from '../src/core/id-space.js';
import { createTestnet, type Testnet } from '../src/testnet.js';
import { mulberry32 } from '../src/util/prng.js';
import { freePortSpan } from '../test/helpers/ports.js';

export type System = 'cdht' | 'hyperdht';

export interface VersusResult {
  system: System;
  peers: number;
  /** True if the child ran out of time (VERSUS_CHILD_MAX_MS) and reports only the stages it finished. */
  partial: boolean;
  error?: string;
  buildS?: number;
  /** Idle window: process CPU per peer (ms of CPU a second), datagrams and TCP writes a second per peer. */
  idleCpuMsPerS?: number;
  idleDatagramsPerS?: number;
  idleTcpWritesPerS?: number;
  /** Event-loop delay p99 over the idle window, ms. */
  loopDelayP99Ms?: number;
  /** Added per peer after a GC, KiB. */
  rssKiB?: number;
  heapKiB?: number;
  /** Median routing table size after the warm-up (cdht: distinct live fingers; hyperdht: its routing table). */
  tableMedian?: number;
  lookups?: number;
  lookupP50Ms?: number;
  lookupP99Ms?: number;
  /** Lookups with no (or, for cdht, a wrong) answer within LOOKUP_TIMEOUT_MS. */
  lookupsMissed?: number;
  joins?: number;
  joinP50Ms?: number;
  joinP99Ms?: number;
  /** Joins that finished within JOIN_TIMEOUT_MS. */
  joinsDone?: number;
  /** hyperdht only: joins of a persistent node, a member others route through (cdht's joins above all are). */
  memberJoins?: number;
  memberJoinP50Ms?: number;
  memberJoinP99Ms?: number;
  memberJoinsDone?: number;
}

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
/** As bench/routing.ts: fix_fingers fills cdht's tables in about 15 s; hyperdht gets the same. */
const WARMUP_MS = num('VERSUS_WARMUP_MS', 15_000);
const IDLE_MS = num('VERSUS_IDLE_MS', 20_000);
/** cdht's ping (and fix_fingers) interval: the testnet's default and bench/routing.ts's (`cdht node` defaults to 5 s). */
export const CDHT_PING_MS = num('VERSUS_PING_MS', 1000);
const LOOKUPS = num('VERSUS_LOOKUPS', 200);
const LOOKUP_TIMEOUT_MS = 5_000;
const JOINS = num('VERSUS_JOINS', 20);
const JOIN_TIMEOUT_MS = 15_000;
/** Lookups, and joins, stop after this long even if fewer than asked for were made (a saturated ring). */
const STAGE_MAX_MS = num('VERSUS_STAGE_MAX_MS', 90_000);
/** Stopping the ring at the end, at most. */
const CLOSE_TIMEOUT_MS = 30_000;
const CHILD_MAX_MS = num('VERSUS_CHILD_MAX_MS', 360_000);

/** What the bench needs of a ring, whichever system runs it. */
interface Ring {
  /** Datagrams and TCP writes sent by the ring's peers so far. */
  sent(): { datagrams: number; writes: number };
  /** One lookup of a random key from a random member: true if answered (and right, where checkable). */
  lookup(rand: () => number): Promise<boolean>;
  /**
   * One new peer joins through a random member and leaves again: ms until it was in, undefined if
   * not within JOIN_TIMEOUT_MS. `member`: as a full member of the routing (a cdht join always is;
   * hyperdht: a persistent node), otherwise as the system's own testnet adds a node (hyperdht:
   * `createNode()`, ephemeral: it bootstraps but others do not route through it).
   */
  join(rand: () => number, member: boolean): Promise<number | undefined>;
  /** Each member's routing table size: cdht's distinct live fingers, hyperdht's routing table. */
  tables(): number[];
  close(): Promise<void>;
}

// Every datagram and TCP write of this process, counted where they are sent: cdht's transport uses
// dgram and net; hyperdht sends through udx-native sockets (whose own transmit counters stay at 0
// for datagrams, so their send and trySend are counted too, once a ring shows their class).
const counted = { datagrams: 0, writes: 0 };
function countUdx(socket: object): void {
  const udx = Object.getPrototypeOf(socket) as { send: (...a: unknown[]) => unknown; trySend: (...a: unknown[]) => unknown };
  const [send, trySend] = [udx.send, udx.trySend];
  udx.send = function (this: unknown, ...a: unknown[]) {
    counted.datagrams++;
    return send.apply(this, a);
  };
  udx.trySend = function (this: unknown, ...a: unknown[]) {
    counted.datagrams++;
    return trySend.apply(this, a);
  };
}
function countSends(): void {
  const udp = dgram.Socket.prototype as unknown as { send: (...a: unknown[]) => unknown };
  const udpSend = udp.send;
  udp.send = function (this: unknown, ...a: unknown[]) {
    counted.datagrams++;
    return udpSend.apply(this, a);
  };
  const tcp = net.Socket.prototype as unknown as { write: (...a: unknown[]) => unknown };
  const tcpWrite = tcp.write;
  tcp.write = function (this: unknown, ...a: unknown[]) {
    counted.writes++;
    return tcpWrite.apply(this, a);
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** `p`, or `fallback` once `ms` has passed. */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function cdhtRing(peers: number): Promise<Ring> {
  // ports base .. base + peers + JOINS, all free and below the ephemeral range
  const basePort = await freePortSpan(peers + JOINS + 8);
  const tn: Testnet = await createTestnet({ bits: 32, count: peers, routing: 'fingers', basePort, pingIntervalMs: CDHT_PING_MS, settled: true, seedFingers: false });
  const pick = (ids: Id[], rand: () => number) => ids[Math.floor(rand() * ids.length)]!;
  return {
    sent: () => ({ ...counted }),
    async lookup(rand) {
      const ids = tn.runningIds();
      const key = BigInt(Math.floor(rand() * 2 ** 32));
      try {
        const r = await tn.peer(pick(ids, rand))!.lookup(key, { timeoutMs: LOOKUP_TIMEOUT_MS });
        return r.owner.id === tn.space.ownerOf(key, ids);
      } catch {
        return false;
      }
    },
    async join(rand) {
      const ids = tn.runningIds();
      let id = BigInt(Math.floor(rand() * 2 ** 32));
      while (tn.peer(id)) id = BigInt(Math.floor(rand() * 2 ** 32));
      const t0 = performance.now();
      const p = await tn.join(id, pick(ids, rand), JOIN_TIMEOUT_MS);
      const ms = p.isInRing ? performance.now() - t0 : undefined;
      await within(p.isInRing ? tn.quit(id) : p.kill(), 10_000, undefined);
      return ms;
    },
    tables: () => tn.runningIds().map((id) => tn.peer(id)!.snapshot().fingers?.length ?? 0),
    close: () => tn.close(),
  };
}

async function hyperdhtRing(peers: number): Promise<Ring> {
  const { default: createHyperTestnet } = await import('@hyperswarm/testnet');
  const { default: HyperDHT } = await import('hyperdht');
  const tn = await createHyperTestnet(peers, { host: '127.0.0.1' });
  const members = [...tn.nodes];
  const socket = members[0]?.io.serverSocket;
  if (!socket) throw new Error('hyperdht testnet: no socket to count sends on');
  countUdx(socket);
  const pick = (rand: () => number) => members[Math.floor(rand() * members.length)]!;
  return {
    sent: () => ({ ...counted }),
    async lookup(rand) {
      const q = pick(rand).findNode(randomBytes(32));
      const ok = await within(
        q.finished().then(
          () => q.closestReplies.length > 0,
          () => false,
        ),
        LOOKUP_TIMEOUT_MS,
        false,
      );
      q.destroy();
      return ok;
    },
    async join(_rand, member) {
      // a member like the testnet's own (persistent, not firewalled), or a node as its createNode() makes one
      const node = member ? new HyperDHT({ ephemeral: false, firewalled: false, bootstrap: tn.bootstrap, host: '127.0.0.1' }) : new HyperDHT({ ephemeral: true, bootstrap: tn.bootstrap, host: '127.0.0.1' });
      const t0 = performance.now();
      const ok = await within(
        node.fullyBootstrapped().then(
          () => true,
          () => false,
        ),
        JOIN_TIMEOUT_MS,
        false,
      );
      const ms = ok ? performance.now() - t0 : undefined;
      await within(node.destroy(), 10_000, undefined);
      return ms;
    },
    tables: () => members.map((m) => (m as unknown as { table: { toArray(): unknown[] } }).table.toArray().length),
    close: () => tn.destroy(),
  };
}

const quantile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : NaN;
};
const round = (x: number, d = 3) => Number(x.toFixed(d));

async function measure(system: System, peers: number, out: VersusResult): Promise<Ring> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const ring = system === 'cdht' ? await cdhtRing(peers) : await hyperdhtRing(peers);
  current = ring;
  out.buildS = round((performance.now() - t0) / 1000, 1);
  await sleep(WARMUP_MS);

  gc?.();
  const after = process.memoryUsage();
  out.rssKiB = round((after.rss - before.rss) / 1024 / peers, 1);
  out.heapKiB = round((after.heapUsed - before.heapUsed) / 1024 / peers, 1);
  out.tableMedian = quantile(ring.tables(), 0.5);

  const loop = monitorEventLoopDelay({ resolution: 10 });
  const sent0 = ring.sent();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  loop.enable();
  await sleep(IDLE_MS);
  loop.disable();
  const secs = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sent1 = ring.sent();
  out.idleCpuMsPerS = round((cpu.user + cpu.system) / 1000 / secs / peers);
  out.idleDatagramsPerS = round((sent1.datagrams - sent0.datagrams) / secs / peers);
  out.idleTcpWritesPerS = round((sent1.writes - sent0.writes) / secs / peers);
  out.loopDelayP99Ms = round(loop.percentile(99) / 1e6);

  const rand = mulberry32(peers);
  const lookups0 = performance.now();
  for (let i = 0; i < LOOKUPS && performance.now() - lookups0 < STAGE_MAX_MS; i++) {
    const l0 = performance.now();
    const ok = await ring.lookup(rand);
    progress.lookups++;
    if (ok) progress.lookupMs.push(performance.now() - l0);
  }
  // cdht's joins are all members; hyperdht's alternate between createNode()'s kind and a persistent member
  const joins0 = performance.now();
  for (let i = 0; i < JOINS && performance.now() - joins0 < STAGE_MAX_MS; i++) {
    const member = system === 'cdht' || i % 2 === 1;
    const ms = await ring.join(rand, member);
    const kind = system === 'cdht' || !member ? progress.join : progress.memberJoin;
    kind.tried++;
    if (ms !== undefined) kind.ms.push(ms);
  }
  return ring;
}

let current: Ring | undefined;
/** Lookups and joins so far: a child stopped by its watchdog still reports the ones it made. */
const progress = { lookups: 0, lookupMs: [] as number[], join: { tried: 0, ms: [] as number[] }, memberJoin: { tried: 0, ms: [] as number[] } };

function finish(out: VersusResult): never {
  const { lookups, lookupMs, join, memberJoin } = progress;
  if (lookups) Object.assign(out, { lookups, lookupsMissed: lookups - lookupMs.length, lookupP50Ms: round(quantile(lookupMs, 0.5)), lookupP99Ms: round(quantile(lookupMs, 0.99)) });
  if (join.tried) Object.assign(out, { joins: join.tried, joinsDone: join.ms.length, joinP50Ms: round(quantile(join.ms, 0.5), 1), joinP99Ms: round(quantile(join.ms, 0.99), 1) });
  if (memberJoin.tried) Object.assign(out, { memberJoins: memberJoin.tried, memberJoinsDone: memberJoin.ms.length, memberJoinP50Ms: round(quantile(memberJoin.ms, 0.5), 1), memberJoinP99Ms: round(quantile(memberJoin.ms, 0.99), 1) });
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

const system = process.argv[2] as System;
const peers = Number(process.argv[3] ?? 64);
if ((system !== 'cdht' && system !== 'hyperdht') || !(peers > 0)) {
  console.error('usage: node --expose-gc dist/bench/versus-child.js cdht|hyperdht N');
  process.exit(2);
}
countSends();
const out: VersusResult = { system, peers, partial: false };
const watchdog = setTimeout(() => {
  out.partial = true;
  finish(out);
}, CHILD_MAX_MS);
try {
  await measure(system, peers, out);
} catch (e) {
  out.error = e instanceof Error ? e.message : String(e);
}
clearTimeout(watchdog);
if (current) await within(current.close(), CLOSE_TIMEOUT_MS, undefined);
finish(out);
