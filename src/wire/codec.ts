// Binary wire format: one length-prefixed frame per message. Decoding untrusted bytes never
// throws; it returns a typed error.
//
// Frame:  u32 BE length (bytes after it) | u8 version (1 or 2) | u8 type code | payload
//         2 <= length <= MAX_FRAME_BYTES - 4. All integers are big-endian and unsigned.
// Version 2 is what peers send; version 1 (one-byte ids, four-digit names) still decodes and
// encodes byte for byte as the first release did. Field layouts are in fields.ts.
//
//   seq/qid/rid u32   hops u16   role u8, 1 or 2 (0 in v2: a check)   bool u8, 0 or 1   purpose u8, 1 request, 2 store, 3 replica
//   size u64, at most Number.MAX_SAFE_INTEGER   sha256 32 bytes   chunk the rest of the payload
//
// code  type              payload fields, in order
//    1  ping              from: contact, seq, role, loud: bool[, pred: contact in v2, role 1 only]
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
//   13  file-request      requester: contact, file, rid, final: bool, hops[, fallback: u8 in v2]
//   14  file-missing      from: contact, file, rid
//   15  file-begin        from: contact, file, rid, purpose, size[, sha256 in v2: the holder's
//                         record of the file, which the receiver checks before the file is visible]
//                         (purpose 3, replica: v2 only)
//   16  file-data         chunk
//   17  file-end          sha256
// Version 2 only:
//   18  lookup            origin: contact, key: id, lid: u32, flags: u8 (bit 1 final, bit 2 path), hops,
//                         [path: u8 count (<= 64) | ids, when flagged]
//   19  lookup-reply      from: contact, lid: u32, hops, successors[, path: u8 count | ids, when traced]
//   20  key-offer         from: contact, oid: u32, u8 count (<= 128) | count x (file, size: u64, u8 0|1 then sha256 if 1)
//                         [, leaving: u8 1, only when the offerer hands its keys over before quitting]
//   21  key-want          from: contact, oid: u32, wid: u32, u8 count (<= 128) | count x file,
//                         u8 count (<= 128) | count x file (names refused: not the receiver's to hold)
//   22  file-busy         from: contact, file, rid, retryAfterMs: u32
//   23  status-query      from: contact, qid
//   24  status-reply      from: contact, qid, bits: u8 (8..160), phase: u8 1 joining 2 normal 3 leaving,
//                         pred: u8 0|1 then a contact if 1, successors, keys: u64, bytes: u64,
//                         shortOfK: u8 0|1 then u64 if 1, handovers: u64
//   25  decommission      from: contact, qid
//   26  decommission-reply from: contact, qid, accepted: bool, reason
//   27  holds-query       from: contact, qid, file
//   28  holds-reply       from: contact, qid, file, held: bool then (size: u64, u8 0|1 then sha256 if 1)
//                         if 1, successors
//   29  delete-request    from: contact, qid, file, nonce: u32
//   30  delete-reply      from: contact, qid, file, result: u8 1 deleted 2 forbidden 3 missing 4 not-owner
//   31  key-delete        from: contact, file, sha256
//   32  delete-confirm    from: contact, qid, file, nonce: u32
// holds-reply ends with deleted: u8 0|1 then sha256 if 1 (a tombstone's bytes).
// A key record in key-offer is: file, size: u64, parts: u8 (bit 1: sha256 follows, bit 2: a
// publisher contact follows after it), so records without a publisher keep their first bytes.
// The routed messages (join, store, file-request, lookup) may end with an origin proof in
// version 2 (fields.ts): a private ring's signature of their origin, carried unchanged by relays.
//
// Decoding is strict (no trailing bytes, no out-of-range values, well-formed UTF-8 only), so a
// frame that decodes re-encodes to the very same bytes in the same version.
import { CdhtError, RemoteProtocolError } from '../core/errors.js';
import type { KeyInfo, Message, MessageOf, MessageType, Purpose } from '../core/messages.js';
import { DELETE_RESULTS, MAX_OFFER_KEYS, MAX_PATH, STATUS_PHASES } from '../core/messages.js';
import type { Id } from '../core/id-space.js';
import {
  readId,
  writeId,
  readContact,
  readFile,
  readProof,
  readReason,
  readStoreId,
  readSuccessors,
  writeBool,
  writeContact,
  writeFile,
  writeHops,
  writeProof,
  writeReason,
  writeStoreId,
  writeSuccessors,
  writeU32,
} from './fields.js';
import { asLocal, bad, checkBytes, refuse, checkInt, HEADER_BYTES, PREFIX_BYTES, Reader, readU32, Writer, type WireVersion } from './primitives.js';

