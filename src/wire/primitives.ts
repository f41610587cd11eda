// The byte-level pieces of the wire format: a growable writer, a bounds-checked reader, and
// the checks they share. Readers throw a RemoteProtocolError (a peer's bytes we refuse) that the
// codec turns into { ok: false }, never into the event loop; the checks are shared with the
// writers, whose entry points run inside encoding() so that a refusal there is a
// LocalProtocolError (our frame, our bug or our caller's) with the same code and sentence.
import { LocalProtocolError, RemoteProtocolError, type WireErrorCode } from '../core/errors.js';

export type WireVersion = 1 | 2;

export const PREFIX_BYTES = 4;
export const HEADER_BYTES = PREFIX_BYTES + 2;
export const U32_LIMIT = 2 ** 32;
/** The high word of a u64 above this would make the value exceed Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1;

const utf8Encoder = new TextEncoder();
// fatal: malformed UTF-8 is a protocol violation; ignoreBOM: keep a leading U+FEFF so re-encoding is exact.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function bad(message: string): RemoteProtocolError {
  return new RemoteProtocolError('CDHT_ERR_BAD_PAYLOAD', message);
}

/** An encoder's refusal outside encoding(): a frame we will not build. */
export function refuse(message: string): LocalProtocolError {
  return new LocalProtocolError('CDHT_ERR_BAD_PAYLOAD', message);
}

/** Runs an encoder: a refusal inside it is ours to fix, not a peer's, so it leaves as a LocalProtocolError. */
export function encoding<T>(encode: () => T): T {
  try {
    return encode();
  } catch (e) {
    throw asLocal(e);
  }
}

/** What encoding() throws for what an encoder threw (for a hot caller that saves the closure). */
export function asLocal(e: unknown): unknown {
  return e instanceof RemoteProtocolError ? new LocalProtocolError(e.code as WireErrorCode, e.message) : e;
}

