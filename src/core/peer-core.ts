// The cdht protocol of one peer as a state machine: fed events that carry `now`, it
// returns effects (lines, messages, timers, file work). No sockets, clock, disk or console.
//
// Rules it keeps
// - `successors` runs clockwise from this peer, never holds this peer's own id, and never
//   holds an id it has declared dead or seen depart (for `deadMemoryMs` afterwards).
// - A successor is declared dead only after `pingMisses` consecutive unanswered pings
//   (one lost datagram never kills a peer); init's successors, until they first answer, get a
//   start-up grace, since peers of a ring are started one by one.
// - Liveness probes go out every `probeMs` = the ping interval split so that detection
//   takes under 60 s whatever the interval; only one probe per interval prints its lines.
// - Keys: the owner of key k is the first peer clockwise whose id >= k. A peer forwards a
//   routed message (join, store, request) to its first successor, marking it `final`
//   when it knows that successor owns the key.
//
// Theory of operation
// - init: successors come from the command line; pings teach each peer its predecessors
//   (a ping says whether the receiver is the sender's first or second successor).
// - join: the request is forwarded along successors to the peer p with joiner in (p, succ1);
//   p adopts the joiner, answers it with p's old successors, and tells p's first
//   predecessor its new second successor. Pongs carry the responder's successors and first
//   predecessor (Chord's stabilize), so a peer that missed that message still catches up.
// - quit: the leaver tells both predecessors its successors, waits for their acks (bounded),
//   and exits; its first successor hears it too, to forget its predecessor.
//   kill: nothing is said; predecessors declare it dead after missed pings,
//   drop it, and ask their next live successor for its successors to refill the list.
import type { Contact, Target } from './contact.js';
import type { CoreEvent, Effect } from './effects.js';
import type { LineLevel, Trace } from './trace.js';
import type { Id, IdSpace } from './id-space.js';
import type { FileBegin, Message, MessageOf } from './messages.js';
import { MAX_HOPS } from './messages.js';

export interface CoreConfig {
  self: Contact;
  space: IdSpace;
  /** init: the successors given; join: a peer in the ring (its id may be unknown). */
  mode: { kind: 'init'; successors: Contact[] } | { kind: 'join'; known: Target };
  pingIntervalMs: number;
  pingMisses: number;
  /** Forward past the first successor when the second is closer to the key. */
  shortcuts: boolean;
  /** Names this peer's data directory; a store copy is pushed only to a different one. */
  storeId: string;
  successorListLength?: number;
  requestTimeoutMs?: number;
  joinTimeoutMs?: number;
  quitTimeoutMs?: number;
}

export type Phase = 'starting' | 'joining' | 'active' | 'leaving' | 'stopped';

export interface CoreSnapshot {
  id: Id;
  phase: Phase;
  pred1?: Id;
  pred2?: Id;
  successors: Id[];
}

/** Detection must stay under 60 s: (misses + 1) probes of at most this budget. */
const DETECTION_BUDGET_MS = 50_000;
/** A successor that never answered gets this long on top of the misses (peers start one by one). */
const STARTUP_GRACE_MS = 10_000;
/** Routed messages (join, store, request) that reach a peer still joining wait, at most this many. */
const MAX_QUEUED_ROUTED = 32;
/** Peers declared dead that we are checking again because a neighbour still names them. */
const MAX_RECHECKS = 8;
/** Requests a peer can have in flight at once. */
const MAX_PENDING_REQUESTS = 256;
/** Accepted stores waiting for their file copy. */
const MAX_PENDING_STORES = 256;
const STORE_COPY_WAIT_MS = 60_000;

interface Probe {
  seq: number;
  answered: boolean;
  misses: number;
}

type Routed = MessageOf<'join'> | MessageOf<'store'> | MessageOf<'file-request'>;

type Route = { accept: true } | { accept: false; to: Contact; final: boolean; second: boolean };

