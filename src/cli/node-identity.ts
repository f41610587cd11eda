// Who a `cdht node` is, kept in its data directory: its id, its id space and its advertised
// address, and on a private ring its TLS files. A restart with the same directory comes back as
// the same peer (the files it holds are in that directory too), even when the id was derived from
// an address that has since changed, and without --tls once it was given one.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CA_CERT_FILE, loadTlsIdentity, peerCertFile, peerKeyFile } from '../security/ca-files.js';
import { TlsSetupError, type TlsIdentity } from '../security/identity.js';
import { ArgumentProblem } from './args.js';

export const IDENTITY_FILE = 'cdht-node.json';

export interface NodeIdentity {
  /** As the id space prints it (decimal, or hex above 53 bits). */
  id: string;
  bits: number;
  /** host:port */
  advertise: string;
}

export function identityPath(dataDir: string): string {
  return join(dataDir, IDENTITY_FILE);
}

/** The identity kept in `dataDir`, or undefined for a new one; a damaged file is one line, exit 2. */
export function readIdentity(dataDir: string): NodeIdentity | undefined {
  const path = identityPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ArgumentProblem(`${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const o = JSON.parse(text) as Partial<NodeIdentity>;
    if (typeof o.id === 'string' && typeof o.bits === 'number' && typeof o.advertise === 'string') return { id: o.id, bits: o.bits, advertise: o.advertise };
  } catch {
    // reported below, with what the file should hold
  }
  throw new ArgumentProblem(`${path} is damaged: it should hold this peer's id, bits and advertise; move it away to start as a new peer`);
}

/** Written whole and renamed into place: a crash mid-write must not leave half an identity. */
export function writeIdentity(dataDir: string, identity: NodeIdentity): void {
  const path = identityPath(dataDir);
  const partial = `${path}.partial`;
  writeFileSync(partial, `${JSON.stringify(identity, null, 2)}\n`);
  renameSync(partial, path);
}

/**
 * The TLS files kept for this peer: DATA/.cdht-tls/{ca.crt, peer-ID.key, peer-ID.crt}, the layout
 * of a --tls directory. At 8 bits the data directory is the folder the peer serves files from;
 * this one is safe there: a stored name is a plain file name, never hidden, never a path.
 */
export const KEPT_TLS_DIR = '.cdht-tls';
const KEY_MODE = 0o600;
const DIR_MODE = 0o700;

export function keptTlsPath(dataDir: string): string {
  return join(dataDir, KEPT_TLS_DIR);
}

/** The TLS identity kept in `dataDir` for peer `id`, or undefined when none was kept; a damaged or expired one is one line, exit 2. */
export function readKeptTls(dataDir: string, id: bigint): { tls: TlsIdentity; notices: string[] } | undefined {
  const dir = keptTlsPath(dataDir);
  if (!existsSync(join(dir, CA_CERT_FILE))) return undefined;
  try {
    const { warnings, ...tls } = loadTlsIdentity(dir, id);
    return { tls, notices: warnings };
  } catch (err) {
    if (err instanceof TlsSetupError) throw new ArgumentProblem(`${dir} (kept from an earlier --tls): ${err.message}; give --tls DIR again, or remove ${dir} to start on an open ring`);
    throw err;
  }
}

/** Writes one file whole and renames it into place, with `mode` from the start. */
function replaceSync(path: string, text: string, mode: number): void {
  const partial = `${path}.partial`;
  writeFileSync(partial, text, { mode });
  chmodSync(partial, mode); // a partial file left by a crash keeps its old mode otherwise
  renameSync(partial, path);
}

/** Keeps `tls` in `dataDir` (replacing what was kept: a renewed certificate, a re-keyed ring); returns the directory. */
export function keepTls(dataDir: string, tls: TlsIdentity): string {
  const dir = keptTlsPath(dataDir);
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  chmodSync(dir, DIR_MODE);
  replaceSync(join(dir, CA_CERT_FILE), tls.caPem, 0o644);
  replaceSync(join(dir, peerCertFile(tls.id)), tls.certPem, 0o644);
  replaceSync(join(dir, peerKeyFile(tls.id)), tls.keyPem, KEY_MODE);
  return dir;
}
