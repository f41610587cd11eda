// One PeerCore driven by hand, for unit tests of the core's storage modules: a clock the test
// moves, an in-memory disk that takes the core's file effects, and ring neighbours that answer
// its pings as a settled ring would. No sockets, no timers, no wall clock: every step is a call.
import type { Contact, Target } from '../../src/core/contact.js';
import { defaultContact } from '../../src/space.js';
import type { CoreEvent, Effect, OpEvent } from '../../src/core/effects.js';
import { SPEC_SPACE, type IdSpace } from '../../src/core/id-space.js';
import type { FileBegin, KeyInfo, Message, MessageOf } from '../../src/core/messages.js';
import type { Origin } from '../../src/core/origin.js';
import { PeerCore, type CoreConfig } from '../../src/core/peer-core.js';
import { renderTrace, type Trace } from '../../src/core/trace.js';

/** Timers fired in one run() before it gives up on a core that keeps re-arming at the same instant. */
const MAX_TIMER_STEPS = 100_000;

export const peer = (id: number): Contact => defaultContact(BigInt(id));
/** A connection from `c`'s own address (its port is the connection's, not the listening one). */
export const over = (c: Contact, host = c.host): Origin => ({ via: 'tcp', src: { host, port: 50_000 + Number(c.id) } });

export interface HandCoreOptions {
  id: number;
  /** Every peer of the ring, this one included: the others answer pings with their true successors. */
  ring: number[];
  files?: KeyInfo[];
  deleted?: { name: string; sha256: Uint8Array; at: number }[];
  config?: Partial<CoreConfig>;
  /** The id space (default the specification's 8 bits). */
  space?: IdSpace;
  /**
   * Every message the harness delivers by shorthand (receive with 'tcp' or 'udp', the ring's
   * pongs, heartbeat) carries the id it names as proven (Origin.authId), as a private ring's
   * transport does. Off by default: without it a private ring's core hears no one.
   */
  proven?: boolean;
}

export class HandCore {
  now = 0;
  readonly core: PeerCore;
  /** name -> what the data folder holds: the start's files, less what the core deletes. */
  readonly disk = new Map<string, KeyInfo>();
  /** What the core asked to keep across restarts (a deleted name's bytes and time). */
  readonly remembered: Extract<Effect, { kind: 'remember' }>[] = [];
  readonly sent: { to: Target; msg: Message }[] = [];
  readonly ops: { op: number; event: OpEvent }[] = [];
  readonly lines: string[] = [];
  readonly effects: Effect[] = [];
  readonly space: IdSpace;
  /** Ring peers that stopped answering pings (killed, or cut off): still named by the others until setRing says otherwise. */
  readonly mute = new Set<number>();
  private readonly timers = new Map<string, number>();
  private sorted: number[];
  private nonce = 1000;

  constructor(readonly opts: HandCoreOptions) {
    this.space = opts.space ?? SPEC_SPACE;
    this.sorted = [...opts.ring].sort((a, b) => a - b);
    for (const f of opts.files ?? []) this.disk.set(f.name, f);
    this.core = new PeerCore({
      self: peer(opts.id),
      space: this.space,
      mode: { kind: 'init', successors: [this.next(opts.id, 1), this.next(opts.id, 2)].map(peer) },
      pingIntervalMs: 1000,
      pingMisses: 3,
      storeId: `peer-${opts.id}`,
      random32: () => this.nonce++,
      ...opts.config,
    });
    this.feed({ type: 'start', now: 0, files: opts.files ?? [], deleted: opts.deleted ?? [] });
    this.heartbeat();
  }

  /** Both predecessors ping us, as a settled ring's do (a predecessor not heard for a few probes is forgotten). */
  heartbeat(): void {
    const id = this.opts.id;
    this.receive({ type: 'ping', from: peer(this.next(id, -1)), seq: 1, role: 1, loud: false }, 'udp');
    this.receive({ type: 'ping', from: peer(this.next(id, -2)), seq: 1, role: 2, loud: false }, 'udp');
  }

  /** The ring changes (peers join or leave): pings are answered, and heartbeat() sent, as this ring's peers would. */
  setRing(ring: number[]): void {
    this.sorted = [...ring].sort((a, b) => a - b);
  }

  /** The ring's peer `steps` places clockwise (negative: anticlockwise) from `id`. */
  next(id: number, steps: number): number {
    const n = this.sorted.length;
    return this.sorted[(((this.sorted.indexOf(id) + steps) % n) + n) % n]!;
  }

  feed(ev: CoreEvent): Effect[] {
    const effects = this.core.handle(ev);
    for (const e of effects) this.apply(e);
    return effects;
  }