export class PeerCore {
  readonly self: Contact;
  readonly space: IdSpace;
  readonly probeMs: number;
  private readonly cfg: Required<CoreConfig>;
  private readonly loudEvery: number;
  private readonly deadMemoryMs: number;
  private out: Effect[] = [];
  /** The `now` of the event being handled. */
  private clock = 0;
  private phase: Phase = 'starting';
  private successors: Contact[] = [];
  private pred1: Contact | undefined;
  private pred2: Contact | undefined;
  private readonly predHeard = new Map<Id, number>();
  private pingSeq = 0;
  private ticks = 0;
  private readonly probes = new Map<Id, Probe>();
  private readonly dead = new Map<Id, number>();
  /** id -> until: successors a TCP message could not reach; routing skips them until a pong or expiry. */
  private readonly suspects = new Map<Id, number>();
  /** id -> seq of a quiet ping sent to a peer we declared dead but a neighbour still names. */
  private readonly rechecks = new Map<Id, number>();
  /** init's successors, which may not have started yet: they get the start-up grace until first heard. */
  private readonly graceIds = new Set<Id>();
  private nextQid = 1;
  private readonly queries = new Map<number, Contact>();
  private nextRid = 1;
  private readonly requests = new Map<number, { file: string; receiving: boolean }>();
  private readonly stores = new Map<string, { origin: Contact; until: number }>();
  /** Routed messages that arrived while joining (meant for a ring member at this address). */
  private readonly queued: Routed[] = [];
  /** join: the peer our join request went to, where queued messages go if the join fails. */
  private known: (Target) | undefined;
  private readonly awaitingAcks = new Set<Id>();

  constructor(config: CoreConfig) {
    this.cfg = {
      successorListLength: 3,
      requestTimeoutMs: 15_000,
      joinTimeoutMs: 10_000,
      quitTimeoutMs: 3_000,
      ...config,
    };
    this.self = config.self;
    this.space = config.space;
    const interval = config.pingIntervalMs;
    const budget = DETECTION_BUDGET_MS / (config.pingMisses + 1);
    this.loudEvery = Math.max(1, Math.ceil(interval / budget));
    this.probeMs = interval / this.loudEvery;
    this.deadMemoryMs = Math.max(10_000, 2 * (config.pingMisses + 2) * this.probeMs);
  }

  /**
   * Where this peer would send a message for `key` now: null when it takes the key itself. The
   * console's `route` and the web page follow this, hop by hop, so they show the real path.
   */
  nextHop(key: Id): Id | null {
    const r = this.route(key);
    return r.accept ? null : r.to.id;
  }

  snapshot(): CoreSnapshot {
    return {
      id: this.self.id,
      phase: this.phase,
      ...(this.pred1 ? { pred1: this.pred1.id } : {}),
      ...(this.pred2 ? { pred2: this.pred2.id } : {}),
      successors: this.successors.map((c) => c.id),
    };
  }

  /** Changes whenever what a reporter shows changes (cheap: runs around every event). */
  private neighbourKey(): string {
    return `${this.phase} ${this.pred2?.id} ${this.pred1?.id} ${this.successors.map((c) => c.id).join(',')}`;
  }

  /** Feed one event; returns what the shell must do, in order. */
  handle(ev: CoreEvent): Effect[] {
    this.out = [];
    if (this.phase === 'stopped') return this.out;
    this.clock = Math.max(this.clock, ev.now);
    const before = this.neighbourKey();
    this.dispatch(ev);
    if ((this.phase as Phase) !== 'stopped' && this.neighbourKey() !== before) this.emit({ kind: 'neighbours' });
    return this.out;
  }

  private dispatch(ev: CoreEvent): void {
    switch (ev.type) {
      case 'start':
        return this.onStart(ev.now);
      case 'timer':
        return this.onTimer(ev.name, ev.now);
      case 'receive':
        return this.onReceive(ev.msg, ev.now);
      case 'send-failed':
        return this.onSendFailed(ev.to, ev.msg, ev.error, ev.now);
      case 'command':
        return this.onCommand(ev.line, ev.now);
      case 'serve-progress':
        return this.onServeProgress(ev.file, ev.rid, ev.to, ev.phase, ev.error);
      case 'push-progress':
        return this.onPushProgress(ev.file, ev.to, ev.phase, ev.error);
      case 'file-offer':
        return this.onFileOffer(ev.header, ev.now);
      case 'file-done':
        return this.onFileDone(ev.header, ev.ok, ev.error);
    }
  }

  // ---- small helpers -------------------------------------------------------------------

