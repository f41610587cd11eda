// A deterministic simulated world for peers: a virtual clock, a discrete-event queue, an
// in-memory network (UDP datagrams, TCP messages, file transfers) and an in-memory disk,
// with faults (loss, partitions, kills, broken transfers) injected on purpose.
//
// Rules it keeps:
// - Determinism: the same seed and the same sequence of calls give the same event order.
//   Events are ordered by (time, insertion sequence); all randomness comes from one seeded
//   PRNG (mulberry32); nothing reads the wall clock, Math.random or real timers.
// - Between two events, promise continuations triggered by the first one run to completion
//   (a setImmediate turn each, so real I/O a peer's driver started, a file read for a put, gets
//   its turns too), so async peer drivers react to an event before the next one fires. The turn
//   comes only after a timer or an event that touched one of the simulator's promises: a
//   datagram handed to a synchronous handler needs none. A world that does no real I/O (the
//   checker's: `inPlace`) drains them in place instead, for a tenth of the cost: its whole run is
//   one turn of the event loop, and nothing outside the simulator runs inside it.
// - Everything is bounded: queued events, events per run, events at one instant (a
//   livelock detector), FIFO bookkeeping, file sizes.
// - Faults (loss, delay, reordering, duplicates, partitions, pauses, broken transfers) are
//   decided in faults.ts, drawn from this network's PRNG; crashes (kill) are an unbind. A paused
//   endpoint's timers, and the settling of its own sends, wait parked until its resume; then they
//   fire at once, in their order: the clock jumped. Only timers of a runtime made with
//   `runtime(owner)` know their owner (and so wait).
import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { isLibraryTemp } from '../../store-dir.js';
import type { Address, Contact, Target } from '../../core/contact.js';
import { CdhtError, RemoteProtocolError } from '../../core/errors.js';
import type { Id } from '../../core/id-space.js';
import { RECORD_MISMATCH, type FileBegin, type Message } from '../../core/messages.js';
import type { ProofCheck } from '../../core/origin.js';
import { isRouted, speakerOf } from '../../core/messages.js';
import { mulberry32 } from '../../util/prng.js';
import { decodeFrame, encodeFrame, type Decoded } from '../../wire/index.js';
import { acceptanceOf, type Endpoint, type EndpointHandlers, type EndpointOptions, type FileDir, type LibraryFiles, type Origin, type Runtime } from '../types.js';
import { copyMessage } from './copy.js';
import { SimDisk } from './disk.js';
import { Faults } from './faults.js';
import { SimNotary } from './origin-proofs.js';
import { EventHeap, type SimEvent } from './event-heap.js';

export { SimDisk, MAX_SIM_FILE_BYTES } from './disk.js';
export { DEFAULT_LATENCY_MS, MAX_FIFO_PAIRS } from './faults.js';

/** Events waiting in the queue (live or cancelled); more means a runaway sender or timer. */
export const MAX_QUEUED_EVENTS = 2_000_000;
/** Events one runFor/runUntil call may process; more indicates a livelock. */
export const MAX_EVENTS_PER_RUN = 50_000_000;
/** Consecutive events without the clock advancing; more means a zero-delay loop. */
export const MAX_EVENTS_AT_ONE_INSTANT = 100_000;
/** Cancelled timers tolerated in the queue before it is compacted. */
const COMPACT_MIN_CANCELLED = 4096;

/**
 * Runs the promise continuations and next-tick callbacks pending now, to completion, in their
 * order, as the turn of the event loop a setImmediate waits for runs them, for a tenth of its
 * cost: Node's own drain (process._tickCallback, kept for compatibility). It does so only when
 * called outside any continuation: from an immediate's callback. Undefined where Node has none;
 * a run then takes the turns.
 */
const drainContinuations = (process as { _tickCallback?: () => void })._tickCallback?.bind(process);

export const DEFAULT_SIM_SEED = 1;
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
export const DEFAULT_BYTES_PER_MS = 100_000;
/** Events one paused endpoint may have waiting (timers, held messages) before the run fails. */
export const MAX_PARKED_EVENTS = 100_000;

export interface SimNetworkOptions {
  seed?: number;
  /** Inclusive range of one-way delay, drawn per datagram / message / transfer. */
  latencyMs?: [number, number];
  /** Probability that a UDP datagram is lost (TCP messages are reliable). */
  lossRate?: number;
  /** Round-trip every message through encodeFrame/decodeFrame (default true). */
  codec?: boolean;
  connectTimeoutMs?: number;
  /** File transfer speed. */
  bytesPerMs?: number;
  /** Probability that a datagram or TCP message is delivered twice. */
  duplicateRate?: number;
  /** Probability that a TCP message ignores the order of earlier ones on its pair. */
  reorderRate?: number;
  /**
   * Drain the continuations between events in place instead of a turn of the event loop each:
   * only for a world whose peers do no real I/O (the checker's), as none gets a turn inside a run.
   */
  inPlace?: boolean;
}

export interface SimStats {
  now: number;
  queued: number;
  eventsProcessed: number;
  datagramsSent: number;
  datagramsDropped: number;
  datagramsDelivered: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesFailed: number;
  filesSent: number;
  filesDelivered: number;
  filesRefused: number;
  filesFailed: number;
  fileBytesDelivered: number;
  badInputs: number;
}

/** An opaque timer handle (the object itself is what clearTimer takes). */
export interface SimTimer {
  readonly time: number;
}

/** A message in flight: bytes when the codec is on, a private copy otherwise. */
type Payload = { bytes: Uint8Array } | { msg: Message };

function addressOf(c: Address): string {
  return `${c.host}:${c.port}`;
}

