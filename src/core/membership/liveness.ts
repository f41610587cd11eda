// Who is alive: pings to the first two successors (with quick silent re-probes after a miss),
// pongs that count only as answers to pings this peer sent, predecessors learned from pings,
// and verification: a contact named by someone else is trusted only once it answers a ping at
// that address (on a private ring, sealed by the key of the peer it names).
//
// Rules it keeps
// - A pong counts only if it answers an outstanding ping of ours: same sequence number (32
//   random bits), sent to the address it comes from (open ring) or sealed by the peer it names
//   (private ring, `authId`), and naming the contact we pinged.
// - A successor is declared dead after `pingMisses` consecutive unanswered probes: the regular
//   ping, then quick silent re-probes `reprobeMs` apart. One lost datagram never kills a peer
//   (pingMisses >= 2 unless the user asks for 1); init's successors get a start-up grace.
// - Probes go out every `probeMs` = the interval split so that detection stays under 60 s; only
//   one probe per interval prints its lines.
// - A peer declared dead by our probes is a ghost: one ghost a probe interval is pinged again,
//   for GHOST_MEMORY_MS, and one that answers is handed back (a false alarm, a pause, or a
//   partition that healed: two rings that lost sight of each other find each other again this
//   way). A peer that said it departs is no ghost, and a pong does not bring it back either.
// - Every table here is bounded (MAX_* below).
//
// Above the spec's id space (lean liveness, the library's rings): only the first successor is
// pinged each probe, which halves a ring's steady traffic.
// - The second predecessor is learned from the first's pings, which name the pinger's own first
//   predecessor; it is verified once by a ping of ours and stays while the first keeps naming it.
// - The second successor is probed only when doubted: when the first successor's pong no longer
//   lists it (its own probes found it dead, or it left). A doubted peer is declared dead when one
//   probe of ours goes unanswered too (two observers agree); the invariant stays that only this
//   peer's own probes take a successor out of its first two.
// - A peer whose first successor changes tells its first predecessor at once: a pong that
//   repeats the sequence number of that predecessor's last ping (only the pinger knows it, so a
//   blind spoofer cannot forge one), so the news reaches the second predecessor within a re-probe.
import type { Contact } from '../contact.js';
import { sameAddress } from '../contact.js';
import { impersonation, type Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { MessageOf } from '../messages.js';
import type { Origin } from '../origin.js';
import { Predecessors } from './predecessors.js';

/** Detection must stay under 60 s: a probe interval and its re-probes fit this budget. */
const DETECTION_BUDGET_MS = 45_000;
/** A successor that never answered gets this long on top of the misses (peers start one by one). */
export const STARTUP_GRACE_MS = 10_000;
/** Re-probes follow a miss this fast: a quarter of the probe interval, within these bounds. */
const MIN_REPROBE_MS = 100;
const MAX_REPROBE_MS = 2_500;
/** Pings of ours awaiting an answer (probes and verifications). */
const MAX_OUTSTANDING = 512;
/** Contacts being verified at once, and remembered as verified. */
const MAX_VERIFYING = 64;
const MAX_VERIFIED = 1024;
/** Quiet pings a verification sends before giving up. */
const VERIFY_TRIES = 3;
/** Peers declared dead that are looked for again, and for how long. */
const MAX_GHOSTS = 32;
export const GHOST_MEMORY_MS = 10 * 60_000;
/**
 * Lean liveness: a doubted second successor (our first's own probes found it gone) is declared
 * dead when one probe of ours, given half a re-probe's wait, also goes unanswered.
 */
const DOUBT_MISSES = 1;

interface Outstanding {
  target: Contact;
  at: number;
}

interface Probe {
  contact: Contact;
  /** Consecutive probes that went unanswered. */
  misses: number;
  /** A probe is out and unanswered; judged at `deadline`. */
  deadline: number | undefined;
  /** Answered at least once (the start-up grace ends). */
  heard: boolean;
  /** The sequence number of the last answered ping: a later pong repeating it is news from the peer (lean). */
  answeredSeq?: number;
}

interface Verification {
  contact: Contact;
  tries: number;
  deadline: number;
  waiters: ((ok: boolean) => void)[];
}

export interface LivenessHooks {
  /**
   * The first successors, in order (only the first two are pinged). The list is replaced when it
   * changes, never changed in place, so a pong carries it as it is.
   */
  successors(): Contact[];
  /** Successors declared dead by missed probes, all at once. */
  onDead(gone: Contact[]): void;
  /** A pong from the first successor: its successors and predecessor (Chord's stabilize). */
  onFirstSuccessorPong(pong: MessageOf<'pong'>): void;
  /** A peer answered a ping of ours from inside a ring (the ring memory samples these). */
  onHeardInRing(c: Contact): void;
  /** Predecessors changed. */
  onPredecessors(): void;
  /** A peer declared dead answers again. */
  onGhostAlive(c: Contact): void;
  /** A peer pinged us while we know no successor: one to ask for its successors. */
  onPingWhileAlone(from: Contact): void;
}

export function contactKey(c: Contact): string {
  return `${c.id}@${c.host}:${c.port}`;
}

function idOf(c: Contact): Id {
  return c.id;
}

function hasId(list: readonly Contact[], id: Id): boolean {
  for (const c of list) if (c.id === id) return true;
  return false;
}

export class Liveness {
  readonly probeMs: number;
  readonly reprobeMs: number;
  readonly loudEvery: number;
  /** How long a dead or departed peer is remembered (so a stale list cannot bring it back). */
  readonly deadMemoryMs: number;
  private readonly preds: Predecessors;
  private ticks = 0;
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly probes = new Map<Id, Probe>();
  private readonly verifying = new Map<string, Verification>();
  /** inRing: its last pong named successors (a peer still joining names none). */
  private readonly verified = new Map<string, { c: Contact; at: number; inRing: boolean }>();
  /** id -> until when it counts as dead, and whether it said itself that it departs. */
  private readonly dead = new Map<Id, { until: number; departed: boolean }>();
  private readonly ghosts = new Map<Id, { c: Contact; at: number }>();
  private ghostTurn = 0;
  /** id -> until: peers a TCP message could not reach; routing skips them until they answer or the mark expires. */
  private readonly suspects = new Map<Id, number>();
  private readonly graceUntil = new Map<Id, number>();
  /** Contacts that stayed silent when verified: not asked again for a while. */
  private readonly silent = new Map<string, number>();
  private timerAt: number | undefined;
  /** Lean liveness (above the spec's id space): first successor pinged, second only when doubted. */
  readonly lean: boolean;
  /** Second successors our first successor no longer lists: probed until they answer or are declared dead. */
  private readonly doubted = new Map<Id, Contact>();
  /** The first predecessor's last ping (lean): its sequence number carries our news back to it. */
  private lastPred1Ping: { from: Contact; seq: number } | undefined;
  /** The first successor our first predecessor was last told of (lean). */
  private toldFirst: Id | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly hooks: LivenessHooks,
  ) {
    const { pingIntervalMs: interval, pingMisses } = ctx.cfg;
    const reprobeFor = (probe: number) => Math.min(MAX_REPROBE_MS, Math.max(MIN_REPROBE_MS, probe / 4));
    // split a long interval into silent probes until a probe and its re-probes fit the budget
    let every = 1;
    while (interval / every + pingMisses * reprobeFor(interval / every) > DETECTION_BUDGET_MS) every++;
    this.loudEvery = every;
    this.probeMs = interval / every;
    this.reprobeMs = reprobeFor(this.probeMs);
    this.deadMemoryMs = Math.max(10_000, 2 * (pingMisses + 2) * this.probeMs);
    this.preds = new Predecessors(ctx, () => this.probeMs, () => hooks.onPredecessors());
    this.lean = !ctx.space.spec;
  }

  get pred1(): Contact | undefined {
    return this.preds.pred1;
  }
  get pred2(): Contact | undefined {
    return this.preds.pred2;
  }
  /** The first predecessor was lost and no other has taken its place yet. */
  get predecessorLost(): boolean {
    return this.preds.lost;
  }
  /** The first predecessor was lost lately: the one now in its place may not be the nearest yet. */
  get predecessorUnsure(): boolean {
    return this.ctx.now < this.preds.unsureUntil;
  }

  // ---- marks ------------------------------------------------------------------------------

  /** Read only: the probed successors whose last probes went unanswered, and how many in a row. */
  unanswered(): { peer: Id; misses: number }[] {
    return [...this.probes].filter(([, p]) => p.misses > 0).map(([peer, p]) => ({ peer, misses: p.misses }));
  }

  /** Declared dead or departed recently (the memory fades, so a false alarm heals). */
  isDead(id: Id): boolean {
    const d = this.dead.get(id);
    if (d === undefined) return false;
    if (this.ctx.now > d.until) {
      this.dead.delete(id);
      return false;
    }
    return true;
  }
  /** Peers declared dead lately (looked for again), most recent first. */
  lost(): Contact[] {
    return [...this.ghosts.values()].map((g) => g.c).reverse();
  }

  /** Bumped whenever a peer is marked dead or suspect, or such a mark is cleared. */
  marks = 0;

  /** Declared dead by our probes, or `departed` (it said so itself). */
  markDead(c: Contact, departed = false): void {
    this.marks++;    this.dead.set(c.id, { until: this.ctx.now + this.deadMemoryMs, departed });
    this.ghosts.delete(c.id);
    if (!departed) {
      if (this.ghosts.size >= MAX_GHOSTS) this.ghosts.delete(this.ghosts.keys().next().value!);
      this.ghosts.set(c.id, { c, at: this.ctx.now });
    }
    this.probes.delete(c.id);
    this.forgetVerified(c);
    this.preds.forget(c.id);
  }
  /** A peer that proved itself alive (it answered, or it joined again). */
  clearDead(id: Id): void {
    if (this.dead.delete(id)) this.marks++;
    this.ghosts.delete(id);
    // nor is an earlier silence held against it (a ghost probe may have just found its address mute)
    for (const k of this.silent.keys()) if (k.startsWith(`${id}@`)) this.silent.delete(k);
  }
  isSuspect(id: Id): boolean {
    const until = this.suspects.get(id);
    if (until === undefined) return false;
    if (this.ctx.now > until) {
      this.suspects.delete(id);
      return false;
    }
    return true;
  }
  suspect(id: Id): void {
    if (this.suspects.size >= MAX_OUTSTANDING) this.suspects.clear();
    if (!this.suspects.has(id)) this.marks++;
    this.suspects.set(id, this.ctx.now + (this.ctx.cfg.pingMisses + 1) * this.probeMs);
  }
  /** init's successors may not have started yet. */
  grace(c: Contact): void {
    this.graceUntil.set(c.id, this.ctx.now + STARTUP_GRACE_MS + this.ctx.cfg.pingMisses * this.probeMs);
  }

  isVerified(c: Contact): boolean {
    const v = this.verified.get(contactKey(c));
    return v !== undefined && this.ctx.now - v.at <= this.deadMemoryMs;
  }
  private markVerified(c: Contact, inRing: boolean, k = contactKey(c)): void {
    this.verified.delete(k);
    if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(k, { c, at: this.ctx.now, inRing });
  }
  /** Peers that answered a ping of ours lately, most recent first (where to turn when every successor failed). */
  recentlyHeard(): Contact[] {
    const out: Contact[] = [];
    for (const { c, at } of this.verified.values()) if (this.ctx.now - at <= this.deadMemoryMs && !this.isDead(c.id)) out.push(c);
    return out.reverse();
  }
  private forgetVerified(c: Contact): void {
    for (const k of [...this.verified.keys()]) if (k.startsWith(`${c.id}@`)) this.verified.delete(k);
  }

  // ---- the probe cycle ----------------------------------------------------------------------

  start(): void {
    this.ctx.setTimer('ping', this.ctx.now);
  }

  onTick(): void {
    const ctx = this.ctx;
    if (ctx.phase !== 'active') return;
    const loud = this.ticks % this.loudEvery === 0;
    this.ticks++;
    const targets = this.targets();
    // (a Map may lose the entry being visited: the loop goes on with the next)
    for (const id of this.probes.keys()) if (!hasId(targets, id)) this.probes.delete(id);
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      let p = this.probes.get(t.id);
      if (!p || !sameAddress(p.contact, t)) {
        p = { contact: t, misses: 0, deadline: undefined, heard: false };
        this.probes.set(t.id, p);
      }
      this.ping(t, i === 0 ? 1 : 2, loud);
      p.deadline ??= ctx.now + this.reprobeMs;
    }
    if (loud) ctx.trace({ kind: 'ping-sent', to: targets.map(idOf) });
    this.probeGhost();
    this.expirePredecessors();
    this.schedule();
    ctx.setTimer('ping', ctx.now + this.probeMs);
  }

  /** Whom each probe pings: the first two successors; lean, the first and a doubted second. */
  private targets(): Contact[] {
    const list = this.hooks.successors();
    const s1 = list[0];
    const s2 = list[1];
    for (const id of this.doubted.keys()) if (id !== s2?.id) this.doubted.delete(id);
    if (!s1) return [];
    if (!s2 || (this.lean && !this.doubted.has(s2.id))) return [s1];
    return [s1, s2];
  }

  /**
   * Lean: our first successor's pong does not list `c`, our second: probe it until it answers or
   * is declared dead (DOUBT_MISSES probes of ours, our first successor's word being the first).
   */
  doubt(c: Contact): void {
    if (!this.lean || this.doubted.has(c.id) || this.hooks.successors()[1]?.id !== c.id) return;
    this.doubted.set(c.id, c);
    if (this.ctx.phase !== 'active') return;
    let p = this.probes.get(c.id);
    if (!p || !sameAddress(p.contact, c)) {
      p = { contact: c, misses: 0, deadline: undefined, heard: true };
      this.probes.set(c.id, p);
    }
    this.ping(c, 2, false);
    p.deadline = Math.min(p.deadline ?? Infinity, this.ctx.now + Math.max(MIN_REPROBE_MS / 2, this.reprobeMs / 2));
    this.schedule();
  }

  /**
   * Lean: the first successor changed, so our first predecessor's second did: it is told at once,
   * by a pong that repeats its last ping's sequence number (it accepts that only from us).
   */
  tellFirstPredecessor(): void {
    if (!this.lean || this.ctx.phase !== 'active') return;
    const s1 = this.hooks.successors()[0]?.id;
    const last = this.lastPred1Ping;
    if (s1 === this.toldFirst || !last || this.pred1?.id !== last.from.id) return;
    this.toldFirst = s1;
    this.ctx.send(last.from, this.pongFor(last.seq, false), 'udp');
  }

  private pongFor(seq: number, loud: boolean): MessageOf<'pong'> {
    const from = this.ctx.self;
    const successors = this.hooks.successors();
    const pred = this.pred1;
    return pred ? { type: 'pong', from, seq, loud, successors, pred } : { type: 'pong', from, seq, loud, successors };
  }

  /** Pings the next ghost (oldest first, in turn); one that answers goes back to the successors. */
  private probeGhost(): void {
    const now = this.ctx.now;
    for (const [id, g] of this.ghosts) if (now - g.at > GHOST_MEMORY_MS) this.ghosts.delete(id);
    if (this.ghosts.size === 0) return;
    const list = [...this.ghosts.values()];
    const g = list[this.ghostTurn++ % list.length]!;
    this.verify(g.c, (ok) => {
      // a new process at its address, still joining, is not the peer we lost: its join will do;
      // but a peer that is alone takes any ghost that answers (it may be alone too)
      if (!ok || !this.ghosts.has(g.c.id)) return;
      if (!this.verified.get(contactKey(g.c))?.inRing && this.hooks.successors().length > 0) return;
      this.ghosts.delete(g.c.id);
      this.hooks.onGhostAlive(g.c);
    });
  }

  private ping(to: Contact, role: 0 | 1 | 2, loud: boolean): void {
    const seq = this.ctx.nonce();
    this.remember(seq, to);
    // lean: the first successor learns its second predecessor from us (our first)
    const pred = this.lean && role === 1 ? this.pred1 : undefined;
    const from = this.ctx.self;
    this.ctx.send(to, pred && pred.id !== to.id ? { type: 'ping', from, seq, role, loud, pred } : { type: 'ping', from, seq, role, loud }, 'udp');
  }

  private remember(seq: number, target: Contact): void {
    if (this.outstanding.size >= MAX_OUTSTANDING) {
      // the oldest go first: they are the least likely to be answered still
      for (const [s] of this.outstanding) {
        this.outstanding.delete(s);
        if (this.outstanding.size < MAX_OUTSTANDING / 2) break;
      }
    }
    this.outstanding.set(seq, { target, at: this.ctx.now });
  }

  /** The liveness timer: judge probes and verifications whose answer is overdue. */
  onDeadline(): void {
    const ctx = this.ctx;
    this.timerAt = undefined;
    const gone: Contact[] = [];
    for (const [id, p] of this.probes) {
      if (p.deadline === undefined || p.deadline > ctx.now) continue;
      p.misses++;
      const graced = (this.graceUntil.get(id) ?? -Infinity) > ctx.now && !p.heard;
      const limit = this.doubted.has(id) ? Math.min(DOUBT_MISSES, ctx.cfg.pingMisses) : ctx.cfg.pingMisses;
      if (p.misses >= limit && !graced) {
        gone.push(p.contact);
        continue;
      }
      // a quick silent re-probe: one lost datagram must not cost a whole interval
      const role = this.hooks.successors()[0]?.id === id ? 1 : 2;
      this.ping(p.contact, role, false);
      p.deadline = ctx.now + (graced ? this.probeMs : this.reprobeMs);
    }
    for (const [k, v] of this.verifying) {
      if (v.deadline > ctx.now) continue;
      if (++v.tries >= VERIFY_TRIES) {
        this.verifying.delete(k);
        if (this.silent.size >= MAX_VERIFYING) this.silent.delete(this.silent.keys().next().value!);
        this.silent.set(k, ctx.now);
        for (const w of v.waiters) w(false);
        continue;
      }
      this.ping(v.contact, 0, false);
      v.deadline = ctx.now + this.verifyWaitMs();
    }
    for (const [seq, o] of this.outstanding) if (ctx.now - o.at > 4 * this.probeMs) this.outstanding.delete(seq);
    if (gone.length) this.hooks.onDead(gone);
    this.schedule();
  }

  private verifyWaitMs(): number {
    return Math.max(this.reprobeMs, 200);
  }

  private schedule(): void {
    let at = Infinity;
    for (const p of this.probes.values()) if (p.deadline !== undefined) at = Math.min(at, p.deadline);
    for (const v of this.verifying.values()) at = Math.min(at, v.deadline);
    if (at === Infinity || at === this.timerAt) return;
    this.timerAt = at;
    this.ctx.setTimer('liveness', at);
  }

  // ---- verification -------------------------------------------------------------------------

  /**
   * Calls back true once `c` has answered a ping at its address (at once if it did recently),
   * false if it stays silent or too many verifications are in flight. May call back synchronously.
   */
  verify(c: Contact, done: (ok: boolean) => void): void {
    if (c.id === this.ctx.self.id) return done(false);
    if (this.isVerified(c)) return done(true);
    const k = contactKey(c);
    const quietAt = this.silent.get(k);
    if (quietAt !== undefined && this.ctx.now - quietAt < 2 * this.probeMs) return done(false);
    const v = this.verifying.get(k);
    if (v) {
      v.waiters.push(done);
      return;
    }
    if (this.verifying.size >= MAX_VERIFYING) return done(false);
    this.verifying.set(k, { contact: c, tries: 0, deadline: this.ctx.now + this.verifyWaitMs(), waiters: [done] });
    this.ping(c, 0, false);
    this.schedule();
  }

  /** Verifies several contacts; calls back once, with those that answered, in the given order. */
  verifyAll(cands: readonly Contact[], done: (alive: Contact[]) => void): void {
    let left = cands.length;
    if (left === 0) return done([]);
    // by position: one contact listed twice is verified once, and both answers are the same
    const results = new Array<boolean>(left).fill(false);
    let called = false;
    for (let i = 0; i < cands.length; i++) {
      this.verify(cands[i]!, (ok) => {
        results[i] = ok;
        left--;
        if (called || left > 0) return;
        called = true;
        done(cands.filter((_, j) => results[j]));
      });
    }
  }

  // ---- pings and pongs ------------------------------------------------------------------------

  onPing(msg: MessageOf<'ping'>, origin: Origin): void {
    const ctx = this.ctx;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'ping', from: msg.from.id, reason: forged });
    if (msg.loud) ctx.trace({ kind: 'ping-received', from: msg.from.id });
    // lean: a peer that said it departs is gone for everyone: a second predecessor it could not
    // tell (it learns of it only from its first's pings) then finds it silent, not alive
    if (this.lean && ctx.phase === 'leaving') return;
    const pong = this.pongFor(msg.seq, msg.loud);
    ctx.send(msg.from, pong, 'udp');
    if (msg.role !== 0 && (ctx.phase === 'active' || ctx.phase === 'leaving')) {
      this.heardFromPredecessor(msg.from, msg.role);
      if (this.lean && msg.role === 1) this.heardFromFirstPredecessor(msg);
    }
    // alone, a ping is news of another peer (one looking for its ghost, say): ask it back
    if (ctx.phase === 'active' && pong.successors.length === 0 && msg.from.id !== ctx.self.id) this.hooks.onPingWhileAlone(msg.from);
  }

  /** A pinger is a predecessor; it is taken only once it has answered a ping of ours itself. */
  private heardFromPredecessor(from: Contact, role: 1 | 2): void {
    if (from.id === this.ctx.self.id || this.isDead(from.id)) return;
    this.preds.heard(from.id);
    // lean: the predecessor it already is, at the same address, answered a ping of ours when it was taken
    const cur = role === 1 ? this.pred1 : this.pred2;
    if ((this.lean && cur?.id === from.id && sameAddress(cur, from)) || this.isVerified(from)) return this.preds.take(from, role);
    this.verify(from, (ok) => ok && this.preds.take(from, role));
  }

  /**
   * Lean: a ping from our first predecessor names its own first predecessor, our second. It is
   * taken once it has answered a ping of ours, and kept while the first keeps naming it.
   */
  private heardFromFirstPredecessor(msg: MessageOf<'ping'>): void {
    if (this.pred1?.id !== msg.from.id) return;
    if (this.lastPred1Ping) {
      // one record, kept: a ping a probe interval from the first predecessor renews it
      this.lastPred1Ping.from = msg.from;
      this.lastPred1Ping.seq = msg.seq;
    } else this.lastPred1Ping = { from: msg.from, seq: msg.seq };
    // our pong to this ping tells it our first successor as it is now
    this.toldFirst = this.hooks.successors()[0]?.id;
    const q = msg.pred;
    if (!q || q.id === this.ctx.self.id || q.id === msg.from.id || this.isDead(q.id)) return;
    this.preds.heard(q.id);
    const cur = this.pred2;
    if (cur && cur.id === q.id && sameAddress(cur, q)) return;
    this.verify(q, (ok) => ok && this.pred1?.id === msg.from.id && this.preds.take(q, 2));
  }

  /** Whether a pong answers a ping of ours: known sequence number, from the peer and place we pinged. */
  private answers(msg: MessageOf<'pong'>, origin: Origin): Outstanding | undefined {
    const o = this.outstanding.get(msg.seq);
    if (!o || o.target.id !== msg.from.id || !sameAddress(o.target, msg.from)) return undefined;
    if (this.ctx.cfg.secure ? origin.authId !== o.target.id : !sameAddress(normalize(origin.src), o.target)) return undefined;
    return o;
  }

  onPong(msg: MessageOf<'pong'>, origin: Origin): void {
    const ctx = this.ctx;
    const o = this.answers(msg, origin);
    if (!o) {
      if (this.isNews(msg, origin)) return this.hooks.onFirstSuccessorPong(msg);
      return ctx.note(`Dropped a pong that answers no ping of ours (from ${origin.src.host}:${origin.src.port})`, 'debug');
    }
    this.outstanding.delete(msg.seq);
    const c = o.target;
    const key = contactKey(c);
    this.markVerified(c, msg.successors.length > 0, key);
    if (msg.successors.length > 0) this.hooks.onHeardInRing(c);
    this.silent.delete(key);
    this.suspects.delete(c.id);
    // a peer that said it departs may answer while it finishes leaving: it stays gone
    const d = this.dead.get(c.id);
    if (d && !d.departed) {
      this.dead.delete(c.id);
      ctx.note(`Peer ${ctx.fmt(c.id)} answers again; it was declared dead by mistake`, 'debug');
    }
    const v = this.verifying.get(key);
    if (v) {
      this.verifying.delete(key);
      for (const w of v.waiters) w(true);
    }
    const p = this.probes.get(c.id);
    if (!p || !sameAddress(p.contact, c)) return;
    p.misses = 0;
    p.deadline = undefined;
    p.heard = true;
    p.answeredSeq = msg.seq;
    this.doubted.delete(c.id);
    this.graceUntil.delete(c.id);
    if (msg.loud) ctx.trace({ kind: 'pong-received', from: c.id });
    if (this.hooks.successors()[0]?.id === c.id) this.hooks.onFirstSuccessorPong(msg);
  }

  /** Lean: our first successor's news, a pong repeating the sequence number of our last answered ping to it. */
  private isNews(msg: MessageOf<'pong'>, origin: Origin): boolean {
    const s1 = this.hooks.successors()[0];
    const p = s1 && s1.id === msg.from.id ? this.probes.get(s1.id) : undefined;
    if (!this.lean || !p || p.answeredSeq !== msg.seq || !sameAddress(p.contact, msg.from)) return false;
    return this.ctx.cfg.secure ? origin.authId === s1!.id : sameAddress(normalize(origin.src), s1!);
  }

  private expirePredecessors(): void {
    this.preds.expire();
  }

  /** A peer that left: forget it as a predecessor at once (it said so itself). */
  forgetPredecessor(id: Id): void {
    this.preds.forget(id);
  }
  /** The acceptor of our join is our predecessor until pings say otherwise. */
  setPredecessor(c: Contact): void {
    this.preds.set(c);
  }
}

/** IPv4 addresses seen through a dual-stack socket come as ::ffff:a.b.c.d. */
function normalize(a: { host: string; port: number }): { host: string; port: number } {
  return a.host.startsWith('::ffff:') && a.host.includes('.') ? { host: a.host.slice(7), port: a.port } : a;
}