  private fmt(id: Id): string {
    return this.space.format(id);
  }
  /** "Peer 14", or the address when the id is not known (a join through host:port). */
  private nameOf(c: Target): string {
    return c.id === undefined ? `the peer at ${c.host}:${c.port}` : `Peer ${this.space.format(c.id)}`;
  }
  private emit(e: Effect): void {
    this.out.push(e);
  }
  private trace(t: Trace): void {
    this.emit({ kind: 'trace', trace: t });
  }
  /** A line only people read: errors, refusals, debug detail. */
  private note(text: string, level: LineLevel = 'info'): void {
    this.trace({ kind: 'note', level, text });
  }
  private send(to: Target, msg: Message, transport: 'udp' | 'tcp' = 'tcp'): void {
    this.emit({ kind: 'send', to, msg, transport });
  }
  /** Declared dead or departed recently (the memory fades, so a false alarm heals). */
  private isDead(id: Id): boolean {
    const until = this.dead.get(id);
    if (until === undefined) return false;
    if (this.clock > until) {
      this.dead.delete(id);
      return false;
    }
    return true;
  }
  /** Successor list from candidates: no self, no dead, no repeats, bounded length. */
  private cleanList(cands: readonly Contact[]): Contact[] {
    const seen = new Set<Id>();
    const list: Contact[] = [];
    for (const c of cands) {
      if (c.id === this.self.id || seen.has(c.id) || this.isDead(c.id)) continue;
      seen.add(c.id);
      list.push(c);
      if (list.length >= this.cfg.successorListLength) break;
    }
    return list;
  }
  private printSuccessors(prefix: 'My new' | 'My'): void {
    const [s1, s2] = this.successors;
    const initial = prefix === 'My';
    if (s1) this.trace({ kind: 'successor', nth: 1, peer: s1.id, initial });
    if (s2) this.trace({ kind: 'successor', nth: 2, peer: s2.id, initial });
  }
  private exit(code: number, reason: string): void {
    this.emit({ kind: 'exit', code, reason });
    this.phase = 'stopped';
  }

  // ---- start, timers ---------------------------------------------------------------------

  private onStart(now: number): void {
    if (this.phase !== 'starting') return;
    if (this.cfg.mode.kind === 'init') {
      this.successors = this.cleanList(this.cfg.mode.successors);
      for (const s of this.successors) this.graceIds.add(s.id);
      this.phase = 'active';
      this.emit({ kind: 'ready' });
      this.emit({ kind: 'set-timer', name: 'ping', at: now });
      return;
    }
    const known = this.cfg.mode.known;
    this.known = known;
    this.phase = 'joining';
    this.note(`Sending join request to ${this.nameOf(known)}`, 'debug');
    this.send(known, { type: 'join', joiner: this.self, hops: 0 });
    this.emit({ kind: 'set-timer', name: 'join', at: now + this.cfg.joinTimeoutMs });
  }

  private onTimer(name: string, now: number): void {
    if (name === 'ping') return this.onPingTick(now);
    if (name === 'join' && this.phase === 'joining') {
      return this.failJoin(`Join failed: no answer from the ring within ${this.cfg.joinTimeoutMs / 1000} s`, 'join timed out');
    }
    if (name === 'quit' && this.phase === 'leaving') {
      this.note(`Not every predecessor confirmed the departure; leaving anyway`, 'debug');
      return this.exit(0, 'quit');
    }
    if (name.startsWith('request:')) {
      const rid = Number(name.slice('request:'.length));
      const req = this.requests.get(rid);
      if (req && !req.receiving) {
        this.requests.delete(rid);
        this.trace({ kind: 'request-timeout', file: req.file, seconds: this.cfg.requestTimeoutMs / 1000 });
      }
    }
  }

  // ---- pings and failure detection ----------------------------------------------------------

  private onPingTick(now: number): void {
    if (this.phase !== 'active') return;
    const loud = this.ticks % this.loudEvery === 0;
    this.ticks++;
    const failed: Contact[] = [];
    for (const t of this.successors.slice(0, 2)) {
      const p = this.probes.get(t.id);
      if (!p || p.answered) continue;
      p.misses++;
      const graceTicks = this.graceIds.has(t.id) ? Math.ceil(STARTUP_GRACE_MS / this.probeMs) : 0;
      if (p.misses >= this.cfg.pingMisses + graceTicks) failed.push(t);
    }
    if (failed.length) this.declareDead(failed, now);
    const targets = this.successors.slice(0, 2);
    for (const id of [...this.probes.keys()]) if (!targets.some((t) => t.id === id)) this.probes.delete(id);
    targets.forEach((t, i) => {
      const seq = ++this.pingSeq;
      const p = this.probes.get(t.id) ?? { seq, answered: true, misses: 0 };
      p.seq = seq;
      p.answered = false;
      this.probes.set(t.id, p);
      this.send(t, { type: 'ping', from: this.self, seq, role: i === 0 ? 1 : 2, loud }, 'udp');
    });
    if (loud) this.trace({ kind: 'ping-sent', to: targets.map((t) => t.id) });
    this.expirePredecessors(now);
    for (const id of [...this.rechecks.keys()]) if (!this.isDead(id)) this.rechecks.delete(id);
    this.emit({ kind: 'set-timer', name: 'ping', at: now + this.probeMs });
  }

