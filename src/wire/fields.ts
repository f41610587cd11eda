// Fields shared by many messages, in both wire versions. Version 1 is the first release's
// layout (one-byte ids, four-digit names); version 2 carries ids of any length up to 160 bits
// and any file name, so one codec serves every id space.
//
//   id          v1: u8                     v2: u8 n (0..20) | n bytes big-endian, minimal (no leading 0 byte)
//   contact     id | u16 port (1..65535) | u8 host byte length (1..255) | UTF-8 host
//   successors  u8 count (at most 8 in v1, MAX_SUCCESSORS in v2) | that many contacts
//   file        v1: 4 ASCII digits         v2: u8 n (1..255) | UTF-8, no / \ NUL or control characters, no leading dot
//   reason      u16 length | UTF-8, at most 512 bytes (encode truncates on a character boundary)
//   storeId     u16 length | UTF-8, at most 1024 bytes
//   proof       v2 only, optional, trailing (present when bytes remain): at: u64 ms | nonce: u32 |
//               u16 cert length (1..4096) | cert (DER) | u8 sig length (1..255) | sig
import { MAX_PORT } from '../core/config.js';
import type { Contact } from '../core/contact.js';
import type { Id } from '../core/id-space.js';
import { MAX_NAME_BYTES, SPEC_NAME } from '../core/id-space.js';
import type { OriginProof } from '../core/messages.js';
import { MAX_SUCCESSORS, MAX_SUCCESSORS_V1 } from '../core/messages.js';
import { bad, checkBytes, checkInt, encodeText, TextCache, utf8, type Reader, type Writer } from './primitives.js';

export const MAX_ID_BYTES = 20;
const MAX_HOST_BYTES = 255;
const HOST_CACHE_ENTRIES = 16;
const MAX_REASON_BYTES = 512;
const MAX_STORE_ID_BYTES = 1024;
const BAD_NAME_CHARS = /[/\\\u0000-\u001f\u007f]/;

