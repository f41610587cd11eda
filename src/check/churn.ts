// Requests under churn: a ring of real peers (simulated, or on real sockets) loses one peer and
// gains one every churnEveryMs while Requests of stored files keep coming from random peers.
// Counts the Requests that succeed and, once the churn stops and the ring settles, the files
// lost (no live peer holds them) and those short of their k copies. The bench's figure, and a
// smaller test.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SUCCESSORS, RING_REPLICAS, TESTNET_PING_INTERVAL_MS, type PeerSettings } from '../core/config.js';
import type { Id } from '../core/id-space.js';
import { SPEC_SPACE } from '../core/id-space.js';
import type { Trace } from '../core/trace.js';
import type { PeerTrace } from '../peer.js';
import { createTestnet, type Testnet } from '../testnet.js';
import { mulberry32 } from '../util/prng.js';
import { ID_COUNT, contentOf } from './scenario.js';

/** r and k as core/config.ts declares them (default: the ring's, 4 and 3). */
export interface ChurnOptions extends Pick<PeerSettings, 'successors' | 'replicas'> {
  runtime: 'sim' | 'node';
  peers: number;
  /** Files stored before the churn starts. */
  files: number;
  fileBytes: number;
  /** A kill and a join this often. */
  churnEveryMs: number;
  durationMs: number;
  /** A Request this often. */
  requestEveryMs: number;
  seed: number;
  pingIntervalMs?: number;
  /** Real sockets: the base port (ids 0..255 above it must be free) and the data directory. */
  basePort?: number;
  dataDir?: string;
}

export interface ChurnResult {
  requests: number;
  succeeded: number;
  failed: number;
  /** Requests whose requester was killed before the answer came (not counted either way). */
  abandoned: number;
  /** Why the first failures failed. */
  reasons: string[];
  kills: number;
  joins: number;
  /** Joins that did not get in (refused or timed out). */
  joinsFailed: number;
  files: number;
  /** Files no live peer holds after the ring settled. */
  lost: number;
  /** Files held, but not by all of their min(k, live) right peers. */
  shortOfCopies: number;
  /** Virtual (sim) or wall (node) time of the whole run, ms. */
  elapsedMs: number;
  events?: number;
}

/** Time the ring gets to settle after the churn stops before the files are counted. */
const SETTLE_MS = 30_000;
/** Time the stores get before the churn starts. */
const STORE_MS = 15_000;
const MAX_REASONS = 10;

interface Pending {
  requester: number;
  file: string;
  outcome?: string;
}