/** The file name a receiver chose must stay inside its data directory and not be hidden. */
function validFileName(name: string): boolean {
  return isLibraryTemp(name) || (name.length > 0 && !name.includes('/') && !name.includes('\\') && !name.startsWith('.'));
}

function unreachable(to: Address, why: string): CdhtError {
  return new CdhtError('CDHT_ERR_UNREACHABLE', `cannot reach ${addressOf(to)}: ${why}`);
}

/** decodeFrame must not throw on bad bytes; if it does anyway, that is bad input too. */
function safeDecode(bytes: Uint8Array): Decoded {
  try {
    return decodeFrame(bytes);
  } catch (err) {
    return { ok: false, error: new RemoteProtocolError('CDHT_ERR_BAD_PAYLOAD', `decoder threw: ${String(err)}`) };
  }
}

/** Who sent a payload: the simulator's stand-in for a socket's remote address and a peer's certificate. */
interface Sender {
  readonly self: Address;
  /** Set when the sender holds a private ring's certificate (opened with tls). */
  readonly authId?: Id | undefined;
  /** The authority that signed that certificate (its caPem): two rings' members do not talk. */
  readonly ringCa?: string | undefined;
}

/** A get's stream reads a transfer coming in, in pieces of at most this size (so it can hold the last one back). */
const SIM_TAIL_CHUNK_BYTES = 64 * 1024;

/**
 * A request transfer coming in, as a reader of its file sees it: the simulated transfer lands all at
 * once (or its first half, when it breaks midway), then succeeds or fails, as the Node runtime's
 * .part file grows and is then put in place or removed.
 */
class SimIncoming {
  bytes: Uint8Array = new Uint8Array(0);
  outcome: 'receiving' | 'finished' | 'failed' = 'receiving';
  private readonly watchers = new Set<() => void>();

  constructor(readonly size: number) {}

  get written(): number {
    return this.bytes.length;
  }
  fill(bytes: Uint8Array): void {
    this.bytes = bytes;
    this.wake();
  }
  end(ok: boolean): void {
    if (this.outcome !== 'receiving') return;
    this.outcome = ok ? 'finished' : 'failed';
    this.wake();
  }
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((res, rej) => {
      const done = (): void => {
        this.watchers.delete(done);
        signal?.removeEventListener('abort', stop);
        res();
      };
      const stop = (): void => {
        this.watchers.delete(done);
        rej(new CdhtError('CDHT_ERR_ABORTED', 'aborted', { cause: signal!.reason }));
      };
      this.watchers.add(done);
      signal?.addEventListener('abort', stop, { once: true });
    });
  }
  private wake(): void {
    for (const fn of [...this.watchers]) fn();
  }
}

class SimEndpoint implements Endpoint, Sender {
  closed = false;
  /** Request transfers coming in, by request id (the one accepted last); each leaves when it ends. */
  readonly incoming = new Map<number, SimIncoming>();

  constructor(
    private readonly net: SimNetwork,
    readonly self: Address,
    readonly authId: Id | undefined,
    readonly ringCa: string | undefined,
    readonly dataDir: string,
    /** Where stored names live (store and replica copies land, files are served from). */
    readonly storeDir: string,
    readonly maxFileBytes: number | undefined,
    readonly handlers: EndpointHandlers,
    readonly originProofs = true,
  ) {}

  sendDatagram(to: Target, msg: Message): void {
    this.net.sendDatagramFrom(this, to, msg);
  }

  sendMessage(to: Target, msg: Message): Promise<void> {
    this.net.promised = true;
    // as the Node endpoint: a routed message of our own leaves with our proof, a relayed one keeps its origin's
    if (this.originProofs && this.authId !== undefined && this.ringCa !== undefined && isRouted(msg) && !msg.proof && speakerOf(msg).id === this.authId) {
      msg = this.net.notary.sign(msg, this.authId, this.ringCa, this.net.now());
    }
    return this.net.sendMessageFrom(this, to, msg);
  }

  statFile(name: string): Promise<{ size: number } | null> {
    this.net.promised = true;
    const size = this.net.disk.size(this.storeDir, name);
    return Promise.resolve(size === undefined ? null : { size });
  }

  hashFile(name: string): Promise<{ size: number; sha256: Uint8Array } | null> {
    this.net.promised = true;
    const bytes = this.net.disk.read(this.storeDir, name);
    return Promise.resolve(bytes ? { size: bytes.length, sha256: createHash('sha256').update(bytes).digest() } : null);
  }

  listFiles(): Promise<{ name: string; size: number }[]> {
    this.net.promised = true;
    const disk = this.net.disk;
    return Promise.resolve(disk.list(this.storeDir).filter((n) => !n.startsWith('.')).map((name) => ({ name, size: disk.size(this.storeDir, name)! })));
  }

  sendFile(to: Target, header: FileBegin, name: string, onProgress?: (bytes: number) => void, _signal?: AbortSignal, cancel?: AbortSignal): Promise<void> {
    this.net.promised = true;
    return this.net.sendFileFrom(this, to, header, name, onProgress, cancel);
  }

  close(): Promise<void> {
    this.net.promised = true;
    this.net.unbind(this);
    return Promise.resolve();
  }

