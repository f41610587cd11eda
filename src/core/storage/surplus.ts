// Surplus copies: a ring copy this peer holds though it is no longer among the k peers that
// should hold its key (the owner and its next k - 1 successors) — a peer joined in front of it,
// or it took the key while the ring was cut — is deleted, so disks do not only grow. Only once
// the peers responsible now have each answered, themselves, that they hold these very bytes.
//
// Rules (an attacker's view)
// - Never on anyone's word about who is responsible: the set is this peer's own view of the
//   ring. A key ahead of it must fall inside its successor list, and the owner and the k - 1
//   after it are then successors it pings itself. A key behind it is looked up; the owner's
//   successor list must run into this peer's own predecessors (second, then first, then this
//   peer, nothing else between), every peer of that chain before us must lie between the key and
//   us, and at least k of them must precede us: then we are not among the first k.
// - A copy counts only from a direct holds answer to our own query (an unguessable id, from the
//   peer asked, at its address or with its certificate) naming the same size and SHA-256: a
//   holder of other bytes, a stale answer or an answer in another's name counts for nothing.
//   Our own predecessors in the chain must confirm too, so that even a lying owner met through a
//   lookup leaves at least the copies of the neighbours we know.
// - One silent or unsure answer keeps the copy (a partition keeps everything), and so does any
//   change of our view between the question and the answers, a copy being sent or served, a
//   hand-over under way, and the specification's 8-bit mode (its peers share one folder).
// - A copy found in the data directory (not given by the ring) is the user's: never deleted.
import type { Contact } from '../contact.js';
import { sameAddress } from '../contact.js';
import { sameBytes } from '../bytes.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { Liveness } from '../membership/liveness.js';
import type { Successors } from '../membership/successors.js';
import type { MessageOf } from '../messages.js';
import type { Lookups } from '../routing/lookups.js';
import type { Held, KeyStore } from './key-store.js';

/** Names checked at once (each costs a lookup and up to k + 2 holds queries). */
export const MAX_SURPLUS_CHECKS = 16;
/** A round of checks runs every this many probe intervals. */
export const SURPLUS_EVERY_PROBES = 10;
/** A name found to be ours to hold is judged again after this long (or at once when our view changes). */
const KEEP_RECHECK_MS = 300_000;
/** Names remembered as ours to hold (beyond it they are judged again each round). */
const MAX_KEPT = 100_000;

export interface SurplusHooks {
  /** Ask `to` directly whether it holds `name`; undefined when it did not answer. */
  check(to: Contact, name: string, done: (reply: MessageOf<'holds-reply'> | undefined) => void): void;
  /** The name is being sent or served from here, or a hand-over is under way: not now. */
  busy(name: string): boolean;
}

/** Who must confirm before a copy goes, or why it stays. */
type Plan = { confirmers: Contact[] } | { lookup: true } | { keep: string };

