// The one interface a peer's shell needs from the world: a clock, timers, and an endpoint
// (datagrams, messages, file transfers and a data directory). The Node transport and the
// simulated one implement it; one compliance suite runs against both.
import type { Address, Contact, Target } from '../core/contact.js';
import type { Id } from '../core/id-space.js';
import type { FileBegin, Message } from '../core/messages.js';
import type { Origin } from '../core/origin.js';

export type { Origin } from '../core/origin.js';

/**
 * Why input was refused, as metrics count it: bytes that did not decode, a frame or datagram
 * too large, a message where it may not come, a private ring's datagram that did not open, a
 * frame too slow or holding too much memory, a connection closed inside a frame, a broken link
 * rule, no connection slot, a TLS handshake that failed or a certificate not of this ring (or,
 * `tls-dial`, the handshake of a connection this peer dialed), and the endpoint's own trouble (a
 * socket error, a handler that threw).
 */
export type BadInputReason =
  | 'undecodable'
  | 'oversize'
  | 'not-allowed'
  | 'unsealed'
  | 'deadline'
  | 'memory'
  | 'truncated'
  | 'violation'
  | 'no-slot'
  | 'tls-handshake'
  | 'tls-certificate'
  | 'tls-dial'
  | 'internal';

/** Reasons for input refused from others (tls-dial, a handshake of our own dial that failed, is not one). */
export const BAD_INPUT_REASONS: readonly BadInputReason[] = ['undecodable', 'oversize', 'not-allowed', 'unsealed', 'deadline', 'memory', 'truncated', 'violation', 'no-slot', 'tls-handshake', 'tls-certificate', 'internal'];

export interface EndpointHandlers {
  /** A decoded message, from a datagram or a connection. */
  onMessage(msg: Message, origin: Origin): void;
  /**
   * Bytes that did not decode, a connection that broke a rule, a datagram that did not open.
   * `source` names who sent it (an address), so the shell can rate-limit its lines per source.
   */
  onBadInput(detail: string, source?: string, reason?: BadInputReason): void;
  /**
   * A file transfer is starting: return the file name to save it as (a plain name, or an
   * acceptance with the record the bytes must match), or null to refuse.
   */
  onFileOffer(header: FileBegin, origin: Origin): string | FileAcceptance | null;
  /** Bytes of an accepted transfer written so far (at most a few times a second). */
  onFileProgress?(header: FileBegin, bytes: number): void;
  /**
   * The transfer accepted by onFileOffer ended: ok only when the whole file was verified and put
   * in place (with its SHA-256). `busy`: the offer was turned away before onFileOffer, and before
   * a byte was written, because the temporary space for files being received was taken (try later).
   */
  onFileDone(header: FileBegin, result: FileResult): void;
}

export type FileResult = { ok: true; sha256?: Uint8Array } | { ok: false; error: string; busy?: boolean };

/**
 * How an accepted file is saved. Purpose 'request' lands in the data directory (a copy for the
 * user); 'store' and 'replica' in the store directory, where served files live.
 */
export interface FileAcceptance {
  saveAs: string;
  /** The record the bytes must match (besides the sender's own file-begin and file-end). */
  sha256?: Uint8Array;
  /** A stored name never changes: fail rather than replace a file already there. */
  keep?: boolean;
}

/** The acceptance an onFileOffer answer stands for (null: refused). */
export function acceptanceOf(answer: string | FileAcceptance | null): FileAcceptance | null {
  return typeof answer === 'string' ? { saveAs: answer } : answer;
}


/** A private ring's credentials: this peer's key and certificate, and the ring authority's certificate. */
export type { TlsIdentity } from '../security/identity.js';
import type { TlsIdentity } from '../security/identity.js';

export interface EndpointOptions {
  /** The contact others use to reach this peer (advertised). */
  readonly self: Contact;
  /** Where to bind, when it differs from the advertised address (NAT, containers). */
  readonly listen?: Address;
  readonly dataDir: string;
  /**
   * Where stored names live (what the peer serves, and where store and replica copies land);
   * default: dataDir. Copies a Request receives land in dataDir.
   */
  readonly storeDir?: string;
  /** A private ring: every connection is mutual TLS 1.3 and every datagram is sealed. */
  readonly tls?: TlsIdentity;
  /**
   * Offers larger than this are refused before a byte is written; files being received at once
   * take at most TEMP_SPACE_FILES times this in temporary space.
   */
  readonly maxFileBytes?: number;
  /**
   * A private ring signs the routed messages this peer originates and checks everyone's (default
   * true). False only to measure what they cost (bench/secure.ts).
   */
  readonly originProofs?: boolean;
}

