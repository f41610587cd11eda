// Cuts a byte stream back into frames without trusting the length prefix: a partial frame is
// held in a buffer that grows with what has arrived (never the announced size up front), a
// streamed frame's payload (file-data) is passed through as views of the pushed bytes, and
// release() lets go of everything at once when the connection ends.
import { RemoteProtocolError } from '../core/errors.js';
import { decodeBytes, MAX_FRAME_BYTES, type Decoded } from './codec.js';
import { HEADER_BYTES, PREFIX_BYTES, readU32 } from './primitives.js';

/** Where the splitter hands what it cut. Callbacks may call release() to stop at once. */
export interface FrameSink {
  /**
   * One whole frame, length prefix included. `owned`: the bytes are the splitter's own copy
   * (the receiver may keep them); otherwise they are a view of the pushed chunk.
   */
  frame(bytes: Uint8Array, owned: boolean): void;
  /**
   * Payload bytes of a streamed frame whose header (version, type `code`) has been read; a view
   * of the pushed chunk. `last` marks the end of that frame's payload.
   */
  data(code: number, bytes: Uint8Array, last: boolean): void;
  /** An impossible length prefix: the stream cannot be resynchronised, and the splitter stops. */
  broken(error: RemoteProtocolError): void;
}

export interface SplitterLimits {
  /** Largest whole frame (prefix included) that is assembled in memory. */
  readonly maxFrameBytes: number;
  /** Type codes whose payload is streamed through instead of assembled (file-data). */
  readonly streamCodes?: readonly number[];
  /** Largest streamed frame, prefix included. */
  readonly maxStreamedFrameBytes?: number;
}

const MIN_LENGTH = 2;
/** First size of the buffer for a partial frame; it doubles as bytes arrive. */
const FIRST_HOLD_BYTES = 4096;

export class FrameSplitter {
  /**
   * The header (up to HEADER_BYTES) of the next frame, when it is split across chunks; made the
   * first time that happens (most connections never need it, and every open one has a splitter).
   */
  private head: Uint8Array | undefined;
  private headFilled = 0;
  /** A frame being assembled: a buffer that grows with what has arrived, up to `holdTotal`. */
  private hold: Uint8Array | null = null;
  private holdFilled = 0;
  private holdTotal = 0;
  /** Payload bytes still to come of the streamed frame in progress, and its code. */
  private streamLeft = 0;
  private streamCode = 0;
  private stopped = false;
  /** Frames (whole or streamed) completed so far; lets a caller restart a per-frame deadline. */
  completed = 0;

  constructor(private limits: SplitterLimits) {}

  /** Changes the limits from the next frame on (a connection that turns out to carry a file). */
  setLimits(limits: SplitterLimits): void {
    this.limits = limits;
  }

  /** Bytes held towards the frame in progress (0 between frames and inside a streamed payload). */
  get buffered(): number {
    return this.headFilled + this.holdFilled;
  }

  /** True between a frame's first byte and its last (whether held or streamed). */
  get inFrame(): boolean {
    return this.headFilled > 0 || this.hold !== null || this.streamLeft > 0;
  }

  /** Memory held for the frame in progress: the capacity of its buffer. */
  get heldBytes(): number {
    return (this.hold?.length ?? 0) + (this.headFilled > 0 ? HEADER_BYTES : 0);
  }

  /** True inside a streamed frame, between its header and its last payload byte. */
  get streaming(): boolean {
    return this.streamLeft > 0;
  }

  get failed(): boolean {
    return this.stopped;
  }

  /** Stops for good and drops whatever is held: nothing outlives the connection. */
  release(): void {
    this.stopped = true;
    this.hold = null;
    this.holdFilled = 0;
    this.headFilled = 0;
    this.streamLeft = 0;
  }

  push(bytes: Uint8Array, sink: FrameSink): void {
    let off = 0;
    while (off < bytes.length && !this.stopped) {
      if (this.streamLeft > 0) {
        const n = Math.min(this.streamLeft, bytes.length - off);
        this.streamLeft -= n;
        if (this.streamLeft === 0) this.completed++;
        sink.data(this.streamCode, bytes.subarray(off, off + n), this.streamLeft === 0);
        off += n;
      } else if (this.hold) {
        off += this.fill(bytes, off, sink);
      } else {
        off = this.header(bytes, off, sink);
      }
    }
  }

  /** Reads the start of the next frame; returns the new offset. */
  private header(bytes: Uint8Array, off: number, sink: FrameSink): number {
    const left = bytes.length - off;
    // Fast path: the whole header is inside this chunk.
    if (this.headFilled === 0 && left >= HEADER_BYTES) {
      return this.begin(bytes, off, readU32(bytes, off), bytes[off + 4]!, bytes[off + 5]!, sink) ? off + this.consumedByBegin : bytes.length;
    }
    const n = Math.min(HEADER_BYTES - this.headFilled, left);
    this.head ??= new Uint8Array(HEADER_BYTES);
    this.head.set(bytes.subarray(off, off + n), this.headFilled);
    this.headFilled += n;
    off += n;
    if (this.headFilled >= PREFIX_BYTES) {
      const length = readU32(this.head, 0);
      // A frame too short to have a header, or too long for any rule, fails on its prefix alone.
      if (!this.lengthCanBe(length)) {
        this.fail(length, sink);
        return bytes.length;
      }
    }
    if (this.headFilled < HEADER_BYTES) return off;
    const head = this.head;
    this.headFilled = 0;
    if (!this.begin(head, 0, readU32(head, 0), head[4]!, head[5]!, sink)) return bytes.length;
    return off;
  }

