// A ring in other processes or on other hosts, as a RingSource: walked over the peers' own
// protocol (status-walk.ts, as `cdht status` walks it) every `refreshMs`, and published as the
// RingState the web page draws. It changes nothing unless the shell gives it a way to ask a peer
// to leave (a certificate: `cdht web --peer --tls`); everything else is refused with a ControlError.
// Runtime-agnostic: the clock and timers are the runtime's, the walker the shell's StatusClient.
import { EventEmitter } from 'node:events';
import { formatAddress, type Address, type Contact, type Target } from '../core/contact.js';
import type { Id, IdSpace } from '../core/id-space.js';
import type { Runtime } from '../transport/types.js';
import { ControlError, type ControlResult } from './ring-controller.js';
import type { RingSource } from './ring-source.js';
import { UnreachableError, walkRing, type DecommissionReply, type PeerStatus, type StatusClient, type Walk } from './status-walk.js';
import type { PeerView, RingState, RouteView, TraceView } from './view-types.js';

/** How often the ring is walked again by default. */
export const DEFAULT_REFRESH_MS = 2_000;
/** Peers that left the walk, kept on the page as departed; the oldest is forgotten beyond this. */
const MAX_DEPARTED_SHOWN = 64;
/** Addresses tried when the start peer does not answer: it and the last walk's first few. */
const MAX_START_TRIES = 8;

export interface RemoteRingOptions {
  runtime: Pick<Runtime, 'now' | 'setTimer' | 'clearTimer'>;
  client: StatusClient;
  /** The peer to walk from (any member). */
  peer: Address;
  refreshMs?: number;
  /** How long one peer has to answer. */
  timeoutMs?: number;
  /** Peers a walk visits at most. */
  max?: number;
  /** Asks the peer at `to` to leave; only a watcher given a certificate has it. */
  decommission?: (to: Contact) => Promise<DecommissionReply>;
}

interface Departed {
  view: PeerView;
}

export interface RemoteRing {
  on(event: 'state', listener: (s: RingState) => void): this;
  on(event: 'trace', listener: (t: TraceView) => void): this;
  off(event: 'state', listener: (s: RingState) => void): this;
  off(event: 'trace', listener: (t: TraceView) => void): this;
}

