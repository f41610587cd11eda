// What the core is fed (events) and what it asks its shell to do (effects). Times are
// milliseconds on the shell's clock, passed in as `now`; the core never reads a clock.
import type { Contact, Target } from './contact.js';
import type { Id } from './id-space.js';
import type { FileBegin, KeyInfo, Message } from './messages.js';
import type { Origin } from './origin.js';
import type { Trace } from './trace.js';
import type { ErrorCode } from './errors.js';

/**
 * What the core tells the shell about one of the library's operations (put, get, stat, lookup),
 * by the operation's number the shell gave it. Lines and traces stay what they were: an
 * operation is the same data path as the console's Store and Request, with its outcome named.
 */
export type OpEvent =
  /** put: this peer owns the key and keeps the name itself: move the staged bytes into place. */
  | { type: 'keep' }
  /** put: the owner took the store; the copy goes to it now. */
  | { type: 'accepted'; by: Contact }
  /** put: the owner holds the bytes (`by` is this peer when it kept them). */
  | { type: 'stored'; by: Contact }
  /** get: a holder's transfer is coming in under this request id. */
  | { type: 'receiving'; rid: number; size: number; from: Contact }
  /** get: the bytes are whole at the save-as name, matching `sha256` (the holder's record). */
  | { type: 'received'; from: Contact; size: number; sha256?: Uint8Array }
  /** get: this peer holds the name itself; read it from the store directory. */
  | { type: 'local'; size: number; sha256?: Uint8Array }
  /** lookup: the owner of the key, and its successors. */
  | { type: 'owner'; owner: Contact; hops: number; successors: Contact[]; path: Id[] }
  /** holds query: what `from` said it holds (no record: not the name). */
  | { type: 'holds'; from: Contact; record?: KeyInfo; successors: Contact[] }
  /** delete: the owner dropped the name (and told its replica holders). */
  | { type: 'deleted' }
  | { type: 'failed'; code: ErrorCode; message: string };

export type TransferPhase = 'start' | 'missing' | 'sent' | 'failed';

export type CoreEvent =
  /** files: what the data directory holds at start (stored names only, with their sizes). */
  | { type: 'start'; now: number; files?: KeyInfo[]; deleted?: { name: string; sha256: Uint8Array; at: number }[] }
  | { type: 'timer'; name: string; now: number }
  | { type: 'receive'; msg: Message; origin: Origin; now: number }
  /** `refused`: the peer there answered that it will not have us (not silence: do not call it unreachable). */
  | { type: 'send-failed'; to: Target; msg: Message; error: string; refused?: boolean; now: number }
  /**
   * The console's Store, Request and Quit, typed (the console's parser is the CLI's): in the
   * specification's mode a Store moves no bytes in its shared folder and its lines are the spec's.
   */
  | { type: 'store'; name: string; now: number }
  | { type: 'request'; name: string; now: number }
  /** Graceful departure: hand the keys on, tell the predecessors, then exit. */
  | { type: 'quit'; now: number }
  /** Ask the ring who owns `key`; answered by a lookup-result trace (and an op event when `op` is given). */
  | { type: 'lookup'; key: Id; op?: number; now: number }
  /** The library's put: the bytes are staged already; store them under `name` (op events follow). */
  | { type: 'put'; op: number; name: string; now: number }
  /** The library's get: request `name`, saving what arrives as `saveAs` in the data directory. */
  | { type: 'get'; op: number; name: string; saveAs: string; now: number }
  /** Ask `to` directly whether it holds `name` (answered by a holds op event). */
  | { type: 'holds'; op: number; to: Contact; name: string; now: number }
  /** The library's delete: ask the key's owner to drop `name` (only its publisher may). */
  | { type: 'delete'; op: number; name: string; now: number }
  /** The shell gave up an operation (aborted, timed out): forget it, so nothing more is accepted for it. */
  | { type: 'cancel'; op: number; now: number }
  /** Progress of a serve-file effect (owner side of a request); size when the file was found. */
  | { type: 'serve-progress'; file: string; rid: number; to: Contact; phase: TransferPhase; size?: number; error?: string; now: number }
  /** Progress of a push-file effect (a store's copy, or a replica). */
  | { type: 'push-progress'; file: string; to: Contact; purpose: 'store' | 'replica'; rid: number; phase: TransferPhase; size?: number; error?: string; now: number }
  /** Bytes of a transfer so far: `in` for one accepted here, `out` for one this peer sends. */
  | { type: 'file-progress'; header: FileBegin; direction: 'in' | 'out'; peer: Id; bytes: number; now: number }
  /** The answer to a stat-file effect: the name's file is there with this size and SHA-256, or (size undefined) not. */
  | { type: 'file-stat'; name: string; size?: number; sha256?: Uint8Array; now: number }
  /** A peer opened a file transfer to us; the core answers with accept-file or nothing (refused). */
  | { type: 'file-offer'; header: FileBegin; origin: Origin; now: number }
  /**
   * An accepted transfer ended: ok with the SHA-256 of the bytes now in place, or failed. busy:
   * refused before a byte was written for want of temporary space (the requester retries).
   */
  | { type: 'file-done'; header: FileBegin; ok: boolean; sha256?: Uint8Array; error?: string; busy?: boolean; now: number };

export type Effect =
  /** What happened, for people (rendered as lines) and programs (the console, --json, the web page). */
  | { kind: 'trace'; trace: Trace }
  | { kind: 'send'; to: Target; msg: Message; transport: 'udp' | 'tcp' }
  | { kind: 'set-timer'; name: string; at: number }
  | { kind: 'cancel-timer'; name: string }
  /**
   * Owner side of a request: stat the name's file, stream it to `to` (or only report, when `to`
   * is us). sha256: the record the bytes must match (the receiver checks it).
   */
  | { kind: 'serve-file'; name: string; rid: number; to: Contact; sha256?: Uint8Array }
  /** Copy the name's file, if we have it, to `to`: a store's copy to its owner, or a replica (with its record). */
  | { kind: 'push-file'; name: string; to: Contact; purpose: 'store' | 'replica'; rid: number; sha256?: Uint8Array }
  /** Is the name's file in the store directory, and what are its size and SHA-256? Answered by file-stat. */
  | { kind: 'stat-file'; name: string }
  /**
   * Answer to a file-offer: write the incoming file under this name (a Request's copy in the data
   * directory, anything else in the store directory). sha256: the record the bytes must match;
   * keep: never replace a file already there.
   */
  | { kind: 'accept-file'; saveAs: string; sha256?: Uint8Array; keep?: boolean }
  /** The peer is part of a ring (init: at start; join: once accepted). */
  | { kind: 'ready' }
  /** Successors or predecessors changed (for reporters). */
  | { kind: 'neighbours' }
  | { kind: 'exit'; code: number; reason: string }
  /** An event of one of the library's operations. */
  | { kind: 'op'; op: number; event: OpEvent }
  /** Remove the name's file from the store directory (it was deleted). */
  | { kind: 'delete-file'; name: string }
  /**
   * Keep this on disk beside the stored files, so a restart knows it: who published a name, or
   * that the name was deleted (with the bytes it had and when). Read back into the start event.
   */
  | { kind: 'remember'; name: string; publisher?: Contact; deleted?: { sha256: Uint8Array; at: number } };
