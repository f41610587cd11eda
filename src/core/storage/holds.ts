// Holds queries: "do you hold this name, and with what record?", asked directly of a key's
// owner and its replica holders. The library's stat asks them; a put counts its copies with them.
//
// Rules (an attacker's view)
// - The answer tells only what a Request of the name would tell: whether this peer holds it, its
//   size and SHA-256, and this peer's successors (which its pongs tell its neighbours anyway).
//   On a private ring only a connection with this ring's certificate is answered.
// - It goes only to the host the query came from, at the port it names: a query cannot make a
//   peer send to a third host. A peer that advertises a DNS name (cdht-4:7000 in compose.yaml) is
//   answered at the address its connection came from, since the core resolves no names. At most
//   HOLDS_BURST answers go to one host per window.
// - An answer is taken only for a query of ours still waiting, about the same name, from the
//   peer asked (on a private ring, proven by its certificate).
import { MAX_PORT } from '../config.js';
import { sameHost, type Contact, type Target } from '../contact.js';
import { impersonation, type Ctx } from '../context.js';
import { HostWindow } from '../host-window.js';
import type { MessageOf } from '../messages.js';
import type { Origin } from '../origin.js';
import type { KeyStore } from './key-store.js';

/** Answers one host may have per window: a put asks k peers, so a busy writer asks often. */
export const HOLDS_BURST = 512;
const HOLDS_WINDOW_MS = 1_000;
/** Hosts the rate limit remembers; queries of ours waiting for an answer. */
const MAX_RATE_HOSTS = 256;
const MAX_PENDING = 4096;


export class Holds {
  /** qid -> a query of ours: the operation it answers (or the core's own callback), whom we asked, about what, and when. */
  private readonly pending = new Map<number, { op: number; to: Contact; file: string; at: number; done?: (reply: MessageOf<'holds-reply'> | undefined) => void }>();
  private readonly answers = new HostWindow(HOLDS_BURST, HOLDS_WINDOW_MS, MAX_RATE_HOSTS);

  constructor(
    private readonly ctx: Ctx,
    private readonly keys: KeyStore,
    /** This peer's successors, replica holders first. */
    private readonly successors: () => Contact[],
  ) {}

  ask(op: number, to: Contact, file: string): void {
    const ctx = this.ctx;
    this.expire();
    if (this.pending.size >= MAX_PENDING) return ctx.emit({ kind: 'op', op, event: { type: 'failed', code: 'CDHT_ERR_BUSY', message: 'too many holds queries waiting' } });
    if (to.id === ctx.self.id) {
      const record = this.keys.get(file);
      const mine = record ? { name: record.name, size: record.size, ...(record.sha256 ? { sha256: record.sha256 } : {}) } : undefined;
      return ctx.emit({ kind: 'op', op, event: { type: 'holds', from: ctx.self, ...(mine ? { record: mine } : {}), successors: this.successors() } });
    }
    const qid = ctx.nonce();
    this.pending.set(qid, { op, to, file, at: ctx.now });
    ctx.send(to, { type: 'holds-query', from: ctx.self, qid, file });
  }

  /** The core's own question (a holder checking a delete with the owner): `done` gets the answer, or undefined. */
  check(to: Contact, file: string, done: (reply: MessageOf<'holds-reply'> | undefined) => void): void {
    const ctx = this.ctx;
    this.expire();
    if (this.pending.size >= MAX_PENDING) return done(undefined);
    const qid = ctx.nonce();
    this.pending.set(qid, { op: -1, to, file, at: ctx.now, done });
    ctx.send(to, { type: 'holds-query', from: ctx.self, qid, file });
  }

  /** The shell gave the operation up. */
  cancel(op: number): void {
    for (const [qid, p] of this.pending) if (p.op === op) this.pending.delete(qid);
  }

  /** Queries unanswered for longer than the request timeout end as timed out. */
  expire(): void {
    for (const [qid, p] of this.pending) {
      if (this.ctx.now - p.at <= this.ctx.cfg.requestTimeoutMs) continue;
      this.pending.delete(qid);
      if (p.done) {
        p.done(undefined);
        continue;
      }
      this.ctx.emit({ kind: 'op', op: p.op, event: { type: 'failed', code: 'CDHT_ERR_TIMEOUT', message: `Peer ${this.ctx.fmt(p.to.id)} did not answer whether it holds ${p.file}` } });
    }
  }

  /** The query could not be delivered. */
  onSendFailed(msg: MessageOf<'holds-query'>, error: string): void {
    const p = this.pending.get(msg.qid);
    if (!p) return;
    this.pending.delete(msg.qid);
    if (p.done) return p.done(undefined);
    this.ctx.emit({ kind: 'op', op: p.op, event: { type: 'failed', code: 'CDHT_ERR_UNREACHABLE', message: `Peer ${this.ctx.fmt(p.to.id)}: ${error}` } });
  }

  private refusal(from: Contact, origin: Origin): string | undefined {
    if (origin.via !== 'tcp') return 'not over a connection';
    if (from.port === undefined || !Number.isInteger(from.port) || from.port < 1 || from.port > MAX_PORT) return 'no port to answer at';
    if (this.ctx.cfg.secure && origin.authId === undefined) return 'no certificate';
    return undefined;
  }

  onQuery(msg: MessageOf<'holds-query'>, origin: Origin): void {
    const ctx = this.ctx;
    const why = this.refusal(msg.from, origin) ?? ctx.space.nameProblem(msg.file);
    if (why) return ctx.note(`Dropped a holds query from ${origin.src.host}: ${why}`, 'debug');
    if (!this.answers.take(origin.src.host, ctx.now)) return ctx.note(`Dropped a holds query from ${origin.src.host}: more than ${HOLDS_BURST} a second`, 'debug');
    const held = this.keys.get(msg.file);
    const record = held ? { name: held.name, size: held.size, ...(held.sha256 ? { sha256: held.sha256 } : {}) } : undefined;
    // the host it names if that is where it came from, else (a name, or a lie) where it came from
    const host = sameHost(msg.from.host, origin.src.host) ? msg.from.host : origin.src.host;
    const to: Target = { ...(msg.from.id !== undefined ? { id: msg.from.id } : {}), host, port: msg.from.port };
    const deleted = this.keys.tombstone(msg.file, ctx.now)?.sha256;
    ctx.send(to, { type: 'holds-reply', from: ctx.self, qid: msg.qid, file: msg.file, ...(record ? { record } : {}), successors: this.successors(), ...(deleted ? { deleted } : {}) });
  }

  onReply(msg: MessageOf<'holds-reply'>, origin: Origin): void {
    const ctx = this.ctx;
    const p = this.pending.get(msg.qid);
    if (!p || p.file !== msg.file || p.to.id !== msg.from.id) return;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'holds-reply', from: msg.from.id, reason: forged });
    this.pending.delete(msg.qid);
    if (p.done) return p.done(msg);
    ctx.emit({ kind: 'op', op: p.op, event: { type: 'holds', from: msg.from, ...(msg.record ? { record: msg.record } : {}), successors: msg.successors } });
  }
}
