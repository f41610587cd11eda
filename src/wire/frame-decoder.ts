// Cuts a TCP byte stream back into frames. Holds at most one partial frame, allocated once its
// length is known, so each byte is copied at most once; a frame whole inside a pushed chunk is
// decoded in place.
import { decodeBytes, impossibleLength, type Decoded } from './codec.js';
import { PREFIX_BYTES, readU32 } from './primitives.js';

/**
 * Cuts a byte stream into frames. Holds at most one partial frame (at most MAX_FRAME_BYTES),
 * allocated once its length is known, so each byte is copied at most once. A frame that is
 * whole inside a pushed chunk is decoded in place without copying it.
 */
export class FrameDecoder {
  /** The first bytes of a length prefix split across chunks. */
  private readonly prefix = new Uint8Array(PREFIX_BYTES);
  private prefixFilled = 0;
  /** The frame being assembled, sized to its full length, and how much of it has arrived. */
  private pending: Uint8Array | null = null;
  private pendingFilled = 0;
  private broken = false;

  push(bytes: Uint8Array): Decoded[] {
    const out: Decoded[] = [];
    if (this.broken) return out;
    let off = 0;
    while (off < bytes.length) {
      if (this.pending) {
        off += this.fill(bytes, off, out);
        continue;
      }
      let length: number;
      if (this.prefixFilled === 0 && bytes.length - off >= PREFIX_BYTES) {
        length = readU32(bytes, off);
      } else {
        const n = Math.min(PREFIX_BYTES - this.prefixFilled, bytes.length - off);
        this.prefix.set(bytes.subarray(off, off + n), this.prefixFilled);
        this.prefixFilled += n;
        off += n;
        if (this.prefixFilled < PREFIX_BYTES) break;
        length = readU32(this.prefix, 0);
      }
      const impossible = impossibleLength(length);
      if (impossible) {
        // The stream cannot be resynchronised: report once and ignore everything after.
        this.broken = true;
        this.prefixFilled = 0;
        out.push({ ok: false, error: impossible });
        return out;
      }
      const total = PREFIX_BYTES + length;
      if (this.prefixFilled === 0 && bytes.length - off >= total) {
        out.push(decodeBytes(bytes.subarray(off, off + total), false));
        off += total;
        continue;
      }
      this.pending = new Uint8Array(total);
      if (this.prefixFilled === PREFIX_BYTES) {
        this.pending.set(this.prefix);
        this.pendingFilled = PREFIX_BYTES;
        this.prefixFilled = 0;
      } else {
        this.pendingFilled = 0;
      }
    }
    return out;
  }

  /** Copies what it can of bytes[off..] into the pending frame; returns how many bytes it took. */
  private fill(bytes: Uint8Array, off: number, out: Decoded[]): number {
    const pending = this.pending!;
    const n = Math.min(pending.length - this.pendingFilled, bytes.length - off);
    pending.set(bytes.subarray(off, off + n), this.pendingFilled);
    this.pendingFilled += n;
    if (this.pendingFilled === pending.length) {
      this.pending = null;
      this.pendingFilled = 0;
      out.push(decodeBytes(pending, true));
    }
    return n;
  }

  /** Bytes held towards the next frame. */
  get buffered(): number {
    return this.prefixFilled + this.pendingFilled;
  }

  /** True after an impossible length prefix; the connection should be closed. */
  get failed(): boolean {
    return this.broken;
  }
}
