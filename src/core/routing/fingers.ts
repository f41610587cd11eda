// Chord's finger table: entry i is the first peer at or after self + 2^i, refreshed in the
// background by a lookup (fix_fingers), and verified before use. Refreshes are one a probe
// interval while the table is filling or changing; each full sweep that changed nothing doubles
// the pause between two of them, up to MAX_GAP_TICKS, so an idle ring spends almost nothing on
// fingers; a finger found dead or suspect, or a finger that changes, brings the pace back.
// Routing forwards to the closest preceding peer among fingers and successors, or to a finger's
// successor when the key lies just past that finger; a dead finger is skipped, and the
// successor list is always there to fall back on.
import type { Contact } from '../contact.js';
import { sameAddress } from '../contact.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { Liveness } from '../membership/liveness.js';
import type { Successors } from '../membership/successors.js';
import type { Lookups } from './lookups.js';
import type { Hop, Strategy } from './router.js';

interface Finger {
  node: Contact;
  /** The node's first successor, as it said when it answered the lookup. */
  succ: Contact | undefined;
  at: number;
}

/** The longest pause, in probe intervals, between two refreshes of a table that stopped changing. */
export const MAX_GAP_TICKS = 32;

/** A finger's successor names a key's owner outright only this many probe periods after the entry's refresh. */
const FRESH_PROBES = 2;

/** Bit length of a non-negative bigint (without a string of its bits: this runs every probe interval). */
export function bitLength(n: bigint): number {
  if (n < 0x100000000n) return 32 - Math.clz32(Number(n));
  const hex = n.toString(16);
  return (hex.length - 1) * 4 + 32 - Math.clz32(Number.parseInt(hex[0]!, 16));
}

