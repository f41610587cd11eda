// What a peer did, as typed events: the core reports these, and every line a peer prints is
// rendered from one of them, so the transcript, --json, the console and the web page can never
// disagree. Events that only people read (errors, debug notes) are `note`s carrying their text.
import type { Id, IdSpace } from './id-space.js';

export type LineLevel = 'info' | 'ping' | 'debug';

/** A routed operation: a join of `joiner`, a Store or a Request of `file`. */
export type Routed = { op: 'join'; joiner: Id } | { op: 'store'; file: string } | { op: 'request'; file: string };

export type Trace =
  | { kind: 'ping-sent'; to: Id[] }
  | { kind: 'ping-received'; from: Id }
  | { kind: 'pong-received'; from: Id }
  /** One of the first two successors changed (`initial`: the first time they are set, after a join). */
  | { kind: 'successor'; nth: 1 | 2; peer: Id; initial: boolean }
  | { kind: 'peer-dead'; peer: Id }
  | { kind: 'alone' }
  | { kind: 'successor-change-received'; from: Id }
  | { kind: 'join-received'; joiner: Id }
  | { kind: 'join-accepted'; by: Id }
  | { kind: 'join-refused'; joiner: Id; reason: string }
  | { kind: 'depart-received'; peer: Id }
  | { kind: 'leaving'; told: Id[] }
  /** A routed message went on; `origin`: typed here (a request's first line differs from the others'). */
  | ({ kind: 'forwarded'; to: Id; second: boolean; origin: boolean; finger?: true } & Routed)
  | { kind: 'store-accepted'; file: string; origin: Id }
  | { kind: 'store-confirmed'; file: string; by: Id }
  /** Owner side of a request: found and sending, sent, failed, or the file is missing. */
  | { kind: 'serve'; file: string; to: Id; local: boolean; phase: 'start' | 'sent' | 'failed' | 'missing'; key?: Id; error?: string }
  | { kind: 'request-missing'; file: string; from: Id }
  | { kind: 'request-timeout'; file: string; seconds: number }
  /** A request given up: its holder was still busy when the next try would have passed the timeout. */
  | { kind: 'request-busy'; file: string; from: Id; tries: number; seconds: number }
  /** Requester side: the owner answered and the file is arriving, has arrived, or failed. */
  | { kind: 'receive'; file: string; from: Id; purpose: 'request' | 'store'; phase: 'start' | 'done' | 'failed'; size?: number; error?: string }
  /** Bytes of a transfer so far, either way (at most a few events a second). */
  | { kind: 'transfer-progress'; file: string; peer: Id; direction: 'in' | 'out'; bytes: number; size: number }
  /** Origin side of a store: copying the file to the owner. */
  | { kind: 'copy'; file: string; to: Id; phase: 'start' | 'sent' | 'failed' | 'missing'; error?: string }
  /** The answer to a lookup asked here (`cdht sim`, fingers): the owner, or none within the timeout, `ms` after it was asked. */
  | { kind: 'lookup-result'; key: Id; owner?: Id; hops: number; ms?: number }
  /**
   * A Store or Request given to this peer that it will not run: a name the space does not take
   * (`problem` says why), not in a ring yet, or too many requests in flight here.
   */
  | { kind: 'command-refused'; command: 'store' | 'request'; file: string; reason: 'bad-name' | 'not-in-ring' | 'busy'; problem?: string }
  /**
   * How a leaving peer's hand-over went where it did not simply go: `peer` refused `count` copies
   * of the keys it leaves (copies-refused), could not take the keys (handed-on: the next neighbour
   * gets them), no neighbour would take `file` (kept here), the successor did not confirm every
   * key in time (keys-unconfirmed) or a predecessor the departure (departure-unconfirmed).
   */
  | { kind: 'handover'; outcome: 'copies-refused' | 'handed-on' | 'kept' | 'keys-unconfirmed' | 'departure-unconfirmed'; peer?: Id; file?: string; count?: number }
  /** Every successor failed: this peer looks for the ring again through `via`. */
  | { kind: 'rejoining'; via: Id }
  /** A Store that changes nothing: the name is held already (here, or by `holder`, the owner that answered). */
  | { kind: 'store-unchanged'; file: string; holder?: Id }
  /** A stored name dropped here: at its publisher's request (this peer owned it) or as its owner told. */
  | { kind: 'deleted'; file: string; by: 'publisher' | 'owner' }
  /** An operator at `from` asked this peer to leave: it leaves, or refuses with `reason`. */
  | { kind: 'decommission'; from: string; accepted: boolean; reason?: string }
  /**
   * A message dropped because it does not come from the peer it speaks for (`from`): on a private
   * ring, no certificate or another peer's, or a routed message's origin proof missing, bad, stale
   * or replayed; `reason` says which. A lookup names its key, a Store or a request its file.
   */
  | ({ kind: 'dropped'; from: Id; reason: string } & ({ message: keyof typeof SENDER_WORDS } | { message: 'lookup'; key: Id } | { message: 'store' | 'file-request'; file: string }))
  | { kind: 'note'; level: LineLevel; text: string };

