// The library's put, get, stat and lookup on a peer: each is one operation of the core (its
// Store and Request, with their outcome told by op events), driven here with its bytes, its
// AbortSignal, its deadline and its progress. The shell owns the files; the core the protocol.
// Above 8 bits the console's Store and Request call put and get (console-ops.ts); nothing here
// types a command line.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Contact } from '../core/contact.js';
import type { CoreEvent, OpEvent } from '../core/effects.js';
import { CdhtError } from '../core/errors.js';
import type { Id, IdSpace } from '../core/id-space.js';
import type { KeyInfo } from '../core/messages.js';
import type { LibraryFiles, Runtime } from '../transport/types.js';
import { VerifiedBytes } from './verified-bytes.js';
import type { ApiContact, DataApi, FileStat, GetFileResult, LookupResult, OpOptions, Progress, PutOptions, PutResult, PutSource } from './types.js';

/** What the operations need of their peer. */
export interface OpsHost {
  readonly space: IdSpace;
  readonly self: Contact;
  readonly runtime: Runtime;
  readonly replicas: number;
  readonly maxFileBytes: number;
  library(): LibraryFiles | undefined;
  inRing(): boolean;
  feed(ev: CoreEvent): void;
}

/** Operations under way at once on one peer; beyond, a call fails with CDHT_ERR_BUSY. */
export const MAX_OPERATIONS = 1024;
/** How often a put asks its holders again while copies are still on their way, for how long at most, and how often it looks the holders up again. */
const CONFIRM_EVERY_MS = 200;
/** The first of those pauses; each next one doubles, up to CONFIRM_EVERY_MS. */
const CONFIRM_FIRST_MS = 20;
const CONFIRM_WITHIN_MS = 60_000;
const RELOCATE_EVERY_ROUNDS = 5;
/** Tries of a get whose holder's transfer broke off, and the pause before the next (times the try). */
const GET_ATTEMPTS = 3;
const GET_RETRY_AFTER_MS = 250;
/** A lookup unanswered this long is asked again (its answer is a datagram), at most LOOKUP_TRIES times in all. */
const LOOKUP_HEDGE_MS = 2_000;
const LOOKUP_TRIES = 3;
/** Progress callbacks at most this often. */
const PROGRESS_EVERY_MS = 100;

/** Where a get's bytes are read from once they are here. */
interface Fetched {
  dir: 'store' | 'data';
  file: string;
  size: number;
  sha256?: Uint8Array;
}

interface Running {
  onEvent(ev: OpEvent): void;
}

/** A put from this peer, from staging to its owner's copy: what the peer's pushes and stats ask about. */
interface PutUnderway {
  /** The temporary name its bytes are staged under (what its push reads). */
  temp: string;
  /** Progress of its copy to the owner (`last`: the final report, never skipped). */
  sent(bytes: number, last?: boolean): void;
  /** Fires when the put is given up before the owner has the bytes: its copy is cut midway. */
  cancel: AbortController;
  /** The move of its staged bytes into place, when this peer keeps the name itself. */
  placing?: Promise<'placed' | 'exists'>;
  /** The owner holds the bytes: giving up now cuts nothing. */
  stored?: boolean;
}

const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex') : '');
const apiContact = (c: Contact): ApiContact => ({ id: c.id, host: c.host, port: c.port });

export class PeerOps implements DataApi {
  private nextOp = 1;
  private readonly running = new Map<number, Running>();
  /** stored name -> the put of it from this peer (one at a time per name). */
  private readonly puts = new Map<string, PutUnderway>();
  /** request id -> progress of the get receiving under it. */
  private readonly incoming = new Map<number, (bytes: number) => void>();

  constructor(private readonly host: OpsHost) {}

  // ---- what the peer tells the operations -------------------------------------------------------

  onEvent(op: number, ev: OpEvent): void {
    this.running.get(op)?.onEvent(ev);
  }
  /** The file a push of `name` reads: its put's staged bytes while they wait, else the stored name. */
  fileToSend(name: string): string {
    return this.puts.get(name)?.temp ?? this.host.space.fileOf(name);
  }
  /** A stat of `name` waits for its put's bytes to be moved into place. */
  placed(name: string): Promise<unknown> {
    return this.puts.get(name)?.placing ?? Promise.resolve();
  }
  progressIn(rid: number, bytes: number): void {
    this.incoming.get(rid)?.(bytes);
  }
  progressOut(name: string, bytes: number): void {
    this.puts.get(name)?.sent(bytes);
  }
  /** Fires when the put whose copy of `name` goes out now is given up: the copy is cut, so its owner keeps nothing. */
  cancelOf(name: string): AbortSignal | undefined {
    return this.puts.get(name)?.cancel.signal;
  }

