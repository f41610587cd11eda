// A data folder as the disk has it (the single peer's status command lists its folder; the
// controller asks it only whether a typed file is there: its file lists come from key stores).
// Reads the real disk or the simulator's.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { IdSpace } from '../core/id-space.js';
import type { SimNetwork } from '../transport/sim/network.js';
import type { FileView } from './view-types.js';
import { storeDirOf } from '../store-dir.js';

/** Files listed per folder or peer at most (a folder of a million files must not stall the ring). */
export const MAX_FILES_LISTED = 1000;
const RECEIVED = 'received_';

export interface Disk {
  list(dir: string): string[];
  size(dir: string, name: string): number | undefined;
}

export const nodeDisk: Disk = {
  list(dir) {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  },
  size(dir, name) {
    try {
      const st = statSync(join(dir, name));
      return st.isFile() ? st.size : undefined;
    } catch {
      return undefined;
    }
  },
};

export function simDisk(sim: SimNetwork): Disk {
  return { list: (dir) => sim.disk.list(dir), size: (dir, name) => sim.disk.size(dir, name) };
}

/** The names a data folder holds for the ring: NNNN.pdf and received_NNNN.pdf in the spec space. */
export function isDataFile(space: IdSpace, name: string): boolean {
  if (name.startsWith('.')) return false; // transfers in progress
  if (!space.spec) return true;
  return /^(received_)?\d{4}\.pdf$/.test(name);
}

/**
 * Lists a data folder once (sorted, capped, with sizes): above the 8-bit space its stored names
 * are in the peer's store folder, and only the received copies beside it.
 */
export function listFolder(disk: Disk, space: IdSpace, dir: string): FileView[] {
  const out: FileView[] = [];
  const store = storeDirOf(dir, space);
  const found = (d: string, keep: (n: string) => boolean) => disk.list(d).filter((n) => keep(n) && isDataFile(space, n)).map((name) => ({ d, name }));
  const entries = store === dir ? found(dir, () => true) : [...found(store, () => true), ...found(dir, (n) => n.startsWith(RECEIVED))];
  for (const { d, name } of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (out.length >= MAX_FILES_LISTED) break;
    const size = disk.size(d, name);
    if (size !== undefined) out.push({ name, size, received: d === dir && name.startsWith(RECEIVED) });
  }
  return out;
}

/** 1536 -> "1.5 KiB"; bytes below 1 KiB as "512 B". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}
