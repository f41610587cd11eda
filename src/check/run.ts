// Plays one scenario on the simulator with real peers (the Peer shell and the protocol core) and
// checks the invariants: content safety on every disk write, the ring's structure, copies and
// Requests at every checkpoint.
//
// Definitions
// - Calm: no partition in force, no peer paused, no datagram loss, the normal latency
//   (duplicates and reordering, when a seed has them, never stop: the ring must be right with them).
// - A checkpoint comes when the world is calm and the next step is more than quietMs + 1 s away
//   (and once at the end, after every fault has been ended). It waits until quietMs have passed
//   since the last step, then checks the structure every pollMs until it holds; if it still
//   does not hold settleMs after the last step, the seed fails with the violation seen last.
//   Then a probe: a store typed now, in a settled ring, must reach its right peers within
//   requestBoundMs. Then it requests every stored file from a random live peer: each must
//   arrive (its bytes equal to the original) within requestBoundMs.
// - Peers: the scenario names them by slot (0..255); the slot table below says where each
//   listens and which id it has in the run's space. At 8 bits slot s is Peer s, so every seed
//   replays as it did before other spaces came; above, ring order is id order, not slot order.
// - A file is stored (must never be lost) once a checkpoint found it on its right peers
//   (committed), or while a peer that took a copy of it from the ring (the owner that accepted
//   it, a replica, a hand-over) has not crashed since: a crash of every holder before the copies
//   were made is the one loss the protocol does not claim to survive.
import { createHash } from 'node:crypto';
import { CHECK_DEFAULTS } from './defaults.js';
import type { Contact } from '../core/contact.js';
import { DEFAULT_HOST, DEFAULT_SUCCESSORS, RING_REPLICAS, surfaceRouting, TESTNET_PING_INTERVAL_MS, type PeerSettings } from '../core/config.js';
import { SPEC_BITS, type Id, type IdSpace } from '../core/id-space.js';
import type { Trace } from '../core/trace.js';
import type { Peer, PeerOptions, PeerSnapshot, PeerTrace } from '../peer.js';
import { defaultContact, idSpace } from '../space.js';
import { storeDirOf } from '../store-dir.js';
import { createTestnet, type Testnet } from '../testnet.js';
import { SimNetwork } from '../transport/sim/network.js';
import { mulberry32 } from '../util/prng.js';
import { sameBytes } from '../core/bytes.js';
import { Forger, SECRET_FILE, type ForgerWorld } from './byzantine.js';
import { checkCopies, checkRing, checkWrite, storedNameOf, type RingView, type Violation } from './invariants.js';
import { contentOf, ID_COUNT, MIN_UP, NORMAL_LATENCY, type Scenario, type Step } from './scenario.js';

/** r, k and routing as core/config.ts declares them (default: CHECK_DEFAULTS, and the routing of the id space). */
export interface CheckOptions extends Pick<PeerSettings, 'routing' | 'successors' | 'replicas'> {
  /** Peers the ring starts with. */
  peers: number;
  episodes?: number;
  pingIntervalMs?: number;
  /** A checkpoint starts this long after the last fault ... */
  quietMs?: number;
  /** ... and the structure must hold this long after it at the latest. */
  settleMs?: number;
  pollMs?: number;
  requestBoundMs?: number;
  /** Share of the first ring's peers that are Byzantine: each gets a forger beside it (0 to 0.5). */
  byzantine?: number;
  /** Id space size in bits (8, the specification's, by default). */
  bits?: number;
  /** A private ring: every peer holds the simulator's stand-in certificate for its id. */
  secure?: boolean;
}

export { CHECK_DEFAULTS };

export interface RunFailure extends Violation {
  /** Virtual time of the failure, in ms. */
  at: number;
}

export interface RunResult {
  seed: number;
  /** Simulated events processed. */
  events: number;
  virtualMs: number;
  checkpoints: number;
  stores: number;
  requests: number;
  failure?: RunFailure;
}

const BASE_PORT = 20_000;
const HOST = DEFAULT_HOST;
/** Peers of the first ring get this long to open their endpoints. */
const START_BOUND_MS = 5_000;
/** A slot's data directory, or a folder in it (its store folder above 8 bits). */
const DIR_RE = /^peer-(\d+)(?:\/|$)/;

