// A whole ring of peers in one process, on real sockets or on the simulator: the tests,
// the `cdht ring` runner (through the controller), the checker and the benchmarks all start
// rings through here.
import { CdhtError } from './core/errors.js';
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join as joinPath } from 'node:path';
import type { Contact } from './core/contact.js';
import { checkConfig, DEFAULT_BASE_PORT, DEFAULT_HOST, DEFAULT_RING_PEERS, DEFAULT_SIM_SEED, DEFAULT_SUCCESSORS, settingsOf, TESTNET_PING_INTERVAL_MS, type PeerSettings } from './core/config.js';
import type { Id } from './core/id-space.js';
import { IdSpace } from './core/id-space.js';
import { defaultContact, idSpace } from './space.js';
import { ringSuccessors, staleSuccessors } from './core/ring.js';
import { Peer } from './peer.js';
import type { IdLike, PeerExit, PeerLine, PeerOptions, PeerTrace } from './peer.js';
import { createNodeRuntime, DEFAULT_LIMITS, type Limits } from './transport/node/endpoint.js';
import { SimNetwork } from './transport/sim/network.js';
import type { Runtime, TlsIdentity } from './transport/types.js';

/** Above this many peers in one process each keeps at most LINKS_WHEN_MANY links it dialed open (descriptors are shared). */
const MANY_PEERS = 300;
const LINKS_WHEN_MANY = 6;
/** How long a new ring's peers get to be up. */
const START_WAIT_MS = 10_000;

/** True once every promise has settled, false if `ms` passes first. */
function allSettledWithin(all: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([Promise.allSettled(all).then(() => true), late]).finally(() => clearTimeout(timer));
}

/** The spec's Figure 1. */
export const REFERENCE_RING: readonly Id[] = [2n, 4n, 5n, 8n, 9n, 14n, 19n];

/**
 * A ring's options. Its peers' settings (PeerSettings: routing, successors, replicas, pingMisses,
 * maxFileBytes, requestTimeoutMs, originProofs, collectSurplus) reach every peer untouched and
 * are defaulted by the Peer (core/config.ts, the library's defaults).
 */
export interface TestnetOptions extends PeerSettings {
  /** The peers' ids (default: the reference ring; above 8 bits, `count` ids derived from addresses). */
  ids?: readonly IdLike[];
  /** Id space size in bits (default 8, the specification's). */
  bits?: number;
  /** Above 8 bits: how many peers, each id derived from its address (port basePort + i). */
  count?: number;
  /**
   * Above 8 bits, one ring over several processes: this process starts only its share of the
   * `count` peers (ports basePort + i for i in slice `index` of `of` equal runs), each knowing the
   * whole ring's ids and contacts (derived from addresses) so its successors and fingers may live
   * in another process; init's start-up grace covers peers there started a moment later.
   */
  slice?: RingSlice;
  /** Each peer starts knowing its true first r successors, not just two (a settled ring, for large runs). */
  settled?: boolean;
  /** With `settled` and routing by fingers: fill the finger tables from the true ring too (default true). */
  seedFingers?: boolean;
  /**
   * A private ring. On the simulator each peer holds a stand-in certificate for its id (the
   * simulator delivers the sender's id as proven); on sockets, `identities` gives real ones.
   */
  secure?: boolean;
  /** Credentials per peer for a private ring on sockets (e.g. from createThrowawayRing). */
  identityFor?: (id: Id) => TlsIdentity;
  /** Bounds of the Node transport (e.g. fewer links per peer); see DEFAULT_LIMITS. */
  limits?: Partial<Limits>;
  /** Called (and awaited) before a peer starts through create() or join(): issue its credentials. */
  prepareIdentity?: (id: Id) => Promise<void>;
  /** 'node' (default): real sockets on loopback; 'sim': the deterministic simulator. */
  runtime?: 'node' | 'sim';
  /** The simulated network to use (runtime 'sim'); a new one with `seed` otherwise. */
  sim?: SimNetwork;
  seed?: number;
  pingIntervalMs?: number;
  basePort?: number;
  host?: string;
  /** Data directory; with perPeerDirs each peer gets `<dataDir>/peer-<id>`. */
  dataDir?: string;
  perPeerDirs?: boolean;
  /** How long a new ring's peers get to be up (default START_WAIT_MS); a test sets an hour to show nothing waits it out. */
  startWaitMs?: number;
}

