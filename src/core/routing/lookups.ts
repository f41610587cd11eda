// Lookups: a routed question "who owns key k?", answered by the owner straight to the asker
// with its successors. Fingers refresh themselves with them; `cdht sim` measures routing with
// them (hops, and whether the true owner answered).
//
// On an open ring above 8 bits a lookup travels by datagram, hop by hop, and its answer too: a
// finger's refresh then keeps no connection open to every peer it crosses (those connections were
// most of an idle peer's memory and writes). A datagram to a peer that is gone says nothing, so a
// lookup unanswered after LOOKUP_DATAGRAM_RETRY_MS goes once more over connections, which find a
// dead hop and route round it (and stay on connections to the end). A private ring seals datagrams
// only for neighbours, and the specification's 8-bit ring keeps its connections.
import { isLoopback, type Contact } from '../contact.js';
import { HostWindow } from '../host-window.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { MessageOf } from '../messages.js';
import { MAX_HOPS, MAX_PATH } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Router } from './router.js';

/** Lookups of ours awaiting an answer. */
const MAX_PENDING_LOOKUPS = 1024;
/** A lookup sent by datagram and not answered in this long goes again over connections. */
export const LOOKUP_DATAGRAM_RETRY_MS = 1_000;
/** Answers by datagram one host may be sent per window (loopback aside: a whole ring may share it). */
const DATAGRAM_ANSWERS_PER_HOST = 1024;
const ANSWER_WINDOW_MS = 1_000;
const MAX_ANSWER_HOSTS = 4096;

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
  /** `unanswered`: a background lookup that got no answer in time (not a failure of the ring). */
  done: (r: LookupResult | undefined, unanswered?: boolean) => void;
  /** Sent by datagram: where and what goes again over connections if no answer comes in time. */
  again?: { to: Contact; msg: MessageOf<'lookup'> };
  /** Upkeep (a finger's refresh): unanswered by datagram in time, it gives up instead of going again over connections. */
  background?: boolean;
}

export class Lookups {
  private readonly pending = new Map<number, Pending>();
  /** Answers sent by datagram to each host in the current window. */
  private readonly answered = new HostWindow(DATAGRAM_ANSWERS_PER_HOST, ANSWER_WINDOW_MS, MAX_ANSWER_HOSTS);

  constructor(
    private readonly ctx: Ctx,
    private readonly router: Router,
  ) {}

  /**
   * Asks the ring who owns `key`; `done` gets the answer, or undefined after the request timeout.
   * traced: the answer names the peers the lookup crossed (the library's lookup; a finger's refresh
   * does without, so its messages stay small).
   */
  /**
   * `background`: upkeep that comes round again by itself (a finger's refresh). Unanswered by
   * datagram within LOOKUP_DATAGRAM_RETRY_MS it ends with no result rather than going again over
   * connections: in a process whose event loop lags (many peers at once) the retries of every
   * refresh would open connections on top of the load that delayed the answers.
   */
  find(key: Id, done: (r: LookupResult | undefined, unanswered?: boolean) => void, traced = false, background = false): void {
    const ctx = this.ctx;
    const r = this.router.route(key);
    if (r.accept) return done({ key, owner: ctx.self, hops: 0, successors: [], ...(traced ? { path: [ctx.self.id] } : {}) });
    if (this.pending.size >= MAX_PENDING_LOOKUPS) this.expire(true);
    const lid = ctx.nonce();
    const p: Pending = { key, at: ctx.now, done };
    if (background) p.background = true;
    this.send(r.to, { type: 'lookup', origin: ctx.self, key, lid, final: r.final, hops: 1, ...(traced ? { path: [ctx.self.id] } : {}) }, p);
  }

  /** Whether lookups travel by datagram here: an open ring above 8 bits. */
  private byDatagram(): boolean {
    return !this.ctx.cfg.secure && this.ctx.space.bits > 8;
  }

  /** Sends a lookup of ours, by datagram (with a retry over connections) where lookups travel so. */
  private send(to: Contact, msg: MessageOf<'lookup'>, p: Pending): void {
    const ctx = this.ctx;
    if (this.byDatagram()) {
      p.again = { to, msg };
      ctx.setTimer(`lookup-retry:${msg.lid}`, ctx.now + LOOKUP_DATAGRAM_RETRY_MS);
    }
    this.pending.set(msg.lid, p);
    ctx.send(to, msg, p.again ? 'udp' : 'tcp');
  }

