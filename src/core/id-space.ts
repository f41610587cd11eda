// The ring's id space: M-bit ids on a circle, the arithmetic of intervals that wrap, which
// peer owns a key, and how names become keys. The 8-bit space keeps the specification's rules
// exactly (four-digit names, key = NNNN mod 256); larger spaces hash names with SHA-256.
//
// Ids are bigints in every space, so one code path serves 8 bits and 160. The hash is handed in
// by the shell (the core imports nothing from Node), and only spaces above 8 bits need it.
import { ConfigError } from './config.js';

export type Id = bigint;
/** SHA-256 of the bytes (32 bytes out). */
export type Digest = (bytes: Uint8Array) => Uint8Array;

export const SPEC_BITS = 8;
export const MIN_BITS = 8;
export const MAX_BITS = 160;
/** Above this many bits an id no longer fits a double exactly, so it prints as hex. */
const MAX_DECIMAL_BITS = 53;
/** Hex digits of an id's short form. */
const SHORT_HEX_DIGITS = 8;
/** A stored name takes at most this many UTF-8 bytes (the wire's limit too). */
export const MAX_NAME_BYTES = 255;
/** Four digits: the specification's file names (`0159` stays `0159`). */
export const SPEC_NAME = /^\d{4}$/;
/** What a name in a larger space must not contain: path separators, NUL and other control characters. */
const BAD_NAME_CHARS = /[/\\\u0000-\u001f\u007f]/;

const utf8 = new TextEncoder();

/**
 * A typed file name with one pair of matching quotes around it ("..." or '...') taken off: how a
 * name with spaces at its ends, or a path with spaces, is typed at a console.
 */
