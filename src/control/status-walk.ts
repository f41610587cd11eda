// `cdht status` and `cdht decommission` from outside the ring: a client endpoint that is no
// member asks peers over their own protocol (status-query, decommission) and walks the ring
// successor by successor. Runtime-agnostic: the CLI runs it on sockets, the tests on the simulator.
//
// The client's contact: on an open ring it names itself CLIENT_ID, the largest id a 160-bit ring
// can hold: outside every smaller id space, and in a 160-bit one taken only by choice (auto ids
// are hashes). The id is only a label: peers answer by address (status.ts) and never adopt the
// asker. On a private ring the id is its certificate's, which the peers check.
import { formatAddress, type Address, type Contact, type Target } from '../core/contact.js';
import { CdhtError } from '../core/errors.js';
import { IdSpace, type Id } from '../core/id-space.js';
import type { Message, MessageOf, StatusPhase } from '../core/messages.js';
import type { Endpoint, Runtime, TlsIdentity } from '../transport/types.js';

export const CLIENT_ID: Id = (1n << 160n) - 1n;
/** A walk visits at most this many peers by default (a bound, not a guess at the ring's size). */
export const MAX_WALK_PEERS = 4096;
/** How long one peer has to answer. */
export const ASK_TIMEOUT_MS = 5_000;
/** Queries of one walk in flight at once: it asks one peer at a time, so at most the peers tried for one step. */
const MAX_PENDING = 64;

export type StatusReply = MessageOf<'status-reply'>;
export type DecommissionReply = MessageOf<'decommission-reply'>;

/** One peer as the walk saw it. */
export interface PeerStatus {
  id: Id;
  address: Address;
  phase: StatusPhase;
  /** Its first predecessor, as it says. */
  pred?: Id;
  keys: number;
  bytes: number;
  /**
   * (pred, id] over the space's size; the whole space for a peer alone. A peer that does not know
   * its predecessor yet: from the peer before it in a walk that came round, else the whole space.
   */
  share: number;
  shortOfK?: number;
  handovers: number;
  successors: Id[];
}

export interface Walk {
  space: IdSpace;
  peers: PeerStatus[];
  /** True when the walk came back to the peer it started from. */
  complete: boolean;
  /** Why it stopped short, or peers it had to step past; empty for a whole, healthy walk. */
  notes: string[];
}

/** No answer from a peer asked for its status (the first of a walk, or one decommissioned). */
export class UnreachableError extends CdhtError {
  constructor(message: string) {
    super('CDHT_ERR_UNREACHABLE', message);
  }
}
UnreachableError.prototype.name = 'UnreachableError';

/** Distance clockwise from a to b, in (0, size] (a == b: the whole ring). */
function clockwise(a: Id, b: Id, size: bigint): bigint {
  const d = (((b - a) % size) + size) % size;
  return d === 0n ? size : d;
}

/** The share of a ring of `size` ids that (pred, id] is. */
export function shareOf(pred: Id | undefined, id: Id, size: bigint): number {
  if (pred === undefined) return 1;
  const d = clockwise(pred, id, size);
  // 2^-53 precision without turning a 160-bit bigint into a double first
  return Number((d << 53n) / size) / 2 ** 53;
}

type Waiter = { to: Target; done: (m: Message) => void; fail: (e: Error) => void; timer: unknown };

/** A client endpoint: asks one peer at a time and matches the answers by their unguessable qid. */
export class StatusClient {
  private readonly waiting = new Map<number, Waiter>();

  private constructor(
    private readonly runtime: Runtime,
    readonly self: Contact,
    private ep: Endpoint | undefined,
  ) {}

  /** Opens the client's endpoint at `self` (its port must be free). */
  static async open(runtime: Runtime, self: Contact, dataDir: string, tls?: TlsIdentity): Promise<StatusClient> {
    const client = new StatusClient(runtime, self, undefined);
    client.ep = await runtime.openEndpoint(
      { self, dataDir, ...(tls ? { tls } : {}) },
      {
        onMessage: (msg) => client.onMessage(msg),
        onBadInput: () => {},
        onFileOffer: () => null, // a client takes no files
        onFileDone: () => {},
      },
    );
    return client;
  }

  private onMessage(msg: Message): void {
    if (msg.type !== 'status-reply' && msg.type !== 'decommission-reply') return;
    // matched by the qid alone, random and sent only to the peer asked: the answer comes back on a
    // connection the peer dials, and may name its advertised address, not the one we asked at
    const w = this.waiting.get(msg.qid);
    if (!w) return;
    this.waiting.delete(msg.qid);
    this.runtime.clearTimer(w.timer);
    w.done(msg);
  }

