// The bytes an origin proof signs: what a routed message asks, in its version-2 encoding with
// the fields relays change (hops, final, fallback) zeroed and no proof, after a context string,
// the signing time and the nonce. Signer and verifier (node/ and sim/ shells) both build it here,
// so they cannot disagree about what is covered.
import type { RoutedMessage } from '../core/messages.js';
import { encodeFrame } from './codec.js';
import { U32_LIMIT, utf8 } from './primitives.js';

/** Keeps a proof from ever being mistaken for a signature made for anything else. */
const CONTEXT = utf8('cdht origin proof v1\0');

export function proofContent(msg: RoutedMessage, at: number, nonce: number): Uint8Array {
  const plain: RoutedMessage =
    msg.type === 'join'
      ? { type: 'join', joiner: msg.joiner, hops: 0 }
      : msg.type === 'store'
        ? { type: 'store', origin: msg.origin, file: msg.file, final: false, hops: 0 }
        : msg.type === 'file-request'
          ? { type: 'file-request', requester: msg.requester, file: msg.file, rid: msg.rid, final: false, hops: 0, fallback: 0 }
          : { type: 'lookup', origin: msg.origin, key: msg.key, lid: msg.lid, final: false, hops: 0 };
  const frame = encodeFrame(plain, 2);
  const out = new Uint8Array(CONTEXT.length + 12 + frame.length);
  out.set(CONTEXT, 0);
  const view = new DataView(out.buffer);
  view.setUint32(CONTEXT.length, Math.floor(at / U32_LIMIT));
  view.setUint32(CONTEXT.length + 4, at % U32_LIMIT);
  view.setUint32(CONTEXT.length + 8, nonce >>> 0);
  out.set(frame, CONTEXT.length + 12);
  return out;
}
