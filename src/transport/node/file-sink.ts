// Where a received file's bytes go: hashed (SHA-256) and written to its .part file. Small files
// are handled inline with a write stream; large ones by one worker thread shared by the
// process, so the thread that reads the socket never waits on hashing or the disk. Socket
// chunks are handed over without a copy when they own their memory (Node's reads do).
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { SinkReply, SinkRequest } from './file-sink-worker.js';
import { describe } from './guard.js';

/** How far the inline write stream may run ahead of the disk before it asks for a pause. */
const INLINE_HIGH_WATER_BYTES = 1024 * 1024;
/** Bytes handed to the worker and not yet written before the socket is paused. */
export const MAX_SINK_BACKLOG_BYTES = 8 * 1024 * 1024;
/** Chunks are batched into one message to the worker up to this size (or one event-loop turn). */
const WORKER_BATCH_BYTES = 1024 * 1024;
/** The shared worker exits after this long without a transfer. */
const WORKER_IDLE_MS = 30_000;

export interface FileSink {
  /** Bytes of the file, in order: a view the sink may keep until written. */
  add(piece: Uint8Array): void;
  /** The socket chunk the pieces since the last call came from has been fully read. */
  afterRead(chunk: Uint8Array): void;
  /** True while too much waits for the disk: stop reading until onDrain. */
  readonly backlogged: boolean;
  onDrain(fn: () => void): void;
  /** `fn` is called once, with the first error opening or writing the file (the transfer should stop). */
  onError(fn: (err: string) => void): void;
  /** Everything written and the file closed: its SHA-256. Rejects with the first write error. */
  finish(): Promise<Uint8Array>;
  /** Stops and closes the file (the caller removes it); resolves once nothing can write to it. */
  abort(): Promise<void>;
  /** `fn` is called with the count of bytes written to the file so far (readable through another descriptor), each time it grows. */
  onWritten(fn: (bytes: number) => void): void;
}

// ---- inline ----------------------------------------------------------------------------------

class InlineSink implements FileSink {
  private readonly hash = createHash('sha256');
  private readonly out: WriteStream;
  private readonly closed: Promise<void>;
  private error: Error | null = null;
  private waiting = false;
  private readonly drainers: Array<() => void> = [];
  private errorListener: ((err: string) => void) | null = null;
  private written = 0;
  private writtenListener: ((bytes: number) => void) | null = null;

  constructor(path: string) {
    this.out = createWriteStream(path, { flags: 'wx', highWaterMark: INLINE_HIGH_WATER_BYTES });
    this.closed = new Promise((resolve) => this.out.once('close', () => resolve()));
    this.out.on('error', (err) => {
      if (this.error) return;
      this.error = err;
      this.errorListener?.(describe(err));
    });
  }

  onError(fn: (err: string) => void): void {
    this.errorListener = fn;
    if (this.error) fn(describe(this.error));
  }

  get backlogged(): boolean {
    return this.waiting;
  }

  onWritten(fn: (bytes: number) => void): void {
    this.writtenListener = fn;
  }

  add(piece: Uint8Array): void {
    this.hash.update(piece);
    const n = piece.length;
    // the callback comes once the bytes are in the file, not merely queued for it
    const wrote = (err?: Error | null): void => {
      if (err) return;
      this.written += n;
      this.writtenListener?.(this.written);
    };
    if (!this.out.write(piece, wrote) && !this.waiting) {
      this.waiting = true;
      this.out.once('drain', () => {
        this.waiting = false;
        for (const fn of this.drainers.splice(0)) fn();
      });
    }
  }

  afterRead(): void {}

  onDrain(fn: () => void): void {
    if (!this.waiting) fn();
    else this.drainers.push(fn);
  }

  async finish(): Promise<Uint8Array> {
    this.out.end();
    await this.closed;
    if (this.error) throw this.error;
    return this.hash.digest();
  }

  async abort(): Promise<void> {
    this.out.destroy();
    // Only once closed: an open still in flight would otherwise create the file after it was removed.
    await this.closed;
  }
}

// ---- the shared worker -------------------------------------------------------------------------

interface Waiter {
  written(bytes: number): void;
  settle(reply: SinkReply): void;
}

/** One worker per process, started on the first large transfer and ended when idle. */
class SinkWorker {
  private static current: SinkWorker | null = null;
  private readonly worker: Worker;
  private readonly sinks = new Map<number, Waiter>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;

  static get(): SinkWorker {
    SinkWorker.current ??= new SinkWorker();
    return SinkWorker.current;
  }

  private constructor() {
    this.worker = new Worker(new URL('./file-sink-worker.js', import.meta.url));
    this.worker.on('message', (r: SinkReply) => {
      const w = this.sinks.get(r.id);
      if (!w) return;
      if (r.op === 'written') return w.written(r.bytes); // r.bufs: garbage now, on this thread
      this.sinks.delete(r.id);
      w.settle(r);
      this.maybeIdle();
    });
    const die = (why: string): void => {
      if (SinkWorker.current === this) SinkWorker.current = null;
      for (const [id, w] of this.sinks) w.settle({ op: 'error', id, error: why });
      this.sinks.clear();
    };
    this.worker.on('error', (err) => die(`file worker failed: ${describe(err)}`));
    this.worker.on('exit', () => die('file worker exited'));
    // never what keeps a process alive: after the listeners, since adding a 'message' listener refs the port again
    this.worker.unref();
  }

