// One router for every routed message: joins, stores, requests, lookups and the console's
// `route` all ask it where a key goes next. The strategies (successor walk, shortcuts, Chord
// fingers) only choose among the live contacts this peer knows; ownership is decided here.
//
// A peer owns key k when k is its id, when it knows no successor and is not looking for a ring it
// lost, or when k lies in (first predecessor, itself]. A wrong owner's answer is worse than none:
// a peer that lost its successors takes no key it cannot place, and passes it on instead. A hop is `final` when the sender knows the receiver owns the key
// (k in (self, first successor]), so the receiver accepts without asking its own predecessor.
import type { RoutingName } from '../config.js';
import type { Contact } from '../contact.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { Liveness } from '../membership/liveness.js';
import type { Successors } from '../membership/successors.js';

export interface Hop {
  to: Contact;
  /** The receiver owns the key. */
  final: boolean;
  /** Sent past the first successor to the second (the line says "my second successor"). */
  second: boolean;
  /** Sent to a finger or a later successor (the line names the peer). */
  finger: boolean;
}

export type Route = { accept: true } | ({ accept: false } & Hop);

/** How a strategy picks the next hop for a key this peer does not own and its first successor does not either. */
export interface Strategy {
  readonly name: RoutingName;
  /** `routable` are the live successors in ring order; the key lies beyond the first of them. */
  pick(key: Id, routable: readonly Contact[], joining: boolean): Hop | undefined;
}

