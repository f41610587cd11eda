// Store and Request: routing them to the key's owner, the owner's answers, and which file
// transfers this peer accepts. A file is accepted only where it was asked for: a Request's
// answer only with the request's unguessable id and only once; a store's copy only from the
// origin of a store this peer accepted; an upload only for a store this peer itself started;
// nothing larger than the size limit.
import type { Contact } from '../contact.js';
import { sameAddress } from '../contact.js';
import { impersonation, type Ctx } from '../context.js';
import type { FileBegin, MessageOf } from '../messages.js';
import { MAX_HOPS } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Router } from '../routing/router.js';
import type { KeyStore } from './key-store.js';

/** Requests a peer can have in flight at once. */
const MAX_PENDING_REQUESTS = 256;
/** Accepted stores waiting for their copy, stores started here waiting for their acceptance, answers being served. */
const MAX_PENDING_STORES = 256;
const MAX_SERVING = 256;
/** How long an accepted store waits for its copy, and a started store for its acceptance. */
const STORE_WAIT_MS = 60_000;
/** How long a hand-over waits for the copy of a store taken just before Quit. */
const COPY_WAIT_MS = 10_000;

export interface TransferHooks {
  /** A file became held here (copied in, or found when serving): replicate it if it is ours. */
  onHeld(name: string): void;
  /** An offer of ours was answered: the transfer of a wanted replica is under way or done. */
  replicaArrived(name: string, from: Contact): void;
  /** The transfer of a wanted replica failed (or the file was gone). */
  replicaFailed(name: string, to: Contact): void;
  /** Whether a replica transfer from `from` with offer id `oid` was asked for (key-want). */
  wantsReplica(h: FileBegin, origin: Origin): boolean;
}

export class Transfers {
  private readonly requests = new Map<number, { file: string; receiving: boolean }>();
  /** file -> the origin whose copy we accepted to receive. */
  private readonly accepted = new Map<string, { origin: Contact; until: number }>();
  /** Store copies arriving now (between their file-begin and their end). */
  private readonly receivingStores = new Set<string>();
  /** file -> stores typed here, waiting for an owner's acceptance. */
  private readonly started = new Map<string, number>();
  /** `${requester}:${rid}` -> the request being served, so a missing file can fall back to a replica. */
  private readonly serving = new Map<string, MessageOf<'file-request'>>();

  constructor(
    private readonly ctx: Ctx,
    private readonly router: Router,
    private readonly keys: KeyStore,
    private readonly hooks: TransferHooks,
  ) {}

  /** Stores taken here whose copy from their origin has not arrived yet. */
  awaitingCopies(): number {
    this.prune();
    let n = this.receivingStores.size;
    // a copy that has not started within COPY_WAIT_MS will not come (its origin went away)
    for (const s of this.accepted.values()) if (this.ctx.now - (s.until - STORE_WAIT_MS) < COPY_WAIT_MS) n++;
    return n;
  }

  private prune(): void {
    const now = this.ctx.now;
    for (const [f, s] of this.accepted) if (s.until < now) this.accepted.delete(f);
    for (const [f, at] of this.started) if (now - at > STORE_WAIT_MS) this.started.delete(f);
  }

  // ---- Store --------------------------------------------------------------------------------

  storeTyped(file: string): void {
    const ctx = this.ctx;
    const r = this.router.route(ctx.space.keyOf(file));
    if (r.accept) return this.acceptStore(file, ctx.self);
    this.prune();
    if (this.started.size < MAX_PENDING_STORES) this.started.set(file, ctx.now);
    ctx.trace({ kind: 'forwarded', op: 'store', file, to: r.to.id, second: r.second, origin: true, ...(r.finger ? { finger: true } : {}) });
    ctx.send(r.to, { type: 'store', origin: ctx.self, file, final: r.final, hops: 1 });
  }