/** How a dropped message that speaks for its sender (not routed for an origin) is named in its line, by wire type. */
const SENDER_WORDS = {
  ping: 'a ping',
  'successor-query': 'a successor query',
  'successor-change': 'a successor change',
  depart: 'a departure',
  join: 'a join request',
  'join-accept': 'a join acceptance',
  'join-reject': 'a join refusal',
  'holds-reply': 'a holds answer',
  'key-offer': 'a key offer',
  'store-accepted': 'a store acceptance',
  'file-busy': 'a busy answer',
} as const;

/** Every message type a `dropped` trace may name (a metric's label values). */
export const DROPPED_MESSAGES: readonly Extract<Trace, { kind: 'dropped' }>['message'][] = [...(Object.keys(SENDER_WORDS) as (keyof typeof SENDER_WORDS)[]), 'lookup', 'store', 'file-request'];

export type TraceKind = Trace['kind'];

/** How ids print in this space (decimal in the spec space) and which file holds a stored name. */
type Fmt = Pick<IdSpace, 'format' | 'fileOf'>;

export interface RenderedLine {
  text: string;
  level: LineLevel;
}

/** The lines a trace prints as (the specification's exact words where it has them), often one, sometimes none. */
export function renderTrace(t: Trace, f: Fmt): RenderedLine[] {
  const one = renderLines(t, f);
  return one === null ? [] : Array.isArray(one) ? one : [one];
}

const info = (text: string): RenderedLine => ({ text, level: 'info' });
const ping = (text: string): RenderedLine => ({ text, level: 'ping' });
const peerName = (f: Fmt, id: Id): string => `Peer ${f.format(id)}`;