export function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(`${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(`${name} must be a boolean`);
  return v;
}

export function checkBytes(name: string, b: unknown, min: number, max: number): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length < min || b.length > max) {
    throw bad(min === max ? `${name} must be ${min} bytes` : `${name} must be ${min}..${max} bytes`);
  }
  return b;
}

/** UTF-8 of a well-formed string (a lone surrogate would not round-trip). */
export function encodeText(name: string, s: unknown): Uint8Array {
  if (typeof s !== 'string' || LONE_SURROGATE.test(s)) throw bad(`${name} must be a well-formed string`);
  return utf8Encoder.encode(s);
}

export function utf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

export class Writer {
  private buf: Uint8Array;
  private pos = HEADER_BYTES;

  constructor(
    capacity: number,
    private ver: WireVersion,
    /** True when the buffer is used again for the next frame, so finish() always copies out. */
    private readonly reused = false,
  ) {
    this.buf = new Uint8Array(Math.max(capacity, 64));
  }

  get version(): WireVersion {
    return this.ver;
  }

  /** Starts a new frame in the same buffer (a reused writer). */
  reset(version: WireVersion): void {
    this.ver = version;
    this.pos = HEADER_BYTES;
  }

  /** The buffer's size now (a reused writer's owner drops one grown too large). */
  get capacity(): number {
    return this.buf.length;
  }

  private reserve(n: number): number {
    if (this.pos + n > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
      grown.set(this.buf.subarray(0, this.pos));
      this.buf = grown;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  // Each writer reserves before touching this.buf: reserve may replace the buffer (and
  // `this.buf[this.reserve(1)] = v` would write into the old one, as JS reads this.buf first).
  u8(v: number): void {
    const at = this.reserve(1);
    this.buf[at] = v;
  }
  u16(v: number): void {
    const at = this.reserve(2);
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v & 0xff;
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.buf[at] = v >>> 24;
    this.buf[at + 1] = (v >>> 16) & 0xff;
    this.buf[at + 2] = (v >>> 8) & 0xff;
    this.buf[at + 3] = v & 0xff;
  }
  u64(name: string, v: number): void {
    checkInt(name, v, 0, Number.MAX_SAFE_INTEGER);
    this.u32(Math.floor(v / U32_LIMIT));
    this.u32(v % U32_LIMIT);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length); // first: reserve may replace this.buf
    this.buf.set(b, at);
  }

  /** Fills in the length prefix, version and type code, and returns exactly the frame's bytes. */
  finish(code: number, maxFrameBytes: number): Uint8Array {
    const length = this.pos - PREFIX_BYTES;
    if (this.pos > maxFrameBytes) throw bad(`frame of ${this.pos} bytes exceeds ${maxFrameBytes}`);
    const b = this.buf;
    b[0] = length >>> 24;
    b[1] = (length >>> 16) & 0xff;
    b[2] = (length >>> 8) & 0xff;
    b[3] = length & 0xff;
    b[4] = this.ver;
    b[5] = code;
    return this.pos === b.length && !this.reused ? b : b.slice(0, this.pos);
  }
}

export class Reader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    readonly version: WireVersion,
    /** True when buf belongs to the decoder alone, so views into it need no copy. */
    private readonly owned: boolean,
  ) {
    this.pos = start;
  }

  get left(): number {
    return this.buf.length - this.pos;
  }

  // A field's name is `what` followed by `more` (when given): callers on the hot path pass the
  // two parts as constants, and the sentence is put together only when it is thrown.
  private take(n: number, what: string, more?: string): number {
    if (this.left < n) throw bad(`payload too short: ${named(what, more)} needs ${n} bytes, ${this.left} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(what: string, more?: string): number {
    return this.buf[this.take(1, what, more)]!;
  }
  u16(what: string, more?: string): number {
    const at = this.take(2, what, more);
    return (this.buf[at]! << 8) | this.buf[at + 1]!;
  }
  u32(what: string): number {
    const at = this.take(4, what);
    return readU32(this.buf, at);
  }
  u64(what: string): number {
    const high = this.u32(what);
    const low = this.u32(what);
    if (high > MAX_SAFE_HIGH_WORD) throw bad(`${what} exceeds Number.MAX_SAFE_INTEGER`);
    return high * U32_LIMIT + low;
  }
  bool(what: string): boolean {
    const v = this.u8(what);
    if (v > 1) throw bad(`${what} must be 0 or 1, got ${v}`);
    return v === 1;
  }
  /** A plain Uint8Array the caller may keep (a copy unless the buffer is ours alone). */
  bytes(n: number, what: string): Uint8Array {
    const at = this.take(n, what);
    const view = this.buf.subarray(at, at + n);
    return this.owned ? view : new Uint8Array(view);
  }
  text(n: number, what: string, more?: string, cache?: TextCache): string {
    const at = this.take(n, what, more);
    const known = cache?.find(this.buf, at, n);
    if (known !== undefined) return known;
    let text: string;
    try {
      text = utf8Decoder.decode(this.buf.subarray(at, at + n));
    } catch {
      throw bad(`${named(what, more)} is not valid UTF-8`);
    }
    cache?.add(this.buf, at, n, text);
    return text;
  }
  /**
   * The big-endian unsigned number in the next n bytes (n at most 6, so it is exact), read in
   * place; -1 when n > 0 and the first byte is 0 (not minimal), for the caller to refuse.
   */
  uint(n: number, what: string, more?: string): number {
    const at = this.take(n, what, more);
    if (n > 0 && this.buf[at] === 0) return -1;
    let v = 0;
    for (let i = at; i < at + n; i++) v = v * 256 + this.buf[i]!;
    return v;
  }
  /** The next n bytes as a bigint (any n), read in place; -1n when not minimal, as uint. */
  bigUint(n: number, what: string, more?: string): bigint {
    const at = this.take(n, what, more);
    if (n > 0 && this.buf[at] === 0) return -1n;
    let hex = '0x';
    for (let i = at; i < at + n; i++) hex += HEX_BYTES[this.buf[i]!];
    return BigInt(hex);
  }

  end(): void {
    if (this.left !== 0) throw bad(`${this.left} trailing bytes after the payload`);
  }
}

/**
 * The last few strings decoded, by their UTF-8 bytes, for a field that repeats (a contact's host):
 * a match is found in place, with no view, copy or string made. Entries are replaced in turn, so a
 * flood of new strings costs a lookup each and never grows it past `entries`.
 */
export class TextCache {
  private readonly bytes: Uint8Array[] = [];
  private readonly texts: string[] = [];
  private next = 0;

  constructor(private readonly entries: number) {}

  find(buf: Uint8Array, at: number, n: number): string | undefined {
    for (let e = 0; e < this.bytes.length; e++) {
      const b = this.bytes[e]!;
      if (b.length !== n) continue;
      let i = 0;
      while (i < n && b[i] === buf[at + i]) i++;
      if (i === n) return this.texts[e];
    }
    return undefined;
  }

  add(buf: Uint8Array, at: number, n: number, text: string): void {
    this.bytes[this.next] = buf.slice(at, at + n);
    this.texts[this.next] = text;
    this.next = (this.next + 1) % this.entries;
  }

  get size(): number {
    return this.bytes.length;
  }
}

function named(what: string, more: string | undefined): string {
  return more === undefined ? what : what + more;
}

const HEX_BYTES = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function readU32(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}