  /** A lookup sent by datagram is still unanswered: once more, over connections. */
  onRetry(lid: number): void {
    const p = this.pending.get(lid);
    if (!p?.again) return;
    if (p.background) {
      this.pending.delete(lid);
      return p.done(undefined, true);
    }
    const { to, msg } = p.again;
    p.again = undefined;
    this.ctx.send(to, msg, 'tcp');
  }

  /**
   * Asks `via` itself who owns `key` in its ring: the lookup starts there, not at our own next
   * hop (the merge probe and an alone peer look into a ring that may not be ours).
   */
  askVia(via: Contact, key: Id, done: (r: LookupResult | undefined) => void): void {
    const ctx = this.ctx;
    if (this.pending.size >= MAX_PENDING_LOOKUPS) this.expire(true);
    const lid = ctx.nonce();
    this.send(via, { type: 'lookup', origin: ctx.self, key, lid, final: false, hops: 1 }, { key, at: ctx.now, done });
  }

  onLookup(msg: MessageOf<'lookup'>, origin: Origin): void {
    const ctx = this.ctx;
    if (msg.hops > MAX_HOPS) return ctx.note(`Dropped a lookup of key ${ctx.fmt(msg.key)}: too many hops`, 'debug');
    const forged = ctx.origins.problem(msg, origin);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'lookup', from: msg.origin.id, reason: forged, key: msg.key });
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
      if (refused) return ctx.trace({ kind: 'dropped', message: 'lookup', from: msg.origin.id, reason: refused, key: msg.key });
      // an open ring answers by datagram: the asker is rarely a neighbour, and a connection kept
      // open for one small answer per refresh is most of a finger table's cost; a private ring
      // seals datagrams only for neighbours, so its answer goes on a link
      const path = msg.path ? [...msg.path, ctx.self.id].slice(0, MAX_PATH) : undefined;
      const reply = { type: 'lookup-reply', from: ctx.self, lid: msg.lid, hops: msg.hops, successors: this.router.routable(), ...(path ? { path } : {}) } as const;
      if (ctx.cfg.secure) return ctx.send(msg.origin, reply, 'tcp');
      // a datagram's sender may be forged, and the answer goes to the asker it names: a bounded
      // number a second to any one host, so nobody turns the ring on a third host
      if (!isLoopback(msg.origin.host) && !this.answered.take(msg.origin.host, ctx.now)) return ctx.note(`Left a lookup of key ${ctx.fmt(msg.key)} unanswered: more than ${DATAGRAM_ANSWERS_PER_HOST} answers a second to ${msg.origin.host}`, 'debug');
      return ctx.send(msg.origin, reply, 'udp');
    }
    const final = r.final;
    const hops = msg.hops + 1;
    const on = msg.path && msg.path.length < MAX_PATH ? { ...msg, final, hops, path: [...msg.path, ctx.self.id] } : { ...msg, final, hops };
    // on as it came: by datagram, or (a retry, a reroute) over connections
    ctx.send(r.to, on, origin.via === 'udp' && this.byDatagram() ? 'udp' : 'tcp');
  }

  onLookupReply(msg: MessageOf<'lookup-reply'>): void {
    const p = this.pending.get(msg.lid);
    if (!p) return;
    this.pending.delete(msg.lid);
    if (p.again) this.ctx.cancelTimer(`lookup-retry:${msg.lid}`);
    const r = { key: p.key, owner: msg.from, hops: msg.hops, successors: msg.successors };
    p.done(msg.path ? { ...r, path: msg.path } : r);
  }

  /** Forgets lookups unanswered for longer than the request timeout (all of them when `all`). */
  expire(all = false): void {
    for (const [lid, p] of this.pending) {
      if (all || this.ctx.now - p.at > this.ctx.cfg.requestTimeoutMs) {
        this.pending.delete(lid);
        if (p.again) this.ctx.cancelTimer(`lookup-retry:${lid}`);
        p.done(undefined);
      }
    }
  }
}
