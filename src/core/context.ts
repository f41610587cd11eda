// What every part of a peer's core shares while it handles one event: who it is, its
// settings, the `now` of the event, and the effects it is collecting. The parts (liveness,
// successors, join, depart, routing, storage) each keep their own state and talk through here.
import { DEFAULTS, type RoutingName } from './config.js';
import type { Contact, Target } from './contact.js';
import type { Effect } from './effects.js';
import type { Id, IdSpace } from './id-space.js';
import type { Message } from './messages.js';
import { RoutedOrigins } from './routed-origins.js';
import type { LineLevel, Trace } from './trace.js';

export type Phase = 'starting' | 'joining' | 'active' | 'leaving' | 'stopped';
export type { RoutingName } from './config.js';

export interface CoreConfig {
  self: Contact;
  space: IdSpace;
  /**
   * init: the successors given (and, for large simulated rings, peers to seed the finger table
   * with: it takes for each entry the first of them at or after its start); join: a peer in the
   * ring (its id may be unknown).
   */
  mode: { kind: 'init'; successors: Contact[]; fingers?: Contact[] } | { kind: 'join'; known: Target };
  pingIntervalMs: number;
  /** Consecutive unanswered probes (the ping and its quick re-probes) before a successor is declared dead. */
  pingMisses: number;
  /** Unguessable 32-bit numbers (ping sequence numbers, request ids); seeded on the simulator. */
  random32: () => number;
  /** Names this peer's data directory; a copy is sent only to a different one. */
  storeId: string;
  routing?: RoutingName;
  /** Successor list length r: any r - 1 adjacent failures are survived. */
  successors?: number;
  /** Copies of each stored file: the owner and its next k - 1 successors. */
  replicas?: number;
  /** Offers of larger files are refused before a byte is written. */
  maxFileBytes?: number;
  /**
   * A private ring: every message must come from the peer it speaks for (its certificate says
   * so); a routed one must carry its origin's proof, checked where it takes effect (routed-origins.ts).
   */
  secure?: boolean;
  /**
   * On a private ring, routed messages must carry their origin's proof (default true). False
   * only to measure what they cost (bench/secure.ts): without them a member can speak for any
   * other through routing. Not offered by the CLI.
   */
  originProofs?: boolean;
  /**
   * Delete ring copies beyond a key's k holders once those confirm theirs (default true; never in
   * the 8-bit spec mode). False only to measure what it saves (bench/surplus.ts). Not offered by the CLI.
   */
  collectSurplus?: boolean;
  requestTimeoutMs?: number;
  joinTimeoutMs?: number;
  quitTimeoutMs?: number;
}

export type Resolved = Required<CoreConfig>;

export class Ctx {
  readonly self: Contact;
  readonly space: IdSpace;
  readonly cfg: Resolved;
  /** The `now` of the event being handled (never goes back). */
  now = 0;
  phase: Phase = 'starting';
  /** Bumped whenever what a reporter shows changes (successors, predecessors, files held). */
  version = 0;
  /** Whose word routed messages are (private rings): their origin proofs, and replays refused. */
  readonly origins: RoutedOrigins;
  private out: Effect[] = [];

  constructor(config: CoreConfig) {
    this.cfg = { ...DEFAULTS, ...config } as Resolved;
    this.self = config.self;
    this.space = config.space;
    this.origins = new RoutedOrigins(this);
  }

  /** Starts collecting the effects of one event. */
  begin(now: number): void {
    this.out = [];
    this.now = Math.max(this.now, now);
  }
  take(): Effect[] {
    return this.out;
  }

  emit(e: Effect): void {
    this.out.push(e);
  }
  send(to: Target, msg: Message, transport: 'udp' | 'tcp' = 'tcp'): void {
    this.out.push({ kind: 'send', to, msg, transport });
  }
  trace(t: Trace): void {
    this.out.push({ kind: 'trace', trace: t });
  }
  /** A line only people read: errors, refusals, debug detail. */
  note(text: string, level: LineLevel = 'info'): void {
    this.trace({ kind: 'note', level, text });
  }
  setTimer(name: string, at: number): void {
    this.out.push({ kind: 'set-timer', name, at });
  }
  cancelTimer(name: string): void {
    this.out.push({ kind: 'cancel-timer', name });
  }
  random32(): number {
    return this.cfg.random32() >>> 0;
  }
  /** A nonzero unguessable id (0 is kept for "none" on the wire). */
  nonce(): number {
    return this.random32() || 1;
  }

  fmt(id: Id): string {
    return this.space.format(id);
  }
  /** "Peer 14", or the address when the id is not known (a join through host:port). */
  nameOf(c: Target): string {
    return c.id === undefined ? `the peer at ${c.host}:${c.port}` : `Peer ${this.fmt(c.id)}`;
  }
}

/**
 * Why a message does not come from the peer it speaks for, on a private ring; undefined when it
 * does. For the messages a peer sends for itself, to its neighbours; a routed one is judged by
 * its origin proof instead (ctx.origins).
 */
export function impersonation(ctx: Ctx, speaker: Contact, authId: Id | undefined): string | undefined {
  if (!ctx.cfg.secure) return undefined;
  if (authId === undefined) return 'no certificate';
  return authId === speaker.id ? undefined : `sent by Peer ${ctx.fmt(authId)}`;
}
