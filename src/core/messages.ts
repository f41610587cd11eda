// Every message peers exchange. UDP carries ping/pong only; everything else goes over TCP,
// one frame per message, and a file travels as file-begin, file-data..., file-end on a
// connection of its own.
import type { Contact } from './contact.js';
import type { Id } from './id-space.js';

/** A stored name as a holder describes it: its size, and its SHA-256 when known. */
export interface KeyInfo {
  name: string;
  size: number;
  sha256?: Uint8Array;
  /**
   * Who stored the name (its first store's origin): only it may delete the name. Carried with
   * replicas and hand-overs, so whichever peer owns the key later can judge a delete.
   */
  publisher?: Contact;
}

/** How a delete ended at the owner. */
export type DeleteResult = 'deleted' | 'forbidden' | 'missing' | 'not-owner';
export const DELETE_RESULTS: readonly DeleteResult[] = ['deleted', 'forbidden', 'missing', 'not-owner'];

/** Why a file travels: a Request's answer, a Store's copy to the owner, a replica or a hand-over. */
export type Purpose = 'request' | 'store' | 'replica';

/**
 * A routed message's proof that its origin sent it, on a private ring: the origin's signature
 * (the key of its certificate, DER here, so any member can check it against the ring's
 * authority without having met the origin) over every field but `hops`, `final` and `fallback`
 * (which relays change), with the time it was made and a nonce. Relays carry it unchanged; the
 * core reads only its time; the shell checks the signature when the core asks (Origin.proof).
 */
export interface OriginProof {
  /** The origin's clock when it signed, in ms since the epoch (the simulator: its virtual clock). */
  at: number;
  /** Random, so that two messages signed in the same millisecond differ. */
  nonce: number;
  cert: Uint8Array;
  sig: Uint8Array;
}

