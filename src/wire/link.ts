// Link frames: what two endpoints say about the connection itself (hello, acknowledgements,
// closing, refusing a file) and the envelope of a sealed datagram. They share the message
// frame header but use their own type codes (64..79, wire version 2 only) and never reach the
// protocol core: the transport consumes them.
//
// code  type     payload
//   64  hello    (empty)        first frame of each side of a message connection
//   65  ack      count u32      message connection: message frames consumed so far, mod 2^32;
//                               file connection: 1 once the file is verified and in place
//   66  goaway   (empty)        no more messages from this side on this connection
//   67  refuse   reason         file connection: the receiver refused or failed the transfer;
//                               also a private ring's plain answer to a peer that dialed without TLS
//   68  sealed   key id (8 bytes) | counter u64 | ciphertext | tag (16 bytes)   (UDP only)
//
// reason is u16 length | UTF-8, at most 512 bytes (encode cuts it on a character boundary).
// A sealed frame's first 22 bytes (prefix, version, code, key id, counter) are the AEAD's
// associated data; the ciphertext is a whole message frame.
import { CdhtError, RemoteProtocolError } from '../core/errors.js';
import { MAX_FRAME_BYTES } from './codec.js';
import { readReason, writeReason, writeU32 } from './fields.js';
import { bad, encoding, HEADER_BYTES, PREFIX_BYTES, Reader, readU32, Writer } from './primitives.js';

export const LINK_VERSION = 2;
/** Type codes 64..79 are reserved for link frames; message codes stay below. */
export const FIRST_LINK_CODE = 64;
export const LAST_LINK_CODE = 79;
export const LINK_CODES = { hello: 64, ack: 65, goaway: 66, refuse: 67, sealed: 68 } as const;
export const KEY_ID_BYTES = 8;
export const TAG_BYTES = 16;
/** Prefix, version, code, key id and counter: the associated data of a sealed frame. */
export const SEALED_HEADER_BYTES = HEADER_BYTES + KEY_ID_BYTES + 8;

export type LinkFrame = { type: 'hello' } | { type: 'ack'; count: number } | { type: 'goaway' } | { type: 'refuse'; reason: string };
export type LinkDecoded = { ok: true; frame: LinkFrame } | { ok: false; error: RemoteProtocolError };

export interface SealedParts {
  readonly keyId: Uint8Array;
  readonly counter: number;
  /** The associated data: the frame's first SEALED_HEADER_BYTES bytes. */
  readonly aad: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
}

/** The type code of a frame whose header is whole (at least 6 bytes), or -1. */
export function frameCode(frame: Uint8Array): number {
  return frame.length >= HEADER_BYTES ? frame[5]! : -1;
}

export function isLinkCode(code: number): boolean {
  return code >= FIRST_LINK_CODE && code <= LAST_LINK_CODE;
}

export function encodeLink(frame: LinkFrame): Uint8Array {
  return encoding(() => encodeLinkChecked(frame));
}

function encodeLinkChecked(frame: LinkFrame): Uint8Array {
  const w = new Writer(16, LINK_VERSION);
  switch (frame.type) {
    case 'hello':
    case 'goaway':
      break;
    case 'ack':
      writeU32(w, 'count', frame.count);
      break;
    case 'refuse':
      writeReason(w, frame.reason);
      break;
    default:
      throw bad('unknown link frame type');
  }
  return w.finish(LINK_CODES[frame.type], MAX_FRAME_BYTES);
}

/** Decodes one whole link frame (length prefix included). Never throws. */
export function decodeLink(bytes: Uint8Array): LinkDecoded {
  try {
    const version = checkHeader(bytes);
    const code = bytes[5]!;
    const r = new Reader(bytes, HEADER_BYTES, version, false);
    let frame: LinkFrame;
    if (code === LINK_CODES.hello) frame = { type: 'hello' };
    else if (code === LINK_CODES.goaway) frame = { type: 'goaway' };
    else if (code === LINK_CODES.ack) frame = { type: 'ack', count: r.u32('count') };
    else if (code === LINK_CODES.refuse) frame = { type: 'refuse', reason: readReason(r) };
    else if (code === LINK_CODES.sealed) throw bad('a sealed frame is a datagram, not a connection frame');
    else throw new RemoteProtocolError('CDHT_ERR_UNKNOWN_TYPE', `unknown link frame type code ${code}`);
    r.end();
    return { ok: true, frame };
  } catch (e) {
    return { ok: false, error: asError(e) };
  }
}

