// Arithmetic on the ring of 256 ids: intervals that wrap past 255, and which peer owns a key.
import { RING_SIZE } from './contact.js';

/** Files are named by exactly four digits; leading zeros are part of the name. */
export const FILE_NAME = /^\d{4}$/;

export function keyOf(file: string): number {
  return Number.parseInt(file, 10) % RING_SIZE;
}

/** Clockwise distance from a to b, in [0, 255]. */
export function distance(a: number, b: number): number {
  return (((b - a) % RING_SIZE) + RING_SIZE) % RING_SIZE;
}

/** x in the open interval (a, b) going clockwise; when a == b the interval is the whole ring but a. */
export function betweenOpen(a: number, x: number, b: number): boolean {
  if (a === b) return x !== a;
  const d = distance(a, x);
  return d > 0 && d < distance(a, b);
}

/** x in the half-open interval (a, b] going clockwise; when a == b the whole ring. */
export function betweenRightClosed(a: number, x: number, b: number): boolean {
  if (a === b) return true;
  const d = distance(a, x);
  return d > 0 && d <= distance(a, b);
}

/** The owner of key k among ids: the first id >= k, wrapping past 255 to the smallest. */
export function ownerOf(key: number, ids: readonly number[]): number | undefined {
  if (ids.length === 0) return undefined;
  const sorted = [...ids].sort((a, b) => a - b);
  return sorted.find((id) => id >= key) ?? sorted[0];
}

/** The reference layout of a ring: each id followed by the next two ids clockwise. */
export function ringSuccessors(ids: readonly number[], count = 2): Map<number, number[]> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const out = new Map<number, number[]>();
  sorted.forEach((id, i) => {
    const next: number[] = [];
    for (let k = 1; k <= count && k < sorted.length; k++) next.push(sorted[(i + k) % sorted.length]!);
    out.set(id, next);
  });
  return out;
}

/** Ids whose first two successors differ from those of the true ring made of the given peers. */
export function staleSuccessors(peers: readonly { id: number; successors: readonly number[] }[]): number[] {
  const truth = ringSuccessors(peers.map((p) => p.id));
  return peers
    .filter((p) => {
      const want = truth.get(p.id) ?? [];
      const have = p.successors.slice(0, 2);
      return want.length !== have.length || want.some((w, i) => w !== have[i]);
    })
    .map((p) => p.id)
    .sort((a, b) => a - b);
}
