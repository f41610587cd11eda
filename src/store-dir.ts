// Where a peer keeps the names it stores: a shell's decision (the core never builds a path).
import { join } from 'node:path';
import type { IdSpace } from './core/id-space.js';

/** The folder a peer keeps its stored names in, under its data directory (above the 8-bit space). */
export const STORE_FOLDER = 'store';

/**
 * Where the stored names of a peer with this data directory live: in the specification's 8-bit
 * mode the data directory itself (four-digit files, shared by the reference ring's peers); above,
 * a folder of its own, so nothing else in the data directory (keys, the user's own files) is
 * ever taken for a stored file or served.
 */
export function storeDirOf(dataDir: string, space: IdSpace): string {
  return space.spec ? dataDir : join(dataDir, STORE_FOLDER);
}

/**
 * The library's own temporary files: a put's bytes staged in the store directory before they go
 * (`.cdht-put-<16 hex>`), a get's bytes received into the data directory before they are read
 * (`.cdht-get-<16 hex>`). Hidden, so never taken for a stored name; whole and checked, unlike a
 * transfer's `.part` file; removed when the operation ends, and at start when one was left behind.
 */
export const LIBRARY_TEMP = /^\.cdht-(?:put|get)-[0-9a-f]{16}$/;

export function isLibraryTemp(name: string): boolean {
  return LIBRARY_TEMP.test(name);
}
