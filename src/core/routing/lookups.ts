// Lookups: a routed question "who owns key k?", answered by the owner straight to the asker
// with its successors. Fingers refresh themselves with them; `cdht sim` measures routing with
// them (hops, and whether the true owner answered).
import type { Contact } from '../contact.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { MessageOf } from '../messages.js';
import { MAX_HOPS, MAX_PATH } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Router } from './router.js';

/** Lookups of ours awaiting an answer. */
const MAX_PENDING_LOOKUPS = 1024;

export interface LookupResult {
  key: Id;
  owner: Contact;
  hops: number;
  successors: Contact[];
  /** A traced lookup's path: the peers it crossed, this one first and the owner last. */
  path?: Id[];
}

interface Pending {
  key: Id;
  at: number;
  done: (r: LookupResult | undefined) => void;
}

export class Lookups {
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly ctx: Ctx,
    private readonly router: Router,
  ) {}

  /**
   * Asks the ring who owns `key`; `done` gets the answer, or undefined after the request timeout.
   * traced: the answer names the peers the lookup crossed (the library's lookup; a finger's refresh
   * does without, so its messages stay small).
   */
  find(key: Id, done: (r: LookupResult | undefined) => void, traced = false): void {
    const ctx = this.ctx;
    const r = this.router.route(key);
    if (r.accept) return done({ key, owner: ctx.self, hops: 0, successors: [], ...(traced ? { path: [ctx.self.id] } : {}) });
    if (this.pending.size >= MAX_PENDING_LOOKUPS) this.expire(true);
    const lid = ctx.nonce();
    this.pending.set(lid, { key, at: ctx.now, done });
    ctx.send(r.to, { type: 'lookup', origin: ctx.self, key, lid, final: r.final, hops: 1, ...(traced ? { path: [ctx.self.id] } : {}) });
  }

  /**
   * Asks `via` itself who owns `key` in its ring: the lookup starts there, not at our own next
   * hop (the merge probe and an alone peer look into a ring that may not be ours).
   */
  askVia(via: Contact, key: Id, done: (r: LookupResult | undefined) => void): void {
    const ctx = this.ctx;
    if (this.pending.size >= MAX_PENDING_LOOKUPS) this.expire(true);
    const lid = ctx.nonce();
    this.pending.set(lid, { key, at: ctx.now, done });
    ctx.send(via, { type: 'lookup', origin: ctx.self, key, lid, final: false, hops: 1 });
  }

  onLookup(msg: MessageOf<'lookup'>, origin: Origin): void {
    const ctx = this.ctx;
    if (msg.hops > MAX_HOPS) return ctx.note(`Dropped a lookup of key ${ctx.fmt(msg.key)}: too many hops`, 'debug');
    const forged = ctx.origins.problem(msg, origin);
    if (forged) return ctx.note(`Dropped a lookup of key ${ctx.fmt(msg.key)} claiming to come from Peer ${ctx.fmt(msg.origin.id)}: ${forged}`, 'debug');
    const r = msg.final ? this.router.routeFinal(msg.key) : this.router.route(msg.key);
    if (r.accept) {
      // A peer asking where it belongs (the key just after its own id: the merge probe, a peer
      // that lost its ring or whose first successor lies far behind) gets an answer even from a
      // peer unsure of its range: it only takes a peer that answers its ping and lies before its
      // own first successor, so a stale answer can only bring it closer. Refusing it left a peer
      // whose predecessor no longer pointed at it, and that predecessor, waiting on each other.
      const placing = msg.key === ctx.space.add(msg.origin.id, 1n);
      if (!placing && !this.router.knowsItOwns(msg.key)) return ctx.note(`Left a lookup of key ${ctx.fmt(msg.key)} unanswered: my first predecessor is gone, so my range is not known yet`, 'debug');
      const refused = ctx.origins.refuseToAct(msg, origin);
      if (refused) return ctx.note(`Dropped a lookup of key ${ctx.fmt(msg.key)} claiming to come from Peer ${ctx.fmt(msg.origin.id)}: ${refused}`, 'debug');
      // an open ring answers by datagram: the asker is rarely a neighbour, and a connection kept
      // open for one small answer per refresh is most of a finger table's cost; a private ring
      // seals datagrams only for neighbours, so its answer goes on a link
      const path = msg.path ? [...msg.path, ctx.self.id].slice(0, MAX_PATH) : undefined;
      const reply = { type: 'lookup-reply', from: ctx.self, lid: msg.lid, hops: msg.hops, successors: this.router.routable(), ...(path ? { path } : {}) } as const;
      return ctx.send(msg.origin, reply, ctx.cfg.secure ? 'tcp' : 'udp');
    }
    const path = msg.path && msg.path.length < MAX_PATH ? { path: [...msg.path, ctx.self.id] } : {};
    ctx.send(r.to, { ...msg, final: r.final, hops: msg.hops + 1, ...path });
  }

  onLookupReply(msg: MessageOf<'lookup-reply'>): void {
    const p = this.pending.get(msg.lid);
    if (!p) return;
    this.pending.delete(msg.lid);
    p.done({ key: p.key, owner: msg.from, hops: msg.hops, successors: msg.successors, ...(msg.path ? { path: msg.path } : {}) });
  }

  /** Forgets lookups unanswered for longer than the request timeout (all of them when `all`). */
  expire(all = false): void {
    for (const [lid, p] of this.pending) {
      if (all || this.ctx.now - p.at > this.ctx.cfg.requestTimeoutMs) {
        this.pending.delete(lid);
        p.done(undefined);
      }
    }
  }
}