/** The header (associated data) of a sealed frame carrying `bodyBytes` of ciphertext and tag. */
export function encodeSealedHeader(keyId: Uint8Array, counter: number, bodyBytes: number): Uint8Array {
  return encoding(() => sealedHeader(keyId, counter, bodyBytes));
}

function sealedHeader(keyId: Uint8Array, counter: number, bodyBytes: number): Uint8Array {
  if (!(keyId instanceof Uint8Array) || keyId.length !== KEY_ID_BYTES) throw bad(`key id must be ${KEY_ID_BYTES} bytes`);
  if (!Number.isInteger(bodyBytes) || bodyBytes < TAG_BYTES || SEALED_HEADER_BYTES + bodyBytes > MAX_FRAME_BYTES) {
    throw bad('sealed body size out of range');
  }
  const w = new Writer(SEALED_HEADER_BYTES, LINK_VERSION);
  w.bytes(keyId);
  w.u64('counter', counter);
  const head = w.finish(LINK_CODES.sealed, MAX_FRAME_BYTES);
  // finish() wrote the length of the header alone; the body follows it.
  const length = SEALED_HEADER_BYTES - PREFIX_BYTES + bodyBytes;
  head[0] = length >>> 24;
  head[1] = (length >>> 16) & 0xff;
  head[2] = (length >>> 8) & 0xff;
  head[3] = length & 0xff;
  return head;
}

/** Splits a sealed datagram into its parts (nothing is decrypted here). Never throws. */
export function decodeSealed(bytes: Uint8Array): { ok: true; parts: SealedParts } | { ok: false; error: RemoteProtocolError } {
  try {
    checkHeader(bytes);
    if (bytes[5] !== LINK_CODES.sealed) throw bad(`not a sealed frame (type code ${bytes[5]})`);
    if (bytes.length < SEALED_HEADER_BYTES + TAG_BYTES) throw bad('sealed frame too short');
    const r = new Reader(bytes, HEADER_BYTES, LINK_VERSION, false);
    const keyId = r.bytes(KEY_ID_BYTES, 'key id');
    const counter = r.u64('counter');
    const tagAt = bytes.length - TAG_BYTES;
    return {
      ok: true,
      parts: {
        keyId,
        counter,
        aad: bytes.subarray(0, SEALED_HEADER_BYTES),
        ciphertext: bytes.subarray(SEALED_HEADER_BYTES, tagAt),
        tag: bytes.subarray(tagAt),
      },
    };
  } catch (e) {
    return { ok: false, error: asError(e) };
  }
}

/** Checks the length prefix against the bytes and the version; returns the version. */
function checkHeader(bytes: Uint8Array): 2 {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER_BYTES) {
    throw new RemoteProtocolError('CDHT_ERR_FRAME_TRUNCATED', 'link frame shorter than its header');
  }
  const total = PREFIX_BYTES + readU32(bytes, 0);
  if (total !== bytes.length) {
    throw new RemoteProtocolError(total > bytes.length ? 'CDHT_ERR_FRAME_TRUNCATED' : 'CDHT_ERR_BAD_PAYLOAD', `link frame has ${bytes.length} bytes, its prefix says ${total}`);
  }
  if (bytes[4] !== LINK_VERSION) throw new RemoteProtocolError('CDHT_ERR_BAD_VERSION', `link frames are wire version ${LINK_VERSION}, got ${bytes[4]}`);
  return LINK_VERSION;
}

function asError(e: unknown): RemoteProtocolError {
  if (e instanceof RemoteProtocolError) return e;
  if (e instanceof CdhtError) return bad(e.message);
  return bad(`undecodable link frame: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
}