  onStore(msg: MessageOf<'store'>, origin: Origin): void {
    const ctx = this.ctx;
    if (msg.hops > MAX_HOPS) return ctx.note(`Dropped Store ${msg.file}: too many hops`, 'debug');
    if (msg.hops <= 1) {
      const forged = impersonation(ctx, msg.origin, origin.authId);
      if (forged) return ctx.note(`Dropped Store ${msg.file} claiming to come from Peer ${ctx.fmt(msg.origin.id)}: ${forged}`, 'debug');
    }
    if (ctx.space.nameProblem(msg.file)) return ctx.note(`Dropped Store of an invalid name`, 'debug');
    const key = ctx.space.keyOf(msg.file);
    const r = msg.final ? this.router.routeFinal(key) : this.router.route(key);
    if (r.accept) {
      // a peer that has said it leaves takes no new file: its first successor, told first (one
      // connection keeps their order), has already taken over its keys; before that, during
      // the hand-over, a store taken here is waited for and handed over with the rest
      // (with no successor left, the predecessor took the hand-over: the store goes there, marked
      // final, and walks back to the key's owner if that is not the predecessor)
      const next = ctx.phase === 'leaving' ? (this.router.routable()[0] ?? this.router.predecessor()) : undefined;
      if (next) {
        ctx.trace({ kind: 'forwarded', op: 'store', file: msg.file, to: next.id, second: false, origin: false });
        return ctx.send(next, { ...msg, final: true, hops: msg.hops + 1 });
      }
      return this.acceptStore(msg.file, msg.origin);
    }
    ctx.trace({ kind: 'forwarded', op: 'store', file: msg.file, to: r.to.id, second: r.second, origin: false, ...(r.finger ? { finger: true } : {}) });
    ctx.send(r.to, { ...msg, final: r.final, hops: msg.hops + 1 });
  }

  private acceptStore(file: string, origin: Contact): void {
    const ctx = this.ctx;
    ctx.trace({ kind: 'store-accepted', file, origin: origin.id });
    // typed here: the file may have been put in the directory by hand since the start
    if (origin.id === ctx.self.id) return ctx.emit({ kind: 'stat-file', name: file });
    // stored files never change: a name held here already is not copied again (an empty storeId says so)
    if (this.keys.has(file)) {
      ctx.note(`File ${file} is already stored here; stored files do not change, so nothing is copied`);
      return ctx.send(origin, { type: 'store-accepted', from: ctx.self, file, storeId: '' });
    }
    this.prune();
    if (this.accepted.size < MAX_PENDING_STORES) this.accepted.set(file, { origin, until: ctx.now + STORE_WAIT_MS });
    ctx.send(origin, { type: 'store-accepted', from: ctx.self, file, storeId: ctx.cfg.storeId });
  }

  onStoreAccepted(msg: MessageOf<'store-accepted'>, origin: Origin): void {
    const ctx = this.ctx;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.note(`Dropped a store acceptance claiming to be from Peer ${ctx.fmt(msg.from.id)}: ${forged}`, 'debug');
    this.prune();
    if (!this.started.has(msg.file)) return ctx.note(`Ignored an acceptance of Store ${msg.file} from Peer ${ctx.fmt(msg.from.id)}: no such store was started here`, 'debug');
    this.started.delete(msg.file);
    ctx.trace({ kind: 'store-confirmed', file: msg.file, by: msg.from.id });
    if (msg.storeId === ctx.cfg.storeId) return; // the owner reads the very same directory
    if (msg.storeId === '') return ctx.note(`Peer ${ctx.fmt(msg.from.id)} holds File ${msg.file} already; nothing is copied`);
    ctx.emit({ kind: 'push-file', name: msg.file, to: msg.from, purpose: 'store', rid: 0 });
  }

  /** What a stat-file effect found. */
  onFileStat(name: string, size: number | undefined): void {
    if (size === undefined) {
      if (this.keys.has(name)) this.keys.delete(name);
      return;
    }
    this.keys.add({ name, size }, true); // taken here as the owner
    this.hooks.onHeld(name);
  }

  onPushProgress(file: string, to: Contact, purpose: 'store' | 'replica', phase: 'start' | 'missing' | 'sent' | 'failed', error?: string, size?: number): void {
    if (phase === 'start' && size !== undefined && !this.keys.has(file)) this.keys.add({ name: file, size });
    if (purpose === 'store') this.ctx.trace({ kind: 'copy', file, to: to.id, phase, ...(error ? { error } : {}) });
    else if (phase === 'sent') this.hooks.replicaArrived(file, to);
    else if (phase === 'failed' || phase === 'missing') {
      this.ctx.note(`Copying a replica of ${file} to Peer ${this.ctx.fmt(to.id)} failed: ${error ?? 'no such file'}`, 'debug');
      this.hooks.replicaFailed(file, to);
    }
  }