export class Router {
  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly succ: Successors,
    public strategy: Strategy,
  ) {}

  /** Successors that routed messages may go to: not suspected of being gone. */
  routable(): Contact[] {
    const out: Contact[] = [];
    for (const c of this.succ.list) if (!this.live.isSuspect(c.id) && !this.live.isDead(c.id)) out.push(c);
    return out;
  }

  /** The first predecessor, unless it is suspected of being gone. */
  predecessor(): Contact | undefined {
    const p1 = this.live.pred1;
    return p1 && !this.live.isSuspect(p1.id) && !this.live.isDead(p1.id) ? p1 : undefined;
  }

  ownsKey(key: Id): boolean {
    const self = this.ctx.self.id;
    if (key === self || (this.succ.list.length === 0 && !this.succ.lost)) return true;
    const p1 = this.live.pred1;
    return !!p1 && this.ctx.space.betweenRightClosed(p1.id, key, self);
  }

  /**
   * Whether this peer knows it owns `key`, not merely takes it: the key is its id, it is a ring of
   * one, or the key lies after a first predecessor that is not suspected of being gone (or it never
   * had one yet). A peer whose predecessor died takes a message marked final (its sender's view),
   * but does not answer a lookup with its own name until it knows its range: a wrong owner's
   * answer is worse than none.
   */
  knowsItOwns(key: Id): boolean {
    const self = this.ctx.self.id;
    if (key === self || (this.succ.list.length === 0 && !this.succ.lost)) return true;
    const p1 = this.live.pred1;
    // a peer that never had a predecessor yet (just started) trusts the sender's final mark
    if (!p1) return !this.live.predecessorLost;
    if (this.live.predecessorUnsure) return false;
    return !this.live.isSuspect(p1.id) && !this.live.isDead(p1.id) && this.ctx.space.betweenRightClosed(p1.id, key, self);
  }

  /**
   * No successor can be reached (all suspected or gone): what this peer does not own goes on to the
   * nearest peer clockwise it knows otherwise (a finger, one heard from lately, one remembered),
   * as the peer it would rejoin through. Taking the key here would make it a wrong owner.
   */
  private detour(): Route | undefined {
    // a ring of one (no successor ever, or everyone it knew stayed silent) takes everything
    if (this.succ.list.length === 0 && !this.succ.lost) return undefined;
    const via = this.succ.candidates().find((c) => !this.live.isSuspect(c.id) && !this.succ.has(c.id));
    return via ? { accept: false, to: via, final: false, second: false, finger: true } : undefined;
  }

  /**
   * Where a message the sender marked `final` goes: it is taken here unless this peer knows its
   * first predecessor and the key is not in its range (a forged or stale mark must not plant a
   * file at a peer that does not own the key). Then it goes back to that predecessor, marked
   * final again, as the sender went round it: sent on clockwise it would come back here, round
   * and round, while the sender and this peer disagree (the sender skipped a predecessor that
   * just died; this peer has not noticed yet). If that predecessor cannot be reached it is
   * suspected, and a predecessor under suspicion no longer speaks against the mark.
   */
  routeFinal(key: Id): Route {
    const p1 = this.live.pred1;
    if (!p1 || this.live.isSuspect(p1.id) || this.live.isDead(p1.id) || this.ownsKey(key)) return { accept: true };
    return { accept: false, to: p1, final: true, second: false, finger: true };
  }

  /**
   * Every successor is suspected and nobody else is known: the key still goes to the first listed
   * successor, which may only have been slow (a send that fails there is dropped, as reroute does).
   * Undefined when no successor is listed at all.
   */
  private throughSuspect(key: Id): Route | undefined {
    const s1 = this.succ.list[0];
    if (!s1) return undefined;
    const final = this.ctx.space.betweenRightClosed(this.ctx.self.id, key, s1.id);
    return { accept: false, to: s1, final, second: false, finger: false };
  }

  /** Where a message for `key` goes: here, or the next hop. */
  route(key: Id): Route {
    if (this.ownsKey(key)) return { accept: true };
    const live = this.routable();
    const s1 = live[0];
    if (!s1) return this.detour() ?? this.throughSuspect(key) ?? { accept: true };
    if (this.ctx.space.betweenRightClosed(this.ctx.self.id, key, s1.id)) return { accept: false, to: s1, final: true, second: false, finger: false };
    const hop = this.strategy.pick(key, live, false);
    return hop ? { accept: false, to: hop.to, final: hop.final, second: hop.second, finger: hop.finger } : { accept: false, to: s1, final: false, second: false, finger: false };
  }

  /**
   * Where a join of `joiner` goes: it is accepted by the peer it belongs right after
   * (joiner in (self, first successor)); hops never pass that peer.
   */
  towardsJoiner(joiner: Id): Route {
    const live = this.routable();
    const s1 = live[0];
    // a peer that lost its ring still takes a joiner: the two find the ring together (the
    // merge probe and the alone peer's asking join their ring of two to it)
    if (!s1 || this.ctx.space.betweenOpen(this.ctx.self.id, joiner, s1.id)) return { accept: true };
    const hop = this.strategy.pick(joiner, live, true);
    return hop ? { accept: false, to: hop.to, final: hop.final, second: hop.second, finger: hop.finger } : { accept: false, to: s1, final: false, second: false, finger: false };
  }

  /**
   * The console's and the web page's question: where a message for `key` goes from here, given
   * whether the hop that brought it marked it final; null when this peer takes it.
   */
  nextHop(key: Id, arrivedFinal = false): { to: Id; final: boolean } | null {
    const r = arrivedFinal ? this.routeFinal(key) : this.route(key);
    return r.accept ? null : { to: r.to.id, final: r.final };
  }
}

/** The specification's walk: always the first successor. */
export const successorWalk: Strategy = {
  name: 'successor',
  pick: () => undefined,
};

/**
 * The report's shortcuts: skip to the second successor when the key lies beyond the first (for
 * a join, when the joiner does not belong between the first and the second).
 */
export function shortcutsFor(ctx: Ctx): Strategy {
  return {
    name: 'shortcuts',
    pick(key, routable, joining) {
      const [s1, s2] = routable;
      if (!s1 || !s2) return undefined;
      const space = ctx.space;
      if (joining) {
        if (space.betweenOpen(s1.id, key, s2.id) || s2.id === key) return undefined;
        return { to: s2, final: false, second: true, finger: false };
      }
      return { to: s2, final: space.betweenRightClosed(s1.id, key, s2.id), second: true, finger: false };
    },
  };
}
