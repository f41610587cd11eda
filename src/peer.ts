// A peer: the protocol core driven on a runtime (real sockets or the simulator). This shell
// turns runtime callbacks into core events and carries out the effects the core returns.
import { EventEmitter } from 'node:events';
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_BASE_PORT, DEFAULT_HOST, defaultContact } from './core/contact.js';
import type { Address, Contact, Target } from './core/contact.js';
import type { CoreEvent, Effect, LineLevel } from './core/effects.js';
import type { Id } from './core/id-space.js';
import { SPEC_SPACE } from './core/id-space.js';
import type { FileBegin, Message } from './core/messages.js';
import { PeerCore } from './core/peer-core.js';
import type { CoreSnapshot } from './core/peer-core.js';
import { createNodeRuntime } from './transport/node/endpoint.js';
import type { Endpoint, EndpointHandlers, EndpointOptions, Origin, Runtime, TlsIdentity } from './transport/types.js';

/** An id as a program gives it: a bigint, or a plain number for the small spaces. */
export type IdLike = Id | number;

export interface PeerOptions {
  id: IdLike;
  /**
   * init: the successors (ids, placed by the reference layout, or contacts); join: a peer
   * already in the ring (an id placed by the reference layout, or a contact).
   */
  mode: { kind: 'init'; successors: (IdLike | Contact)[] } | { kind: 'join'; known: IdLike | Target };
  /** Ping interval in milliseconds (the CLI takes seconds, fractions allowed). */
  pingIntervalMs: number;
  basePort?: number;
  host?: string;
  /** Where NNNN.pdf files are kept and received_NNNN.pdf land; default: the current directory. */
  dataDir?: string;
  pingMisses?: number;
  shortcuts?: boolean;
  /** Default: the Node runtime (real UDP/TCP sockets, files on disk, wall clock). */
  runtime?: Runtime;
  /** How long a Request waits for an answer before giving up. */
  requestTimeoutMs?: number;
  /** A private ring: this peer's certificate and key, and the ring authority's certificate. */
  tls?: TlsIdentity;
  /** Files offered to this peer larger than this are refused before a byte is written. */
  maxFileBytes?: number;
  /** Where to bind when it differs from the advertised address (host and base port + id). */
  listen?: Address;
}

export interface PeerLine {
  id: Id;
  text: string;
  level: LineLevel;
  at: number;
}
export type PeerSnapshot = CoreSnapshot;
export interface PeerExit {
  code: number;
  reason: string;
}

/** How long a clean exit waits for messages still on their way out. */
const FLUSH_ON_EXIT_MS = 2_000;

/**
 * Events: 'line' (PeerLine) for every line the peer prints, at every level;
 * 'neighbours' (PeerSnapshot) when successors or predecessors change; 'exit' (PeerExit).
 */
