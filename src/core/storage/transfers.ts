// Store and Request: routing them to the key's owner, the owner's answers, and which file
// transfers this peer accepts. A file is accepted only where it was asked for: a Request's
// answer only with the request's unguessable id and only once; a store's copy only from the
// origin of a store this peer accepted; an upload only for a store this peer itself started;
// nothing larger than the size limit. Names are write-once: a store or replica copy never
// replaces a file already here, and a replica must match the record it was offered with.
// Only names the key store holds are served (in the specification's 8-bit mode, its four-digit
// files), each with its record, which the requester checks before the file is visible; a
// holder told that its bytes did not match checks its own copy and, if it went bad, stops
// serving it and hands the request to the next replica.
import type { Contact } from '../contact.js';
import { isLoopback, sameAddress } from '../contact.js';
import { sameBytes } from '../bytes.js';
import { impersonation, type Ctx } from '../context.js';
import type { FileBegin, KeyInfo, MessageOf } from '../messages.js';
import { MAX_HOPS, RECORD_MISMATCH } from '../messages.js';
import type { Origin } from '../origin.js';
import type { Router } from '../routing/router.js';
import type { Id } from '../id-space.js';
import type { KeyStore } from './key-store.js';
import type { ErrorCode } from '../errors.js';
import type { OpEvent } from '../effects.js';

interface PendingRequest {
  file: string;
  receiving: boolean;
  until: number;
  busy: number;
  /** The holder that answered busy: retries go straight to it. */
  holder?: Contact;
  /** The library's get this request serves, and the name its bytes are saved as. */
  op?: number;
  saveAs?: string;
}

/** Requests a peer can have in flight at once. */
const MAX_PENDING_REQUESTS = 256;
/** Accepted stores waiting for their copy, stores started here waiting for their acceptance, answers being served. */
const MAX_PENDING_STORES = 256;
const MAX_SERVING = 256;
/** How long an accepted store waits for its copy, and a started store for its acceptance. */
const STORE_WAIT_MS = 60_000;
/** How long a hand-over waits for the copy of a store taken just before Quit. */
const COPY_WAIT_MS = 10_000;
/** Stores a peer that is handing its keys over still takes (and waits for) before it passes them on. */
const MAX_TAKEN_WHILE_HANDING_OVER = 16;
/** Requests of one name waiting for our check of its copy, at most. */
const MAX_CHECKS_WAITING = 16;
/**
 * Request answers this peer streams at once, and to one requester: beyond them a request is
 * answered at once with file-busy (a queue would only hold it past the requester's timeout).
 */
export const MAX_SERVING_FILES = 8;
export const MAX_SERVING_PER_REQUESTER = 4;
/** What a busy holder suggests: about the time a transfer slot takes to come free. */
export const BUSY_RETRY_AFTER_MS = 1_000;
/** The requester's back-off: first wait, doubling per busy answer, at most this; jittered ±50 %. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 4_000;
/** A retry is sent only if this much of the request's time is left after it (its answer must begin). */
const RETRY_ANSWER_MS = 1_000;

export interface TransferHooks {
  /** A file became held here (copied in, or found when serving): replicate it if it is ours. */
  onHeld(name: string): void;
  /** An offer of ours was answered: the transfer of a wanted replica is under way or done. */
  replicaArrived(name: string, from: Contact): void;
  /** The transfer of a wanted replica failed (or the file was gone). */
  replicaFailed(name: string, to: Contact, error?: string): void;
  /** The record a replica transfer must match, if it was asked for (key-want) from that peer under that offer. */
  wantsReplica(h: FileBegin, origin: Origin): KeyInfo | undefined;
  /** A replica taken by wantsReplica did not arrive (busy, or the transfer failed): its offerer may send it again. */
  replicaNotTaken(h: FileBegin, record: KeyInfo): void;
  /** Whether a store of `name` by `from` is of a name deleted lately (refused; `from` is told to drop its copy). */
  buried(name: string, from: Contact): boolean;
}

/** What the core answers a file offer with: where to save it, and what it must match. */
export interface Acceptance {
  saveAs: string;
  sha256?: Uint8Array;
  keep?: boolean;
}

