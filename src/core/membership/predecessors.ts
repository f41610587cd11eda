// This peer's first and second predecessors, learned from the pings it receives: a ping's role
// says which slot its sender fills. The closest pinger in each slot wins; one silent for two
// probe periods gives way to whoever pings, and one not heard for K + 2 probes is forgotten.
import type { Contact } from '../contact.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';

/** Pingers remembered with the time they were last heard (older ones are pruned past this). */
const MAX_HEARD = 1024;

export class Predecessors {
  pred1: Contact | undefined;
  pred2: Contact | undefined;
  /**
   * The first predecessor died or fell silent and no other has taken its place: this peer's range
   * now reaches back to a live peer it does not know yet. (A peer that never had one trusts the
   * ring it was started in.)
   */
  lost = false;
  /**
   * Until then a first predecessor taken after a loss may not be the nearest: a live peer between
   * it and us may not have noticed its own successors died yet, and it pings us only once it has
   * (pingMisses probes, and one more to be heard).
   */
  unsureUntil = -Infinity;
  private readonly heardAt = new Map<Id, number>();

  constructor(
    private readonly ctx: Ctx,
    private readonly probeMs: () => number,
    private readonly onChange: () => void,
  ) {}

  /** A ping of `from` in `role` arrived now (its sender may not be checked yet: see take()). */
  heard(id: Id): void {
    this.heardAt.set(id, this.ctx.now);
  }

  /** `from`, a checked pinger in `role`, takes its slot if it is closer or the slot's holder fell silent. */
  take(from: Contact, role: 1 | 2): void {
    const now = this.ctx.now;
    const slot = role === 1 ? 'pred1' : 'pred2';
    const other = role === 1 ? 'pred2' : 'pred1';
    const [b1, b2] = [this.pred1?.id, this.pred2?.id];
    if (this[other]?.id === from.id) this[other] = undefined;
    const cur = this[slot];
    const silent = !cur || now - (this.heardAt.get(cur.id) ?? -Infinity) > 2 * this.probeMs();
    const closer = !!cur && this.ctx.space.betweenOpen(cur.id, from.id, this.ctx.self.id);
    if (!cur || cur.id === from.id || silent || closer) {
      if (slot === 'pred1' && cur && cur.id !== from.id && !closer) this.unsure();
      this[slot] = from;
    }
    if (this.pred1) this.lost = false;
    if (this.pred1?.id !== b1 || this.pred2?.id !== b2) this.changed();
  }

  /** Every probe period: predecessors not heard from for K + 2 probes are forgotten. */
  expire(): void {
    const limit = (this.ctx.cfg.pingMisses + 2) * this.probeMs();
    let changed = false;
    for (const slot of ['pred1', 'pred2'] as const) {
      const p = this[slot];
      if (p && this.ctx.now - (this.heardAt.get(p.id) ?? this.ctx.now) > limit) {
        this[slot] = undefined;
        if (slot === 'pred1') (this.lost = true), this.unsure();
        changed = true;
      }
    }
    if (this.heardAt.size > MAX_HEARD) {
      for (const [id, at] of this.heardAt) if (this.ctx.now - at > limit) this.heardAt.delete(id);
    }
    if (changed) this.changed();
  }

  /** A peer that left or died: forget it at once. */
  forget(id: Id): void {
    let changed = false;
    if (this.pred1?.id === id) (this.pred1 = undefined), (this.lost = true), this.unsure(), (changed = true);
    if (this.pred2?.id === id) (this.pred2 = undefined), (changed = true);
    if (changed) this.changed();
  }

  /** The first predecessor was lost: the range is not sure for a while (see unsureUntil). */
  private unsure(): void {
    this.unsureUntil = this.ctx.now + (this.ctx.cfg.pingMisses + 2) * this.probeMs();
  }

  /** The acceptor of our join is our predecessor until pings say otherwise. */
  set(c: Contact): void {
    this.pred1 = c;
    this.lost = false;
    this.heardAt.set(c.id, this.ctx.now);
    this.changed();
  }

  private changed(): void {
    this.ctx.version++;
    this.onChange();
  }
}
