// Graceful departure: the leaver first hands its keys on (storage does that; it stays an active
// member meanwhile), then tells both predecessors its successors, waits for their
// acknowledgements (bounded) and exits; its first successor hears it too, to forget its
// predecessor. The receivers drop the leaver at once.
import type { Contact } from '../contact.js';
import { impersonation, type Ctx } from '../context.js';
import type { MessageOf } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Liveness } from './liveness.js';
import type { Successors } from './successors.js';

export interface DepartHooks {
  /** Hand our keys to the successor before leaving; `done` runs when they are confirmed or time is up. */
  handOver(done: () => void): void;
  exit(code: number, reason: string): void;
}

export class Depart {
  private readonly awaitingAcks = new Set<bigint>();
  private handingOver = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly succ: Successors,
    private readonly hooks: DepartHooks,
  ) {}

  /** A Quit under way: handing keys over, or telling the predecessors. */
  get leaving(): boolean {
    return this.handingOver || this.ctx.phase === 'leaving';
  }

  quit(): void {
    const ctx = this.ctx;
    if (ctx.phase === 'joining') return this.hooks.exit(0, 'quit');
    if (ctx.phase !== 'active' || this.handingOver) return;
    // until it has handed its keys over and said it leaves, the peer stays a full member: it keeps
    // probing, and finds a successor to hand over to after a partition or a false death
    this.handingOver = true;
    this.hooks.handOver(() => this.announce());
  }

  private announce(): void {
    const ctx = this.ctx;
    if (ctx.phase !== 'active' || !this.handingOver) return;
    this.handingOver = false;
    ctx.phase = 'leaving';
    const tell = [this.live.pred1, this.live.pred2].filter(
      (p, i, all): p is Contact => !!p && p.id !== ctx.self.id && all.findIndex((q) => q?.id === p.id) === i,
    );
    ctx.trace({ kind: 'leaving', told: tell.map((p) => p.id) });
    if (tell.length === 0) return this.hooks.exit(0, 'quit');
    const depart: MessageOf<'depart'> = { type: 'depart', from: ctx.self, successors: this.succ.list };
    for (const p of tell) {
      this.awaitingAcks.add(p.id);
      ctx.send(p, depart);
    }
    // the first successor is told too (no ack awaited), so it stops counting us as its predecessor
    const s1 = this.succ.list[0];
    if (s1 && !tell.some((p) => p.id === s1.id)) ctx.send(s1, depart);
    ctx.setTimer('quit', ctx.now + ctx.cfg.quitTimeoutMs);
  }

  onTimeout(): void {
    if (this.ctx.phase !== 'leaving') return;
    this.ctx.trace({ kind: 'handover', outcome: 'departure-unconfirmed' });
    this.hooks.exit(0, 'quit');
  }

  onDepart(msg: MessageOf<'depart'>, origin: Origin): void {
    const ctx = this.ctx;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'depart', from: msg.from.id, reason: forged });
    const l = msg.from;
    ctx.trace({ kind: 'depart-received', peer: l.id });
    ctx.send(l, { type: 'depart-ack', from: ctx.self });
    this.live.markDead(l, true);
    this.live.forgetPredecessor(l.id);
    this.succ.onDepart(l, msg.successors);
  }

  onDepartAck(from: Contact, origin?: Origin): void {
    if (this.ctx.phase !== 'leaving') return;
    if (origin && impersonation(this.ctx, from, origin.authId)) return;
    this.awaitingAcks.delete(from.id);
    if (this.awaitingAcks.size === 0) this.hooks.exit(0, 'quit');
  }
}
