// A peer: the protocol core driven on a runtime (real sockets or the simulator). This shell
// turns runtime callbacks into core events and carries out the effects the core returns.
import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { checkConfig, ConfigError, DEFAULT_HOST, type CheckedConfig, type ConfigField, type PeerSettings } from './core/config.js';
import type { Address, Contact, Target } from './core/contact.js';
import type { CoreEvent, Effect, TransferPhase } from './core/effects.js';
import { CdhtError } from './core/errors.js';
import type { Id, IdSpace } from './core/id-space.js';
import { SPEC_SPACE } from './core/id-space.js';
import type { FileBegin, Message, Purpose } from './core/messages.js';
import type { Origin } from './core/origin.js';
import { PeerCore } from './core/peer-core.js';
import type { CoreSnapshot, ReplicationStatus } from './core/peer-core.js';
import { KeyStore } from './core/storage/key-store.js';
import type { LineLevel, RenderedLine, Trace } from './core/trace.js';
import { renderLines } from './core/trace.js';
import { defaultContact } from './space.js';
import { storeDirOf } from './store-dir.js';
import { createNodeRuntime, type EndpointStats } from './transport/node/endpoint.js';
import type { BadInputReason, Endpoint, EndpointHandlers, EndpointOptions, FileAcceptance, Runtime, TlsIdentity } from './transport/types.js';
import { RateLimiter } from './util/rate-limit.js';
import { PeerOps } from './api/peer-ops.js';
import { ConsoleOps } from './api/console-ops.js';
import { RecordLog } from './api/records.js';
import type { DataApi, FileStat, GetFileResult, LookupResult, OpOptions, PutOptions, PutResult, PutSource } from './api/types.js';
import type { Readable } from 'node:stream';

/** An id as a program gives it: a bigint, or a plain number for the small spaces. */
export type IdLike = Id | number;

/**
 * A peer's options. The settings with a default or a limit (pingMisses, routing, successors,
 * replicas, maxFileBytes, requestTimeoutMs, originProofs, collectSurplus) are core/config.ts's
 * PeerSettings: declared and defaulted there, checked by its checkConfig.
 */
export interface PeerOptions extends PeerSettings {
  id: IdLike;
  /**
   * init: the successors (ids, placed by the reference layout, or contacts); join: a peer
   * already in the ring (an id placed by the reference layout, or a contact).
   */
  mode: { kind: 'init'; successors: (IdLike | Contact)[]; fingers?: Contact[] } | { kind: 'join'; known: IdLike | Target };
  /** Ping interval in milliseconds (the CLI takes seconds, fractions allowed). */
  pingIntervalMs: number;
  /** The id space (default: the specification's 8 bits). */
  space?: IdSpace;
  basePort?: number;
  /** The advertised host (and the one to listen on, unless `listen` says otherwise). */
  host?: string;
  /** The advertised port (default: the reference layout, basePort + id). */
  port?: number;
  /** Where to bind when it differs from the advertised address (NAT, containers). */
  listen?: Address;
  /** Where stored files are kept and received copies land; default: the current directory. */
  dataDir?: string;
  /** A private ring: mutual TLS and sealed pings with these credentials. */
  tls?: TlsIdentity;
  /** Default: the Node runtime (real UDP/TCP sockets, files on disk, wall clock). */
  runtime?: Runtime;
}

export interface PeerLine {
  id: Id;
  text: string;
  level: LineLevel;
  at: number;
}
/** A typed event of a peer (what its lines are rendered from). */
export interface PeerTrace {
  id: Id;
  at: number;
  trace: Trace;
}
export type PeerSnapshot = CoreSnapshot;
export type { ReplicationStatus };
export interface PeerExit {
  code: number;
  reason: string;
}
/** A Store or put from this peer reached its owner (`by`), or was kept here (`by` is this peer). */
export interface PeerStored {
  id: Id;
  name: string;
  by: Id;
}
/** A Request or get on this peer received the bytes of `name` whole from `from`. */
export interface PeerReceived {
  id: Id;
  name: string;
  from: Id;
  size: number;
}