export class Fingers implements Strategy {
  readonly name = 'fingers' as const;
  private readonly table: (Finger | undefined)[];
  /** The next entry to refresh, counting down from the top. */
  private next: number;
  private refreshing = false;
  private ticks = 0;
  /** Probe intervals between two refreshes (1 while the table fills or changes, doubling while it holds). */
  private gap = 1;
  /** Intervals left before the next refresh. */
  private wait = 0;
  /** An entry changed (or was found gone) during this sweep. */
  private changed = false;
  /** Bumped whenever an entry changes: what the shell was told of the members is stale. */
  version = 0;

  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly succ: Successors,
    private readonly lookups: Lookups,
  ) {
    this.table = new Array<Finger | undefined>(ctx.space.bits).fill(undefined);
    this.next = ctx.space.bits - 1;
  }

  private usable(c: Contact | undefined): c is Contact {
    return !!c && c.id !== this.ctx.self.id && !this.live.isDead(c.id) && !this.live.isSuspect(c.id);
  }

  /** Live finger entries (each peer once). */
  entries(): Contact[] {
    const seen = new Set<Id>();
    const out: Contact[] = [];
    for (const f of this.table) {
      if (!f || seen.has(f.node.id) || !this.usable(f.node)) continue;
      seen.add(f.node.id);
      out.push(f.node);
    }
    return out;
  }

  /** Fills the table from known peers (a settled ring): entry i is the first of them at or after self + 2^i. */
  seed(peers: readonly Contact[]): void {
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const sorted = [...peers].filter((c) => c.id !== self).sort((a, b) => {
      const da = space.distance(self, a.id);
      const db = space.distance(self, b.id);
      return da < db ? -1 : da > db ? 1 : 0;
    });
    if (sorted.length === 0) return;
    let j = 0;
    for (let i = 0; i < this.table.length; i++) {
      const d = 1n << BigInt(i);
      while (j < sorted.length && space.distance(self, sorted[j]!.id) < d) j++;
      if (j >= sorted.length) break;
      this.table[i] = { node: sorted[j]!, succ: sorted[j + 1], at: this.ctx.now };
      this.version++;
    }
  }

  /** The lowest entry not already covered by the first successor. */
  private lowest(): number {
    const s1 = this.succ.list[0];
    if (!s1) return this.ctx.space.bits;
    return bitLength(this.ctx.space.distance(this.ctx.self.id, s1.id));
  }

  /** fix_fingers: refresh one entry when its turn comes (called every probe interval). */
  tick(): void {
    const ctx = this.ctx;
    // the first tick is left to pings: successors and predecessors settle before lookups go out
    if (ctx.phase !== 'active' || this.refreshing || this.ticks++ === 0) return;
    if (this.wait > 0) {
      this.wait--;
      return;
    }
    const low = this.lowest();
    // entries below `low` are the first successor itself: drop them, the successor list covers them
    for (let i = 0; i < Math.min(low, this.table.length); i++) this.put(i, undefined);
    if (low >= this.table.length) return;
    if (this.next < low) this.next = this.table.length - 1;
    const i = this.next--;
    if (this.next < low) this.endSweep();
    this.wait = this.gap - 1;
    const start = ctx.space.add(ctx.self.id, 1n << BigInt(i));
    this.refreshing = true;
    this.lookups.find(start, (r, unanswered) => {
      this.refreshing = false;
      const prev = this.table[i];
      // no answer in time (a refresh is upkeep: it does not go again over connections): the entry
      // stays as it was until its next turn; a dead finger is found when routing would use it
      if (!r && unanswered && prev) return;
      if (!r || r.owner.id === ctx.self.id) {
        if (prev) this.disturb();
        this.put(i, undefined);
        return;
      }
      const succ = r.successors[0];
      // verified again even when unchanged: the ping's answer also clears a mark of death here
      this.live.verifyAll(succ ? [r.owner, succ] : [r.owner], (alive) => {
        const node = alive.find((a) => a.id === r.owner.id);
        const next = node ? { node, succ: alive.find((a) => a.id === succ?.id), at: ctx.now } : undefined;
        if (!next || !prev || !sameAddress(prev.node, next.node) || prev.node.id !== next.node.id || prev.succ?.id !== next.succ?.id) this.disturb();
        this.put(i, next);
      });
    }, false, true);
  }

  private put(i: number, f: Finger | undefined): void {
    const prev = this.table[i];
    if (prev?.node.id !== f?.node.id || (prev && f && !sameAddress(prev.node, f.node))) this.version++;
    this.table[i] = f;
  }

  /** A sweep of the whole table ended: a quiet one lengthens the pause, a busy one keeps it short. */
  private endSweep(): void {
    this.gap = this.changed ? 1 : Math.min(MAX_GAP_TICKS, this.gap * 2);
    this.changed = false;
  }

  /** Something in the table is stale: refresh at full pace again. */
  disturb(): void {
    this.changed = true;
    this.gap = 1;
    this.wait = 0;
  }

  // pick runs on every routed hop: no closures, arrays or bigint distances made per call
  pick(key: Id, routable: readonly Contact[], joining: boolean): Hop | undefined {
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    if (!joining) {
      // the key lies between a known peer and its successor: straight to its owner, one hop,
      // marked final (the owner takes it unless its own predecessor says otherwise)
      for (let i = 0; i + 1 < routable.length; i++) {
        if (space.betweenRightClosed(routable[i]!.id, key, routable[i + 1]!.id)) return hopTo(routable, routable[i + 1]!, true);
      }
      // (only from an entry refreshed lately: between two slow refreshes a peer may have joined
      // after the finger, and a request marked final is served where it lands; an older entry's
      // finger is a hop before the key instead, and its own successor list takes it on)
      const maxAge = FRESH_PROBES * this.live.probeMs;
      for (const f of this.table) {
        if (!f?.succ || this.ctx.now - f.at > maxAge) continue;
        if (this.usable(f.node) && this.usable(f.succ) && space.betweenRightClosed(f.node.id, key, f.succ.id)) return hopTo(routable, f.succ, true);
      }
    }
    // otherwise the closest peer before the key (a join stops before the joiner)
    let best: Contact | undefined;
    for (const c of routable) if (this.beats(c, best, key, joining)) best = c;
    for (const f of this.table) {
      if (!f) continue;
      // a finger routing would have used is dead or suspect: the table needs its refreshes again
      if (f.node.id !== self && (this.live.isDead(f.node.id) || this.live.isSuspect(f.node.id))) {
        if (this.gap > 1) this.disturb();
        continue;
      }
      if (this.beats(f.node, best, key, joining)) best = f.node;
    }
    return best ? hopTo(routable, best, false) : undefined;
  }

  /** c is usable, lies before the key, and is farther from us than the best so far. */
  private beats(c: Contact, best: Contact | undefined, key: Id, joining: boolean): boolean {
    if (!this.usable(c)) return false;
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const inside = joining ? space.betweenOpen(self, c.id, key) : space.betweenRightClosed(self, c.id, key);
    return inside && (best === undefined || space.fartherFrom(self, c.id, best.id));
  }

  snapshot(): Id[] {
    return this.entries().map((c) => c.id);
  }
}

/** The line says "my successor", "my second successor", or names the peer. */
function hopTo(routable: readonly Contact[], to: Contact, final: boolean): Hop {
  let idx = -1;
  for (let i = 0; i < routable.length; i++) {
    if (routable[i]!.id === to.id) {
      idx = i;
      break;
    }
  }
  return { to, final, second: idx === 1, finger: idx < 0 || idx > 1 };
}
