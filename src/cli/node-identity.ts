// Who a `cdht node` is, kept in its data directory: its id, its id space and its advertised
// address. A restart with the same directory comes back as the same peer (the files it holds are
// in that directory too), even when the id was derived from an address that has since changed.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