export type Message =
  /**
   * role: 1 if the receiver is the sender's first successor, 2 if second, 0 for a check that the
   * receiver answers at its address (verification; wire version 2 only). loud: print the ping lines.
   * pred: above the spec's id space, a first-successor ping names the sender's own first
   * predecessor, which is the receiver's second (wire version 2 only; see liveness.ts).
   */
  | { type: 'ping'; from: Contact; seq: number; role: 0 | 1 | 2; loud: boolean; pred?: Contact }
  /**
   * successors: the responder's successor list, first successor first (may be empty while
   * joining); pred: its first predecessor, if known (Chord's stabilize: a peer that joined
   * between the pinger and the responder shows up there).
   */
  | { type: 'pong'; from: Contact; seq: number; loud: boolean; successors: Contact[]; pred?: Contact }
  | { type: 'join'; joiner: Contact; hops: number; proof?: OriginProof }
  | { type: 'join-accept'; from: Contact; successors: Contact[] }
  | { type: 'join-reject'; from: Contact; reason: string }
  | { type: 'successor-change'; from: Contact; successors: Contact[] }
  | { type: 'depart'; from: Contact; successors: Contact[] }
  | { type: 'depart-ack'; from: Contact }
  | { type: 'successor-query'; from: Contact; qid: number }
  | { type: 'successor-reply'; from: Contact; qid: number; successors: Contact[] }
  /** final: the sender knows the receiver owns the key. */
  | { type: 'store'; origin: Contact; file: string; final: boolean; hops: number; proof?: OriginProof }
  /**
   * storeId names the owner's data directory, so the origin can tell whether a copy is needed;
   * empty when the owner holds the name already (stored files never change).
   */
  | { type: 'store-accepted'; from: Contact; file: string; storeId: string }
  /**
   * fallback: how many more successors of the owner may be asked when the owner lacks the file
   * (a replica serves it); 0 in wire version 1.
   */
  | { type: 'file-request'; requester: Contact; file: string; rid: number; final: boolean; hops: number; fallback: number; proof?: OriginProof }
  | { type: 'file-missing'; from: Contact; file: string; rid: number }
  /**
   * A holder serving as many transfers as it may (or a requester out of temporary space) answers
   * a request at once instead of queueing it: try again after `retryAfterMs` (wire version 2 only).
   */
  | { type: 'file-busy'; from: Contact; file: string; rid: number; retryAfterMs: number }
  /**
   * First frame of a file transfer connection. rid: the request's id, the store's (0), or the want's (wid).
   * size in bytes. sha256: the sender's record of the file (v2): the receiver refuses bytes that
   * do not match it, so a holder whose copy went bad cannot pass it on.
   */
  | { type: 'file-begin'; from: Contact; file: string; rid: number; purpose: Purpose; size: number; sha256?: Uint8Array }
  | { type: 'file-data'; chunk: Uint8Array }
  | { type: 'file-end'; sha256: Uint8Array }
  /**
   * A routed query for the owner of `key` (finger refresh, `cdht sim`, the library's lookup); the
   * owner answers the origin directly. path: asked for by the library's lookup, the ids of the
   * peers it crossed so far (each relay adds its own; at most MAX_PATH; not covered by the proof).
   */
  | { type: 'lookup'; origin: Contact; key: Id; lid: number; final: boolean; hops: number; path?: Id[]; proof?: OriginProof }
  /** from: the owner of the key, with its successors; hops: how many forwards the lookup took; path: as it came, the owner last. */
  | { type: 'lookup-reply'; from: Contact; lid: number; hops: number; successors: Contact[]; path?: Id[] }
  /**
   * Keys a holder offers to a peer that should hold them too: a replica, or their new owner.
   * leaving: the holder is handing its keys over before it quits (the receiver may then judge by
   * the ring without it; the claim gives it no copy that a neighbour does not hold or vouch for).
   */
  | { type: 'key-offer'; from: Contact; oid: number; keys: KeyInfo[]; leaving?: true }
  /**
   * The names of an offer the receiver lacks: send them, each as a transfer whose rid is `wid`
   * (an unguessable id only the offerer at its own address hears, so nobody else can push the
   * copy). refused: names it will not hold (not its to hold, by its own view of the ring); the
   * others it holds already.
   */
  | { type: 'key-want'; from: Contact; oid: number; wid: number; names: string[]; refused: string[] }
  /**
   * `cdht status` asks one peer for its state; it need not be a member. The peer answers only to
   * the host the query came from (status.ts), with counts only: no file names, no sizes of single
   * files, nothing a member's console does not already print about itself.
   */
  | { type: 'status-query'; from: Contact; qid: number }
  /**
   * bits: the id space's size (the share of each peer is computed by the asker); phase: the
   * core's phase as an operator names it; pred: its first predecessor, if known; successors: its
   * successor list; keys and bytes: the names it holds (owned and copies) and their total size;
   * shortOfK: keys it owns whose k copies it knows are not all in place (absent: it cannot tell);
   * handovers: names of a graceful leave not yet confirmed by their taker.
   */
  | {
      type: 'status-reply';
      from: Contact;
      qid: number;
      bits: number;
      phase: StatusPhase;
      pred?: Contact;
      successors: Contact[];
      keys: number;
      bytes: number;
      shortOfK?: number;
      handovers: number;
    }
  /** `cdht decommission`: leave gracefully, as the console's Quit (who may ask: status.ts). */
  | { type: 'decommission'; from: Contact; qid: number }
  /** accepted: the peer is leaving now (or already was); otherwise why not. */
  | { type: 'decommission-reply'; from: Contact; qid: number; accepted: boolean; reason: string }
  /**
   * Does the receiver hold `file`, and with what record? Asked directly of a key's owner and its
   * replica holders (the library's stat, and a put counting its copies); who may ask: holds.ts.
   */
  | { type: 'holds-query'; from: Contact; qid: number; file: string }
  /**
   * record: the receiver's record of the name when it holds it; successors: its successor list
   * (the replica holders come first); deleted: the SHA-256 of the bytes it deleted under the name
   * lately, if it did (a holder told to drop its copy checks this with the owner itself).
   */
  | { type: 'holds-reply'; from: Contact; qid: number; file: string; record?: KeyInfo; successors: Contact[]; deleted?: Uint8Array }
  /**
   * The library's delete, sent by the publisher straight to the key's owner (who may: deletes.ts).
   * nonce: 0 when first asked; on an open ring the owner then asks the publisher's own address to
   * confirm (delete-confirm), and the publisher asks again with the owner's nonce.
   */
  | { type: 'delete-request'; from: Contact; qid: number; file: string; nonce: number }
  /** Open ring: the owner asks the publisher's recorded address whether it asked to delete `file` (answered by a delete-request with this nonce). */
  | { type: 'delete-confirm'; from: Contact; qid: number; file: string; nonce: number }
  | { type: 'delete-reply'; from: Contact; qid: number; file: string; result: DeleteResult }
  /**
   * The owner of a deleted name tells a holder of a copy with these bytes to drop it; the holder
   * checks with a lookup that the sender owns the key before it does.
   */
  | { type: 'key-delete'; from: Contact; file: string; sha256: Uint8Array };

/** A peer's state as `cdht status` prints it (the core's phases: starting and joining are joining, active is normal). */
export type StatusPhase = 'joining' | 'normal' | 'leaving';
export const STATUS_PHASES: readonly StatusPhase[] = ['joining', 'normal', 'leaving'];

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
export type FileBegin = MessageOf<'file-begin'>;
/** Messages routed through other peers towards a key's owner: each speaks for its origin, whatever the hop. */
export type RoutedMessage = MessageOf<'join' | 'store' | 'file-request' | 'lookup'>;

export function isRouted(msg: Message): msg is RoutedMessage {
  return msg.type === 'join' || msg.type === 'store' || msg.type === 'file-request' || msg.type === 'lookup';
}

/** The peer a routed message speaks for. */
export function speakerOf(msg: RoutedMessage): Contact {
  switch (msg.type) {
    case 'join':
      return msg.joiner;
    case 'file-request':
      return msg.requester;
    default:
      return msg.origin;
  }
}

/** A traced lookup's path holds at most this many ids (the peers past them are counted in hops only). */
export const MAX_PATH = 64;

/** Routed messages cross at most this many peers; a larger count means a loop, and is dropped. */
export const MAX_HOPS = 65_000;
/** A successor list holds at most this many contacts in wire version 1 ... */
export const MAX_SUCCESSORS_V1 = 8;
/** ... and at most this many in version 2 (the wire refuses longer ones). */
export const MAX_SUCCESSORS = 32;
/** A key offer or want lists at most this many names (a frame stays far below 64 KiB). */
export const MAX_OFFER_KEYS = 128;

/** Why a receiver refuses bytes that differ from the record they came with (the holder then checks its copy). */
export const RECORD_MISMATCH = 'the bytes do not match the record of the file (sha256)';
