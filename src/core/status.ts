// The operator's doors into one peer: `cdht status` asks for its state, `cdht decommission` asks
// it to leave gracefully. Neither asker is a member, so both are judged as a stranger would be.
//
// Rules (an attacker's view)
// - A status reply carries counts only: no file names, no single file's size, nothing a member's
//   neighbours do not learn from its pongs already (its predecessor and successors). Names would
//   tell a stranger what the ring stores and what to ask for; counts tell an operator what it needs.
// - A reply goes only to the host the query came from (the connection's remote host), at the port
//   the query names: a stranger cannot make a peer send to a third host. It is small and bounded
//   (at most MAX_SUCCESSORS contacts, a few KiB) and at most STATUS_BURST replies go to one host
//   per STATUS_WINDOW_MS, so a query cannot be turned into a flood even towards the asker's host.
// - decommission is accepted on an open ring only from a loopback address (a process on the
//   peer's own host; nothing else about an open ring's sender is proven), and on a private ring
//   only from a connection proven by the peer's own certificate (its id). The ring authority's
//   holder can issue that certificate at will (`cdht ca issue ID`), so "the authority or the peer
//   itself" comes to the same thing without a second kind of credential on the wire.
import { isLoopback, plainHost, type Contact, type Target } from './contact.js';
import type { Ctx } from './context.js';
import { HostWindow } from './host-window.js';
import type { Depart } from './membership/depart.js';
import type { Liveness } from './membership/liveness.js';
import type { Successors } from './membership/successors.js';
import type { MessageOf, StatusPhase } from './messages.js';
import type { Origin } from './origin.js';
import type { KeyStore } from './storage/key-store.js';
import type { Replication } from './storage/replication.js';

/** Replies one host may have per window (a walk of the ring asks each peer once). */
export const STATUS_BURST = 20;
export const STATUS_WINDOW_MS = 1_000;
/** Hosts remembered by the rate limit; beyond this the oldest is forgotten. */
const MAX_RATE_HOSTS = 256;


/** Where an answer goes: the asker's port on the host the query came from (no id: the asker is no member). */
function replyTarget(from: Contact): Target {
  return { host: from.host, port: from.port };
}

export class StatusDesk {
  /** Replies each host had in its current window. */
  private readonly replies = new HostWindow(STATUS_BURST, STATUS_WINDOW_MS, MAX_RATE_HOSTS);

  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly succ: Successors,
    private readonly keys: KeyStore,
    private readonly repl: Replication,
    private readonly depart: Depart,
  ) {}

  /** The phase as an operator names it. */
  phase(): StatusPhase {
    const p = this.ctx.phase;
    if (p === 'leaving' || this.depart.leaving) return 'leaving';
    return p === 'active' ? 'normal' : 'joining';
  }

  /** Why a query from `origin` naming `from` gets no answer; undefined when it may have one. */
  private refusal(from: Contact, origin: Origin): string | undefined {
    if (origin.via !== 'tcp') return 'not over a connection';
    if (plainHost(from.host) !== plainHost(origin.src.host)) return `it names another host (${from.host}) than it came from (${origin.src.host})`;
    if (this.ctx.cfg.secure && origin.authId === undefined) return 'no certificate';
    return undefined;
  }

  onStatusQuery(msg: MessageOf<'status-query'>, origin: Origin): void {
    const ctx = this.ctx;
    const why = this.refusal(msg.from, origin);
    if (why) return ctx.note(`Dropped a status query from ${origin.src.host}: ${why}`, 'debug');
    if (!this.replies.take(origin.src.host, this.ctx.now)) return ctx.note(`Dropped a status query from ${origin.src.host}: more than ${STATUS_BURST} a second`, 'debug');
    const held = this.keys.all();
    const r = this.repl.status();
    const pred = this.live.pred1;
    ctx.send(replyTarget(msg.from), {
      type: 'status-reply',
      from: ctx.self,
      qid: msg.qid,
      bits: ctx.space.bits,
      phase: this.phase(),
      ...(pred ? { pred } : {}),
      successors: this.succ.list.slice(),
      keys: held.length,
      bytes: held.reduce((sum, h) => sum + h.size, 0),
      ...(r.shortOfK !== undefined ? { shortOfK: r.shortOfK } : {}),
      handovers: r.handovers,
    });
  }

  /** Why a decommission from `origin` is refused; undefined when it is the peer's own operator. */
  private decommissionRefusal(origin: Origin): string | undefined {
    if (origin.via !== 'tcp') return 'not over a connection';
    if (this.ctx.cfg.secure) {
      if (origin.authId === this.ctx.self.id) return undefined;
      return `on a private ring only this peer's own certificate (Peer ${this.ctx.fmt(this.ctx.self.id)}) may ask it to leave`;
    }
    if (isLoopback(plainHost(origin.src.host))) return undefined;
    return `on an open ring only a process on this peer's own host (a loopback address) may ask it to leave, not ${origin.src.host}`;
  }

  onDecommission(msg: MessageOf<'decommission'>, origin: Origin): void {
    const ctx = this.ctx;
    const why = this.refusal(msg.from, origin);
    if (why) return ctx.note(`Dropped a decommission request from ${origin.src.host}: ${why}`, 'debug');
    // refusals are answered too (the operator should know why), within the same budget
    if (!this.replies.take(origin.src.host, this.ctx.now)) return ctx.note(`Dropped a decommission request from ${origin.src.host}: more than ${STATUS_BURST} a second`, 'debug');
    const refused = this.decommissionRefusal(origin);
    const reply = (accepted: boolean, reason: string) =>
      ctx.send(replyTarget(msg.from), { type: 'decommission-reply', from: ctx.self, qid: msg.qid, accepted, reason });
    if (refused) {
      ctx.trace({ kind: 'decommission', from: origin.src.host, accepted: false, reason: refused });
      return reply(false, refused);
    }
    if (this.phase() === 'leaving') return reply(true, 'already leaving');
    ctx.trace({ kind: 'decommission', from: origin.src.host, accepted: true });
    // the answer goes first: a joining peer's Quit exits at once
    reply(true, ctx.phase === 'active' ? 'leaving: handing its keys over' : 'leaving: it was still joining');
    this.depart.quit();
  }
}