  private expirePredecessors(now: number): void {
    const limit = (this.cfg.pingMisses + 2) * this.probeMs;
    for (const slot of ['pred1', 'pred2'] as const) {
      const p = this[slot];
      if (p && now - (this.predHeard.get(p.id) ?? now) > limit) this[slot] = undefined;
    }
  }

  private onPing(msg: MessageOf<'ping'>, now: number): void {
    const { from } = msg;
    if (msg.loud) this.trace({ kind: 'ping-received', from: from.id });
    this.predHeard.set(from.id, now);
    const slot = msg.role === 1 ? 'pred1' : 'pred2';
    const other = msg.role === 1 ? 'pred2' : 'pred1';
    if (this[other]?.id === from.id) this[other] = undefined;
    // the closest pinger in each role wins; a silent one gives way to whoever pings
    const cur = this[slot];
    const silent = !cur || now - (this.predHeard.get(cur.id) ?? -Infinity) > 2 * this.probeMs;
    if (!cur || cur.id === from.id || silent || this.space.betweenOpen(cur.id, from.id, this.self.id)) this[slot] = from;
    const reply: Message = {
      type: 'pong',
      from: this.self,
      seq: msg.seq,
      loud: msg.loud,
      successors: this.successors,
      ...(this.pred1 ? { pred: this.pred1 } : {}),
    };
    this.send(from, reply, 'udp');
  }

  private onPong(msg: MessageOf<'pong'>): void {
    if (this.rechecks.get(msg.from.id) === msg.seq) {
      // proof of life from a peer we had declared dead: a false alarm (lost pings), so forget it
      this.rechecks.delete(msg.from.id);
      this.dead.delete(msg.from.id);
      return this.note(`Peer ${this.fmt(msg.from.id)} answers again; it was declared dead by mistake`, 'debug');
    }
    const p = this.probes.get(msg.from.id);
    if (!p || this.isDead(msg.from.id)) return;
    if (msg.seq === p.seq) p.answered = true;
    p.misses = 0;
    this.suspects.delete(msg.from.id);
    this.graceIds.delete(msg.from.id);
    if (msg.loud) this.trace({ kind: 'pong-received', from: msg.from.id });
    if (this.successors[0]?.id !== msg.from.id) return;
    const between = msg.pred;
    if (between && this.space.betweenOpen(this.self.id, between.id, msg.from.id)) {
      if (this.isDead(between.id)) return this.recheck(between, 1);
      // a peer sits between us and our first successor (it joined while we were not told)
      this.successors = this.cleanList([between, ...this.successors]);
      return this.printSuccessors('My new');
    }
    this.stabilize(msg.successors);
  }

  /**
   * Learn from the first successor's list. Only additions are taken for the second
   * successor (a peer that joined between them); removals are left to our own pings, so
   * that every departure is seen and reported here as well.
   */
  private stabilize(theirs: Contact[]): void {
    const [s1, s2] = this.successors;
    if (!s1) return;
    const named = theirs[0];
    if (named && s2 && this.isDead(named.id) && this.space.betweenOpen(s1.id, named.id, s2.id)) return this.recheck(named, 2);
    const cands = this.cleanList(theirs);
    const c = cands[0];
    if (!c) return;
    if (!s2 || (c.id !== s2.id && this.space.betweenOpen(s1.id, c.id, s2.id))) {
      this.successors = this.cleanList([s1, ...cands]);
      this.trace({ kind: 'successor', nth: 2, peer: c.id, initial: false });
    } else if (c.id === s2.id) {
      this.successors = this.cleanList([s1, ...cands]);
    }
  }

  /** One quiet ping to a peer we declared dead; its pong lifts the mark (see onPong). */
  private recheck(c: Contact, role: 1 | 2): void {
    if (!this.rechecks.has(c.id) && this.rechecks.size >= MAX_RECHECKS) return;
    const seq = ++this.pingSeq;
    this.rechecks.set(c.id, seq);
    this.send(c, { type: 'ping', from: this.self, seq, role, loud: false }, 'udp');
  }

  private declareDead(gone: Contact[], now: number): void {
    for (const d of gone) {
      this.trace({ kind: 'peer-dead', peer: d.id });
      this.dead.set(d.id, now + this.deadMemoryMs);
      this.probes.delete(d.id);
      if (this.pred1?.id === d.id) this.pred1 = undefined;
      if (this.pred2?.id === d.id) this.pred2 = undefined;
    }
    this.successors = this.cleanList(this.successors);
    const next = this.successors[0];
    if (!next) {
      this.trace({ kind: 'alone' });
      return;
    }
    if ([...this.queries.values()].some((c) => c.id === next.id)) return;
    const qid = this.nextQid++;
    this.queries.set(qid, next);
    this.send(next, { type: 'successor-query', from: this.self, qid });
  }

