// The one control surface of a ring: plan, start, stop, join, store, request, quit, kill, its
// state and the routes keys take. The console, `--json` and the web server all drive a ring
// through here, so they validate alike and answer alike; none keeps ring logic of its own.
//
// Events: 'state' (RingState), coalesced to at most one per `stateEveryMs`; 'trace'
// (TraceView, PeerTrace) for everything every peer does, pings included.
import { EventEmitter } from 'node:events';
import { checkConfig, ConfigError, DEFAULT_SIM_SEED, settingsOf } from '../core/config.js';
import { CdhtError } from '../core/errors.js';
import type { Id } from '../core/id-space.js';
import { IdSpace, SPEC_SPACE, unquoteName } from '../core/id-space.js';
import type { Trace } from '../core/trace.js';
import { renderTrace } from '../core/trace.js';
import type { Peer, PeerExit, PeerTrace } from '../peer.js';
import { idSpace } from '../space.js';
import { createTestnet } from '../testnet.js';
import type { Testnet, TestnetOptions } from '../testnet.js';
import { SimNetwork } from '../transport/sim/network.js';
import { MAX_FILES_LISTED, nodeDisk, simDisk } from './files.js';
import type { Disk } from './files.js';
import { publishPath } from './publish.js';
import { storeDirOf } from '../store-dir.js';
import { buildRingState, members } from './ring-view.js';
import type { Departed } from './ring-view.js';
import type { ControlCode, FileView, RingPhase, RingState, RouteView, TraceView } from './view-types.js';

export type { ControlCode } from './view-types.js';


/**
 * A request the ring cannot carry out; `message` is the sentence every surface shows. Its code
 * is CDHT_ERR_CONTROL; `reason` says which refusal it is (the web page's protocol carries it).
 */
export class ControlError extends CdhtError {
  constructor(
    readonly reason: ControlCode,
    message: string,
  ) {
    super('CDHT_ERR_CONTROL', message);
  }
}
ControlError.prototype.name = 'ControlError';

export interface ControlResult {
  message: string;
  /** Done, but not everything will happen as one might expect (a Store of a file this peer lacks). */
  warning?: string;
}

export interface ControllerOptions extends Omit<TestnetOptions, 'ids'> {
  /** The plan: peers to start (default: none; Start needs at least one). */
  ids?: readonly (Id | number)[];
  /** The plan instead: this many distinct 8-bit ids, drawn from `random` (`cdht ring --random N`). */
  randomIds?: number;
  /** Off the simulator, where the ring's random choices come from (default Math.random); on it, the simulator's PRNG, so its seed replays them. */
  random?: () => number;
  /** On the simulator: virtual ms per real ms (default 1); the controller runs the simulation. */
  speed?: number;
  /** At most one 'state' event per this many ms (default 100). */
  stateEveryMs?: number;
  /** How long join, quit and kill wait for their outcome, in real ms (default 20 s). */
  waitMs?: number;
}

/** The simulator advances in slices of this much real time. */
const SIM_SLICE_MS = 50;
const DEFAULT_STATE_EVERY_MS = 100;
const DEFAULT_WAIT_MS = 20_000;
/** A route never takes more hops than this (a ring being repaired may loop for a moment). */
const MAX_ROUTE_HOPS = 512;
/** Members quoted in an error message at most. */
const MAX_IDS_QUOTED = 12;
/** Traces whose peer's files may have changed (a changed key store also changes its neighbours' version). */
const FILE_TRACES: ReadonlySet<Trace['kind']> = new Set(['receive', 'store-accepted', 'copy', 'serve']);

/** The controller's events and what their listeners receive. */
export interface RingControllerEvents {
  /** The ring's structured state, at most one per `stateEveryMs`. */
  state: [state: RingState];
  /** Everything a peer does, pings included: the view every surface shows and the raw trace. */
  trace: [view: TraceView, raw: PeerTrace];
  /** The controller has closed. */
  closed: [];
}

type Listener<E extends keyof RingControllerEvents> = (...args: RingControllerEvents[E]) => void;