  /**
   * `msg` arrives from its sender: over a connection from its address, or as a datagram (with
   * `proven`, proven to come from the peer it names); or from exactly `via`.
   */
  receive(msg: Message, via: 'tcp' | 'udp' | Origin = 'tcp'): Effect[] {
    const from = (msg as { from: Contact }).from;
    const made: Origin = typeof via === 'object' ? via : via === 'tcp' ? over(from) : { via: 'udp', src: { host: from.host, port: from.port } };
    // on a private ring a sender proves who it is: the shorthand proves the id the message names
    const origin: Origin = typeof via !== 'object' && this.opts.proven && from ? { ...made, authId: from.id } : made;
    return this.feed({ type: 'receive', msg, origin, now: this.now });
  }

  /**
   * A file arrives with this header: the core's answer to the offer (where to save it and what it
   * must match, or undefined: refused), then, when taken, the transfer's end with `sha256`, the
   * file landing on the disk under the name it was sent as when it is a stored copy.
   */
  fileArrives(header: FileBegin, sha256: Uint8Array, origin: Origin = over(header.from)): Extract<Effect, { kind: 'accept-file' }> | undefined {
    const accepted = this.feed({ type: 'file-offer', header, origin, now: this.now }).find((e): e is Extract<Effect, { kind: 'accept-file' }> => e.kind === 'accept-file');
    if (!accepted) return undefined;
    const ok = !accepted.sha256 || accepted.sha256.every((b, i) => b === sha256[i]);
    if (ok && accepted.keep) this.disk.set(header.file, { name: header.file, size: header.size, sha256 });
    this.feed({ type: 'file-done', header, ok, ...(ok ? { sha256 } : { error: 'the bytes do not match the record' }), now: this.now });
    return accepted;
  }

  /** Moves the clock forward by `ms`, firing the core's timers in order. */
  run(ms: number): void {
    const end = this.now + ms;
    for (let steps = 0; steps < MAX_TIMER_STEPS; steps++) {
      const due = [...this.timers].filter(([, at]) => at <= end).sort((a, b) => a[1] - b[1])[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = Math.max(this.now, due[1]);
      this.feed({ type: 'timer', name: due[0], now: this.now });
    }
    this.now = end;
  }

  /** Traces of one kind emitted since `since` (an index into `effects`). */
  tracesOf<K extends Trace['kind']>(kind: K, since = 0): Extract<Trace, { kind: K }>[] {
    return this.effects.slice(since).flatMap((e) => (e.kind === 'trace' && e.trace.kind === kind ? [e.trace as Extract<Trace, { kind: K }>] : []));
  }

  /** The exit the core asked for, if any. */
  exited(): { code: number; reason: string } | undefined {
    const e = this.effects.find((x): x is Extract<Effect, { kind: 'exit' }> => x.kind === 'exit');
    return e && { code: e.code, reason: e.reason };
  }

  /** Whether a timer of this name is set, and for when. */
  timerAt(name: string): number | undefined {
    return this.timers.get(name);
  }

  /** Messages of one type sent since `since` (an index into `sent`). */
  sentOf<T extends Message['type']>(type: T, since = 0): { to: Target; msg: MessageOf<T> }[] {
    return this.sent.slice(since).filter((s): s is { to: Target; msg: MessageOf<T> } => s.msg.type === type);
  }

  private apply(e: Effect): void {
    this.effects.push(e);
    if (e.kind === 'trace') for (const l of renderTrace(e.trace, this.space)) this.lines.push(l.text);
    else if (e.kind === 'set-timer') this.timers.set(e.name, e.at);
    else if (e.kind === 'cancel-timer') this.timers.delete(e.name);
    else if (e.kind === 'op') this.ops.push({ op: e.op, event: e.event });
    else if (e.kind === 'delete-file') this.disk.delete(e.name);
    else if (e.kind === 'remember') this.remembered.push(e);
    else if (e.kind === 'stat-file') {
      const f = this.disk.get(e.name);
      this.feed({ type: 'file-stat', name: e.name, ...(f ? { size: f.size, ...(f.sha256 ? { sha256: f.sha256 } : {}) } : {}), now: this.now });
    } else if (e.kind === 'send') {
      this.sent.push({ to: e.to, msg: e.msg });
      this.answerPing(e.to, e.msg);
    }
  }

  /** A ping to a ring neighbour is answered by it, naming its own successors. */
  private answerPing(to: Target, msg: Message): void {
    if (msg.type !== 'ping') return;
    const id = (to as { id?: bigint }).id;
    if (id === undefined || !this.sorted.includes(Number(id)) || this.mute.has(Number(id))) return;
    const them = peer(Number(id));
    const successors = [this.next(Number(id), 1), this.next(Number(id), 2)].map(peer);
    this.receive({ type: 'pong', from: them, seq: msg.seq, loud: false, successors }, 'udp');
  }
}