export interface Endpoint {
  /** Fire and forget (lost like any datagram when it cannot be sent). */
  sendDatagram(to: Target, msg: Message): void;
  /**
   * Delivery, not a write: resolves once the receiving endpoint has acknowledged the message
   * (decoded it and handed it to its handlers). Rejects with CDHT_ERR_UNREACHABLE when no
   * connection can be made, the peer at the address is not `to.id` (private rings), the
   * connection breaks before the acknowledgement, or none comes in time. A rejected message
   * may still have arrived: delivery is at least once, and the core tolerates repeats.
   */
  sendMessage(to: Target, msg: Message): Promise<void>;
  /** Size of `name` in the store directory, or null when there is no such regular file. */
  statFile(name: string): Promise<{ size: number } | null>;
  /** Size and SHA-256 of `name` in the store directory (read whole), or null when there is no such regular file. */
  hashFile(name: string): Promise<{ size: number; sha256: Uint8Array } | null>;
  /** The regular files in the store directory with their sizes (hidden ones left out), e.g. to rebuild the key store at start. */
  listFiles(): Promise<{ name: string; size: number }[]>;
  /**
   * Streams `name` from the store directory to `to` over a connection of its own: file-begin
   * (the header), file-data..., file-end (sha256). Resolves once the receiver has it all.
   * signal: give up a send still waiting for its turn (it is then never sent); cancel: end the
   * transfer even midway (the receiver sees it cut and keeps nothing).
   */
  sendFile(to: Target, header: FileBegin, name: string, onProgress?: (bytes: number) => void, signal?: AbortSignal, cancel?: AbortSignal): Promise<void>;
  /**
   * The ring's members this peer knows (successors, predecessors, fingers): their connections
   * keep slots and memory strangers cannot take. Transports without such limits ignore it.
   */
  setMembers?(members: readonly Contact[]): void;
  /** Stop listening; pending transfers are abandoned (partial files removed). */
  close(): Promise<void>;
  /** The library's put and get (library-files.ts); a transport without them serves the console only. */
  readonly library?: LibraryFiles;
}

/** Where a library file lives: the store directory (staged puts, stored names) or the data directory (gets). */
export type FileDir = 'store' | 'data';

/**
 * File access for the library's put and get. Names are stored names or library temporary names
 * (`.cdht-put-…`, `.cdht-get-…`, see store-dir.ts); nothing here takes a path.
 */
export interface LibraryFiles {
  /**
   * Writes `source` as the temporary `name` in `dir` (never over an existing file), hashing as it
   * goes; over `maxBytes`, aborted or failed, the file is removed and the promise rejects.
   */
  write(dir: FileDir, name: string, source: AsyncIterable<Uint8Array>, opts: { maxBytes: number; signal?: AbortSignal; onBytes?: (n: number) => void }): Promise<{ size: number; sha256: Uint8Array }>;
  /** Moves the staged `staged` to the stored name `name` in the store directory, never replacing a file: 'exists' then. */
  place(staged: string, name: string): Promise<'placed' | 'exists'>;
  /** The bytes of `name` in `dir`, read as they are consumed. */
  read(dir: FileDir, name: string, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** Renames the temporary `temp` in `dir` to the plain `name`, replacing a file of that name (a console Request's received copy). */
  keep(dir: FileDir, temp: string, name: string): Promise<void>;
  /**
   * The bytes of the transfer coming in for request `rid` (the one accepted last), from its first
   * byte, as they reach the disk: read as they are consumed, waiting while the transfer runs. Ends
   * once every announced byte is read, or early when the transfer fails or is not (or no longer)
   * under way. Nothing here is checked yet: the request's outcome says whether the bytes matched.
   */
  readIncoming(rid: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** Moves `name` out of `dir` to a path of the caller's (getFile): never a partial file at `path`. */
  export(dir: FileDir, name: string, path: string): Promise<void>;
  /** Removes `name` from `dir` (missing is fine). */
  remove(dir: FileDir, name: string): Promise<void>;
  /**
   * Ends the transfer coming in for request `rid`, if any (its partial file is removed; the sender
   * sees it closed). Resolves once it has ended: one already checking its last bytes may still be
   * put in place under its name, so the caller removes that name after this.
   */
  abortIncoming(rid: number, reason: string): Promise<void>;
  /** The store directory's record log (who published which name, which names were deleted): its text, '' when there is none. */
  readRecords(): Promise<string>;
  /** Adds lines to the record log; `replace`: the log becomes exactly these lines (written whole, then renamed into place). */
  writeRecords(lines: string, replace?: boolean): Promise<void>;
}

export interface Runtime {
  readonly kind: 'node' | 'sim';
  now(): number;
  setTimer(delayMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
  /** Unguessable 32-bit numbers (request ids, ping sequence numbers); seeded on the simulator. */
  random32(): number;
  /** Bind datagrams and connections at opts.listen ?? opts.self. Rejects if the address is in use. */
  openEndpoint(opts: EndpointOptions, handlers: EndpointHandlers): Promise<Endpoint>;
}