/** Share `index` (0-based) of `of` shares of a ring spread over several processes. */
export interface RingSlice {
  index: number;
  of: number;
}

/** The port offsets [from, to) of share `index` of `of` in a ring of `count` peers: equal runs, the first ones one longer. */
export function sliceRange(count: number, slice: RingSlice): { from: number; to: number } {
  const at = (k: number) => k * Math.floor(count / slice.of) + Math.min(k, count % slice.of);
  return { from: at(slice.index), to: at(slice.index + 1) };
}

/** Emits 'trace' (PeerTrace) and 'line' (PeerLine) for every peer, and 'neighbours' ({id}) on changes. */
export class Testnet extends EventEmitter {
  readonly peers = new Map<Id, Peer>();
  readonly sim: SimNetwork | undefined;
  readonly runtime: Runtime;
  readonly opts: TestnetOptions;
  readonly space: IdSpace;
  /** Above 8 bits ports are not derived from ids: each peer gets the next free one (or the one start() was given). */
  private readonly addresses = new Map<Id, Contact>();
  private nextPort: number;
  /** Every peer of the ring as planned, in every process when sliced (sorted). */
  private planned: Id[] = [];
  /**
   * Each peer's forwarders of its lines and traces to this testnet's listeners: attached only
   * while this testnet has listeners for them, as a peer renders no line that nobody hears.
   */
  private readonly forwarders = new Map<Peer, { line: (l: PeerLine) => void; trace: (t: PeerTrace) => void }>();

  private constructor(opts: TestnetOptions) {
    super();
    this.setMaxListeners(0);
    // 'newListener' comes before the listener is added, 'removeListener' after it is gone
    this.on('newListener', (event: string | symbol) => {
      if ((event === 'line' || event === 'trace') && this.listenerCount(event) === 0) for (const p of this.forwarders.keys()) this.forward(p, event, true);
    });
    this.on('removeListener', (event: string | symbol) => {
      if ((event === 'line' || event === 'trace') && this.listenerCount(event) === 0) for (const p of this.forwarders.keys()) this.forward(p, event, false);
    });
    this.opts = opts;
    this.space = idSpace(opts.bits);
    // a setting out of range is refused before a socket is opened, in the words a Peer would use
    checkConfig(settingsOf(opts), { space: this.space, surface: 'library' });
    this.nextPort = opts.basePort ?? DEFAULT_BASE_PORT;
    if (opts.slice) checkSlice(opts, this.space);
    if (opts.runtime === 'sim') {
      this.sim = opts.sim ?? new SimNetwork({ seed: opts.seed ?? DEFAULT_SIM_SEED });
      this.runtime = this.sim.runtime();
    } else {
      this.sim = undefined;
      // every peer here connects from this one host, so the cap per remote host (which keeps one
      // outside host from taking every slot) would only turn our own peers away; and many peers in
      // one process share its file descriptors, so each keeps fewer links open
      const total = opts.ids?.length ?? opts.count ?? 0;
      const here = opts.slice ? sliceRange(total, opts.slice) : { from: 0, to: total };
      const many = here.to - here.from > MANY_PEERS;
      const own: Partial<Limits> = { maxInboundPerHost: DEFAULT_LIMITS.maxInboundConnections, ...(many ? { maxOutboundLinks: LINKS_WHEN_MANY } : {}) };
      this.runtime = createNodeRuntime({ limits: { ...own, ...opts.limits } });
    }
  }

