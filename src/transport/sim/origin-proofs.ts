// The simulator's model of origin proofs (the Node transport signs with the certificate's key,
// security/origin-proofs.ts). Here the network itself is the notary: a proof is a token it
// hands to the endpoint whose certificate names the message's origin, remembered with who
// signed, under which authority and over which bytes. So a member forging another's message
// (an endpoint that is not its origin, or bytes injected with deliverRaw) cannot make one that
// checks, a changed field no longer matches its bytes, and a replay checks as a replay, which the
// core refuses, exactly as with real signatures. No cryptography, no randomness: runs replay.
import { sameBytes } from '../../core/bytes.js';
import type { Id } from '../../core/id-space.js';
import type { RoutedMessage } from '../../core/messages.js';
import type { ProofCheck } from '../../core/origin.js';
import { PROOF_WINDOW_MS } from '../../core/routed-origins.js';
import { proofContent } from '../../wire/index.js';

/** Proofs the notary remembers; older than the core's window they are useless and go first. */
export const MAX_SIM_PROOFS = 65_536;

interface Issued {
  by: Id;
  ringCa: string;
  at: number;
  content: Uint8Array;
}

export class SimNotary {
  private readonly issued = new Map<string, Issued>();
  private count = 0;

  /** `msg` with a proof of its origin `by`, a member of the ring of `ringCa`, made at `now`. */
  sign<M extends RoutedMessage>(msg: M, by: Id, ringCa: string, now: number): M {
    const at = Math.floor(now);
    const nonce = ++this.count >>> 0;
    const sig = new TextEncoder().encode(`sim proof ${this.count}`);
    for (const [k, p] of this.issued) {
      if (this.issued.size < MAX_SIM_PROOFS && now - p.at <= PROOF_WINDOW_MS) break;
      this.issued.delete(k);
    }
    this.issued.set(key(sig), { by, ringCa, at, content: proofContent(msg, at, nonce) });
    return { ...msg, proof: { at, nonce, cert: new TextEncoder().encode(`sim cert ${by}`), sig } };
  }

  /** Who signed `msg`'s proof, as seen by a member of the ring of `ringCa`; or why it does not check. */
  check(msg: RoutedMessage, ringCa: string): ProofCheck {
    const proof = msg.proof;
    if (!proof) return { ok: false, why: 'no proof' };
    const p = this.issued.get(key(proof.sig));
    if (!p) return { ok: false, why: 'the signature does not match' };
    if (p.ringCa !== ringCa) return { ok: false, why: "its certificate is not signed by this ring's authority" };
    if (!sameBytes(p.content, proofContent(msg, proof.at, proof.nonce))) return { ok: false, why: 'the signature does not match' };
    return { ok: true, signed: { by: p.by, at: proof.at, nonce: proof.nonce } };
  }
}

function key(sig: Uint8Array): string {
  return String.fromCharCode(...sig);
}
