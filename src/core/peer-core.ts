// The cdht protocol of one peer as a state machine: fed events that carry `now`, it returns
// effects (traces, messages, timers, file work). No sockets, clock, disk or console.
//
// Theory of operation
// - The parts: liveness (pings, verification, predecessors), successors (the list of the next
//   r peers), join and depart (membership changes), the router with its strategy (successor
//   walk, shortcuts or Chord fingers) and lookups, the key store, transfers (Store, Request)
//   and replication (copies on k peers, hand-over). Each keeps its own rules, written at its top.
// - init: successors come from the command line; pings teach each peer its predecessors.
// - join: the request is routed to the peer p with joiner in (p, succ1); p checks the joiner
//   answers, adopts it, answers it with its old successors and tells its first predecessor.
//   Pongs carry the responder's successors and first predecessor (Chord's stabilize), so a peer
//   that missed a change still catches up.
// - quit: the leaver hands its keys to its successor, tells both predecessors its successors,
//   waits for their acks (bounded) and exits. kill: predecessors find out by missed probes.
// - Every contact another peer names is verified (it answers a ping at that address) before it
//   is adopted; on a private ring every message must come from the peer it speaks for.
import type { Contact, Target } from './contact.js';
import { Ctx, type CoreConfig, type Phase } from './context.js';
import type { CoreEvent, Effect } from './effects.js';
import type { Id, IdSpace } from './id-space.js';
import { Depart } from './membership/depart.js';
import { Join, type RoutedMessage } from './membership/join.js';
import { Liveness } from './membership/liveness.js';
import { RingMemory } from './membership/memory.js';
import { MergeProbe } from './membership/merge.js';
import { Successors } from './membership/successors.js';
import type { Message } from './messages.js';
import type { Origin } from './origin.js';
import { Fingers } from './routing/fingers.js';
import { Lookups } from './routing/lookups.js';
import { Router, shortcutsFor, successorWalk } from './routing/router.js';
import { KeyStore } from './storage/key-store.js';
import { Replication } from './storage/replication.js';
import { Transfers } from './storage/transfers.js';
import { StatusDesk } from './status.js';
import { Holds } from './storage/holds.js';
import { Deletes } from './storage/deletes.js';
import { Surplus } from './storage/surplus.js';

export type { CoreConfig, Phase, RoutingName } from './context.js';

export interface CoreSnapshot {
  id: Id;
  phase: Phase;
  pred1?: Id;
  pred2?: Id;
  successors: Id[];
  /** Finger table entries (each peer once), when routing by fingers. */
  fingers?: Id[];
  /** What this peer holds (stored names, not received copies). */
  files: { name: string; key: Id; size: number }[];
}

/**
 * What readiness and metrics read of replication. k: copies asked for, the owner's included;
 * replicaHolders: successors that hold (or are being given) the owner's k - 1 copies now;
 * owned: keys held here that this peer owns; shortOfK: owned keys whose k copies it knows are not
 * all in place (see Replication.status: all owned keys while holders are fewer than k - 1, else
 * those being copied now); handovers: names of a Quit under way not yet confirmed; unanswered:
 * the probed successors (the first two) whose latest pings went unanswered, and how many in a row.
 */
export interface ReplicationStatus {
  k: number;
  replicaHolders: number;
  owned: number;
  shortOfK: number;
  handovers: number;
  unanswered: { peer: Id; misses: number }[];
}

export class PeerCore {
  readonly self: Contact;
  readonly space: IdSpace;
  private readonly ctx: Ctx;
  private readonly live: Liveness;
  private readonly succ: Successors;
  private readonly memory: RingMemory;
  private readonly merge: MergeProbe;
  private readonly router: Router;
  private readonly lookups: Lookups;
  private readonly fingers: Fingers | undefined;
  private readonly join: Join;
  private readonly depart: Depart;
  private readonly keys: KeyStore;
  private readonly transfers: Transfers;
  private readonly repl: Replication;
  private readonly desk: StatusDesk;
  private readonly holds: Holds;
  private readonly deletes: Deletes;
  private readonly surplus: Surplus;