  private ask<T extends Message>(to: Target, make: (qid: number) => Message, timeoutMs: number): Promise<T> {
    const ep = this.ep;
    if (!ep) return Promise.reject(new UnreachableError('client closed'));
    if (this.waiting.size >= MAX_PENDING) return Promise.reject(new UnreachableError('too many questions at once'));
    let qid = this.runtime.random32() >>> 0 || 1;
    while (this.waiting.has(qid)) qid = (qid + 1) >>> 0 || 1;
    return new Promise<T>((resolve, reject) => {
      const fail = (e: Error) => {
        if (this.waiting.get(qid) !== w) return;
        this.waiting.delete(qid);
        this.runtime.clearTimer(w.timer);
        reject(e);
      };
      const w: Waiter = {
        to,
        done: (m) => resolve(m as T),
        fail,
        timer: this.runtime.setTimer(timeoutMs, () => fail(new UnreachableError(`no answer from ${formatAddress(to)} within ${timeoutMs / 1000} s`))),
      };
      this.waiting.set(qid, w);
      ep.sendMessage(to, make(qid)).catch((err: unknown) => fail(new UnreachableError(`cannot reach ${formatAddress(to)}: ${err instanceof Error ? err.message : String(err)}`)));
    });
  }

  status(to: Target, timeoutMs = ASK_TIMEOUT_MS): Promise<StatusReply> {
    return this.ask<StatusReply>(to, (qid) => ({ type: 'status-query', from: this.self, qid }), timeoutMs);
  }

  decommission(to: Target, timeoutMs = ASK_TIMEOUT_MS): Promise<DecommissionReply> {
    return this.ask<DecommissionReply>(to, (qid) => ({ type: 'decommission', from: this.self, qid }), timeoutMs);
  }

  async close(): Promise<void> {
    for (const w of [...this.waiting.values()]) w.fail(new UnreachableError('client closed'));
    const ep = this.ep;
    this.ep = undefined;
    await ep?.close();
  }
}

function peerOf(r: StatusReply, space: IdSpace): PeerStatus {
  return {
    id: r.from.id,
    address: { host: r.from.host, port: r.from.port },
    phase: r.phase,
    ...(r.pred ? { pred: r.pred.id } : {}),
    keys: r.keys,
    bytes: r.bytes,
    share: shareOf(r.pred?.id, r.from.id, space.size),
    ...(r.shortOfK !== undefined ? { shortOfK: r.shortOfK } : {}),
    handovers: r.handovers,
    successors: r.successors.map((c) => c.id),
  };
}

/** A peer that does not know its first predecessor yet gets its share from the one the walk saw before it. */
function withWalkedShares(peers: PeerStatus[], space: IdSpace): PeerStatus[] {
  return peers.map((p, i) => {
    if (p.pred !== undefined || peers.length < 2) return p;
    const before = peers[(i + peers.length - 1) % peers.length]!;
    return { ...p, share: shareOf(before.id, p.id, space.size) };
  });
}

/**
 * Walks the ring from the peer at `start`: each peer's first successor next (the next one in its
 * list when that one does not answer), until the walk comes back to where it started, meets a
 * peer it saw already (a ring that does not close: the loop guard), or has seen `max` peers.
 * Rejects with UnreachableError only when the first peer does not answer.
 */
export async function walkRing(client: StatusClient, start: Target, opts: { max?: number; timeoutMs?: number; onPeer?: (p: PeerStatus, space: IdSpace) => void } = {}): Promise<Walk> {
  const max = opts.max ?? MAX_WALK_PEERS;
  const first = await client.status(start, opts.timeoutMs);
  const space = new IdSpace(first.bits);
  const peers: PeerStatus[] = [];
  const notes: string[] = [];
  const seen = new Set<Id>();
  let reply: StatusReply = first;
  for (;;) {
    const p = peerOf(reply, space);
    peers.push(p);
    seen.add(p.id);
    opts.onPeer?.(p, space);
    if (peers.length >= max) {
      notes.push(`stopped after ${max} peers (--max)`);
      return { space, peers, complete: false, notes };
    }
    // the first successor that answers is the next peer; those that do not are stepped past
    let next: StatusReply | undefined;
    const candidates = reply.successors.filter((c) => c.id !== p.id);
    if (candidates.length === 0) {
      const alone = peers.length === 1;
      if (!alone) notes.push(`Peer ${space.format(p.id)} knows no successor: the walk ends there`);
      return { space, peers, complete: alone, notes };
    }
    for (const c of candidates) {
      if (c.id === first.from.id) return { space, peers: withWalkedShares(peers, space), complete: true, notes };
      if (seen.has(c.id)) {
        notes.push(`Peer ${space.format(p.id)} leads back to Peer ${space.format(c.id)}, not to the start: the ring does not close`);
        return { space, peers, complete: false, notes };
      }
      try {
        next = await client.status(c, opts.timeoutMs);
        if (next.from.id !== c.id) {
          notes.push(`the peer at ${formatAddress(c)} answered as Peer ${space.format(next.from.id)}, not ${space.format(c.id)}: stepped past it`);
          next = undefined;
          continue;
        }
        break;
      } catch (err) {
        notes.push(`Peer ${space.format(c.id)} (${formatAddress(c)}), a successor of Peer ${space.format(p.id)}, did not answer: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (!next) {
      notes.push(`no successor of Peer ${space.format(p.id)} answered: the walk ends there`);
      return { space, peers, complete: false, notes };
    }
    reply = next;
  }
}
