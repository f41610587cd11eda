// Reads frames off one socket under the transport's bounds: the first frame and every later
// frame must each arrive within a deadline, partial frames count against a shared memory
// budget, and everything held is released when the connection ends.
import type * as net from 'node:net';
import type { RemoteProtocolError } from '../../core/errors.js';
import { FrameSplitter, messageCode, type FrameSink } from '../../wire/index.js';
import type { BudgetAccount, MemoryBudget } from './budget.js';
import type { Limits } from './limits.js';
import type { BadInputReason } from '../types.js';

/** What a connection does with the frames read off it (a message link, a file receiver, ...). */
export interface FrameHandler {
  /** One whole frame, length prefix included; `owned` bytes may be kept, others are a view. */
  frame(bytes: Uint8Array, owned: boolean): void;
  /** Payload bytes of a streamed file-data frame (views of the socket's chunk). */
  data(bytes: Uint8Array, last: boolean): void;
  /** After the frames of one read (`chunk`) were handled: acknowledgements are coalesced here. */
  afterRead?(chunk: Uint8Array): void;
}

export interface ReaderContext {
  /** 'tcp from 127.0.0.1:40000', for lines. */
  readonly where: string;
  readonly host: string;
  readonly budget: MemoryBudget;
  readonly limits: Limits;
  /** Accepted connections must send a whole first frame within FIRST_FRAME_TIMEOUT_MS; dialed ones wait for their peer. */
  readonly firstFrameDeadline: boolean;
  /** The reader drops the connection: an impossible frame, a missed deadline, too much memory. */
  fail(detail: string, reason: BadInputReason): void;
}

const FILE_DATA_CODE = messageCode('file-data');

export class FrameReader implements FrameSink {
  private readonly splitter: FrameSplitter;
  private account: BudgetAccount;
  private handler: FrameHandler;
  private frameDeadlineMs: number;
  /** When the frame in progress must be whole (0: none in progress), and when it started. */
  private deadlineAt: number;
  private frameStart = 0;
  private timer: NodeJS.Timeout | null = null;
  private firstDone = false;
  /** Why reading is paused (one or two reasons at most: an array is lighter than a Set). */
  private readonly pausedBy: string[] = [];
  private stopped = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly ctx: ReaderContext,
    handler: FrameHandler,
  ) {
    this.handler = handler;
    this.splitter = new FrameSplitter({ maxFrameBytes: ctx.limits.maxMessageFrameBytes });
    this.account = ctx.budget.account(ctx.host);
    this.frameDeadlineMs = ctx.limits.frameDeadlineMs;
    // Until the first frame is whole, the deadline runs from the moment of accepting.
    this.firstDone = !ctx.firstFrameDeadline;
    this.deadlineAt = ctx.firstFrameDeadline ? performance.now() + ctx.limits.firstFrameTimeoutMs : 0;
    this.arm();
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    // Whatever the connection was used for, its memory goes with it.
    sock.on('close', () => this.stop());
  }

  /** The connection proved to be a member's: what it holds counts against another budget from now on. */
  moveTo(budget: MemoryBudget): void {
    if (this.stopped) return;
    this.account.release();
    this.account = budget.account(this.ctx.host);
    this.account.set(this.splitter.heldBytes);
  }

  setHandler(handler: FrameHandler): void {
    this.handler = handler;
  }

  /** From the next frame on, file-data frames up to the file limit are streamed through. */
  allowFileData(): void {
    const l = this.ctx.limits;
    this.splitter.setLimits({ maxFrameBytes: l.maxMessageFrameBytes, streamCodes: [FILE_DATA_CODE], maxStreamedFrameBytes: l.maxFileFrameBytes });
    this.frameDeadlineMs = l.fileFrameDeadlineMs;
  }

  /** Stops reading until every reason given has been resumed (disk behind, writes backed up). */
  pause(reason: string): void {
    if (!this.pausedBy.includes(reason)) this.pausedBy.push(reason);
    this.sock.pause();
  }

  resume(reason: string): void {
    const i = this.pausedBy.indexOf(reason);
    if (i >= 0) this.pausedBy.splice(i, 1);
    if (this.pausedBy.length > 0 || this.stopped) return;
    // The time spent paused was ours, not the sender's: the frame in progress starts afresh.
    this.frameStart = performance.now();
    if (this.deadlineAt !== 0 && this.firstDone) this.deadlineAt = this.frameStart + this.frameDeadlineMs;
    this.sock.resume();
  }

  /** Bytes held towards an unfinished frame (for a "closed inside a frame" line). */
  get partialBytes(): number {
    return this.splitter.buffered;
  }

  get heldBytes(): number {
    return this.stopped ? 0 : this.splitter.heldBytes;
  }

  /** Lets go of everything: no frame is delivered after this, no memory is held. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.splitter.release();
    this.account.release();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---- FrameSink ---------------------------------------------------------------------------

  frame(bytes: Uint8Array, owned: boolean): void {
    this.handler.frame(bytes, owned);
  }

  data(_code: number, bytes: Uint8Array, last: boolean): void {
    this.handler.data(bytes, last);
  }

  broken(error: RemoteProtocolError): void {
    this.ctx.fail(`${this.ctx.where}: ${error.message}`, error.code === 'CDHT_ERR_FRAME_TOO_LARGE' ? 'oversize' : 'undecodable');
  }

  // ---- reading -----------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    const before = this.splitter.completed;
    const wasInFrame = this.splitter.inFrame;
    this.splitter.push(chunk, this);
    if (this.stopped) return;
    this.handler.afterRead?.(chunk);
    if (this.stopped) return;
    if (!this.account.set(this.splitter.heldBytes)) {
      const l = this.ctx.limits;
      this.ctx.fail(
        `${this.ctx.where}: partial frames would hold more than ${l.maxBufferedBytesPerHost} bytes for ${this.ctx.host} ` +
          `or ${l.maxBufferedBytesTotal} in all; dropped`,
        'memory',
      );
      return;
    }
    const completed = this.splitter.completed !== before;
    if (completed) this.firstDone = true;
    if (!this.firstDone) return; // the first-frame deadline still runs
    if (!this.splitter.inFrame) {
      this.deadlineAt = 0;
      return;
    }
    const now = performance.now();
    if (completed || !wasInFrame) this.frameStart = now;
    this.deadlineAt = this.frameStart + this.frameDeadlineMs;
    this.arm();
  }

  /** One lazy timer: it fires at the earliest deadline set and re-arms itself for later ones. */
  private arm(): void {
    if (this.timer || this.deadlineAt === 0 || this.stopped) return;
    this.timer = setTimeout(() => this.check(), Math.max(1, this.deadlineAt - performance.now()));
    this.timer.unref();
  }

  private check(): void {
    this.timer = null;
    if (this.stopped || this.deadlineAt === 0) return;
    const now = performance.now();
    if (this.pausedBy.length > 0 && this.firstDone) {
      // We stopped reading on purpose (disk behind): the sender is not the slow one.
      this.deadlineAt = now + this.frameDeadlineMs;
      return this.arm();
    }
    if (now < this.deadlineAt) return this.arm();
    const what = this.firstDone ? `a frame did not arrive whole within ${this.frameDeadlineMs} ms` : `no whole frame within ${this.ctx.limits.firstFrameTimeoutMs} ms of connecting`;
    this.ctx.fail(`${this.ctx.where}: ${what}; dropped`, 'deadline');
  }
}
