// Every message peers exchange. UDP carries ping/pong only; everything else goes over TCP,
// one frame per message, and a file travels as file-begin, file-data..., file-end on a
// connection of its own.
import type { Contact } from './contact.js';

export type Message =
  /** role: 1 if the receiver is the sender's first successor, 2 if second. loud: print the ping lines. */
  | { type: 'ping'; from: Contact; seq: number; role: 1 | 2; loud: boolean }
  /**
   * successors: the responder's successor list, first successor first (may be empty while
   * joining); pred: its first predecessor, if known (Chord's stabilize: a peer that joined
   * between the pinger and the responder shows up there).
   */
  | { type: 'pong'; from: Contact; seq: number; loud: boolean; successors: Contact[]; pred?: Contact }
  | { type: 'join'; joiner: Contact; hops: number }
  | { type: 'join-accept'; from: Contact; successors: Contact[] }
  | { type: 'join-reject'; from: Contact; reason: string }
  | { type: 'successor-change'; from: Contact; successors: Contact[] }
  | { type: 'depart'; from: Contact; successors: Contact[] }
  | { type: 'depart-ack'; from: Contact }
  | { type: 'successor-query'; from: Contact; qid: number }
  | { type: 'successor-reply'; from: Contact; qid: number; successors: Contact[] }
  /** final: the sender knows the receiver owns the key. */
  | { type: 'store'; origin: Contact; file: string; final: boolean; hops: number }
  /** storeId names the owner's data directory, so the origin can tell whether a copy is needed. */
  | { type: 'store-accepted'; from: Contact; file: string; storeId: string }
  | { type: 'file-request'; requester: Contact; file: string; rid: number; final: boolean; hops: number }
  | { type: 'file-missing'; from: Contact; file: string; rid: number }
  /** First frame of a file transfer connection. rid is 0 for a store copy. size in bytes. */
  | { type: 'file-begin'; from: Contact; file: string; rid: number; purpose: 'request' | 'store'; size: number }
  | { type: 'file-data'; chunk: Uint8Array }
  | { type: 'file-end'; sha256: Uint8Array };

export type MessageType = Message['type'];
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;
export type FileBegin = MessageOf<'file-begin'>;

/** Routed messages cross at most this many peers; a larger count means a loop, and is dropped. */
export const MAX_HOPS = 300;
/** A successor list holds at most this many contacts (the wire refuses longer ones). */
export const MAX_SUCCESSORS = 8;
