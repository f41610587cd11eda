// `store PATH` above the 8-bit space: any file is published under its base name, so it is put
// into the data directory first (a hard link when it can be, a copy otherwise).
import { copyFileSync, existsSync, linkSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { IdSpace } from '../core/id-space.js';

/**
 * Rewrites a typed `store PATH` into `Store NAME` once NAME is in the data directory. Lines that
 * are not such a store, and every line in the 8-bit space, come back unchanged.
 */
export function publishTyped(line: string, space: IdSpace, dataDir: string): { line: string } | { error: string } {
  const m = /^\s*store\s+(.+?)\s*$/i.exec(line);
  if (space.spec || !m) return { line };
  const arg = m[1]!;
  const name = basename(arg);
  const problem = space.nameProblem(name);
  if (problem) return { error: problem };
  const inDir = join(dataDir, name);
  const src = resolve(arg);
  if (src === resolve(inDir)) return { line: `Store ${name}` };
  if (!existsSync(src)) {
    // a bare name of a file already in the data directory
    if (!arg.includes('/') && existsSync(inDir)) return { line: `Store ${name}` };
    return { error: `There is no file ${arg} to store` };
  }
  if (!statSync(src).isFile()) return { error: `${arg} is not a regular file` };
  if (existsSync(inDir)) return { error: `${name} is already in the data directory ${dataDir}; stored files do not change` };
  try {
    linkSync(src, inDir);
  } catch {
    copyFileSync(src, inDir);
  }
  return { line: `Store ${name}` };
}