  private onSuccessorReply(msg: MessageOf<'successor-reply'>): void {
    const asked = this.queries.get(msg.qid);
    if (!asked || asked.id !== msg.from.id) return;
    this.queries.delete(msg.qid);
    if (this.successors[0]?.id !== msg.from.id) return;
    this.successors = this.cleanList([msg.from, ...msg.successors]);
    this.printSuccessors('My new');
  }

  // ---- join ----------------------------------------------------------------------------

  private onJoin(msg: MessageOf<'join'>): void {
    const j = msg.joiner;
    if (msg.hops > MAX_HOPS) return this.note(`Dropped the join request of Peer ${this.fmt(j.id)}: too many hops`, 'debug');
    if (j.id === this.self.id || this.successors.some((s) => s.id === j.id)) {
      this.trace({ kind: 'join-refused', joiner: j.id, reason: `Peer ${this.fmt(j.id)} is already in the ring` });
      return this.send(j, { type: 'join-reject', from: this.self, reason: `Peer ${j.id} is already in the ring` });
    }
    const [s1, s2] = this.routable();
    if (!s1 || this.space.betweenOpen(this.self.id, j.id, s1.id)) return this.acceptJoin(j);
    const viaSecond = this.cfg.shortcuts && !!s2 && !this.space.betweenOpen(s1.id, j.id, s2.id) && s2.id !== j.id;
    this.trace({ kind: 'forwarded', op: 'join', joiner: j.id, to: (viaSecond ? s2! : s1).id, second: viaSecond, origin: false });
    this.send(viaSecond ? s2! : s1, { ...msg, hops: msg.hops + 1 });
  }

  private acceptJoin(j: Contact): void {
    const old = this.routable();
    this.dead.delete(j.id);
    this.trace({ kind: 'join-received', joiner: j.id });
    this.successors = this.cleanList([j, ...old]);
    this.printSuccessors('My new');
    this.send(j, { type: 'join-accept', from: this.self, successors: old.length ? old : [this.self] });
    if (this.pred1 && this.pred1.id !== j.id) {
      this.send(this.pred1, { type: 'successor-change', from: this.self, successors: this.successors });
    }
  }

  private onJoinAccept(msg: MessageOf<'join-accept'>, now: number): void {
    if (this.phase !== 'joining') return;
    this.emit({ kind: 'cancel-timer', name: 'join' });
    this.successors = this.cleanList(msg.successors);
    this.pred1 = msg.from;
    this.predHeard.set(msg.from.id, now);
    this.phase = 'active';
    this.trace({ kind: 'join-accepted', by: msg.from.id });
    this.printSuccessors('My');
    this.emit({ kind: 'ready' });
    this.emit({ kind: 'set-timer', name: 'ping', at: now });
    for (const q of this.queued.splice(0)) this.onReceive(q, now);
  }

  private onJoinReject(msg: MessageOf<'join-reject'>): void {
    if (this.phase !== 'joining') return;
    this.failJoin(`Join request rejected by Peer ${msg.from.id}: ${msg.reason}`, 'join rejected');
  }

  /** Gives up joining; what others routed to us meanwhile goes back into the ring. */
  private failJoin(line: string, reason: string): void {
    this.note(line);
    const back = this.known;
    // routed afresh: a `final` mark was meant for the peer that had this address before us
    for (const q of this.queued.splice(0)) {
      if (back) this.send(back, q.type === 'join' ? { ...q, hops: q.hops + 1 } : { ...q, final: false, hops: q.hops + 1 });
    }
    this.exit(1, reason);
  }

  private onSuccessorChange(msg: MessageOf<'successor-change'>): void {
    const s1 = this.successors[0];
    if (s1 && s1.id !== msg.from.id) {
      return this.note(`Ignored a successor change from Peer ${this.fmt(msg.from.id)}: my first successor is Peer ${this.fmt(s1.id)}`, 'debug');
    }
    this.trace({ kind: 'successor-change-received', from: msg.from.id });
    this.dead.delete(msg.from.id);
    this.successors = this.cleanList([msg.from, ...msg.successors]);
    this.printSuccessors('My new');
  }

  // ---- departure -----------------------------------------------------------------------