  // ---- Request ------------------------------------------------------------------------------

  requestTyped(file: string): void {
    const ctx = this.ctx;
    const r = this.router.route(ctx.space.keyOf(file));
    if (r.accept) return ctx.emit({ kind: 'serve-file', name: file, rid: 0, to: ctx.self });
    if (this.requests.size >= MAX_PENDING_REQUESTS) return ctx.note(`Too many requests in flight; Request ${file} ignored`);
    const rid = ctx.nonce();
    this.requests.set(rid, { file, receiving: false });
    ctx.setTimer(`request:${rid}`, ctx.now + ctx.cfg.requestTimeoutMs);
    ctx.trace({ kind: 'forwarded', op: 'request', file, to: r.to.id, second: r.second, origin: true, ...(r.finger ? { finger: true } : {}) });
    ctx.send(r.to, { type: 'file-request', requester: ctx.self, file, rid, final: r.final, hops: 1, fallback: ctx.cfg.replicas - 1 });
  }

  onRequestTimeout(rid: number): void {
    const req = this.requests.get(rid);
    if (!req || req.receiving) return;
    this.requests.delete(rid);
    this.ctx.trace({ kind: 'request-timeout', file: req.file, seconds: this.ctx.cfg.requestTimeoutMs / 1000 });
  }

  onFileRequest(msg: MessageOf<'file-request'>, origin: Origin): void {
    const ctx = this.ctx;
    if (msg.hops > MAX_HOPS) return ctx.note(`Dropped the request for File ${msg.file}: too many hops`, 'debug');
    if (msg.hops <= 1) {
      const forged = impersonation(ctx, msg.requester, origin.authId);
      if (forged) return ctx.note(`Dropped a request for File ${msg.file} claiming to come from Peer ${ctx.fmt(msg.requester.id)}: ${forged}`, 'debug');
    }
    if (ctx.space.nameProblem(msg.file)) return ctx.note(`Dropped a request for an invalid name`, 'debug');
    // a final mark is taken as it is here: a read plants nothing, and a replica serving the
    // owner's fallback is exactly a peer that does not own the key
    const key = ctx.space.keyOf(msg.file);
    const r = msg.final ? ({ accept: true } as const) : this.router.route(key);
    if (r.accept) {
      if (this.serving.size >= MAX_SERVING) this.serving.delete(this.serving.keys().next().value!);
      this.serving.set(`${msg.requester.id}:${msg.rid}`, msg);
      return ctx.emit({ kind: 'serve-file', name: msg.file, rid: msg.rid, to: msg.requester });
    }
    ctx.trace({ kind: 'forwarded', op: 'request', file: msg.file, to: r.to.id, second: r.second, origin: false, ...(r.finger ? { finger: true } : {}) });
    ctx.send(r.to, { ...msg, final: r.final, hops: msg.hops + 1 });
  }

  onServeProgress(file: string, rid: number, to: Contact, phase: 'start' | 'missing' | 'sent' | 'failed', error?: string, size?: number): void {
    const ctx = this.ctx;
    const local = to.id === ctx.self.id;
    const msg = this.serving.get(`${to.id}:${rid}`);
    if (phase !== 'start') this.serving.delete(`${to.id}:${rid}`);
    if (phase === 'start' && size !== undefined && !this.keys.has(file)) {
      this.keys.add({ name: file, size });
      this.hooks.onHeld(file);
    }
    if (phase === 'missing' && msg && msg.fallback > 0) {
      // the owner lacks the file: the next successor holds a replica
      const next = this.router.routable().find((c) => c.id !== to.id);
      if (next) {
        ctx.note(`File ${file} is not here; asking Peer ${ctx.fmt(next.id)}, which keeps a replica`);
        return ctx.send(next, { ...msg, final: true, fallback: msg.fallback - 1, hops: msg.hops + 1 });
      }
    }
    ctx.trace({ kind: 'serve', file, to: to.id, local, phase, ...(phase === 'missing' ? { key: ctx.space.keyOf(file) } : {}), ...(error ? { error } : {}) });
    if (phase === 'missing' && !local) ctx.send(to, { type: 'file-missing', from: ctx.self, file, rid });
  }

