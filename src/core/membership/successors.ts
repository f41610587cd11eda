// The successor list: the next r peers clockwise, verified, kept in ring order. Contacts named
// by other peers enter only after they answer a ping; entries leave only when this peer's own
// probes find them dead or when they say themselves that they depart.
//
// Rules it keeps
// - The list never holds this peer, a peer declared dead, or two entries with one id; it is
//   sorted by clockwise distance and at most r long.
// - The first two entries change only through this peer's own detection, a verified addition
//   (a peer that joined between), or a successor-change / depart from the peers concerned, so
//   every change there is printed here with the specification's lines. Entries from the third
//   on are refreshed silently from the first successor's own list.
// - One message never leaves the list shorter: candidates are merged, never substituted.
// - Never alone while another peer is known: when every successor has failed, the peer asks the
//   nearest peer clockwise that it knows (a finger, a peer heard from lately, one it remembers)
//   for its successors, and says so once. Asking a predecessor instead handed back a list that
//   starts behind us, and stabilization then walked the whole ring backwards a peer a second.
// - Lost, not alone: while it looks for the ring again, the peer owns only the keys it knows are
//   its own (up to its first predecessor) and passes everything else towards the peer it asks.
//   It takes every key (a ring of one) only once every peer it knows has stayed silent.
// - An alone peer keeps asking everyone it knows or remembers, the nearest first, with a pause
//   that doubles after each silent round up to ALONE_MAX_GAP_MS, forever.
import type { Contact } from '../contact.js';
import { sameAddress } from '../contact.js';
import { impersonation, type Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { MessageOf } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Liveness } from './liveness.js';

/** Successor queries in flight, and how long (in probe intervals) one waits for its answer. */
const MAX_QUERIES = 16;
const QUERY_TTL_PROBES = 4;
/** Contacts named to us that did not answer when we checked them, or that pinged us while we were alone: kept to ask when alone. */
const MAX_NAMED = 16;
/** The longest pause between two rounds of an alone peer's asking. */
export const ALONE_MAX_GAP_MS = 60_000;

/**
 * Which lines an adoption prints: both first successors ("My new ..." or, after a join, "My ..."),
 * both only if one of them changed, the second if it changed, or none.
 */
export type Print = 'new' | 'initial' | 'changed' | 'second' | 'none';

export interface SuccessorHooks {
  /** Peers to rejoin through when every successor failed (predecessors, fingers, recent contacts, the ring memory). */
  fallbacks(): Contact[];
  /** Asks `via` who owns `key` in its ring (a lookup sent to it, not routed by us). */
  ask(via: Contact, key: Id, done: (owner: Contact | undefined, successors: readonly Contact[]) => void): void;
  /** The list changed (routing and replication react). */
  onChange(): void;
}