/** The slot tables made so far, per id space size (256 hashes each, made once). */
const slotTables = new Map<number, readonly Contact[]>();

/**
 * Where the scenario's slots live in `space`: slot s is Peer s at BASE_PORT + s in the 8-bit
 * space (the specification's layout, so every seed replays as it always did). Above, slot s
 * listens at BASE_PORT + s and has that address's id, as a peer started with PEER auto derives
 * it. In small spaces two addresses may hash to one id (slots 41 and 185 do at 16 bits); the
 * later slot then moves up ID_COUNT ports at a time until its id is free: every slot is a peer
 * of its own, and ports of different slots never meet (they differ mod ID_COUNT).
 */
export function slotContacts(space: IdSpace): readonly Contact[] {
  let table = slotTables.get(space.bits);
  if (!table) {
    const taken = new Set<Id>();
    table = Array.from({ length: ID_COUNT }, (_, slot) => (space.spec ? defaultContact(BigInt(slot), HOST, BASE_PORT) : freeContact(space, slot, taken)));
    slotTables.set(space.bits, table);
  }
  return table;
}

/** Slot `slot`'s first address whose id is not `taken` yet (and takes it). */
function freeContact(space: IdSpace, slot: number, taken: Set<Id>): Contact {
  for (let port = BASE_PORT + slot; ; port += ID_COUNT) {
    const id = space.idOfAddress(HOST, port);
    if (taken.has(id)) continue;
    taken.add(id);
    return { id, host: HOST, port };
  }
}

const byId = (a: Id, b: Id): number => (a < b ? -1 : a > b ? 1 : 0);

interface StoreRecord {
  origin: number;
  committed: boolean;
  /** Peers that took a copy and have not crashed since. */
  holders: Set<number>;
}

interface PendingRequest {
  requester: number;
  file: string;
  outcome?: string;
}

/**
 * A ring of real peers on the simulator, driven step by step, with the invariants at hand: the
 * runner below plays whole scenarios with it, tests drive it by hand.
 */
export class CheckWorld {
  readonly sim: SimNetwork;
  /** The ring's builder (on `sim`, started empty): every peer starts through it. */
  private net: Testnet | undefined;
  /** The peers by slot (the testnet knows them by id). */
  readonly peers = new Map<number, Peer>();
  failure: RunFailure | undefined;
  checkpoints = 0;
  requests = 0;
  private readonly o: Required<Omit<CheckOptions, 'episodes'>>;
  /** The run's id space, where each slot is (slotContacts), and back from an id to its slot. */
  readonly space: IdSpace;
  private readonly slots: readonly Contact[];
  private readonly slotOfId: ReadonlyMap<Id, number>;
  private readonly rand: () => number;
  private readonly originals = new Map<string, Uint8Array>();
  private readonly stores = new Map<string, StoreRecord>();
  private readonly partitions = new Map<number, number[]>();
  private readonly losses = new Map<number, number>();
  private readonly delays = new Map<number, [number, number]>();
  private readonly paused = new Set<number>();
  /** Peers told to quit: members until they have handed their keys over, but no longer a requester or a store's origin. */
  private readonly quitting = new Set<number>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly everyAddress: string[];
  /** Names the scenario stores (a probe store takes another). */
  private readonly scenarioFiles: Set<string>;
  /** The forgers beside the Byzantine peers, and the names they used fresh (an honest probe avoids them). */
  private readonly forgers: Forger[] = [];
  private readonly byzantine = new Set<number>();
  private readonly claimed = new Set<string>();
  /** Per peer, the bytes it keeps outside its store: written anywhere else, they leaked. */
  private readonly secrets = new Map<number, Uint8Array>();
  /** Virtual time of the last step carried out (a fault, its end, a store or a request); and whether any came since the last checkpoint. */
  lastStepAt = 0;
  dirty = true;