export class RemoteRing extends EventEmitter implements RingSource {
  readonly verbs: readonly string[];
  private readonly refreshMs: number;
  private last: Walk | undefined;
  private lastFrom: Target;
  private error: string | undefined;
  private readonly departed = new Map<Id, Departed>();
  private current: RingState;
  /** The content of `current` without seq and at: a state is published only when it changes. */
  private published = '';
  private seq = 0;
  private timer: unknown;
  private walking: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: RemoteRingOptions) {
    super();
    this.refreshMs = o.refreshMs ?? DEFAULT_REFRESH_MS;
    this.verbs = ['state', 'pings', ...(o.decommission ? ['quit'] : [])];
    this.lastFrom = o.peer;
    this.current = this.build();
  }

  /** Walks now (or joins the walk under way) and publishes what changed. */
  refresh(): Promise<void> {
    this.walking ??= this.walk().finally(() => (this.walking = undefined));
    return this.walking;
  }

  /** The first walk, then one every refreshMs until close. Rejects when the first finds no peer. */
  async begin(): Promise<Walk> {
    await this.refresh();
    if (!this.last) throw new UnreachableError(this.error ?? 'no peer answered');
    this.schedule();
    return this.last;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.o.runtime.setTimer(this.refreshMs, () => void this.refresh().then(() => this.schedule()));
  }

  /**
   * The start peer, else a peer the last walk met (the start may have left since); named by the
   * id the last walk saw at that address. On a private ring the link to a peer is kept by its id
   * (the one that peer dialed to answer us may be the one kept): asked by address alone, a fresh
   * dial would be the link dropped.
   */
  private starts(): Target[] {
    const seen = new Set<string>();
    const out: Target[] = [];
    const idAt = new Map(this.last?.peers.map((p) => [formatAddress(p.address), p.id]) ?? []);
    for (const a of [this.o.peer, ...(this.last?.peers.map((p) => p.address) ?? [])]) {
      const key = formatAddress(a);
      if (seen.has(key)) continue;
      seen.add(key);
      const id = idAt.get(key);
      out.push(id === undefined ? a : { id, host: a.host, port: a.port });
      if (out.length >= MAX_START_TRIES) break;
    }
    return out;
  }

  private async walk(): Promise<void> {
    const failures: string[] = [];
    for (const from of this.starts()) {
      if (this.closed) return;
      try {
        const w = await walkRing(this.o.client, from, { ...(this.o.max ? { max: this.o.max } : {}), ...(this.o.timeoutMs ? { timeoutMs: this.o.timeoutMs } : {}) });
        this.noteDepartures(w);
        this.last = w;
        this.lastFrom = from;
        this.error = undefined;
        this.publish();
        return;
      } catch (err) {
        failures.push(`${formatAddress(from)}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.error = failures.join('; ') || 'no peer to ask';
    this.publish();
  }

  /** A whole walk proves who is gone: members of the one before that it did not meet. */
  private noteDepartures(w: Walk): void {
    const now = new Set(w.peers.map((p) => p.id));
    for (const id of now) this.departed.delete(id);
    if (!w.complete || !this.last) return;
    for (const p of this.last.peers) {
      if (now.has(p.id)) continue;
      const view = this.viewOf(p, this.last, undefined);
      // how it went is known only when the walk saw it leaving
      const { want: _w, ...was } = view;
      this.departed.set(p.id, { view: { ...was, state: 'departed', successors: [], stale: false, ...(p.phase === 'leaving' ? { departure: 'graceful' as const } : {}), reason: 'no longer met by the walk' } });
      if (this.departed.size > MAX_DEPARTED_SHOWN) this.departed.delete(this.departed.keys().next().value!);
    }
  }

  private viewOf(p: PeerStatus, w: Walk, want: string[] | undefined): PeerView {
    const f = (id: Id) => w.space.formatFull(id);
    const successors = p.successors.map(f);
    const stale = want !== undefined && (successors[0] !== want[0] || (want[1] !== undefined && successors[1] !== want[1]));
    return {
      id: f(p.id),
      state: 'live',
      phase: p.phase === 'normal' ? 'active' : p.phase,
      successors,
      ...(p.pred !== undefined ? { pred1: f(p.pred) } : {}),
      ...(want ? { want } : {}),
      stale,
      files: [], // a status reply carries counts, never names
      layers: {
        address: formatAddress(p.address),
        keys: p.keys,
        bytes: p.bytes,
        share: `${(p.share * 100).toFixed(2)}%`,
        ...(p.shortOfK !== undefined ? { 'short of k': p.shortOfK } : {}),
        handovers: p.handovers,
      },
    };
  }

  private build(): RingState {
    const w = this.last;
    const peers: PeerView[] = [];
    const stale: string[] = [];
    if (w) {
      // the true ring is the walk's order when it came round; a broken walk proves no order
      const order = w.peers.map((p) => w.space.formatFull(p.id));
      w.peers.forEach((p, i) => {
        // its next one or two others round the ring (a ring of two has one other)
        const want = w.complete && order.length > 1 ? [1, 2].filter((d) => d < order.length).map((d) => order[(i + d) % order.length]!) : undefined;
        const v = this.viewOf(p, w, want);
        if (v.stale) stale.push(v.id);
        peers.push(v);
      });
    }
    for (const d of this.departed.values()) peers.push(d.view);
    const space: IdSpace | undefined = w?.space;
    const key = (id: string) => (space ? space.parse(id) ?? 0n : 0n);
    peers.sort((a, b) => (key(a.id) < key(b.id) ? -1 : key(a.id) > key(b.id) ? 1 : 0));
    return {
      type: 'state',
      seq: this.seq,
      phase: w ? 'running' : 'starting',
      runtime: 'node',
      bits: space?.bits ?? 8,
      at: this.o.runtime.now(),
      peers,
      outside: [],
      stale,
      layers: [],
      keys: [],
      short: [],
      remote: {
        peer: formatAddress(this.lastFrom),
        walkedAt: this.o.runtime.now(),
        complete: w?.complete ?? false,
        notes: w?.notes ?? [],
        ...(this.error !== undefined ? { error: this.error } : {}),
        actions: this.o.decommission ? ['quit'] : [],
      },
    };
  }

  private publish(): void {
    const next = this.build();
    const { seq: _s, at: _a, remote, ...rest } = next;
    const content = JSON.stringify({ ...rest, remote: { ...remote, walkedAt: 0 } });
    if (content === this.published) {
      this.current = { ...next, seq: this.seq }; // the same ring, walked again: no news to push
      return;
    }
    this.published = content;
    this.current = { ...next, seq: ++this.seq };
    this.emit('state', this.current);
  }

  state(): RingState {
    return this.current;
  }

  private refuse(verb: string): never {
    if (!this.o.decommission) {
      throw new ControlError('READ_ONLY', `This page watches the ring at ${formatAddress(this.o.peer)} read-only: give cdht web a certificate of its authority (--tls DIR) to ask a peer to leave`);
    }
    throw new ControlError('UNSUPPORTED', `A ring watched from here cannot ${verb}: only a peer's graceful leave (decommission) is asked over the protocol`);
  }

  async start(): Promise<ControlResult> {
    return this.refuse('be started');
  }
  async stop(): Promise<ControlResult> {
    return this.refuse('be stopped');
  }
  async add(_idText?: unknown): Promise<ControlResult> {
    return this.refuse('plan a peer (start one with cdht node on its host)');
  }
  async join(_idText?: unknown, _viaText?: unknown): Promise<ControlResult> {
    return this.refuse('start a peer (start one with cdht node on its host)');
  }
  store(_idText?: unknown, _fileText?: unknown): ControlResult {
    return this.refuse('store a file (use cdht put)');
  }
  request(_idText?: unknown, _fileText?: unknown): ControlResult {
    return this.refuse('request a file (use cdht get)');
  }
  async kill(_idText?: unknown): Promise<ControlResult> {
    return this.refuse('kill a peer');
  }
  routes(_keyText?: unknown, _fromText?: unknown): RouteView {
    return this.refuse('show a route');
  }

  /** A graceful leave, asked of the peer itself: it decides, by the certificate it sees. */
  async quit(idText: unknown): Promise<ControlResult> {
    const ask = this.o.decommission;
    if (!ask) return this.refuse('ask a peer to leave');
    const w = this.last;
    const id = typeof idText === 'string' && w ? w.space.parse(idText.trim()) : undefined;
    const p = id === undefined ? undefined : w?.peers.find((x) => x.id === id);
    if (!w || !p) throw new ControlError('UNKNOWN_PEER', `Peer ${String(idText).slice(0, 64)} is not in the ring as last walked`);
    let r: DecommissionReply;
    try {
      r = await ask({ id: p.id, ...p.address });
    } catch (err) {
      throw new ControlError('REFUSED', `Peer ${w.space.format(p.id)} did not answer: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!r.accepted) throw new ControlError('REFUSED', `Peer ${w.space.format(p.id)} refused to leave: ${r.reason}`);
    void this.refresh();
    return { message: `Peer ${w.space.format(p.id)} is leaving the ring (${r.reason})` };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.o.runtime.clearTimer(this.timer);
    await this.walking;
  }
}