export class Successors {
  list: Contact[] = [];
  private readonly queries = new Map<number, { c: Contact; at: number }>();
  /** Lines owed after a death whose replacement is not known yet (printed once the reply fills the list). */
  private owesLines = false;
  /** Which known peer an alone peer asks next, and when. */
  private turn = 0;
  private nextAskAt = 0;
  private gapMs = 0;
  private readonly named = new Map<Id, Contact>();
  /**
   * Every successor failed and the ring is being looked for: keys beyond the first predecessor
   * are not ours to take. Cleared when a successor is found, or when everyone known stayed silent.
   */
  lost = false;
  /** The 'alone' line was printed for this spell alone. */
  private saidAlone = false;
  /** A lookup of our own place is out (one at a time). */
  private finding = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly hooks: SuccessorHooks,
  ) {}

  get r(): number {
    return this.ctx.cfg.successors;
  }
  ids(): Id[] {
    return this.list.map((c) => c.id);
  }
  has(id: Id): boolean {
    return this.list.some((c) => c.id === id);
  }

  /** init: the successors typed by the user are taken as they are, with the start-up grace. */
  init(given: Contact[]): void {
    this.set(this.merge([], given));
    for (const c of this.list) this.live.grace(c);
  }

  /** Candidates in ring order: no self, no dead, one entry per id (a listed contact wins), at most r. */
  private merge(base: readonly Contact[], cands: readonly Contact[]): Contact[] {
    const byId = new Map<Id, Contact>();
    for (const c of [...base, ...cands]) {
      if (c.id === this.ctx.self.id || this.live.isDead(c.id) || byId.has(c.id)) continue;
      byId.set(c.id, c);
    }
    const self = this.ctx.self.id;
    const space = this.ctx.space;
    return [...byId.values()]
      .sort((a, b) => {
        const da = space.distance(self, a.id);
        const db = space.distance(self, b.id);
        return da < db ? -1 : da > db ? 1 : 0;
      })
      .slice(0, this.r);
  }

  private set(list: Contact[]): boolean {
    const same = list.length === this.list.length && list.every((c, i) => c.id === this.list[i]!.id && sameAddress(c, this.list[i]));
    this.list = list;
    if (list.length > 0) {
      this.lost = false;
      this.saidAlone = false;
      this.gapMs = 0;
    }
    if (!same) {
      this.ctx.version++;
      this.hooks.onChange();
    }
    return !same;
  }

  private print(how: Print, before: readonly Contact[]): void {
    const [s1, s2] = this.list;
    const moved = before[0]?.id !== s1?.id || before[1]?.id !== s2?.id;
    if (how === 'new' || how === 'initial' || (how === 'changed' && moved)) {
      const initial = how === 'initial';
      if (s1) this.ctx.trace({ kind: 'successor', nth: 1, peer: s1.id, initial });
      if (s2) this.ctx.trace({ kind: 'successor', nth: 2, peer: s2.id, initial });
    } else if (how === 'second' && s2 && s2.id !== before[1]?.id) {
      this.ctx.trace({ kind: 'successor', nth: 2, peer: s2.id, initial: false });
    }
  }

  /**
   * Merges the candidates that answer a ping (the listed ones need not) and prints `how`.
   * `then` runs after the merge, whether or not anything changed.
   */
  adopt(cands: readonly Contact[], how: Print, then?: (alive: Contact[]) => void): void {
    const fresh = cands.filter((c) => c.id !== this.ctx.self.id && !this.list.some((l) => l.id === c.id));
    this.live.verifyAll(fresh, (alive) => {
      for (const c of fresh) if (!alive.some((a) => a.id === c.id)) this.heardOf(c);
      const before = this.list;
      this.set(this.merge(this.list, alive));
      this.print(how, before);
      then?.(alive);
    });
  }

  /**
   * A joiner's first list above the specification's space: like adopt(…, 'initial'), but it ends
   * as soon as the first successor is certain (every candidate before the first that answered has
   * answered or failed) and every contact of `wanted` is decided too. A candidate still unanswered
   * then (an acceptor's list may name a peer that left a moment ago, whose check takes the whole
   * verification) joins the list if it answers later, printed as a change of the second
   * successor. In the spec's space a join waits for every candidate, as its lines expect.
   */
  adoptFirst(cands: readonly Contact[], wanted: readonly Contact[], then: (alive: Contact[]) => void): void {
    const self = this.ctx.self.id;
    const space = this.ctx.space;
    const fresh = cands
      .filter((c, i) => c.id !== self && !this.list.some((l) => l.id === c.id) && cands.findIndex((d) => d.id === c.id) === i)
      .sort((a, b) => {
        const da = space.distance(self, a.id);
        const db = space.distance(self, b.id);
        return da < db ? -1 : da > db ? 1 : 0;
      });
    const answers = new Map<Id, boolean>();
    let done = false;
    const settled = (): boolean => {
      if (wanted.some((w) => fresh.some((c) => c.id === w.id) && !answers.has(w.id))) return false;
      for (const c of fresh) {
        const a = answers.get(c.id);
        if (a === undefined) return false;
        if (a) return true;
      }
      return true;
    };
    const check = (c: Contact, ok: boolean) => {
      answers.set(c.id, ok);
      if (!ok) this.heardOf(c);
      if (done) {
        if (!ok) return;
        const before = this.list;
        this.set(this.merge(this.list, [c]));
        return this.print('second', before);
      }
      if (!settled()) return;
      done = true;
      const alive = fresh.filter((f) => answers.get(f.id) === true);
      const before = this.list;
      this.set(this.merge(this.list, alive));
      this.print('initial', before);
      then(alive);
    };
    if (fresh.length === 0) return then([]);
    for (const c of fresh) this.live.verify(c, (ok) => check(c, ok));
  }

  /** Drops a peer (it departed or died) without printing; returns whether it was among the first two. */
  remove(id: Id): boolean {
    const idx = this.list.findIndex((c) => c.id === id);
    if (idx < 0) return false;
    this.set(this.list.filter((c) => c.id !== id));
    return idx <= 1;
  }

  // ---- deaths and repair ----------------------------------------------------------------------

  onDead(gone: Contact[]): void {
    let top = false;
    for (const d of gone) {
      this.ctx.trace({ kind: 'peer-dead', peer: d.id });
      this.live.markDead(d);
      top = this.remove(d.id) || top;
    }
    const next = this.list[0];
    if (!next) return this.rejoin();
    // two successors known: the lines come now; otherwise once the query has filled the list
    if (top && this.list.length >= 2) this.print('new', []);
    else if (top) this.owesLines = true;
    this.query(next);
  }

  /** Asks a live successor for its successors, to refill the list. */
  private query(to: Contact): void {
    // a query unanswered after a few probe intervals is forgotten (its answer may never come)
    for (const [qid, q] of this.queries) if (this.ctx.now - q.at > QUERY_TTL_PROBES * this.live.probeMs) this.queries.delete(qid);
    if ([...this.queries.values()].some((q) => q.c.id === to.id) || this.queries.size >= MAX_QUERIES) return;
    const qid = this.ctx.nonce();
    this.queries.set(qid, { c: to, at: this.ctx.now });
    this.ctx.send(to, { type: 'successor-query', from: this.ctx.self, qid });
  }

  onSuccessorQuery(msg: MessageOf<'successor-query'>, origin: Origin): void {
    const forged = impersonation(this.ctx, msg.from, origin.authId);
    if (forged) return this.ctx.trace({ kind: 'dropped', message: 'successor-query', from: msg.from.id, reason: forged });
    this.ctx.send(msg.from, { type: 'successor-reply', from: this.ctx.self, qid: msg.qid, successors: this.list });
  }

  onSuccessorReply(msg: MessageOf<'successor-reply'>): void {
    const asked = this.queries.get(msg.qid)?.c;
    if (!asked || asked.id !== msg.from.id || !sameAddress(asked, msg.from)) return;
    this.queries.delete(msg.qid);
    const owed = this.owesLines;
    this.owesLines = false;
    this.adopt([asked, ...msg.successors], owed ? 'new' : 'changed');
  }

  /** A successor query could not be delivered: the peer asked is gone too. */
  onQueryFailed(to: Contact): void {
    for (const [qid, q] of this.queries) if (q.c.id === to.id) this.queries.delete(qid);
    if (this.has(to.id)) return this.onDead([to]);
    if (this.list.length > 0) return;
    // a peer we tried to rejoin through is gone as well: try the next one we know
    this.live.markDead(to);
    this.rejoin(true);
  }

  /**
   * Every probe interval: a peer that knows no successor but knows or remembers other peers asks
   * them in turn, nearest clockwise first, for their successors and for the owner of the key just
   * after its own id (the successor it should have in their ring). After a silent round it pauses,
   * twice as long each round up to ALONE_MAX_GAP_MS, and asks again, for as long as it runs.
   */
  tick(): void {
    if (this.list.length > 0 || this.ctx.phase !== 'active' || this.ctx.now < this.nextAskAt) return;
    const known = this.candidates(true);
    if (known.length === 0) return this.declareAlone();
    if (this.turn >= known.length) {
      // a whole round went unanswered: the ring here is this peer alone, until someone answers
      this.turn = 0;
      this.declareAlone();
      this.gapMs = Math.min(ALONE_MAX_GAP_MS, Math.max(this.live.probeMs, 2 * this.gapMs));
      this.nextAskAt = this.ctx.now + this.gapMs;
      return;
    }
    this.owesLines = true;
    this.askAbout(known[this.turn++]!);
  }

  /** Asks `via` for its successors, and who owns the key just after us in its ring. */
  private askAbout(via: Contact): void {
    this.query(via);
    this.hooks.ask(via, this.ctx.space.add(this.ctx.self.id, 1n), (owner, successors) => {
      if (!owner || owner.id === this.ctx.self.id || this.list.length > 0) return;
      const owed = this.owesLines;
      this.owesLines = false;
      this.adopt([owner, ...successors], owed ? 'new' : 'changed');
    });
  }

  /**
   * Asks the ring, through `via`, who owns the key just after our id, and takes that peer if it
   * lies before our first successor (Chord's find_successor, once, instead of many stabilize steps).
   */
  private findOwnPlace(via: Contact): void {
    if (this.finding) return;
    this.finding = true;
    this.hooks.ask(via, this.ctx.space.add(this.ctx.self.id, 1n), (owner) => {
      this.finding = false;
      const s1 = this.list[0];
      if (!owner || !s1 || owner.id === s1.id || owner.id === this.ctx.self.id) return;
      if (this.ctx.space.betweenOpen(this.ctx.self.id, owner.id, s1.id)) this.adopt([owner], 'changed');
    });
  }

  /** Everyone known has stayed silent: this peer is the ring now (it says so once a spell). */
  private declareAlone(): void {
    this.lost = false;
    this.owesLines = false;
    if (this.saidAlone) return;
    this.saidAlone = true;
    this.ctx.trace({ kind: 'alone' });
  }

  /**
   * The peers to look for the ring through, nearest clockwise first: what the hooks know, those
   * named to us, and (when `remembered`) those declared dead, which a healed partition brings back.
   */
  candidates(remembered = false): Contact[] {
    const self = this.ctx.self.id;
    const space = this.ctx.space;
    const byId = new Map<Id, Contact>();
    for (const c of [...this.hooks.fallbacks(), ...this.named.values()]) {
      if (c.id === self || byId.has(c.id) || (!remembered && this.live.isDead(c.id))) continue;
      byId.set(c.id, c);
    }
    return [...byId.values()].sort((a, b) => {
      const da = space.distance(self, a.id);
      const db = space.distance(self, b.id);
      return da < db ? -1 : da > db ? 1 : 0;
    });
  }

  /** A contact worth asking for its successors while this peer is alone (it pinged us). */
  heardOf(c: Contact): void {
    if (c.id === this.ctx.self.id) return;
    this.named.delete(c.id);
    if (this.named.size >= MAX_NAMED) this.named.delete(this.named.keys().next().value!);
    this.named.set(c.id, c);
  }

  /** Every successor failed: look for the ring through the nearest peer clockwise we know, or wait to be found. */
  private rejoin(quiet = false): void {
    const via = this.candidates()[0];
    if (!via) return this.declareAlone();
    if (!quiet && !this.lost) this.ctx.trace({ kind: 'rejoining', via: via.id });
    this.lost = true;
    this.owesLines = true;
    this.turn = 1;
    this.nextAskAt = 0;
    this.askAbout(via);
  }

  // ---- stabilization ----------------------------------------------------------------------------

  /**
   * The first successor's pong: a peer between us and it is adopted as the first successor; a
   * peer between it and our second is adopted as the second; entries from the third on follow
   * its list. Removals from the first two are left to our own probes.
   */
  onFirstSuccessorPong(pong: MessageOf<'pong'>): void {
    const [s1, s2] = this.list;
    if (!s1 || s1.id !== pong.from.id) return;
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const p = pong.pred;
    if (p && p.id !== self && space.betweenOpen(self, p.id, s1.id)) {
      // a peer joined between us and our first successor while we were not told; or our first
      // successor lies far behind its true place (a join taken across a partition), and one step
      // a ping would walk the ring backwards for minutes: the ring itself is asked where we belong
      return this.adopt([p], 'changed', (alive) => alive.length > 0 && this.findOwnPlace(p));
    }
    const c = pong.successors[0];
    if (c && s2 && c.id !== s2.id && c.id !== self && space.betweenOpen(s1.id, c.id, s2.id)) return this.adopt([c], 'second');
    // knowing no second successor, take the first peer our successor names that is not us: its
    // list starts with us when it wrongly counts us as its successor, and the rest shows the way on
    const other = pong.successors.find((x) => x.id !== self);
    if (!s2 && other) return this.adopt([other], 'changed');
    // lean liveness: our second successor is probed only once our first stops listing it
    if (s2 && pong.successors.length > 0 && !listsId(pong.successors, s2.id)) this.live.doubt(s2);
    this.refreshTail(pong.successors);
  }

  /** Entries after the second follow the first successor's list (verified), padded with ours. */
  private refreshTail(theirs: readonly Contact[]): void {
    const [s1, s2] = this.list;
    if (!s1 || !s2 || this.r <= 2 || this.sameTail(theirs, s2)) return;
    const space = this.ctx.space;
    // lean: only as many as our list holds (a longer list sent us verifying its last entry each
    // refresh); the spec's space keeps its traffic as it was, which its sweeps were tuned on
    const beyond = theirs.filter((c) => c.id !== this.ctx.self.id && space.betweenOpen(s2.id, c.id, this.ctx.self.id)).slice(0, this.live.lean ? this.r - 2 : undefined);
    const known = this.list.slice(2);
    if (beyond.length === known.length && beyond.every((c, i) => c.id === known[i]!.id)) return;
    this.live.verifyAll(beyond.filter((c) => !known.some((k) => k.id === c.id)), (alive) => {
      const cur = this.list;
      if (cur[0]?.id !== s1.id || cur[1]?.id !== s2.id) return; // the list moved on meanwhile
      const tail = beyond.filter((c) => known.some((k) => k.id === c.id) || alive.some((a) => a.id === c.id));
      // a list that reaches round to us names every peer up to us: nothing of ours lies beyond it
      const wraps = theirs.some((c) => c.id === this.ctx.self.id);
      const pad = wraps ? [] : known.filter((k) => !tail.some((t) => t.id === k.id) && space.betweenOpen(tail[tail.length - 1]?.id ?? s2.id, k.id, this.ctx.self.id));
      this.set(this.merge([s1, s2], [...tail, ...pad]));
    });
  }

  /**
   * Whether the entries after the second are already those the first successor's list names
   * (refreshTail's test, without its arrays: it runs on every pong of the first successor).
   */
  private sameTail(theirs: readonly Contact[], s2: Contact): boolean {
    const self = this.ctx.self.id;
    const space = this.ctx.space;
    const limit = this.live.lean ? this.r - 2 : Infinity;
    let n = 0;
    for (const c of theirs) {
      if (n >= limit) break;
      if (c.id === self || !space.betweenOpen(s2.id, c.id, self)) continue;
      if (this.list[2 + n]?.id !== c.id) return false;
      n++;
    }
    return n === this.list.length - 2;
  }

  /** successor-change: the first successor adopted a joiner and tells us its new list. */
  onSuccessorChange(msg: MessageOf<'successor-change'>, origin: Origin): void {
    const ctx = this.ctx;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'successor-change', from: msg.from.id, reason: forged });
    const s1 = this.list[0];
    if (s1 && (s1.id !== msg.from.id || !sameAddress(s1, msg.from))) {
      return ctx.note(`Ignored a successor change from Peer ${ctx.fmt(msg.from.id)}: my first successor is Peer ${ctx.fmt(s1.id)}`, 'debug');
    }
    ctx.trace({ kind: 'successor-change-received', from: msg.from.id });
    this.live.clearDead(msg.from.id);
    this.adopt([msg.from, ...msg.successors], 'new');
  }

  /**
   * A peer declared dead answers again: taken back if it is among our next r (a false alarm, or
   * the far side of a partition that healed: the rings merge through it by stabilization).
   */
  onGhostAlive(c: Contact): void {
    if (this.ctx.phase !== 'active') return;
    this.adopt([c], 'changed');
  }

  /** A successor leaves and names its successors; the lines follow once they are verified. */
  onDepart(leaver: Contact, theirs: readonly Contact[]): void {
    const top = this.has(leaver.id) && this.list.findIndex((c) => c.id === leaver.id) <= 1;
    if (!this.has(leaver.id)) return;
    this.remove(leaver.id);
    this.adopt(theirs, top ? 'new' : 'none', () => {
      if (this.list.length === 0) this.rejoin();
    });
  }
}

function listsId(list: readonly Contact[], id: Id): boolean {
  for (const c of list) if (c.id === id) return true;
  return false;
}