  private quit(now: number): void {
    if (this.phase === 'joining') return this.exit(0, 'quit');
    if (this.phase !== 'active') return;
    this.phase = 'leaving';
    const tell = [this.pred1, this.pred2].filter((p, i, all): p is Contact =>
      !!p && p.id !== this.self.id && all.findIndex((q) => q?.id === p.id) === i);
    if (tell.length === 0) {
      this.trace({ kind: 'leaving', told: [] });
      return this.exit(0, 'quit');
    }
    this.trace({ kind: 'leaving', told: tell.map((p) => p.id) });
    for (const p of tell) {
      this.awaitingAcks.add(p.id);
      this.send(p, { type: 'depart', from: this.self, successors: this.successors });
    }
    // the first successor is told too (no ack awaited), so it stops counting us as its predecessor
    const s1 = this.successors[0];
    if (s1 && !tell.some((p) => p.id === s1.id)) this.send(s1, { type: 'depart', from: this.self, successors: this.successors });
    this.emit({ kind: 'set-timer', name: 'quit', at: now + this.cfg.quitTimeoutMs });
  }

  private onDepart(msg: MessageOf<'depart'>, now: number): void {
    const l = msg.from;
    this.trace({ kind: 'depart-received', peer: l.id });
    this.send(l, { type: 'depart-ack', from: this.self });
    const idx = this.successors.findIndex((s) => s.id === l.id);
    this.dead.set(l.id, now + this.deadMemoryMs);
    this.probes.delete(l.id);
    if (this.pred1?.id === l.id) this.pred1 = undefined;
    if (this.pred2?.id === l.id) this.pred2 = undefined;
    if (idx < 0) return;
    this.successors = this.cleanList([...this.successors.slice(0, idx), ...msg.successors]);
    if (idx <= 1) this.printSuccessors('My new');
  }

  private onDepartAck(from: Contact): void {
    if (this.phase !== 'leaving') return;
    this.awaitingAcks.delete(from.id);
    if (this.awaitingAcks.size === 0) this.exit(0, 'quit');
  }

  // ---- routing of store and request ----------------------------------------------------------

  /** Successors that routed messages may go to: not suspected of being gone. */
  private routable(): Contact[] {
    return this.successors.filter((c) => {
      const until = this.suspects.get(c.id);
      if (until !== undefined && this.clock > until) this.suspects.delete(c.id);
      return !this.suspects.has(c.id);
    });
  }

  private ownsKey(key: Id): boolean {
    if (key === this.self.id || this.successors.length === 0) return true;
    return !!this.pred1 && this.space.betweenRightClosed(this.pred1.id, key, this.self.id);
  }

  private route(key: Id): Route {
    if (this.ownsKey(key)) return { accept: true };
    const [s1, s2] = this.routable();
    if (!s1) return { accept: true };
    if (this.space.betweenRightClosed(this.self.id, key, s1.id)) return { accept: false, to: s1, final: true, second: false };
    if (this.cfg.shortcuts && s2) {
      return { accept: false, to: s2, final: this.space.betweenRightClosed(s1.id, key, s2.id), second: true };
    }
    return { accept: false, to: s1, final: false, second: false };
  }

  private onCommand(line: string, now: number): void {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return;
    const verb = words[0]!.toLowerCase();
    if (verb === 'quit') {
      if (words.length > 1) return this.note(`Quit takes no argument (got '${words.slice(1).join(' ')}')`);
      return this.quit(now);
    }
    if (verb !== 'store' && verb !== 'request') {
      return this.note(`Unknown command '${words[0]}': type Store NNNN, Request NNNN or Quit`);
    }
    const name = verb === 'store' ? 'Store' : 'Request';
    if (words.length !== 2) return this.note(`${name} takes one file name of four digits, e.g. ${name} 2012`);
    const file = words[1]!;
    const problem = this.space.nameProblem(file);
    if (problem) return this.note(problem);
    if (this.phase !== 'active') return this.note(`Not in a ring yet: ${name} ${file} ignored`);
    if (verb === 'store') this.storeTyped(file, now);
    else this.requestTyped(file, now);
  }

  private storeTyped(file: string, now: number): void {
    const r = this.route(this.space.keyOf(file));
    if (r.accept) return this.acceptStore(file, this.self, now);
    this.trace({ kind: 'forwarded', op: 'store', file, to: r.to.id, second: r.second, origin: true });
    this.send(r.to, { type: 'store', origin: this.self, file, final: r.final, hops: 1 });
  }