export type { WireVersion } from './primitives.js';
/** The version peers send. */
export const WIRE_VERSION: WireVersion = 2;
export const MAX_FRAME_BYTES = 1 << 20;
export const FILE_CHUNK_BYTES = 64 * 1024;

export type Decoded = { ok: true; msg: Message } | { ok: false; error: RemoteProtocolError };

const MIN_LENGTH = 2;
const MAX_LENGTH = MAX_FRAME_BYTES - PREFIX_BYTES;
const MAX_CHUNK_BYTES = MAX_FRAME_BYTES - HEADER_BYTES;
const SHA256_BYTES = 32;

const PURPOSES: Purpose[] = ['request', 'store', 'replica'];

function writePurpose(w: Writer, p: Purpose): void {
  const code = PURPOSES.indexOf(p) + 1;
  if (code === 0 || (code === 3 && w.version === 1)) throw bad(`purpose must be one of ${PURPOSES.join(', ')} (replica: version 2 only)`);
  w.u8(code);
}

function readPurpose(r: Reader): Purpose {
  const v = r.u8('purpose');
  const p = PURPOSES[v - 1];
  if (!p || (v === 3 && r.version === 1)) throw bad(`purpose must be 1..${r.version === 1 ? 2 : 3}, got ${v}`);
  return p;
}

function writeCount(w: Writer, name: string, n: number, max: number): void {
  if (!Number.isInteger(n) || n < 0 || n > max) throw bad(`${name} must hold at most ${max} entries`);
  w.u8(n);
}

function readCount(r: Reader, name: string, max: number): number {
  const n = r.u8(`${name} count`);
  if (n > max) throw bad(`${name} count ${n} exceeds ${max}`);
  return n;
}

/** A key record's optional parts, as bits of one byte (0 or 1 before publishers existed: the same bytes). */
const HAS_SHA256 = 1;
const HAS_PUBLISHER = 2;

function writeKeyInfo(w: Writer, k: KeyInfo): void {
  writeFile(w, k.name);
  w.u64('size', k.size);
  w.u8((k.sha256 !== undefined ? HAS_SHA256 : 0) | (k.publisher !== undefined ? HAS_PUBLISHER : 0));
  if (k.sha256 !== undefined) w.bytes(checkBytes('sha256', k.sha256, SHA256_BYTES, SHA256_BYTES));
  if (k.publisher !== undefined) writeContact(w, k.publisher);
}

function readKeyInfo(r: Reader): KeyInfo {
  const name = readFile(r);
  const size = r.u64('size');
  const parts = r.u8('key record parts');
  if (parts > (HAS_SHA256 | HAS_PUBLISHER)) throw bad(`key record parts must be 0..3, got ${parts}`);
  const sha256 = parts & HAS_SHA256 ? r.bytes(SHA256_BYTES, 'sha256') : undefined;
  const publisher = parts & HAS_PUBLISHER ? readContact(r, 'publisher') : undefined;
  return { name, size, ...(sha256 ? { sha256 } : {}), ...(publisher ? { publisher } : {}) };
}

// ---------------------------------------------------------------------------------------------
// One entry per message type: its code and how its payload is written and read (see the table).
// `since` is the first wire version that has the type.

type Codec<T extends MessageType> = {
  code: number;
  since?: WireVersion;
  write(w: Writer, m: MessageOf<T>): void;
  read(r: Reader): MessageOf<T>;
};

