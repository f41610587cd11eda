// What must hold of a ring, as pure functions over a view of it: the runner builds the view
// from the simulated peers, the tests build broken ones by hand. Each returns the first
// violation it finds (a stable invariant name and one line of detail) or undefined.
//
// The live peers are those in the ring and running (not paused, not joining, not gone). With n
// of them in ring order:
// - successors: each one's list is the next min(r, n - 1) live peers, in order;
// - predecessors: pred1 is the previous live peer (n >= 2), pred2 the one before it (n >= 3);
// - alone: no live peer knows no successor while another is live;
// - ownership: of every key checked, exactly one live peer takes it (the true owner);
// - copies: every stored file is on the right peers: the owner of its key among the live
//   peers and the next min(k, n) - 1 of them, and their key stores know it.
// - content: every file written under a stored name (or as a received copy of one) has the bytes
//   that name was stored with; run.ts checks it on every disk write, as it happens.
import { sameBytes } from '../core/bytes.js';
import type { Phase } from '../core/context.js';
import type { Id, IdSpace } from '../core/id-space.js';

export type InvariantName = 'successors' | 'predecessors' | 'alone' | 'ownership' | 'copies' | 'requests' | 'content' | 'leak' | 'settled' | 'crash';

export interface Violation {
  invariant: InvariantName;
  detail: string;
}

export interface PeerState {
  id: Id;
  phase: Phase;
  successors: readonly Id[];
  pred1?: Id | undefined;
  pred2?: Id | undefined;
}

export interface RingView {
  space: IdSpace;
  /** Successor list length and copies per file. */
  r: number;
  k: number;
  /** The live peers (any order). */
  peers: readonly PeerState[];
  /** Whether this live peer would take `key` itself (it believes it owns it). */
  owns(id: Id, key: Id): boolean;
  /** Whether this live peer holds the stored name (its bytes on disk and its key store knows it). */
  holds(id: Id, name: string): boolean;
  /** The stored names that must not be lost. */
  files: readonly string[];
}

const fmtList = (space: IdSpace, ids: readonly Id[]) => (ids.length ? ids.map((i) => space.format(i)).join(',') : 'none');