  private onStore(msg: MessageOf<'store'>, now: number): void {
    if (msg.hops > MAX_HOPS) return this.note(`Dropped Store ${msg.file}: too many hops`, 'debug');
    const r: Route = msg.final ? { accept: true } : this.route(this.space.keyOf(msg.file));
    if (r.accept) return this.acceptStore(msg.file, msg.origin, now);
    this.trace({ kind: 'forwarded', op: 'store', file: msg.file, to: r.to.id, second: r.second, origin: false });
    this.send(r.to, { ...msg, final: r.final, hops: msg.hops + 1 });
  }

  private acceptStore(file: string, origin: Contact, now: number): void {
    this.trace({ kind: 'store-accepted', file, origin: origin.id });
    if (origin.id === this.self.id) return;
    for (const [f, s] of this.stores) if (s.until < now) this.stores.delete(f);
    if (this.stores.size < MAX_PENDING_STORES) this.stores.set(file, { origin, until: now + STORE_COPY_WAIT_MS });
    this.send(origin, { type: 'store-accepted', from: this.self, file, storeId: this.cfg.storeId });
  }

  private onStoreAccepted(msg: MessageOf<'store-accepted'>): void {
    this.trace({ kind: 'store-confirmed', file: msg.file, by: msg.from.id });
    if (msg.storeId !== this.cfg.storeId) this.emit({ kind: 'push-file', file: msg.file, to: msg.from });
  }

  private onPushProgress(file: string, to: Contact, phase: 'start' | 'missing' | 'sent' | 'failed', error?: string): void {
    this.trace({ kind: 'copy', file, to: to.id, phase, ...(error ? { error } : {}) });
  }

  private requestTyped(file: string, now: number): void {
    const r = this.route(this.space.keyOf(file));
    if (r.accept) return this.emit({ kind: 'serve-file', file, rid: 0, to: this.self });
    if (this.requests.size >= MAX_PENDING_REQUESTS) return this.note(`Too many requests in flight; Request ${file} ignored`);
    const rid = this.nextRid++;
    this.requests.set(rid, { file, receiving: false });
    this.emit({ kind: 'set-timer', name: `request:${rid}`, at: now + this.cfg.requestTimeoutMs });
    this.trace({ kind: 'forwarded', op: 'request', file, to: r.to.id, second: r.second, origin: true });
    this.send(r.to, { type: 'file-request', requester: this.self, file, rid, final: r.final, hops: 1 });
  }

  private onFileRequest(msg: MessageOf<'file-request'>): void {
    if (msg.hops > MAX_HOPS) return this.note(`Dropped the request for File ${msg.file}: too many hops`, 'debug');
    const r: Route = msg.final ? { accept: true } : this.route(this.space.keyOf(msg.file));
    if (r.accept) return this.emit({ kind: 'serve-file', file: msg.file, rid: msg.rid, to: msg.requester });
    this.trace({ kind: 'forwarded', op: 'request', file: msg.file, to: r.to.id, second: r.second, origin: false });
    this.send(r.to, { ...msg, final: r.final, hops: msg.hops + 1 });
  }

  private onServeProgress(file: string, rid: number, to: Contact, phase: 'start' | 'missing' | 'sent' | 'failed', error?: string): void {
    const local = to.id === this.self.id;
    this.trace({ kind: 'serve', file, to: to.id, local, phase, ...(phase === 'missing' ? { key: this.space.keyOf(file) } : {}), ...(error ? { error } : {}) });
    if (phase === 'missing') {
      if (!local) this.send(to, { type: 'file-missing', from: this.self, file, rid });
    }
  }

  private onFileMissing(msg: MessageOf<'file-missing'>): void {
    const req = this.requests.get(msg.rid);
    if (!req || req.file !== msg.file) return;
    this.requests.delete(msg.rid);
    this.emit({ kind: 'cancel-timer', name: `request:${msg.rid}` });
    this.trace({ kind: 'request-missing', file: msg.file, from: msg.from.id });
  }

