// Replication and hand-over: an owner keeps a copy of each key it owns on its next k - 1
// successors; a peer holding copies it took from the ring for keys it does not own offers them
// towards their owner: to the successor that owns them when they lie ahead, otherwise to its
// first predecessor (the owner, or a peer on the way back to it: one that joined in front of us,
// or the owner that was cut off while a wrong peer took the key during a partition); a peer that
// quits hands the keys it owns and the copies the ring gave it to its first successor first.
// A name already on its way here under another offer is not asked for twice.
// Everything moves by offer -> want -> file transfer, so only what is missing travels, every
// copy is streamed and verified like any transfer, and nothing is ever deleted here: a copy
// stays until (and after) its new holder has confirmed it.
// What a peer takes (the integrity rules; docs/security.md): a copy only of a name it does not
// hold, with the record (size, SHA-256) it was offered with, only for a key it is responsible
// for (its own range, or one behind it that the sender holds as owner or replica), and only
// from a neighbour its own view names (a predecessor, a successor); wants are bounded per peer
// and in all. Names without a record yet are hashed (a few a tick) before they are offered.
import type { Contact } from '../contact.js';
import { isLoopback, sameAddress } from '../contact.js';
import { sameBytes } from '../bytes.js';
import { impersonation, type Ctx } from '../context.js';
import type { Liveness } from '../membership/liveness.js';
import type { Successors } from '../membership/successors.js';
import type { FileBegin, KeyInfo, MessageOf } from '../messages.js';
import { MAX_OFFER_KEYS } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Held, KeyStore } from './key-store.js';
import type { Id } from '../id-space.js';

/** Offers of ours awaiting a want, and wants of ours awaiting their files. */
const MAX_OFFERS = 256;
/** Names wanted and not arrived yet, in all and from one peer: an offerer cannot reserve a name space. */
const MAX_WANTED_NAMES = 4096;
/** Every want holds a name, so the names' bound is the wants' too (a hand-over of files found at start may come a few names an offer). */
const MAX_WANTS = MAX_WANTED_NAMES;
const MAX_WANTED_PER_PEER = 1024;
/** Held names without a record asked to be hashed per tick (a file found at start, a Store's source). */
const HASHES_PER_TICK = 8;
/** An offer or a want is forgotten after this long. */
const OFFER_TTL_MS = 120_000;
/** A replica holder that refused a name of ours is offered it again after this many probe intervals. */
const REFUSED_RETRY_PROBES = 2;
/** A full sync with the successors runs at least this often (in probe intervals), and after any membership change. */
const SYNC_EVERY_PROBES = 10;
/**
 * Replica pushes handed to the shell at once; the rest wait here. A hand-over of a thousand names
 * sent every push at once overflowed the transport's file queue, and the names that failed were
 * taken for names the successor could not hold: the leaver left without them.
 */
const MAX_PUSHES = 16;
/** A push the shell never reported back (it cannot happen, but a stuck count would stop every copy) stops counting after this. */
const PUSH_TTL_MS = 120_000;
/** Offered names waiting for our second predecessor to vouch for them, at most. */
const MAX_VOUCHING = 512;
/** A copy a peer took is not pushed to it again for this long (two offers crossed), and at most this many are remembered. */
const DELIVERED_MS = 10_000;
const MAX_DELIVERED = 1024;
/** A quitting peer waits at most this long for its successor to confirm the keys it hands over. */
export const HANDOVER_TIMEOUT_MS = 30_000;

interface Offer {
  to: Contact;
  names: Set<string>;
  at: number;
  /** Wanted names whose transfer has not finished yet (for a hand-over's completion). */
  inFlight: Set<string>;
  /** The receiver's want id, once it answered: every copy under this offer goes under it. */
  wid?: number;
  answered: boolean;
}