export class Transfers {
  /** rid -> a request typed here; `until`: its overall deadline, `busy`: busy answers so far. */
  private readonly requests = new Map<number, PendingRequest>();
  /** `${requester}:${rid}` -> requester: answers being streamed now (at most MAX_SERVING_FILES). */
  private readonly streaming = new Map<string, Id>();
  /**
   * `${origin id}:${file}` -> a store we accepted, whose copy we wait for from that origin. Keyed
   * by origin too: a store of the same name in another's name must not take the place of a
   * genuine one (the first copy to arrive whole wins).
   */
  private readonly accepted = new Map<string, { origin: Contact; until: number }>();
  /** Store copies arriving now (between their file-begin and their end), with the store's origin: the name's publisher. */
  private readonly receivingStores = new Map<string, Contact>();
  /** `${from}:${name}` -> the record a replica arriving now was offered with (its publisher with it). */
  private readonly receivingReplicas = new Map<string, KeyInfo>();
  /** file -> stores typed here, waiting for an owner's acceptance. */
  private readonly started = new Map<string, number>();
  /** Stores typed here that this peer took as the owner, waiting for the shell to find the file. */
  private readonly typedHere = new Set<string>();
  /** Copies stored again through the ring (restore), waiting for the owner's acceptance; and their pushes. */
  private readonly restoring = new Map<string, number>();
  private readonly restoringPush = new Set<string>();
  private handingOver = false;
  private takenWhileHandingOver = 0;
  /** `${requester}:${rid}` -> the request being served, so a missing file can fall back to a replica. */
  private readonly serving = new Map<string, MessageOf<'file-request'>>();
  /** name -> requests whose answer was refused as not matching the record, waiting for our own check of the copy. */
  private readonly checking = new Map<string, MessageOf<'file-request'>[]>();
  /** name -> the library's put storing it from here (one at a time per name). */
  private readonly putOps = new Map<string, number>();

  constructor(
    private readonly ctx: Ctx,
    private readonly router: Router,
    private readonly keys: KeyStore,
    private readonly hooks: TransferHooks,
  ) {}

  /** The peer is handing its keys over before it leaves (it still takes a few stores: see onStore). */
  handOverStarted(): void {
    this.handingOver = true;
  }

  private op(op: number | undefined, event: OpEvent): void {
    if (op !== undefined) this.ctx.emit({ kind: 'op', op, event });
  }
  private opFailed(op: number | undefined, code: ErrorCode, message: string): void {
    this.op(op, { type: 'failed', code, message });
  }
  /** Ends the put of `file`, if one is under way, with `event`. */
  private putEnded(file: string, event: OpEvent): void {
    const op = this.putOps.get(file);
    if (op === undefined) return;
    this.putOps.delete(file);
    this.op(op, event);
  }