/** An operator's question to one peer (status, decommission): from, qid. */
function queryCodec<T extends 'status-query' | 'decommission'>(type: T, code: number): Codec<T> {
  return {
    code,
    since: 2,
    write(w, m) {
      writeContact(w, (m as MessageOf<'status-query' | 'decommission'>).from);
      writeU32(w, 'qid', (m as MessageOf<'status-query' | 'decommission'>).qid);
    },
    read(r) {
      const from = readContact(r, 'from');
      return { type, from, qid: r.u32('qid') } as MessageOf<T>;
    },
  };
}

/** A delete's request and its confirmation share one layout: from, qid, file, nonce (u32). */
function nonceCodec<T extends 'delete-request' | 'delete-confirm'>(type: T, code: number): Codec<T> {
  return {
    code,
    since: 2,
    write(w, msg) {
      const m = msg as MessageOf<'delete-request' | 'delete-confirm'>;
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
      writeFile(w, m.file);
      writeU32(w, 'nonce', m.nonce);
    },
    read(r) {
      const from = readContact(r, 'from');
      const qid = r.u32('qid');
      const file = readFile(r);
      return { type, from, qid, file, nonce: r.u32('nonce') } as MessageOf<T>;
    },
  };
}

/** A lookup's path: u8 count (at most MAX_PATH), then the ids. */
function writePath(w: Writer, path: readonly Id[]): void {
  writeCount(w, 'path', Array.isArray(path) ? path.length : -1, MAX_PATH);
  for (const id of path) writeId(w, 'path id', id);
}

function readPath(r: Reader): Id[] {
  const n = readCount(r, 'path', MAX_PATH);
  const path: Id[] = [];
  for (let i = 0; i < n; i++) path.push(readId(r, 'path id'));
  return path;
}