export class Replication {
  private readonly offers = new Map<number, Offer>();
  /** Pushes asked for and not handed to the shell yet (`due`: not before, after a busy answer), and how many are out. */
  private pushQueue: { name: string; to: Contact; rid: number; sha256: Uint8Array; due: number }[] = [];
  /** `${to}:${name}` -> when it was handed to the shell; one never reported back is forgotten after PUSH_TTL_MS. */
  private readonly pushing = new Map<string, number>();
  /** `${to}:${name}` -> when that peer took the copy: a second want crossing it is not pushed again (it would be refused). */
  private readonly delivered = new Map<string, number>();
  /** wid -> a want of ours: the offer it answers, the records wanted, and what it refused. */
  private readonly wants = new Map<number, { from: Contact; oid: number; names: Map<string, KeyInfo>; at: number; refused: string[] }>();
  /** Names sent to be hashed and not answered yet. */
  private readonly hashing = new Set<string>();
  private dirty = true;
  private ticks = 0;
  /**
   * A replica holder refused a name of ours: when we offer again. Its view of its predecessors
   * may lag ours (a peer between us still leaving, say); waiting a full sync period for it left a
   * key short of k copies for 10 probes.
   */
  private retryAt = Infinity;
  /** A quit under way: offers out, names not offered yet (their taker failed), and what to do when all are taken. */
  private handover:
    | {
        oids: Set<number>;
        waiting: Set<string>;
        covered: Set<string>;
        refusedBy: Map<string, Set<Id>>;
        done: () => void;
        /** The second stage's offers (copies for the peers that will hold the keys once we are gone); undefined before it starts. */
        extra?: Set<number>;
      }
    | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly live: Liveness,
    private readonly succ: Successors,
    private readonly keys: KeyStore,
    /** Stores taken here whose copy is still on its way (a hand-over waits for them). */
    private readonly awaitingCopies: () => number = () => 0,
    /** Asks the shell for a held name's size and SHA-256 (answered through hashed()). */
    private readonly hash: (name: string) => void = () => undefined,
    /** Stores a copy again through the ring (one no neighbour would take). */
    private readonly restore: (name: string) => void = () => undefined,
    /** Whether the name was deleted lately with these bytes (its offerer is then told to drop them). */
    private readonly buried: (name: string, sha256: Uint8Array | undefined, from: Contact) => boolean = () => false,
    /** Asks a peer directly whether it holds a name (a second predecessor vouching for a leaver's copy). */
    private readonly checkHolds: (to: Contact, name: string, done: (reply: MessageOf<'holds-reply'> | undefined) => void) => void = (_t, _n, done) => done(undefined),
  ) {}

  /** Names of offers waiting for our second predecessor to vouch for them (bounded). */
  private vouching = 0;

  /** A name's record came back from the shell (or the file is gone). */
  hashed(name: string): void {
    if (!this.hashing.delete(name)) return;
    this.dirty = true;
    // a hand-over waits for the names it could not offer before they had a record: they go in
    // offers of many (one offer a name outran the receiver's wants), while the next are hashed
    const h = this.handover;
    if (!h?.waiting.has(name)) return;
    let ready = 0;
    for (const n of h.waiting) if (this.keys.get(n)?.sha256) ready++;
    if (this.hashing.size === 0 || ready >= MAX_OFFER_KEYS / 2) return this.onHandoverRetry();
    for (const n of h.waiting) {
      if (this.hashing.size >= HASHES_PER_TICK) break;
      const x = this.keys.get(n);
      if (!x || x.sha256 || this.hashing.has(n)) continue;
      this.hashing.add(n);
      this.hash(n);
    }
  }

  private get k(): number {
    return this.ctx.cfg.replicas;
  }

  /** Keys this peer owns: in (first predecessor, self]; all it holds while it knows no predecessor. */
  private owned(): Held[] {
    const p1 = this.live.pred1;
    return p1 ? this.keys.inRange(p1.id, this.ctx.self.id) : this.keys.all();
  }

  /** The successors that should hold replicas of our keys. */
  private replicaHolders(): Contact[] {
    return this.succ.list.slice(0, Math.max(0, this.k - 1));
  }

  /**
   * Whether a copy of `name` is being sent from here (wanted by a peer and not arrived yet), or a
   * hand-over is under way. An offer not answered yet does not count: a want of a name no longer
   * held is not sent.
   */
  inUse(name: string): boolean {
    if (this.handover) return true;
    if (this.pushQueue.some((p) => p.name === name)) return true;
    for (const k of this.pushing.keys()) if (k.endsWith(`:${name}`)) return true;
    for (const o of this.offers.values()) if (o.answered && o.inFlight.has(name)) return true;
    return false;
  }

  /** Membership changed: sync at the next tick. */
  changed(): void {
    this.dirty = true;
  }

  /** A file is now held here: if it is ours, copy it to our replica holders at once; if not, it moves on at the next tick. */
  onHeld(name: string): void {
    const h = this.keys.get(name);
    if (!h) return;
    if (!this.owned().some((o) => o.name === name)) {
      this.dirty = true;
      return;
    }
    for (const t of this.replicaHolders()) this.offer([h], t);
  }

  /** Every probe interval: after a change, and now and then anyway, offer what others should hold. */
  tick(): void {
    if (this.ctx.phase !== 'active') return;
    this.ticks++;
    this.expire();
    // pushes put off by a busy answer go once their time has come
    this.pump();
    const retry = this.retryAt <= this.ctx.now;
    if (!this.dirty && !retry && this.ticks % SYNC_EVERY_PROBES !== 0) return;
    this.dirty = false;
    this.retryAt = Infinity;
    // until a predecessor says where our range starts, only what the ring gave us counts as ours:
    // a file that was in the directory at start may be anyone's (at start nobody knows yet)
    const mine = this.live.pred1 ? this.owned() : this.owned().filter((h) => h.ring);
    const holders = this.replicaHolders();
    if (mine.length) for (const t of holders) this.offer(mine, t);
    // a file of our directory that we own and copy to replica holders is the ring's from now on:
    // if our range shrinks (a predecessor comes back), it goes to its owner like any ring copy
    // (kept where it was, it would sit here while its owner and replicas never hear of it)
    if (holders.length) for (const h of mine) if (!h.ring) this.keys.add(h, true);
    // ring copies that are not ours go towards their owner: to the successor that owns them when
    // they lie ahead, else a step back to our first predecessor (which passes them on in turn).
    // Only missing ones travel: a replica of a key our predecessors own goes back to them, who have it.
    const p1 = this.live.pred1;
    if (!p1) return;
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const to = new Map<Contact, Held[]>();
    for (const h of this.keys.all()) {
      // a file found in our directory stays where it is unless we own it; ring copies move on
      if (!h.ring || space.betweenRightClosed(p1.id, h.key, self)) continue;
      const t = this.succ.list.find((s) => space.betweenRightClosed(self, h.key, s.id)) ?? p1;
      const list = to.get(t);
      if (list) list.push(h);
      else to.set(t, [h]);
    }
    for (const [t, held] of to) this.offer(held, t);
  }

  private expire(): void {
    const now = this.ctx.now;
    for (const [oid, o] of this.offers) if (now - o.at > OFFER_TTL_MS) this.offers.delete(oid);
    for (const [oid, w] of this.wants) if (now - w.at > OFFER_TTL_MS) this.wants.delete(oid);
  }

  /** Offers `all` to `to` in batches (those with a record; the others are hashed first); returns the offer ids. */
  private offer(all: readonly Held[], to: Contact, leaving = false): number[] {
    const ctx = this.ctx;
    if (to.id === ctx.self.id) return [];
    const held = all.filter((h) => h.sha256);
    if (held.length < all.length) {
      for (const h of all) {
        if (h.sha256 || this.hashing.has(h.name)) continue;
        if (this.hashing.size >= HASHES_PER_TICK) break;
        this.hashing.add(h.name);
        this.hash(h.name);
      }
    }
    const oids: number[] = [];
    for (let i = 0; i < held.length; i += MAX_OFFER_KEYS) {
      const batch = held.slice(i, i + MAX_OFFER_KEYS);
      if (this.offers.size >= MAX_OFFERS) this.offers.delete(this.offers.keys().next().value!);
      const oid = ctx.nonce();
      this.offers.set(oid, { to, names: new Set(batch.map((h) => h.name)), at: ctx.now, inFlight: new Set(), answered: false });
      const keys: KeyInfo[] = batch.map((h) => ({ name: h.name, size: h.size, sha256: h.sha256!, ...(h.publisher ? { publisher: h.publisher } : {}) }));
      ctx.send(to, { type: 'key-offer', from: ctx.self, oid, keys, ...(leaving ? { leaving: true as const } : {}) });
      oids.push(oid);
    }
    return oids;
  }

  /** An offer: ask for what is missing here and ours to hold (an empty want says "nothing"). */
  onKeyOffer(msg: MessageOf<'key-offer'>, origin: Origin, vouched?: ReadonlySet<string>): void {
    const ctx = this.ctx;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'key-offer', from: msg.from.id, reason: forged });
    // only a neighbour this peer has heard answer may fill its disk
    if (!ctx.cfg.secure && !this.live.isVerified(msg.from)) {
      return this.live.verify(msg.from, (ok) => (ok ? this.onKeyOffer(msg, origin) : ctx.note(`Ignored a key offer from Peer ${ctx.fmt(msg.from.id)}: it does not answer`, 'debug')));
    }
    const fromNeighbour = this.isNeighbour(msg.from);
    const space = ctx.space;
    // what the ring offers us and we hold already, with the same bytes (say, the source of a store
    // typed here), is a ring copy from now on: it moves on if we stop owning it or holding its replica
    for (const k of msg.keys) {
      const h = this.keys.get(k.name);
      if (h && !h.ring && fromNeighbour && h.size === k.size && k.sha256 && (!h.sha256 || sameBytes(h.sha256, k.sha256))) this.keys.add(h, true);
    }
    // an offer that arrives twice gets the same answer twice (the first to arrive is the one counted)
    for (const [wid, w] of this.wants) {
      if (w.oid !== msg.oid || w.from.id !== msg.from.id) continue;
      return ctx.send(msg.from, { type: 'key-want', from: ctx.self, oid: msg.oid, wid, names: [...w.names.keys()], refused: w.refused });
    }
    // Every offerer gets its own want, even for a name another offer is bringing: on an open ring
    // anyone can offer in a neighbour's name (only the neighbour hears the want), and a name held
    // back while "coming" from a forged offer never came. Two holders offering one name at once
    // (its owner, and a neighbour handing it back) may then both send it: the first copy is kept,
    // the second is refused at its header or, arriving alongside, found to be the same bytes.
    let wantedAll = 0;
    let wantedHere = 0;
    for (const w of this.wants.values()) {
      wantedAll += w.names.size;
      if (w.from.id === msg.from.id) wantedHere += w.names.size;
    }
    const room = Math.max(0, Math.min(MAX_WANTED_NAMES - wantedAll, MAX_WANTED_PER_PEER - wantedHere));
    const missing = new Map<string, KeyInfo>();
    const refused: string[] = [];
    const vouch: KeyInfo[] = [];
    // the ring as we know it whole, once an offer (not once a key: a hand-over offers up to MAX_OFFER_KEYS)
    const whole = msg.leaving === true ? this.wholeRing() : undefined;
    for (const k of msg.keys) {
      if (this.keys.has(k.name) || missing.has(k.name)) continue;
      // a name deleted lately comes back only as a new put, never as an old copy
      if (this.buried(k.name, k.sha256, msg.from)) {
        refused.push(k.name);
        continue;
      }
      let may = k.sha256 && !space.nameProblem(k.name) && k.size <= ctx.cfg.maxFileBytes ? this.mayHold(space.keyOf(k.name), msg.from, whole) : false;
      if (may === 'vouch') {
        if (!vouched && this.vouching < MAX_VOUCHING) vouch.push(k);
        may = !!vouched?.has(k.name);
      }
      const ours = may;
      // refused, so that a hand-over looks for another taker: not ours, or no room for it now
      if (!ours || missing.size >= room) refused.push(k.name);
      else missing.set(k.name, k);
    }
    if (vouch.length) return this.askVouch(msg, origin, vouch);
    if (refused.length) ctx.note(`Refused ${refused.length} of ${msg.keys.length} names Peer ${ctx.fmt(msg.from.id)} offered: not ours to hold, or not from a neighbour`, 'debug');
    if (missing.size) ctx.note(`Asked Peer ${ctx.fmt(msg.from.id)} for ${missing.size} of the ${msg.keys.length} names it offered: ${[...missing.keys()].slice(0, 8).join(', ')}${missing.size > 8 ? ', …' : ''}`, 'debug');
    // the copies come under an id of ours, which only the offerer at its own address hears
    const wid = ctx.nonce();
    if (missing.size) {
      if (this.wants.size >= MAX_WANTS) this.wants.delete(this.wants.keys().next().value!);
      this.wants.set(wid, { from: msg.from, oid: msg.oid, names: missing, at: ctx.now, refused });
    }
    ctx.send(msg.from, { type: 'key-want', from: ctx.self, oid: msg.oid, wid, names: [...missing.keys()], refused });
  }

  /**
   * Names a peer upstream of our second predecessor offers (a leaver handing its keys to the
   * peers that hold them once it is gone): each is ours only if our second predecessor answers,
   * itself, that it holds the very same bytes. The offer is then judged again with those names.
   */
  private askVouch(msg: MessageOf<'key-offer'>, origin: Origin, names: readonly KeyInfo[]): void {
    const pred2 = this.live.pred2;
    if (!pred2) return this.onKeyOffer(msg, origin, new Set());
    const ok = new Set<string>();
    let left = names.length;
    this.vouching += left;
    for (const k of names) {
      this.checkHolds(pred2, k.name, (reply) => {
        const r = reply?.record;
        if (r && r.size === k.size && r.sha256 && k.sha256 && sameBytes(r.sha256, k.sha256)) ok.add(k.name);
        this.vouching--;
        if (--left === 0 && this.ctx.phase === 'active') this.onKeyOffer(msg, origin, ok);
      });
    }
  }

  /** A peer this one's own view names as a neighbour: a successor in its list, or one of its predecessors. */
  private isNeighbour(c: Contact): boolean {
    return this.isPredecessor(c) || this.succ.list.some((s) => s.id === c.id && sameAddress(s, c));
  }

  private isPredecessor(c: Contact): boolean {
    const { pred1, pred2 } = this.live;
    return [pred1, pred2].some((p) => !!p && p.id === c.id && sameAddress(p, c));
  }

  /**
   * Whether this peer should hold `key` as `from` (a peer that answered at its address) offers
   * it: a key of its own range (what it owns, it would take as a Store from anyone); not a key a
   * successor of ours owns; a key behind it that a predecessor holds as owner or replica (`from`
   * lies between the key and us; with k above 3 the owner may be further back than the two
   * predecessors a peer knows, so any such peer); or a key of its first predecessor's range handed
   * back by a successor (we hold that range's first replica). Knowing no predecessor, it cannot
   * tell its range: it takes what it is offered. `whole`: the ring known whole (wholeRing()) when
   * the offerer says it leaves, else undefined.
   */
  private mayHold(key: Id, from: Contact, whole: readonly Id[] | undefined): boolean | 'vouch' {
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const { pred1, pred2 } = this.live;
    // at the owner, a copy of a name it does not hold is no more than a Store of it by the sender
    // (the first completed Store of a name wins): taken from any peer that answered at its address
    if (!pred1 || space.betweenRightClosed(pred1.id, key, self)) return true;
    const upstream = from.id === key || space.betweenOpen(key, from.id, self);
    // with k = 3 a peer upstream of our second predecessor may be its predecessor, leaving: it
    // gives a key only once that predecessor vouches for the bytes
    const vouch = this.k === 3 && !!pred2 && pred2.id !== from.id && space.betweenOpen(from.id, pred2.id, self);
    // A ring small enough that our successor list runs round into our predecessors is one we know
    // whole, and there a key ahead of us may be one we hold once an offerer that says it leaves is
    // gone: a predecessor's key, or one of a peer our second predecessor vouches for
    if (whole && upstream && (this.isPredecessor(from) || vouch) && this.holdsWithout(whole, key, from.id)) return this.isPredecessor(from) || 'vouch';
    // a key ahead, up to the last successor before the list wraps round to our predecessors, is theirs
    let ahead: Contact | undefined;
    for (const s of this.succ.list) {
      if (s.id === pred1.id || s.id === pred2?.id) break;
      ahead = s;
    }
    if (ahead && space.betweenRightClosed(self, key, ahead.id)) return false;
    if (upstream) return this.isPredecessor(from) || this.k > 3 || (vouch ? 'vouch' : false);
    return !!pred2 && space.betweenRightClosed(pred2.id, key, pred1.id) && this.isNeighbour(from);
  }

  /** Every peer of the ring, in order, when our successor list runs round into our predecessors (else undefined). */
  private wholeRing(): Id[] | undefined {
    const self = this.ctx.self.id;
    const { pred1, pred2 } = this.live;
    const back = new Set([pred1?.id, pred2?.id, self]);
    if (!this.succ.list.some((s) => back.has(s.id))) return undefined;
    const ids = new Set<Id>([self]);
    for (const s of this.succ.list) ids.add(s.id);
    if (pred1) ids.add(pred1.id);
    if (pred2) ids.add(pred2.id);
    return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Whether we are among the k holders of `key` in `ring` once `gone` has left it. */
  private holdsWithout(ring: readonly Id[], key: Id, gone: Id): boolean {
    const rest = ring.filter((id) => id !== gone);
    const at = rest.findIndex((id) => id >= key);
    const owner = at < 0 ? 0 : at;
    for (let i = 0; i < Math.min(this.k, rest.length); i++) if (rest[(owner + i) % rest.length] === this.ctx.self.id) return true;
    return false;
  }

  /** The answer to an offer of ours: send what was asked for (and only what we offered). */
  onKeyWant(msg: MessageOf<'key-want'>, origin: Origin): void {
    const ctx = this.ctx;
    const o = this.offers.get(msg.oid);
    if (!o || o.answered || o.to.id !== msg.from.id || !sameAddress(o.to, msg.from) || impersonation(ctx, msg.from, origin.authId)) return;
    o.answered = true;
    o.wid = msg.wid;
    const ho = this.handover;
    if (ho?.extra?.has(msg.oid)) {
      // a copy for a peer that will hold the key once we are gone: one it refuses stays k - 1 until the ring repairs it
      if (msg.refused.length) this.ctx.trace({ kind: 'handover', outcome: 'copies-refused', peer: o.to.id, count: msg.refused.length });
    } else if (ho?.oids.has(msg.oid) && msg.refused.length) {
      // not that peer's to hold: the hand-over offers them to the next neighbour that may take them
      for (const name of msg.refused) {
        if (!o.names.has(name)) continue;
        const by = ho.refusedBy.get(name) ?? new Set<Id>();
        by.add(o.to.id);
        ho.refusedBy.set(name, by);
        ho.waiting.add(name);
      }
      this.sendHandover();
    } else if (msg.refused.length) {
      // copies we hold for a key that is neither ours nor theirs go to the owner as a Store
      const owned = new Set(this.owned().map((x) => x.name));
      const holder = this.replicaHolders().some((c) => c.id === o.to.id);
      if (holder && msg.refused.some((n) => owned.has(n))) this.retryAt = Math.min(this.retryAt, ctx.now + REFUSED_RETRY_PROBES * this.ctx.cfg.pingIntervalMs);
      for (const name of msg.refused) if (o.names.has(name) && this.keys.get(name)?.ring && !owned.has(name)) this.restore(name);
    }
    for (const name of msg.names) {
      const h = this.keys.get(name);
      if (!o.names.has(name) || !h?.sha256) continue;
      const took = this.delivered.get(`${o.to.id}:${name}`);
      if (took !== undefined && ctx.now - took < DELIVERED_MS) continue;
      o.inFlight.add(name);
      this.pushQueue.push({ name, to: o.to, rid: msg.wid, sha256: h.sha256, due: ctx.now });
    }
    this.pump();
    this.checkHandover();
  }

  /** The record an incoming replica must match, if it was asked for, from that peer, under that offer (each name once). */
  wantsReplica(h: FileBegin, origin: Origin): KeyInfo | undefined {
    const w = this.wants.get(h.rid);
    const record = w?.names.get(h.file);
    if (!w || !record || w.from.id !== h.from.id || !sameAddress(w.from, h.from) || impersonation(this.ctx, h.from, origin.authId)) return undefined;
    if (record.size !== h.size || !record.sha256 || (h.sha256 && !sameBytes(h.sha256, record.sha256))) return undefined;
    // on an open ring, from the offerer's host at least (peers on one machine share loopback)
    if (!this.ctx.cfg.secure && origin.src.host !== w.from.host && !isLoopback(origin.src.host)) return undefined;
    w.names.delete(h.file);
    if (w.names.size === 0) this.wants.delete(h.rid);
    return record;
  }

  /**
   * A replica wantsReplica took did not arrive (our endpoint was busy, or the transfer broke): the
   * name goes back into its want, so the offerer's retry under the same id is taken.
   */
  replicaNotTaken(h: FileBegin, record: KeyInfo): void {
    if (this.keys.has(h.file)) return;
    const w = this.wants.get(h.rid);
    if (w) {
      w.names.set(h.file, record);
      return;
    }
    if (this.wants.size >= MAX_WANTS) this.wants.delete(this.wants.keys().next().value!);
    this.wants.set(h.rid, { from: h.from, oid: 0, names: new Map([[h.file, record]]), at: this.ctx.now, refused: [] });
  }

  /** Hands waiting pushes to the shell, up to MAX_PUSHES out at once. */
  private pump(): void {
    const now = this.ctx.now;
    for (const [k, at] of this.pushing) if (now - at > PUSH_TTL_MS) this.pushing.delete(k);
    for (let i = 0; i < this.pushQueue.length && this.pushing.size < MAX_PUSHES; ) {
      const p = this.pushQueue[i]!;
      // one copy of a name to a peer at a time: a second offer's push waits for the first's end
      if (p.due > now || this.pushing.has(`${p.to.id}:${p.name}`)) {
        i++;
        continue;
      }
      this.pushQueue.splice(i, 1);
      this.pushing.set(`${p.to.id}:${p.name}`, now);
      this.ctx.emit({ kind: 'push-file', name: p.name, to: p.to, purpose: 'replica', rid: p.rid, sha256: p.sha256 });
    }
  }

  /** A replica push of ours arrived. */
  pushed(name: string, to: Contact): void {
    this.pushing.delete(`${to.id}:${name}`);
    if (this.delivered.size >= MAX_DELIVERED) this.delivered.delete(this.delivered.keys().next().value!);
    this.delivered.set(`${to.id}:${name}`, this.ctx.now);
    for (const o of this.offers.values()) if (o.to.id === to.id) o.inFlight.delete(name);
    // a second want of the same name (two offers crossed) would only be refused now: it is there
    this.pushQueue = this.pushQueue.filter((p) => p.to.id !== to.id || p.name !== name);
    this.pump();
    this.checkHandover();
  }

  /**
   * A replica push of ours failed. Busy (the receiver's temporary space is full, or our own
   * transfer queue): the same push goes again a retry period later, the receiver is not to blame.
   * Otherwise a hand-over gives the name to the next live successor (a sync redoes the rest).
   */
  pushFailed(name: string, to: Contact, error = ''): void {
    this.pushing.delete(`${to.id}:${name}`);
    if (/busy|too many file transfers/.test(error)) {
      const o = [...this.offers.values()].find((x) => x.to.id === to.id && x.inFlight.has(name));
      const h = this.keys.get(name);
      const rid = o?.wid;
      if (o && h?.sha256 && rid !== undefined) {
        this.pushQueue.push({ name, to, rid, sha256: h.sha256, due: this.ctx.now + this.retryMs() });
        if (this.handover) this.ctx.setTimer('handover-retry', this.ctx.now + this.retryMs());
        return this.pump();
      }
    }
    let handing = false;
    for (const [oid, o] of this.offers) {
      if (o.to.id !== to.id || !o.inFlight.delete(name)) continue;
      handing ||= !!this.handover?.oids.has(oid);
    }
    if (handing) this.handOn([name], to);
    this.pump();
    this.checkHandover();
  }

  /** A key offer of ours could not be delivered. */
  onOfferFailed(oid: number, to: Contact): void {
    const o = this.offers.get(oid);
    if (!o || o.answered) return;
    this.offers.delete(oid);
    if (this.handover?.extra?.delete(oid)) return this.checkHandover();
    if (!this.handover?.oids.delete(oid)) return;
    this.handOn([...o.names], to);
    this.checkHandover();
  }

  /** During a hand-over: the names `failed` could not take go to the next successor that may. */
  private handOn(names: readonly string[], failed: Contact): void {
    const h = this.handover;
    if (!h) return;
    this.live.suspect(failed.id);
    for (const n of names) h.waiting.add(n);
    this.ctx.trace({ kind: 'handover', outcome: 'handed-on', peer: failed.id });
    this.sendHandover();
  }

  /**
   * What `cdht status` shows of replication. shortOfK: keys this peer owns whose k copies it knows
   * are not all in place: every owned key while it knows fewer than k - 1 successors, else those
   * it is copying to a replica holder now (offered, or wanted and not arrived). It is what the
   * peer knows, a lower bound: a copy lost at a holder that never says so shows only after the
   * next sync. handovers: names of a Quit under way not yet confirmed by their taker.
   */
  status(): { shortOfK?: number; handovers: number } {
    const owned = this.owned();
    const k = this.k;
    if (k > 1 && this.replicaHolders().length < k - 1) return { shortOfK: owned.length, handovers: this.pendingHandover() };
    const holders = new Set(this.replicaHolders().map((c) => c.id));
    // the newest offer of a name to a holder tells (offers are kept in the order made): an earlier
    // one left unanswered (lost, or sent while the holder was still joining) waits for its expiry,
    // and counted the key short for two minutes after the holder had confirmed a later one
    const latest = new Map<string, { name: string; copying: boolean }>();
    for (const o of this.offers.values()) {
      if (!holders.has(o.to.id)) continue;
      for (const n of o.names) latest.set(`${o.to.id} ${n}`, { name: n, copying: !o.answered || o.inFlight.has(n) });
    }
    const copying = new Set<string>();
    for (const l of latest.values()) if (l.copying) copying.add(l.name);
    const short = owned.filter((h) => copying.has(h.name)).length;
    return { shortOfK: short, handovers: this.pendingHandover() };
  }

  private pendingHandover(): number {
    const h = this.handover;
    if (!h) return 0;
    const pending = new Set(h.waiting);
    for (const oid of h.oids) {
      const o = this.offers.get(oid);
      if (!o) continue;
      for (const n of o.answered ? o.inFlight : o.names) pending.add(n);
    }
    return pending.size;
  }

  // ---- quitting ----------------------------------------------------------------------------

  /** Hands the keys we hold to the first successor (or, with none, the first predecessor); `done` once it has them all, or after the timeout. */
  handOver(done: () => void): void {
    // the keys we own, and every copy the ring gave us (we may own more than our perhaps stale
    // first predecessor says): what the successor lacks travels, and finds its owner from there
    const owned = new Set(this.owned().map((h) => h.name));
    const mine = this.keys.all().filter((h) => h.ring || owned.has(h.name));
    if (mine.length === 0 && this.awaitingCopies() === 0) return done();
    this.handover = { oids: new Set(), waiting: new Set(mine.map((h) => h.name)), covered: new Set(mine.map((h) => h.name)), refusedBy: new Map(), done };
    this.ctx.setTimer('handover', this.ctx.now + HANDOVER_TIMEOUT_MS);
    this.sendHandover();
  }

  /**
   * Offers the names still waiting to the first successor that may take them (a peer that knows
   * no successor still knows the predecessor it tells); an offer left unanswered for a retry
   * period (lost verification, a peer that stopped) goes again. Runs again after that period
   * until the hand-over is done or times out.
   */
  private sendHandover(): void {
    const h = this.handover;
    if (!h) return;
    const now = this.ctx.now;
    const retryMs = this.retryMs();
    for (const oid of [...h.oids]) {
      const o = this.offers.get(oid);
      if (!o || o.answered || now - o.at < retryMs) continue;
      h.oids.delete(oid);
      this.offers.delete(oid);
      for (const n of o.names) h.waiting.add(n);
    }
    const self = this.ctx.self.id;
    const takers = [...this.succ.list, this.live.pred1].filter((c): c is Contact => !!c && c.id !== self && !this.live.isSuspect(c.id) && !this.live.isDead(c.id));
    const held = [...h.waiting].map((n) => this.keys.get(n)).filter((x): x is Held => !!x);
    if (takers.length || !held.length) h.waiting.clear();
    // each name to the first neighbour that has not refused it; names without a record yet are
    // hashed by offer() and wait for it
    const to = new Map<Contact, Held[]>();
    for (const x of held) {
      if (!takers.length) break;
      if (!x.sha256) h.waiting.add(x.name);
      const t = takers.find((c) => !h.refusedBy.get(x.name)?.has(c.id));
      if (!t) {
        this.ctx.trace({ kind: 'handover', outcome: 'kept', file: x.name });
        continue;
      }
      const list = to.get(t);
      if (list) list.push(x);
      else to.set(t, [x]);
    }
    for (const [t, list] of to) for (const oid of this.offer(list, t, true)) h.oids.add(oid);
    this.ctx.setTimer('handover-retry', now + retryMs);
  }

  private retryMs(): number {
    return Math.max(2 * this.live.probeMs, 1_000);
  }

  onHandoverRetry(): void {
    this.pump();
    this.sendHandover();
    this.checkHandover();
  }

  onHandoverTimeout(): void {
    if (!this.handover) return;
    this.ctx.trace({ kind: 'handover', outcome: 'keys-unconfirmed', ...(this.succ.list[0] ? { peer: this.succ.list[0].id } : {}) });
    this.finishHandover();
  }

  private checkHandover(): void {
    const h = this.handover;
    if (!h) return;
    // ring copies that arrived since the hand-over began (a replica, a store taken just before) go too
    const late = this.keys.all().filter((k) => k.ring && !h.covered.has(k.name));
    if (late.length) {
      for (const k of late) {
        h.covered.add(k.name);
        h.waiting.add(k.name);
      }
      this.sendHandover();
    }
    // a store taken just before Quit: its copy is coming, and goes on with the rest once here
    if (h.waiting.size > 0 || this.awaitingCopies() > 0) return;
    // a second-stage offer left unanswered (its peer went quiet) stops holding the leave up
    for (const oid of h.extra ?? []) {
      const o = this.offers.get(oid);
      if (!o || (!o.answered && this.ctx.now - o.at >= 2 * this.retryMs())) h.extra!.delete(oid);
    }
    for (const oid of [...h.oids, ...(h.extra ?? [])]) {
      const o = this.offers.get(oid);
      if (o && (!o.answered || o.inFlight.size > 0)) return;
    }
    if (!h.extra) return this.beyondSuccessor(h);
    this.finishHandover();
  }

  /**
   * The hand-over's second stage, once the first successor has every key: each key we held goes to
   * the peers that will hold it after we are gone (only what they lack travels), so that it is at
   * k copies when we exit, not once the new owner has noticed and repaired it. By our own view: a
   * key we own goes to successors 2 .. k - 1 too (the first has it), one of our first
   * predecessor's range to successors 2 .. k - 2; the rest the first successor covers. A third
   * successor that does not count us among its predecessors takes a copy of ours only once its
   * second predecessor (our first successor) answers that it holds the same bytes (mayHold).
   */
  private beyondSuccessor(h: NonNullable<Replication['handover']>): void {
    h.extra = new Set();
    const space = this.ctx.space;
    const self = this.ctx.self.id;
    const { pred1, pred2 } = this.live;
    const list: Contact[] = [];
    for (const s of this.succ.list) {
      if (s.id === self || list.some((x) => x.id === s.id)) break;
      if (!this.live.isSuspect(s.id) && !this.live.isDead(s.id)) list.push(s);
    }
    const to = new Map<Contact, Held[]>();
    for (const name of h.covered) {
      const x = this.keys.get(name);
      if (!x) continue;
      const j = !pred1 || space.betweenRightClosed(pred1.id, x.key, self) ? 0 : pred2 && space.betweenRightClosed(pred2.id, x.key, pred1.id) ? 1 : 2;
      for (const t of list.slice(1, Math.max(1, this.k - j))) {
        const l = to.get(t);
        if (l) l.push(x);
        else to.set(t, [x]);
      }
    }
    for (const [t, held] of to) for (const oid of this.offer(held, t, true)) h.extra.add(oid);
    this.checkHandover();
  }

  private finishHandover(): void {
    const h = this.handover;
    if (!h) return;
    this.handover = undefined;
    this.ctx.cancelTimer('handover');
    this.ctx.cancelTimer('handover-retry');
    h.done();
  }
}