  private consumedByBegin = 0;

  /**
   * Starts a frame whose header is at src[at..at+6]. Decides: stream it, decode it in place,
   * or hold it. Returns false when the stream is broken. Sets consumedByBegin for the fast path.
   */
  private begin(src: Uint8Array, at: number, length: number, version: number, code: number, sink: FrameSink): boolean {
    const total = PREFIX_BYTES + length;
    const streamed = this.isStreamed(length, version, code);
    if (!streamed && (length < MIN_LENGTH || total > this.limits.maxFrameBytes)) {
      this.fail(length, sink);
      return false;
    }
    if (streamed) {
      this.streamLeft = length - 2;
      this.streamCode = code;
      this.consumedByBegin = HEADER_BYTES;
      return true;
    }
    const inChunk = src.length - at;
    if (src !== this.head && inChunk >= total) {
      this.completed++;
      this.consumedByBegin = total;
      sink.frame(src.subarray(at, at + total), false);
      return true;
    }
    // Hold what has arrived: the header now, the rest as it comes.
    this.holdTotal = total;
    this.hold = new Uint8Array(Math.min(total, Math.max(FIRST_HOLD_BYTES, HEADER_BYTES)));
    if (src === this.head) {
      this.hold.set(this.head);
      this.holdFilled = HEADER_BYTES;
      this.consumedByBegin = 0;
    } else {
      this.holdFilled = 0;
      this.consumedByBegin = 0;
    }
    return true;
  }

  private isStreamed(length: number, version: number, code: number): boolean {
    const codes = this.limits.streamCodes;
    if (!codes || !codes.includes(code) || (version !== 1 && version !== 2)) return false;
    // An empty streamed payload is malformed: let the codec say so on a whole frame.
    return length > 2 && PREFIX_BYTES + length <= (this.limits.maxStreamedFrameBytes ?? this.limits.maxFrameBytes);
  }

  private lengthCanBe(length: number): boolean {
    if (length < MIN_LENGTH) return false;
    const most = Math.max(this.limits.maxFrameBytes, this.limits.streamCodes ? (this.limits.maxStreamedFrameBytes ?? 0) : 0);
    return PREFIX_BYTES + length <= most;
  }

  /** Copies what it can of bytes[off..] into the held frame; returns how many bytes it took. */
  private fill(bytes: Uint8Array, off: number, sink: FrameSink): number {
    const n = Math.min(this.holdTotal - this.holdFilled, bytes.length - off);
    let hold = this.hold!;
    if (this.holdFilled + n > hold.length) {
      let size = hold.length;
      while (size < this.holdFilled + n) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.holdTotal));
      grown.set(hold.subarray(0, this.holdFilled));
      hold = this.hold = grown;
    }
    hold.set(bytes.subarray(off, off + n), this.holdFilled);
    this.holdFilled += n;
    if (this.holdFilled === this.holdTotal) {
      this.hold = null;
      this.holdFilled = 0;
      this.completed++;
      sink.frame(hold, true);
    }
    return n;
  }

  private fail(length: number, sink: FrameSink): void {
    this.release();
    const error =
      length < MIN_LENGTH
        ? new RemoteProtocolError('CDHT_ERR_BAD_PAYLOAD', `frame length ${length} is below ${MIN_LENGTH}`)
        : new RemoteProtocolError('CDHT_ERR_FRAME_TOO_LARGE', `frame length ${length} exceeds ${this.maxLengthNow()}`);
    sink.broken(error);
  }

  private maxLengthNow(): number {
    return this.limits.maxFrameBytes - PREFIX_BYTES;
  }
}

/**
 * Messages out of a byte stream: a FrameSplitter whose frames are decoded with the codec.
 * Holds at most one partial frame, sized to what has arrived; file-data is assembled whole here
 * (the Node transport streams it instead, with FrameSplitter).
 */
export class FrameDecoder {
  private readonly splitter: FrameSplitter;
  private out: Decoded[] = [];
  private readonly sink: FrameSink = {
    frame: (bytes, owned) => this.out.push(decodeBytes(bytes, owned)),
    data: () => {},
    broken: (error) => this.out.push({ ok: false, error }),
  };

  constructor(maxFrameBytes: number = MAX_FRAME_BYTES) {
    this.splitter = new FrameSplitter({ maxFrameBytes });
  }

  push(bytes: Uint8Array): Decoded[] {
    this.out = [];
    this.splitter.push(bytes, this.sink);
    return this.out;
  }

  /** Bytes held towards the next frame. */
  get buffered(): number {
    return this.splitter.buffered;
  }

  /** True after an impossible length prefix; the connection should be closed. */
  get failed(): boolean {
    return this.splitter.failed;
  }

  /** Drops any partial frame for good. */
  release(): void {
    this.splitter.release();
  }
}