  constructor(
    readonly sc: Scenario,
    opts: CheckOptions,
  ) {
    this.space = idSpace(opts.bits ?? CHECK_DEFAULTS.bits);
    this.o = { ...CHECK_DEFAULTS, ...opts, routing: opts.routing ?? surfaceRouting(this.space, 'ring') };
    this.slots = slotContacts(this.space);
    this.slotOfId = new Map(this.slots.map((c, slot) => [c.id, slot]));
    this.rand = mulberry32((sc.seed ^ 0x85ebca6b) >>> 0);
    this.sim = new SimNetwork({
      seed: sc.seed,
      codec: sc.net.codec,
      latencyMs: sc.net.latencyMs,
      duplicateRate: sc.net.duplicateRate,
      reorderRate: sc.net.reorderRate,
      // the checker's peers touch no real disk or socket: nothing outside needs a turn
      inPlace: true,
    });
    this.scenarioFiles = new Set(sc.steps.flatMap((s) => (s.kind === 'store' ? [s.file] : [])));
    this.everyAddress = this.slots.map((c) => `${c.host}:${c.port}`);
    this.sim.disk.onWrite = (dir, name, bytes) => this.onWrite(dir, name, bytes);
  }

  contact(id: number): Contact {
    return this.slots[id]!;
  }
  /** The ring id of slot `id` (the slot itself at 8 bits). */
  idOf(id: number): Id {
    return this.contact(id).id;
  }
  /** The slot of a ring id this run gave out. */
  slotOf(id: Id): number {
    return this.slotOfId.get(id)!;
  }
  dir(id: number): string {
    return `peer-${id}`;
  }
  /** Where slot `id` keeps its stored names (the data directory itself at 8 bits). */
  storeDir(id: number): string {
    return storeDirOf(this.dir(id), this.space);
  }
  /** The slot whose data or store directory `dir` is, if any. */
  private slotOfDir(dir: string): number | undefined {
    const m = DIR_RE.exec(dir);
    const id = m ? Number(m[1]) : undefined;
    return id !== undefined && (dir === this.dir(id) || dir === this.storeDir(id)) ? id : undefined;
  }
  /** How a failure names a peer: by id, and above 8 bits with the slot the schedule calls it by. */
  private label(id: Id): string {
    const slot = this.slotOfId.get(id);
    return `${this.space.format(id)}${this.space.spec || slot === undefined ? '' : ` (slot ${slot})`}`;
  }
  private peerName(id: Id): string {
    return `Peer ${this.label(id)}`;
  }
  /** Slots sorted by their ids: ring order (slot order at 8 bits). */
  inRingOrder(ids: readonly number[]): number[] {
    return [...ids].sort((a, b) => byId(this.idOf(a), this.idOf(b)));
  }

  fail(v: Violation): void {
    this.failure ??= { ...v, at: this.sim.now() };
  }

  // ---- peers ---------------------------------------------------------------------------------

  private startPeer(id: number, mode: PeerOptions['mode']): Peer {
    // an assertion: runScenario and the tests start the world before any step
    if (!this.net) throw new Error('CheckWorld: start() first');
    // each slot at its own address and folder: the slot table, not the testnet's layout, places it
    const peer = this.net.start({ id: this.idOf(id), contact: this.contact(id), dataDir: this.dir(id), mode });
    this.peers.set(id, peer);
    return peer;
  }

  async start(): Promise<void> {
    this.net = await createTestnet({
      runtime: 'sim',
      sim: this.sim,
      ids: [],
      bits: this.space.bits,
      host: HOST,
      basePort: BASE_PORT,
      pingIntervalMs: this.o.pingIntervalMs,
      successors: this.o.successors,
      replicas: this.o.replicas,
      routing: this.o.routing,
      secure: this.o.secure,
    });
    this.net.on('trace', (t: PeerTrace) => this.onTrace(this.slotOf(t.id), t.trace));
    const ids = this.inRingOrder(this.sc.ids);
    ids.forEach((id, i) => {
      const next = [1, 2].filter((d) => d < ids.length).map((d) => this.contact(ids[(i + d) % ids.length]!));
      this.startPeer(id, { kind: 'init', successors: next });
    });
    const all = [...this.peers.values()];
    if (!(await this.sim.runUntil(() => all.every((p) => p.isInRing), START_BOUND_MS))) {
      this.fail({ invariant: 'crash', detail: 'the first ring did not start' });
    }
    if (this.o.byzantine > 0) await this.startForgers();
  }

