// Binary wire format: one length-prefixed frame per Message, and a stream decoder that cuts
// a TCP byte stream back into frames. Decoding untrusted bytes never throws; it returns a typed error.
//
// Frame:  u32 BE length (bytes after it) | u8 version (1) | u8 type code | payload
//         2 <= length <= MAX_FRAME_BYTES - 4. All integers are big-endian and unsigned.
//
// Field encodings:
//   contact     u8 id | u16 port (1..65535) | u8 host byte length (1..255) | UTF-8 host
//   seq/qid/rid u32           hops     u16           role  u8, 1 or 2
//   bool        u8, 0 or 1    file     4 bytes, ASCII digits /^\d{4}$/
//   reason      u16 length | UTF-8, at most 512 bytes (encode truncates on a character boundary)
//   successors  u8 count (at most MAX_SUCCESSORS) | that many contacts
//   storeId     u16 length | UTF-8, at most 1024 bytes
//   purpose     u8, 1 request, 2 store
//   size        u64, at most Number.MAX_SAFE_INTEGER
//   sha256      32 bytes      chunk    the rest of the payload, 1..MAX_FRAME_BYTES - 6 bytes
//
// code  type              payload fields, in order
//    1  ping              from: contact, seq, role, loud: bool
//    2  pong              from: contact, seq, loud: bool, successors, pred: u8 0|1 then a contact if 1
//    3  join              joiner: contact, hops
//    4  join-accept       from: contact, successors
//    5  join-reject       from: contact, reason
//    6  successor-change  from: contact, successors
//    7  depart            from: contact, successors
//    8  depart-ack        from: contact
//    9  successor-query   from: contact, qid
//   10  successor-reply   from: contact, qid, successors
//   11  store             origin: contact, file, final: bool, hops
//   12  store-accepted    from: contact, file, storeId
//   13  file-request      requester: contact, file, rid, final: bool, hops
//   14  file-missing      from: contact, file, rid
//   15  file-begin        from: contact, file, rid, purpose, size
//   16  file-data         chunk
//   17  file-end          sha256
//
// Decoding is strict (no trailing bytes, no out-of-range values, well-formed UTF-8 only), so a
// frame that decodes re-encodes to the very same bytes.
import type { Contact } from './contact.js';
import { isPeerId } from './contact.js';
import type { Message, MessageOf, MessageType } from './messages.js';
import { MAX_SUCCESSORS } from './messages.js';
import { CdhtError } from './errors.js';
import { FILE_NAME } from './ring.js';

export const WIRE_VERSION = 1;
export const MAX_FRAME_BYTES = 1 << 20;
export const FILE_CHUNK_BYTES = 64 * 1024;

export type Decoded = { ok: true; msg: Message } | { ok: false; error: CdhtError };

const PREFIX_BYTES = 4;
const HEADER_BYTES = PREFIX_BYTES + 2;
const MIN_LENGTH = 2;
const MAX_LENGTH = MAX_FRAME_BYTES - PREFIX_BYTES;
const MAX_CHUNK_BYTES = MAX_FRAME_BYTES - HEADER_BYTES;
const MAX_HOST_BYTES = 255;
const MAX_REASON_BYTES = 512;
const MAX_STORE_ID_BYTES = 1024;
const SHA256_BYTES = 32;
const FILE_NAME_BYTES = 4;
const U32_LIMIT = 2 ** 32;
/** The high word of a u64 above this would make the value exceed Number.MAX_SAFE_INTEGER. */
const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1;

const utf8Encoder = new TextEncoder();
// fatal: malformed UTF-8 is a protocol violation; ignoreBOM: keep a leading U+FEFF so re-encoding is exact.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function bad(message: string): CdhtError {
  return new CdhtError('CDHT_ERR_BAD_PAYLOAD', message);
}

// ---------------------------------------------------------------------------------------------
// Writing. Every check here guards against a local programmer error, so it throws.

class Writer {
  private buf: Uint8Array;
  private pos = HEADER_BYTES;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(capacity, 64));
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

  u8(v: number): void {
    this.buf[this.reserve(1)] = v;
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
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length); // first: reserve may replace this.buf
    this.buf.set(b, at);
  }

  /** Fills in the length prefix, version and type code, and returns exactly the frame's bytes. */
  finish(code: number): Uint8Array {
    const length = this.pos - PREFIX_BYTES;
    if (length > MAX_LENGTH) throw bad(`frame of ${this.pos} bytes exceeds ${MAX_FRAME_BYTES}`);
    const b = this.buf;
    b[0] = length >>> 24;
    b[1] = (length >>> 16) & 0xff;
    b[2] = (length >>> 8) & 0xff;
    b[3] = length & 0xff;
    b[4] = WIRE_VERSION;
    b[5] = code;
    return this.pos === b.length ? b : b.slice(0, this.pos);
  }
}