  // ---- the operations ---------------------------------------------------------------------------

  put(name: string, source: PutSource, options: PutOptions = {}): Promise<PutResult> {
    return this.within(options, (o) => this.putWithin(name, source, o));
  }

  private async putWithin(name: string, source: PutSource, options: PutOptions): Promise<PutResult> {
    const lib = this.ready(name, options);
    // a second put of one name from here would take the first one's staged bytes: one at a time,
    // refused before a byte of it is read
    if (this.puts.has(name)) throw new CdhtError('CDHT_ERR_BUSY', `a put of ${name} from this peer is under way`);
    const reading = throttled(options.onProgress, 'reading');
    const progress = throttled(options.onProgress, 'sending');
    let total: number | undefined;
    const put: PutUnderway = { temp: `.cdht-put-${randomBytes(8).toString('hex')}`, sent: (b, last) => progress(b, total, last), cancel: new AbortController() };
    this.puts.set(name, put);
    try {
      const staged = await lib.write('store', put.temp, untilAborted(bytesOf(source), options.signal), {
        maxBytes: this.host.maxFileBytes,
        ...(options.signal ? { signal: options.signal } : {}),
        onBytes: (n) => reading(n, undefined),
      });
      total = staged.size;
      return await this.store(name, staged, put, options);
    } finally {
      if (!put.stored) put.cancel.abort();
      this.puts.delete(name);
      if ((await put.placing?.catch(() => 'exists')) !== 'placed') await lib.remove('store', put.temp).catch(() => undefined);
    }
  }

  /** The staged bytes of a put go to the key's owner (or into place here), then their copies are counted. */
  private async store(
    name: string,
    staged: { size: number; sha256: Uint8Array },
    put: PutUnderway,
    options: PutOptions,
  ): Promise<PutResult> {
    const lib = this.host.library()!;
    try {
      const by = await this.operation<Contact>((op) => this.host.feed({ type: 'put', op, name, now: this.host.runtime.now() }), options, (ev, done) => {
        if (ev.type === 'keep') put.placing = lib.place(put.temp, name);
        else if (ev.type === 'stored') done(ev.by);
      });
      if ((await put.placing) === 'exists') throw new CdhtError('CDHT_ERR_EXISTS', `${name} is stored already; stored files do not change`);
      put.stored = true;
      put.sent(staged.size, true);
      return await this.confirm(name, staged, by, options);
    } catch (err) {
      // a put of bytes already stored under the name is done already: the same result, not an error
      if (!(err instanceof CdhtError && err.code === 'CDHT_ERR_EXISTS')) throw err;
      const st = await this.statWithin(name, options).catch(() => null);
      if (!st || st.sha256 !== hex(staged.sha256) || !st.holders[0]) throw err;
      return await this.confirm(name, staged, st.holders[0], options);
    }
  }

  get(name: string, options: OpOptions = {}): Readable {
    // destroying the stream stops the get at once, even while it waits for the holder's next bytes
    const { signal, stop } = stoppable(options.signal);
    const it = this.bytes(name, { ...options, signal });
    let pulling = false;
    return new Readable({
      read() {
        if (pulling) return;
        pulling = true;
        it.next().then(
          (r) => {
            pulling = false;
            if (!this.destroyed) this.push(r.done ? null : r.value);
          },
          (err: unknown) => {
            pulling = false;
            this.destroy(err as Error);
          },
        );
      },
      destroy(err, cb) {
        stop(new CdhtError('CDHT_ERR_ABORTED', 'the stream was destroyed'));
        it.return(undefined).then(
          () => cb(err),
          (e: unknown) => cb(err ?? (e as Error)),
        );
      },
    });
  }

