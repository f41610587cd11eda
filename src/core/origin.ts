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
   * A routed message's origin proof that the shell verified (private ring): the id of the
   * certificate whose key signed it (issued by this ring's authority), when it was signed and
   * its nonce. Undefined when there was none or it did not verify.
   */
  readonly signed?: Signed;
  /** Why a routed message's origin proof did not verify, when it carried one that did not (a line says so). */
  readonly proofError?: string;
}

export interface Signed {
  readonly by: Id;
  /** The signer's clock, ms. */
  readonly at: number;
  readonly nonce: number;
}