  register(w: Waiter): number {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const id = this.nextId++;
    this.sinks.set(id, w);
    return id;
  }

  post(m: SinkRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  private maybeIdle(): void {
    if (this.sinks.size > 0 || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      if (this.sinks.size > 0) return;
      if (SinkWorker.current === this) SinkWorker.current = null;
      void this.worker.terminate();
    }, WORKER_IDLE_MS);
    this.idleTimer.unref();
  }
}

class WorkerSink implements FileSink {
  private readonly worker = SinkWorker.get();
  private readonly id: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  private flushScheduled = false;
  /** Buffers that are whole socket chunks: they can move to the worker without a copy. */
  private readonly movable = new WeakSet<ArrayBufferLike>();
  private readonly drainers: Array<() => void> = [];
  private error: string | null = null;
  private errorListener: ((err: string) => void) | null = null;
  private ended: Promise<SinkReply>;
  private settle!: (r: SinkReply) => void;
  private written = 0;
  private writtenListener: ((bytes: number) => void) | null = null;

  constructor(path: string) {
    this.ended = new Promise((resolve) => (this.settle = resolve));
    this.id = this.worker.register({
      written: (bytes) => {
        this.inFlight -= bytes;
        this.written += bytes;
        this.writtenListener?.(this.written);
        if (!this.backlogged) for (const fn of this.drainers.splice(0)) fn();
      },
      settle: (r) => {
        if (r.op === 'error' && this.error === null) {
          this.error = r.error;
          this.errorListener?.(r.error);
        }
        this.settle(r);
        for (const fn of this.drainers.splice(0)) fn();
      },
    });
    this.worker.post({ op: 'open', id: this.id, path });
  }

  get backlogged(): boolean {
    return this.error === null && this.inFlight + this.pendingBytes > MAX_SINK_BACKLOG_BYTES;
  }

  add(piece: Uint8Array): void {
    this.pending.push(piece);
    this.pendingBytes += piece.length;
  }

  afterRead(chunk: Uint8Array): void {
    if (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength) this.movable.add(chunk.buffer);
    if (this.pendingBytes >= WORKER_BATCH_BYTES) return this.flush();
    if (this.flushScheduled || this.pendingBytes === 0) return;
    // Whatever else the socket has ready this turn joins the same message.
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  onDrain(fn: () => void): void {
    if (!this.backlogged) fn();
    else this.drainers.push(fn);
  }

  onError(fn: (err: string) => void): void {
    this.errorListener = fn;
    if (this.error) fn(this.error);
  }

  onWritten(fn: (bytes: number) => void): void {
    this.writtenListener = fn;
  }

  /** Sends what is pending in one message: whole chunks moved, anything else copied once. */
  private flush(): void {
    if (this.pendingBytes === 0 || this.error) return;
    const bufs: ArrayBuffer[] = [];
    const index = new Map<ArrayBufferLike, number>();
    const ranges: number[] = [];
    let copy: Uint8Array[] = [];
    const copyOut = (): void => {
      if (copy.length === 0) return;
      const joined = new Uint8Array(copy.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of copy) {
        joined.set(p, at);
        at += p.length;
      }
      ranges.push(bufs.push(joined.buffer) - 1, 0, joined.length);
      copy = [];
    };
    for (const p of this.pending) {
      if (!this.movable.has(p.buffer)) {
        copy.push(p);
        continue;
      }
      copyOut(); // keep the order of the bytes
      let i = index.get(p.buffer);
      if (i === undefined) {
        i = bufs.push(p.buffer as ArrayBuffer) - 1;
        index.set(p.buffer, i);
      }
      ranges.push(i, p.byteOffset, p.length);
    }
    copyOut();
    this.inFlight += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.worker.post({ op: 'write', id: this.id, bufs, ranges }, bufs);
  }

  async finish(): Promise<Uint8Array> {
    this.flush();
    this.worker.post({ op: 'finish', id: this.id });
    const r = await this.ended;
    // plain: the transfer that awaits it (file-stream.ts) says it in its own refusal
    if (r.op !== 'finished') throw new Error(r.op === 'error' ? r.error : 'aborted');
    return r.sha256;
  }

  async abort(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    this.worker.post({ op: 'abort', id: this.id });
    await this.ended;
  }
}

/** A sink for a file of `size` bytes: the worker from `workerMinBytes` on, inline below. */
export function openSink(path: string, size: number, workerMinBytes: number): FileSink {
  return size >= workerMinBytes ? new WorkerSink(path) : new InlineSink(path);
}