  async getBuffer(name: string, options: OpOptions = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this.bytes(name, options)) parts.push(Buffer.from(c));
    return Buffer.concat(parts);
  }

  async getFile(name: string, path: string, options: OpOptions = {}): Promise<GetFileResult> {
    const part = `${path}.part-${randomBytes(6).toString('hex')}`;
    const fh = await open(part, 'wx').catch((err: NodeJS.ErrnoException) => {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `cannot write beside ${path}: ${err.code ?? err.message}`, { cause: err });
    });
    let size = 0;
    const hash = createHash('sha256');
    try {
      for await (const c of this.bytes(name, options)) {
        await fh.write(c);
        hash.update(c);
        size += c.length;
      }
      await fh.close();
      await rename(part, path);
    } catch (err) {
      await fh.close().catch(() => undefined);
      await unlink(part).catch(() => undefined);
      throw err;
    }
    return { name, path, size, sha256: hash.digest('hex') };
  }

  stat(name: string, options: OpOptions = {}): Promise<FileStat | null> {
    return this.within(options, (o) => this.statWithin(name, o));
  }

  private async statWithin(name: string, options: OpOptions): Promise<FileStat | null> {
    this.ready(name, options);
    const key = this.host.space.keyOf(name);
    const owner = await this.lookupContact(key, options);
    const asked = [owner.owner, ...owner.successors.slice(0, Math.max(0, this.host.replicas - 1))];
    const answers = await Promise.all(asked.map((c) => this.holds(c, name, options).catch(() => undefined)));
    const holders = answers.flatMap((a) => (a?.record ? [{ from: a.from, record: a.record }] : []));
    if (holders.length === 0) return null;
    const best = holders.find((h) => h.record.sha256) ?? holders[0]!;
    return { name, key, size: best.record.size, sha256: hex(best.record.sha256), holders: holders.map((h) => apiContact(h.from)) };
  }

  async has(name: string, options: OpOptions = {}): Promise<boolean> {
    return (await this.stat(name, options)) !== null;
  }

  async lookup(key: bigint | number, options: OpOptions = {}): Promise<LookupResult> {
    const k = BigInt(key);
    if (!this.host.space.isId(k)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `key must be an id of the ${this.host.space.bits}-bit space (got ${key})`);
    this.ready(undefined, options);
    const r = await this.within(options, (o) => this.lookupContact(k, o));
    return { key: k, owner: apiContact(r.owner), hops: r.hops, successors: r.successors.map(apiContact), path: r.path };
  }

  /** Resolves once the owner has deleted the name and no replica holder answers that it still holds it. */
  delete(name: string, options: OpOptions = {}): Promise<void> {
    return this.within(options, async (o) => {
      this.ready(name, o);
      await this.operation<void>((op) => this.host.feed({ type: 'delete', op, name, now: this.host.runtime.now() }), o, (ev, done) => {
        if (ev.type === 'deleted') done();
      });
      // the replica holders drop their copies once they have checked with the owner
      const rt = this.host.runtime;
      const until = rt.now() + CONFIRM_WITHIN_MS;
      for (;;) {
        const st = await this.statWithin(name, o);
        if (!st) return;
        if (rt.now() > until) throw new CdhtError('CDHT_ERR_TIMEOUT', `${name} is deleted at its owner, but ${st.holders.length} replica holders still answer that they hold it (the owner keeps telling them for 10 minutes)`);
        await this.pause(CONFIRM_EVERY_MS, o);
      }
    });
  }

  // ---- the parts ---------------------------------------------------------------------------------

  /** Runs a whole call under one deadline (see deadline). */
  private async within<T>(options: OpOptions, run: (o: OpOptions) => Promise<T>): Promise<T> {
    const scope = this.deadline(options);
    try {
      return await run(scope.options);
    } catch (err) {
      throw scope.map(err);
    } finally {
      scope.end();
    }
  }

  /**
   * timeoutMs bounds a whole call, every step of it (a put's source, its store, each holds query),
   * not each step anew: the caller's signal and the deadline become one signal the steps take, and
   * an abort by the deadline is reported as CDHT_ERR_TIMEOUT.
   */
  private deadline(options: OpOptions): { options: OpOptions; end(): void; map(e: unknown): unknown } {
    const ms = options.timeoutMs;
    if (ms === undefined) return { options, end: () => undefined, map: (e) => e };
    const rt = this.host.runtime;
    const ac = new AbortController();
    const timeout = new CdhtError('CDHT_ERR_TIMEOUT', `no result in ${ms} ms`);
    const outer = options.signal;
    const onAbort = (): void => ac.abort(outer!.reason);
    if (outer?.aborted) ac.abort(outer.reason);
    else outer?.addEventListener('abort', onAbort, { once: true });
    const timer = rt.setTimer(ms, () => ac.abort(timeout));
    const { timeoutMs: _, ...rest } = options;
    return {
      options: { ...rest, signal: ac.signal },
      end: () => {
        rt.clearTimer(timer);
        outer?.removeEventListener('abort', onAbort);
      },
      map: (e) => (ac.signal.reason === timeout && !outer?.aborted && isAbort(e) ? timeout : e),
    };
  }

  // ---- the steps --------------------------------------------------------------------------------

  /** The checks every call begins with: a library, a valid name, a peer in its ring, no abort yet. */
  private ready(name: string | undefined, options: OpOptions): LibraryFiles {
    const lib = this.host.library();
    if (options.signal?.aborted) throw abortedBy(options.signal);
    if (name !== undefined) {
      const problem = this.host.space.nameProblem(name);
      if (problem) throw new CdhtError('CDHT_ERR_NAME', problem);
    }
    if (!this.host.inRing() || !lib) throw new CdhtError('CDHT_ERR_NOT_IN_RING', `Peer ${this.host.space.format(this.host.self.id)} is not in a ring`);
    return lib;
  }

  /**
   * Runs one core operation: `start` feeds it under a fresh number, `step` sees its events and
   * calls `done` with the result. A failed event or the signal ends it (the core is told, so it
   * forgets the operation and takes nothing more for it); a deadline comes as the signal (within).
   */
  private operation<T>(start: (op: number) => void, options: OpOptions, step: (ev: OpEvent, done: (v: T) => void) => void): Promise<T> {
    if (this.running.size >= MAX_OPERATIONS) return Promise.reject(new CdhtError('CDHT_ERR_BUSY', `${MAX_OPERATIONS} operations are under way on this peer`));
    const op = this.nextOp++;
    const rt = this.host.runtime;
    return new Promise<T>((resolve, reject) => {
      const end = (): void => {
        this.running.delete(op);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (err: CdhtError): void => {
        end();
        this.host.feed({ type: 'cancel', op, now: rt.now() });
        reject(err);
      };
      const onAbort = (): void => fail(abortedBy(options.signal!));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.running.set(op, {
        onEvent: (ev) => {
          if (ev.type === 'failed') {
            end();
            return reject(new CdhtError(ev.code, ev.message));
          }
          step(ev, (v) => {
            end();
            resolve(v);
          });
        },
      });
      start(op);
    });
  }

  /**
   * Who owns `key`. The owner answers by datagram, which can be lost, and the core waits a whole
   * request timeout before it gives a lookup up: so another lookup goes out every LOOKUP_HEDGE_MS
   * while none has answered, LOOKUP_TRIES at most, and the first answer wins.
   */
  private lookupContact(key: Id, options: OpOptions): Promise<{ owner: Contact; hops: number; successors: Contact[]; path: Id[] }> {
    type Owner = { owner: Contact; hops: number; successors: Contact[]; path: Id[] };
    const rt = this.host.runtime;
    return new Promise<Owner>((resolve, reject) => {
      const tries: AbortController[] = [];
      let failed = 0;
      let settled = false;
      let timer: unknown;
      const finish = (): void => {
        settled = true;
        if (timer !== undefined) rt.clearTimer(timer);
        options.signal?.removeEventListener('abort', onAbort);
        for (const t of tries) t.abort();
      };
      const onAbort = (): void => {
        if (settled) return;
        finish();
        reject(abortedBy(options.signal!));
      };
      const attempt = (): void => {
        if (settled || tries.length >= LOOKUP_TRIES) return;
        if (timer !== undefined) rt.clearTimer(timer);
        timer = undefined;
        const ac = new AbortController();
        tries.push(ac);
        const { signal: _, ...rest } = options;
        this.operation<Owner>((op) => this.host.feed({ type: 'lookup', key, op, now: rt.now() }), { ...rest, signal: ac.signal }, (ev, done) => {
          if (ev.type === 'owner') done(ev);
        }).then(
          (r) => {
            if (settled) return;
            finish();
            resolve(r);
          },
          (err: unknown) => {
            if (settled || ac.signal.aborted) return;
            if (++failed >= LOOKUP_TRIES || !(err instanceof CdhtError && err.code === 'CDHT_ERR_TIMEOUT')) {
              finish();
              return reject(err);
            }
            if (tries.length - failed === 0) attempt();
          },
        );
        if (tries.length < LOOKUP_TRIES) timer = rt.setTimer(LOOKUP_HEDGE_MS, attempt);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      attempt();
    });
  }

  private holds(to: Contact, name: string, options: OpOptions): Promise<{ from: Contact; record?: KeyInfo; successors: Contact[] }> {
    return this.operation((op) => this.host.feed({ type: 'holds', op, to, name, now: this.host.runtime.now() }), options, (ev, done) => {
      if (ev.type === 'holds') done(ev);
    });
  }

  /**
   * Counts the copies of a put: the owner and its first successors are asked whether they hold
   * the name with these very bytes, again every CONFIRM_EVERY_MS, until enough say so.
   */
  private async confirm(name: string, staged: { size: number; sha256: Uint8Array }, by: Contact, options: PutOptions): Promise<PutResult> {
    const key = this.host.space.keyOf(name);
    const rt = this.host.runtime;
    const since = rt.now();
    let located = await this.lookupContact(key, options);
    // the peer that took the store is the owner, until a later lookup says who owns the key now
    let owner = located.owner.id === by.id ? located.owner : by;
    const same = (r: KeyInfo | undefined) => !!r && r.size === staged.size && (!r.sha256 || Buffer.from(r.sha256).equals(staged.sha256));
    const confirmed = new Map<Id, Contact>();
    for (let round = 1; ; round++) {
      const wanted = Math.max(1, Math.min(options.copies ?? this.host.replicas, this.host.replicas, 1 + located.successors.length));
      const targets = [owner, ...located.successors.filter((c) => c.id !== owner.id).slice(0, wanted - 1)];
      const asked = targets.filter((c) => !confirmed.has(c.id));
      const answers = await Promise.all(asked.map((c) => this.holds(c, name, options).catch((e: unknown) => (isAbort(e) ? Promise.reject(e) : undefined))));
      for (const a of answers) if (a && same(a.record)) confirmed.set(a.from.id, a.from);
      const holders = targets.filter((c) => confirmed.has(c.id));
      if (holders.length >= wanted) return { name, key, size: staged.size, sha256: hex(staged.sha256), holders: holders.map(apiContact), hops: located.hops };
      if (rt.now() - since > CONFIRM_WITHIN_MS) throw new CdhtError('CDHT_ERR_TIMEOUT', `${holders.length} of ${wanted} copies of ${name} confirmed in ${CONFIRM_WITHIN_MS / 1000} s`);
      // copies usually land within a few ms of the owner's: ask again soon, then less often
      await this.pause(Math.min(CONFIRM_EVERY_MS, CONFIRM_FIRST_MS * 2 ** (round - 1)), options);
      // a holder that died is replaced once the ring repairs: ask who holds the key now, now and then
      if (round % RELOCATE_EVERY_ROUNDS === 0) {
        const now = await this.lookupContact(key, options).catch((e: unknown) => (isAbort(e) ? Promise.reject(e) : undefined));
        if (now) [located, owner] = [now, now.owner];
      }
    }
  }

  private pause(ms: number, options: OpOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const rt = this.host.runtime;
      const t = rt.setTimer(ms, () => {
        options.signal?.removeEventListener('abort', stop);
        resolve();
      });
      const stop = (): void => {
        rt.clearTimer(t);
        reject(abortedBy(options.signal!));
      };
      options.signal?.addEventListener('abort', stop, { once: true });
    });
  }

  /**
   * One try at a get: the core's get operation, saving a holder's transfer under a fresh temporary
   * name. `next` tells what happened since it was last asked: a (newer) transfer has begun (the
   * core hands the request on to another holder when a copy fails its check), or the operation is
   * over (its result, or its error thrown). `close` ends what is left of it: the operation, the
   * transfer at the holder, the temporary file.
   */
  private fetch(name: string, lib: LibraryFiles, options: OpOptions, progress: (b: number, total: number | undefined) => void): Fetch {
    const temp = `.cdht-get-${randomBytes(8).toString('hex')}`;
    const { signal, stop } = stoppable(options.signal);
    let rid: number | undefined;
    let begun: number | undefined;
    let wake: (() => void) | undefined;
    let over = false;
    let ok = false;
    let ended: Promise<void> | undefined;
    const result = this.operation<Fetched>((op) => this.host.feed({ type: 'get', op, name, saveAs: temp, now: this.host.runtime.now() }), { ...options, signal }, (ev, done) => {
      if (ev.type === 'receiving') {
        if (rid !== undefined) this.incoming.delete(rid);
        rid = begun = ev.rid;
        this.incoming.set(ev.rid, (b) => progress(b, ev.size));
        wake?.();
      } else if (ev.type === 'received') done({ dir: 'data', file: temp, size: ev.size, ...(ev.sha256 ? { sha256: ev.sha256 } : {}) });
      else if (ev.type === 'local') done({ dir: 'store', file: this.host.space.fileOf(name), size: ev.size, ...(ev.sha256 ? { sha256: ev.sha256 } : {}) });
    });
    const settled = result.then(
      () => {
        over = ok = true;
      },
      () => {
        over = true;
        // a reader of the transfer's file stops now
        if (rid !== undefined) ended = lib.abortIncoming(rid, 'the get was given up').catch(() => undefined);
      },
    );
    return {
      next: async () => {
        for (;;) {
          if (over) return { type: 'done', from: await result };
          if (begun !== undefined) {
            const r = begun;
            begun = undefined;
            return { type: 'receiving', rid: r };
          }
          await Promise.race([settled, new Promise<void>((r) => (wake = r))]);
          wake = undefined;
        }
      },
      close: async () => {
        stop(new CdhtError('CDHT_ERR_ABORTED', 'the get was given up'));
        await settled;
        // a transfer cut while it checked its last bytes may still be put in place: removed after
        await ended;
        if (rid !== undefined) this.incoming.delete(rid);
        if (!ok || (await result).dir === 'data') await lib.remove('data', temp).catch(() => undefined);
      },
    };
  }

  /**
   * The bytes of a get, as they are read: from this peer's own store when it holds the name, else
   * from a holder's transfer as it fills its temporary file. Every source is checked whole against
   * the record before its last bytes go out, so the stream never ends on bytes that did not match.
   * A transfer that breaks is tried again (from another holder, once the ring routes round a dead
   * one) from its first byte; what was streamed already must match the new bytes. Ending early, by
   * the signal or by the consumer, closes the transfer and removes what it left.
   */
  private async *bytes(name: string, outer: OpOptions): AsyncGenerator<Uint8Array> {
    const scope = this.deadline(outer);
    try {
      yield* this.bytesWithin(name, scope.options);
    } catch (err) {
      throw scope.map(err);
    } finally {
      scope.end();
    }
  }

  private async *bytesWithin(name: string, options: OpOptions): AsyncGenerator<Uint8Array> {
    const lib = this.ready(name, options);
    const progress = throttled(options.onProgress, 'receiving');
    // a retry starts its transfer again from 0: progress only ever reports more than before
    let shown = 0;
    const forward = (b: number, total: number | undefined, last?: boolean): void => {
      if (b < shown) return;
      shown = b;
      progress(b, total, last);
    };
    const check = new VerifiedBytes(name);
    for (let attempt = 1; ; attempt++) {
      const f = this.fetch(name, lib, options, forward);
      let failure: unknown;
      try {
        yield* this.fromFetch(f, lib, check, options, forward);
        return;
      } catch (err) {
        failure = isAbort(err) && options.signal?.aborted ? abortedBy(options.signal) : err;
      } finally {
        await f.close();
      }
      // the holder's stream broke (it died or left mid-transfer): the ring routes round it, a replica
      // serves the next try; a copy that failed its check after bytes went out is tried again too
      const code = failure instanceof CdhtError ? failure.code : undefined;
      const again = code === 'CDHT_ERR_TRANSFER' || (code === 'CDHT_ERR_INTEGRITY' && check.handedOn > 0 && !check.broken);
      if (!again || attempt >= GET_ATTEMPTS) throw failure;
      await this.pause(GET_RETRY_AFTER_MS * attempt, options);
    }
  }

  /** The bytes of one try, each source read from its first byte, the last held back until the whole matched. */
  private async *fromFetch(f: Fetch, lib: LibraryFiles, check: VerifiedBytes, options: OpOptions, forward: (b: number, total: number | undefined, last?: boolean) => void): AsyncGenerator<Uint8Array> {
    const drain = async function* (source: AsyncIterable<Uint8Array>, total?: number): AsyncGenerator<Uint8Array> {
      check.restart();
      for await (const c of source) {
        if (options.signal?.aborted) throw abortedBy(options.signal);
        const out = check.take(c);
        if (total !== undefined) forward(check.read, total);
        if (out) yield out;
      }
    };
    // nothing of an earlier try's source counts for this one (what was streamed is kept in `check`)
    check.restart();
    for (;;) {
      const news = await f.next();
      // a holder's transfer: its file is read as it fills; it ends when every byte is in, or when it failed
      if (news.type === 'receiving') {
        yield* drain(lib.readIncoming(news.rid, options.signal));
        continue;
      }
      const from = news.from;
      if (from.dir === 'store') {
        // a copy read from this peer's own store is checked as it goes: bad bytes end the stream with an error
        yield* drain(lib.read('store', from.file, options.signal), from.size);
        if (!check.matches(from.size, from.sha256)) throw check.mismatch('here');
      } else if (!check.matches(from.size, from.sha256)) {
        // the transfer was not read whole as it came (it was over before its reader looked): the file it left
        yield* drain(lib.read('data', from.file, options.signal));
        if (!check.matches(from.size, from.sha256)) throw check.mismatch('received');
      }
      const last = check.last();
      if (last) yield last;
      forward(from.size, from.size, true);
      return;
    }
  }
}