  /** Byzantine peers, drawn from the seed apart from the schedule: a forger beside each, and a secret beside every peer. */
  private async startForgers(): Promise<void> {
    const pick = mulberry32((this.sc.seed ^ 0x27d4eb2f) >>> 0);
    const ids = [...this.sc.ids].sort((a, b) => a - b);
    const count = Math.max(1, Math.round(this.o.byzantine * ids.length));
    const byzantine = this.byzantine;
    while (byzantine.size < count) byzantine.add(ids[Math.floor(pick() * ids.length)]!);
    for (const id of ids) {
      const secret = Uint8Array.from({ length: 48 }, () => Math.floor(pick() * 256));
      this.secrets.set(id, secret);
      this.sim.disk.write(this.dir(id), SECRET_FILE, secret);
    }
    const world: ForgerWorld = {
      sim: this.sim,
      honest: () => this.liveIds().filter((id) => !byzantine.has(id)),
      contact: (id) => this.contact(id),
      storedNames: () => [...this.originals.keys()],
      sha256Of: (name) => {
        const bytes = this.originals.get(name);
        return bytes ? createHash('sha256').update(bytes).digest() : undefined;
      },
      reserved: () => this.scenarioFiles,
      claim: (name) => void this.claimed.add(name),
      rand: pick,
    };
    for (const id of byzantine) {
      const f = new Forger(world, id);
      this.forgers.push(f);
      await f.start();
    }
  }

  /** Stops the forgers (the end of a run). */
  stopForgers(): void {
    for (const f of this.forgers) f.stop();
  }

  /** In the ring, running, not paused, not leaving. */
  isLive(id: number): boolean {
    return this.liveSnapshot(id) !== undefined;
  }
  /** A live slot's snapshot (the one that found it active), or undefined when it is not live. */
  private liveSnapshot(id: number): PeerSnapshot | undefined {
    const p = this.peers.get(id);
    if (!p || !p.isInRing || this.paused.has(id)) return undefined;
    const s = p.snapshot();
    return s.phase === 'active' ? s : undefined;
  }
  /** The live slots in ring order. */
  liveIds(): number[] {
    return [...this.live().keys()];
  }
  /** The live slots in ring order, each with its snapshot. */
  private live(): Map<number, PeerSnapshot> {
    const snaps = new Map<number, PeerSnapshot>();
    for (const id of this.inRingOrder([...this.peers.keys()])) {
      const s = this.liveSnapshot(id);
      if (s) snaps.set(id, s);
    }
    return snaps;
  }

  calm(): boolean {
    return this.partitions.size === 0 && this.paused.size === 0 && this.losses.size === 0 && this.delays.size === 0;
  }

  // ---- steps ---------------------------------------------------------------------------------

  apply(step: Step): void {
    const fault = step.kind !== 'store' && step.kind !== 'request';
    const done = this.applyStep(step);
    if (!done) return;
    this.lastStepAt = this.sim.now();
    this.dirty = true;
  }

  /** Carries out one step; false when it does not apply now (its peer is not there). */
  private applyStep(step: Step): boolean {
    switch (step.kind) {
      case 'kill': {
        const p = this.peers.get(step.id);
        if (!p?.isRunning || this.wouldLeaveTooFew(step.id)) return false;
        this.paused.delete(step.id);
        for (const s of this.stores.values()) s.holders.delete(step.id);
        void p.kill();
        return true;
      }
      case 'quit': {
        const p = this.peers.get(step.id);
        if (!p?.isInRing || this.paused.has(step.id) || this.wouldLeaveTooFew(step.id)) return false;
        this.quitting.add(step.id);
        void p.quit();
        return true;
      }
      case 'join': {
        if (this.peers.get(step.id)?.isRunning) return false;
        this.quitting.delete(step.id);
        const live = this.liveIds();
        if (live.length === 0) return false;
        // the named peer, or the first live one after it on the ring
        const via = live.find((x) => this.idOf(x) >= this.idOf(step.via)) ?? live[0]!;
        this.startPeer(step.id, { kind: 'join', known: this.contact(via) });
        return true;
      }
      case 'pause': {
        const p = this.peers.get(step.id);
        if (!p?.isRunning || !this.sim.pause(this.contact(step.id))) return false;
        this.paused.add(step.id);
        return true;
      }
      case 'resume':
        if (!this.paused.delete(step.id)) return false;
        this.sim.resume(this.contact(step.id));
        return true;
      case 'partition':
        this.partitions.set(step.group, step.side);
        this.applyPartitions();
        return true;
      case 'heal':
        if (!this.partitions.delete(step.group)) return false;
        this.applyPartitions();
        return true;
      case 'loss':
        if (step.rate > 0) this.losses.set(step.group, step.rate);
        else if (!this.losses.delete(step.group)) return false;
        this.sim.setLoss(Math.max(0, ...this.losses.values()));
        return true;
      case 'delay':
        if (step.min === NORMAL_LATENCY[0] && step.max === NORMAL_LATENCY[1]) {
          if (!this.delays.delete(step.group)) return false;
        } else {
          this.delays.set(step.group, [step.min, step.max]);
        }
        this.sim.setLatency([...this.delays.values()].pop() ?? NORMAL_LATENCY);
        return true;
      case 'store':
        return this.store(step.id, step.file, step.size);
      case 'request': {
        if (!this.isLive(step.id) || !this.originals.has(step.file)) return false;
        this.peers.get(step.id)!.coreTyped('request', step.file);
        return true;
      }
    }
  }

