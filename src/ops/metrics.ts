// A peer's Prometheus metrics, read from what it already tells: counters from its traces and its
// typed refusals, gauges from its snapshot, replication status and transport counters at scrape time. One registry per peer (never
// prom-client's global one), so peers in one process, or a test, never mix their numbers.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Id } from '../core/id-space.js';
import { DROPPED_MESSAGES, type Trace } from '../core/trace.js';
import type { Peer, PeerRefused, PeerTrace } from '../peer.js';
import { BAD_INPUT_REASONS } from '../transport/types.js';

/** Transfers whose bytes are followed at once; past it the oldest is dropped (a replica's push ends without a trace). */
const MAX_TRACKED_TRANSFERS = 256;
/** Hops of a lookup: a settled ring of n peers takes about log2(n); the specification's walk up to n. */
const HOP_BUCKETS = [0, 1, 2, 4, 8, 16, 32, 64, 128];
/** A lookup's round trip in seconds: a hop on a LAN is under a millisecond, a lost one waits for the request timeout. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Refusals that are a TLS handshake gone wrong: accepted (no session, or a foreign certificate), or dialed by this peer. */
const TLS_REASONS = { 'tls-handshake': 'handshake', 'tls-certificate': 'certificate', 'tls-dial': 'dial' } as const;

interface Tracked {
  bytes: number;
  size: number;
}

export class PeerMetrics {
  readonly registry = new Registry();
  /** The peer gauges read at scrape time (each try at a seed is a new Peer; counters go on). */
  private peer: Peer | undefined;
  private readonly transfers = new Map<string, Tracked>();
  private readonly c;