  /** The library's files on the simulated disk (a getFile's target is a real path). */
  readonly library: LibraryFiles = {
    write: async (dir, name, source, opts) => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const c of source) {
        if (opts.signal?.aborted) throw new CdhtError('CDHT_ERR_ABORTED', 'aborted');
        size += c.length;
        if (size > opts.maxBytes) throw new CdhtError('CDHT_ERR_TOO_LARGE', `more than ${opts.maxBytes} bytes (this peer's --max-file-size)`);
        chunks.push(c);
        opts.onBytes?.(size);
      }
      const bytes = Buffer.concat(chunks);
      this.net.promised = true;
      this.net.disk.write(this.dirOf(dir), name, bytes);
      return { size, sha256: createHash('sha256').update(bytes).digest() };
    },
    place: (staged, name) => {
      this.net.promised = true;
      const disk = this.net.disk;
      if (disk.size(this.storeDir, name) !== undefined) return Promise.resolve('exists' as const);
      const bytes = disk.read(this.storeDir, staged);
      if (!bytes) return Promise.reject(new CdhtError('CDHT_ERR_BAD_ARGUMENT', `no staged file ${staged}`));
      disk.write(this.storeDir, name, bytes);
      disk.remove(this.storeDir, staged);
      return Promise.resolve('placed' as const);
    },
    read: (dir, name) => {
      const bytes = this.net.disk.read(this.dirOf(dir), name);
      return (async function* () {
        if (!bytes) throw new CdhtError('CDHT_ERR_NOT_FOUND', `no file ${name}`);
        yield bytes;
      })();
    },
    keep: (dir, temp, name) => {
      const bytes = this.net.disk.read(this.dirOf(dir), temp);
      if (!bytes) return Promise.reject(new CdhtError('CDHT_ERR_NOT_FOUND', `no file ${temp}`));
      this.net.promised = true;
      this.net.disk.write(this.dirOf(dir), name, bytes);
      this.net.disk.remove(this.dirOf(dir), temp);
      return Promise.resolve();
    },
    export: async (dir, name, path) => {
      const bytes = this.net.disk.read(this.dirOf(dir), name);
      if (!bytes) throw new CdhtError('CDHT_ERR_NOT_FOUND', `no file ${name}`);
      const part = `${path}.part-${process.pid}`;
      await writeFile(part, bytes);
      await rename(part, path);
      this.net.disk.remove(this.dirOf(dir), name);
    },
    remove: (dir, name) => {
      this.net.disk.remove(this.dirOf(dir), name);
      return Promise.resolve();
    },
    abortIncoming: (rid) => {
      // a cut transfer never lands on the simulated disk
      this.net.abortIncoming(this, rid);
      return Promise.resolve();
    },
    readIncoming: (rid, signal) => {
      const incoming = this.incoming;
      return (async function* () {
        // the get hears of a transfer as its offer is accepted, just before the transfer is set up
        await Promise.resolve();
        const t = incoming.get(rid);
        if (!t) return;
        for (let pos = 0; pos < t.size; ) {
          if (signal?.aborted) throw new CdhtError('CDHT_ERR_ABORTED', 'aborted', { cause: signal.reason });
          if (t.outcome === 'failed') return;
          if (t.written <= pos) {
            if (t.outcome !== 'receiving') return;
            await t.changed(signal);
            continue;
          }
          const piece = Buffer.from(t.bytes.subarray(pos, Math.min(t.written, pos + SIM_TAIL_CHUNK_BYTES)));
          pos += piece.length;
          yield piece;
        }
      })();
    },
    readRecords: () => Promise.resolve((this.net.records.get(this.recordsKey) ?? []).join('')),
    writeRecords: (lines, replace = false) => {
      // kept as pieces, not on the simulated disk: an append copies nothing, however long the log
      const log = replace ? [] : (this.net.records.get(this.recordsKey) ?? []);
      log.push(lines);
      this.net.records.set(this.recordsKey, log);
      return Promise.resolve();
    },
  };

  /** Whose record log: per peer, as peers may share a directory. */
  private get recordsKey(): string {
    return `${this.storeDir}#${addressOf(this.self)}`;
  }

  private dirOf(dir: FileDir): string {
    return dir === 'store' ? this.storeDir : this.dataDir;
  }
}

export class SimNetwork {
  readonly seed: number;
  private readonly inPlace: boolean;
  readonly disk = new SimDisk();
  /** Each store directory's record log (publishers, deletions), as the Node runtime keeps it in `.cdht-records`. */
  readonly records = new Map<string, string[]>();
  /** `${receiver}:${rid}`: request transfers their receiver closed (the library's get aborted); bounded. */
  private readonly abortedTransfers = new Set<string>();

  /** @internal The receiver closes its incoming transfer for request `rid`: it ends unfinished. */
  abortIncoming(dst: SimEndpoint, rid: number): void {
    if (this.abortedTransfers.size >= 4096) this.abortedTransfers.delete(this.abortedTransfers.values().next().value!);
    this.abortedTransfers.add(`${addressOf(dst.self)}:${rid}`);
    // a reader of its file stops now, as on Node, where the transfer ends at once
    dst.incoming.get(rid)?.end(false);
  }
  /** Issues and checks the origin proofs of private rings' routed messages. */
  readonly notary = new SimNotary();
  private readonly rand: () => number;
  /** What happens to traffic on purpose; consulted wherever a datagram's, message's or transfer's fate is decided. */
  private readonly faults: Faults;
  private readonly useCodec: boolean;
  private readonly connectTimeoutMs: number;
  private readonly bytesPerMs: number;

  private clock = 0;
  private nextSeq = 0;
  private readonly queue = new EventHeap();
  private cancelledInQueue = 0;
  private running = false;
  private readonly bound = new Map<string, SimEndpoint>();
  /** A timer fired, an endpoint call returned a promise, or an event settled one: drain continuations before the next event. */
  promised = false;
  private readonly counters: Omit<SimStats, 'now' | 'queued'> = {
    eventsProcessed: 0,
    datagramsSent: 0,
    datagramsDropped: 0,
    datagramsDelivered: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    messagesFailed: 0,
    filesSent: 0,
    filesDelivered: 0,
    filesRefused: 0,
    filesFailed: 0,
    fileBytesDelivered: 0,
    badInputs: 0,
  };