/** The minimal big-endian bytes of a non-negative id (empty for 0). */
function idBytes(id: Id): Uint8Array {
  if (id < 0x100000000n) {
    // the common small ids without bigint shifting
    let v = Number(id);
    const out: number[] = [];
    while (v > 0) {
      out.unshift(v & 0xff);
      v = Math.floor(v / 256);
    }
    return Uint8Array.from(out);
  }
  let hex = id.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function writeId(w: Writer, name: string, id: Id): void {
  if (typeof id !== 'bigint' || id < 0n) throw bad(`${name} must be a non-negative bigint`);
  if (w.version === 1) {
    if (id > 255n) throw bad(`${name} must be in [0, 255] in wire version 1`);
    return w.u8(Number(id));
  }
  if (id < 0x100000000n) {
    // the common small ids straight into the frame, with no bytes of their own
    const v = Number(id);
    const n = v === 0 ? 0 : v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x1000000 ? 3 : 4;
    w.u8(n);
    for (let shift = 8 * (n - 1); shift >= 0; shift -= 8) w.u8(Math.floor(v / 2 ** shift) & 0xff);
    return;
  }
  const bytes = idBytes(id);
  if (bytes.length > MAX_ID_BYTES) throw bad(`${name} must fit in ${MAX_ID_BYTES} bytes`);
  w.u8(bytes.length);
  w.bytes(bytes);
}

export function readId(r: Reader, name: string): Id {
  return readIdNamed(r, name, undefined, ' length');
}

/** An id whose name in an error is `name` then `more`, and its length's `name` then `lengthMore` (see Reader.take). */
function readIdNamed(r: Reader, name: string, more: string | undefined, lengthMore: string): Id {
  if (r.version === 1) return BigInt(r.u8(name, more));
  const n = r.u8(name, lengthMore);
  if (n > MAX_ID_BYTES) throw bad(`${name}${more ?? ''} of ${n} bytes exceeds ${MAX_ID_BYTES}`);
  // read in place: the bytes are only a number on their way to a bigint
  const v = n <= 6 ? r.uint(n, name, more) : r.bigUint(n, name, more);
  if (v < 0) throw bad(`${name}${more ?? ''} has a leading zero byte`);
  return typeof v === 'number' ? BigInt(v) : v;
}

/**
 * A contact's version-2 bytes, by object: a peer sends the same contact objects again and again
 * (itself, its successors), and encoding the id and host each time was most of a ping's cost.
 * Contacts are immutable, so an object's bytes never change.
 */
const contactBytes = new WeakMap<Contact, Uint8Array>();

/**
 * Hosts' UTF-8, by host: a contact object seen for the first time (one decoded from a message) most
 * often names a host encoded before. Cleared when full, so it holds at most HOST_CACHE_ENTRIES.
 */
const hostUtf8 = new Map<string, Uint8Array>();

/** A host's UTF-8 (refused as encodeText refuses it); the bytes are shared, never written to. */
function hostBytes(host: unknown): Uint8Array {
  const known = typeof host === 'string' ? hostUtf8.get(host) : undefined;
  if (known) return known;
  const b = encodeText('contact host', host);
  if (hostUtf8.size >= HOST_CACHE_ENTRIES) hostUtf8.clear();
  hostUtf8.set(host as string, b);
  return b;
}

export function writeContact(w: Writer, c: Contact): void {
  if (typeof c !== 'object' || c === null) throw bad('contact must be an object');
  const cached = w.version === 2 ? contactBytes.get(c) : undefined;
  if (cached) return w.bytes(cached);
  const port = checkInt('contact port', c.port, 1, MAX_PORT);
  const host = hostBytes(c.host);
  if (host.length < 1 || host.length > MAX_HOST_BYTES) throw bad(`contact host must be 1..${MAX_HOST_BYTES} bytes`);
  if (w.version === 1) {
    writeId(w, 'contact id', c.id);
    w.u16(port);
    w.u8(host.length);
    return w.bytes(host);
  }
  if (typeof c.id !== 'bigint' || c.id < 0n) throw bad(`contact id must be a non-negative bigint of at most ${MAX_ID_BYTES} bytes`);
  // a small id goes straight into the contact's bytes; a large one by way of its own
  const small = c.id < 0x100000000n ? Number(c.id) : -1;
  const id = small < 0 ? idBytes(c.id) : undefined;
  const n = id ? id.length : small === 0 ? 0 : small < 0x100 ? 1 : small < 0x10000 ? 2 : small < 0x1000000 ? 3 : 4;
  if (n > MAX_ID_BYTES) throw bad(`contact id must be a non-negative bigint of at most ${MAX_ID_BYTES} bytes`);
  const out = new Uint8Array(1 + n + 3 + host.length);
  out[0] = n;
  if (id) out.set(id, 1);
  else for (let i = 0; i < n; i++) out[n - i] = Math.floor(small / 2 ** (8 * i)) & 0xff;
  out[1 + n] = port >>> 8;
  out[2 + n] = port & 0xff;
  out[3 + n] = host.length;
  out.set(host, 4 + n);
  contactBytes.set(c, out);
  w.bytes(out);
}

/** The hosts contacts named last: a ring's messages name the same few hosts over and over. */
const hostTexts = new TextCache(HOST_CACHE_ENTRIES);

export function readContact(r: Reader, name: string): Contact {
  const id = readIdNamed(r, name, ' id', ' id length');
  const port = r.u16(name, ' port');
  if (port === 0) throw bad(`${name} port must be 1..${MAX_PORT}`);
  const hostLength = r.u8(name, ' host length');
  if (hostLength === 0) throw bad(`${name} host must not be empty`);
  const host = r.text(hostLength, name, ' host', hostTexts);
  return { id, host, port };
}

function maxSuccessors(version: 1 | 2): number {
  return version === 1 ? MAX_SUCCESSORS_V1 : MAX_SUCCESSORS;
}

export function writeSuccessors(w: Writer, list: readonly Contact[]): void {
  const max = maxSuccessors(w.version);
  if (!Array.isArray(list) || list.length > max) throw bad(`successors must be an array of at most ${max} contacts`);
  w.u8(list.length);
  for (const c of list) writeContact(w, c);
}

export function readSuccessors(r: Reader): Contact[] {
  const count = r.u8('successor count');
  const max = maxSuccessors(r.version);
  if (count > max) throw bad(`successor count ${count} exceeds ${max}`);
  const list: Contact[] = [];
  for (let i = 0; i < count; i++) list.push(readContact(r, 'successor'));
  return list;
}

function fileProblem(file: string): string | undefined {
  if (file.length === 0 || BAD_NAME_CHARS.test(file) || file.startsWith('.')) return 'file name must be a plain name (no separators, control characters or leading dot)';
  return undefined;
}

export function writeFile(w: Writer, file: string): void {
  if (w.version === 1) {
    if (typeof file !== 'string' || !SPEC_NAME.test(file)) throw bad('file name must be exactly 4 ASCII digits');
    return w.bytes(utf8(file));
  }
  const b = encodeText('file name', file);
  const problem = fileProblem(file);
  if (problem) throw bad(problem);
  if (b.length > MAX_NAME_BYTES) throw bad(`file name must be at most ${MAX_NAME_BYTES} bytes`);
  w.u8(b.length);
  w.bytes(b);
}

export function readFile(r: Reader): string {
  if (r.version === 1) {
    const file = r.text(4, 'file name');
    if (!SPEC_NAME.test(file)) throw bad('file name must be exactly 4 ASCII digits');
    return file;
  }
  const n = r.u8('file name length');
  const file = r.text(n, 'file name');
  const problem = fileProblem(file);
  if (problem) throw bad(problem);
  return file;
}

export function writeReason(w: Writer, reason: string): void {
  if (typeof reason !== 'string') throw bad('reason must be a string');
  // Lone surrogates become U+FFFD here: a reason is free text for people, not an identifier.
  const full = utf8(reason);
  let cut = Math.min(full.length, MAX_REASON_BYTES);
  // Back off continuation bytes (10xxxxxx) so the cut lands on the start of a character.
  while (cut < full.length && cut > 0 && (full[cut]! & 0xc0) === 0x80) cut--;
  w.u16(cut);
  w.bytes(full.subarray(0, cut));
}

export function readReason(r: Reader): string {
  const n = r.u16('reason length');
  if (n > MAX_REASON_BYTES) throw bad(`reason of ${n} bytes exceeds ${MAX_REASON_BYTES}`);
  return r.text(n, 'reason');
}

export function writeStoreId(w: Writer, storeId: string): void {
  const b = encodeText('storeId', storeId);
  if (b.length > MAX_STORE_ID_BYTES) throw bad(`storeId must be at most ${MAX_STORE_ID_BYTES} bytes`);
  w.u16(b.length);
  w.bytes(b);
}

export function readStoreId(r: Reader): string {
  const n = r.u16('storeId length');
  if (n > MAX_STORE_ID_BYTES) throw bad(`storeId of ${n} bytes exceeds ${MAX_STORE_ID_BYTES}`);
  return r.text(n, 'storeId');
}

export function writeU32(w: Writer, name: string, v: number): void {
  w.u32(checkInt(name, v, 0, 2 ** 32 - 1));
}

export function writeHops(w: Writer, v: number): void {
  w.u16(checkInt('hops', v, 0, 0xffff));
}

export function writeBool(w: Writer, name: string, v: boolean): void {
  if (typeof v !== 'boolean') throw bad(`${name} must be a boolean`);
  w.u8(v ? 1 : 0);
}

/** A peer certificate is a few hundred bytes; anything near this is not one of ours. */
export const MAX_PROOF_CERT_BYTES = 4096;
export const MAX_PROOF_SIG_BYTES = 255;

/**
 * A routed message's origin proof, written last: absent (nothing written) unless given, and
 * version 2 only, so version-1 frames and unsigned ones keep their bytes.
 */
export function writeProof(w: Writer, proof: OriginProof | undefined): void {
  if (proof === undefined) return;
  if (w.version === 1) throw bad('an origin proof needs wire version 2');
  if (typeof proof !== 'object' || proof === null) throw bad('proof must be an object');
  w.u64('proof at', proof.at);
  writeU32(w, 'proof nonce', proof.nonce);
  const cert = checkBytes('proof cert', proof.cert, 1, MAX_PROOF_CERT_BYTES);
  w.u16(cert.length);
  w.bytes(cert);
  const sig = checkBytes('proof sig', proof.sig, 1, MAX_PROOF_SIG_BYTES);
  w.u8(sig.length);
  w.bytes(sig);
}

/** The trailing proof of a routed message, when bytes remain after its fields (version 2). */
export function readProof(r: Reader): { proof?: OriginProof } {
  if (r.version === 1 || r.left === 0) return {};
  const at = r.u64('proof at');
  const nonce = r.u32('proof nonce');
  const certLength = r.u16('proof cert length');
  if (certLength < 1 || certLength > MAX_PROOF_CERT_BYTES) throw bad(`proof cert of ${certLength} bytes is not 1..${MAX_PROOF_CERT_BYTES}`);
  const cert = r.bytes(certLength, 'proof cert');
  const sigLength = r.u8('proof sig length');
  if (sigLength < 1) throw bad('proof sig must not be empty');
  return { proof: { at, nonce, cert, sig: r.bytes(sigLength, 'proof sig') } };
}