export async function churn(o: ChurnOptions): Promise<ChurnResult> {
  const rand = mulberry32(o.seed >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const order = Array.from({ length: ID_COUNT }, (_, i) => i).sort(() => rand() - 0.5);
  const ids = order.slice(0, o.peers);
  const dataDir = o.dataDir ?? 'churn';
  const net: Testnet = await createTestnet({
    runtime: o.runtime,
    seed: o.seed,
    ids,
    pingIntervalMs: o.pingIntervalMs ?? TESTNET_PING_INTERVAL_MS,
    perPeerDirs: true,
    dataDir,
    successors: o.successors ?? DEFAULT_SUCCESSORS,
    replicas: o.replicas ?? RING_REPLICAS,
    ...(o.basePort !== undefined ? { basePort: o.basePort } : {}),
  });
  const sim = net.sim;
  const dirOf = (id: number) => net.dataDirOf(id);
  const write = (id: number, name: string, bytes: Uint8Array) => {
    if (sim) return sim.disk.write(dirOf(id), name, bytes);
    mkdirSync(dirOf(id), { recursive: true });
    writeFileSync(join(dirOf(id), name), bytes);
  };
  const has = (id: number, name: string): boolean => (sim ? sim.disk.size(dirOf(id), name) !== undefined : existsSync(join(dirOf(id), name)));
  const read = (id: number, name: string): Uint8Array | undefined => (sim ? sim.disk.read(dirOf(id), name) : existsSync(join(dirOf(id), name)) ? readFileSync(join(dirOf(id), name)) : undefined);
  const live = () => net.runningIds().map(Number);
  const t0 = performance.now();
  const started = sim?.now() ?? 0;

  const pending = new Map<string, Pending>();
  const r: ChurnResult = { requests: 0, succeeded: 0, failed: 0, abandoned: 0, reasons: [], kills: 0, joins: 0, joinsFailed: 0, files: o.files, lost: 0, shortOfCopies: 0, elapsedMs: 0 };
  const settle = (p: Pending, outcome: string) => {
    if (p.outcome !== undefined) return;
    p.outcome = outcome;
    pending.delete(`${p.requester}:${p.file}`);
    if (outcome === 'ok') r.succeeded++;
    else {
      r.failed++;
      if (r.reasons.length < MAX_REASONS) r.reasons.push(`Request ${p.file} at Peer ${p.requester}: ${outcome}`);
    }
  };
  net.on('trace', ({ id, trace: t }: PeerTrace) => {
    const outcome = requestOutcome(t);
    if (!outcome) return;
    const p = pending.get(`${id}:${outcome.file}`);
    if (!p) return;
    if (outcome.ok && !t.kind.startsWith('serve') && !(read(Number(id), SPEC_SPACE.receivedFileOf(outcome.file))?.length === o.fileBytes)) {
      return settle(p, 'received, but the bytes are not there');
    }
    settle(p, outcome.ok ? 'ok' : outcome.why);
  });
  net.on('neighbours', ({ id }: { id: Id }) => {
    // a requester that died takes its requests along
    if (net.peer(id)?.isRunning) return;
    for (const p of [...pending.values()]) {
      if (p.requester === Number(id)) {
        pending.delete(`${p.requester}:${p.file}`);
        r.abandoned++;
      }
    }
  });

  // the files, each stored from a random peer
  await net.run(5_000);
  const names: string[] = [];
  const used = new Set<string>();
  while (names.length < o.files) {
    const name = String(Math.floor(rand() * 10_000)).padStart(4, '0');
    if (used.has(name)) continue;
    used.add(name);
    names.push(name);
    const origin = pick(live());
    write(origin, SPEC_SPACE.fileOf(name), contentOf(name, o.fileBytes));
    net.peer(origin)!.coreTyped('store', name);
  }
  await net.run(STORE_MS);

  // the churn: requests all along, a kill and a join every churnEveryMs
  const steps = Math.floor(o.durationMs / o.requestEveryMs);
  const churnEvery = Math.max(1, Math.round(o.churnEveryMs / o.requestEveryMs));
  const dead: number[] = [];
  for (let i = 1; i <= steps; i++) {
    const now = live();
    const requester = pick(now);
    const file = pick(names);
    const key = `${requester}:${file}`;
    if (!pending.has(key)) {
      const p: Pending = { requester, file };
      pending.set(key, p);
      r.requests++;
      net.peer(requester)!.coreTyped('request', file);
    }
    if (i % churnEvery === 0) {
      const victim = pick(now);
      void net.kill(victim);
      dead.push(victim);
      r.kills++;
      const fresh = order.find((x) => !net.peer(x));
      const back = dead.filter((x) => !net.peer(x)?.isRunning && x !== victim);
      const joiner = fresh ?? (back.length ? pick(back) : undefined);
      const via = pick(now.filter((x) => x !== victim));
      if (joiner !== undefined && via !== undefined) {
        const p = net.start({ id: joiner, mode: { kind: 'join', known: net.contactOf(via) } });
        r.joins++;
        p.ready.catch(() => r.joinsFailed++);
      }
    }
    await net.run(o.requestEveryMs);
  }
  // what is still out gets its answer (or its timeout), then the ring settles
  await net.until(() => pending.size === 0, 20_000);
  for (const p of [...pending.values()]) settle(p, 'no answer by the end');
  await net.run(SETTLE_MS);

  const order2 = live().map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const k = Math.min(o.replicas ?? RING_REPLICAS, order2.length);
  for (const name of names) {
    const holders = order2.filter((id) => has(Number(id), SPEC_SPACE.fileOf(name)));
    if (holders.length === 0) {
      r.lost++;
      continue;
    }
    const owner = SPEC_SPACE.ownerOf(SPEC_SPACE.keyOf(name), order2)!;
    const at = order2.indexOf(owner);
    const right = Array.from({ length: k }, (_, j) => order2[(at + j) % order2.length]!);
    if (right.some((id) => !holders.includes(id))) r.shortOfCopies++;
  }
  r.elapsedMs = sim ? sim.now() - started : performance.now() - t0;
  if (sim) r.events = sim.stats().eventsProcessed;
  await net.close();
  return r;
}

/** What a trace at a requester says about its Request of `file`, if anything. */
function requestOutcome(t: Trace): { file: string; ok: true } | { file: string; ok: false; why: string } | undefined {
  switch (t.kind) {
    case 'receive':
      if (t.purpose !== 'request' || t.phase === 'start') return undefined;
      return t.phase === 'done' ? { file: t.file, ok: true } : { file: t.file, ok: false, why: `transfer from Peer ${t.from} failed: ${t.error ?? ''}` };
    case 'serve':
      if (!t.local || t.phase === 'sent') return undefined;
      return t.phase === 'start' ? { file: t.file, ok: true } : { file: t.file, ok: false, why: 'the requester owns it and lacks it' };
    case 'request-missing':
      return { file: t.file, ok: false, why: `Peer ${t.from} does not have it` };
    case 'request-timeout':
      return { file: t.file, ok: false, why: `no answer within ${t.seconds} s` };
    case 'request-busy':
      return { file: t.file, ok: false, why: `Peer ${t.from} busy, gave up` };
    default:
      return undefined;
  }
}