/** Input the transport refused (a frame, a datagram, a connection, a TLS handshake), typed by reason. */
export interface PeerRefused {
  id: Id;
  reason: BadInputReason;
  /** host:port it came from, when known. */
  source?: string;
}

/** The events of a Peer, by name: what `peer.on(...)` hands each listener. */
export interface PeerEvents {
  refused: [PeerRefused];
  neighbours: [PeerSnapshot];
  stored: [PeerStored];
  received: [PeerReceived];
  trace: [PeerTrace];
  line: [PeerLine];
  exit: [PeerExit];
}

/** How long a clean exit waits for messages still on their way out. */
const FLUSH_ON_EXIT_MS = 2_000;
/** Bad input from one source prints at most one debug line a minute. */
const BAD_INPUT_LINE_EVERY_MS = 60_000;
/** Commands typed before the peer has started wait, at most this many. */
const MAX_EARLY_COMMANDS = 64;
/** Transfer progress reaches the core at most this often per transfer. */
const PROGRESS_EVERY_MS = 250;

/**
 * Events: 'trace' (PeerTrace) for everything the peer does, typed; 'line' (PeerLine) for every
 * line the peer prints, at every level, rendered from those traces;
 * 'neighbours' (PeerSnapshot) when successors or predecessors change; 'exit' (PeerExit).
 */
export class Peer extends EventEmitter implements DataApi {
  readonly id: Id;
  readonly self: Contact;
  readonly space: IdSpace;
  /** Resolves when the peer is in the ring (init: sockets bound; join: accepted). Rejects on failure. */
  readonly ready: Promise<void>;
  /** Resolves when the peer has stopped, for whatever reason. */
  readonly closed: Promise<PeerExit>;
  readonly runtime: Runtime;
  private readonly core: PeerCore;
  private readonly dataDir: string;
  /** Where its stored names live: the data directory in the 8-bit mode, a folder of its own in it above. */
  readonly storeDir: string;
  /** How long a request typed at another peer waits for its answer (the core's setting). */
  private readonly requestTimeoutMs: number;
  private readonly endpointOptions: EndpointOptions;
  private endpoint: Endpoint | undefined;
  private readonly timers = new Map<string, unknown>();
  /** TCP messages handed to the runtime and not yet delivered (or failed); flushed before a clean exit. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly badInput = new RateLimiter(BAD_INPUT_LINE_EVERY_MS, 256);
  private stopped = false;
  /** What the transport was last told of the members (PeerCore.membersVersion). */
  private membersTold = -1;
  private started = false;
  /** Commands given before the core started (the data directory is still being read): run after. */
  private readonly early: { what: string; run: () => void }[] = [];
  private closedDone = false;
  private isReady = false;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: (e: PeerExit) => void;
  /** The library's put, get, stat and lookup (src/api/peer-ops.ts). */
  private readonly ops: PeerOps;
  /** The console's Store and Request above 8 bits: callers of put and get (src/api/console-ops.ts). */
  private readonly consoleOps: ConsoleOps;
  /** Who published each name held here, and which were deleted: kept beside the stored files. */
  private readonly records = new RecordLog(() => this.endpoint?.library);