// Declaration merging types the EventEmitter methods by event: under strict TypeScript a 'state'
// listener gets a RingState, not `any`.
export interface RingController {
  on<E extends keyof RingControllerEvents>(event: E, listener: Listener<E>): this;
  once<E extends keyof RingControllerEvents>(event: E, listener: Listener<E>): this;
  off<E extends keyof RingControllerEvents>(event: E, listener: Listener<E>): this;
  emit<E extends keyof RingControllerEvents>(event: E, ...args: RingControllerEvents[E]): boolean;
}

export class RingController extends EventEmitter {
  readonly runtime: 'node' | 'sim';
  readonly sim: SimNetwork | undefined;
  /** The ring's random choices (random ids, random peers to ask): see ControllerOptions.random. */
  readonly random: () => number;
  private readonly opts: ControllerOptions;
  private readonly disk: Disk;
  private net: Testnet | undefined;
  private plan: Id[];
  private ringPhase: RingPhase = 'planned';
  private readonly departed = new Map<Id, Departed>();
  private readonly known = new Set<Id>();
  private readonly watched = new Set<Peer>();
  /** Per peer: the copies its Requests received (received_NNNN.pdf -> size), which no key store holds. */
  private readonly received = new Map<Id, Map<string, number>>();
  private seq = 0;
  private lastPublished = 0;
  private stateTimer: NodeJS.Timeout | undefined;
  private pacer: NodeJS.Timeout | undefined;
  private pacing: Promise<void> | undefined;
  private closed = false;
  private readonly planSpace: IdSpace;
  /** Copies per file its peers keep (core/config.ts's default when not told), for the ring's view. */
  private readonly replicas: number;

  constructor(opts: ControllerOptions = {}) {
    super();
    this.setMaxListeners(0);
    this.opts = opts;
    this.runtime = opts.runtime ?? 'node';
    const sim = this.runtime === 'sim' ? (opts.sim ?? new SimNetwork({ seed: opts.seed ?? DEFAULT_SIM_SEED })) : undefined;
    this.sim = sim;
    this.random = sim ? () => sim.random() : (opts.random ?? Math.random);
    this.disk = this.sim ? simDisk(this.sim) : nodeDisk;
    this.planSpace = opts.bits === undefined ? SPEC_SPACE : idSpace(opts.bits);
    // a setting out of range is refused here, before a plan is made, as a Peer would refuse it
    this.replicas = checkConfig(settingsOf(opts), { space: this.planSpace, surface: 'library' }).replicas;
    const ids = opts.randomIds !== undefined ? pickIds(opts.randomIds, this.random) : (opts.ids ?? []);
    this.plan = IdSpace.sort(new Set(ids.map((x) => BigInt(x))));
    for (const id of this.plan) if (!this.space.isId(id)) throw new ConfigError('ids', `planned id ${id} is not in the id space`);
  }

  /** A controller for a ring that is already running (its peers started through `net`). */
  static attach(net: Testnet, opts: Omit<ControllerOptions, 'runtime' | 'sim' | 'ids' | 'randomIds'> & { speed?: number } = {}): RingController {
    const ctl = new RingController({ ...net.opts, ...opts, runtime: net.sim ? 'sim' : 'node', ...(net.sim ? { sim: net.sim } : {}) });
    ctl.adopt(net);
    return ctl;
  }

  /** The ring's id space (the plan's until it runs). */
  get space(): IdSpace {
    return this.net?.space ?? this.planSpace;
  }

  get phase(): RingPhase {
    return this.ringPhase;
  }

  /** The running ring (undefined while planned). */
  get testnet(): Testnet | undefined {
    return this.net;
  }

  /** Ids of the peers running here and in the ring, ascending. */
  liveIds(): Id[] {
    return this.net?.runningIds() ?? [];
  }

  plannedIds(): Id[] {
    return [...this.plan];
  }

  // ---- the plan, start and stop ---------------------------------------------------------------

  /** Planned: adds a peer to the plan. Running: the peer joins through the lowest running id. */
  async add(idText: unknown): Promise<ControlResult> {
    if (this.ringPhase === 'running') return this.join(idText);
    this.notBusy();
    const id = this.parseId(idText, 'Peer ID');
    if (this.plan.includes(id)) throw new ControlError('ID_TAKEN', `Peer ${this.fmt(id)} is already planned`);
    this.plan = IdSpace.sort([...this.plan, id]);
    this.changed();
    return { message: `Peer ${this.fmt(id)} planned (${this.plan.length} peer${this.plan.length === 1 ? '' : 's'}); Start starts the ring` };
  }