export function unquoteName(text: string): string {
  const m = /^(["'])([\s\S]*)\1$/.exec(text);
  return m ? m[2]! : text;
}

export class IdSpace {
  readonly bits: number;
  readonly size: bigint;
  /** The specification's space: ids typed by the user, names of four digits, key = NNNN mod 256. */
  readonly spec: boolean;
  /** Bytes an id takes at most on the wire. */
  readonly idBytes: number;
  private readonly digest: Digest | undefined;

  constructor(bits: number, digest?: Digest) {
    if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
      throw new ConfigError('bits', `an id space has ${MIN_BITS} to ${MAX_BITS} bits (got ${bits})`, MIN_BITS, MAX_BITS);
    }
    this.bits = bits;
    this.size = 1n << BigInt(bits);
    this.spec = bits === SPEC_BITS;
    this.idBytes = Math.ceil(bits / 8);
    this.digest = digest;
  }

  isId(x: unknown): x is Id {
    return typeof x === 'bigint' && x >= 0n && x < this.size;
  }

  /** Clockwise distance from a to b, in [0, size). */
  distance(a: Id, b: Id): bigint {
    const d = (b - a) % this.size;
    return d < 0n ? d + this.size : d;
  }

  /** (a + n) mod size. */
  add(a: Id, n: bigint): Id {
    return (((a + n) % this.size) + this.size) % this.size;
  }

  // The intervals below run on every routed hop and every pong: ids of this space are compared
  // in place, since the distances' bigint arithmetic allocates. Values outside [0, size) (a
  // remote peer's id from a larger space) take the modular formula, whose answers they keep.

  private inside(v: Id): boolean {
    return v >= 0n && v < this.size;
  }

  /** x in the open interval (a, b) going clockwise; when a == b the whole ring but a. */
  betweenOpen(a: Id, x: Id, b: Id): boolean {
    if (a === b) return x !== a;
    if (!this.inside(a) || !this.inside(x) || !this.inside(b)) {
      const d = this.distance(a, x);
      return d > 0n && d < this.distance(a, b);
    }
    return a < b ? a < x && x < b : a < x || x < b;
  }

  /** x in the half-open interval (a, b] going clockwise; when a == b the whole ring. */
  betweenRightClosed(a: Id, x: Id, b: Id): boolean {
    if (a === b) return true;
    if (!this.inside(a) || !this.inside(x) || !this.inside(b)) {
      const d = this.distance(a, x);
      return d > 0n && d <= this.distance(a, b);
    }
    return a < b ? a < x && x <= b : a < x || x <= b;
  }

  /** Whether x lies strictly farther clockwise from a than y does: distance(a, x) > distance(a, y). */
  fartherFrom(a: Id, x: Id, y: Id): boolean {
    if (!this.inside(a) || !this.inside(x) || !this.inside(y)) return this.distance(a, x) > this.distance(a, y);
    // ids at or after a come first going round, in their order; those before a follow, in theirs
    const xAfter = x >= a;
    return xAfter === y >= a ? x > y : !xAfter;
  }

  /** The owner of key k among ids: the first id >= k, wrapping past the top to the smallest. */
  ownerOf(key: Id, ids: readonly Id[]): Id | undefined {
    let best: Id | undefined;
    let bestD = 0n;
    for (const id of ids) {
      const d = this.distance(key, id);
      if (best === undefined || d < bestD) {
        best = id;
        bestD = d;
      }
    }
    return best;
  }

  /** Why `name` cannot be stored in this space, or undefined when it can. */
  nameProblem(name: string): string | undefined {
    if (this.spec) {
      return SPEC_NAME.test(name) ? undefined : `Invalid file name '${name}': a file name is exactly four digits, 0000 to 9999`;
    }
    if (typeof name !== 'string' || name.length === 0) return 'a file name must not be empty';
    if (BAD_NAME_CHARS.test(name)) return `Invalid file name '${name}': no path separators or control characters`;
    if (name.startsWith('.')) return `Invalid file name '${name}': it must not start with a dot`;
    if (/[\uD800-\uDFFF]/.test(name.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) return `Invalid file name: not valid UTF-8`;
    if (utf8.encode(name).length > MAX_NAME_BYTES) return `Invalid file name '${name.slice(0, 40)}…': longer than ${MAX_NAME_BYTES} bytes`;
    return undefined;
  }

  /** Key of a stored name: NNNN mod 256 in the spec space; the leading M bits of SHA-256(name) above it. */
  keyOf(name: string): Id {
    if (this.spec) return BigInt(Number.parseInt(name, 10) % 256);
    return this.hashToId(utf8.encode(name));
  }

  /** The data file that holds a stored name: NNNN.pdf in the spec space, the name itself above it. */
  fileOf(name: string): string {
    return this.spec ? `${name}.pdf` : name;
  }

  /** The file a Request saves what arrives as. */
  receivedFileOf(name: string): string {
    return `received_${this.fileOf(name)}`;
  }

  /** A peer id derived from the address it advertises (spaces above 8 bits). */
  idOfAddress(host: string, port: number): Id {
    return this.hashToId(utf8.encode(`${host.includes(':') ? `[${host}]` : host}:${port}`));
  }

  private hashToId(bytes: Uint8Array): Id {
    // an assertion: the shell's idSpace() always hands spaces above 8 bits their digest
    if (!this.digest) throw new Error(`the ${this.bits}-bit id space needs a digest to hash names`);
    const h = this.digest(bytes);
    let v = 0n;
    for (let i = 0; i < this.idBytes; i++) v = (v << 8n) | BigInt(h[i]!);
    return v >> BigInt(this.idBytes * 8 - this.bits);
  }

  /** Compact form for lines and tables: decimal up to 53 bits, short hex (leading digits) above. */
  format(id: Id): string {
    if (this.bits <= MAX_DECIMAL_BITS) return id.toString(10);
    return this.hex(id).slice(0, SHORT_HEX_DIGITS);
  }

  /** The full form, for --json and for typing back: decimal up to 53 bits, every hex digit above. */
  formatFull(id: Id): string {
    return this.bits <= MAX_DECIMAL_BITS ? id.toString(10) : this.hex(id);
  }

  private hex(id: Id): string {
    return id.toString(16).padStart(Math.ceil(this.bits / 4), '0');
  }

  /** Reads an id as typed, the way formatFull prints it: decimal up to 53 bits, hex above; 0x-hex in any space. */
  parse(text: string): Id | undefined {
    const t = text.trim();
    let v: bigint | undefined;
    if (/^0x[0-9a-f]{1,40}$/i.test(t)) v = BigInt(t);
    else if (this.bits <= MAX_DECIMAL_BITS && /^\d{1,16}$/.test(t)) v = BigInt(t);
    else if (this.bits > MAX_DECIMAL_BITS && /^[0-9a-f]{1,40}$/i.test(t)) v = BigInt(`0x${t}`);
    return v !== undefined && this.isId(v) ? v : undefined;
  }

  /** Ids sorted ascending (bigints do not sort with the default comparator). */
  static sort(ids: Iterable<Id>): Id[] {
    return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** The specification's space. */
export const SPEC_SPACE = new IdSpace(SPEC_BITS);