  constructor(opts: PeerOptions) {
    super();
    this.space = opts.space ?? SPEC_SPACE;
    const cfg = validateOptions(opts, this.space);
    this.id = BigInt(opts.id);
    this.runtime = opts.runtime ?? createNodeRuntime();
    const basePort = cfg.basePort;
    const host = opts.host ?? DEFAULT_HOST;
    const place = (x: IdLike | Contact): Contact => (typeof x === 'object' ? x : defaultContact(BigInt(x), host, basePort));
    this.self = opts.port !== undefined ? { id: this.id, host, port: opts.port } : place(this.id);
    this.dataDir = opts.dataDir ?? process.cwd();
    this.storeDir = storeDirOf(this.dataDir, this.space);
    this.requestTimeoutMs = cfg.requestTimeoutMs;
    this.endpointOptions = {
      self: this.self,
      dataDir: this.dataDir,
      storeDir: this.storeDir,
      ...(opts.listen ? { listen: opts.listen } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.maxFileBytes !== undefined ? { maxFileBytes: opts.maxFileBytes } : {}),
      ...(cfg.originProofs ? {} : { originProofs: false }),
    };
    const mode = opts.mode;
    this.core = new PeerCore({
      self: this.self,
      space: this.space,
      mode:
        mode.kind === 'init'
          ? { kind: 'init', successors: mode.successors.map(place), ...(mode.fingers ? { fingers: mode.fingers } : {}) }
          : { kind: 'join', known: typeof mode.known === 'object' ? mode.known : place(mode.known) },
      pingIntervalMs: opts.pingIntervalMs,
      pingMisses: cfg.pingMisses,
      random32: () => this.runtime.random32(),
      storeId: storeIdentity(this.runtime, this.storeDir),
      routing: cfg.routing,
      secure: !!opts.tls,
      originProofs: cfg.originProofs,
      collectSurplus: cfg.collectSurplus,
      successors: cfg.successors,
      replicas: cfg.replicas,
      maxFileBytes: cfg.maxFileBytes,
      requestTimeoutMs: cfg.requestTimeoutMs,
    });
    const maxFileBytes = cfg.maxFileBytes;
    this.ops = new PeerOps({
      space: this.space,
      self: this.self,
      runtime: this.runtime,
      replicas: cfg.replicas,
      maxFileBytes,
      library: () => this.endpoint?.library,
      inRing: () => this.isInRing,
      feed: (ev) => this.feed(ev),
    });
    this.consoleOps = new ConsoleOps({
      space: this.space,
      dataDir: this.dataDir,
      maxFileBytes,
      library: () => this.endpoint?.library,
      hasStored: async (name) => !!(await this.endpoint?.statFile(this.space.fileOf(name)).catch(() => null)),
      put: (name, source) => this.ops.put(name, source),
      get: (name) => this.ops.get(name),
      say: (text) => {
        if (!this.stopped) this.line(text, 'info');
      },
    });
    this.ready = new Promise<void>((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.ready.catch(() => undefined); // a caller that never awaits ready must not see an unhandled rejection
    this.closed = new Promise<PeerExit>((res) => (this.resolveClosed = res));
    void this.start();
  }

  get isRunning(): boolean {
    return !this.stopped;
  }
  /** Fully stopped: sockets closed and `closed` resolved (isRunning turns false when stopping starts). */
  get isClosed(): boolean {
    return this.closedDone;
  }
  get isInRing(): boolean {
    return this.isReady && !this.stopped;
  }

  snapshot(): PeerSnapshot {
    return this.core.snapshot();
  }
  /** Replication as this peer knows it: keys owned, short of k, hand-overs pending (read only). */
  replicationStatus(): ReplicationStatus {
    return this.core.replicationStatus();
  }
  /** Every peer this one knows of, in any way (see PeerCore.knownPeers). */
  knownPeers(): Id[] {
    return this.core.knownPeers();
  }

  /** The Node transport's counters (connections, buffered and temporary bytes); undefined on the simulator. */
  transportStats(): EndpointStats | undefined {
    const ep = this.endpoint as { stats?: () => EndpointStats } | undefined;
    return ep?.stats?.();
  }

  /**
   * The next hop this peer would route `key` to now, and whether it would mark it final; null
   * when it would take the key itself. `arrivedFinal`: the message reached it marked final.
   */
  nextHop(key: Id, arrivedFinal = false): { to: Id; final: boolean } | null {
    return this.core.nextHop(key, arrivedFinal);
  }

  /**
   * The console's `Store NAME` (a name in the store folder, not a path). Above the 8-bit space, in
   * the ring, it runs the library's put (one outcome line follows the core's usual lines); in the
   * specification's mode, and while not in a ring, the core answers as the specification has it
   * (its Store moves no bytes in the shared folder: a put always does, and would print more than
   * the specification's lines). No result: the console's lines tell it; a program calls put.
   */
  store(file: string): void {
    this.typed('store', file);
  }
  /** The console's `Request NAME` (see store): above 8 bits in the ring, the library's get. */
  request(file: string): void {
    this.typed('request', file);
  }
  /**
   * The core's own Store or Request, as the specification's mode runs a typed one, in any space:
   * no put or get around it, no outcome line, its result told by traces only. For the simulation
   * checker (src/check) and the benchmark of the core's path, whose invariants and timings follow
   * those traces; programs call put and get, consoles store() and request(). @internal
   */
  coreTyped(kind: 'store' | 'request', file: string): void {
    this.feed({ type: kind, name: file, now: this.runtime.now() });
  }
  private typed(kind: 'store' | 'request', file: string): void {
    if (!this.started) return this.later(`${kind === 'store' ? 'Store' : 'Request'} ${file}`, () => this.typed(kind, file));
    if (!this.space.spec && this.core.phase === 'active' && !this.stopped) {
      return void (kind === 'store' ? this.consoleOps.store(file) : this.consoleOps.request(file));
    }
    this.coreTyped(kind, file);
  }
  /** A command given while the data directory is still being read runs once the peer is up (a bounded wait). */
  private later(what: string, run: () => void): void {
    if (this.early.length < MAX_EARLY_COMMANDS) return void this.early.push({ what, run });
    const shown = what.length > 40 ? `${what.slice(0, 40)}…` : what;
    this.line(`Still starting: '${shown}' was not taken (${MAX_EARLY_COMMANDS} commands wait already); type it again once the peer is up`, 'info');
  }
  /** Asks the ring who owns `key` without waiting: the answer comes as a 'lookup-result' trace (the simulator's measures use it). */
  findOwner(key: Id): void {
    this.feed({ type: 'lookup', key, now: this.runtime.now() });
  }

  // ---- the library's data operations (DataApi; docs/api.md) --------------------------------------

  /** Stores `source` under `name`; resolves once the owner and its replicas hold the bytes. */
  put(name: string, source: PutSource, options?: PutOptions): Promise<PutResult> {
    return this.ops.put(name, source, options);
  }
  /** The bytes stored under `name`, as a stream checked against the stored record. */
  get(name: string, options?: OpOptions): Readable {
    return this.ops.get(name, options);
  }
  getBuffer(name: string, options?: OpOptions): Promise<Buffer> {
    return this.ops.getBuffer(name, options);
  }
  getFile(name: string, path: string, options?: OpOptions): Promise<GetFileResult> {
    return this.ops.getFile(name, path, options);
  }
  stat(name: string, options?: OpOptions): Promise<FileStat | null> {
    return this.ops.stat(name, options);
  }
  has(name: string, options?: OpOptions): Promise<boolean> {
    return this.ops.has(name, options);
  }
  /** Removes every copy of `name`: only its publisher may. */
  delete(name: string, options?: OpOptions): Promise<void> {
    return this.ops.delete(name, options);
  }
  /** Who owns `key` in the ring, how many hops away, and its successors. */
  lookup(key: bigint | number, options?: OpOptions): Promise<LookupResult> {
    return this.ops.lookup(key, options);
  }

  override on<E extends keyof PeerEvents>(event: E, listener: (...args: PeerEvents[E]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }
  override once<E extends keyof PeerEvents>(event: E, listener: (...args: PeerEvents[E]) => void): this {
    return super.once(event, listener as (...args: unknown[]) => void);
  }
  override off<E extends keyof PeerEvents>(event: E, listener: (...args: PeerEvents[E]) => void): this {
    return super.off(event, listener as (...args: unknown[]) => void);
  }
  /** Graceful departure: hands its keys on, tells the predecessors, then stops. */
  quit(): Promise<PeerExit> {
    if (!this.started) this.later('Quit', () => this.feed({ type: 'quit', now: this.runtime.now() }));
    else this.feed({ type: 'quit', now: this.runtime.now() });
    return this.closed;
  }
  /** Abrupt departure: stops at once, tells no one. */
  kill(): Promise<PeerExit> {
    void this.shutdown(0, 'killed');
    return this.closed;
  }

  private async start(): Promise<void> {
    const now = () => this.runtime.now();
    const handlers: EndpointHandlers = {
      onMessage: (msg: Message, origin: Origin) => this.feed({ type: 'receive', msg, origin, now: now() }),
      onBadInput: (detail: string, source?: string, reason: BadInputReason = 'internal') => {
        // counted every time (metrics), printed at most once a minute per source
        this.emit('refused', { id: this.id, reason, ...(source !== undefined ? { source } : {}) } satisfies PeerRefused);
        if (this.badInput.allow(source ?? '', now())) this.line(reason === 'tls-dial' ? detail : `Dropped bad input: ${detail}`, 'debug');
      },
      onFileOffer: (header: FileBegin, origin: Origin) => this.offer(header, origin),
      onFileProgress: (header: FileBegin, bytes: number) => {
        if (header.purpose === 'request') this.ops.progressIn(header.rid, bytes);
        this.feed({ type: 'file-progress', header, direction: 'in', peer: header.from.id, bytes, now: now() });
      },
      onFileDone: (header, r) =>
        this.feed({ type: 'file-done', header, ok: r.ok, ...(r.ok ? (r.sha256 ? { sha256: r.sha256 } : {}) : { error: r.error, ...(r.busy ? { busy: true } : {}) }), now: now() }),
    };
    let files: { name: string; size: number }[] = [];
    try {
      if (this.runtime.kind === 'node' && this.storeDir !== this.dataDir) await mkdir(this.storeDir, { recursive: true });
      this.endpoint = await this.runtime.openEndpoint(this.endpointOptions, handlers);
      files = await this.endpoint.listFiles().catch(() => []);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.line(`Cannot start Peer ${this.space.format(this.id)}: ${reason}`, 'info');
      await this.shutdown(1, reason, err);
      return;
    }
    if (this.stopped) {
      await this.endpoint.close();
      return;
    }
    const keys = new KeyStore(this.space);
    const found = files.flatMap((f) => {
      const name = keys.nameOfFile(f.name);
      return name === undefined ? [] : [{ name, size: f.size }];
    });
    const { files: held, deleted } = await this.records.load(found);
    if (this.stopped) return void (await this.endpoint.close());
    this.feed({ type: 'start', files: held, deleted, now: now() });
    this.started = true;
    for (const c of this.early.splice(0)) c.run();
  }

  private feed(ev: CoreEvent): void {
    if (this.stopped) return;
    this.apply(this.core.handle(ev));
    // fingers change without a neighbours effect: the members are told again, if they may have changed, once a ping interval
    if (ev.type === 'timer' && ev.name === 'ping' && this.core.membersVersion() !== this.membersTold) this.tellMembers();
  }

  /** The transport keeps connection slots for the peers the core knows as neighbours. */
  private tellMembers(): void {
    if (!this.endpoint?.setMembers) return;
    this.membersTold = this.core.membersVersion();
    this.endpoint.setMembers(this.core.members());
  }

  private offer(header: FileBegin, origin: Origin): FileAcceptance | null {
    if (this.stopped) return null;
    const effects = this.core.handle({ type: 'file-offer', header, origin, now: this.runtime.now() });
    this.apply(effects);
    const accepted = effects.find((e) => e.kind === 'accept-file');
    if (!accepted || accepted.kind !== 'accept-file') return null;
    const { kind: _, ...acceptance } = accepted;
    return acceptance;
  }

  /** Emits the lines rendered from a trace, then the trace (so what programs add follows the lines). */
  private report(trace: Trace): void {
    const at = this.runtime.now();
    // lines are rendered only for someone to read them (most traces of a quiet ring are pings)
    if (this.listenerCount('line') > 0) {
      const lines = renderLines(trace, this.space);
      if (Array.isArray(lines)) for (const l of lines) this.emitLine(l, at);
      else if (lines !== null) this.emitLine(lines, at);
    }
    if (this.listenerCount('trace') > 0) this.emit('trace', { id: this.id, at, trace } satisfies PeerTrace);
    if (trace.kind === 'copy' && trace.phase === 'sent') this.emit('stored', { id: this.id, name: trace.file, by: trace.to } satisfies PeerStored);
    else if (trace.kind === 'store-accepted' && trace.origin === this.id) this.emit('stored', { id: this.id, name: trace.file, by: this.id } satisfies PeerStored);
    else if (trace.kind === 'receive' && trace.purpose === 'request' && trace.phase === 'done') {
      this.emit('received', { id: this.id, name: trace.file, from: trace.from, size: trace.size ?? 0 } satisfies PeerReceived);
    }
  }

  private emitLine(l: RenderedLine, at: number): void {
    this.emit('line', { id: this.id, text: l.text, level: l.level, at } satisfies PeerLine);
  }

  private line(text: string, level: LineLevel): void {
    this.report({ kind: 'note', level, text });
  }

  private apply(effects: Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'trace':
          this.report(e.trace);
          break;
        case 'send':
          this.send(e.to, e.msg, e.transport);
          break;
        case 'set-timer':
          this.setTimer(e.name, e.at);
          break;
        case 'cancel-timer':
          this.clearTimer(e.name);
          break;
        case 'serve-file':
          void this.sendStored(e.name, e.to, e.rid, 'request', e.sha256);
          break;
        case 'push-file':
          void this.sendStored(e.name, e.to, e.rid, e.purpose, e.sha256);
          break;
        case 'stat-file':
          void this.statStored(e.name);
          break;
        case 'accept-file':
          break; // answered synchronously by offer()
        case 'ready':
          this.isReady = true;
          this.resolveReady();
          break;
        case 'neighbours':
          this.tellMembers();
          this.emit('neighbours', this.core.snapshot());
          break;
        case 'exit':
          void this.shutdown(e.code, e.reason);
          break;
        case 'op':
          this.ops.onEvent(e.op, e.event);
          break;
        case 'delete-file':
          void this.endpoint?.library?.remove('store', this.space.fileOf(e.name)).catch((err: unknown) => this.line(`Could not remove the deleted File ${e.name}: ${String(err)}`, 'info'));
          break;
        case 'remember': {
          const { kind: _, ...r } = e;
          this.records.remember(r);
          break;
        }
      }
    }
  }

  private send(to: Target, msg: Message, transport: 'udp' | 'tcp'): void {
    const ep = this.endpoint;
    if (!ep) return;
    if (transport === 'udp') return ep.sendDatagram(to, msg);
    const sending = ep.sendMessage(to, msg).catch((err: unknown) => {
      const error = err instanceof Error ? err.message : String(err);
      const refused = err instanceof CdhtError && err.code === 'CDHT_ERR_NOT_ADMITTED';
      this.feed({ type: 'send-failed', to, msg, error, ...(refused ? { refused } : {}), now: this.runtime.now() });
    });
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  private setTimer(name: string, at: number): void {
    this.clearTimer(name);
    const handle = this.runtime.setTimer(Math.max(0, at - this.runtime.now()), () => {
      this.timers.delete(name);
      this.feed({ type: 'timer', name, now: this.runtime.now() });
    });
    this.timers.set(name, handle);
  }

  private clearTimer(name: string): void {
    const h = this.timers.get(name);
    if (h !== undefined) this.runtime.clearTimer(h);
    this.timers.delete(name);
  }

  /**
   * Streams the file holding `name` to `to`: the owner answering a request (when `to` is this
   * peer, the request was typed here and only presence is reported), a store's origin copying
   * the file to its owner, or a holder sending a replica. Each step is reported to the core.
   */
  private async sendStored(name: string, to: Contact, rid: number, purpose: Purpose, sha256: Uint8Array | undefined): Promise<void> {
    const now = () => this.runtime.now();
    const progress = (phase: TransferPhase, extra: { error?: string; size?: number } = {}) => {
      const base = { file: name, to, phase, ...extra, now: now() };
      this.feed(purpose === 'request' ? { type: 'serve-progress', rid, ...base } : { type: 'push-progress', purpose, rid, ...base });
    };
    const ep = this.endpoint;
    if (!ep) return;
    const file = purpose === 'store' ? this.ops.fileToSend(name) : this.space.fileOf(name);
    const st = await ep.statFile(file).catch(() => null);
    if (!st) return progress('missing');
    progress('start', { size: st.size });
    if (to.id === this.id) return;
    const header: FileBegin = { type: 'file-begin', from: this.self, file: name, rid, purpose, size: st.size, ...(sha256 ? { sha256 } : {}) };
    let last = -Infinity;
    const onProgress = (bytes: number) => {
      if (purpose === 'store') this.ops.progressOut(name, bytes);
      if (now() - last < PROGRESS_EVERY_MS) return;
      last = now();
      this.feed({ type: 'file-progress', header, direction: 'out', peer: to.id, bytes, now: now() });
    };
    try {
      // a request's answer still queued when the requester's wait is over is not sent at all
      const signal = purpose === 'request' ? AbortSignal.timeout(this.requestTimeoutMs) : undefined;
      await ep.sendFile(to, header, file, onProgress, signal, purpose === 'store' ? this.ops.cancelOf(name) : undefined);
      progress('sent');
    } catch (err) {
      progress('failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private async statStored(name: string): Promise<void> {
    await this.ops.placed(name).catch(() => undefined);
    const st = await this.endpoint?.hashFile(this.space.fileOf(name)).catch(() => null);
    this.feed({ type: 'file-stat', name, ...(st ? { size: st.size, sha256: st.sha256 } : {}), now: this.runtime.now() });
  }

  /** `cause`: the error that stopped a peer before it started (its `ready` rejects with it as the cause). */
  private async shutdown(code: number, reason: string, cause?: unknown): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const name of [...this.timers.keys()]) this.clearTimer(name);
    if (!this.isReady) this.rejectReady(new CdhtError('CDHT_ERR_NOT_STARTED', `Peer ${this.space.format(this.id)} stopped before joining a ring: ${reason}`, cause === undefined ? undefined : { cause }));
    if (reason !== 'killed' && this.inFlight.size > 0) {
      // a clean exit lets its last messages (acks, handed-back requests) reach their peers, within a bound
      let timer: unknown;
      const bound = new Promise<void>((res) => (timer = this.runtime.setTimer(FLUSH_ON_EXIT_MS, res)));
      await Promise.race([Promise.allSettled([...this.inFlight]), bound]);
      this.runtime.clearTimer(timer);
    }
    // what the record log still has to write goes first, within a bound
    let flushTimer: unknown;
    await Promise.race([this.records.flushed(), new Promise<void>((res) => (flushTimer = this.runtime.setTimer(FLUSH_ON_EXIT_MS, res)))]);
    this.runtime.clearTimer(flushTimer);
    try {
      await this.endpoint?.close();
    } catch {
      // closing is best effort: the peer is gone either way
    }
    const exit: PeerExit = { code, reason };
    this.closedDone = true;
    this.emit('exit', exit);
    this.resolveClosed(exit);
  }
}

export { STORE_FOLDER, storeDirOf } from './store-dir.js';

export function startPeer(opts: PeerOptions): Peer {
  return new Peer(opts);
}

function isIdLike(x: unknown): x is IdLike {
  return (typeof x === 'number' && Number.isInteger(x) && x >= 0) || typeof x === 'bigint';
}

/** The options checked: ids and credentials here, every setting by core/config.ts (the library's defaults). */
function validateOptions(o: PeerOptions, space: IdSpace): CheckedConfig {
  const bad = (field: ConfigField, what: string) => {
    throw new ConfigError(field, what);
  };
  const range = space.spec ? 'an integer from 0 to 255' : `an id of the ${space.bits}-bit space`;
  const isId = (x: unknown) => isIdLike(x) && space.isId(BigInt(x));
  if (!isId(o.id)) bad('id', `peer id must be ${range} (got ${o.id})`);
  if (o.mode.kind === 'init' && !o.mode.successors.every((s) => (typeof s === 'object' ? space.isId(s.id) : isId(s)))) {
    bad('mode', `successor ids must be ${range}`);
  }
  if (o.mode.kind === 'join' && typeof o.mode.known !== 'object' && !isId(o.mode.known)) bad('mode', `the known peer id must be ${range}`);
  if (o.tls !== undefined && o.tls.id !== BigInt(o.id)) bad('tls', `the certificate is for peer ${o.tls.id}, not ${o.id}`);
  return checkConfig(o, { space, surface: 'library' });
}

/** Names a data directory so two peers can tell whether they share it (then no copy is needed). */
function storeIdentity(rt: Runtime, dataDir: string): string {
  if (rt.kind === 'sim') return `sim:${dataDir}`;
  let dir = resolve(dataDir);
  try {
    dir = realpathSync(dir);
  } catch {
    // a directory that does not exist yet keeps its resolved name
  }
  return `${hostname()}:${dir}`;
}