  async start(): Promise<ControlResult> {
    if (this.ringPhase === 'running') throw new ControlError('ALREADY_RUNNING', 'The ring is already running');
    this.notBusy();
    if (this.plan.length === 0 && !this.opts.count) throw new ControlError('EMPTY_PLAN', 'Nothing to start: add a node to the plan first');
    this.ringPhase = 'starting';
    this.changed();
    const count = this.plan.length || this.opts.count || 0;
    const { speed: _s, stateEveryMs: _e, waitMs: _w, ids: _i, randomIds: _n, random: _r, ...rest } = this.opts;
    try {
      // a slice of a ring over processes starts its share of the addresses again, never a list of ids
      const net = await createTestnet({ ...rest, ...(this.plan.length && !this.opts.slice ? { ids: this.plan } : {}), runtime: this.runtime, ...(this.sim ? { sim: this.sim } : {}) });
      this.adopt(net);
    } catch (err) {
      this.ringPhase = 'planned';
      this.changed();
      throw new ControlError('START_FAILED', `The ring could not start: ${errorText(err)}`);
    }
    return { message: `The ring is running: ${count} peer${count === 1 ? '' : 's'}` };
  }

  /** Stops every peer (abruptly, as the runner's exit does); the live peers become the plan again. */
  async stop(): Promise<ControlResult> {
    const net = this.net;
    if (!net || this.ringPhase !== 'running') throw new ControlError('NOT_RUNNING', 'The ring is not running');
    const ids = net.runningIds();
    this.ringPhase = 'stopping';
    this.changed();
    await this.stopPacing();
    await net.close();
    this.net = undefined;
    this.plan = ids;
    this.departed.clear();
    this.watched.clear();
    this.received.clear();
    this.ringPhase = 'planned';
    this.changed();
    return { message: `The ring is stopped; ${ids.length} peer${ids.length === 1 ? '' : 's'} planned again` };
  }

  private adopt(net: Testnet): void {
    this.net = net;
    this.ringPhase = 'running';
    this.plan = [];
    this.departed.clear();
    net.on('trace', (t: PeerTrace) => this.onTrace(t));
    net.on('neighbours', () => this.changed());
    for (const p of net.peers.values()) this.watch(p);
    if (this.sim) this.startPacing();
    this.changed();
  }

  // ---- peers: join, store, request, quit, kill ------------------------------------------------

  /** A new peer joins through `via` (default: the lowest running id); resolves once it is in the ring. */
  async join(idText: unknown, viaText?: unknown): Promise<ControlResult> {
    const net = this.running();
    const id = this.parseId(idText, 'Peer ID');
    const via = viaText === undefined || viaText === '' ? this.liveIds()[0] : this.parseId(viaText, 'Known Peer');
    const ring = this.members();
    if (net.peers.get(id)?.isRunning || ring.includes(id)) throw new ControlError('ID_TAKEN', `Peer ${this.fmt(id)} is already in the ring`);
    if (via === undefined) throw new ControlError('NOT_RUNNING', 'No running peer to join through');
    if (!ring.includes(via)) {
      throw new ControlError('UNKNOWN_PEER', `Known Peer ${this.fmt(via)} is not in the ring (${this.quoteIds(ring)})`);
    }
    if (this.opts.secure) await this.opts.prepareIdentity?.(id);
    const peer = net.start({ id, mode: { kind: 'join', known: via } });
    this.watch(peer);
    this.departed.delete(id);
    this.changed();
    const ok = await this.waitFor(() => peer.isInRing || peer.isClosed);
    if (peer.isClosed) throw new ControlError('JOIN_FAILED', `Peer ${this.fmt(id)} could not join: ${(await peer.closed).reason}`);
    if (!ok) return { message: `Peer ${this.fmt(id)} is still joining through Peer ${this.fmt(via)}`, warning: 'not in the ring yet' };
    return { message: `Peer ${this.fmt(id)} joined through Peer ${this.fmt(via)}` };
  }