  /**
   * A departure that would leave fewer than MIN_UP peers up is skipped: the schedule planned it
   * with more peers (a join it counted on was refused, or the shrinker removed it).
   */
  private wouldLeaveTooFew(id: number): boolean {
    const up = this.liveIds();
    return up.length - (up.includes(id) ? 1 : 0) < (this.sc.minUp ?? MIN_UP);
  }

  private applyPartitions(): void {
    this.sim.heal();
    for (const side of this.partitions.values()) {
      const a = side.map((id) => this.everyAddress[id]!);
      const inA = new Set(a);
      this.sim.partition(a, this.everyAddress.filter((x) => !inA.has(x)));
    }
  }

  /** Puts the file in the origin's directory and types Store there; false when the origin is not live. */
  store(origin: number, file: string, size: number): boolean {
    if (!this.isLive(origin) || this.quitting.has(origin) || this.stores.has(file)) return false;
    const bytes = contentOf(file, size);
    this.originals.set(file, bytes);
    this.sim.disk.write(this.storeDir(origin), this.space.fileOf(file), bytes);
    this.stores.set(file, { origin, committed: false, holders: new Set() });
    // the core's typed Store in every space (not the console's put): the invariants follow its traces
    this.peers.get(origin)!.coreTyped('store', file);
    return true;
  }

  /** Ends every fault still in force (the end of the schedule). */
  endFaults(): void {
    let changed = false;
    for (const id of this.paused) {
      this.sim.resume(this.contact(id));
      changed = true;
    }
    this.paused.clear();
    if (this.partitions.size) {
      this.partitions.clear();
      this.sim.heal();
      changed = true;
    }
    if (this.losses.size || this.delays.size) {
      this.losses.clear();
      this.delays.clear();
      this.sim.setLoss(0);
      this.sim.setLatency(NORMAL_LATENCY);
      changed = true;
    }
    if (changed) {
      this.lastStepAt = this.sim.now();
      this.dirty = true;
    }
  }

  // ---- observation -------------------------------------------------------------------------

  private onWrite(dir: string, file: string, bytes: Uint8Array): void {
    if (this.secrets.size) {
      for (const [id, secret] of this.secrets) {
        if (dir !== this.dir(id) && sameBytes(bytes, secret)) return this.fail({ invariant: 'leak', detail: `${dir}/${file} holds the bytes Peer ${id} keeps outside its store` });
      }
      // a forger writes its own bytes where it sends them from
      if (this.forgers.some((f) => f.dir === dir)) return;
      // A forger may Store a name itself: one nobody stored (its own), or, on the side of a
      // partition that does not hold it, one stored on the other side (no ring can tell a first
      // Store across a partition). What must hold is that no copy a peer holds is ever replaced,
      // and that every Request gets the stored bytes (checked at each checkpoint).
      const s = storedNameOf(file, this.space);
      if (s && !s.received) {
        const before = this.sim.disk.read(dir, file);
        if (before && !sameBytes(before, bytes)) return this.fail({ invariant: 'content', detail: `${dir}/${file} was replaced with other bytes` });
        if (!this.originals.has(s.name) || !sameBytes(this.originals.get(s.name)!, bytes)) return;
      }
    }
    const bad = checkWrite(this.space, this.originals, dir, file, bytes);
    if (bad) return this.fail(bad);
    const s = storedNameOf(file, this.space);
    const id = this.slotOfDir(dir);
    // the origin's own file is not a copy the ring took: a Store that never reached an owner (it
    // says so) leaves nothing the ring must keep
    const store = s && !s.received ? this.stores.get(s.name) : undefined;
    if (store && id !== undefined && id !== store.origin) store.holders.add(id);
  }

