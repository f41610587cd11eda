// Deletes: the library's delete of a stored name, allowed to its publisher only, and the
// tombstones that keep a copy missed by the delete from coming back.
//
// Rules (an attacker's view)
// - A name's publisher is its first store's origin, recorded by the owner that took the store and
//   carried with every replica and hand-over (KeyInfo.publisher). The store itself was judged at
//   its door: on a private ring its origin proof, on an open ring the copy from the origin's host.
// - A delete goes from the publisher straight to the key's owner, over a connection. On a private
//   ring the connection's certificate must be the publisher's. On an open ring the request must
//   name the publisher's id and port and come from its host, and the owner then asks the
//   publisher's recorded address to confirm (delete-confirm with an unguessable nonce, answered by
//   the request again with it): a sender that forges the publisher's source address never hears
//   the nonce. Anyone else gets `forbidden`; a peer that does not own the key, `not-owner`.
// - The owner drops its copy and tells its replica holders (key-delete, naming the bytes). A
//   holder drops a copy only of those very bytes, and only once it has found the key's owner with
//   a lookup of its own and that owner has answered its own holds query that it deleted those
//   bytes: a key-delete in the owner's name, or from a member that does not own the key, does nothing.
// - A deleted name leaves a tombstone (its bytes' SHA-256) for TOMBSTONE_TTL_MS: an offer or a
//   store of those bytes again (a holder that was away during the delete) is refused, and its
//   sender is told to drop them. A put of the name by its publisher, or of other bytes, is a new
//   name and clears the tombstone.
import { sameAddress, sameHost, type Contact } from '../contact.js';
import { impersonation, type Ctx } from '../context.js';
import { sameBytes } from '../bytes.js';
import type { DeleteResult, MessageOf } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Lookups } from '../routing/lookups.js';
import type { Holds } from './holds.js';
import type { Router } from '../routing/router.js';
import type { Held, KeyStore } from './key-store.js';

/** Deletes of ours waiting for the owner's answer, deletes waiting for their publisher's confirmation, key-deletes being checked. */
const MAX_PENDING = 1024;
const MAX_CONFIRMING = 1024;
const MAX_CHECKING = 1024;
/**
 * For this long after a delete, the owner tells its replica holders again every REPEAT_EVERY_TICKS
 * ping intervals (a holder away at the time, or a new one, hears it), the latest REPEAT_NAMES deletes (kept in a list of their own: no scan of every tombstone).
 */
const REPEAT_FOR_MS = 10 * 60_000;
const REPEAT_EVERY_TICKS = 5;
const REPEAT_NAMES = 32;

export class Deletes {
  /** qid -> a delete of ours: its operation, the owner asked, the name. */
  private readonly pending = new Map<number, { op: number; to: Contact; file: string; at: number }>();
  /** name -> key-deletes whose sender we are checking with a lookup. */
  private readonly checking = new Set<string>();
  /** `${asker id}:${qid}` -> an open ring's delete waiting for its publisher's confirmation. */
  private readonly confirming = new Map<string, { file: string; nonce: number; at: number }>();

  constructor(
    private readonly ctx: Ctx,
    private readonly keys: KeyStore,
    private readonly lookups: Lookups,
    private readonly router: Router,
    /** This peer's successors, replica holders first. */
    private readonly successors: () => Contact[],
    private readonly holds: Holds,
  ) {}

  private failed(op: number, code: 'CDHT_ERR_NOT_FOUND' | 'CDHT_ERR_FORBIDDEN' | 'CDHT_ERR_TIMEOUT' | 'CDHT_ERR_BUSY' | 'CDHT_ERR_UNREACHABLE', message: string): void {
    this.ctx.emit({ kind: 'op', op, event: { type: 'failed', code, message } });
  }

  /** The library's delete of `file`, asked here: find the key's owner and ask it. */
  deleteTyped(file: string, op: number): void {
    const ctx = this.ctx;
    this.expire();
    if (this.pending.size >= MAX_PENDING) return this.failed(op, 'CDHT_ERR_BUSY', `${MAX_PENDING} deletes wait for an answer here`);
    this.lookups.find(ctx.space.keyOf(file), (r) => {
      if (!r) return this.failed(op, 'CDHT_ERR_TIMEOUT', `no owner of ${file}'s key answered`);
      if (r.owner.id === ctx.self.id) return this.answered(op, file, this.judge(file, ctx.self, { via: 'tcp', src: ctx.self, authId: ctx.self.id }));
      const qid = ctx.nonce();
      this.pending.set(qid, { op, to: r.owner, file, at: ctx.now });
      ctx.send(r.owner, { type: 'delete-request', from: ctx.self, qid, file, nonce: 0 });
    });
  }

  private ticks = 0;
  /** Names this peer deleted as their owner lately, oldest first (at most REPEAT_NAMES): announced again. */
  private readonly recent: { name: string; sha256: Uint8Array; at: number }[] = [];