  onFileMissing(msg: MessageOf<'file-missing'>): void {
    const req = this.requests.get(msg.rid);
    if (!req || req.file !== msg.file || req.receiving) return;
    this.requests.delete(msg.rid);
    this.ctx.cancelTimer(`request:${msg.rid}`);
    this.ctx.trace({ kind: 'request-missing', file: msg.file, from: msg.from.id });
  }

  // ---- incoming transfers -------------------------------------------------------------------

  /** Returns the name to save an offered file as, or undefined to refuse it. */
  onFileOffer(h: FileBegin, origin: Origin): string | undefined {
    const ctx = this.ctx;
    const from = `Peer ${ctx.fmt(h.from.id)}`;
    const refuse = (why: string) => void ctx.note(`Refused File ${h.file} from ${from}: ${why}`, 'debug');
    const forged = impersonation(ctx, h.from, origin.authId);
    if (forged) return refuse(forged);
    if (ctx.space.nameProblem(h.file)) return refuse('not a valid name');
    // Over the limit: said aloud for a file this peer asked for or accepted (its user wants to know
    // why it never came); a stranger's offer stays a debug line.
    const tooBig = h.size > ctx.cfg.maxFileBytes ? `its ${h.size} bytes are over this peer's limit of ${ctx.cfg.maxFileBytes} bytes (--max-file-size)` : undefined;
    const refuseAloud = (why: string) => void ctx.note(`Refused File ${h.file} from ${from}: ${why}`);
    if (tooBig && h.purpose === 'replica') return refuse(tooBig);
    if (h.purpose === 'request') {
      const req = this.requests.get(h.rid);
      if (!req || req.file !== h.file || req.receiving) return refuse(tooBig ?? 'not requested');
      if (tooBig) {
        this.requests.delete(h.rid);
        ctx.cancelTimer(`request:${h.rid}`);
        return refuseAloud(tooBig);
      }
      req.receiving = true;
      ctx.cancelTimer(`request:${h.rid}`);
      ctx.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: 'request', phase: 'start', size: h.size });
      return ctx.space.receivedFileOf(h.file);
    }
    if (h.purpose === 'replica') {
      if (!this.hooks.wantsReplica(h, origin)) return refuse('no such replica was asked for');
      return ctx.space.fileOf(h.file);
    }
    if (this.keys.has(h.file)) return refuse('a file of that name is stored here already (stored files do not change)');
    this.prune();
    const s = this.accepted.get(h.file);
    const sameOrigin = s && s.origin.id === h.from.id && sameAddress(s.origin, h.from) && (ctx.cfg.secure || origin.src.host === s.origin.host || isLoopback(origin.src.host));
    if (!s || !sameOrigin) return refuse(tooBig ?? 'no such store accepted');
    if (tooBig) {
      this.accepted.delete(h.file);
      return refuseAloud(tooBig);
    }
    this.accepted.delete(h.file);
    this.receivingStores.add(h.file);
    ctx.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: 'store', phase: 'start', size: h.size });
    return ctx.space.fileOf(h.file);
  }

  onFileDone(h: FileBegin, ok: boolean, error?: string): void {
    const ctx = this.ctx;
    if (h.purpose === 'request') this.requests.delete(h.rid);
    if (h.purpose === 'replica') {
      if (ok) {
        this.keys.add({ name: h.file, size: h.size }, true);
        this.hooks.onHeld(h.file);
      }
      if (!ok) ctx.note(`A replica of ${h.file} from Peer ${ctx.fmt(h.from.id)} could not be received: ${error ?? 'transfer failed'}`, 'debug');
      return;
    }
    ctx.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: h.purpose, phase: ok ? 'done' : 'failed', size: h.size, ...(error ? { error } : {}) });
    if (h.purpose === 'store') this.receivingStores.delete(h.file);
    if (ok && h.purpose === 'store') {
      this.keys.add({ name: h.file, size: h.size }, true);
      this.hooks.onHeld(h.file);
    }
  }
}

/** Loopback addresses: a peer on this host may reach us from any of them. */
function isLoopback(host: string): boolean {
  return host === '::1' || host.startsWith('127.') || host.startsWith('::ffff:127.');
}