  /** Starts the ring (every peer with its next two clockwise as successors) and waits until all are up. */
  static async create(opts: TestnetOptions = {}): Promise<Testnet> {
    const net = new Testnet(opts);
    const ids = net.initialIds();
    net.planned = IdSpace.sort(new Set(ids));
    const mine = net.ownIds();
    if (opts.secure && opts.prepareIdentity) for (const id of mine) await opts.prepareIdentity(id);
    const succ = ringSuccessors(ids, opts.settled ? (opts.successors ?? DEFAULT_SUCCESSORS) : 2);
    const seedFingers = opts.settled && opts.routing === 'fingers' && opts.seedFingers !== false;
    const sorted = seedFingers ? net.planned : [];
    for (const id of mine) {
      const s = succ.get(id)!;
      const fingers = seedFingers ? fingerPeers(net.space, sorted, id).map((x) => net.contactOf(x)) : undefined;
      net.start({ id, mode: { kind: 'init', successors: s.map((x) => net.contactOf(x)), ...(fingers ? { fingers } : {}) } });
    }
    const all = [...net.peers.values()];
    // counted as they come: checking every peer after every event would be quadratic in a large ring
    let settled = 0;
    for (const p of all) {
      const done = () => settled++;
      p.ready.then(done, done);
    }
    // On sockets wait on the promises themselves: `until` looks again only when a line or a
    // neighbour change comes, and a lone peer, ready at once, has nothing more to say (it waited 10 s).
    const waitMs = opts.startWaitMs ?? START_WAIT_MS;
    const ok = net.sim ? await net.until(() => settled === all.length, waitMs) : await allSettledWithin(all.map((p) => p.ready), waitMs);
    const failed = all.filter((p) => !p.isInRing);
    if (!ok || failed.length) {
      const why = await Promise.all(failed.map(async (p) => (p.isClosed ? (await p.closed).reason : `not up within ${waitMs / 1000} s`)));
      await net.close();
      throw new CdhtError('CDHT_ERR_NOT_STARTED', `peers ${failed.map((p) => net.space.format(p.id)).join(', ')} did not start: ${summarize(failed.map((p, i) => [net.space.format(p.id), why[i]!]))}`);
    }
    return net;
  }

  /** The ids this process starts: all of them, or its slice's (by port offset, so every process agrees). */
  private ownIds(): Id[] {
    const o = this.opts;
    if (!o.slice) return [...this.planned];
    const base = o.basePort ?? DEFAULT_BASE_PORT;
    const { from, to } = sliceRange(o.count ?? DEFAULT_RING_PEERS, o.slice);
    return [...this.addresses.values()].filter((c) => c.port >= base + from && c.port < base + to).map((c) => c.id);
  }

  /** Every peer of the ring as started, in this process and (when sliced) in the others: for owners and true successors. */
  ringIds(): readonly Id[] {
    return this.planned;
  }

  private initialIds(): Id[] {
    const o = this.opts;
    if (o.ids) return o.ids.map((x) => BigInt(x));
    if (this.space.spec) return [...REFERENCE_RING];
    const count = o.count ?? DEFAULT_RING_PEERS;
    const host = o.host ?? DEFAULT_HOST;
    const ids: Id[] = [];
    for (let i = 0; i < count; i++) {
      const port = this.nextPort++;
      const id = this.space.idOfAddress(host, port);
      if (this.addresses.has(id)) continue; // a hash collision: one peer fewer
      this.addresses.set(id, { id, host, port });
      ids.push(id);
    }
    return ids;
  }

  /**
   * Where peer `id` listens: where start() placed it if told, else the reference layout in the
   * 8-bit space and the next free port above it.
   */
  contactOf(id: IdLike): Contact {
    const x = BigInt(id);
    const host = this.opts.host ?? DEFAULT_HOST;
    const placed = this.addresses.get(x);
    if (placed) return placed;
    if (this.space.spec) return defaultContact(x, host, this.opts.basePort ?? DEFAULT_BASE_PORT);
    const c = { id: x, host, port: this.nextPort++ };
    this.addresses.set(x, c);
    return c;
  }

