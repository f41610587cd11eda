// Reads and checks PEM keys and certificates with node:crypto, turning every way they can be
// wrong into one TlsSetupError line that names the file. No certificate writing here.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { TlsSetupError } from './identity.js';
import type { RingAuthority } from './identity.js';

/** A key or certificate PEM is a few KiB; anything bigger is the wrong file. */
export const MAX_PEM_BYTES = 64 * 1024;
const CERT_BEGIN = '-----BEGIN CERTIFICATE-----';
const KEY_BEGIN = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export type KeyAlgorithm = 'Ed25519' | 'P-256';

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

function readProblem(code: string | undefined): string {
  switch (code) {
    case 'ENOENT':
      return 'does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'cannot be read (permission denied)';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'does not exist (a parent is not a directory)';
    default:
      return `cannot be read (${code ?? 'unknown error'})`;
  }
}

/** The text of a small file; `hint` is appended when the file does not exist. */
export function readPemFile(path: string, hint = ''): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_PEM_BYTES) throw new TlsSetupError(`${path} is ${size} bytes, too large for a PEM key or certificate`);
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof TlsSetupError) throw err;
    const code = errnoOf(err);
    throw new TlsSetupError(`${path} ${readProblem(code)}${code === 'ENOENT' && hint ? ` (${hint})` : ''}`);
  }
}

/** Exactly one certificate: a second one in a CA file would silently trust a second authority. */
export function parseCertificate(path: string, pem: string): X509Certificate {
  const count = pem.split(CERT_BEGIN).length - 1;
  if (count === 0) {
    if (KEY_BEGIN.test(pem)) throw new TlsSetupError(`${path} holds a private key, not a certificate`);
    throw new TlsSetupError(`${path} is not a PEM certificate (no ${CERT_BEGIN} line)`);
  }
  if (count > 1) throw new TlsSetupError(`${path} holds ${count} certificates; cdht expects exactly one`);
  try {
    return new X509Certificate(pem);
  } catch {
    throw new TlsSetupError(`${path} holds a certificate that cannot be parsed`);
  }
}

export function parsePrivateKey(path: string, pem: string): KeyObject {
  if (!KEY_BEGIN.test(pem)) {
    if (pem.includes(CERT_BEGIN)) throw new TlsSetupError(`${path} holds a certificate, not a private key`);
    throw new TlsSetupError(`${path} is not a PEM private key (no -----BEGIN PRIVATE KEY----- line)`);
  }
  try {
    return createPrivateKey(pem);
  } catch (err) {
    if (errnoOf(err) === 'ERR_MISSING_PASSPHRASE') throw new TlsSetupError(`${path} is encrypted; cdht needs an unencrypted PKCS#8 key`);
    throw new TlsSetupError(`${path} holds a private key that cannot be parsed`);
  }
}

/** The key algorithm of a private key, or undefined when cdht does not issue with it. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'Ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'P-256';
  return undefined;
}

/** The subject's one common name; undefined when there is none or more than one. */
export function commonNameOf(cert: X509Certificate): string | undefined {
  const cns = cert.subject.split('\n').filter((l) => l.startsWith('CN=')).map((l) => l.slice(3));
  return cns.length === 1 ? cns[0] : undefined;
}

/** `now` is an input so tests can check expiry without waiting for it. */
export function checkValidity(path: string, cert: X509Certificate, now: number): void {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (Number.isNaN(from) || Number.isNaN(to)) throw new TlsSetupError(`${path} has validity dates that cannot be read`);
  if (now < from) throw new TlsSetupError(`${path} is not valid yet: its validity starts ${new Date(from).toISOString()}`);
  if (now > to) throw new TlsSetupError(`${path} has expired: its validity ended ${new Date(to).toISOString()}`);
}

/** The certificate can be a ring's root: a self-signed CA. */
export function checkAuthorityCertificate(path: string, cert: X509Certificate): void {
  if (!cert.ca) throw new TlsSetupError(`${path} is not a CA certificate (basicConstraints CA:false)`);
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) {
    throw new TlsSetupError(`${path} is not self-signed; cdht trusts only a ring's root authority`);
  }
}

/** A peer certificate for this ring: issued and signed by `ca`, usable by TLS servers and clients. */
export function checkPeerCertificate(path: string, cert: X509Certificate, caPath: string, ca: X509Certificate): void {
  if (cert.ca) throw new TlsSetupError(`${path} is a CA certificate, not a peer's`);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new TlsSetupError(`${path} is not signed by the authority in ${caPath}`);
  }
  // Node names this list keyUsage; it holds the extended key usage OIDs.
  const usages = cert.keyUsage;
  if (usages !== undefined) {
    const missing = [
      ...(usages.includes(OID_SERVER_AUTH) ? [] : ['serverAuth']),
      ...(usages.includes(OID_CLIENT_AUTH) ? [] : ['clientAuth']),
    ];
    if (missing.length > 0) throw new TlsSetupError(`${path} is not for TLS servers and clients (extendedKeyUsage lacks ${missing.join(' and ')})`);
  }
}

export function checkKeyMatches(keyPath: string, key: KeyObject, certPath: string, cert: X509Certificate): void {
  if (!cert.checkPrivateKey(key)) throw new TlsSetupError(`${keyPath} does not match the public key in ${certPath}`);
}

/**
 * A warning when a private-key file is open to group or others, or undefined. Not an error:
 * the key still works, and some set-ups (a shared secrets volume) do this on purpose.
 */
export function keyFileWarning(path: string): string | undefined {
  if (process.platform === 'win32') return undefined; // no POSIX modes to judge
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return undefined; // reading it reports the problem
  }
  if ((mode & 0o077) === 0) return undefined;
  return `${path} is open to group or others (mode 0${mode.toString(8)}); chmod 600 it`;
}

/** The authority, parsed and checked: its certificate is a self-signed CA and its key is the certificate's. */
export interface CheckedAuthority {
  key: KeyObject;
  cert: X509Certificate;
  algorithm: KeyAlgorithm;
}

/** `names` say what to call the two halves in messages: file paths when they were read from disk. */
export function checkAuthority(ca: RingAuthority, names = { key: 'the authority key', cert: 'the authority certificate' }): CheckedAuthority {
  const key = parsePrivateKey(names.key, ca.keyPem);
  const algorithm = keyAlgorithmOf(key);
  if (!algorithm) throw new TlsSetupError(`${names.key} is a ${key.asymmetricKeyType ?? 'unknown'} key; cdht issues with Ed25519 or P-256 keys`);
  const cert = parseCertificate(names.cert, ca.certPem);
  checkAuthorityCertificate(names.cert, cert);
  checkKeyMatches(names.key, key, names.cert, cert);
  return { key, cert, algorithm };
}