  constructor(config: CoreConfig) {
    const ctx = (this.ctx = new Ctx(config));
    this.self = ctx.self;
    this.space = ctx.space;
    this.keys = new KeyStore(ctx.space);
    this.live = new Liveness(ctx, {
      successors: () => this.succ.list,
      // a change of membership near this peer may have left fingers stale: refreshed at full pace again
      onDead: (gone) => {
        this.fingers?.disturb();
        this.succ.onDead(gone);
      },
      onFirstSuccessorPong: (pong) => this.succ.onFirstSuccessorPong(pong),
      onPredecessors: () => {
        this.fingers?.disturb();
        this.repl.changed();
      },
      onGhostAlive: (c) => {
        this.fingers?.disturb();
        this.succ.onGhostAlive(c);
      },
      onPingWhileAlone: (from) => this.succ.heardOf(from),
      onHeardInRing: (c) => this.memory.heard(c),
    });
    this.memory = new RingMemory(ctx);
    const ask = (via: Contact, key: Id, done: (owner: Contact | undefined, successors: readonly Contact[]) => void) =>
      this.lookups.askVia(via, key, (r) => done(r?.owner, r?.successors ?? []));
    this.succ = new Successors(ctx, this.live, {
      fallbacks: () =>
        [this.live.pred1, this.live.pred2, ...(this.fingers?.entries() ?? []), ...this.live.recentlyHeard(), ...this.live.lost(), ...this.memory.entries()].filter(
          (c): c is Contact => !!c,
        ),
      ask,
      onChange: () => {
        this.fingers?.disturb();
        this.repl?.changed();
        this.live.tellFirstPredecessor();
      },
    });
    this.merge = new MergeProbe(ctx, this.succ, this.memory, ask);
    this.router = new Router(ctx, this.live, this.succ, successorWalk);
    this.lookups = new Lookups(ctx, this.router);
    const routing = ctx.cfg.routing;
    if (routing === 'fingers') this.router.strategy = this.fingers = new Fingers(ctx, this.live, this.succ, this.lookups);
    else if (routing === 'shortcuts') this.router.strategy = shortcutsFor(ctx);
    this.repl = new Replication(
      ctx,
      this.live,
      this.succ,
      this.keys,
      () => this.transfers.awaitingCopies(),
      (name) => this.transfers.check(name),
      (name) => this.transfers.restore(name),
      (name, sha256, from) => this.deletes.buried(name, sha256, from),
      (to, name, done) => this.holds.check(to, name, done),
    );
    this.transfers = new Transfers(ctx, this.router, this.keys, {
      onHeld: (name) => this.repl.onHeld(name),
      replicaArrived: (name, to) => this.repl.pushed(name, to),
      replicaFailed: (name, to, error) => this.repl.pushFailed(name, to, error),
      wantsReplica: (h, origin) => this.repl.wantsReplica(h, origin),
      replicaNotTaken: (h, record) => this.repl.replicaNotTaken(h, record),
      buried: (name, from) => this.deletes.buried(name, undefined, from),
    });
    this.holds = new Holds(ctx, this.keys, () => this.succ.list.slice());
    this.deletes = new Deletes(ctx, this.keys, this.lookups, this.router, () => this.succ.list.slice(), this.holds);
    this.surplus = new Surplus(ctx, this.live, this.succ, this.keys, this.lookups, {
      check: (to, name, done) => this.holds.check(to, name, done),
      busy: (name) => this.repl.inUse(name) || this.transfers.serves(name) || this.depart.leaving,
    });
    this.join = new Join(ctx, this.live, this.succ, this.router, {
      onJoined: (queued) => {
        ctx.emit({ kind: 'ready' });
        this.live.start();
        for (const q of queued) this.onReceive(q.msg, q.origin);
      },
      exit: (code, reason) => this.exit(code, reason),
      onJoinerAdopted: () => this.repl.changed(),
    });
    this.depart = new Depart(ctx, this.live, this.succ, {
      handOver: (done) => {
        this.transfers.handOverStarted();
        this.repl.handOver(done);
      },
      exit: (code, reason) => this.exit(code, reason),
    });
    this.desk = new StatusDesk(ctx, this.live, this.succ, this.keys, this.repl, this.depart);
  }