  /** Every few ticks, the names this peer deleted lately are announced to its replica holders again. */
  tick(): void {
    if (++this.ticks % REPEAT_EVERY_TICKS !== 0) return;
    const ctx = this.ctx;
    while (this.recent.length && ctx.now - this.recent[0]!.at > REPEAT_FOR_MS) this.recent.shift();
    const holders = this.successors().slice(0, Math.max(0, ctx.cfg.replicas - 1));
    for (const t of this.recent) {
      // still ours to announce: the key may have moved to a peer that joined in front of us
      if (!this.router.route(ctx.space.keyOf(t.name)).accept) continue;
      for (const s of holders) ctx.send(s, { type: 'key-delete', from: ctx.self, file: t.name, sha256: t.sha256 });
    }
  }

  /** The shell gave the operation up. */
  cancel(op: number): void {
    for (const [qid, p] of this.pending) if (p.op === op) this.pending.delete(qid);
  }

  expire(): void {
    for (const [k, c] of this.confirming) if (this.ctx.now - c.at > this.ctx.cfg.requestTimeoutMs) this.confirming.delete(k);
    for (const [qid, p] of this.pending) {
      if (this.ctx.now - p.at <= this.ctx.cfg.requestTimeoutMs) continue;
      this.pending.delete(qid);
      this.failed(p.op, 'CDHT_ERR_TIMEOUT', `Peer ${this.ctx.fmt(p.to.id)} did not answer the delete of ${p.file}`);
    }
  }

  onSendFailed(msg: MessageOf<'delete-request'>, error: string): void {
    const p = this.pending.get(msg.qid);
    if (!p) return;
    this.pending.delete(msg.qid);
    this.failed(p.op, 'CDHT_ERR_UNREACHABLE', `Peer ${this.ctx.fmt(p.to.id)}: ${error}`);
  }

  private answered(op: number, file: string, result: DeleteResult): void {
    if (result === 'deleted') return this.ctx.emit({ kind: 'op', op, event: { type: 'deleted' } });
    if (result === 'forbidden') return this.failed(op, 'CDHT_ERR_FORBIDDEN', `only the publisher of ${file} may delete it`);
    if (result === 'missing') return this.failed(op, 'CDHT_ERR_NOT_FOUND', `the owner of ${file}'s key does not hold it`);
    this.failed(op, 'CDHT_ERR_UNREACHABLE', `the peer asked does not own ${file}'s key (the ring is changing): try again`);
  }

  /** Whether `from`, on the connection `origin`, is the publisher `pub`. */
  private isPublisher(pub: Contact, from: Contact, origin: Origin): boolean {
    if (this.ctx.cfg.secure) return origin.authId !== undefined && origin.authId === pub.id;
    return from.id === pub.id && from.port === pub.port && sameHost(from.host, pub.host) && sameHost(origin.src.host, pub.host);
  }

  /** The owner's decision on a delete of `file` by `from`: the copy held, when `from` may delete it. */
  private decide(file: string, from: Contact, origin: Origin): DeleteResult | Held {
    const key = this.ctx.space.keyOf(file);
    if (!this.router.route(key).accept || !this.router.knowsItOwns(key)) return 'not-owner';
    const held = this.keys.get(file);
    if (!held) return 'missing';
    if (!held.publisher || !this.isPublisher(held.publisher, from, origin)) return 'forbidden';
    return held;
  }

  /** A delete asked here by this very peer: nothing to confirm. */
  private judge(file: string, from: Contact, origin: Origin): DeleteResult {
    const d = this.decide(file, from, origin);
    if (typeof d === 'string') return d;
    this.drop(d, true);
    return 'deleted';
  }

  /** Drops a held copy and buries its name; the owner also tells its replica holders. */
  private drop(held: Held, owner: boolean): void {
    const ctx = this.ctx;
    const sha256 = held.sha256 ?? new Uint8Array(32);
    this.keys.bury(held.name, sha256, ctx.now, held.publisher);
    ctx.emit({ kind: 'delete-file', name: held.name });
    ctx.emit({ kind: 'remember', name: held.name, deleted: { sha256, at: ctx.now } });
    ctx.trace({ kind: 'deleted', file: held.name, by: owner ? 'publisher' : 'owner' });
    if (!owner || !held.sha256) return;
    if (this.recent.length >= REPEAT_NAMES) this.recent.shift();
    this.recent.push({ name: held.name, sha256: held.sha256, at: ctx.now });
    for (const s of this.successors().slice(0, Math.max(0, ctx.cfg.replicas - 1))) {
      ctx.send(s, { type: 'key-delete', from: ctx.self, file: held.name, sha256: held.sha256 });
    }
  }

