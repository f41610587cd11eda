// What a peer remembers of the ring beyond its neighbours: a bounded, diverse sample, so that it
// can find the ring again after losing every successor, and find the other ring after a
// partition heals. Chord's stabilization alone cannot merge two rings: each keeps itself
// consistent and never looks outside.
//
// Rules it keeps
// - One peer per scale of clockwise distance from this one (bucket b holds distances in
//   [2^b, 2^(b+1)), as Kademlia's k-buckets do), the farthest SLOTS scales kept: peers on every
//   side of the ring, not just the next few.
// - The seeds this peer started with (init's successors, the peer it joined through) are kept
//   apart and never pushed out: an operator's list is the last thing to give up on.
// - Entries outlive death marks. A peer on the far side of a partition looks dead for as long as
//   the partition lasts, and it is exactly the one to ask once it heals. An entry gives way to
//   another peer of its scale only after STALE_MS without an answer, or when its own id answers
//   at another address.
// - Only peers that answered a ping of ours from inside a ring enter (never a name someone else
//   gave): a sample an attacker could fill would steer the merge.
import type { Contact } from '../contact.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';

/** Distance scales remembered (16 of the farthest). */
export const MEMORY_SLOTS = 16;
/** Seeds remembered apart. */
export const MEMORY_SEEDS = 4;
/** An entry silent this long may be replaced by another peer of its scale. */
export const MEMORY_STALE_MS = 2 * 60 * 60_000;

interface Entry {
  c: Contact;
  heard: number;
}

export class RingMemory {
  private readonly slots = new Map<number, Entry>();
  /** id -> its slot, for the quick path (a peer heard again). */
  private readonly slotOf = new Map<Id, number>();
  private readonly seeds: Contact[] = [];

  constructor(private readonly ctx: Ctx) {}

  /** A contact the user gave at start: kept for good (the first MEMORY_SEEDS of them). */
  addSeed(c: Contact): void {
    if (c.id === this.ctx.self.id || this.seeds.some((s) => s.id === c.id)) return;
    if (this.seeds.length < MEMORY_SEEDS) this.seeds.push(c);
  }

  /** `c` answered a ping of ours and is in a ring: remember it if its scale has room. */
  heard(c: Contact): void {
    const now = this.ctx.now;
    const known = this.slotOf.get(c.id);
    if (known !== undefined) {
      const e = this.slots.get(known)!;
      e.c = c;
      e.heard = now;
      return;
    }
    const slot = this.scaleOf(c.id);
    if (slot < 0) return;
    const cur = this.slots.get(slot);
    if (cur && now - cur.heard < MEMORY_STALE_MS) return;
    if (cur) this.slotOf.delete(cur.c.id);
    this.slots.set(slot, { c, heard: now });
    this.slotOf.set(c.id, slot);
    if (this.slots.size > MEMORY_SLOTS) {
      // the nearest scale goes: those peers are the successors' business
      const lowest = Math.min(...this.slots.keys());
      this.slotOf.delete(this.slots.get(lowest)!.c.id);
      this.slots.delete(lowest);
    }
  }

  /** Everything remembered, seeds first, then from the farthest scale down. */
  entries(): Contact[] {
    const out = [...this.seeds];
    const scales = [...this.slots.keys()].sort((a, b) => b - a);
    for (const s of scales) {
      const c = this.slots.get(s)!.c;
      if (!out.some((x) => x.id === c.id)) out.push(c);
    }
    return out;
  }

  /** floor(log2(clockwise distance)), or -1 for this peer itself. */
  private scaleOf(id: Id): number {
    const d = this.ctx.space.distance(this.ctx.self.id, id);
    return d === 0n ? -1 : d.toString(2).length - 1;
  }
}