  /** Joins `n` new peers with random free ids through random running peers; `done` settles when all have. */
  addRandom(n: number, random: () => number): { ids: Id[]; done: Promise<PromiseSettledResult<ControlResult>[]>; short?: string } {
    this.running();
    if (!Number.isInteger(n) || n < 1 || n > Number(this.space.size)) {
      throw new ControlError('BAD_COUNT', `The number of peers must be an integer from 1 to ${this.space.size}`);
    }
    const live = this.liveIds();
    if (live.length === 0) throw new ControlError('NOT_RUNNING', 'No running peer to join through');
    // an id the ring still names (a peer killed moments ago) would be refused as a duplicate
    const named = new Set<Id>(this.members());
    for (const id of live) {
      const s = this.net!.peers.get(id)!.snapshot();
      for (const x of [s.pred1, s.pred2, ...s.successors]) if (x !== undefined) named.add(x);
    }
    const free: Id[] = [];
    for (let id = 0n; id < this.space.size && free.length <= 4096; id++) if (!this.net!.peers.get(id)?.isRunning && !named.has(id)) free.push(id);
    if (free.length === 0) throw new ControlError('BAD_COUNT', `No id is free: all ${this.space.size} are in the ring or still named by it`);
    // fewer free ids than asked: join those there are rather than none, and say so
    const count = Math.min(n, free.length);
    const chosen: Id[] = [];
    for (let i = 0; i < count; i++) chosen.push(free.splice(Math.floor(random() * free.length), 1)[0]!);
    const vias = chosen.map(() => live[Math.floor(random() * live.length)]!);
    const done = Promise.allSettled(chosen.map((id, i) => this.join(id, vias[i])));
    const short = count < n ? `Only ${count} id${count === 1 ? ' is' : 's are'} free` : undefined;
    return { ids: IdSpace.sort(chosen), done, ...(short ? { short } : {}) };
  }

  store(idText: unknown, fileText: unknown): ControlResult {
    const { peer, file } = this.fileCommand(idText, this.published(idText, fileText));
    peer.store(file);
    // above 8 bits a Store is a put: a missing file fails with a line of the peer's own; at 8 bits
    // the file typed may have been put in the folder by hand, so the folder is asked (one stat)
    const has = !this.space.spec || this.disk.size(storeDirOf(this.net!.dataDirOf(peer.id), this.space), this.space.fileOf(file)) !== undefined;
    return {
      message: `Peer ${this.fmt(peer.id)}: Store ${file}`,
      ...(has ? {} : { warning: `Peer ${this.fmt(peer.id)} has no ${this.space.fileOf(file)}: the store is routed and accepted, but no bytes are copied` }),
    };
  }

  request(idText: unknown, fileText: unknown): ControlResult {
    const { peer, file } = this.fileCommand(idText, fileText);
    peer.request(file);
    return { message: `Peer ${this.fmt(peer.id)}: Request ${file}` };
  }

  /** Graceful departure; resolves once the peer has gone. */
  async quit(idText: unknown): Promise<ControlResult> {
    const peer = this.livePeer(idText);
    const closed = peer.quit();
    const ok = await this.waitFor(() => peer.isClosed);
    if (!ok) return { message: `Peer ${this.fmt(peer.id)} is leaving`, warning: 'it has not gone yet' };
    const exit = await closed;
    return { message: `Peer ${this.fmt(peer.id)} left the ring${exit.reason === 'quit' ? '' : ` (${exit.reason})`}` };
  }

  /** Abrupt departure: the peer stops at once and tells no one. */
  async kill(idText: unknown): Promise<ControlResult> {
    const peer = this.livePeer(idText);
    void peer.kill();
    await this.waitFor(() => peer.isClosed);
    return { message: `Peer ${this.fmt(peer.id)} killed (abrupt departure)` };
  }

  // ---- what the ring looks like ---------------------------------------------------------------