const CODECS: { [T in MessageType]: Codec<T> } = {
  ping: {
    code: 1,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'seq', m.seq);
      if (m.role !== 1 && m.role !== 2 && (m.role !== 0 || w.version === 1)) throw bad('role must be 1 or 2 (or 0 in version 2)');
      w.u8(m.role);
      writeBool(w, 'loud', m.loud);
      if (m.pred === undefined) return;
      if (w.version === 1 || m.role !== 1) throw bad('a ping names a predecessor only in version 2 and role 1');
      writeContact(w, m.pred);
    },
    read(r) {
      const from = readContact(r, 'from');
      const seq = r.u32('seq');
      const role = r.u8('role');
      if (role !== 1 && role !== 2 && (role !== 0 || r.version === 1)) throw bad(`role must be 1 or 2 (or 0 in version 2), got ${role}`);
      const loud = r.bool('loud');
      if (r.version === 1 || r.left === 0) return { type: 'ping', from, seq, role, loud };
      if (role !== 1) throw bad('a ping names a predecessor only in role 1');
      return { type: 'ping', from, seq, role, loud, pred: readContact(r, 'pred') };
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
      const loud = r.bool('loud');
      const successors = readSuccessors(r);
      // literals, not a spread of { pred } or {}: a pong answers every ping
      if (!r.bool('pred')) return { type: 'pong', from, seq, loud, successors };
      return { type: 'pong', from, seq, loud, successors, pred: readContact(r, 'pred') };
    },
  },
  join: {
    code: 3,
    write(w, m) {
      writeContact(w, m.joiner);
      writeHops(w, m.hops);
      writeProof(w, m.proof);
    },
    read(r) {
      const joiner = readContact(r, 'joiner');
      const hops = r.u16('hops');
      return { type: 'join', joiner, hops, ...readProof(r) };
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
      writeProof(w, m.proof);
    },
    read(r) {
      const origin = readContact(r, 'origin');
      const file = readFile(r);
      const final = r.bool('final');
      const hops = r.u16('hops');
      return { type: 'store', origin, file, final, hops, ...readProof(r) };
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
      if (w.version === 1) {
        if (m.fallback !== 0) throw bad('fallback must be 0 in wire version 1');
      } else {
        w.u8(checkInt('fallback', m.fallback, 0, 255));
      }
      writeProof(w, m.proof);
    },
    read(r) {
      const requester = readContact(r, 'requester');
      const file = readFile(r);
      const rid = r.u32('rid');
      const final = r.bool('final');
      const hops = r.u16('hops');
      const fallback = r.version === 1 ? 0 : r.u8('fallback');
      return { type: 'file-request', requester, file, rid, final, hops, fallback, ...readProof(r) };
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
      writePurpose(w, m.purpose);
      w.u64('size', m.size);
      if (m.sha256 === undefined) return;
      if (w.version === 1) throw bad('file-begin sha256: version 2 only');
      w.bytes(checkBytes('file-begin sha256', m.sha256, SHA256_BYTES, SHA256_BYTES));
    },
    read(r) {
      const from = readContact(r, 'from');
      const file = readFile(r);
      const rid = r.u32('rid');
      const purpose = readPurpose(r);
      const size = r.u64('size');
      if (r.left === 0 || r.version === 1) return { type: 'file-begin', from, file, rid, purpose, size };
      return { type: 'file-begin', from, file, rid, purpose, size, sha256: r.bytes(SHA256_BYTES, 'sha256') };
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
  lookup: {
    code: 18,
    since: 2,
    write(w, m) {
      writeContact(w, m.origin);
      writeId(w, 'key', m.key);
      writeU32(w, 'lid', m.lid);
      // bit 1: final; bit 2: a path follows the hops (a lookup without one keeps its bytes)
      w.u8((m.final ? 1 : 0) | (m.path ? 2 : 0));
      writeHops(w, m.hops);
      if (m.path) writePath(w, m.path);
      writeProof(w, m.proof);
    },
    read(r) {
      const origin = readContact(r, 'origin');
      const key = readId(r, 'key');
      const lid = r.u32('lid');
      const flags = r.u8('final');
      if (flags > 3) throw bad(`lookup flags must be 0..3, got ${flags}`);
      const hops = r.u16('hops');
      const path = flags & 2 ? readPath(r) : undefined;
      // the common lookup (no path, no proof) as a literal, with no spread objects on the way
      if (!path && r.left === 0) return { type: 'lookup', origin, key, lid, final: (flags & 1) === 1, hops };
      return { type: 'lookup', origin, key, lid, final: (flags & 1) === 1, hops, ...(path ? { path } : {}), ...readProof(r) };
    },
  },
  'lookup-reply': {
    code: 19,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'lid', m.lid);
      writeHops(w, m.hops);
      writeSuccessors(w, m.successors);
      // a traced lookup's path, only when there is one: an answer without it keeps its bytes
      if (m.path) writePath(w, m.path);
    },
    read(r) {
      const from = readContact(r, 'from');
      const lid = r.u32('lid');
      const hops = r.u16('hops');
      const successors = readSuccessors(r);
      if (r.left === 0) return { type: 'lookup-reply', from, lid, hops, successors };
      return { type: 'lookup-reply', from, lid, hops, successors, path: readPath(r) };
    },
  },
  'key-offer': {
    code: 20,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'oid', m.oid);
      writeCount(w, 'keys', Array.isArray(m.keys) ? m.keys.length : -1, MAX_OFFER_KEYS);
      for (const k of m.keys) writeKeyInfo(w, k);
      if (m.leaving) w.u8(1);
    },
    read(r) {
      const from = readContact(r, 'from');
      const oid = r.u32('oid');
      const n = readCount(r, 'keys', MAX_OFFER_KEYS);
      const keys: KeyInfo[] = [];
      for (let i = 0; i < n; i++) keys.push(readKeyInfo(r));
      if (r.left === 0) return { type: 'key-offer', from, oid, keys };
      if (r.u8('leaving') !== 1) throw bad('key-offer leaving flag must be 1 when present');
      return { type: 'key-offer', from, oid, keys, leaving: true };
    },
  },
  'key-want': {
    code: 21,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'oid', m.oid);
      writeU32(w, 'wid', m.wid);
      writeNames(w, 'names', m.names);
      writeNames(w, 'refused', m.refused);
    },
    read(r) {
      const from = readContact(r, 'from');
      const oid = r.u32('oid');
      const wid = r.u32('wid');
      const names = readNames(r, 'names');
      return { type: 'key-want', from, oid, wid, names, refused: readNames(r, 'refused') };
    },
  },
  'file-busy': {
    code: 22,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeFile(w, m.file);
      writeU32(w, 'rid', m.rid);
      writeU32(w, 'retryAfterMs', m.retryAfterMs);
    },
    read(r) {
      const from = readContact(r, 'from');
      const file = readFile(r);
      const rid = r.u32('rid');
      return { type: 'file-busy', from, file, rid, retryAfterMs: r.u32('retryAfterMs') };
    },
  },
  'status-query': queryCodec('status-query', 23),
  'status-reply': {
    code: 24,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
      w.u8(checkInt('bits', m.bits, MIN_BITS, MAX_BITS));
      const phase = STATUS_PHASES.indexOf(m.phase) + 1;
      if (phase === 0) throw bad(`phase must be one of ${STATUS_PHASES.join(', ')}`);
      w.u8(phase);
      writeBool(w, 'pred', m.pred !== undefined);
      if (m.pred) writeContact(w, m.pred);
      writeSuccessors(w, m.successors);
      w.u64('keys', m.keys);
      w.u64('bytes', m.bytes);
      writeBool(w, 'shortOfK', m.shortOfK !== undefined);
      if (m.shortOfK !== undefined) w.u64('shortOfK', m.shortOfK);
      w.u64('handovers', m.handovers);
    },
    read(r) {
      const from = readContact(r, 'from');
      const qid = r.u32('qid');
      const bits = r.u8('bits');
      if (bits < MIN_BITS || bits > MAX_BITS) throw bad(`bits must be ${MIN_BITS}..${MAX_BITS}, got ${bits}`);
      const code = r.u8('phase');
      const phase = STATUS_PHASES[code - 1];
      if (!phase) throw bad(`phase must be 1..${STATUS_PHASES.length}, got ${code}`);
      const pred = r.bool('pred') ? readContact(r, 'pred') : undefined;
      const successors = readSuccessors(r);
      const keys = r.u64('keys');
      const bytes = r.u64('bytes');
      const shortOfK = r.bool('shortOfK') ? r.u64('shortOfK') : undefined;
      const handovers = r.u64('handovers');
      return {
        type: 'status-reply',
        from,
        qid,
        bits,
        phase,
        ...(pred ? { pred } : {}),
        successors,
        keys,
        bytes,
        ...(shortOfK !== undefined ? { shortOfK } : {}),
        handovers,
      };
    },
  },
  decommission: queryCodec('decommission', 25),
  'decommission-reply': {
    code: 26,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
      writeBool(w, 'accepted', m.accepted);
      writeReason(w, m.reason);
    },
    read(r) {
      const from = readContact(r, 'from');
      const qid = r.u32('qid');
      const accepted = r.bool('accepted');
      return { type: 'decommission-reply', from, qid, accepted, reason: readReason(r) };
    },
  },
  'holds-query': {
    code: 27,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
      writeFile(w, m.file);
    },
    read(r) {
      const from = readContact(r, 'from');
      const qid = r.u32('qid');
      return { type: 'holds-query', from, qid, file: readFile(r) };
    },
  },
  'holds-reply': {
    code: 28,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
      writeFile(w, m.file);
      writeBool(w, 'held', m.record !== undefined);
      if (m.record) {
        if (m.record.name !== m.file) throw bad('holds-reply record must be of the file asked about');
        w.u64('size', m.record.size);
        writeBool(w, 'has sha256', m.record.sha256 !== undefined);
        if (m.record.sha256 !== undefined) w.bytes(checkBytes('sha256', m.record.sha256, SHA256_BYTES, SHA256_BYTES));
      }
      writeSuccessors(w, m.successors);
      writeBool(w, 'deleted', m.deleted !== undefined);
      if (m.deleted !== undefined) w.bytes(checkBytes('deleted', m.deleted, SHA256_BYTES, SHA256_BYTES));
    },
    read(r) {
      const from = readContact(r, 'from');
      const qid = r.u32('qid');
      const file = readFile(r);
      let record: KeyInfo | undefined;
      if (r.bool('held')) {
        const size = r.u64('size');
        record = r.bool('has sha256') ? { name: file, size, sha256: r.bytes(SHA256_BYTES, 'sha256') } : { name: file, size };
      }
      const successors = readSuccessors(r);
      const deleted = r.bool('deleted') ? r.bytes(SHA256_BYTES, 'deleted') : undefined;
      return { type: 'holds-reply', from, qid, file, ...(record ? { record } : {}), successors, ...(deleted ? { deleted } : {}) };
    },
  },
  'delete-request': nonceCodec('delete-request', 29),
  'delete-confirm': nonceCodec('delete-confirm', 32),
  'delete-reply': {
    code: 30,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeU32(w, 'qid', m.qid);
      writeFile(w, m.file);
      const result = DELETE_RESULTS.indexOf(m.result) + 1;
      if (result === 0) throw bad(`result must be one of ${DELETE_RESULTS.join(', ')}`);
      w.u8(result);
    },
    read(r) {
      const from = readContact(r, 'from');
      const qid = r.u32('qid');
      const file = readFile(r);
      const code = r.u8('result');
      const result = DELETE_RESULTS[code - 1];
      if (!result) throw bad(`result must be 1..${DELETE_RESULTS.length}, got ${code}`);
      return { type: 'delete-reply', from, qid, file, result };
    },
  },
  'key-delete': {
    code: 31,
    since: 2,
    write(w, m) {
      writeContact(w, m.from);
      writeFile(w, m.file);
      w.bytes(checkBytes('sha256', m.sha256, SHA256_BYTES, SHA256_BYTES));
    },
    read(r) {
      const from = readContact(r, 'from');
      const file = readFile(r);
      return { type: 'key-delete', from, file, sha256: r.bytes(SHA256_BYTES, 'sha256') };
    },
  },
};