export class Surplus {
  /** name -> the view under which it is being checked. */
  private readonly checking = new Map<string, string>();
  /** name -> until when it counts as ours to hold, and under which view. */
  private readonly kept = new Map<string, { until: number; view: string }>();
  private ticks = 0;
  /**
   * Where the next round starts in the store's order: the name after the last one the previous
   * round took up (found again by name, as names come and go between rounds), or failing that
   * the same place by index.
   */
  private cursor = 0;
  private nextName: string | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly succ: Successors,
    private readonly keys: KeyStore,
    private readonly lookups: Lookups,
    private readonly hooks: SurplusHooks,
  ) {}

  private get k(): number {
    return this.ctx.cfg.replicas;
  }

  /** This peer's view of its neighbourhood: what a confirmation is judged under. */
  private view(): string {
    const { pred1, pred2 } = this.live;
    return [pred2?.id, pred1?.id, ...this.succ.ids()].map((x) => (x === undefined ? '-' : String(x))).join(',');
  }

  /** Every probe interval: now and then, check the ring copies that may be beyond our share. */
  tick(): void {
    const ctx = this.ctx;
    if (ctx.space.spec || !ctx.cfg.collectSurplus || ctx.phase !== 'active') return;
    // half a period after the replication's own sync, so the two do not pile onto one probe
    if (++this.ticks % SURPLUS_EVERY_PROBES !== Math.floor(SURPLUS_EVERY_PROBES / 2)) return;
    if (!this.live.pred1) return;
    const view = this.view();
    // each round starts where the last one stopped, so names whose holders never answer cannot
    // take every slot round after round and keep the names behind them from ever being judged
    const held = this.keys.all();
    const from = this.startOf(held);
    for (let i = 0; i < held.length; i++) {
      if (this.checking.size >= MAX_SURPLUS_CHECKS) break;
      const at = (from + i) % held.length;
      const h = held[at]!;
      this.cursor = at + 1;
      this.nextName = held[this.cursor % held.length]!.name;
      if (!h.ring || !h.sha256 || this.checking.has(h.name) || this.hooks.busy(h.name)) continue;
      const kept = this.kept.get(h.name);
      if (kept && kept.view === view && kept.until > ctx.now) continue;
      const plan = this.plan(h.key);
      if ('keep' in plan) {
        this.keep(h.name, view);
        continue;
      }
      this.checking.set(h.name, view);
      if ('confirmers' in plan) this.confirm(h, plan.confirmers, view);
      else this.lookUp(h, view);
    }
  }

  private startOf(held: readonly { name: string }[]): number {
    if (held.length === 0) return 0;
    const at = this.cursor % held.length;
    if (this.nextName === undefined || held[at]!.name === this.nextName) return at;
    const found = held.findIndex((h) => h.name === this.nextName);
    return found >= 0 ? found : at;
  }

  private keep(name: string, view: string): void {
    if (this.kept.size >= MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(name, { until: this.ctx.now + KEEP_RECHECK_MS, view });
  }

  /** Who holds `key` by our own view: ours (keep), successors of ours (ask them), or behind us (look it up). */
  plan(key: Id): Plan {
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const { pred1, pred2 } = this.live;
    if (!pred1) return { keep: 'no predecessor known' };
    if (space.betweenRightClosed(pred1.id, key, self)) return { keep: 'we own it' };
    const k = this.k;
    // ahead of us: its owner and the next k - 1 must all be in our successor list (which stops before us)
    const list: Contact[] = [];
    for (const s of this.succ.list) {
      if (s.id === self || list.some((x) => x.id === s.id)) break;
      list.push(s);
    }
    let prev = self;
    for (let i = 0; i < list.length; i++) {
      if (space.betweenRightClosed(prev, key, list[i]!.id)) {
        const r = list.slice(i, i + k);
        return r.length === k ? { confirmers: r } : { keep: 'its holders are beyond our successor list' };
      }
      prev = list[i]!.id;
    }
    // behind us: with k > 1 a key of our first predecessor's range is ours to replicate, and
    // beyond it we cannot tell without our second predecessor
    if (k > 1 && (!pred2 || space.betweenRightClosed(pred2.id, key, pred1.id))) return { keep: 'we hold a replica of it' };
    return { lookup: true };
  }

  /** A key behind us: find its owner, and judge the owner's successor chain against our own predecessors. */
  private lookUp(h: Held, view: string): void {
    this.lookups.find(h.key, (r) => {
      if (!r) return this.done(h.name, view, false);
      const confirmers = r.owner.id === this.ctx.self.id ? undefined : this.chain(h.key, [r.owner, ...r.successors]);
      // ours to hold, or not provably someone else's: judged again later
      if (!confirmers) return this.done(h.name, view, false, true);
      if (this.view() !== view) return this.checking.delete(h.name);
      this.confirm(h, confirmers, view);
    });
  }

  /**
   * The peers that must confirm a key behind us, given the chain an owner reported (itself, then
   * its successors): undefined when the chain does not prove that k peers precede us from the key.
   */
  chain(key: Id, reported: readonly Contact[]): Contact[] | undefined {
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const { pred1, pred2 } = this.live;
    if (!pred1) return undefined;
    const ours = [pred2, pred1].filter((p): p is Contact => !!p && p.id !== self && (p.id === key || space.betweenOpen(key, p.id, self)));
    const c: Contact[] = [];
    let at = -1n;
    for (const x of reported) {
      if (x.id === self) break;
      // strictly clockwise from the key towards us, each peer once
      const d = space.distance(key, x.id);
      if (d <= at || !(x.id === key || space.betweenOpen(key, x.id, self))) return undefined;
      at = d;
      c.push(x);
      if (x.id === pred1.id) break;
    }
    // it must end in our own predecessors, at their addresses, with nothing between them
    const tail = c.slice(c.length - ours.length);
    if (ours.length === 0 || tail.length !== ours.length || tail.some((x, i) => x.id !== ours[i]!.id || !sameAddress(x, ours[i]!))) return undefined;
    if (c.length < this.k) return undefined;
    const r = c.slice(0, this.k);
    for (const p of ours) if (!r.some((x) => x.id === p.id)) r.push(p);
    return r;
  }

  /** Asks each confirmer directly; the copy goes only if all of them hold the same bytes and nothing changed meanwhile. */
  private confirm(h: Held, confirmers: readonly Contact[], view: string): void {
    let left = confirmers.length;
    let ok = true;
    for (const c of confirmers) {
      this.hooks.check(c, h.name, (reply) => {
        const rec = reply?.record;
        if (!rec || rec.size !== h.size || !rec.sha256 || !sameBytes(rec.sha256, h.sha256!)) ok = false;
        if (--left > 0) return;
        this.done(h.name, view, ok);
      });
    }
  }

  /** A check ended: the copy goes if it was confirmed and our view is still the one it was judged under. */
  private done(name: string, view: string, confirmed: boolean, keep = false): void {
    const ctx = this.ctx;
    if (this.checking.get(name) !== view) return;
    this.checking.delete(name);
    if (keep) this.keep(name, view);
    // a silent or different holder: asked again at a later round
    if (!confirmed) return;
    const h = this.keys.get(name);
    if (!h?.ring || ctx.phase !== 'active' || this.view() !== view || this.hooks.busy(name)) return;
    this.keys.delete(name);
    this.kept.delete(name);
    ctx.emit({ kind: 'delete-file', name });
    ctx.note(`Deleted the surplus copy of File ${name}: the peers that hold its key now confirmed theirs`, 'debug');
  }
}