function checkInt(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(`${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(`${name} must be a boolean`);
  return v;
}

function encodeText(name: string, s: unknown): Uint8Array {
  if (typeof s !== 'string' || LONE_SURROGATE.test(s)) throw bad(`${name} must be a well-formed string`);
  return utf8Encoder.encode(s);
}

function writeU32(w: Writer, name: string, v: number): void {
  w.u32(checkInt(name, v, 0, U32_LIMIT - 1));
}

function writeHops(w: Writer, v: number): void {
  w.u16(checkInt('hops', v, 0, 0xffff));
}

function writeBool(w: Writer, name: string, v: boolean): void {
  w.u8(checkBool(name, v) ? 1 : 0);
}

function writeContact(w: Writer, c: Contact): void {
  if (typeof c !== 'object' || c === null) throw bad('contact must be an object');
  if (!isPeerId(c.id)) throw bad('contact id must be an integer in [0, 255]');
  const port = checkInt('contact port', c.port, 1, 0xffff);
  const host = encodeText('contact host', c.host);
  if (host.length < 1 || host.length > MAX_HOST_BYTES) throw bad(`contact host must be 1..${MAX_HOST_BYTES} bytes`);
  w.u8(c.id);
  w.u16(port);
  w.u8(host.length);
  w.bytes(host);
}

function writeSuccessors(w: Writer, list: Contact[]): void {
  if (!Array.isArray(list) || list.length > MAX_SUCCESSORS) {
    throw bad(`successors must be an array of at most ${MAX_SUCCESSORS} contacts`);
  }
  w.u8(list.length);
  for (const c of list) writeContact(w, c);
}

function writeFile(w: Writer, file: string): void {
  if (typeof file !== 'string' || !FILE_NAME.test(file)) throw bad('file name must be exactly 4 ASCII digits');
  w.bytes(utf8Encoder.encode(file));
}

function writeReason(w: Writer, reason: string): void {
  if (typeof reason !== 'string') throw bad('reason must be a string');
  // Lone surrogates become U+FFFD here: a reason is free text for people, not an identifier.
  const full = utf8Encoder.encode(reason);
  let cut = Math.min(full.length, MAX_REASON_BYTES);
  // Back off continuation bytes (10xxxxxx) so the cut lands on the start of a character.
  while (cut < full.length && cut > 0 && (full[cut]! & 0xc0) === 0x80) cut--;
  w.u16(cut);
  w.bytes(full.subarray(0, cut));
}

function writeStoreId(w: Writer, storeId: string): void {
  const b = encodeText('storeId', storeId);
  if (b.length > MAX_STORE_ID_BYTES) throw bad(`storeId must be at most ${MAX_STORE_ID_BYTES} bytes`);
  w.u16(b.length);
  w.bytes(b);
}

function writeU64(w: Writer, name: string, v: number): void {
  checkInt(name, v, 0, Number.MAX_SAFE_INTEGER);
  w.u32(Math.floor(v / U32_LIMIT));
  w.u32(v % U32_LIMIT);
}

function checkBytes(name: string, b: unknown, min: number, max: number): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length < min || b.length > max) {
    throw bad(min === max ? `${name} must be ${min} bytes` : `${name} must be ${min}..${max} bytes`);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Reading. Every check here guards against remote bytes, so it throws a CdhtError that
// decodeFrame turns into { ok: false }.

class Reader {
  private pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    /** True when buf belongs to the decoder alone, so views into it need no copy. */
    private readonly owned: boolean,
  ) {
    this.pos = start;
  }

  get left(): number {
    return this.buf.length - this.pos;
  }

  private take(n: number, what: string): number {
    if (this.left < n) throw bad(`payload too short: ${what} needs ${n} bytes, ${this.left} left`);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(what: string): number {
    return this.buf[this.take(1, what)]!;
  }
  u16(what: string): number {
    const at = this.take(2, what);
    return (this.buf[at]! << 8) | this.buf[at + 1]!;
  }
  u32(what: string): number {
    const at = this.take(4, what);
    const b = this.buf;
    return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
  }
  /** A plain Uint8Array the caller may keep (a copy unless the buffer is ours alone). */
  bytes(n: number, what: string): Uint8Array {
    const at = this.take(n, what);
    const view = this.buf.subarray(at, at + n);
    return this.owned ? view : new Uint8Array(view);
  }
  text(n: number, what: string): string {
    const at = this.take(n, what);
    try {
      return utf8Decoder.decode(this.buf.subarray(at, at + n));
    } catch {
      throw bad(`${what} is not valid UTF-8`);
    }
  }

  end(): void {
    if (this.left !== 0) throw bad(`${this.left} trailing bytes after the payload`);
  }
}

function readBool(r: Reader, name: string): boolean {
  const v = r.u8(name);
  if (v > 1) throw bad(`${name} must be 0 or 1, got ${v}`);
  return v === 1;
}

function readHops(r: Reader): number {
  return r.u16('hops');
}

function readContact(r: Reader, name: string): Contact {
  const id = r.u8(`${name} id`);
  const port = r.u16(`${name} port`);
  if (port === 0) throw bad(`${name} port must be 1..65535`);
  const hostLength = r.u8(`${name} host length`);
  if (hostLength === 0) throw bad(`${name} host must not be empty`);
  const host = r.text(hostLength, `${name} host`);
  return { id, host, port };
}

function readSuccessors(r: Reader): Contact[] {
  const count = r.u8('successor count');
  if (count > MAX_SUCCESSORS) throw bad(`successor count ${count} exceeds ${MAX_SUCCESSORS}`);
  const list: Contact[] = [];
  for (let i = 0; i < count; i++) list.push(readContact(r, 'successor'));
  return list;
}

function readFile(r: Reader): string {
  const file = r.text(FILE_NAME_BYTES, 'file name');
  if (!FILE_NAME.test(file)) throw bad('file name must be exactly 4 ASCII digits');
  return file;
}

function readReason(r: Reader): string {
  const n = r.u16('reason length');
  if (n > MAX_REASON_BYTES) throw bad(`reason of ${n} bytes exceeds ${MAX_REASON_BYTES}`);
  return r.text(n, 'reason');
}

function readStoreId(r: Reader): string {
  const n = r.u16('storeId length');
  if (n > MAX_STORE_ID_BYTES) throw bad(`storeId of ${n} bytes exceeds ${MAX_STORE_ID_BYTES}`);
  return r.text(n, 'storeId');
}

function readU64(r: Reader, name: string): number {
  const high = r.u32(name);
  const low = r.u32(name);
  if (high > MAX_SAFE_HIGH_WORD) throw bad(`${name} exceeds Number.MAX_SAFE_INTEGER`);
  return high * U32_LIMIT + low;
}

function readPurpose(r: Reader): 'request' | 'store' {
  const v = r.u8('purpose');
  if (v === 1) return 'request';
  if (v === 2) return 'store';
  throw bad(`purpose must be 1 or 2, got ${v}`);
}

// ---------------------------------------------------------------------------------------------
// One entry per message type: its code and how its payload is written and read (see the table).

type Codec<T extends MessageType> = {
  code: number;
  write(w: Writer, m: MessageOf<T>): void;
  read(r: Reader): MessageOf<T>;
};

const CODECS: { [T in MessageType]: Codec<T> } = {
  ping: {
    code: 1,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'seq', m.seq);
      if (m.role !== 1 && m.role !== 2) throw bad('role must be 1 or 2');
      w.u8(m.role);
      writeBool(w, 'loud', m.loud);
    },
    read(r) {
      const from = readContact(r, 'from');
      const seq = r.u32('seq');
      const role = r.u8('role');
      if (role !== 1 && role !== 2) throw bad(`role must be 1 or 2, got ${role}`);
      return { type: 'ping', from, seq, role, loud: readBool(r, 'loud') };
    },
  },
  pong: {
    code: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'seq', m.seq);
      writeBool(w, 'loud', m.loud);
      writeSuccessors(w, m.successors);
      writeBool(w, 'pred', m.pred !== undefined);
      if (m.pred) writeContact(w, m.pred);
    },
    read(r) {
      const from = readContact(r, 'from');
      const seq = r.u32('seq');
      const loud = readBool(r, 'loud');
      const successors = readSuccessors(r);
      const pred = readBool(r, 'pred') ? readContact(r, 'pred') : undefined;
      return { type: 'pong', from, seq, loud, successors, ...(pred ? { pred } : {}) };
    },
  },
  join: {
    code: 3,
    write(w, m) {
      writeContact(w, m.joiner);
      writeHops(w, m.hops);
    },
    read(r) {
      const joiner = readContact(r, 'joiner');
      return { type: 'join', joiner, hops: readHops(r) };
    },
  },
  'join-accept': {
    code: 4,
    write(w, m) {
      writeContact(w, m.from);
      writeSuccessors(w, m.successors);
    },
    read(r) {
      const from = readContact(r, 'from');
      return { type: 'join-accept', from, successors: readSuccessors(r) };
    },
  },
  'join-reject': {
    code: 5,
    write(w, m) {
      writeContact(w, m.from);
      writeReason(w, m.reason);
    },
    read(r) {
      const from = readContact(r, 'from');
      return { type: 'join-reject', from, reason: readReason(r) };
    },
  },
  'successor-change': {
    code: 6,
    write(w, m) {
      writeContact(w, m.from);
      writeSuccessors(w, m.successors);
    },
    read(r) {
      const from = readContact(r, 'from');
      return { type: 'successor-change', from, successors: readSuccessors(r) };
    },
  },
  depart: {
    code: 7,
    write(w, m) {
      writeContact(w, m.from);
      writeSuccessors(w, m.successors);
    },
    read(r) {
      const from = readContact(r, 'from');
      return { type: 'depart', from, successors: readSuccessors(r) };
    },
  },
  'depart-ack': {
    code: 8,
    write(w, m) {
      writeContact(w, m.from);
    },
    read(r) {
      return { type: 'depart-ack', from: readContact(r, 'from') };
    },
  },
  'successor-query': {
    code: 9,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
    },
    read(r) {
      const from = readContact(r, 'from');
      return { type: 'successor-query', from, qid: r.u32('qid') };
    },
  },
  'successor-reply': {
    code: 10,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
      writeSuccessors(w, m.successors);
    },
    read(r) {
      const from = readContact(r, 'from');
      const qid = r.u32('qid');
      return { type: 'successor-reply', from, qid, successors: readSuccessors(r) };
    },
  },
  store: {
    code: 11,
    write(w, m) {
      writeContact(w, m.origin);
      writeFile(w, m.file);
      writeBool(w, 'final', m.final);
      writeHops(w, m.hops);
    },
    read(r) {
      const origin = readContact(r, 'origin');
      const file = readFile(r);
      const final = readBool(r, 'final');
      return { type: 'store', origin, file, final, hops: readHops(r) };
    },
  },
  'store-accepted': {
    code: 12,
    write(w, m) {
      writeContact(w, m.from);
      writeFile(w, m.file);
      writeStoreId(w, m.storeId);
    },
    read(r) {
      const from = readContact(r, 'from');
      const file = readFile(r);
      return { type: 'store-accepted', from, file, storeId: readStoreId(r) };
    },
  },
  'file-request': {
    code: 13,
    write(w, m) {
      writeContact(w, m.requester);
      writeFile(w, m.file);
      writeU32(w, 'rid', m.rid);
      writeBool(w, 'final', m.final);
      writeHops(w, m.hops);
    },
    read(r) {
      const requester = readContact(r, 'requester');
      const file = readFile(r);
      const rid = r.u32('rid');
      const final = readBool(r, 'final');
      return { type: 'file-request', requester, file, rid, final, hops: readHops(r) };
    },
  },
  'file-missing': {
    code: 14,
    write(w, m) {
      writeContact(w, m.from);
      writeFile(w, m.file);
      writeU32(w, 'rid', m.rid);
    },
    read(r) {
      const from = readContact(r, 'from');
      const file = readFile(r);
      return { type: 'file-missing', from, file, rid: r.u32('rid') };
    },
  },
  'file-begin': {
    code: 15,
    write(w, m) {
      writeContact(w, m.from);
      writeFile(w, m.file);
      writeU32(w, 'rid', m.rid);
      if (m.purpose !== 'request' && m.purpose !== 'store') throw bad("purpose must be 'request' or 'store'");
      w.u8(m.purpose === 'request' ? 1 : 2);
      writeU64(w, 'size', m.size);
    },
    read(r) {
      const from = readContact(r, 'from');
      const file = readFile(r);
      const rid = r.u32('rid');
      const purpose = readPurpose(r);
      return { type: 'file-begin', from, file, rid, purpose, size: readU64(r, 'size') };
    },
  },
  'file-data': {
    code: 16,
    write(w, m) {
      w.bytes(checkBytes('file-data chunk', m.chunk, 1, MAX_CHUNK_BYTES));
    },
    read(r) {
      if (r.left < 1) throw bad('file-data chunk must not be empty');
      return { type: 'file-data', chunk: r.bytes(r.left, 'chunk') };
    },
  },
  'file-end': {
    code: 17,
    write(w, m) {
      w.bytes(checkBytes('sha256', m.sha256, SHA256_BYTES, SHA256_BYTES));
    },
    read(r) {
      return { type: 'file-end', sha256: r.bytes(SHA256_BYTES, 'sha256') };
    },
  },
};

const BY_CODE: (Codec<MessageType> | undefined)[] = [];
for (const codec of Object.values(CODECS) as Codec<MessageType>[]) BY_CODE[codec.code] = codec;

// ---------------------------------------------------------------------------------------------

/** Encodes one message as a whole frame. Throws CDHT_ERR_BAD_PAYLOAD on invalid fields. */
export function encodeFrame(msg: Message): Uint8Array {
  if (typeof msg !== 'object' || msg === null) throw bad('message must be an object');
  const codec = Object.hasOwn(CODECS, msg.type) ? CODECS[msg.type] : undefined;
  if (!codec) throw bad('unknown message type');
  // file-data is the only payload that can be large; size its buffer exactly.
  const w = new Writer(msg.type === 'file-data' && msg.chunk instanceof Uint8Array ? HEADER_BYTES + msg.chunk.length : 128);
  codec.write(w, msg as never);
  return w.finish(codec.code);
}

/** Reads the length prefix at `at`; the caller has checked four bytes are there. */
function readLength(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

/** The error for a length prefix that no frame can have, or undefined if it is possible. */
function impossibleLength(length: number): CdhtError | undefined {
  if (length > MAX_LENGTH) {
    return new CdhtError('CDHT_ERR_FRAME_TOO_LARGE', `frame length ${length} exceeds ${MAX_LENGTH}`);
  }
  if (length < MIN_LENGTH) return bad(`frame length ${length} is below ${MIN_LENGTH}`);
  return undefined;
}

function decode(frame: Uint8Array, owned: boolean): Decoded {
  try {
    if (!(frame instanceof Uint8Array)) return { ok: false, error: bad('frame is not a Uint8Array') };
    if (frame.length < PREFIX_BYTES) {
      return { ok: false, error: new CdhtError('CDHT_ERR_FRAME_TRUNCATED', `frame of ${frame.length} bytes has no length prefix`) };
    }
    const length = readLength(frame, 0);
    const impossible = impossibleLength(length);
    if (impossible) return { ok: false, error: impossible };
    const total = PREFIX_BYTES + length;
    if (frame.length < total) {
      return { ok: false, error: new CdhtError('CDHT_ERR_FRAME_TRUNCATED', `frame has ${frame.length} of ${total} bytes`) };
    }
    if (frame.length > total) return { ok: false, error: bad(`${frame.length - total} bytes after the end of the frame`) };
    const version = frame[4]!;
    if (version !== WIRE_VERSION) {
      return { ok: false, error: new CdhtError('CDHT_ERR_BAD_VERSION', `wire version ${version}, expected ${WIRE_VERSION}`) };
    }
    const code = frame[5]!;
    const codec = BY_CODE[code];
    if (!codec) return { ok: false, error: new CdhtError('CDHT_ERR_UNKNOWN_TYPE', `unknown message type code ${code}`) };
    const r = new Reader(frame, HEADER_BYTES, owned);
    const msg = codec.read(r);
    r.end();
    return { ok: true, msg };
  } catch (e) {
    if (e instanceof CdhtError) return { ok: false, error: e };
    // Last resort: a bug in a reader must not take down the event loop.
    const detail = e instanceof Error ? e.message : String(e);
    return { ok: false, error: bad(`undecodable frame: ${detail.split('\n')[0]}`) };
  }
}

/** Decodes one whole frame, length prefix included. Never throws. */
export function decodeFrame(frame: Uint8Array): Decoded {
  return decode(frame, false);
}

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
        length = readLength(bytes, off);
      } else {
        const n = Math.min(PREFIX_BYTES - this.prefixFilled, bytes.length - off);
        this.prefix.set(bytes.subarray(off, off + n), this.prefixFilled);
        this.prefixFilled += n;
        off += n;
        if (this.prefixFilled < PREFIX_BYTES) break;
        length = readLength(this.prefix, 0);
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
        out.push(decode(bytes.subarray(off, off + total), false));
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
      out.push(decode(pending, true));
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