/** The id space sizes a status reply may name (as --bits takes them). */
const MIN_BITS = 8;
const MAX_BITS = 160;

function writeNames(w: Writer, what: string, names: readonly string[]): void {
  writeCount(w, what, Array.isArray(names) ? names.length : -1, MAX_OFFER_KEYS);
  for (const n of names) writeFile(w, n);
}

function readNames(r: Reader, what: string): string[] {
  const n = readCount(r, what, MAX_OFFER_KEYS);
  const names: string[] = [];
  for (let i = 0; i < n; i++) names.push(readFile(r));
  return names;
}

/**
 * The header of a file-data frame carrying `chunkBytes` bytes, for a sender that writes header
 * and chunk separately (no copy of the chunk into a frame).
 */
export function fileDataHeader(chunkBytes: number, version: WireVersion = WIRE_VERSION): Uint8Array {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) throw refuse(`file-data chunk must be 1..${MAX_CHUNK_BYTES} bytes`);
  const length = chunkBytes + 2;
  return Uint8Array.of(length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff, version, CODECS['file-data'].code);
}

/** The type code of a message type (file-data is 16). */
export function messageCode(type: MessageType): number {
  return CODECS[type].code;
}

const BY_CODE: (Codec<MessageType> | undefined)[] = [];
for (const codec of Object.values(CODECS) as Codec<MessageType>[]) BY_CODE[codec.code] = codec;