  /** A private ring's credentials for `id`. */
  private identity(id: Id): TlsIdentity {
    if (this.opts.identityFor) return this.opts.identityFor(id);
    if (this.sim) return simIdentity(id);
    throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'a private ring on sockets needs identityFor');
  }

  /** The peer with this id (running or not), if this ring ever started one. */
  peer(id: IdLike): Peer | undefined {
    return this.peers.get(BigInt(id));
  }

  dataDirOf(id: IdLike): string {
    const base = this.opts.dataDir ?? (this.sim ? 'data' : process.cwd());
    if (!this.opts.perPeerDirs) return base;
    const dir = joinPath(base, `peer-${id}`);
    if (!this.sim) mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Starts one peer (not waiting for it); its lines and traces are re-emitted by the testnet.
   * `contact` and `dataDir` place it elsewhere than this ring's layout (contactOf, dataDirOf): a
   * caller with addresses of its own (the checker's slots); the contact is then the peer's for good.
   */
  start(p: { id: IdLike; mode: PeerOptions['mode']; contact?: Contact; dataDir?: string }): Peer {
    const id = BigInt(p.id);
    const old = this.peers.get(id);
    if (old?.isRunning) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `Peer ${p.id} is already running here`);
    const o = this.opts;
    if (p.contact) this.addresses.set(id, p.contact);
    const self = this.contactOf(id);
    // ids name peers of this ring: placed where this ring put them (ports are not ids above 8 bits)
    const m = p.mode;
    const mode: PeerOptions['mode'] =
      m.kind === 'join'
        ? { kind: 'join', known: typeof m.known === 'object' ? m.known : this.contactOf(m.known) }
        : { ...m, successors: m.successors.map((x) => (typeof x === 'object' ? x : this.contactOf(x))) };
    const peer = new Peer({
      id,
      mode,
      space: this.space,
      host: self.host,
      port: self.port,
      pingIntervalMs: o.pingIntervalMs ?? TESTNET_PING_INTERVAL_MS,
      // on the simulator each peer's timers are its own, so they wait while it is paused (SimNetwork's pause rule)
      runtime: this.sim ? this.sim.runtime(self) : this.runtime,
      dataDir: p.dataDir ?? this.dataDirOf(p.id),
      ...(o.basePort !== undefined ? { basePort: o.basePort } : {}),
      ...settingsOf(o),
      ...(o.secure ? { tls: this.identity(id) } : {}),
    });
    this.forwarders.set(peer, { line: (l: PeerLine) => this.emit('line', l), trace: (t: PeerTrace) => this.emit('trace', t) });
    for (const event of ['line', 'trace'] as const) if (this.listenerCount(event) > 0) this.forward(peer, event, true);
    peer.on('neighbours', () => this.emit('neighbours', { id }));
    peer.on('exit', () => {
      // a stopped peer tells nothing more: the map keeps only the living
      this.forwarders.delete(peer);
      this.emit('neighbours', { id });
    });
    this.peers.set(id, peer);
    return peer;
  }

  /** Starts `id` joining through `via` (default: the lowest running id) and waits until it is in or gave up. */
  async join(id: IdLike, via?: IdLike, maxMs = 15_000): Promise<Peer> {
    const known = via ?? this.runningIds()[0];
    if (known === undefined) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'no running peer to join through');
    if (this.opts.secure) await this.opts.prepareIdentity?.(BigInt(id));
    const peer = this.start({ id, mode: { kind: 'join', known: this.contactOf(known) } });
    await this.until(() => peer.isInRing || peer.isClosed, maxMs);
    return peer;
  }

  kill(id: IdLike): Promise<unknown> {
    return this.mustGet(id).kill();
  }

  /** Graceful departure; on the simulator this also runs virtual time until the peer is gone. */
  async quit(id: IdLike, maxMs = 10_000): Promise<PeerExit> {
    const peer = this.mustGet(id);
    const closed = peer.quit();
    if (this.sim) await this.until(() => peer.isClosed, maxMs);
    return closed;
  }

  private mustGet(id: IdLike): Peer {
    const p = this.peers.get(BigInt(id));
    if (!p) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `no Peer ${id} in this ring`);
    return p;
  }

  private forward(peer: Peer, event: 'line' | 'trace', on: boolean): void {
    const f = this.forwarders.get(peer);
    if (!f) return;
    if (on) peer.on(event, f[event] as never);
    else peer.off(event, f[event] as never);
  }

  runningIds(): Id[] {
    return IdSpace.sort([...this.peers.values()].filter((p) => p.isInRing).map((p) => p.id));
  }

  /** Ids of running peers whose first two successors differ from the true ring. */
  staleIds(): Id[] {
    return staleSuccessors(this.runningIds().map((id) => this.peers.get(id)!.snapshot()));
  }

  /**
   * Waits until pred() holds, at most maxMs (virtual ms on the simulator, where it also
   * runs the simulation; real ms otherwise, checked on every line and neighbour change).
   */
  async until(pred: () => boolean, maxMs: number): Promise<boolean> {
    if (pred()) return true;
    if (this.sim) return this.sim.runUntil(pred, maxMs);
    return new Promise<boolean>((resolve) => {
      const check = () => {
        if (!pred()) return;
        done(true);
      };
      const timer = setTimeout(() => done(pred()), maxMs);
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.off('line', check);
        this.off('neighbours', check);
        resolve(v);
      };
      this.on('line', check);
      this.on('neighbours', check);
    });
  }

  /**
   * Awaits `promise` (a put, a get...): on the simulator it runs the simulation until the promise
   * settles, at most `maxMs` of virtual time (then it rejects with CDHT_ERR_TIMEOUT); on real
   * sockets it simply awaits it.
   */
  async settle<T>(promise: Promise<T>, maxMs = 600_000): Promise<T> {
    if (!this.sim) return promise;
    let settled = false;
    const watched = promise.finally(() => (settled = true));
    watched.catch(() => undefined);
    await this.sim.runUntil(() => settled, maxMs);
    if (!settled) throw new CdhtError('CDHT_ERR_TIMEOUT', `not settled after ${maxMs} ms of simulated time`);
    return watched;
  }

  /** Lets time pass: virtual time on the simulator, a real wait otherwise. */
  async run(ms: number): Promise<void> {
    if (this.sim) return this.sim.runFor(ms);
    await new Promise((r) => setTimeout(r, ms));
  }

  /** Kills every running peer and waits until all have closed (on the simulator, running it as needed). */
  async close(): Promise<void> {
    const all = [...this.peers.values()];
    const closing = Promise.all(all.map((p) => p.kill()));
    if (this.sim) await this.sim.runUntil(() => all.every((p) => p.isClosed), 10_000);
    await closing;
  }
}

