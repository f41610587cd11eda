// What the TLS transport takes from a ring's certificates: context options for mutual TLS 1.3,
// the peer id a verified connection proves, and a throwaway authority for `cdht ring --secure`.
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { createAuthority, issuePeer } from './ca.js';
import { assertPeerId, peerIdFromCommonName } from './identity.js';
import type { RingAuthority, TlsIdentity } from './identity.js';

export interface TlsContextOptions {
  key: string;
  cert: string;
  ca: string;
  requestCert: true;
  rejectUnauthorized: true;
  minVersion: 'TLSv1.3';
  maxVersion: 'TLSv1.3';
}

/**
 * Options for tls.createServer and tls.connect alike: this peer's key and certificate, the
 * ring's authority as the only trusted one, both sides must present a certificate, TLS 1.3 only.
 */
export function tlsContextOptions(identity: TlsIdentity): TlsContextOptions {
  return {
    key: identity.keyPem,
    cert: identity.certPem,
    ca: identity.caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
  };
}

/** The id a peer certificate's subject CN names; undefined for anything else (including several CNs). */
export function certificatePeerId(cert: PeerCertificate | undefined): bigint | undefined {
  const cn: unknown = cert?.subject?.CN;
  return typeof cn === 'string' ? peerIdFromCommonName(cn) : undefined;
}

/**
 * A tls.connect checkServerIdentity for ring peers. Peer certificates carry no host names, so
 * node's default check (host name or IP against the certificate) would refuse every server;
 * the server is held to the peer id its certificate names instead (any peer of the ring when
 * `expectedId` is undefined). The chain has been verified against the ring's CA before this runs.
 */
export function checkPeerServerIdentity(expectedId?: bigint): (host: string, cert: PeerCertificate) => Error | undefined {
  if (expectedId !== undefined) assertPeerId(expectedId);
  return (_host, cert) => {
    const id = certificatePeerId(cert);
    // plain: Node's checkServerIdentity takes an Error; the failed connection is coded where it surfaces
    if (id === undefined) return new Error('the server\'s certificate does not name a cdht peer');
    if (expectedId !== undefined && id !== expectedId) return new Error(`expected peer ${expectedId}, but the server's certificate names peer ${id}`);
    return undefined;
  };
}

/** tlsContextOptions plus the server check above: what a peer passes to tls.connect. */
export function tlsClientOptions(
  identity: TlsIdentity,
  expectedId?: bigint,
): TlsContextOptions & { checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } {
  return { ...tlsContextOptions(identity), checkServerIdentity: checkPeerServerIdentity(expectedId) };
}

/** The peer id the other end proved with a certificate the ring's authority signed; undefined if it did not. */
export function authenticatedPeerId(sock: TLSSocket): bigint | undefined {
  if (!sock.authorized) return undefined;
  return certificatePeerId(sock.getPeerCertificate());
}

/** Identities cached by a throwaway ring; past this the oldest is forgotten (and reissued if asked again). */
export const MAX_THROWAWAY_IDENTITIES = 4096;

export interface ThrowawayRing {
  ca: RingAuthority;
  /** Peer `id`'s identity, issued on first use; the same one for later calls. */
  identityFor(id: bigint): Promise<TlsIdentity>;
}

/** An authority that lives in memory only, for a ring that runs in one process (`cdht ring --secure`). */
export async function createThrowawayRing(): Promise<ThrowawayRing> {
  const ca = await createAuthority({ name: 'cdht throwaway ring authority' });
  const issued = new Map<bigint, Promise<TlsIdentity>>();
  const identityFor = (id: bigint): Promise<TlsIdentity> => {
    assertPeerId(id);
    const known = issued.get(id);
    if (known) return known;
    if (issued.size >= MAX_THROWAWAY_IDENTITIES) issued.delete(issued.keys().next().value as bigint);
    // One promise per id, so concurrent callers share one certificate.
    const identity = issuePeer(ca, id).then((c) => ({ id, keyPem: c.keyPem, certPem: c.certPem, caPem: ca.certPem }));
    identity.catch(() => {
      if (issued.get(id) === identity) issued.delete(id);
    });
    issued.set(id, identity);
    return identity;
  };
  return { ca, identityFor };
}