  private onFileOffer(h: FileBegin, now: number): void {
    if (h.purpose === 'request') {
      const req = this.requests.get(h.rid);
      if (!req || req.file !== h.file || req.receiving) {
        return this.note(`Refused File ${h.file} from Peer ${this.fmt(h.from.id)}: not requested`, 'debug');
      }
      req.receiving = true;
      this.emit({ kind: 'cancel-timer', name: `request:${h.rid}` });
      this.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: 'request', phase: 'start', size: h.size });
      return this.emit({ kind: 'accept-file', saveAs: `received_${h.file}.pdf` });
    }
    const s = this.stores.get(h.file);
    if (!s || s.origin.id !== h.from.id || s.until < now) {
      return this.note(`Refused a copy of File ${h.file} from Peer ${this.fmt(h.from.id)}: no such store accepted`, 'debug');
    }
    this.stores.delete(h.file);
    this.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: 'store', phase: 'start', size: h.size });
    this.emit({ kind: 'accept-file', saveAs: `${h.file}.pdf` });
  }

  private onFileDone(h: FileBegin, ok: boolean, error?: string): void {
    if (h.purpose === 'request') this.requests.delete(h.rid);
    this.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: h.purpose, phase: ok ? 'done' : 'failed', size: h.size, ...(error ? { error } : {}) });
  }

  // ---- delivery ------------------------------------------------------------------------------

  private onReceive(msg: Message, now: number): void {
    if (this.phase === 'joining') {
      // this address may have belonged to a peer that died: its traffic is not ours to answer yet
      if (msg.type === 'join' || msg.type === 'store' || msg.type === 'file-request') {
        if (this.queued.length < MAX_QUEUED_ROUTED) this.queued.push(msg);
        else this.note(`Dropped a ${msg.type} that arrived while joining: ${MAX_QUEUED_ROUTED} are already waiting`, 'debug');
        return;
      }
      if (msg.type === 'ping' || msg.type === 'successor-query') return;
    }
    switch (msg.type) {
      case 'ping':
        return this.onPing(msg, now);
      case 'pong':
        return this.onPong(msg);
      case 'join':
        return this.onJoin(msg);
      case 'join-accept':
        return this.onJoinAccept(msg, now);
      case 'join-reject':
        return this.onJoinReject(msg);
      case 'successor-change':
        return this.onSuccessorChange(msg);
      case 'depart':
        return this.onDepart(msg, now);
      case 'depart-ack':
        return this.onDepartAck(msg.from);
      case 'successor-query':
        return this.send(msg.from, { type: 'successor-reply', from: this.self, qid: msg.qid, successors: this.successors });
      case 'successor-reply':
        return this.onSuccessorReply(msg);
      case 'store':
        return this.onStore(msg, now);
      case 'store-accepted':
        return this.onStoreAccepted(msg);
      case 'file-request':
        return this.onFileRequest(msg);
      case 'file-missing':
        return this.onFileMissing(msg);
      default:
        return this.note(`Ignored a stray ${msg.type} frame`, 'debug');
    }
  }

  /** A TCP message could not be delivered: routed messages go on to the next live successor. */
  private onSendFailed(target: Target, msg: Message, error: string, now: number): void {
    if (msg.type === 'join' && this.phase === 'joining' && msg.joiner.id === this.self.id && msg.hops === 0) {
      return this.failJoin(`Join failed: ${this.nameOf(target)} cannot be reached at ${target.host}:${target.port} (${error})`, 'known peer unreachable');
    }
    if (target.id === undefined) return this.note(`Could not deliver ${msg.type} to ${this.nameOf(target)}: ${error}`, 'debug');
    const to: Contact = { id: target.id, host: target.host, port: target.port };
    switch (msg.type) {
      case 'join':
        return this.reroute(to, msg, `the join request of Peer ${msg.joiner.id}`);
      case 'store':
        return this.reroute(to, msg, `Store ${msg.file}`);
      case 'file-request':
        return this.reroute(to, msg, `the request for File ${msg.file}`);
      case 'successor-query':
        for (const [qid, c] of this.queries) if (c.id === to.id) this.queries.delete(qid);
        if (this.successors.some((s) => s.id === to.id)) return this.declareDead([to], now);
        return;
      case 'depart':
        return this.onDepartAck(to);
      default:
        return this.note(`Could not deliver ${msg.type} to Peer ${this.fmt(to.id)}: ${error}`, 'debug');
    }
  }

  /** The message goes round again, routed as if the unreachable peer were not there. */
  private reroute(failed: Contact, msg: Routed, what: string): void {
    this.suspects.set(failed.id, this.clock + (this.cfg.pingMisses + 1) * this.probeMs);
    if (this.routable().length === 0) {
      this.note(`Could not forward ${what}: Peer ${this.fmt(failed.id)} cannot be reached and no other successor is known`);
      return;
    }
    this.note(`Peer ${this.fmt(failed.id)} cannot be reached; routing ${what} without it`);
    if (msg.type === 'join') this.onJoin(msg);
    else if (msg.type === 'store') this.onStore({ ...msg, final: false }, this.clock);
    else this.onFileRequest({ ...msg, final: false });
  }
}