  /** Probe interval (the ping interval, split when it is long). */
  get probeMs(): number {
    return this.live.probeMs;
  }
  /** Spacing of the quick re-probes after a missed ping. */
  get reprobeMs(): number {
    return this.live.reprobeMs;
  }

  /** Where the peer is in its life: starting, joining, active, leaving, stopped. */
  get phase(): Phase {
    return this.ctx.phase;
  }

  snapshot(): CoreSnapshot {
    const { pred1, pred2 } = this.live;
    return {
      id: this.self.id,
      phase: this.ctx.phase,
      ...(pred1 ? { pred1: pred1.id } : {}),
      ...(pred2 ? { pred2: pred2.id } : {}),
      successors: this.succ.ids(),
      ...(this.fingers ? { fingers: this.fingers.snapshot() } : {}),
      files: this.keys.all().map((h) => ({ name: h.name, key: h.key, size: h.size })),
    };
  }

  /** Read only: replication as this peer knows it now. */
  replicationStatus(): ReplicationStatus {
    const k = this.ctx.cfg.replicas;
    const r = this.repl.status();
    const p1 = this.live.pred1;
    return {
      k,
      replicaHolders: Math.min(this.succ.list.length, Math.max(0, k - 1)),
      owned: p1 ? this.keys.inRange(p1.id, this.self.id).length : this.keys.size,
      shortOfK: r.shortOfK ?? 0,
      handovers: r.handovers,
      unanswered: this.live.unanswered(),
    };
  }

  /**
   * The ring's members this peer knows with their addresses: successors, predecessors and
   * fingers (the transport keeps connection slots for them).
   */
  members(): Contact[] {
    const { pred1, pred2 } = this.live;
    const all = [...this.succ.list, ...(pred1 ? [pred1] : []), ...(pred2 ? [pred2] : []), ...(this.fingers?.entries() ?? [])];
    return all.filter((c) => c.id !== this.self.id);
  }

  /**
   * Changes whenever members() may have changed (cheaper than comparing the lists): the sum of
   * counters that only ever go up, so it moves whenever one of them does.
   */
  membersVersion(): number {
    return this.ctx.version + this.live.marks + (this.fingers?.version ?? 0);
  }

  /**
   * Every peer this one knows of in any way (successors, predecessors, fingers, peers heard from,
   * those it lost and remembers): whom it could ever ask. The checker tells a peer stranded by
   * the loss of everyone it knew from one alone by a fault of the protocol.
   */
  knownPeers(): Id[] {
    const all = [...this.members(), ...this.succ.candidates(true)];
    return [...new Set(all.map((c) => c.id))].filter((id) => id !== this.self.id);
  }

  /**
   * Where this peer would send a message for `key` now (`arrivedFinal`: the hop that brought it
   * marked it final): null when it takes the key itself. The console's `route` and the web page
   * follow this, hop by hop, so they show the real path.
   */
  nextHop(key: Id, arrivedFinal = false): { to: Id; final: boolean } | null {
    return this.router.nextHop(key, arrivedFinal);
  }

  /** Feed one event; returns what the shell must do, in order. */
  handle(ev: CoreEvent): Effect[] {
    const ctx = this.ctx;
    if (ctx.phase === 'stopped') return [];
    ctx.begin(ev.now);
    // what a reporter shows: compared as it was before the event, around every event
    const phase = ctx.phase;
    const version = ctx.version;
    const held = this.keys.size;
    this.dispatch(ev);
    const now = ctx.phase as Phase;
    if (now !== 'stopped' && (now !== phase || ctx.version !== version || this.keys.size !== held)) ctx.emit({ kind: 'neighbours' });
    return ctx.take();
  }

