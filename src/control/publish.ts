// `store PATH` above the 8-bit space: any file is published under its base name, so it is put
// into the peer's store folder first (a hard link when it can be, a copy otherwise). Every check
// that can refuse the Store comes first: a refused Store leaves the folder as it was.
import { copyFileSync, existsSync, linkSync, statSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { unquoteName } from '../core/id-space.js';
import type { IdSpace } from '../core/id-space.js';

export type Published = { name: string } | { error: string };

/**
 * Makes the file typed as `typed` (a path, a bare name already in the store folder, quoted or
 * not) storable under its base name: checks the name and that the peer is in a ring, then links
 * or copies it into `dataDir`. Answers the name to Store, or why not.
 */
export function publishPath(typed: string, space: IdSpace, dataDir: string, inRing: boolean): Published {
  const arg = unquoteName(typed.trim());
  if (!arg) return { error: 'Store takes a file: a path, or the name of a file in the store folder' };
  const name = basename(arg);
  const problem = space.nameProblem(name);
  if (problem) return { error: problem };
  if (!inRing) return { error: `Not in a ring yet: Store ${name} ignored` };
  const inDir = join(dataDir, name);
  const src = resolve(arg);
  if (src === resolve(inDir)) return { name };
  if (!existsSync(src)) {
    // a bare name of a file already in the store folder
    if (!arg.includes('/') && !arg.includes(sep) && existsSync(inDir)) return { name };
    return { error: `There is no file ${arg} to store` };
  }
  if (!statSync(src).isFile()) return { error: `${arg} is not a regular file` };
  if (existsSync(inDir)) return { error: `${name} is already in the store folder ${dataDir}; stored files do not change` };
  try {
    linkSync(src, inDir);
  } catch {
    try {
      copyFileSync(src, inDir);
    } catch (err) {
      return { error: `Could not put ${name} into ${dataDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
  }
  return { name };
}

/**
 * Rewrites a typed `store PATH` into `Store "NAME"` once NAME is in the store folder (the quotes
 * keep a name with spaces whole). Lines that are not such a store, and every line in the 8-bit
 * space, come back unchanged.
 */
export function publishTyped(line: string, space: IdSpace, dataDir: string, inRing: boolean): { line: string } | { error: string } {
  const m = /^\s*store\s+(.+?)\s*$/i.exec(line);
  if (space.spec || !m) return { line };
  const r = publishPath(m[1]!, space, dataDir, inRing);
  return 'error' in r ? r : { line: `Store "${r.name}"` };
}