export class Peer extends EventEmitter {
  readonly id: Id;
  readonly self: Contact;
  /** Resolves when the peer is in the ring (init: sockets bound; join: accepted). Rejects on failure. */
  readonly ready: Promise<void>;
  /** Resolves when the peer has stopped, for whatever reason. */
  readonly closed: Promise<PeerExit>;
  readonly runtime: Runtime;
  private readonly core: PeerCore;
  private readonly dataDir: string;
  private readonly endpointOptions: EndpointOptions;
  private endpoint: Endpoint | undefined;
  private readonly timers = new Map<string, unknown>();
  /** TCP messages handed to the runtime and not yet delivered (or failed); flushed before a clean exit. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private stopped = false;
  private closedDone = false;
  private isReady = false;
  private resolveReady!: () => void;
  private rejectReady!: (e: Error) => void;
  private resolveClosed!: (e: PeerExit) => void;

  constructor(opts: PeerOptions) {
    super();
    validateOptions(opts);
    this.id = BigInt(opts.id);
    this.runtime = opts.runtime ?? createNodeRuntime();
    const basePort = opts.basePort ?? DEFAULT_BASE_PORT;
    const host = opts.host ?? DEFAULT_HOST;
    const place = (x: IdLike | Contact): Contact => (typeof x === 'object' ? x : defaultContact(BigInt(x), host, basePort));
    this.self = place(this.id);
    this.dataDir = opts.dataDir ?? process.cwd();
    this.endpointOptions = {
      self: this.self,
      dataDir: this.dataDir,
      ...(opts.listen ? { listen: opts.listen } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.maxFileBytes !== undefined ? { maxFileBytes: opts.maxFileBytes } : {}),
    };
    const mode = opts.mode;
    this.core = new PeerCore({
      self: this.self,
      space: SPEC_SPACE,
      mode: mode.kind === 'init' ? { kind: 'init', successors: mode.successors.map(place) } : { kind: 'join', known: typeof mode.known === 'object' ? mode.known : place(mode.known) },
      pingIntervalMs: opts.pingIntervalMs,
      pingMisses: opts.pingMisses ?? 3,
      shortcuts: opts.shortcuts ?? false,
      storeId: storeIdentity(this.runtime, this.dataDir),
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
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

  /** A line as typed on stdin: `Store 2067`, `Request 4103`, `Quit` (case-insensitive). */
  command(line: string): void {
    this.feed({ type: 'command', line, now: this.runtime.now() });
  }
  store(file: string): void {
    this.command(`Store ${file}`);
  }
  request(file: string): void {
    this.command(`Request ${file}`);
  }
  /** Graceful departure: tells the predecessors, then stops. */
  quit(): Promise<PeerExit> {
    this.command('Quit');
    return this.closed;
  }
  /** Abrupt departure: stops at once, tells no one. */
  kill(): Promise<PeerExit> {
    void this.shutdown(0, 'killed');
    return this.closed;
  }

  private async start(): Promise<void> {
    const handlers: EndpointHandlers = {
      onMessage: (msg: Message, _origin: Origin) => this.feed({ type: 'receive', msg, now: this.runtime.now() }),
      onBadInput: (detail: string) => this.line(`Dropped bad input: ${detail}`, 'debug'),
      onFileOffer: (header: FileBegin) => this.offer(header),
      onFileDone: (header, r) =>
        this.feed({ type: 'file-done', header, ok: r.ok, ...(r.ok ? {} : { error: r.error }), now: this.runtime.now() }),
    };
    try {
      this.endpoint = await this.runtime.openEndpoint(this.endpointOptions, handlers);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.line(`Cannot start Peer ${this.id}: ${reason}`, 'info');
      await this.shutdown(1, reason);
      return;
    }
    if (this.stopped) {
      await this.endpoint.close();
      return;
    }
    this.feed({ type: 'start', now: this.runtime.now() });
  }

  private feed(ev: CoreEvent): void {
    if (this.stopped) return;
    this.apply(this.core.handle(ev));
  }

  private offer(header: FileBegin): string | null {
    if (this.stopped) return null;
    const effects = this.core.handle({ type: 'file-offer', header, now: this.runtime.now() });
    this.apply(effects);
    const accepted = effects.find((e) => e.kind === 'accept-file');
    return accepted && accepted.kind === 'accept-file' ? accepted.saveAs : null;
  }

  private line(text: string, level: LineLevel): void {
    const ev: PeerLine = { id: this.id, text, level, at: this.runtime.now() };
    this.emit('line', ev);
  }