  private dispatch(ev: CoreEvent): void {
    switch (ev.type) {
      case 'start':
        return this.onStart(ev.files ?? [], ev.deleted ?? []);
      case 'timer':
        return this.onTimer(ev.name);
      case 'receive':
        return this.onReceive(ev.msg, ev.origin);
      case 'send-failed':
        return this.onSendFailed(ev.to, ev.msg, ev.error, ev.refused === true);
      case 'store':
      case 'request':
        return this.onTyped(ev.type, ev.name);
      case 'quit':
        return this.depart.quit();
      case 'lookup':
        return this.lookups.find(ev.key, (r) => {
          this.ctx.trace({ kind: 'lookup-result', key: ev.key, hops: r?.hops ?? 0, ...(r ? { owner: r.owner.id } : {}), ms: this.ctx.now - ev.now });
          if (ev.op === undefined) return;
          const event = r
            ? ({ type: 'owner', owner: r.owner, hops: r.hops, successors: r.owner.id === this.ctx.self.id ? this.succ.list.slice() : r.successors, path: r.path ?? [] } as const)
            : ({ type: 'failed', code: 'CDHT_ERR_TIMEOUT', message: `no owner of key ${this.ctx.fmt(ev.key)} answered in time` } as const);
          this.ctx.emit({ kind: 'op', op: ev.op, event });
        }, ev.op !== undefined);
      case 'put':
      case 'get':
        return this.onOperation(ev);
      case 'holds':
        return this.holds.ask(ev.op, ev.to, ev.name);
      case 'delete':
        return this.onOperation(ev);
      case 'cancel':
        this.transfers.cancel(ev.op);
        this.deletes.cancel(ev.op);
        return this.holds.cancel(ev.op);
      case 'serve-progress':
        return this.transfers.onServeProgress(ev.file, ev.rid, ev.to, ev.phase, ev.error, ev.size);
      case 'push-progress':
        return this.transfers.onPushProgress(ev.file, ev.to, ev.purpose, ev.phase, ev.error, ev.size);
      case 'file-stat':
        this.transfers.onFileStat(ev.name, ev.size, ev.sha256);
        return this.repl.hashed(ev.name);
      case 'file-progress':
        return this.ctx.trace({ kind: 'transfer-progress', file: ev.header.file, peer: ev.peer, direction: ev.direction, bytes: ev.bytes, size: ev.header.size });
      case 'file-offer': {
        const accepted = this.transfers.onFileOffer(ev.header, ev.origin);
        if (accepted !== undefined) this.ctx.emit({ kind: 'accept-file', ...accepted });
        return;
      }
      case 'file-done':
        return this.transfers.onFileDone(ev.header, ev.ok, ev.sha256, ev.error, ev.busy ?? false);
    }
  }

  private exit(code: number, reason: string): void {
    this.ctx.emit({ kind: 'exit', code, reason });
    this.ctx.phase = 'stopped';
  }

  // ---- start, timers ---------------------------------------------------------------------

  private onStart(files: NonNullable<Extract<CoreEvent, { type: 'start' }>['files']>, deleted: NonNullable<Extract<CoreEvent, { type: 'start' }>['deleted']>): void {
    const ctx = this.ctx;
    if (ctx.phase !== 'starting') return;
    for (const f of files) this.keys.add(f);
    for (const d of deleted) this.keys.bury(d.name, d.sha256, d.at);
    const mode = ctx.cfg.mode;
    if (mode.kind === 'join') {
      const k = mode.known;
      if (k.id !== undefined) this.memory.addSeed({ ...k, id: k.id });
      return this.join.start(mode.known);
    }
    for (const c of mode.successors) this.memory.addSeed(c);
    this.succ.init(mode.successors);
    if (mode.fingers) this.fingers?.seed(mode.fingers);
    ctx.phase = 'active';
    ctx.emit({ kind: 'ready' });
    this.live.start();
  }