// ---------------------------------------------------------------------------------------------

/** Encodes one message as a whole frame. Throws a LocalProtocolError (CDHT_ERR_BAD_PAYLOAD) on invalid fields. */
export function encodeFrame(msg: Message, version: WireVersion = WIRE_VERSION): Uint8Array {
  // encoding()'s work, without a closure a frame
  try {
    return encodeChecked(msg, version);
  } catch (e) {
    throw asLocal(e);
  }
}

/**
 * Frames other than file-data are built in this one buffer and copied out at their exact size (one
 * allocation a frame, not a guessed buffer and then its trimmed copy). Encoding never re-enters
 * itself, so one is enough; grown past SCRATCH_MAX_BYTES (a rare big frame) it is not kept.
 */
const SCRATCH_BYTES = 512;
const SCRATCH_MAX_BYTES = 64 * 1024;
let scratch = new Writer(SCRATCH_BYTES, WIRE_VERSION, true);

function encodeChecked(msg: Message, version: WireVersion): Uint8Array {
  if (typeof msg !== 'object' || msg === null) throw bad('message must be an object');
  const codec = Object.hasOwn(CODECS, msg.type) ? CODECS[msg.type] : undefined;
  if (!codec) throw bad('unknown message type');
  if (version !== 1 && version !== 2) throw bad(`wire version must be 1 or 2`);
  if ((codec.since ?? 1) > version) throw bad(`${msg.type} does not exist in wire version ${version}`);
  // file-data is the only payload that can be large; size its buffer exactly (and hand it out uncopied).
  if (msg.type === 'file-data' && msg.chunk instanceof Uint8Array) {
    const w = new Writer(HEADER_BYTES + msg.chunk.length, version);
    codec.write(w, msg as never);
    return w.finish(codec.code, MAX_FRAME_BYTES);
  }
  const w = scratch;
  w.reset(version);
  try {
    codec.write(w, msg as never);
    return w.finish(codec.code, MAX_FRAME_BYTES);
  } finally {
    if (w.capacity > SCRATCH_MAX_BYTES) scratch = new Writer(SCRATCH_BYTES, WIRE_VERSION, true);
  }
}