/** The live ids in ring order. */
export function ringOrder(view: RingView): Id[] {
  return view.peers.map((p) => p.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

export function checkAlone(view: RingView): Violation | undefined {
  if (view.peers.length < 2) return undefined;
  const lone = view.peers.find((p) => p.successors.length === 0);
  if (!lone) return undefined;
  return { invariant: 'alone', detail: `Peer ${view.space.format(lone.id)} knows no successor while ${view.peers.length - 1} other peers are live` };
}

export function checkSuccessors(view: RingView): Violation | undefined {
  const order = ringOrder(view);
  const n = order.length;
  for (let i = 0; i < n; i++) {
    const want = order.slice(i + 1).concat(order.slice(0, i)).slice(0, Math.min(view.r, n - 1));
    const p = view.peers.find((x) => x.id === order[i])!;
    const have = p.successors;
    if (have.length !== want.length || want.some((w, j) => w !== have[j])) {
      return {
        invariant: 'successors',
        detail: `Peer ${view.space.format(p.id)} has successors ${fmtList(view.space, have)}; the live ring says ${fmtList(view.space, want)}`,
      };
    }
  }
  return undefined;
}

export function checkPredecessors(view: RingView): Violation | undefined {
  const order = ringOrder(view);
  const n = order.length;
  for (let i = 0; i < n; i++) {
    const want1 = n >= 2 ? order[(i - 1 + n) % n] : undefined;
    const want2 = n >= 3 ? order[(i - 2 + n) % n] : undefined;
    const p = view.peers.find((x) => x.id === order[i])!;
    if (p.pred1 !== want1 || p.pred2 !== want2) {
      const f = (x: Id | undefined) => (x === undefined ? 'none' : view.space.format(x));
      return {
        invariant: 'predecessors',
        detail: `Peer ${view.space.format(p.id)} has predecessors ${f(p.pred1)},${f(p.pred2)}; the live ring says ${f(want1)},${f(want2)}`,
      };
    }
  }
  return undefined;
}

/** The keys worth asking about: each stored file's, each live id and the id after it (range edges). */
export function keysToCheck(view: RingView): Id[] {
  const keys = new Set<Id>();
  for (const f of view.files) keys.add(view.space.keyOf(f));
  for (const p of view.peers) {
    keys.add(p.id);
    keys.add(view.space.add(p.id, 1n));
  }
  return [...keys];
}

export function checkOwnership(view: RingView, keys: readonly Id[] = keysToCheck(view)): Violation | undefined {
  const order = ringOrder(view);
  if (order.length === 0) return undefined;
  for (const key of keys) {
    const owner = view.space.ownerOf(key, order)!;
    const believers = order.filter((id) => view.owns(id, key));
    if (believers.length !== 1 || believers[0] !== owner) {
      return {
        invariant: 'ownership',
        detail: `key ${view.space.format(key)} is taken by ${fmtList(view.space, believers)}; its owner among the live peers is ${view.space.format(owner)}`,
      };
    }
  }
  return undefined;
}

/** The peers that must hold a copy of `key`: its owner among the live peers and the next min(k, n) - 1. */
export function rightPeers(view: RingView, key: Id): Id[] {
  const order = ringOrder(view);
  const n = order.length;
  if (n === 0) return [];
  const owner = view.space.ownerOf(key, order)!;
  const at = order.indexOf(owner);
  return Array.from({ length: Math.min(view.k, n) }, (_, i) => order[(at + i) % n]!);
}

export function checkCopies(view: RingView): Violation | undefined {
  for (const name of view.files) {
    const key = view.space.keyOf(name);
    const right = rightPeers(view, key);
    const missing = right.filter((id) => !view.holds(id, name));
    if (missing.length) {
      const holders = ringOrder(view).filter((id) => view.holds(id, name));
      return {
        invariant: 'copies',
        detail: `file ${name} (key ${view.space.format(key)}) is missing at ${fmtList(view.space, missing)}; it must be on ${fmtList(view.space, right)}; live holders: ${fmtList(view.space, holders)}`,
      };
    }
  }
  return undefined;
}

/** Every structural invariant, in the order a repair makes them true; the first violation. */
export function checkRing(view: RingView): Violation | undefined {
  return checkAlone(view) ?? checkSuccessors(view) ?? checkPredecessors(view) ?? checkOwnership(view) ?? checkCopies(view);
}

/** Candidate data files: a four-digit name (the checker's names in every space), maybe received, maybe with the spec's .pdf. */
const DATA_FILE = /^(received_)?(\d{4})(\.pdf)?$/;

/**
 * The stored name a data file holds (received copies too), or undefined for other files. The
 * space says how a name is spelled on disk (NNNN.pdf at 8 bits, the name itself above), so a
 * file spelled the other space's way is not taken for one.
 */
export function storedNameOf(file: string, space: IdSpace): { name: string; received: boolean } | undefined {
  const m = DATA_FILE.exec(file);
  if (!m) return undefined;
  const name = m[2]!;
  const received = !!m[1];
  return file === (received ? space.receivedFileOf(name) : space.fileOf(name)) ? { name, received } : undefined;
}

/** A write of `bytes` as `dir`/`file`: a violation unless the bytes are those `file`'s name was stored with. */
export function checkWrite(space: IdSpace, originals: ReadonlyMap<string, Uint8Array>, dir: string, file: string, bytes: Uint8Array): Violation | undefined {
  const s = storedNameOf(file, space);
  if (!s) return undefined;
  const original = originals.get(s.name);
  if (!original) return { invariant: 'content', detail: `${dir}/${file} was written, but nobody stored ${s.name}` };
  if (!sameBytes(original, bytes)) {
    return { invariant: 'content', detail: `${dir}/${file} was written with other bytes than ${s.name} was stored with` };
  }
  return undefined;
}
