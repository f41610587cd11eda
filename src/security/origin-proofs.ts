// Origin proofs for routed messages on a private ring (see core/routed-origins.ts for the rules
// they feed): the origin signs what its message asks with its certificate's key, and any member
// checks that signature and that the certificate comes from the ring's authority, without
// having met the origin. node:crypto does all the cryptography.
import { createHash, createPrivateKey, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import type { OriginProof, RoutedMessage } from '../core/messages.js';
import type { ProofCheck } from '../core/origin.js';
import { proofContent } from '../wire/origin-proof.js';
import { checkPeerCertificate, commonNameOf } from './checks.js';
import type { TlsIdentity } from './identity.js';
import { peerIdFromCommonName } from './identity.js';

/** Certificates already checked (the ring's members, and refusals), by SHA-256 of their DER. */
export const MAX_CACHED_CERTS = 1024;

/** The digest algorithm a key signs with: none for Ed25519 (it hashes itself), SHA-256 for P-256. */
function digestOf(key: KeyObject): string | null {
  return key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
}

/** This peer's signing half: it signs the routed messages it originates. */
export class OriginSigner {
  private readonly key: KeyObject;
  private readonly cert: Uint8Array;

  constructor(
    identity: Pick<TlsIdentity, 'keyPem' | 'certPem'>,
    private readonly random32: () => number,
  ) {
    this.key = createPrivateKey(identity.keyPem);
    this.cert = new Uint8Array(new X509Certificate(identity.certPem).raw);
  }

  /** `msg` with its origin proof, made at `now` (ms since the epoch). */
  sign<M extends RoutedMessage>(msg: M, now: number): M {
    const at = Math.floor(now);
    const nonce = this.random32() >>> 0;
    // P-256 signatures as r||s (64 bytes), like Ed25519's, rather than variable-length DER
    const sig = sign(digestOf(this.key), proofContent(msg, at, nonce), { key: this.key, dsaEncoding: 'ieee-p1363' });
    const proof: OriginProof = { at, nonce, cert: this.cert, sig: new Uint8Array(sig) };
    return { ...msg, proof };
  }
}

type CertEntry = { ok: true; id: bigint; key: KeyObject; from: number; to: number } | { ok: false; why: string };

/** Every member's checking half: whose proof a routed message carries. */
export class OriginVerifier {
  private readonly ca: X509Certificate;
  private readonly certs = new Map<string, CertEntry>();

  constructor(caPem: string) {
    this.ca = new X509Certificate(caPem);
  }

  /**
   * The peer whose key signed `msg`'s proof, when its certificate is this ring's and the
   * signature covers what the message asks; else why not. Freshness, replays and whether the
   * signer is the message's origin are the core's to judge. `now` checks the certificate's validity.
   */
  check(msg: RoutedMessage, now: number): ProofCheck {
    const proof = msg.proof;
    if (!proof) return { ok: false, why: 'no proof' };
    const cert = this.certificate(proof.cert);
    if (!cert.ok) return cert;
    if (now < cert.from || now > cert.to) return { ok: false, why: 'its certificate is not valid now' };
    let good = false;
    try {
      good = verify(digestOf(cert.key), proofContent(msg, proof.at, proof.nonce), { key: cert.key, dsaEncoding: 'ieee-p1363' }, proof.sig);
    } catch {
      good = false; // a malformed signature for this key type
    }
    if (!good) return { ok: false, why: `the signature does not match the certificate of Peer ${cert.id}` };
    return { ok: true, signed: { by: cert.id, at: proof.at, nonce: proof.nonce } };
  }

  private certificate(der: Uint8Array): CertEntry {
    const hash = createHash('sha256').update(der).digest('base64');
    const known = this.certs.get(hash);
    if (known) return known;
    const entry = this.examine(der);
    if (this.certs.size >= MAX_CACHED_CERTS) this.certs.delete(this.certs.keys().next().value!);
    this.certs.set(hash, entry);
    return entry;
  }

  private examine(der: Uint8Array): CertEntry {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return { ok: false, why: 'its certificate cannot be parsed' };
    }
    try {
      checkPeerCertificate('its certificate', cert, 'this ring', this.ca);
    } catch (err) {
      return { ok: false, why: (err as Error).message };
    }
    const id = peerIdFromCommonName(commonNameOf(cert));
    if (id === undefined) return { ok: false, why: 'its certificate names no cdht peer' };
    const from = Date.parse(cert.validFrom);
    const to = Date.parse(cert.validTo);
    if (Number.isNaN(from) || Number.isNaN(to)) return { ok: false, why: 'its certificate has unreadable validity dates' };
    return { ok: true, id, key: cert.publicKey, from, to };
  }

  /** Certificates remembered (tests, memory figures). */
  get cached(): number {
    return this.certs.size;
  }
}

