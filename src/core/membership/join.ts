// Joining: a new peer's request travels to the peer it belongs after, which checks that the
// joiner answers at its address, adopts it as its first successor, answers it with its old
// successors and tells its own first predecessor. The joiner adopts the successors it was
// given once they answer too, and only then counts as in the ring.
//
// A peer still joining answers pings (so it can be checked) but queues the joins, stores and
// requests that reach it: its address may have belonged to a peer that died, and that traffic
// is not its to answer yet. If its join fails it hands them back to the peer it asked.
import type { Contact, Target } from '../contact.js';
import { impersonation, type Ctx } from '../context.js';
import type { MessageOf } from '../messages.js';
import { MAX_HOPS, MAX_SUCCESSORS } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Router } from '../routing/router.js';
import type { Liveness } from './liveness.js';
import type { Successors } from './successors.js';

/** Routed messages (join, store, request) that reach a peer still joining wait, at most this many. */
const MAX_QUEUED_ROUTED = 32;

export type { RoutedMessage } from '../messages.js';
import type { RoutedMessage } from '../messages.js';

export interface JoinHooks {
  /** The join completed: this peer is in the ring (start pinging, replay the queue). */
  onJoined(queued: { msg: RoutedMessage; origin: Origin }[]): void;
  /** Stop with this exit code. */
  exit(code: number, reason: string): void;
  /** A new first successor took over part of our keys' range. */
  onJoinerAdopted(joiner: Contact): void;
}