  private onTrace(id: number, t: Trace): void {
    // the origin took the store itself: its own file is the copy
    if (t.kind === 'store-accepted' && t.origin === this.idOf(id)) this.stores.get(t.file)?.holders.add(id);
    if (this.pending.size === 0) return;
    let file: string | undefined;
    let outcome: string | undefined;
    switch (t.kind) {
      case 'receive':
        if (t.purpose !== 'request' || t.phase === 'start') return;
        file = t.file;
        outcome = t.phase === 'done' ? 'ok' : `the transfer from ${this.peerName(t.from)} failed: ${t.error ?? 'unknown'}`;
        if (outcome === 'ok') {
          const got = this.sim.disk.read(this.dir(id), this.space.receivedFileOf(t.file));
          const original = this.originals.get(t.file);
          if (!got) outcome = 'received, but no file landed';
          else if (original && !sameBytes(got, original)) outcome = `received other bytes than were stored, from ${this.peerName(t.from)}`;
        }
        break;
      case 'serve':
        if (!t.local || t.phase === 'sent') return;
        file = t.file;
        outcome = t.phase === 'start' ? 'ok' : `the owner itself lacks it (${t.phase})`;
        break;
      case 'request-missing':
        file = t.file;
        outcome = `${this.peerName(t.from)} does not have it`;
        break;
      case 'request-timeout':
        file = t.file;
        outcome = `no answer within ${t.seconds} s`;
        break;
      case 'request-busy':
        file = t.file;
        outcome = `${this.peerName(t.from)} busy, gave up`;
        break;
      default:
        return;
    }
    const p = this.pending.get(`${id}:${file}`);
    if (p && p.outcome === undefined) p.outcome = outcome;
  }

  /**
   * Whether a name's right peers (its owner and the next k - 1 live peers) are all honest: with
   * Byzantine peers among them, its copies and Requests are the Byzantine peers' to spoil (they
   * may refuse, or sabotage themselves), and only its bytes are checked.
   */
  private honestlyHeld(file: string): boolean {
    if (this.byzantine.size === 0) return true;
    const live = this.liveIds();
    const owner = this.space.ownerOf(this.space.keyOf(file), live.map((id) => this.idOf(id)));
    if (owner === undefined) return true;
    const from = live.indexOf(this.slotOf(owner));
    for (let i = 0; i < Math.min(this.o.replicas, live.length); i++) if (this.byzantine.has(live[(from + i) % live.length]!)) return false;
    return true;
  }

  /** The names that must not be lost now. */
  storedFiles(): string[] {
    const out: string[] = [];
    for (const [file, s] of this.stores) if ((s.committed && !this.sc.forgiveLost) || s.holders.size > 0) out.push(file);
    return out;
  }

  /**
   * Live peers that no live peer knows of and that know no live peer: a joiner whose acceptor and
   * every peer it was told of failed before anyone else heard of it. No protocol can reach it
   * (Zave's stable base was lost); it says it is alone and keeps asking. It is left out of the
   * ring the invariants judge, and nothing else is.
   */
  stranded(live: readonly number[]): Set<number> {
    const out = new Set<number>();
    // by slot: the peers name one another by id
    const known = new Map(live.map((id) => [id, new Set(this.peers.get(id)!.knownPeers().flatMap((x) => this.slotOfId.get(x) ?? []))]));
    for (const id of live) {
      if (this.peers.get(id)!.snapshot().successors.length > 0) continue;
      const knowsLive = [...known.get(id)!].some((x) => x !== id && known.has(x));
      const knownBy = live.some((x) => x !== id && known.get(x)!.has(id));
      if (!knowsLive && !knownBy) out.add(id);
    }
    return out;
  }

  /** The live peers the invariants judge: all of them, but for stranded ones where a schedule may strand a peer. */
  ringIds(): number[] {
    return [...this.ring().keys()];
  }
  /** The peers the invariants judge, in ring order, each with its snapshot. */
  private ring(): Map<number, PeerSnapshot> {
    const live = this.live();
    if (!this.mayStrand()) return live;
    const stranded = this.stranded([...live.keys()]);
    for (const id of stranded) live.delete(id);
    return live;
  }
  /** Whether the schedule may strand a peer (it lets the ring shrink below MIN_UP). */
  private mayStrand(): boolean {
    return (this.sc.minUp ?? MIN_UP) < MIN_UP;
  }