  private onTimer(name: string): void {
    switch (name) {
      case 'ping':
        this.live.onTick();
        if (this.ctx.phase === 'active') {
          this.succ.tick();
          this.merge.tick();
          this.fingers?.tick();
          this.repl.tick();
          this.lookups.expire();
          this.holds.expire();
          this.deletes.expire();
          this.deletes.tick();
          this.surplus.tick();
        }
        return;
      case 'liveness':
        return this.live.onDeadline();
      case 'join':
        return this.join.onTimeout();
      case 'quit':
        return this.depart.onTimeout();
      case 'handover':
        return this.repl.onHandoverTimeout();
      case 'handover-retry':
        return this.repl.onHandoverRetry();
    }
    if (name.startsWith('request:')) this.transfers.onRequestTimeout(Number(name.slice('request:'.length)));
    else if (name.startsWith('request-retry:')) this.transfers.onRequestRetry(Number(name.slice('request-retry:'.length)));
    else if (name.startsWith('lookup-retry:')) this.lookups.onRetry(Number(name.slice('lookup-retry:'.length)));
  }

  // ---- commands --------------------------------------------------------------------------

  /** A Store or Request typed at the console (the CLI parsed it): the name is checked again at this door. */
  private onTyped(command: 'store' | 'request', file: string): void {
    const ctx = this.ctx;
    const problem = ctx.space.nameProblem(file);
    if (problem) return ctx.trace({ kind: 'command-refused', command, file, reason: 'bad-name', problem });
    if (ctx.phase !== 'active') return ctx.trace({ kind: 'command-refused', command, file, reason: 'not-in-ring' });
    // the specification's mode: a Store moves no bytes in its shared folder, and its lines are
    // checked byte for byte (above 8 bits the peer's shell runs these as the library's put and get)
    if (command === 'store') this.transfers.storeTyped(file);
    else this.transfers.requestTyped(file);
  }

  /** The library's put and get: the console's Store and Request, with their outcome told by op events. */
  private onOperation(ev: Extract<CoreEvent, { type: 'put' | 'get' | 'delete' }>): void {
    const ctx = this.ctx;
    const fail = (code: 'CDHT_ERR_NAME' | 'CDHT_ERR_NOT_IN_RING', message: string) => ctx.emit({ kind: 'op', op: ev.op, event: { type: 'failed', code, message } });
    const problem = ctx.space.nameProblem(ev.name);
    if (problem) return fail('CDHT_ERR_NAME', problem);
    if (ctx.phase !== 'active') return fail('CDHT_ERR_NOT_IN_RING', `Peer ${ctx.fmt(ctx.self.id)} is not in a ring (${ctx.phase})`);
    if (ev.type === 'put') this.transfers.storeTyped(ev.name, ev.op);
    else if (ev.type === 'get') this.transfers.requestTyped(ev.name, ev.op, ev.saveAs);
    else this.deletes.deleteTyped(ev.name, ev.op);
  }

  // ---- delivery ------------------------------------------------------------------------------

  private onReceive(msg: Message, origin: Origin): void {
    const ctx = this.ctx;
    if (ctx.phase === 'joining') {
      // this address may have belonged to a peer that died: its traffic is not ours to answer yet
      if (msg.type === 'join' || msg.type === 'store' || msg.type === 'file-request' || msg.type === 'lookup') return this.join.queue(msg, origin);
      if (msg.type === 'ping') return this.live.onPing(msg, origin);
      if (msg.type === 'pong') return this.live.onPong(msg, origin);
      if (msg.type === 'join-accept') return this.join.onJoinAccept(msg, origin);
      if (msg.type === 'join-reject') return this.join.onJoinReject(msg, origin);
      if (msg.type === 'status-query') return this.desk.onStatusQuery(msg, origin);
      if (msg.type === 'decommission') return this.desk.onDecommission(msg, origin);
      return;
    }
    switch (msg.type) {
      case 'ping':
        return this.live.onPing(msg, origin);
      case 'pong':
        return this.live.onPong(msg, origin);
      case 'join':
        return this.join.onJoin(msg, origin);
      case 'join-accept':
      case 'join-reject':
        return; // a late answer to a join of ours that already ended
      case 'successor-change':
        return this.succ.onSuccessorChange(msg, origin);
      case 'depart':
        return this.depart.onDepart(msg, origin);
      case 'depart-ack':
        return this.depart.onDepartAck(msg.from, origin);
      case 'successor-query':
        return this.succ.onSuccessorQuery(msg, origin);
      case 'successor-reply':
        return this.succ.onSuccessorReply(msg);
      case 'store':
        return this.transfers.onStore(msg, origin);
      case 'store-accepted':
        return this.transfers.onStoreAccepted(msg, origin);
      case 'file-request':
        return this.transfers.onFileRequest(msg, origin);
      case 'file-missing':
        return this.transfers.onFileMissing(msg);
      case 'file-busy':
        return this.transfers.onFileBusy(msg, origin);
      case 'lookup':
        return this.lookups.onLookup(msg, origin);
      case 'lookup-reply':
        return this.lookups.onLookupReply(msg);
      case 'key-offer':
        return this.repl.onKeyOffer(msg, origin);
      case 'key-want':
        return this.repl.onKeyWant(msg, origin);
      case 'status-query':
        return this.desk.onStatusQuery(msg, origin);
      case 'decommission':
        return this.desk.onDecommission(msg, origin);
      case 'holds-query':
        return this.holds.onQuery(msg, origin);
      case 'holds-reply':
        return this.holds.onReply(msg, origin);
      case 'delete-request':
        return this.deletes.onRequest(msg, origin);
      case 'delete-reply':
        return this.deletes.onReply(msg, origin);
      case 'key-delete':
        return this.deletes.onKeyDelete(msg, origin);
      case 'delete-confirm':
        return this.deletes.onConfirm(msg);
      default:
        return ctx.note(`Ignored a stray ${msg.type} frame`, 'debug');
    }
  }