  constructor(opts: SimNetworkOptions = {}) {
    this.seed = opts.seed ?? DEFAULT_SIM_SEED;
    this.rand = mulberry32(this.seed);
    this.faults = new Faults(this.rand, opts);
    this.useCodec = opts.codec ?? true;
    this.inPlace = opts.inPlace === true && drainContinuations !== undefined;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.bytesPerMs = opts.bytesPerMs ?? DEFAULT_BYTES_PER_MS;
    if (!(this.connectTimeoutMs >= 0) || !(this.bytesPerMs > 0)) {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'connectTimeoutMs must be >= 0 and bytesPerMs > 0');
    }
  }

  /** A uniform number in [0, 1) from the network's seeded PRNG. */
  random(): number {
    return this.rand();
  }

  now(): number {
    return this.clock;
  }

  /**
   * A Runtime view on this network; every runtime of one network shares the clock. With `owner`
   * (the address the endpoint will bind) its timers belong to that process: they wait while it
   * is paused.
   */
  runtime(owner?: Address): Runtime {
    const key = owner ? addressOf(owner) : undefined;
    return {
      kind: 'sim',
      now: () => this.clock,
      setTimer: (delayMs: number, fn: () => void): SimTimer =>
        this.schedule(
          delayMs,
          () => {
            this.promised = true;
            fn();
          },
          key,
        ),
      clearTimer: (handle: unknown) => this.cancel(handle),
      random32: () => Math.floor(this.rand() * 2 ** 32) >>> 0,
      openEndpoint: (opts, handlers) => this.openEndpoint(opts, handlers),
    };
  }

  // ---- faults ---------------------------------------------------------------------------

  /**
   * Stop the process at `contact`'s address (see the pause rule at the top); false when nothing
   * is bound there or it is paused already.
   */
  pause(contact: Address): boolean {
    const a = addressOf(contact);
    return this.bound.has(a) && this.faults.pause(a);
  }

  /** Let a paused process go on: what waited fires now, in order. False when it was not paused. */
  resume(contact: Address): boolean {
    const parked = this.faults.resume(addressOf(contact));
    if (!parked) return false;
    for (const ev of parked) {
      if (ev.cancelled) continue;
      ev.parked = false;
      ev.time = this.clock;
      this.queue.push(ev);
    }
    return true;
  }

  isPaused(contact: Address): boolean {
    return this.faults.isPaused(addressOf(contact));
  }

  /** Crash the endpoint bound at `contact`'s address (like close, but not the peer's doing). */
  kill(contact: Contact): boolean {
    const ep = this.bound.get(addressOf(contact));
    if (!ep) return false;
    this.unbind(ep);
    return true;
  }

  isBound(contact: Contact): boolean {
    return this.bound.has(addressOf(contact));
  }

  /**
   * Cut every address in `a` off from every address in `b` (both directions) until heal().
   * An entry is a host (all its ports) or 'host:port' (one endpoint). Cuts accumulate.
   */
  partition(a: string[], b: string[]): void {
    this.faults.partition(a, b);
  }

  heal(): void {
    this.faults.heal();
  }

  setLoss(rate: number): void {
    this.faults.setLoss(rate);
  }

  /** The range of one-way delays from now on (a delay spike, and its end). */
  setLatency(range: readonly [number, number]): void {
    this.faults.setLatency(range);
  }

  setDuplicates(rate: number): void {
    this.faults.setDuplicates(rate);
  }

  setReorder(rate: number): void {
    this.faults.setReorder(rate);
  }

  /** The next file transfer accepted by a receiver breaks midway (calls accumulate). */
  failNextTransfer(): void {
    this.faults.failNextTransfer();
  }

  /**
   * Inject raw bytes into the endpoint at `to`, now, as if sent from `from` (default: an outsider
   * at 192.0.2.1:9). With `authId` the sender holds a certificate for that id (a member forging);
   * without it a private endpoint refuses the bytes, as TLS would. False when nobody is bound there.
   */
  deliverRaw(to: Address, bytes: Uint8Array, via: 'udp' | 'tcp', from: { src?: Address; authId?: Id } = {}): boolean {
    const ep = this.bound.get(addressOf(to));
    if (!ep) return false;
    this.deliver(ep, { bytes: new Uint8Array(bytes) }, via, { self: from.src ?? { host: '192.0.2.1', port: 9 }, authId: from.authId });
    return true;
  }

  stats(): SimStats {
    return { now: this.clock, queued: this.queue.length - this.cancelledInQueue, ...this.counters };
  }

  // ---- running --------------------------------------------------------------------------

  /** Process events in time order until the clock has advanced by exactly `ms`. */
  async runFor(ms: number): Promise<void> {
    await this.run(this.clock + Math.max(0, ms), null);
  }

  /** Run until pred() holds (checked before the first and after every event) or maxMs pass. */
  async runUntil(pred: () => boolean, maxMs: number): Promise<boolean> {
    return this.run(this.clock + Math.max(0, maxMs), pred);
  }

  private async run(until: number, pred: (() => boolean) | null): Promise<boolean> {
    if (!Number.isFinite(until)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'run duration must be a finite number of ms');
    // The plain Errors of a run are the simulator's assertions, not operating conditions: a
    // caller's bug (two runs at once), or a livelock or an unbounded queue in the protocol under test.
    if (this.running) throw new Error('SimNetwork: runFor/runUntil called while a run is in progress');
    this.running = true;
    try {
      const events = this.events(until, pred);
      if (!this.inPlace || !drainContinuations) {
        for (;;) {
          await new Promise<void>((r) => setImmediate(r));
          const r = events.next();
          if (r.done) return r.value;
        }
      }
      // one turn of the event loop, then the whole run in its immediate, draining in place
      return await new Promise<boolean>((resolve, reject) =>
        setImmediate(() => {
          try {
            let r = events.next();
            for (; !r.done; r = events.next()) drainContinuations();
            resolve(r.value);
          } catch (err) {
            reject(err);
          }
        }),
      );
    } finally {
      this.running = false;
    }
  }

  /**
   * The run's events in order; it yields where the continuations they started must run first
   * (the first time: work the caller started before the run, e.g. an awaited openEndpoint), and
   * returns whether pred held.
   */
  private *events(until: number, pred: (() => boolean) | null): Generator<void, boolean, void> {
    yield;
    if (pred?.()) return true;
    let processed = 0;
    let sameInstant = 0;
    for (;;) {
      const ev = this.popDue(until);
      if (!ev) break;
      if (++processed > MAX_EVENTS_PER_RUN) {
        throw new Error(`SimNetwork: more than ${MAX_EVENTS_PER_RUN} events in one run (livelock?) at t=${this.clock}ms, seed ${this.seed}`);
      }
      sameInstant = ev.time === this.clock ? sameInstant + 1 : 0;
      if (sameInstant > MAX_EVENTS_AT_ONE_INSTANT) {
        throw new Error(`SimNetwork: more than ${MAX_EVENTS_AT_ONE_INSTANT} events at t=${this.clock}ms without time advancing (zero-delay loop?), seed ${this.seed}`);
      }
      this.clock = ev.time;
      this.counters.eventsProcessed++;
      ev.fn();
      if (this.promised) {
        this.promised = false;
        yield;
      }
      if (pred?.()) return true;
    }
    this.clock = until;
    return pred ? pred() : true;
  }

  /** The next live event due at or before `until`, removed from the queue (a paused owner's is parked). */
  private popDue(until: number): SimEvent | undefined {
    for (;;) {
      const top = this.queue.peek();
      if (!top || top.time > until) return undefined;
      this.queue.pop();
      if (top.cancelled) {
        top.fired = true;
        this.cancelledInQueue--;
        continue;
      }
      const parked = top.owner === undefined ? undefined : this.faults.parkedAt(top.owner);
      if (parked) {
        this.park(parked, top);
        continue;
      }
      top.fired = true;
      return top;
    }
  }

  private park(parked: SimEvent[], ev: SimEvent): void {
    if (parked.length >= MAX_PARKED_EVENTS) {
      // an assertion, as in run(): a bound the protocol under test must never reach
      throw new Error(`SimNetwork: more than ${MAX_PARKED_EVENTS} events wait for a paused endpoint (${ev.owner}) at t=${this.clock}ms, seed ${this.seed}`);
    }
    ev.parked = true;
    parked.push(ev);
  }

  /** Runs `fn` in the process at `owner` now, or on its resume if it is paused. */
  private into(owner: string, fn: () => void): void {
    const parked = this.faults.parkedAt(owner);
    if (!parked) return fn();
    this.park(parked, { time: this.clock, seq: this.nextSeq++, fn, cancelled: false, fired: false, owner });
  }

  private schedule(delayMs: number, fn: () => void, owner?: string): SimEvent {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      if (this.cancelledInQueue > 0) {
        this.queue.compact();
        this.cancelledInQueue = 0;
      }
      if (this.queue.length >= MAX_QUEUED_EVENTS) {
        // an assertion, as in run(): a bound the protocol under test must never reach
        throw new Error(`SimNetwork: more than ${MAX_QUEUED_EVENTS} queued events at t=${this.clock}ms, seed ${this.seed}`);
      }
    }
    const ev: SimEvent = { time: this.clock + delay, seq: this.nextSeq++, fn, cancelled: false, fired: false, owner };
    this.queue.push(ev);
    return ev;
  }

  private cancel(handle: unknown): void {
    const ev = handle as SimEvent | null | undefined;
    // A fired event is no longer in the queue; marking it would skew the cancelled count.
    if (!ev || typeof ev !== 'object' || !('fired' in ev) || ev.cancelled || ev.fired) return;
    ev.cancelled = true;
    if (ev.parked) return; // not in the queue: the resume skips it
    this.cancelledInQueue++;
    if (this.cancelledInQueue >= COMPACT_MIN_CANCELLED && this.cancelledInQueue * 2 > this.queue.length) {
      this.queue.compact();
      this.cancelledInQueue = 0;
    }
  }

  // ---- endpoints and delivery -----------------------------------------------------------

  private openEndpoint(opts: EndpointOptions, handlers: EndpointHandlers): Promise<Endpoint> {
    const at = opts.listen ?? opts.self;
    const addr = addressOf(at);
    if (this.bound.has(addr)) {
      return Promise.reject(new CdhtError('CDHT_ERR_LISTEN', `listen EADDRINUSE: address already in use ${addr}`));
    }
    const ep = new SimEndpoint(this, { host: at.host, port: at.port }, opts.tls?.id, opts.tls?.caPem, opts.dataDir, opts.storeDir ?? opts.dataDir, opts.maxFileBytes, handlers, opts.originProofs !== false);
    this.bound.set(addr, ep);
    return Promise.resolve(ep);
  }

  /** @internal */
  unbind(ep: SimEndpoint): void {
    if (ep.closed) return;
    ep.closed = true;
    const addr = addressOf(ep.self);
    if (this.bound.get(addr) === ep) this.bound.delete(addr);
    // a process that dies while stopped takes what waited for it along
    const parked = this.faults.resume(addr);
    if (parked) for (const ev of parked) ev.cancelled = true;
  }

  private pack(msg: Message): Payload {
    return this.useCodec ? { bytes: encodeFrame(msg) } : { msg: copyMessage(msg) };
  }

  /**
   * What the receiver learns of a sender: its address, and its id when both ends hold the
   * ring's certificates. Undefined when a private endpoint must refuse (no certificate).
   */
  private originOf(dst: SimEndpoint, src: Sender, via: 'udp' | 'tcp'): Origin | undefined {
    const origin: Origin = { via, src: src.self };
    if (dst.authId === undefined) return origin;
    if (src.authId === undefined) return undefined;
    return { ...origin, authId: src.authId };
  }

  /** A routed message's origin proof, checkable by a member of a private ring when it acts (the Node endpoint's vouch). */
  private vouch(ep: SimEndpoint, msg: Message, origin: Origin): Origin {
    const ringCa = ep.ringCa;
    if (ringCa === undefined || !ep.originProofs || !isRouted(msg) || !msg.proof) return origin;
    let result: ProofCheck | undefined;
    return { ...origin, proof: () => (result ??= this.notary.check(msg, ringCa)) };
  }

  /** Hand a payload to `ep`: decoded messages to onMessage, undecodable bytes to onBadInput. */
  private deliver(ep: SimEndpoint, payload: Payload, via: 'udp' | 'tcp', src: Sender): void {
    const origin = this.originOf(ep, src, via);
    if (!origin) {
      const from = addressOf(src.self);
      this.counters.badInputs++;
      ep.handlers.onBadInput(`${via} from ${from}: refused, no certificate of this ring`, from, 'tls-certificate');
      return;
    }
    if ('msg' in payload) {
      ep.handlers.onMessage(payload.msg, this.vouch(ep, payload.msg, origin));
      return;
    }
    const decoded = safeDecode(payload.bytes);
    if (decoded.ok) {
      ep.handlers.onMessage(decoded.msg, this.vouch(ep, decoded.msg, origin));
    } else {
      const from = addressOf(src.self);
      this.counters.badInputs++;
      ep.handlers.onBadInput(`${via} from ${from}: ${decoded.error.code}: ${decoded.error.message}`, from, 'undecodable');
    }
  }

  /**
   * Why a connection (or a sealed datagram) from src cannot reach dst as `to`, or undefined when
   * it can: private and open endpoints do not talk, and on a private ring the certificate at
   * the address must name the peer the sender meant.
   */
  private handshakeProblem(src: SimEndpoint, dst: SimEndpoint, to: Target): string | undefined {
    if ((src.authId === undefined) !== (dst.authId === undefined) || src.ringCa !== dst.ringCa) {
      return 'TLS handshake failed (one side has no certificate of this ring)';
    }
    if (dst.authId !== undefined && to.id !== undefined && dst.authId !== to.id) {
      return `the certificate there names peer ${dst.authId}, not ${to.id}`;
    }
    return undefined;
  }

  /** Both ends of a failed handshake hear of it: the receiver logs a line naming the sender, as the Node transport does. */
  private refusedAt(dst: SimEndpoint, src: SimEndpoint, via: 'udp' | 'tcp', problem: string): void {
    this.counters.badInputs++;
    const from = addressOf(src.self);
    dst.handlers.onBadInput(`${via} from ${from}: refused, ${problem}`, from, 'tls-handshake');
  }

  /** @internal */
  sendDatagramFrom(src: SimEndpoint, to: Target, msg: Message): void {
    this.counters.datagramsSent++;
    const payload = this.pack(msg);
    if (src.closed || this.faults.dropsDatagram(src.self, to)) {
      this.counters.datagramsDropped++;
      return;
    }
    const copies = this.faults.datagramCopies();
    for (let i = 0; i < copies; i++) {
      this.schedule(this.faults.drawLatency() * (i + 1), () => {
        const toAddr = addressOf(to);
        const ep = this.bound.get(toAddr);
        const problem = ep && !this.faults.partitioned(src.self, to) ? this.handshakeProblem(src, ep, to) : 'unreachable';
        // a stopped process reads nothing: its socket buffer overflows, the datagram is lost
        if (!ep || problem || this.faults.isPaused(toAddr)) {
          this.counters.datagramsDropped++;
          if (ep && problem && problem !== 'unreachable') this.refusedAt(ep, src, 'udp', problem);
          return;
        }
        this.counters.datagramsDelivered++;
        this.deliver(ep, payload, 'udp', src);
      });
    }
  }

  /** @internal */
  sendMessageFrom(src: SimEndpoint, to: Target, msg: Message): Promise<void> {
    this.counters.messagesSent++;
    let payload: Payload;
    try {
      payload = this.pack(msg);
    } catch (err) {
      this.counters.messagesFailed++;
      return Promise.reject(err);
    }
    if (src.closed) {
      this.counters.messagesFailed++;
      return Promise.reject(unreachable(to, 'endpoint closed'));
    }
    const sentAt = this.clock;
    const from = addressOf(src.self);
    const toAddr = addressOf(to);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: CdhtError, delayMs: number) => {
        if (settled) return;
        settled = true;
        this.counters.messagesFailed++;
        const settle = () => {
          this.promised = true;
          reject(err);
        };
        if (delayMs > 0) this.schedule(delayMs, settle, from);
        else this.into(from, settle);
      };
      const timeout = () => Math.max(0, sentAt + this.connectTimeoutMs - this.clock);
      if (this.faults.partitioned(src.self, to)) {
        fail(unreachable(to, 'connect timed out'), timeout());
        return;
      }
      const handOver = (ep: SimEndpoint) => {
        this.counters.messagesDelivered++;
        this.deliver(ep, payload, 'tcp', src);
        if (settled) return; // its sender gave up already: delivered at least once anyway
        settled = true;
        this.into(from, () => {
          this.promised = true;
          resolve();
        });
      };
      const arrive = () => {
        this.promised = true;
        if (this.faults.partitioned(src.self, to)) {
          fail(unreachable(to, 'connect timed out'), timeout());
          return;
        }
        const ep = this.bound.get(toAddr);
        const problem = ep ? this.handshakeProblem(src, ep, to) : 'connection refused';
        if (!ep || problem) {
          if (ep && problem) this.refusedAt(ep, src, 'tcp', problem);
          // as on Node: a private ring tells another authority's peer, or a peer without TLS, that
          // it will not have it (CDHT_ERR_NOT_ADMITTED); a peer with TLS at an open one hears nothing
          const definite = ep && problem && ep.authId !== undefined && (src.authId === undefined || src.ringCa !== ep.ringCa);
          fail(definite ? new CdhtError('CDHT_ERR_NOT_ADMITTED', `${addressOf(to)} will not have this peer: ${problem}`) : unreachable(to, problem ?? 'connection refused'), 0);
          return;
        }
        const parked = this.faults.parkedAt(toAddr);
        if (parked) {
          // the receiver's kernel holds the bytes; it reads them when it runs again
          this.park(parked, { time: this.clock, seq: this.nextSeq++, fn: () => !ep.closed && handOver(ep), cancelled: false, fired: false, owner: toAddr });
          this.schedule(timeout(), () => fail(unreachable(to, 'no acknowledgement (the peer does not respond)'), 0));
          return;
        }
        handOver(ep);
      };
      this.schedule(this.faults.messageDelay(from, toAddr, this.clock), arrive);
      if (this.faults.duplicatesMessage()) {
        // a second copy (a retransmission): delivered if the receiver can take it then
        this.schedule(2 * this.faults.drawLatency() + 1, () => {
          const ep = this.bound.get(toAddr);
          if (!ep || this.faults.isPaused(toAddr) || this.faults.partitioned(src.self, to) || this.handshakeProblem(src, ep, to)) return;
          this.counters.messagesDelivered++;
          this.deliver(ep, payload, 'tcp', src);
        });
      }
    });
  }

  /**
   * A transfer connects after one latency (the receiver gets onFileOffer then, as file-begin
   * arrives first on a real connection), and the data arrives size / bytesPerMs later
   * (onFileDone, bytes written under the accepted name).
   * @internal
   */
  sendFileFrom(src: SimEndpoint, to: Target, header: FileBegin, name: string, onProgress?: (bytes: number) => void, cancel?: AbortSignal): Promise<void> {
    const bytes = this.disk.read(src.storeDir, name);
    if (!bytes) {
      return Promise.reject(new CdhtError('CDHT_ERR_BAD_ARGUMENT', `no file ${name} in ${src.storeDir}`));
    }
    if (src.closed) return Promise.reject(unreachable(to, 'endpoint closed'));
    let headerPayload: Payload;
    try {
      headerPayload = this.pack(header);
    } catch (err) {
      return Promise.reject(err);
    }
    this.counters.filesSent++;
    const sentAt = this.clock;
    const from = addressOf(src.self);
    const durationMs = Math.ceil(bytes.length / this.bytesPerMs);
    return new Promise<void>((resolve, reject) => {
      const fail = (err: CdhtError, delayMs = 0) => {
        this.counters.filesFailed++;
        const settle = () => {
          this.promised = true;
          reject(err);
        };
        if (delayMs > 0) this.schedule(delayMs, settle, from);
        else this.into(from, settle);
      };
      const succeed = () =>
        this.into(from, () => {
          this.promised = true;
          resolve();
        });
      const timeout = () => Math.max(0, sentAt + this.connectTimeoutMs - this.clock);
      if (this.faults.partitioned(src.self, to)) {
        fail(unreachable(to, 'connect timed out'), timeout());
        return;
      }
      this.schedule(this.faults.drawLatency(), () => {
        this.promised = true;
        if (this.faults.partitioned(src.self, to)) return fail(unreachable(to, 'connect timed out'), timeout());
        const dst = this.bound.get(addressOf(to));
        if (!dst) return fail(unreachable(to, 'connection refused'));
        // a stopped receiver never reads the file-begin: the sender gives up
        if (this.faults.isPaused(addressOf(to))) return fail(unreachable(to, 'no answer (the peer does not respond)'), timeout());
        const problem = this.handshakeProblem(src, dst, to);
        const origin = problem ? undefined : this.originOf(dst, src, 'tcp');
        if (problem) this.refusedAt(dst, src, 'tcp', problem);
        if (!origin) return fail(unreachable(to, problem ?? 'refused'));
        if (src.closed) return fail(new CdhtError('CDHT_ERR_TRANSFER', `sender ${from} closed`));
        const offered = this.unpackHeader(dst, headerPayload, from);
        if (!offered) return fail(new CdhtError('CDHT_ERR_TRANSFER', `${addressOf(to)} could not decode file-begin`));
        const accepted = acceptanceOf(dst.handlers.onFileOffer(offered, origin));
        if (accepted === null) {
          this.counters.filesRefused++;
          // as on Node: a file over the limit says so, whatever else the handler had against it
          const over = dst.maxFileBytes !== undefined && offered.size > dst.maxFileBytes ? `: file of ${offered.size} bytes exceeds the limit of ${dst.maxFileBytes} bytes` : '';
          return fail(new CdhtError('CDHT_ERR_TRANSFER', `${addressOf(to)} refused the file${over}`));
        }
        const saveAs = accepted.saveAs;
        if (!validFileName(saveAs)) {
          dst.handlers.onFileDone(offered, { ok: false, error: `refusing to save as ${JSON.stringify(saveAs)}` });
          return fail(new CdhtError('CDHT_ERR_TRANSFER', `receiver chose an invalid file name ${JSON.stringify(saveAs)}`));
        }
        if (dst.maxFileBytes !== undefined && offered.size > dst.maxFileBytes) {
          // As on Node: refused before a byte is written, and the accepted offer reports why.
          const error = `file of ${offered.size} bytes exceeds the limit of ${dst.maxFileBytes} bytes`;
          dst.handlers.onFileDone(offered, { ok: false, error });
          return fail(new CdhtError('CDHT_ERR_TRANSFER', `${addressOf(to)} refused the file: ${error}`));
        }
        const breakMidway = this.faults.takeTransferBreak();
        let tail: SimIncoming | undefined;
        if (offered.purpose === 'request') {
          tail = new SimIncoming(offered.size);
          dst.incoming.set(offered.rid, tail);
        }
        const rid = offered.rid;
        const landed = (ok: boolean): void => {
          if (!tail) return;
          tail.end(ok);
          if (dst.incoming.get(rid) === tail) dst.incoming.delete(rid);
        };
        const deliver = (): void => {
          this.promised = true;
          const stopped = this.faults.isPaused(from) || this.faults.isPaused(addressOf(to));
          const problem = breakMidway
            ? 'transfer broke midway (injected)'
            : src.closed
              ? `sender ${from} went away`
              : this.faults.partitioned(src.self, to)
                ? 'connection lost (partition)'
                : stopped
                  ? 'connection timed out (a peer stopped responding)'
                  : null;
          if (dst.closed) return fail(new CdhtError('CDHT_ERR_TRANSFER', `receiver ${addressOf(to)} went away`));
          const cut = (offered.purpose === 'request' && this.abortedTransfers.delete(`${addressOf(to)}:${offered.rid}`)) || cancel?.aborted;
          if (cut) {
            dst.handlers.onFileDone(offered, { ok: false, error: 'closed by the receiver' });
            return fail(new CdhtError('CDHT_ERR_TRANSFER', `${addressOf(to)} closed the transfer`));
          }
          if (problem) {
            this.into(addressOf(to), () => dst.closed || dst.handlers.onFileDone(offered, { ok: false, error: problem }));
            return fail(new CdhtError('CDHT_ERR_TRANSFER', problem));
          }
          // every byte is in the file before it is checked
          tail?.fill(bytes);
          // as on Node: checked against the records before the file is visible, and a kept name never replaced
          const sha256 = createHash('sha256').update(bytes).digest();
          const dir = offered.purpose === 'request' ? dst.dataDir : dst.storeDir;
          const refusal = [offered.sha256, accepted.sha256].some((r) => r && !sha256.equals(r))
              ? RECORD_MISMATCH
              : accepted.keep && this.disk.size(dir, saveAs) !== undefined && !createHash('sha256').update(this.disk.read(dir, saveAs)!).digest().equals(sha256)
                ? `a file named ${saveAs} is stored here already (stored files do not change)`
                : bytes.length !== offered.size
                  ? `got ${bytes.length} of ${offered.size} bytes`
                  : null;
          if (refusal) {
            dst.handlers.onFileDone(offered, { ok: false, error: refusal });
            return fail(new CdhtError('CDHT_ERR_TRANSFER', `${addressOf(to)} refused the file: ${refusal}`));
          }
          this.disk.write(dir, saveAs, bytes);
          this.into(from, () => onProgress?.(bytes.length));
          dst.handlers.onFileProgress?.(offered, bytes.length);
          this.counters.filesDelivered++;
          this.counters.fileBytesDelivered += bytes.length;
          // finished before the receiver hears of it: a reader of the file is told first, as on Node
          landed(true);
          dst.handlers.onFileDone(offered, { ok: true, sha256 });
          succeed();
        };
        const endsAt = breakMidway ? Math.floor(durationMs / 2) : durationMs;
        // a reader of the file sees it grow, as on Node: half of it halfway through, a quarter
        // when the transfer breaks at half time
        if (tail && endsAt > 1) {
          this.schedule(Math.floor(endsAt / 2), () => {
            if (tail.outcome !== 'receiving' || dst.closed) return;
            this.promised = true;
            tail.fill(bytes.subarray(0, Math.floor(bytes.length / (breakMidway ? 4 : 2))));
          }, addressOf(to));
        }
        this.schedule(endsAt, () => {
          try {
            deliver();
          } finally {
            landed(false); // every other way out failed it (nothing once it finished)
          }
        });
      });
    });
  }

  private unpackHeader(dst: SimEndpoint, payload: Payload, from: string): FileBegin | null {
    if ('msg' in payload) return payload.msg as FileBegin;
    const decoded = safeDecode(payload.bytes);
    if (decoded.ok && decoded.msg.type === 'file-begin') return decoded.msg;
    this.counters.badInputs++;
    dst.handlers.onBadInput(`tcp from ${from}: file-begin did not decode: ${decoded.ok ? decoded.msg.type : decoded.error.message}`, from, 'undecodable');
    return null;
  }
}