  view(files: readonly string[]): RingView {
    const snaps = new Map<bigint, PeerSnapshot>();
    const peerOf = new Map<bigint, Peer>();
    for (const [id, s] of this.ring()) {
      snaps.set(this.idOf(id), s);
      peerOf.set(this.idOf(id), this.peers.get(id)!);
    }
    const held = new Map<bigint, Set<string>>();
    return {
      space: this.space,
      r: this.o.successors,
      k: this.o.replicas,
      peers: [...snaps.values()].map((s) => ({ id: s.id, phase: s.phase, successors: s.successors, pred1: s.pred1, pred2: s.pred2 })),
      owns: (id, key) => peerOf.get(id)!.nextHop(key) === null,
      holds: (id, name) => {
        let names = held.get(id);
        if (!names) held.set(id, (names = new Set(snaps.get(id)?.files.map((f) => f.name))));
        return names.has(name) && this.sim.disk.size(this.storeDir(this.slotOf(id)), this.space.fileOf(name)) !== undefined;
      },
      files,
    };
  }

  /**
   * Whether every copy of `file` is in place: what checkCopies(this.view([file])) says, asking
   * only its right peers. Walking clockwise from the key over the peers that are up, the first
   * min(k, n) active ones are the live ring's owner of the key and the peers after it.
   */
  private copiesInPlace(file: string): boolean {
    if (this.mayStrand()) return !checkCopies(this.view([file]));
    const up = this.inRingOrder([...this.peers.keys()].filter((id) => this.peers.get(id)!.isInRing && !this.paused.has(id)));
    const owner = this.space.ownerOf(this.space.keyOf(file), up.map((id) => this.idOf(id)));
    if (owner === undefined) return true;
    const at = up.indexOf(this.slotOf(owner));
    const onDisk = this.space.fileOf(file);
    for (let i = 0, right = 0; i < up.length && right < this.o.replicas; i++) {
      const id = up[(at + i) % up.length]!;
      const s = this.liveSnapshot(id);
      if (!s) continue;
      right++;
      if (!s.files.some((f) => f.name === file) || this.sim.disk.size(this.storeDir(id), onDisk) === undefined) return false;
    }
    return true;
  }

  /** Peers still joining or leaving (a checkpoint waits for them). */
  unsettled(): number[] {
    return [...this.peers.entries()]
      .filter(([id, p]) => p.isRunning && !this.paused.has(id) && p.snapshot().phase !== 'active')
      .map(([id]) => id);
  }

  // ---- checkpoints -------------------------------------------------------------------------

  async checkpoint(): Promise<void> {
    this.checkpoints++;
    this.dirty = false;
    const sim = this.sim;
    const from = this.lastStepAt;
    if (sim.now() < from + this.o.quietMs) await sim.runFor(from + this.o.quietMs - sim.now());
    const files = this.storedFiles().filter((f) => this.honestlyHeld(f));
    let last: Violation | undefined;
    for (;;) {
      if (this.failure) return;
      const busy = this.unsettled();
      last = busy.length
        ? { invariant: 'settled', detail: `Peer${busy.length > 1 ? 's' : ''} ${busy.map((id) => this.label(this.idOf(id))).join(', ')} still ${this.peers.get(busy[0]!)!.snapshot().phase}` }
        : checkRing(this.view(files));
      if (!last) break;
      if (sim.now() >= from + (this.sc.settleMs ?? this.o.settleMs)) return this.fail({ ...last, detail: `${last.detail} (${((sim.now() - from) / 1000).toFixed(1)} s after the last step)` });
      await sim.runFor(this.o.pollMs);
    }
    for (const f of files) this.stores.get(f)!.committed = true;
    const probe = await this.probeStore();
    if (this.failure) return;
    await this.requestAll(probe ? [...this.storedFiles(), probe] : this.storedFiles());
  }