  constructor() {
    const registers = [this.registry];
    const gauge = (name: string, help: string, collect: (g: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers, collect(this: Gauge) { collect(this); } });
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers });
    this.c = {
      lookups: counter('cdht_lookups_total', 'Lookups asked here, by result (found or failed)', ['result']),
      lookupHops: new Histogram({ name: 'cdht_lookup_hops', help: 'Hops the lookups asked here took', buckets: HOP_BUCKETS, registers }),
      lookupSeconds: new Histogram({ name: 'cdht_lookup_duration_seconds', help: 'Time from asking a lookup here to its answer (or to giving up), by result', labelNames: ['result'], buckets: LATENCY_BUCKETS, registers }),
      refused: counter('cdht_refused_total', 'Input refused by the transport, by reason: frames and datagrams that did not decode, were too large, too slow, not allowed or not sealed; connections without a slot; TLS handshakes', ['reason']),
      tlsFailures: counter('cdht_tls_handshake_failures_total', 'TLS handshakes that failed: accepted here with no TLS 1.3 session (handshake) or no certificate of this ring\'s authority (certificate), or dialed by this peer (dial)', ['reason']),
      forwarded: counter('cdht_forwarded_total', 'Routed messages this peer passed on, by operation (join, store, request)', ['op']),
      stores: counter('cdht_stores_total', 'Stores: taken here as the owner, or confirmed by the owner for a store typed here', ['role']),
      requests: counter('cdht_requests_total', 'Requests: answered here as the holder (sent, failed, missing) or typed here (received, failed, missing, timeout, busy)', ['role', 'result']),
      bytes: counter('cdht_transfer_bytes_total', 'Bytes of files received (in) and sent (out), as transfers report them', ['direction']),
      handovers: counter('cdht_handovers_total', 'Graceful departures: this peer handing its keys over (out), a neighbour handing its keys to this one (in)', ['direction']),
      deaths: counter('cdht_peers_declared_dead_total', 'Neighbours this peer declared dead after unanswered pings'),
      joins: counter('cdht_joins_accepted_total', 'Joiners this peer took in as its new successor'),
      dropped: counter('cdht_dropped_total', 'Messages the protocol dropped as not speaking for who they name (a forged or impersonating sender, an answer nobody asked for), by message type', ['message']),
    };
    // labelled series show from the first scrape, at 0, so a dashboard's query has them before any event
    const zero = (counter: Counter, label: string, values: string[], fixed: Record<string, string> = {}) => values.forEach((v) => counter.inc({ ...fixed, [label]: v }, 0));
    zero(this.c.lookups, 'result', ['found', 'failed']);
    zero(this.c.forwarded, 'op', ['join', 'store', 'request']);
    zero(this.c.stores, 'role', ['owner', 'origin']);
    zero(this.c.requests, 'result', ['sent', 'failed', 'missing'], { role: 'holder' });
    zero(this.c.requests, 'result', ['received', 'failed', 'missing', 'timeout', 'busy'], { role: 'requester' });
    zero(this.c.bytes, 'direction', ['in', 'out']);
    zero(this.c.handovers, 'direction', ['in', 'out']);
    zero(this.c.refused, 'reason', [...BAD_INPUT_REASONS]);
    zero(this.c.dropped, 'message', [...DROPPED_MESSAGES]);
    zero(this.c.tlsFailures, 'reason', Object.values(TLS_REASONS));
    gauge('cdht_in_ring', '1 while the peer is in the ring, 0 while it starts, joins or leaves', (g) => g.set(this.peer?.isInRing && this.peer.snapshot().phase === 'active' ? 1 : 0));
    gauge('cdht_peers_known', 'Distinct peers this one knows: successors, predecessors, fingers', (g) => g.set(this.knownPeers()));
    gauge('cdht_successors_alive', 'Successors in the list, none of them declared dead', (g) => g.set(this.peer?.snapshot().successors.length ?? 0));
    gauge('cdht_keys_held', 'Stored names this peer holds (owned or copies)', (g) => g.set(this.peer?.snapshot().files.length ?? 0));
    gauge('cdht_keys_owned', 'Stored names this peer holds whose key it owns (between its predecessor and itself)', (g) => g.set(this.ownedKeys()));
    gauge('cdht_keys_short_of_k', 'Keys this peer owns whose k copies it knows are not all in place (being copied, or too few successors to hold them)', (g) => g.set(this.peer?.replicationStatus().shortOfK ?? 0));
    gauge('cdht_handovers_pending', 'Names of a graceful leave under way that their taker has not confirmed yet', (g) => g.set(this.peer?.replicationStatus().handovers ?? 0));
    gauge('cdht_bytes_held', 'Bytes of the stored names this peer holds', (g) => g.set(this.peer?.snapshot().files.reduce((n, f) => n + f.size, 0) ?? 0));
    gauge('cdht_transfers_in_progress', 'Files being received now', (g) => g.set(this.peer?.transportStats()?.transfersIn ?? 0));
    // the process's own: event-loop delay (nodejs_eventloop_lag_*), memory, CPU, handles
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts what this peer does from now on, and reads its state at each scrape. */
  follow(peer: Peer): void {
    this.peer = peer;
    this.transfers.clear();
    peer.on('trace', (t: PeerTrace) => this.count(t.trace));
    peer.on('refused', (r: PeerRefused) => {
      if (r.reason !== 'tls-dial') this.c.refused.inc({ reason: r.reason });
      if (r.reason === 'tls-handshake' || r.reason === 'tls-certificate' || r.reason === 'tls-dial') this.c.tlsFailures.inc({ reason: TLS_REASONS[r.reason] });
    });
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private count(t: Trace): void {
    const c = this.c;
    switch (t.kind) {
      case 'lookup-result':
        c.lookups.inc({ result: t.owner === undefined ? 'failed' : 'found' });
        if (t.ms !== undefined) c.lookupSeconds.observe({ result: t.owner === undefined ? 'failed' : 'found' }, t.ms / 1000);
        if (t.owner !== undefined) c.lookupHops.observe(t.hops);
        return;
      case 'forwarded':
        return c.forwarded.inc({ op: t.op });
      case 'store-accepted':
        return c.stores.inc({ role: 'owner' });
      case 'store-confirmed':
        return c.stores.inc({ role: 'origin' });
      case 'serve':
        if (t.phase === 'start' || t.local) return;
        if (t.phase === 'sent' || t.phase === 'failed') this.finished('out', t.file, t.to, t.phase === 'sent');
        return c.requests.inc({ role: 'holder', result: t.phase });
      case 'copy':
        if (t.phase === 'sent' || t.phase === 'failed') this.finished('out', t.file, t.to, t.phase === 'sent');
        return;
      case 'receive':
        if (t.phase === 'start') return;
        this.finished('in', t.file, t.from, t.phase === 'done', t.size);
        if (t.purpose === 'request') c.requests.inc({ role: 'requester', result: t.phase === 'done' ? 'received' : 'failed' });
        return;
      case 'request-missing':
        return c.requests.inc({ role: 'requester', result: 'missing' });
      case 'request-timeout':
        return c.requests.inc({ role: 'requester', result: 'timeout' });
      case 'request-busy':
        return c.requests.inc({ role: 'requester', result: 'busy' });
      case 'transfer-progress':
        return this.progress(t.direction, t.file, t.peer, t.bytes, t.size);
      case 'leaving':
        return c.handovers.inc({ direction: 'out' });
      case 'depart-received':
        return c.handovers.inc({ direction: 'in' });
      case 'peer-dead':
        return c.deaths.inc();
      case 'join-received':
        return c.joins.inc();
      case 'dropped':
        return c.dropped.inc({ message: t.message });
      default:
        return;
    }
  }

  /** Bytes since the transfer's last report. Progress is sampled, so a finished transfer adds its rest. */
  private progress(direction: 'in' | 'out', file: string, peer: Id, bytes: number, size: number): void {
    const key = `${direction} ${file} ${peer}`;
    const seen = this.transfers.get(key) ?? { bytes: 0, size };
    if (bytes > seen.bytes) this.c.bytes.inc({ direction }, bytes - seen.bytes);
    this.transfers.delete(key); // re-inserted last: the map drops its oldest entries first
    this.transfers.set(key, { bytes: Math.max(bytes, seen.bytes), size });
    if (this.transfers.size > MAX_TRACKED_TRANSFERS) this.transfers.delete(this.transfers.keys().next().value!);
  }

  private finished(direction: 'in' | 'out', file: string, peer: Id, ok: boolean, size?: number): void {
    const key = `${direction} ${file} ${peer}`;
    const seen = this.transfers.get(key);
    this.transfers.delete(key);
    const total = size ?? seen?.size;
    if (ok && total !== undefined && total > (seen?.bytes ?? 0)) this.c.bytes.inc({ direction }, total - (seen?.bytes ?? 0));
  }

  private knownPeers(): number {
    const s = this.peer?.snapshot();
    if (!s) return 0;
    const ids = [s.pred1, s.pred2, ...s.successors, ...(s.fingers ?? [])].filter((id): id is Id => id !== undefined && id !== s.id);
    return new Set(ids).size;
  }

  /** With no predecessor known it owns the whole ring (it is alone, or has not learned it yet). */
  private ownedKeys(): number {
    const p = this.peer;
    const s = p?.snapshot();
    if (!p || !s) return 0;
    return s.files.filter((f) => s.pred1 === undefined || p.space.betweenRightClosed(s.pred1, f.key, s.id)).length;
  }
}
