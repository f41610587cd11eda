// The ring authority: creates the self-signed CA of a private ring and issues peer certificates
// naming 'cdht peer <id>'. @peculiar/x509 writes the certificates; node:crypto holds the keys.
import 'reflect-metadata'; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from '@peculiar/x509';
import { KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { ConfigError } from '../core/config.js';
import { checkAuthority } from './checks.js';
import type { KeyAlgorithm } from './checks.js';
import { assertPeerId, DEFAULT_AUTHORITY_DAYS, DEFAULT_AUTHORITY_NAME, DEFAULT_PEER_DAYS, MAX_DAYS, MAX_NAME_CHARS, peerCommonName, TlsSetupError } from './identity.js';
import type { PeerCredentials, RingAuthority } from './identity.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export * from './identity.js';
export { writeAuthority, readAuthority, writePeer, loadTlsIdentity, writeAuthorityCertificate, CA_CERT_FILE, CA_KEY_FILE, peerCertFile, peerKeyFile } from './ca-files.js';
export { keyFileWarning } from './checks.js';
export type { LoadedTlsIdentity, LoadOptions } from './ca-files.js';

export type { KeyAlgorithm } from './checks.js';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['Ed25519', 'P-256'];
/** Certificates start an hour in the past so a peer whose clock is a little behind accepts them. */
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Random serial numbers of 128 bits (RFC 5280 allows up to 20 octets; x509 keeps them positive). */
const SERIAL_BYTES = 16;

const WEB_ALGORITHMS: Record<KeyAlgorithm, { generate: EcKeyGenParams | Algorithm; sign: Algorithm | EcdsaParams }> = {
  Ed25519: { generate: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
  'P-256': { generate: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
};

function checkDays(days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new ConfigError('days', `days must be an integer from 1 to ${MAX_DAYS} (got ${String(days)})`, 1, MAX_DAYS);
  }
  return days;
}

/** A DN holding one UTF8String CN, built as an object so that commas or quotes in it stay literal. */
function commonNameDn(cn: string): x509.Name {
  return new x509.Name([{ CN: [{ utf8String: cn }] }]);
}

async function generateKeys(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(WEB_ALGORITHMS[algorithm].generate, true, ['sign', 'verify'])) as CryptoKeyPair;
}

function pkcs8Pem(key: CryptoKey): string {
  return KeyObject.from(key as webcrypto.CryptoKey).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function serialNumber(): string {
  return randomBytes(SERIAL_BYTES).toString('hex');
}

/** Creates a new ring authority: a fresh key pair and its self-signed CA certificate. */
export async function createAuthority(opts: { name?: string; algorithm?: KeyAlgorithm; days?: number } = {}): Promise<RingAuthority> {
  const algorithm = opts.algorithm ?? 'Ed25519';
  if (!KEY_ALGORITHMS.includes(algorithm)) throw new ConfigError('algorithm', `algorithm must be one of ${KEY_ALGORITHMS.join(', ')} (got ${String(algorithm)})`);
  const name = opts.name ?? DEFAULT_AUTHORITY_NAME;
  if (name.length === 0 || name.length > MAX_NAME_CHARS) throw new ConfigError('authorityName', `the authority name must be 1 to ${MAX_NAME_CHARS} characters (got ${name.length})`, 1, MAX_NAME_CHARS);
  const days = checkDays(opts.days ?? DEFAULT_AUTHORITY_DAYS);
  const keys = await generateKeys(algorithm);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: commonNameDn(name),
    keys,
    serialNumber: serialNumber(),
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + days * DAY_MS),
    signingAlgorithm: WEB_ALGORITHMS[algorithm].sign,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keyPem: pkcs8Pem(keys.privateKey), certPem: cert.toString('pem') };
}

/**
 * Issues peer `id` a fresh key pair and a certificate signed by `ca`, of the CA's key algorithm.
 * Its validity ends with the CA's at the latest: a certificate cannot outlive its issuer.
 */
export async function issuePeer(ca: RingAuthority, id: bigint, opts: { days?: number } = {}): Promise<PeerCredentials> {
  assertPeerId(id);
  const days = checkDays(opts.days ?? DEFAULT_PEER_DAYS);
  const { key, cert, algorithm } = checkAuthority(ca);
  const caCert = new x509.X509Certificate(ca.certPem);
  const now = Date.now();
  const caNotAfter = caCert.notAfter.getTime();
  if (caNotAfter <= now) throw new TlsSetupError(`the authority's certificate expired on ${caCert.notAfter.toISOString()}`);
  const signingKey = (await webcrypto.subtle.importKey(
    'pkcs8',
    key.export({ type: 'pkcs8', format: 'der' }),
    WEB_ALGORITHMS[algorithm].generate,
    false,
    ['sign'],
  )) as CryptoKey;
  const keys = await generateKeys(algorithm);
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const peerCert = await x509.X509CertificateGenerator.create({
    subject: commonNameDn(peerCommonName(id)),
    issuer: caCert.subjectName,
    publicKey: keys.publicKey,
    signingKey,
    serialNumber: serialNumber(),
    notBefore: new Date(Math.max(now - BACKDATE_MS, caCert.notBefore.getTime())),
    notAfter: new Date(Math.min(now + days * DAY_MS, caNotAfter)),
    signingAlgorithm: WEB_ALGORITHMS[algorithm].sign,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      // Every peer both accepts connections and makes them.
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      caKeyId ? new x509.AuthorityKeyIdentifierExtension(caKeyId) : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
    ],
  });
  return { keyPem: pkcs8Pem(keys.privateKey), certPem: peerCert.toString('pem') };
}
