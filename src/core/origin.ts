// Where an inbound message came from, as far as the transport can tell: the core judges
// messages by it (a pong must come from where we pinged; on a private ring, a message must come
// from the peer it speaks for).
import type { Address } from './contact.js';
import type { Id } from './id-space.js';

export interface Origin {
  readonly via: 'udp' | 'tcp';
  /** The datagram's source address, or the TCP connection's remote address. */
  readonly src: Address;
  /**
   * The peer id the sender proved (its certificate on a private ring, or the key that sealed a
   * datagram). Undefined on an open ring, where nothing about the sender is proven.
   */
  readonly authId?: Id;
  /**
   * Checks a routed message's origin proof (private ring; present when the message carried one):
   * the shell's cryptography, called by the core only when it is about to act on the message (a
   * relay forwards without it), and done once however often it is called.
   */
  readonly proof?: () => ProofCheck;
}

/** What an origin proof proved: which peer's certificate signed it, when and with which nonce; or why it did not check. */
export type ProofCheck = { ok: true; signed: Signed } | { ok: false; why: string };

export interface Signed {
  readonly by: Id;
  /** The signer's clock, ms. */
  readonly at: number;
  readonly nonce: number;
}

/** A check that has already been made (a message of our own, a test). */
export function proven(signed: Signed): () => ProofCheck {
  const result: ProofCheck = { ok: true, signed };
  return () => result;
}