export class Join {
  /** join: the peer our request went to, where queued messages go back if the join fails. */
  private known: Target | undefined;
  private accepted = false;
  private readonly queued: { msg: RoutedMessage; origin: Origin }[] = [];

  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly succ: Successors,
    private readonly router: Router,
    private readonly hooks: JoinHooks,
  ) {}

  start(known: Target): void {
    const ctx = this.ctx;
    this.known = known;
    ctx.phase = 'joining';
    ctx.note(`Sending join request to ${ctx.nameOf(known)}`, 'debug');
    ctx.send(known, { type: 'join', joiner: ctx.self, hops: 0 });
    ctx.setTimer('join', ctx.now + ctx.cfg.joinTimeoutMs);
  }

  /** While joining, routed traffic waits; returns false when the message was taken here. */
  queue(msg: RoutedMessage, origin: Origin): void {
    if (this.queued.length < MAX_QUEUED_ROUTED) this.queued.push({ msg, origin });
    else this.ctx.note(`Dropped a ${msg.type} that arrived while joining: ${MAX_QUEUED_ROUTED} are already waiting`, 'debug');
  }

  onTimeout(): void {
    if (this.ctx.phase === 'joining') this.fail(`Join failed: no answer from the ring within ${this.ctx.cfg.joinTimeoutMs / 1000} s`, 'join timed out');
  }

  // ---- at the ring's members -------------------------------------------------------------------

  onJoin(msg: MessageOf<'join'>, origin: Origin): void {
    const ctx = this.ctx;
    const j = msg.joiner;
    if (msg.hops > MAX_HOPS) return ctx.note(`Dropped the join request of Peer ${ctx.fmt(j.id)}: too many hops`, 'debug');
    // the first hop comes from the joiner itself, later ones from members relaying it: on a
    // private ring the joiner's proof speaks for it at every hop
    const forged = ctx.origins.problem(msg, origin);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'join', from: j.id, reason: forged });
    const r = this.router.towardsJoiner(j.id);
    const acting = j.id === ctx.self.id || this.succ.has(j.id) || r.accept;
    const refused = acting ? ctx.origins.refuseToAct(msg, origin) : undefined;
    if (refused) return ctx.trace({ kind: 'dropped', message: 'join', from: j.id, reason: refused });
    if (j.id === ctx.self.id || this.succ.has(j.id)) {
      const reason = `Peer ${ctx.fmt(j.id)} is already in the ring`;
      ctx.trace({ kind: 'join-refused', joiner: j.id, reason });
      return ctx.send(j, { type: 'join-reject', from: ctx.self, reason });
    }
    this.route(msg, r);
  }

  /** `r`: where the router sends it now (asked again when not given). */
  private route(msg: MessageOf<'join'>, r = this.router.towardsJoiner(msg.joiner.id)): void {
    if (r.accept) return this.accept(msg);
    this.ctx.trace({ kind: 'forwarded', op: 'join', joiner: msg.joiner.id, to: r.to.id, second: r.second, origin: false, ...(r.finger ? { finger: true } : {}) });
    this.ctx.send(r.to, { ...msg, hops: msg.hops + 1 });
  }

  /** The joiner belongs right after us: check it answers, adopt it, answer it, tell our predecessor. */
  private accept(msg: MessageOf<'join'>): void {
    const ctx = this.ctx;
    const j = msg.joiner;
    this.live.clearDead(j.id);
    // a join is received (and printed) only once the joiner answers at its address: a forged one
    // prints nothing at the specification's level
    this.live.verify(j, (ok) => {
      if (!ok) {
        ctx.note(`Refused the join request of Peer ${ctx.fmt(j.id)}: it does not answer at ${j.host}:${j.port}`, 'debug');
        return ctx.send(j, { type: 'join-reject', from: ctx.self, reason: `Peer ${ctx.fmt(ctx.self.id)} cannot reach you at ${j.host}:${j.port}` });
      }
      if (this.succ.has(j.id)) return ctx.note(`Peer ${ctx.fmt(j.id)} is our successor already; its join request changes nothing`, 'debug');
      // another peer may have joined right here while we checked: the joiner goes on to it
      const first = this.router.routable()[0];
      if (first && !ctx.space.betweenOpen(ctx.self.id, j.id, first.id)) return this.route(msg);
      ctx.trace({ kind: 'join-received', joiner: j.id });
      this.adopt(j);
    });
  }

  private adopt(j: Contact): void {
    const ctx = this.ctx;
    const old = [...this.succ.list];
    this.succ.adopt([j], 'changed', (alive) => {
      if (!alive.some((a) => a.id === j.id)) return;
      // with fewer than r successors to give (we were alone, or nearly), our predecessors and the
      // peers we lost lately too: the joiner keeps the closest that answer, asks the others when
      // alone, and must not be left knowing only us if we leave
      const more = old.length < this.succ.r ? [this.live.pred1, this.live.pred2, ...this.live.lost()] : [];
      const extra = more.filter((p, i): p is Contact => !!p && p.id !== j.id && p.id !== ctx.self.id && !old.some((o) => o.id === p.id) && more.findIndex((q) => q?.id === p.id) === i);
      const given = [...old, ...extra].slice(0, Math.max(this.succ.r, 2) + 2).slice(0, MAX_SUCCESSORS);
      ctx.send(j, { type: 'join-accept', from: ctx.self, successors: given.length ? given : [ctx.self] });
      const p1 = this.live.pred1;
      if (p1 && p1.id !== j.id) ctx.send(p1, { type: 'successor-change', from: ctx.self, successors: this.succ.list });
      this.hooks.onJoinerAdopted(j);
    });
  }

  // ---- at the joiner -----------------------------------------------------------------------------

  onJoinAccept(msg: MessageOf<'join-accept'>, origin: Origin): void {
    const ctx = this.ctx;
    if (ctx.phase !== 'joining' || this.accepted) return;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'join-accept', from: msg.from.id, reason: forged });
    this.accepted = true;
    ctx.cancelTimer('join');
    ctx.trace({ kind: 'join-accepted', by: msg.from.id });
    const cands = [...msg.successors, msg.from];
    const adopted = (alive: Contact[]) => {
      if (alive.some((a) => a.id === msg.from.id)) this.live.setPredecessor(msg.from);
      if (this.succ.list.length === 0) {
        return this.fail(`Join failed: none of the successors Peer ${ctx.fmt(msg.from.id)} named answers`, 'successors unreachable');
      }
      ctx.phase = 'active';
      this.hooks.onJoined(this.queued.splice(0));
    };
    // above the spec's space a silent entry behind the first successor does not hold the join up
    if (this.live.lean) this.succ.adoptFirst(cands, [msg.from], adopted);
    else this.succ.adopt(cands, 'initial', adopted);
  }

  onJoinReject(msg: MessageOf<'join-reject'>, origin: Origin): void {
    if (this.ctx.phase !== 'joining') return;
    const forged = impersonation(this.ctx, msg.from, origin.authId);
    if (forged) return this.ctx.trace({ kind: 'dropped', message: 'join-reject', from: msg.from.id, reason: forged });
    this.fail(`Join request rejected by Peer ${this.ctx.fmt(msg.from.id)}: ${msg.reason}`, 'join rejected');
  }

  /** Our join request itself could not be delivered. */
  onUnreachable(to: Target, error: string, refused = false): void {
    // a definite refusal (another authority, a private ring without --tls) names its own cause
    if (refused) return this.fail(`Join failed: ${error}`, 'not admitted to the ring');
    const who = to.id === undefined ? `nobody answers at ${to.host}:${to.port}` : `${this.ctx.nameOf(to)} cannot be reached at ${to.host}:${to.port}`;
    this.fail(`Join failed: ${who} (${error})`, 'known peer unreachable');
  }

  /** Gives up joining; what others routed to us meanwhile goes back into the ring. */
  private fail(line: string, reason: string): void {
    this.ctx.note(line);
    const back = this.known;
    // routed afresh: a `final` mark was meant for the peer that had this address before us
    for (const { msg } of this.queued.splice(0)) {
      if (!back) continue;
      this.ctx.send(back, msg.type === 'join' ? { ...msg, hops: msg.hops + 1 } : { ...msg, final: false, hops: msg.hops + 1 });
    }
    this.hooks.exit(1, reason);
  }
}
