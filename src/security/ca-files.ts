// A ring's certificates on disk: DIR/ca.key + DIR/ca.crt for the authority, DIR/peer-<id>.key +
// .crt for a peer. Keys are created 0600 (never chmod-ed after); loading checks the whole set.
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkAuthority,
  checkAuthorityCertificate,
  checkKeyMatches,
  checkPeerCertificate,
  checkValidity,
  commonNameOf,
  keyFileWarning,
  parseCertificate,
  parsePrivateKey,
  readPemFile,
} from './checks.js';
import { assertPeerId, peerIdFromCommonName, TlsSetupError } from './identity.js';
import type { PeerCredentials, RingAuthority, TlsIdentity } from './identity.js';

export const CA_KEY_FILE = 'ca.key';
export const CA_CERT_FILE = 'ca.crt';
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
/** Directories created here hold private keys: owner only. */
const DIR_MODE = 0o700;

export const peerKeyFile = (id: bigint): string => `peer-${id}.key`;
export const peerCertFile = (id: bigint): string => `peer-${id}.crt`;

/** A TlsIdentity as loaded from disk, with what the caller should tell the user (e.g. a key open to others). */
export interface LoadedTlsIdentity extends TlsIdentity {
  warnings: string[];
}

export interface LoadOptions {
  /** The time validity is judged at, in ms since the epoch (default: now). */
  now?: number;
}

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (err) {
    const code = errnoOf(err);
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'a file is in the way' : code === 'EACCES' ? 'permission denied' : code;
    throw new TlsSetupError(`cannot create directory ${dir} (${why})`);
  }
}

/** Creates `path` with `mode` from the start; 'wx' fails rather than touch an existing file. */
async function createExclusive(path: string, text: string, mode: number): Promise<void> {
  const file = await open(path, 'wx', mode);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
}

/**
 * Writes `path` through a new temporary file of the right mode and a rename: an existing file's
 * looser mode is not inherited, and a reader never sees half a key.
 */
async function replaceFile(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await createExclusive(tmp, text, mode);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw writeProblem(path, err);
  }
}

function writeProblem(path: string, err: unknown): Error {
  if (err instanceof TlsSetupError) return err;
  const code = errnoOf(err);
  return new TlsSetupError(`cannot write ${path} (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code ?? String(err)})`);
}

/** Writes DIR/ca.key (0600) and DIR/ca.crt, creating DIR; refuses when DIR/ca.key exists. */
export async function writeAuthority(dir: string, ca: RingAuthority): Promise<void> {
  await makeDir(dir);
  const keyPath = join(dir, CA_KEY_FILE);
  try {
    await createExclusive(keyPath, ca.keyPem, KEY_MODE);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') {
      throw new TlsSetupError(`${keyPath} already exists; refusing to overwrite a ring authority (remove it first to start a new ring)`);
    }
    throw writeProblem(keyPath, err);
  }
  try {
    await replaceFile(join(dir, CA_CERT_FILE), ca.certPem, CERT_MODE);
  } catch (err) {
    // A key without its certificate would block the next attempt for nothing.
    await unlink(keyPath).catch(() => {});
    throw err;
  }
}

/** Reads DIR/ca.key and DIR/ca.crt and checks they are one self-signed authority. */
export async function readAuthority(dir: string): Promise<RingAuthority> {
  const keyPath = join(dir, CA_KEY_FILE);
  const certPath = join(dir, CA_CERT_FILE);
  const hint = `create an authority with: cdht ca create ${dir}`;
  const ca = { keyPem: readPemFile(keyPath, hint), certPem: readPemFile(certPath, hint) };
  checkAuthority(ca, { key: keyPath, cert: certPath });
  return ca;
}

/** Writes DIR/peer-<id>.key (0600) and DIR/peer-<id>.crt, creating DIR; replaces an earlier pair. */
export async function writePeer(dir: string, id: bigint, c: PeerCredentials): Promise<{ keyPath: string; certPath: string }> {
  assertPeerId(id);
  await makeDir(dir);
  const keyPath = join(dir, peerKeyFile(id));
  const certPath = join(dir, peerCertFile(id));
  await replaceFile(keyPath, c.keyPem, KEY_MODE);
  await replaceFile(certPath, c.certPem, CERT_MODE);
  return { keyPath, certPath };
}

/**
 * Reads DIR/ca.crt, DIR/peer-<id>.key and DIR/peer-<id>.crt and checks that they make peer
 * `id` of this ring: the certificate names `id`, is signed by the authority, is valid now and
 * matches the key. Synchronous: it runs once at start-up, before anything listens. Throws a
 * TlsSetupError naming the file at fault; a key open to group or others is only a warning.
 */
export function loadTlsIdentity(dir: string, id: bigint, opts: LoadOptions = {}): LoadedTlsIdentity {
  assertPeerId(id);
  const now = opts.now ?? Date.now();
  const caPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, peerKeyFile(id));
  const certPath = join(dir, peerCertFile(id));
  const issueHint = `issue it with: cdht ca issue ${id} --ca <authority dir> --out ${dir}`;
  const caPem = readPemFile(caPath, 'copy the ring authority\'s ca.crt here');
  const certPem = readPemFile(certPath, issueHint);
  const keyPem = readPemFile(keyPath, issueHint);

  const ca = parseCertificate(caPath, caPem);
  checkAuthorityCertificate(caPath, ca);
  checkValidity(caPath, ca, now);

  const cert = parseCertificate(certPath, certPem);
  const cn = commonNameOf(cert);
  const named = peerIdFromCommonName(cn);
  if (named === undefined) throw new TlsSetupError(`${certPath} does not name a cdht peer (its subject is ${JSON.stringify(cert.subject.replace(/\n/g, ', '))})`);
  if (named !== id) throw new TlsSetupError(`${certPath} names peer ${named}, not ${id}`);
  checkPeerCertificate(certPath, cert, caPath, ca);
  checkValidity(certPath, cert, now);

  const key = parsePrivateKey(keyPath, keyPem);
  checkKeyMatches(keyPath, key, certPath, cert);
  const warning = keyFileWarning(keyPath);
  return { id, keyPem, certPem, caPem, warnings: warning ? [warning] : [] };
}

/**
 * Puts the authority's certificate into a peer's directory (DIR/ca.crt), so that the directory
 * alone is what the peer needs. Leaves an identical one alone; refuses to replace another
 * authority's. Returns the path, or undefined when nothing was written.
 */
export async function writeAuthorityCertificate(dir: string, certPem: string): Promise<string | undefined> {
  await makeDir(dir);
  const path = join(dir, CA_CERT_FILE);
  if (existsSync(path)) {
    const existing = parseCertificate(path, readPemFile(path));
    if (existing.raw.equals(new X509Certificate(certPem).raw)) return undefined;
    throw new TlsSetupError(`${path} holds another authority's certificate; remove it or choose another directory`);
  }
  await replaceFile(path, certPem, CERT_MODE);
  return path;
}