  /** The shell gave an operation up: nothing more is taken or sent for it. */
  cancel(op: number): void {
    for (const [file, o] of this.putOps) {
      if (o !== op) continue;
      this.putOps.delete(file);
      this.started.delete(file);
      this.typedHere.delete(file);
    }
    for (const [rid, r] of this.requests) {
      if (r.op !== op) continue;
      this.requests.delete(rid);
      this.ctx.cancelTimer(`request:${rid}`);
      this.ctx.cancelTimer(`request-retry:${rid}`);
    }
  }

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
    for (const [f, at] of this.started) {
      if (now - at <= STORE_WAIT_MS) continue;
      this.started.delete(f);
      this.putEnded(f, { type: 'failed', code: 'CDHT_ERR_TIMEOUT', message: `no owner took Store ${f}` });
    }
  }

  // ---- Store --------------------------------------------------------------------------------

  /** A Store typed here, or the library's put (`op`: its bytes are staged, and their outcome is told). */
  storeTyped(file: string, op?: number): void {
    const ctx = this.ctx;
    if (op !== undefined) {
      if (this.putOps.has(file) || this.started.has(file)) return this.opFailed(op, 'CDHT_ERR_BUSY', `a store of ${file} from this peer is under way`);
      this.prune();
      if (this.started.size >= MAX_PENDING_STORES) return this.opFailed(op, 'CDHT_ERR_BUSY', `${MAX_PENDING_STORES} stores are under way here`);
      this.putOps.set(file, op);
    }
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
    // on a private ring it speaks for its origin only with the origin's proof, at any hop
    const forged = ctx.origins.problem(msg, origin);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'store', from: msg.origin.id, reason: forged, file: msg.file });
    if (ctx.space.nameProblem(msg.file)) return ctx.note(`Dropped Store of an invalid name`, 'debug');
    // a store in our own name that we never started (ours come back here only when rerouted)
    if (msg.origin.id === ctx.self.id && !this.started.has(msg.file) && !this.restoring.has(msg.file)) {
      return ctx.note(`Dropped Store ${msg.file} in this peer's name: no such store was started here`, 'debug');
    }
    const key = ctx.space.keyOf(msg.file);
    const r = msg.final ? this.router.routeFinal(key) : this.router.route(key);
    if (r.accept) {
      // a peer that has said it leaves takes no new file: its first successor, told first (one
      // connection keeps their order), has already taken over its keys; before that, during
      // the hand-over, a store taken here is waited for and handed over with the rest
      // (with no successor left, the predecessor took the hand-over: the store goes there, marked
      // final, and walks back to the key's owner if that is not the predecessor)
      // a hand-over waits for at most MAX_TAKEN_WHILE_HANDING_OVER copies: stores beyond them (a
      // flood of forged ones would keep it waiting for ever) go on as if it had said it leaves
      const full = this.handingOver && this.takenWhileHandingOver >= MAX_TAKEN_WHILE_HANDING_OVER;
      const next = ctx.phase === 'leaving' || full ? (this.router.routable()[0] ?? this.router.predecessor()) : undefined;
      if (next) {
        ctx.trace({ kind: 'forwarded', op: 'store', file: msg.file, to: next.id, second: false, origin: false });
        return ctx.send(next, { ...msg, final: true, hops: msg.hops + 1 });
      }
      // leaving with no one to pass it to: taken, the copy would leave with this peer; unanswered,
      // the store fails at its origin and can be typed again
      if (ctx.phase === 'leaving') return ctx.note(`Dropped Store ${msg.file}: this peer is leaving and knows no peer to take it`, 'debug');
      const refused = ctx.origins.refuseToAct(msg, origin);
      if (refused) return ctx.trace({ kind: 'dropped', message: 'store', from: msg.origin.id, reason: refused, file: msg.file });
      if (this.handingOver) this.takenWhileHandingOver++;
      return this.acceptStore(msg.file, msg.origin);
    }
    ctx.trace({ kind: 'forwarded', op: 'store', file: msg.file, to: r.to.id, second: r.second, origin: false, ...(r.finger ? { finger: true } : {}) });
    ctx.send(r.to, { ...msg, final: r.final, hops: msg.hops + 1 });
  }

  private acceptStore(file: string, origin: Contact): void {
    const ctx = this.ctx;
    ctx.trace({ kind: 'store-accepted', file, origin: origin.id });
    // typed here: the file may have been put in the directory by hand since the start
    if (origin.id === ctx.self.id) {
      this.started.delete(file); // a store of ours that came back: taken here, it waits for no acceptance
      if (this.putOps.has(file)) {
        // a put's bytes are staged: a name held here already stays as it is
        if (this.keys.has(file)) return this.putEnded(file, { type: 'failed', code: 'CDHT_ERR_EXISTS', message: `${file} is stored already; stored files do not change` });
        this.op(this.putOps.get(file), { type: 'keep' });
      }
      if (this.typedHere.size < MAX_PENDING_STORES) this.typedHere.add(file);
      return this.check(file);
    }
    // stored files never change: a name held here already is not copied again (an empty storeId says
    // so); nor is one deleted lately, unless its publisher stores it again
    if (this.keys.has(file) || this.hooks.buried(file, origin)) {
      ctx.trace({ kind: 'store-unchanged', file });
      return ctx.send(origin, { type: 'store-accepted', from: ctx.self, file, storeId: '' });
    }
    this.prune();
    if (this.accepted.size < MAX_PENDING_STORES) this.accepted.set(`${origin.id}:${file}`, { origin, until: ctx.now + STORE_WAIT_MS });
    ctx.send(origin, { type: 'store-accepted', from: ctx.self, file, storeId: ctx.cfg.storeId });
  }

  onStoreAccepted(msg: MessageOf<'store-accepted'>, origin: Origin): void {
    const ctx = this.ctx;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'store-accepted', from: msg.from.id, reason: forged });
    this.prune();
    if (this.restoring.delete(msg.file)) {
      // a copy stored again through the ring: quietly, as the repair it is
      if (msg.storeId === '' || msg.storeId === ctx.cfg.storeId) return ctx.note(`Peer ${ctx.fmt(msg.from.id)} holds File ${msg.file}, which no neighbour would take from here`, 'debug');
      this.restoringPush.add(msg.file);
      return ctx.emit({ kind: 'push-file', name: msg.file, to: msg.from, purpose: 'store', rid: 0 });
    }
    if (!this.started.has(msg.file)) return ctx.note(`Ignored an acceptance of Store ${msg.file} from Peer ${ctx.fmt(msg.from.id)}: no such store was started here`, 'debug');
    this.started.delete(msg.file);
    ctx.trace({ kind: 'store-confirmed', file: msg.file, by: msg.from.id });
    // the owner reads the very same directory: a Store's file is there already (a put's bytes are
    // staged under another name, so they are copied like any other: the owner then holds them)
    if (msg.storeId === ctx.cfg.storeId && !this.putOps.has(msg.file)) return;
    if (msg.storeId === '') {
      this.putEnded(msg.file, { type: 'failed', code: 'CDHT_ERR_EXISTS', message: `Peer ${ctx.fmt(msg.from.id)} holds ${msg.file} already; stored files do not change` });
      return ctx.trace({ kind: 'store-unchanged', file: msg.file, holder: msg.from.id });
    }
    this.op(this.putOps.get(msg.file), { type: 'accepted', by: msg.from });
    ctx.emit({ kind: 'push-file', name: msg.file, to: msg.from, purpose: 'store', rid: 0 });
  }

  /**
   * A copy held here that is not ours and that no neighbour would take (a peer that took a Store
   * on the wrong side of a partition): stored again through the ring, so its owner takes it as a
   * Store from us, under the owner's own rules (a name it holds stays as it is).
   */
  restore(file: string): void {
    const ctx = this.ctx;
    for (const [f, at] of this.restoring) if (ctx.now - at > STORE_WAIT_MS) this.restoring.delete(f);
    if (this.restoring.has(file) || this.restoring.size >= MAX_PENDING_STORES) return;
    const r = this.router.route(ctx.space.keyOf(file));
    if (r.accept) return;
    this.restoring.set(file, ctx.now);
    ctx.note(`Storing File ${file} again through the ring: no neighbour would take the copy held here`, 'debug');
    ctx.send(r.to, { type: 'store', origin: ctx.self, file, final: r.final, hops: 1 });
  }

  /** Asks the shell for a name's size and SHA-256 (answered by onFileStat). */
  check(name: string): void {
    this.ctx.emit({ kind: 'stat-file', name });
  }

  /**
   * What a stat-file effect found: a held name gets its record filled in; a held name whose bytes
   * no longer match its record (changed on disk behind our back) is no longer held or served; a
   * name typed here and taken as its own owner becomes held.
   */
  onFileStat(name: string, size: number | undefined, sha256: Uint8Array | undefined): void {
    const ctx = this.ctx;
    const held = this.keys.get(name);
    const waiting = this.checking.get(name) ?? [];
    this.checking.delete(name);
    const bad = held && (size === undefined || (held.sha256 && sha256 && !sameBytes(held.sha256, sha256)) || (held.sha256 && size !== held.size));
    if (bad) {
      this.keys.delete(name);
      ctx.note(`File ${name} here no longer matches what was stored; it is not served from here any more`);
      for (const msg of waiting) this.fallBack(msg, msg.requester);
      return;
    }
    for (const msg of waiting) this.unserved(msg, 'the copy here is intact; the requester refused it');
    if (size === undefined) {
      if (this.typedHere.delete(name)) this.putEnded(name, { type: 'failed', code: 'CDHT_ERR_TRANSFER', message: `the bytes of ${name} could not be kept here` });
      return;
    }
    if (held) {
      if (!held.sha256 && sha256) this.keys.add({ name, size, sha256 }, held.ring);
      return;
    }
    if (!this.typedHere.has(name)) return;
    this.typedHere.delete(name);
    this.keys.add({ name, size, ...(sha256 ? { sha256 } : {}), publisher: this.ctx.self }, true); // taken here as the owner
    this.ctx.emit({ kind: 'remember', name, publisher: this.ctx.self });
    this.hooks.onHeld(name);
    this.putEnded(name, { type: 'stored', by: this.ctx.self });
  }

  onPushProgress(file: string, to: Contact, purpose: 'store' | 'replica', phase: 'start' | 'missing' | 'sent' | 'failed', error?: string, size?: number): void {
    if (phase === 'start' && size !== undefined && !this.keys.has(file) && !this.putOps.has(file)) this.keys.add({ name: file, size });
    if (purpose === 'store' && this.restoringPush.has(file)) {
      if (phase !== 'start') this.restoringPush.delete(file);
      if (phase === 'failed') this.ctx.note(`Storing File ${file} again at Peer ${this.ctx.fmt(to.id)} failed: ${error ?? 'unknown error'}`, 'debug');
    } else if (purpose === 'store') {
      this.ctx.trace({ kind: 'copy', file, to: to.id, phase, ...(error ? { error } : {}) });
      if (phase === 'sent') this.putEnded(file, { type: 'stored', by: to });
      else if (phase !== 'start') this.putEnded(file, { type: 'failed', code: transferCode(error), message: `the copy to Peer ${this.ctx.fmt(to.id)} failed: ${error ?? 'no such file here'}` });
    }
    else if (phase === 'sent') this.hooks.replicaArrived(file, to);
    else if (phase === 'failed' || phase === 'missing') {
      this.ctx.note(`Copying a replica of ${file} to Peer ${this.ctx.fmt(to.id)} failed: ${error ?? 'no such file'}`, 'debug');
      this.hooks.replicaFailed(file, to, error);
    }
  }

  // ---- Request ------------------------------------------------------------------------------

  /** A Request typed here, or the library's get (`op`; what arrives is saved as `saveAs`). */
  requestTyped(file: string, op?: number, saveAs?: string): void {
    const ctx = this.ctx;
    const r = this.router.route(ctx.space.keyOf(file));
    const held = this.keys.get(file);
    if (r.accept && op !== undefined && held) {
      // the line a Request typed here prints when this peer holds the name; the bytes are read here
      ctx.trace({ kind: 'serve', file, to: ctx.self.id, local: true, phase: 'start' });
      return this.op(op, { type: 'local', size: held.size, ...(held.sha256 ? { sha256: held.sha256 } : {}) });
    }
    if (r.accept && op === undefined) return this.serve({ type: 'file-request', requester: ctx.self, file, rid: 0, final: true, hops: 0, fallback: 0 });
    if (this.requests.size >= MAX_PENDING_REQUESTS) {
      if (op !== undefined) return this.opFailed(op, 'CDHT_ERR_BUSY', `${MAX_PENDING_REQUESTS} requests are in flight here`);
      return ctx.trace({ kind: 'command-refused', command: 'request', file, reason: 'busy' });
    }
    const rid = ctx.nonce();
    this.requests.set(rid, { file, receiving: false, until: ctx.now + ctx.cfg.requestTimeoutMs, busy: 0, ...(op !== undefined ? { op, saveAs: saveAs ?? ctx.space.receivedFileOf(file) } : {}) });
    if (r.accept) {
      // a get of a key this peer owns but does not hold: its replicas may (the owner came back, or took over)
      ctx.setTimer(`request:${rid}`, ctx.now + ctx.cfg.requestTimeoutMs);
      return this.fallBack({ type: 'file-request', requester: ctx.self, file, rid, final: true, hops: 0, fallback: ctx.cfg.replicas - 1 }, ctx.self);
    }
    ctx.setTimer(`request:${rid}`, ctx.now + ctx.cfg.requestTimeoutMs);
    ctx.trace({ kind: 'forwarded', op: 'request', file, to: r.to.id, second: r.second, origin: true, ...(r.finger ? { finger: true } : {}) });
    ctx.send(r.to, { type: 'file-request', requester: ctx.self, file, rid, final: r.final, hops: 1, fallback: ctx.cfg.replicas - 1 });
  }

  onRequestTimeout(rid: number): void {
    const req = this.requests.get(rid);
    if (!req || req.receiving) return;
    this.requests.delete(rid);
    this.ctx.cancelTimer(`request-retry:${rid}`);
    this.ctx.trace({ kind: 'request-timeout', file: req.file, seconds: this.ctx.cfg.requestTimeoutMs / 1000 });
    this.opFailed(req.op, 'CDHT_ERR_TIMEOUT', `no answer for ${req.file} in ${this.ctx.cfg.requestTimeoutMs / 1000} s`);
  }

  onFileRequest(msg: MessageOf<'file-request'>, origin: Origin): void {
    const ctx = this.ctx;
    if (msg.hops > MAX_HOPS) return ctx.note(`Dropped the request for File ${msg.file}: too many hops`, 'debug');
    const forged = ctx.origins.problem(msg, origin);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'file-request', from: msg.requester.id, reason: forged, file: msg.file });
    if (ctx.space.nameProblem(msg.file)) return ctx.note(`Dropped a request for an invalid name`, 'debug');
    // a final mark is taken as it is here: a read plants nothing, and a replica serving the
    // owner's fallback is exactly a peer that does not own the key
    const key = ctx.space.keyOf(msg.file);
    const r = msg.final ? ({ accept: true } as const) : this.router.route(key);
    if (r.accept) {
      const refused = ctx.origins.refuseToAct(msg, origin);
      if (refused) return ctx.trace({ kind: 'dropped', message: 'file-request', from: msg.requester.id, reason: refused, file: msg.file });
      return this.serve(msg);
    }
    ctx.trace({ kind: 'forwarded', op: 'request', file: msg.file, to: r.to.id, second: r.second, origin: false, ...(r.finger ? { finger: true } : {}) });
    ctx.send(r.to, { ...msg, final: r.final, hops: msg.hops + 1 });
  }

  /**
   * Answers a request that stops here: only a name the key store holds is served, with its
   * record (in the 8-bit mode, the four-digit file in the folder, as the specification has it);
   * anything else is missing here.
   */
  private serve(msg: MessageOf<'file-request'>): void {
    const ctx = this.ctx;
    // a peer on its way out would cut the transfer when it exits: its successor takes its keys over
    if ((this.handingOver || ctx.phase === 'leaving') && msg.requester.id !== ctx.self.id) {
      const next = this.router.routable().find((c) => c.id !== msg.requester.id);
      if (next) {
        ctx.note(`Leaving: the request for File ${msg.file} goes to Peer ${ctx.fmt(next.id)}, which takes over`, 'debug');
        return ctx.send(next, { ...msg, final: true, hops: msg.hops + 1 });
      }
    }
    const held = this.keys.get(msg.file);
    if (!held && !ctx.space.spec) return this.fallBack(msg, msg.requester);
    if (msg.requester.id !== ctx.self.id && this.tooBusy(msg.requester.id)) {
      ctx.note(`Busy serving ${this.streaming.size} files; told Peer ${ctx.fmt(msg.requester.id)} to ask for File ${msg.file} again`, 'debug');
      return ctx.send(msg.requester, { type: 'file-busy', from: ctx.self, file: msg.file, rid: msg.rid, retryAfterMs: BUSY_RETRY_AFTER_MS });
    }
    if (msg.requester.id !== ctx.self.id) this.streaming.set(`${msg.requester.id}:${msg.rid}`, msg.requester.id);
    if (this.serving.size >= MAX_SERVING) this.serving.delete(this.serving.keys().next().value!);
    this.serving.set(`${msg.requester.id}:${msg.rid}`, msg);
    ctx.emit({ kind: 'serve-file', name: msg.file, rid: msg.rid, to: msg.requester, ...(held?.sha256 ? { sha256: held.sha256 } : {}) });
  }

  /** The file is not here (or its copy went bad): the next successor holds a replica, if any is left to ask; else the requester hears so. */
  private fallBack(msg: MessageOf<'file-request'>, requester: Contact): void {
    const ctx = this.ctx;
    const file = msg.file;
    const local = requester.id === ctx.self.id;
    // never more replicas than this ring keeps: a forged count cannot walk a request round the ring;
    // none for a name deleted here lately (a replica that missed the delete must not serve it)
    const left = this.keys.tombstone(file, ctx.now) ? 0 : Math.min(msg.fallback, ctx.cfg.replicas - 1);
    const next = left > 0 ? this.router.routable().find((c) => c.id !== requester.id) : undefined;
    if (next) {
      ctx.note(`File ${file} is not here; asking Peer ${ctx.fmt(next.id)}, which keeps a replica`);
      return ctx.send(next, { ...msg, final: true, fallback: left - 1, hops: msg.hops + 1 });
    }
    ctx.trace({ kind: 'serve', file, to: requester.id, local, phase: 'missing', key: ctx.space.keyOf(file) });
    if (!local) return ctx.send(requester, { type: 'file-missing', from: ctx.self, file, rid: msg.rid });
    this.onFileMissing({ type: 'file-missing', from: ctx.self, file, rid: msg.rid });
  }

  /** A serve that failed: the file did not reach the requester. */
  private unserved(msg: MessageOf<'file-request'>, error: string): void {
    this.ctx.trace({ kind: 'serve', file: msg.file, to: msg.requester.id, local: false, phase: 'failed', error });
  }

  onServeProgress(file: string, rid: number, to: Contact, phase: 'start' | 'missing' | 'sent' | 'failed', error?: string, size?: number): void {
    const ctx = this.ctx;
    const local = to.id === ctx.self.id;
    const id = `${to.id}:${rid}`;
    const msg = this.serving.get(id);
    if (phase !== 'start') {
      this.serving.delete(id);
      this.streaming.delete(id);
    }
    // the specification's peers share one folder: a four-digit file put there by hand is served, and held from then on
    if (phase === 'start' && size !== undefined && ctx.space.spec && !this.keys.has(file)) {
      this.keys.add({ name: file, size });
      this.hooks.onHeld(file);
    }
    if (phase === 'failed' && msg && error?.includes(RECORD_MISMATCH)) {
      // the requester says our bytes do not match our record: check our own copy rather than take its word
      const list = this.checking.get(file) ?? [];
      if (list.length < MAX_CHECKS_WAITING) list.push(msg);
      if (!this.checking.has(file) && this.checking.size >= MAX_PENDING_STORES) return this.unserved(msg, error);
      this.checking.set(file, list);
      return this.check(file);
    }
    if (phase === 'missing' && msg) return this.fallBack(msg, to);
    ctx.trace({ kind: 'serve', file, to: to.id, local, phase, ...(phase === 'missing' ? { key: ctx.space.keyOf(file) } : {}), ...(error ? { error } : {}) });
    if (phase === 'missing' && !local) ctx.send(to, { type: 'file-missing', from: ctx.self, file, rid });
  }

  onFileMissing(msg: MessageOf<'file-missing'>): void {
    const req = this.requests.get(msg.rid);
    if (!req || req.file !== msg.file || req.receiving) return;
    this.requests.delete(msg.rid);
    this.ctx.cancelTimer(`request:${msg.rid}`);
    this.ctx.cancelTimer(`request-retry:${msg.rid}`);
    if (req.op === undefined) return this.ctx.trace({ kind: 'request-missing', file: msg.file, from: msg.from.id });
    // a get's miss is the program's to report (no spec line: the console did not ask)
    this.opFailed(req.op, 'CDHT_ERR_NOT_FOUND', `Peer ${this.ctx.fmt(msg.from.id)}, which owns the key of ${msg.file}, does not have it`);
  }

  /** Whether `name` is being served from here now (a Request's answer under way). */
  serves(name: string): boolean {
    for (const m of this.serving.values()) if (m.file === name) return true;
    return false;
  }

  /** Whether a new answer would go over the serving bounds (in all, or for this requester). */
  private tooBusy(requester: Id): boolean {
    if (this.streaming.size >= MAX_SERVING_FILES) return true;
    let mine = 0;
    for (const r of this.streaming.values()) if (r === requester) mine++;
    return mine >= MAX_SERVING_PER_REQUESTER;
  }

  /**
   * A holder (or our own endpoint, out of temporary space) said busy: ask the holder again after
   * a jittered, doubling back-off, or give up with one line when that would pass the deadline.
   */
  onFileBusy(msg: MessageOf<'file-busy'>, origin: Origin): void {
    const ctx = this.ctx;
    const req = this.requests.get(msg.rid);
    if (!req || req.file !== msg.file || req.receiving) return;
    const forged = impersonation(ctx, msg.from, origin.authId);
    if (forged) return ctx.trace({ kind: 'dropped', message: 'file-busy', from: msg.from.id, reason: forged });
    req.busy++;
    req.holder = msg.from;
    const backoff = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** Math.min(req.busy - 1, 16));
    // ±50 % so requesters turned away together do not all come back together
    const jitter = 0.5 + (ctx.random32() % 1000) / 1000;
    const delay = Math.round(Math.max(Math.min(msg.retryAfterMs, RETRY_MAX_MS), backoff) * jitter);
    // the retry's answer needs a moment to start arriving: no retry that could only time out
    if (ctx.now + delay + RETRY_ANSWER_MS >= req.until) {
      this.requests.delete(msg.rid);
      ctx.cancelTimer(`request:${msg.rid}`);
      ctx.cancelTimer(`request-retry:${msg.rid}`);
      ctx.trace({ kind: 'request-busy', file: msg.file, from: msg.from.id, tries: req.busy, seconds: ctx.cfg.requestTimeoutMs / 1000 });
      return this.opFailed(req.op, 'CDHT_ERR_BUSY', `Peer ${ctx.fmt(msg.from.id)} was busy ${req.busy} times`);
    }
    ctx.note(`Peer ${ctx.fmt(msg.from.id)} is busy; asking for File ${msg.file} again in ${(delay / 1000).toFixed(1)} s`);
    ctx.setTimer(`request-retry:${msg.rid}`, ctx.now + delay);
  }

  onRequestRetry(rid: number): void {
    const ctx = this.ctx;
    const req = this.requests.get(rid);
    if (!req || req.receiving || !req.holder) return;
    // straight to the holder that was busy, marked final: it takes the request as its own
    ctx.send(req.holder, { type: 'file-request', requester: ctx.self, file: req.file, rid, final: true, hops: 1, fallback: ctx.cfg.replicas - 1 });
  }

  // ---- incoming transfers -------------------------------------------------------------------

  /** Returns where to save an offered file and what it must match, or undefined to refuse it. */
  onFileOffer(h: FileBegin, origin: Origin): Acceptance | undefined {
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
        this.opFailed(req.op, 'CDHT_ERR_TOO_LARGE', tooBig);
        return refuseAloud(tooBig);
      }
      req.receiving = true;
      ctx.cancelTimer(`request:${h.rid}`);
      ctx.cancelTimer(`request-retry:${h.rid}`);
      ctx.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: 'request', phase: 'start', size: h.size });
      this.op(req.op, { type: 'receiving', rid: h.rid, size: h.size, from: h.from });
      return { saveAs: req.saveAs ?? ctx.space.receivedFileOf(h.file) };
    }
    // a stored name never changes: whatever copy is offered, one held here already stays
    if (this.keys.has(h.file)) return refuse('a file of that name is stored here already (stored files do not change)');
    if (h.purpose === 'replica') {
      const record = this.hooks.wantsReplica(h, origin);
      if (!record?.sha256) return refuse('no such replica was asked for (or not with this size and record)');
      if (this.receivingReplicas.size >= MAX_PENDING_STORES) this.receivingReplicas.delete(this.receivingReplicas.keys().next().value!);
      this.receivingReplicas.set(`${h.from.id}:${h.file}`, record);
      return { saveAs: ctx.space.fileOf(h.file), sha256: record.sha256, keep: true };
    }
    this.prune();
    const at = `${h.from.id}:${h.file}`;
    const s = this.accepted.get(at);
    const sameOrigin = s && sameAddress(s.origin, h.from) && (ctx.cfg.secure || origin.src.host === s.origin.host || isLoopback(origin.src.host));
    if (!s || !sameOrigin) return refuse(tooBig ?? 'no such store accepted');
    this.accepted.delete(at);
    if (tooBig) return refuseAloud(tooBig);
    this.receivingStores.set(h.file, s.origin);
    ctx.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: 'store', phase: 'start', size: h.size });
    return { saveAs: ctx.space.fileOf(h.file), keep: true };
  }

  onFileDone(h: FileBegin, ok: boolean, sha256: Uint8Array | undefined, error?: string, busy = false): void {
    const ctx = this.ctx;
    if (busy && h.purpose === 'request') {
      // our endpoint turned the offer away for want of temporary space: like a busy holder
      const req = this.requests.get(h.rid);
      if (!req || req.file !== h.file || req.receiving) return;
      return this.onFileBusy({ type: 'file-busy', from: h.from, file: h.file, rid: h.rid, retryAfterMs: BUSY_RETRY_AFTER_MS }, { via: 'tcp', src: ctx.self, authId: h.from.id });
    }
    if (busy) {
      // a replica's header was taken before the endpoint found no room: the same push comes again
      const wanted = h.purpose === 'replica' ? this.receivingReplicas.get(`${h.from.id}:${h.file}`) : undefined;
      if (wanted) {
        this.receivingReplicas.delete(`${h.from.id}:${h.file}`);
        this.hooks.replicaNotTaken(h, wanted);
      }
      return ctx.note(`Refused File ${h.file} from Peer ${ctx.fmt(h.from.id)}: ${error ?? 'busy'}`, 'debug');
    }
    if (h.purpose === 'request') {
      const req = this.requests.get(h.rid);
      if (!ok && req && error?.includes(RECORD_MISMATCH)) {
        // a holder whose copy went bad: it checks its copy and hands the request to a replica
        req.receiving = false;
        ctx.setTimer(`request:${h.rid}`, req.until);
        ctx.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: h.purpose, phase: 'failed', size: h.size, error: `${error}; waiting for another copy` });
        return;
      }
      this.requests.delete(h.rid);
      if (req?.op !== undefined) {
        if (ok) this.op(req.op, { type: 'received', from: h.from, size: h.size, ...(sha256 ? { sha256 } : {}) });
        else this.opFailed(req.op, error?.includes(RECORD_MISMATCH) ? 'CDHT_ERR_INTEGRITY' : 'CDHT_ERR_TRANSFER', `the transfer from Peer ${ctx.fmt(h.from.id)} failed: ${error ?? 'unknown error'}`);
      }
    }
    const wanted = h.purpose === 'replica' ? this.receivingReplicas.get(`${h.from.id}:${h.file}`) : undefined;
    const publisher = h.purpose === 'store' ? this.receivingStores.get(h.file) : wanted?.publisher;
    if (h.purpose === 'replica') this.receivingReplicas.delete(`${h.from.id}:${h.file}`);
    if (!ok && wanted) this.hooks.replicaNotTaken(h, wanted);
    const record = ok ? { name: h.file, size: h.size, ...(sha256 ? { sha256 } : {}), ...(publisher ? { publisher } : {}) } : undefined;
    if (record?.publisher) ctx.emit({ kind: 'remember', name: record.name, publisher: record.publisher });
    if (h.purpose === 'replica') {
      if (record) {
        this.keys.add(record, true);
        this.hooks.onHeld(h.file);
      }
      if (!ok) ctx.note(`A replica of ${h.file} from Peer ${ctx.fmt(h.from.id)} could not be received: ${error ?? 'transfer failed'}`, 'debug');
      return;
    }
    ctx.trace({ kind: 'receive', file: h.file, from: h.from.id, purpose: h.purpose, phase: ok ? 'done' : 'failed', size: h.size, ...(error ? { error } : {}) });
    if (h.purpose === 'store') this.receivingStores.delete(h.file);
    if (record && h.purpose === 'store') {
      this.keys.add(record, true);
      this.hooks.onHeld(h.file);
    }
  }
}

/** The error code of a copy that failed, by what the transport said. */
function transferCode(error: string | undefined): ErrorCode {
  if (error === undefined) return 'CDHT_ERR_TRANSFER';
  if (/exceeds the limit|over this peer's limit/.test(error)) return 'CDHT_ERR_TOO_LARGE';
  if (/stored here already|do not change/.test(error)) return 'CDHT_ERR_EXISTS';
  if (/unreachable|refused|timed out|no answer/i.test(error)) return 'CDHT_ERR_UNREACHABLE';
  return 'CDHT_ERR_TRANSFER';
}