/** The error for a length prefix that no frame can have, or undefined if it is possible. */
export function impossibleLength(length: number): RemoteProtocolError | undefined {
  if (length > MAX_LENGTH) {
    return new RemoteProtocolError('CDHT_ERR_FRAME_TOO_LARGE', `frame length ${length} exceeds ${MAX_LENGTH}`);
  }
  if (length < MIN_LENGTH) return bad(`frame length ${length} is below ${MIN_LENGTH}`);
  return undefined;
}

/** Decodes one whole frame; `owned` says the bytes belong to the decoder alone (no copies needed). */
export function decodeBytes(frame: Uint8Array, owned: boolean): Decoded {
  try {
    if (!(frame instanceof Uint8Array)) return { ok: false, error: bad('frame is not a Uint8Array') };
    if (frame.length < PREFIX_BYTES) {
      return { ok: false, error: new RemoteProtocolError('CDHT_ERR_FRAME_TRUNCATED', `frame of ${frame.length} bytes has no length prefix`) };
    }
    const length = readU32(frame, 0);
    const impossible = impossibleLength(length);
    if (impossible) return { ok: false, error: impossible };
    const total = PREFIX_BYTES + length;
    if (frame.length < total) {
      return { ok: false, error: new RemoteProtocolError('CDHT_ERR_FRAME_TRUNCATED', `frame has ${frame.length} of ${total} bytes`) };
    }
    if (frame.length > total) return { ok: false, error: bad(`${frame.length - total} bytes after the end of the frame`) };
    const version = frame[4]!;
    if (version !== 1 && version !== 2) {
      return { ok: false, error: new RemoteProtocolError('CDHT_ERR_BAD_VERSION', `wire version ${version}, expected 1 or 2`) };
    }
    const code = frame[5]!;
    const codec = BY_CODE[code];
    if (!codec || (codec.since ?? 1) > version) {
      return { ok: false, error: new RemoteProtocolError('CDHT_ERR_UNKNOWN_TYPE', `unknown message type code ${code} in wire version ${version}`) };
    }
    const r = new Reader(frame, HEADER_BYTES, version, owned);
    const msg = codec.read(r);
    r.end();
    return { ok: true, msg };
  } catch (e) {
    if (e instanceof RemoteProtocolError) return { ok: false, error: e };
    // A reader's check that threw another coded error still means the peer's bytes are bad.
    if (e instanceof CdhtError) return { ok: false, error: bad(e.message) };
    // Last resort: a bug in a reader must not take down the event loop.
    const detail = e instanceof Error ? e.message : String(e);
    return { ok: false, error: bad(`undecodable frame: ${detail.split('\n')[0]}`) };
  }
}

/** Decodes one whole frame, length prefix included. Never throws. */
export function decodeFrame(frame: Uint8Array): Decoded {
  return decodeBytes(frame, false);
}