  onRequest(msg: MessageOf<'delete-request'>, origin: Origin): void {
    const ctx = this.ctx;
    const why = origin.via !== 'tcp' ? 'not over a connection' : ctx.cfg.secure && origin.authId === undefined ? 'no certificate' : ctx.space.nameProblem(msg.file);
    if (why) return ctx.note(`Dropped a delete request from ${origin.src.host}: ${why}`, 'debug');
    // the answer goes to the asker's port on the host the request came from
    const reply = (result: DeleteResult) => ctx.send({ host: origin.src.host, port: msg.from.port }, { type: 'delete-reply', from: ctx.self, qid: msg.qid, file: msg.file, result });
    const d = this.decide(msg.file, msg.from, origin);
    if (d === 'forbidden') ctx.note(`Refused to delete File ${msg.file} for Peer ${ctx.fmt(msg.from.id)}: not its publisher`, 'debug');
    if (typeof d === 'string') return reply(d);
    if (ctx.cfg.secure) {
      this.drop(d, true);
      return reply('deleted');
    }
    const at = `${msg.from.id}:${msg.qid}`;
    if (msg.nonce === 0) {
      // an open ring proves no sender: the publisher's own address must confirm it asked
      if (this.confirming.size >= MAX_CONFIRMING) return ctx.note(`Dropped a delete request of File ${msg.file}: ${MAX_CONFIRMING} wait for confirmation`, 'debug');
      const nonce = ctx.nonce() || 1;
      this.confirming.set(at, { file: msg.file, nonce, at: ctx.now });
      return ctx.send(d.publisher!, { type: 'delete-confirm', from: ctx.self, qid: msg.qid, file: msg.file, nonce });
    }
    const c = this.confirming.get(at);
    if (!c || c.file !== msg.file || c.nonce !== msg.nonce) return ctx.note(`Dropped a delete request of File ${msg.file}: not confirmed by its publisher`, 'debug');
    this.confirming.delete(at);
    this.drop(d, true);
    reply('deleted');
  }

  /** An owner asks whether we asked to delete `file`: we did if a delete of ours to it waits; we say so by asking again with its nonce. */
  onConfirm(msg: MessageOf<'delete-confirm'>): void {
    const p = this.pending.get(msg.qid);
    if (!p || p.file !== msg.file || p.to.id !== msg.from.id || msg.nonce === 0) return;
    this.ctx.send(p.to, { type: 'delete-request', from: this.ctx.self, qid: msg.qid, file: msg.file, nonce: msg.nonce });
  }

  onReply(msg: MessageOf<'delete-reply'>, origin: Origin): void {
    const p = this.pending.get(msg.qid);
    if (!p || p.file !== msg.file || p.to.id !== msg.from.id) return;
    if (impersonation(this.ctx, msg.from, origin.authId)) return;
    this.pending.delete(msg.qid);
    this.answered(p.op, p.file, msg.result);
  }

  /**
   * An owner says it deleted a name we hold a copy of: drop it only once our own lookup finds the
   * sender owning the key and that owner, asked by us, answers that it deleted these very bytes.
   */
  onKeyDelete(msg: MessageOf<'key-delete'>, origin: Origin): void {
    const ctx = this.ctx;
    if (impersonation(ctx, msg.from, origin.authId)) return;
    const held = this.keys.get(msg.file);
    if (!held?.sha256 || !sameBytes(held.sha256, msg.sha256)) return;
    if (this.checking.has(msg.file) || this.checking.size >= MAX_CHECKING) return;
    this.checking.add(msg.file);
    const keep = (why: string) => {
      this.checking.delete(msg.file);
      ctx.note(`Kept File ${msg.file}: Peer ${ctx.fmt(msg.from.id)} asked to drop it, but ${why}`, 'debug');
    };
    this.lookups.find(ctx.space.keyOf(msg.file), (r) => {
      if (!r || r.owner.id !== msg.from.id || !sameAddress(r.owner, msg.from)) return keep('it does not own its key');
      this.holds.check(r.owner, msg.file, (reply) => {
        if (!reply?.deleted || !sameBytes(reply.deleted, msg.sha256)) return keep('its owner did not confirm the delete');
        this.checking.delete(msg.file);
        const now = this.keys.get(msg.file);
        if (now?.sha256 && sameBytes(now.sha256, msg.sha256)) this.drop(now, false);
      });
    });
  }

  /**
   * A copy of `file` with these bytes is offered here again, or (no bytes) stored again by another
   * than its publisher: true when the name was deleted lately (its sender is told to drop any
   * copy of the deleted bytes), so it is refused.
   */
  buried(file: string, sha256: Uint8Array | undefined, from: Contact): boolean {
    const t = this.keys.tombstone(file, this.ctx.now);
    if (!t || (sha256 && !sameBytes(t.sha256, sha256))) return false;
    // a store (no bytes known yet) by the name's publisher is a new put of it: allowed
    if (!sha256 && t.publisher && t.publisher.id === from.id && sameAddress(t.publisher, from)) return false;
    if (from.id !== this.ctx.self.id) this.ctx.send(from, { type: 'key-delete', from: this.ctx.self, file, sha256: t.sha256 });
    return true;
  }
}
