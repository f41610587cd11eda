// The ring authority: creates the self-signed CA of a private ring and issues peer certificates
// naming 'cdht peer <id>'. node:crypto makes the keys; certificate.ts writes the certificates.
import { generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { ConfigError } from '../core/config.js';
import { certificateDer, issuerFacts, positiveSerial } from './certificate.js';
import { checkAuthority } from './checks.js';
import type { KeyAlgorithm } from './checks.js';
import { assertPeerId, DEFAULT_AUTHORITY_DAYS, DEFAULT_AUTHORITY_NAME, DEFAULT_PEER_DAYS, MAX_DAYS, MAX_NAME_CHARS, peerCommonName, TlsSetupError } from './identity.js';
import type { PeerCredentials, RingAuthority } from './identity.js';

export * from './identity.js';
export { writeAuthority, readAuthority, writePeer, loadTlsIdentity, writeAuthorityCertificate, CA_CERT_FILE, CA_KEY_FILE, peerCertFile, peerKeyFile } from './ca-files.js';
export { keyFileWarning } from './checks.js';
export type { LoadedTlsIdentity, LoadOptions } from './ca-files.js';

export type { KeyAlgorithm } from './checks.js';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['Ed25519', 'P-256'];
/** Certificates start an hour in the past so a peer whose clock is a little behind accepts them. */
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Random serial numbers of 128 bits (RFC 5280 allows up to 20 octets; positiveSerial keeps them positive). */
const SERIAL_BYTES = 16;

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new ConfigError('days', `days must be an integer from 1 to ${MAX_DAYS} (got ${String(days)})`, 1, MAX_DAYS);
  }
  return days;
}

interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

function generateKeys(algorithm: KeyAlgorithm): KeyPair {
  return algorithm === 'Ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function pkcs8Pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** PEM by node:crypto, which parses the DER on the way: a certificate it cannot read is never written. */
function certificatePem(der: Uint8Array): string {
  return new X509Certificate(der).toString();
}

function serialNumber(): Uint8Array {
  return positiveSerial(randomBytes(SERIAL_BYTES));
}

/** Creates a new ring authority: a fresh key pair and its self-signed CA certificate. */
export async function createAuthority(opts: { name?: string; algorithm?: KeyAlgorithm; days?: number } = {}): Promise<RingAuthority> {
  const algorithm = opts.algorithm ?? 'Ed25519';
  if (!KEY_ALGORITHMS.includes(algorithm)) throw new ConfigError('algorithm', `algorithm must be one of ${KEY_ALGORITHMS.join(', ')} (got ${String(algorithm)})`);
  const name = opts.name ?? DEFAULT_AUTHORITY_NAME;
  if (name.length === 0 || name.length > MAX_NAME_CHARS) throw new ConfigError('authorityName', `the authority name must be 1 to ${MAX_NAME_CHARS} characters (got ${name.length})`, 1, MAX_NAME_CHARS);
  const days = checkDays(opts.days ?? DEFAULT_AUTHORITY_DAYS);
  const keys = generateKeys(algorithm);
  const now = Date.now();
  const der = certificateDer({
    role: { kind: 'authority' },
    subject: name,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    algorithm,
    serial: serialNumber(),
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + days * DAY_MS),
  });
  return { keyPem: pkcs8Pem(keys.privateKey), certPem: certificatePem(der) };
}

/**
 * Issues peer `id` a fresh key pair and a certificate signed by `ca`, of the CA's key algorithm.
 * Its validity ends with the CA's at the latest: a certificate cannot outlive its issuer.
 */
export async function issuePeer(ca: RingAuthority, id: bigint, opts: { days?: number } = {}): Promise<PeerCredentials> {
  assertPeerId(id);
  const days = checkDays(opts.days ?? DEFAULT_PEER_DAYS);
  const { key, cert, algorithm } = checkAuthority(ca);
  const issuer = issuerFacts(cert.raw);
  const now = Date.now();
  const caNotAfter = issuer.notAfter.getTime();
  if (caNotAfter <= now) throw new TlsSetupError(`the authority's certificate expired on ${issuer.notAfter.toISOString()}`);
  const keys = generateKeys(algorithm);
  const der = certificateDer({
    role: { kind: 'peer', authorityKeyId: issuer.keyId },
    subject: peerCommonName(id),
    issuer: issuer.name,
    publicKey: keys.publicKey,
    signingKey: key,
    algorithm,
    serial: serialNumber(),
    notBefore: new Date(Math.max(now - BACKDATE_MS, issuer.notBefore.getTime())),
    notAfter: new Date(Math.min(now + days * DAY_MS, caNotAfter)),
  });
  return { keyPem: pkcs8Pem(keys.privateKey), certPem: certificatePem(der) };
}