  state(): RingState {
    const net = this.net;
    const live = net ? [...net.peers.values()].filter((p) => p.isRunning).map((p) => p.snapshot()) : [];
    return buildRingState({
      space: this.space,
      seq: this.seq,
      phase: this.ringPhase,
      runtime: this.runtime,
      at: this.sim ? this.sim.now() : Date.now(),
      planned: this.plan,
      live,
      departed: this.departed,
      known: this.known,
      files: (id) => (net?.peers.get(id)?.isRunning ? this.filesOf(id) : []),
      replicas: this.replicas,
    });
  }

  /**
   * The path a message for `keyText` (a key, or a file name) takes from `fromText` (default: the
   * lowest running id), asking each peer its real next hop.
   */
  routes(keyText: unknown, fromText?: unknown): RouteView {
    const net = this.running();
    const key = this.parseKey(keyText);
    const from = fromText === undefined || fromText === '' ? this.liveIds()[0] : this.parseId(fromText, 'From');
    if (from === undefined || !net.peers.get(from)?.isInRing) {
      throw new ControlError('UNKNOWN_PEER', `Peer ${from === undefined ? '?' : this.fmt(from)} is not in the ring here`);
    }
    const owner = this.space.ownerOf(key, this.members());
    const path: Id[] = [from];
    const seen = new Set<Id>([from]);
    let at = from;
    let note: string | undefined;
    let complete = false;
    let final = false;
    for (let hops = 0; hops < MAX_ROUTE_HOPS; hops++) {
      const hop = net.peers.get(at)!.nextHop(key, final);
      if (hop === null) {
        complete = true;
        break;
      }
      const next = hop.to;
      final = hop.final;
      path.push(next);
      if (!net.peers.get(next)?.isInRing) {
        note = `Peer ${this.fmt(next)} ${net.peers.has(next) ? 'is not running' : 'runs outside this process'}`;
        break;
      }
      if (seen.has(next)) {
        // a peer that does not know its predecessor yet cannot tell that it owns the key
        note = `Peer ${this.fmt(next)} again: the ring is still learning its predecessors`;
        break;
      }
      seen.add(next);
      at = next;
    }
    if (!complete && !note) note = `no peer took the key within ${MAX_ROUTE_HOPS} hops`;
    return {
      key: this.fmt(key),
      owner: owner === undefined ? null : this.fmt(owner),
      from: this.fmt(from),
      path: path.map((id) => this.fmt(id)),
      complete,
      ...(note ? { note } : {}),
    };
  }

  /** Files of every live peer, or of one, as their key stores hold them now (and the copies their Requests received). */
  files(idText?: unknown): Map<Id, FileView[]> {
    const net = this.running();
    if (idText !== undefined) {
      const id = this.parseId(idText, 'Peer ID');
      if (!net.peers.get(id)?.isRunning) throw new ControlError('UNKNOWN_PEER', `Peer ${this.fmt(id)} is not running here`);
      return new Map([[id, this.filesOf(id)]]);
    }
    return new Map(this.liveIds().map((id) => [id, this.filesOf(id)]));
  }

  /** Stops everything (the ring too, if it runs) and releases timers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.stateTimer);
    await this.stopPacing();
    if (this.net) await this.net.close();
    this.emit('closed');
  }

  // ---- inside ---------------------------------------------------------------------------------

  /** Members of the ring: live peers in it and the outside peers they name. */
  private members(): Id[] {
    const live = this.net ? [...this.net.peers.values()].filter((p) => p.isRunning).map((p) => p.snapshot()) : [];
    return members(live, this.known).ids;
  }

  private watch(peer: Peer): void {
    if (this.watched.has(peer)) return;
    this.watched.add(peer);
    this.known.add(peer.id);
    void peer.closed.then((exit: PeerExit) => {
      if (this.ringPhase !== 'running' || this.net?.peers.get(peer.id) !== peer) return;
      const kind = exit.reason === 'quit' ? 'graceful' : exit.reason === 'killed' ? 'abrupt' : 'failed';
      this.departed.set(peer.id, { kind, reason: exit.reason });
      this.changed();
    });
  }

