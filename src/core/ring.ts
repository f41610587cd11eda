// The true ring made of a set of peers: who follows whom, and which peers' successor lists
// disagree with it. Reporters, tests and the simulator's invariants compare against this.
import type { Id } from './id-space.js';
import { IdSpace } from './id-space.js';

/** Each id followed by the next `count` ids clockwise. */
export function ringSuccessors(ids: readonly Id[], count = 2): Map<Id, Id[]> {
  const sorted = IdSpace.sort(new Set(ids));
  const out = new Map<Id, Id[]>();
  sorted.forEach((id, i) => {
    const next: Id[] = [];
    for (let k = 1; k <= count && k < sorted.length; k++) next.push(sorted[(i + k) % sorted.length]!);
    out.set(id, next);
  });
  return out;
}

/** Ids whose first two successors differ from those of the true ring made of the given peers. */
export function staleSuccessors(peers: readonly { id: Id; successors: readonly Id[] }[]): Id[] {
  const truth = ringSuccessors(peers.map((p) => p.id));
  return IdSpace.sort(
    peers
      .filter((p) => {
        const want = truth.get(p.id) ?? [];
        const have = p.successors.slice(0, 2);
        return want.length !== have.length || want.some((w, i) => w !== have[i]);
      })
      .map((p) => p.id),
  );
}