/** The true finger entries of `self` in a ring of `sorted` ids, with the peer after each (to seed a settled ring). */
function fingerPeers(space: IdSpace, sorted: readonly Id[], self: Id): Id[] {
  const out = new Set<Id>();
  const next = (x: Id): number => {
    // index of the first id >= x, wrapping
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo % sorted.length;
  };
  for (let i = 0; i < space.bits; i++) {
    const j = next(space.add(self, 1n << BigInt(i)));
    out.add(sorted[j]!);
    out.add(sorted[(j + 1) % sorted.length]!);
  }
  out.delete(self);
  return [...out];
}

/** A slice needs ids derived from addresses (every process derives the same) and real sockets. */
function checkSlice(o: TestnetOptions, space: IdSpace): void {
  const { index, of } = o.slice!;
  if (!(Number.isInteger(of) && of >= 1 && Number.isInteger(index) && index >= 0 && index < of)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `a slice is index/of with 0 <= index < of (got ${index}/${of})`);
  if (space.spec || o.ids) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'a sliced ring needs ids derived from addresses: --bits above 8 and a count, not listed ids');
  if (o.runtime === 'sim') throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'a sliced ring runs on sockets, one process a slice, not on the simulator');
  const count = o.count ?? DEFAULT_RING_PEERS;
  if (count < of) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `${count} peers cannot be shared among ${of} processes`);
}

/** A private ring's stand-in credentials for `id` on the simulator, which only reads the id (it delivers it as proven). */
export function simIdentity(id: Id): TlsIdentity {
  return { id, keyPem: '', certPem: '', caPem: '' };
}

export function createTestnet(opts: TestnetOptions = {}): Promise<Testnet> {
  return Testnet.create(opts);
}

/** Reasons, each once with the peers it stopped: "listen EADDRINUSE ... (Peers 2, 4)". */
function summarize(failures: [string, string][]): string {
  const byReason = new Map<string, string[]>();
  for (const [id, why] of failures) byReason.set(why, [...(byReason.get(why) ?? []), id]);
  const parts = [...byReason].map(([why, ids]) => `${why} (Peer${ids.length > 1 ? 's' : ''} ${ids.join(', ')})`);
  return parts.length > 3 ? `${parts.slice(0, 3).join('; ')}; and ${parts.length - 3} more` : parts.join('; ');
}