  /** A TCP message could not be delivered: routed messages go on without the unreachable peer. */
  private onSendFailed(target: Target, msg: Message, error: string, refused: boolean): void {
    const ctx = this.ctx;
    if (msg.type === 'join' && ctx.phase === 'joining' && msg.joiner.id === ctx.self.id && msg.hops === 0) {
      return this.join.onUnreachable(target, error, refused);
    }
    if (target.id === undefined) return ctx.note(`Could not deliver ${msg.type} to ${ctx.nameOf(target)}: ${error}`, 'debug');
    const to: Contact = { id: target.id, host: target.host, port: target.port };
    switch (msg.type) {
      case 'join':
        return this.reroute(to, msg, `the join request of Peer ${ctx.fmt(msg.joiner.id)}`);
      case 'store':
        return this.reroute(to, msg, `Store ${msg.file}`);
      case 'file-request':
        return this.reroute(to, msg, `the request for File ${msg.file}`);
      case 'lookup':
        return this.reroute(to, msg, `a lookup of key ${ctx.fmt(msg.key)}`);
      case 'successor-query':
        return this.succ.onQueryFailed(to);
      case 'depart':
        return this.depart.onDepartAck(to);
      case 'key-offer':
        return this.repl.onOfferFailed(msg.oid, to);
      case 'holds-query':
        return this.holds.onSendFailed(msg, error);
      case 'delete-request':
        return this.deletes.onSendFailed(msg, error);
      default:
        return ctx.note(`Could not deliver ${msg.type} to Peer ${ctx.fmt(to.id)}: ${error}`, 'debug');
    }
  }

  /** The message goes round again, routed as if the unreachable peer were not there. */
  private reroute(failed: Contact, msg: RoutedMessage, what: string): void {
    const ctx = this.ctx;
    this.live.suspect(failed.id);
    if (this.router.routable().length === 0) {
      return ctx.note(`Could not forward ${what}: Peer ${ctx.fmt(failed.id)} cannot be reached and no other successor is known`);
    }
    ctx.note(`Peer ${ctx.fmt(failed.id)} cannot be reached; routing ${what} without it`);
    // handled again as if it had just arrived here (we are the sender it speaks for, if anyone)
    const here: Origin = ctx.origins.here(msg);
    if (msg.type === 'join') this.join.onJoin(msg, here);
    else if (msg.type === 'store') this.transfers.onStore({ ...msg, final: false }, here);
    else if (msg.type === 'file-request') this.transfers.onFileRequest({ ...msg, final: false }, here);
    else this.lookups.onLookup({ ...msg, final: false }, here);
  }
}