/** One try at a get (see PeerOps.fetch). */
interface Fetch {
  next(): Promise<{ type: 'receiving'; rid: number } | { type: 'done'; from: Fetched }>;
  close(): Promise<void>;
}

function abortedBy(signal: AbortSignal): CdhtError {
  return new CdhtError('CDHT_ERR_ABORTED', 'the operation was aborted', { cause: signal.reason });
}

/**
 * A signal that fires with `outer` or when `stop` is called (which also lets go of `outer`):
 * AbortSignal.any without its Node 20.3 floor, and nothing left on a long-lived outer signal.
 */
function stoppable(outer: AbortSignal | undefined): { signal: AbortSignal; stop(reason: unknown): void } {
  const ac = new AbortController();
  const follow = (): void => ac.abort(outer!.reason);
  if (outer?.aborted) ac.abort(outer.reason);
  else outer?.addEventListener('abort', follow, { once: true });
  return {
    signal: ac.signal,
    stop: (reason) => {
      outer?.removeEventListener('abort', follow);
      ac.abort(reason);
    },
  };
}

function isAbort(e: unknown): boolean {
  return (e instanceof CdhtError && e.code === 'CDHT_ERR_ABORTED') || (e instanceof Error && e.name === 'AbortError');
}

/**
 * The source's chunks, ending with CDHT_ERR_ABORTED as soon as the signal fires, even while the
 * source is stalled between chunks (a writer that waits for its next chunk would never see it).
 */