  private onTrace(t: PeerTrace): void {
    if (!this.watched.has(this.net?.peers.get(t.id) as Peer)) {
      const p = this.net?.peers.get(t.id);
      if (p) this.watch(p);
    }
    const trace = t.trace;
    if (trace.kind === 'receive' && trace.phase === 'done' && trace.purpose === 'request') {
      let got = this.received.get(t.id);
      if (!got) this.received.set(t.id, (got = new Map()));
      const file = this.space.receivedFileOf(trace.file);
      if (got.has(file) || got.size < MAX_FILES_LISTED) got.set(file, trace.size ?? 0);
    }
    if (FILE_TRACES.has(trace.kind)) this.changed();
    if (this.listenerCount('trace') === 0) return;
    const view: TraceView = {
      peer: this.fmt(t.id),
      at: t.at,
      trace: plain(trace, this.space) as TraceView['trace'],
      lines: renderTrace(trace, this.space),
    };
    this.emit('trace', view, t);
  }

  /** Something changed: publish the state soon (at most one event per stateEveryMs). */
  private changed(): void {
    if (this.stateTimer || this.closed) return;
    const every = this.opts.stateEveryMs ?? DEFAULT_STATE_EVERY_MS;
    const wait = Math.max(0, this.lastPublished + every - Date.now());
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      this.lastPublished = Date.now();
      this.seq++;
      this.emit('state', this.state());
    }, wait);
  }

  /**
   * What a peer holds, from its key store (a snapshot: stored names, replicas included), and the
   * copies its Requests received; sorted, at most MAX_FILES_LISTED. In a shared folder (the
   * reference set-up) every peer's store read the same files at start: each is shown at its owner.
   */
  private filesOf(id: Id): FileView[] {
    const peer = this.net?.peers.get(id);
    if (!peer) return [];
    const shared = !this.net!.opts.perPeerDirs;
    const members = shared ? this.members() : [];
    const stored = peer
      .snapshot()
      .files.filter((f) => !shared || this.space.ownerOf(f.key, members) === id)
      .map((f) => ({ name: this.space.fileOf(f.name), size: f.size, received: false }));
    const got = [...(this.received.get(id) ?? [])].map(([name, size]) => ({ name, size, received: true }));
    return [...stored, ...got].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).slice(0, MAX_FILES_LISTED);
  }

  private startPacing(): void {
    const sim = this.sim!;
    const speed = this.opts.speed ?? 1;
    this.pacer = setInterval(() => {
      if (!this.pacing) this.pacing = sim.runFor(SIM_SLICE_MS * speed).finally(() => (this.pacing = undefined));
    }, SIM_SLICE_MS);
    this.pacer.unref(); // the simulation alone keeps no process alive
  }

  private async stopPacing(): Promise<void> {
    clearInterval(this.pacer);
    this.pacer = undefined;
    if (this.pacing) await this.pacing;
  }

  /** Resolves true once pred() holds (checked on every trace and change), false after waitMs. */
  private waitFor(pred: () => boolean): Promise<boolean> {
    const net = this.net;
    if (pred() || !net) return Promise.resolve(pred());
    return new Promise((resolve) => {
      const check = () => pred() && done(true);
      const end = () => done(pred());
      const timer = setTimeout(end, this.opts.waitMs ?? DEFAULT_WAIT_MS);
      const done = (v: boolean) => {
        clearTimeout(timer);
        net.off('trace', check);
        net.off('neighbours', check);
        this.off('closed', end);
        resolve(v);
      };
      net.on('trace', check);
      net.on('neighbours', check);
      this.on('closed', end);
    });
  }

  private running(): Testnet {
    if (!this.net || this.ringPhase !== 'running') {
      throw new ControlError('NOT_RUNNING', this.ringPhase === 'planned' ? 'The ring is not running: Start it first' : `The ring is ${this.ringPhase}`);
    }
    return this.net;
  }

  private notBusy(): void {
    if (this.ringPhase === 'starting' || this.ringPhase === 'stopping') throw new ControlError('BUSY', `The ring is ${this.ringPhase}; try again in a moment`);
  }

  private livePeer(idText: unknown): Peer {
    const net = this.running();
    const id = this.parseId(idText, 'Peer ID');
    const p = net.peers.get(id);
    if (!p || !p.isRunning) throw new ControlError('UNKNOWN_PEER', `Peer ${this.fmt(id)} is not running here (running: ${this.quoteIds(this.liveIds())})`);
    return p;
  }

  /**
   * Above 8 bits a Store may name a path (the README's `Store PATH`): on real sockets the file is
   * linked into the peer's folder first, and only once every check has passed; the name remains.
   */
  private published(idText: unknown, fileText: unknown): unknown {
    const text = typeof fileText === 'string' ? unquoteName(fileText.trim()) : fileText;
    if (this.space.spec || typeof text !== 'string' || !/[/\\]/.test(text)) return fileText;
    const peer = this.livePeer(idText);
    if (this.runtime === 'sim') throw new ControlError('BAD_FILE', `On the simulator a peer stores only what its own folder holds: give a name, not the path ${shown(text)}`);
    const r = publishPath(text, this.space, storeDirOf(this.net!.dataDirOf(peer.id), this.space), peer.isInRing);
    if ('error' in r) throw new ControlError('BAD_FILE', r.error);
    return r.name;
  }

  private fileCommand(idText: unknown, fileText: unknown): { peer: Peer; file: string } {
    const peer = this.livePeer(idText);
    const file = typeof fileText === 'string' ? unquoteName(fileText.trim()) : '';
    const problem = this.space.nameProblem(file);
    if (problem) throw new ControlError('BAD_FILE', problem);
    if (!peer.isInRing) throw new ControlError('NOT_RUNNING', `Peer ${this.fmt(peer.id)} is not in the ring yet`);
    return { peer, file };
  }

  /** An id as typed: decimal in the spec space (at most 3 digits), as IdSpace.parse reads it above. */
  parseId(text: unknown, field: string): Id {
    if (typeof text === 'bigint' && this.space.isId(text)) return text;
    const s = typeof text === 'number' ? String(text) : typeof text === 'string' ? text.trim() : '';
    const id = this.space.spec ? (/^\d{1,3}$/.test(s) ? BigInt(s) : undefined) : this.space.parse(s);
    if (id === undefined || !this.space.isId(id)) {
      const range = this.space.spec ? 'an integer from 0 to 255' : `an id of ${this.space.bits} bits`;
      throw new ControlError('BAD_ID', `${field} must be a peer id, ${range} (got ${shown(text)})`);
    }
    return id;
  }

  /** A key (0-255 in the spec space) or a file name (four digits there). */
  private parseKey(text: unknown): Id {
    const s = typeof text === 'string' ? text.trim() : typeof text === 'number' ? String(text) : '';
    if (this.space.spec) {
      if (/^\d{4}$/.test(s)) return this.space.keyOf(s);
      if (/^\d{1,3}$/.test(s) && Number(s) < 256) return BigInt(s);
    } else {
      const id = this.space.parse(s);
      if (id !== undefined) return id;
      if (!this.space.nameProblem(s)) return this.space.keyOf(s);
    }
    throw new ControlError('BAD_KEY', `Key must be a key from 0 to ${this.space.size - 1n} or a file name of four digits (got ${shown(text)})`);
  }

  private fmt(id: Id): string {
    return this.space.formatFull(id);
  }

  private quoteIds(ids: Id[]): string {
    if (ids.length === 0) return 'none';
    const head = ids.slice(0, MAX_IDS_QUOTED).map((id) => this.fmt(id)).join(', ');
    return ids.length > MAX_IDS_QUOTED ? `${head} and ${ids.length - MAX_IDS_QUOTED} more` : head;
  }
}

/** A typed value as shown in an error: quoted, control characters escaped, cut at 24 characters. */
function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined ? '' : String(v);
  const cut = s.length > 24 ? `${s.slice(0, 24)}…` : s;
  return `'${cut.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

/** `n` distinct ids of the 8-bit space drawn with `random`, ascending (each draw takes one from those left, so a seed replays them). */
function pickIds(n: number, random: () => number): Id[] {
  const pool = Array.from({ length: 256 }, (_, i) => BigInt(i));
  const out: Id[] = [];
  for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out.sort((a, b) => (a < b ? -1 : 1));
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The trace with ids (bigints) as strings, ready for JSON. */
export function plain(x: unknown, space: IdSpace): unknown {
  if (typeof x === 'bigint') return space.formatFull(x);
  if (Array.isArray(x)) return x.map((v) => plain(v, space));
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v, space)]));
  return x;
}