/** renderTrace without the array around a single line (a peer renders every trace it makes: no closures here either). */
export function renderLines(t: Trace, f: Fmt): RenderedLine | RenderedLine[] | null {
  switch (t.kind) {
    case 'ping-sent':
      if (t.to.length === 0) return null;
      return ping(t.to.length === 1 ? `Ping request sent to ${peerName(f, t.to[0]!)}` : `Ping requests sent to Peers ${f.format(t.to[0]!)} and ${f.format(t.to[1]!)}`);
    case 'ping-received':
      return ping(`Ping request message received from ${peerName(f, t.from)}`);
    case 'pong-received':
      return ping(`Ping response received from ${peerName(f, t.from)}`);
    case 'successor':
      return info(`My ${t.initial ? '' : 'new '}${t.nth === 1 ? 'first' : 'second'} successor is ${peerName(f, t.peer)}`);
    case 'peer-dead':
      return info(`${peerName(f, t.peer)} is no longer alive`);
    case 'alone':
      return info('No live successor is known; this peer is alone until another joins');
    case 'successor-change-received':
      return info('Successor Change request received');
    case 'join-received':
      return info(`${peerName(f, t.joiner)} Join request received`);
    case 'join-accepted':
      return info('Join request has been accepted');
    case 'join-refused':
      return info(`${peerName(f, t.joiner)} Join request refused: ${t.reason}`);
    case 'depart-received':
      return info(`${peerName(f, t.peer)} will depart from the network`);
    case 'leaving':
      if (t.told.length === 0) return info('Leaving the ring; no predecessor is known, so nobody is told');
      return info(`Leaving the ring; telling Peer${t.told.length > 1 ? 's' : ''} ${t.told.map((id) => f.format(id)).join(' and ')}`);
    case 'forwarded': {
      const my = t.finger ? peerName(f, t.to) : `my ${t.second ? 'second ' : ''}successor`;
      if (t.op === 'join') return info(`${peerName(f, t.joiner)} Join request forwarded to ${my}`);
      if (t.op === 'store') return info(`Store ${t.file} request forwarded to ${my}`);
      return info(t.origin ? `File request for ${t.file} has been sent to ${my}` : `Request for File ${t.file} has been received, but the file is not stored here`);
    }
    case 'store-accepted':
      return info(`Store ${t.file} request accepted`);
    case 'store-confirmed':
      return info(`Store ${t.file} accepted by ${peerName(f, t.by)}`);
    case 'serve':
      if (t.phase === 'start') return t.local ? info(`File ${t.file} is stored here`) : [info(`File ${t.file} is stored here`), info(`Sending file ${t.file} to ${peerName(f, t.to)}`)];
      if (t.phase === 'sent') return info('The file has been sent');
      if (t.phase === 'failed') return info(`Sending file ${t.file} to ${peerName(f, t.to)} failed: ${t.error ?? 'unknown error'}`);
      return info(`File ${t.file} belongs here${t.key !== undefined ? ` (key ${f.format(t.key)})` : ''}, but there is no ${f.fileOf(t.file)} in my data directory`);
    case 'request-missing':
      return info(`${peerName(f, t.from)} does not have File ${t.file}`);
    case 'request-timeout':
      return info(`No answer to the request for File ${t.file} within ${t.seconds} s`);
    case 'request-busy':
      return info(`Gave up the request for File ${t.file}: ${peerName(f, t.from)} was busy (${t.tries} ${t.tries === 1 ? 'answer' : 'answers'} within ${t.seconds} s); try again later`);
    case 'receive':
      if (t.phase === 'start') {
        const receiving = info(`Receiving File ${t.file} from ${peerName(f, t.from)}`);
        return t.purpose === 'request' ? [info(`${peerName(f, t.from)} had File ${t.file}`), receiving] : receiving;
      }
      if (t.phase === 'done') return info(t.purpose === 'request' ? `File ${t.file} received` : `File ${t.file} stored here`);
      return info(`File ${t.file} could not be received from ${peerName(f, t.from)}: ${t.error ?? 'transfer failed'}`);
    case 'transfer-progress':
    case 'lookup-result':
      return null;
    case 'copy':
      if (t.phase === 'start') return info(`Copying file ${t.file} to ${peerName(f, t.to)}`);
      if (t.phase === 'sent') return info(`File ${t.file} copied to ${peerName(f, t.to)}`);
      if (t.phase === 'failed') return info(`Copying file ${t.file} to ${peerName(f, t.to)} failed: ${t.error ?? 'unknown error'}`);
      return info(`There is no ${f.fileOf(t.file)} here to copy to ${peerName(f, t.to)}: the owner holds nothing for ${t.file}`);
    case 'command-refused': {
      const verb = t.command === 'store' ? 'Store' : 'Request';
      if (t.reason === 'bad-name') return info(t.problem ?? `${verb} ${t.file}: not a file name`);
      if (t.reason === 'busy') return info(`Too many requests in flight; ${verb} ${t.file} ignored`);
      return info(`Not in a ring yet: ${verb} ${t.file} ignored`);
    }
    case 'handover':
      return handover(t, f);
    case 'rejoining':
      return info(`Every successor has failed; rejoining the ring through ${peerName(f, t.via)}`);
    case 'store-unchanged':
      return info(t.holder === undefined ? `File ${t.file} is already stored here; stored files do not change, so nothing is copied` : `${peerName(f, t.holder)} holds File ${t.file} already; nothing is copied`);
    case 'deleted':
      return info(t.by === 'publisher' ? `File ${t.file} deleted at its publisher's request` : `Dropped the copy of File ${t.file}: its owner deleted it`);
    case 'decommission':
      return info(t.accepted ? `Asked to leave by ${t.from} (decommission)` : `Refused a decommission request from ${t.from}: ${t.reason ?? 'refused'}`);
    case 'dropped':
      return { text: dropped(t, f), level: 'debug' };
    case 'note':
      return { text: t.text, level: t.level };
  }
}

/** A lookup, Store or request names what it is for, and "comes from" its origin; the rest "are from" their sender. */
function dropped(t: Extract<Trace, { kind: 'dropped' }>, f: Fmt): string {
  const claim = (verb: string) => `claiming to ${verb} from Peer ${f.format(t.from)}: ${t.reason}`;
  switch (t.message) {
    case 'lookup':
      return `Dropped a lookup of key ${f.format(t.key)} ${claim('come')}`;
    case 'store':
      return `Dropped Store ${t.file} ${claim('come')}`;
    case 'file-request':
      return `Dropped a request for File ${t.file} ${claim('come')}`;
    default:
      return `Dropped ${SENDER_WORDS[t.message]} ${claim('be')}`;
  }
}

function handover(t: Extract<Trace, { kind: 'handover' }>, f: Fmt): RenderedLine {
  const debug = (text: string) => ({ text, level: 'debug' as const });
  const peer = t.peer === undefined ? 'A peer' : peerName(f, t.peer);
  switch (t.outcome) {
    case 'copies-refused':
      return debug(`${peer} refused ${t.count ?? 0} copies of the keys we leave`);
    case 'handed-on':
      return debug(`${peer} cannot take the keys handed over; handing them on`);
    case 'kept':
      return debug(`No neighbour would take File ${t.file}; it stays here`);
    case 'keys-unconfirmed':
      return { text: 'The successor did not confirm every key in time; leaving anyway', level: 'info' };
    case 'departure-unconfirmed':
      return debug('Not every predecessor confirmed the departure; leaving anyway');
  }
}