  /** A store typed in the settled ring must reach its right peers within requestBoundMs. */
  private async probeStore(): Promise<string | undefined> {
    // a peer told to quit stays in the ring while it hands its keys over, but asks for nothing more
    const live = this.ringIds().filter((id) => !this.quitting.has(id));
    if (!live.length) return undefined;
    let file: string;
    do file = String(Math.floor(this.rand() * 10_000)).padStart(4, '0');
    while (this.originals.has(file) || this.scenarioFiles.has(file) || this.claimed.has(file));
    const origin = live[Math.floor(this.rand() * live.length)]!;
    this.store(origin, file, 100 + Math.floor(this.rand() * 2000));
    let last: Violation | undefined;
    if (!this.honestlyHeld(file)) return file;
    // asked after every event: the quick look decides, the whole view only names what is missing at the end
    const end = this.sim.now() + this.o.requestBoundMs;
    const placed = (): boolean => {
      if (this.failure || this.copiesInPlace(file)) return true;
      if (this.sim.now() >= end) last = checkCopies(this.view([file]));
      return false;
    };
    const ok = await this.sim.runUntil(placed, this.o.requestBoundMs);
    if (!ok && last) this.fail({ ...last, detail: `Store ${file} typed at ${this.peerName(this.idOf(origin))} in a settled ring: ${last.detail} after ${this.o.requestBoundMs / 1000} s` });
    if (!this.failure) this.stores.get(file)!.committed = true;
    return file;
  }

  /** Requests each file from a random live peer (or `from`); each must arrive within requestBoundMs. */
  async requestAll(files: readonly string[], from?: number): Promise<void> {
    // a peer told to quit stays in the ring while it hands its keys over, but asks for nothing more
    const live = this.ringIds().filter((id) => !this.quitting.has(id));
    if (!files.length || !live.length) return;
    this.pending.clear();
    for (const file of files) {
      const id = from ?? live[Math.floor(this.rand() * live.length)]!;
      this.sim.disk.remove(this.dir(id), this.space.receivedFileOf(file));
      this.pending.set(`${id}:${file}`, { requester: id, file });
      this.requests++;
      this.peers.get(id)!.coreTyped('request', file);
    }
    const all = [...this.pending.values()];
    await this.sim.runUntil(() => !!this.failure || all.every((p) => p.outcome !== undefined), this.o.requestBoundMs);
    this.pending.clear();
    // a name Byzantine peers hold may get a clear error instead (their refusal), never other bytes
    const bad = all.find((p) => p.outcome !== 'ok' && (this.honestlyHeld(p.file) || p.outcome === undefined || p.outcome.startsWith('received other bytes')));
    if (bad) {
      this.fail({ invariant: 'requests', detail: `Request ${bad.file} at ${this.peerName(this.idOf(bad.requester))}: ${bad.outcome ?? `no answer within ${this.o.requestBoundMs / 1000} s`}` });
    }
  }
}

/** A checkpoint needs this much calm before the next step. */
const MIN_GAP_MS = 1_000;

/** Plays the scenario (or only the steps kept) and checks every invariant. */
export async function runScenario(sc: Scenario, opts: CheckOptions): Promise<RunResult> {
  const w = new CheckWorld(sc, opts);
  const o = { ...CHECK_DEFAULTS, ...opts };
  const sim = w.sim;
  try {
    await w.start();
    let offset = 0;
    for (const step of sc.steps) {
      if (w.failure) break;
      let at = step.at + offset;
      if (w.dirty && w.calm() && at - Math.max(sim.now(), w.lastStepAt) >= o.quietMs + MIN_GAP_MS) {
        await w.checkpoint();
        if (w.failure) break;
        // the rest of the schedule keeps its spacing after the checkpoint
        if (sim.now() > at) {
          offset += sim.now() - at;
          at = sim.now();
        }
      }
      if (at > sim.now()) await sim.runFor(at - sim.now());
      if (w.failure) break;
      w.apply(step);
    }
    if (!w.failure) {
      w.endFaults();
      await w.checkpoint();
    }
  } catch (err) {
    w.fail({ invariant: 'crash', detail: err instanceof Error ? err.message.split('\n')[0]! : String(err) });
  }
  w.stopForgers();
  const st = sim.stats();
  return {
    seed: sc.seed,
    events: st.eventsProcessed,
    virtualMs: sim.now(),
    checkpoints: w.checkpoints,
    stores: sc.steps.filter((s) => s.kind === 'store').length,
    requests: w.requests,
    ...(w.failure ? { failure: w.failure } : {}),
  };
}