async function* untilAborted(source: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  if (!signal) return yield* source;
  const it = source[Symbol.asyncIterator]();
  let onAbort!: () => void;
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortedBy(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => undefined);
  let finished = false;
  try {
    for (;;) {
      const r = await Promise.race([it.next(), stopped]);
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    // not awaited: a stalled source's return() waits for its pending next() for ever
    if (!finished) void Promise.resolve(it.return?.()).catch(() => undefined);
  }
}

/** A put's source as bytes, read as they are consumed. */
function bytesOf(source: PutSource): AsyncIterable<Uint8Array> {
  if (typeof source === 'string' || source instanceof Uint8Array) {
    const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
    return (async function* () {
      yield bytes;
    })();
  }
  if (typeof source === 'object' && source !== null && 'path' in source && typeof source.path === 'string') return createReadStream(source.path);
  if (typeof source === 'object' && source !== null && Symbol.asyncIterator in source) {
    return (async function* () {
      for await (const c of source as AsyncIterable<Uint8Array | string>) yield typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
    })();
  }
  throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'put takes bytes, a string, a stream or async iterable of bytes, or { path }');
}

/** onProgress at most every PROGRESS_EVERY_MS (the last call always goes through). */
function throttled(cb: OpOptions['onProgress'], phase: Progress['phase']): (bytes: number, total: number | undefined, last?: boolean) => void {
  let at = 0;
  return (bytes, total, last = false) => {
    if (!cb) return;
    const now = Date.now();
    if (!last && now - at < PROGRESS_EVERY_MS) return;
    at = now;
    try {
      cb(total === undefined ? { phase, bytes } : { phase, bytes, total });
    } catch {
      // a throwing callback must not break the operation
    }
  };
}
