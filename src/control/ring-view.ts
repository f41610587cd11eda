// Builds the RingState every surface shows from what the controller gathers: each live peer's
// snapshot, the plan, the departed, the files. Pure. The true ring is made of the live peers in
// the ring plus the peers they name that run outside this process: a peer that joined from
// another process is a member, so the peer before it is not stale for pointing at it.
import type { Id, IdSpace } from '../core/id-space.js';
import type { CoreSnapshot } from '../core/peer-core.js';
import { ringSuccessors } from '../core/ring.js';
import type { FileView, KeyView, PeerView, RingPhase, RingState } from './view-types.js';

export interface Departed {
  kind: 'graceful' | 'abrupt' | 'failed';
  reason: string;
}

export interface ViewInput {
  space: IdSpace;
  seq: number;
  phase: RingPhase;
  runtime: 'node' | 'sim';
  at: number;
  /** Ids planned and not started (the planned phase). */
  planned: readonly Id[];
  /** Snapshots of the peers running here. */
  live: readonly CoreSnapshot[];
  /** Peers that ran here and stopped (until their id runs again). */
  departed: ReadonlyMap<Id, Departed>;
  /** Ids that ran here at some point (so a departed id is never taken for an outside peer). */
  known: ReadonlySet<Id>;
  files: (id: Id) => FileView[];
  layers?: (id: Id) => PeerView['layers'] | undefined;
  /** Copies of each file the ring keeps (k). */
  replicas: number;
}

/** Stored names listed in a state at most (a ring of a million files must not swamp its page). */
export const MAX_KEYS_SHOWN = 2000;

const cmp = (a: Id, b: Id) => (a < b ? -1 : a > b ? 1 : 0);
const inRing = (s: CoreSnapshot) => s.phase === 'active' || s.phase === 'leaving';

/** The members of the ring: live peers in it, and the outside peers they name. */
export function members(live: readonly CoreSnapshot[], known: ReadonlySet<Id>): { ids: Id[]; outside: Id[] } {
  const ids = new Set<Id>();
  const outside = new Set<Id>();
  for (const s of live) if (inRing(s)) ids.add(s.id);
  for (const s of live) {
    if (!inRing(s)) continue;
    for (const n of [s.pred1, s.pred2, ...s.successors.slice(0, 2)]) {
      if (n !== undefined && !known.has(n)) outside.add(n);
    }
  }
  for (const o of outside) ids.add(o);
  return { ids: [...ids].sort(cmp), outside: [...outside].sort(cmp) };
}

export function buildRingState(v: ViewInput): RingState {
  const f = (id: Id) => v.space.formatFull(id);
  const { ids, outside } = members(v.live, v.known);
  const truth = ringSuccessors(ids);
  const peers: PeerView[] = [];
  const stale: Id[] = [];
  const layerNames = new Set<string>();
  const fingersOf = new Map(v.live.filter((s) => s.fingers?.length).map((s) => [s.id, s.fingers!]));
  const withLayers = (id: Id, p: PeerView): PeerView => {
    const fingers = fingersOf.get(id);
    const layers = { ...(fingers ? { fingers: fingers.map(f) } : {}), ...v.layers?.(id) };
    if (layers && Object.keys(layers).length) {
      Object.keys(layers).forEach((k) => layerNames.add(k));
      return { ...p, layers };
    }
    return p;
  };
  const planned = ringSuccessors(v.planned);
  for (const id of v.planned) {
    peers.push(withLayers(id, { id: f(id), state: 'planned', successors: (planned.get(id) ?? []).map(f), stale: false, files: v.files(id) }));
  }
  for (const s of v.live) {
    const want = inRing(s) ? truth.get(s.id) ?? [] : undefined;
    const have = s.successors.slice(0, 2);
    const isStale = s.phase === 'active' && !!want && (want.length !== have.length || want.some((w, i) => w !== have[i]));
    if (isStale) stale.push(s.id);
    peers.push(
      withLayers(s.id, {
        id: f(s.id),
        state: 'live',
        phase: s.phase,
        successors: s.successors.map(f),
        ...(s.pred1 !== undefined ? { pred1: f(s.pred1) } : {}),
        ...(s.pred2 !== undefined ? { pred2: f(s.pred2) } : {}),
        ...(want ? { want: want.map(f) } : {}),
        stale: isStale,
        files: v.files(s.id),
      }),
    );
  }
  const liveIds = new Set(v.live.map((s) => s.id));
  for (const [id, d] of v.departed) {
    if (liveIds.has(id)) continue;
    peers.push({ id: f(id), state: 'departed', successors: [], stale: false, files: [], departure: d.kind, reason: d.reason });
  }
  const byId = new Map<string, Id>();
  for (const id of [...v.planned, ...v.live.map((s) => s.id), ...v.departed.keys()]) byId.set(f(id), id);
  peers.sort((a, b) => cmp(byId.get(a.id)!, byId.get(b.id)!));
  const keys = keyViews(v, ids);
  return {
    type: 'state',
    seq: v.seq,
    phase: v.phase,
    runtime: v.runtime,
    bits: v.space.bits,
    at: v.at,
    peers,
    outside: outside.map(f),
    stale: stale.sort(cmp).map(f),
    layers: [...layerNames].sort(),
    keys,
    short: keys.filter((k) => k.holders.length < k.want).map((k) => k.name),
  };
}

/** Who holds each stored name, from the live peers' key stores. */
function keyViews(v: ViewInput, members: readonly Id[]): KeyView[] {
  const f = (id: Id) => v.space.formatFull(id);
  const live = v.live.filter(inRing);
  const held = new Map<string, { key: Id; size: number; holders: Id[] }>();
  for (const s of live) {
    for (const file of s.files) {
      let h = held.get(file.name);
      if (!h) {
        if (held.size >= MAX_KEYS_SHOWN) continue;
        held.set(file.name, (h = { key: file.key, size: file.size, holders: [] }));
      }
      h.holders.push(s.id);
    }
  }
  const want = Math.min(v.replicas, live.length);
  return [...held.entries()]
    .sort((a, b) => cmp(a[1].key, b[1].key) || (a[0] < b[0] ? -1 : 1))
    .map(([name, h]) => {
      const owner = v.space.ownerOf(h.key, members);
      const from = owner ?? h.key;
      const holders = [...h.holders].sort((a, b) => cmp(v.space.distance(from, a), v.space.distance(from, b)));
      return { name, key: f(h.key), size: h.size, owner: owner === undefined ? null : f(owner), holders: holders.map(f), want };
    });
}