  private apply(effects: Effect[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'print':
          this.line(e.line, e.level);
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
          void this.sendStored(e.file, e.to, e.rid, 'request');
          break;
        case 'push-file':
          void this.sendStored(e.file, e.to, 0, 'store');
          break;
        case 'accept-file':
          break; // answered synchronously by offer()
        case 'ready':
          this.isReady = true;
          this.resolveReady();
          break;
        case 'neighbours':
          this.emit('neighbours', this.core.snapshot());
          break;
        case 'exit':
          void this.shutdown(e.code, e.reason);
          break;
      }
    }
  }

  private send(to: Target, msg: Message, transport: 'udp' | 'tcp'): void {
    const ep = this.endpoint;
    if (!ep) return;
    if (transport === 'udp') return ep.sendDatagram(to, msg);
    const sending = ep.sendMessage(to, msg).catch((err: unknown) => {
      const error = err instanceof Error ? err.message : String(err);
      this.feed({ type: 'send-failed', to, msg, error, now: this.runtime.now() });
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
   * Streams NNNN.pdf to `to`: the owner answering a request (purpose 'request'; when `to` is this
   * peer, the request was typed here and only presence is reported), or the origin of a store
   * copying the file to the owner (purpose 'store'). Each step is reported to the core.
   */
  private async sendStored(file: string, to: Contact, rid: number, purpose: 'request' | 'store'): Promise<void> {
    const progress = (phase: 'start' | 'missing' | 'sent' | 'failed', error?: string) => {
      const extra = { file, to, phase, ...(error ? { error } : {}), now: this.runtime.now() };
      this.feed(purpose === 'request' ? { type: 'serve-progress', rid, ...extra } : { type: 'push-progress', ...extra });
    };
    const ep = this.endpoint;
    if (!ep) return;
    const st = await ep.statFile(`${file}.pdf`).catch(() => null);
    if (!st) return progress('missing');
    progress('start');
    if (to.id === this.id) return;
    try {
      await ep.sendFile(to, { type: 'file-begin', from: this.self, file, rid, purpose, size: st.size }, `${file}.pdf`);
      progress('sent');
    } catch (err) {
      progress('failed', err instanceof Error ? err.message : String(err));
    }
  }

  private async shutdown(code: number, reason: string): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const name of [...this.timers.keys()]) this.clearTimer(name);
    if (!this.isReady) this.rejectReady(new Error(`Peer ${this.id} stopped before joining a ring: ${reason}`));
    if (reason !== 'killed' && this.inFlight.size > 0) {
      // a clean exit lets its last messages (acks, handed-back requests) reach their peers, within a bound
      let timer: unknown;
      const bound = new Promise<void>((res) => (timer = this.runtime.setTimer(FLUSH_ON_EXIT_MS, res)));
      await Promise.race([Promise.allSettled([...this.inFlight]), bound]);
      this.runtime.clearTimer(timer);
    }
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

export function startPeer(opts: PeerOptions): Peer {
  return new Peer(opts);
}

function isIdLike(x: unknown): x is IdLike {
  return (typeof x === 'number' && Number.isInteger(x) && x >= 0) || typeof x === 'bigint';
}

function validateOptions(o: PeerOptions): void {
  const bad = (what: string) => {
    throw new RangeError(what);
  };
  const isSpecId = (x: unknown) => isIdLike(x) && SPEC_SPACE.isId(BigInt(x));
  if (!isSpecId(o.id)) bad(`peer id must be an integer from 0 to 255 (got ${o.id})`);
  if (o.mode.kind === 'init' && !o.mode.successors.every((s) => (typeof s === 'object' ? SPEC_SPACE.isId(s.id) : isSpecId(s)))) {
    bad('successor ids must be integers from 0 to 255');
  }
  if (o.mode.kind === 'join' && typeof o.mode.known !== 'object' && !isSpecId(o.mode.known)) bad('the known peer id must be an integer from 0 to 255');
  if (!(o.pingIntervalMs > 0) || !Number.isFinite(o.pingIntervalMs)) bad('ping interval must be a positive number');
  if (o.tls !== undefined && o.tls.id !== BigInt(o.id)) bad(`the certificate is for peer ${o.tls.id}, not ${o.id}`);
  if (o.maxFileBytes !== undefined && !(Number.isSafeInteger(o.maxFileBytes) && o.maxFileBytes >= 0)) bad('maxFileBytes must be a non-negative integer');
  if (o.pingMisses !== undefined && !(Number.isInteger(o.pingMisses) && o.pingMisses >= 1 && o.pingMisses <= 100)) {
    bad('ping misses must be an integer from 1 to 100');
  }
  const base = o.basePort ?? DEFAULT_BASE_PORT;
  if (!Number.isInteger(base) || base < 1 || base + 255 > 65535) bad('base port must be an integer from 1 to 65280');
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
