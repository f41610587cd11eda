// The library's data operations, as one interface: a Peer implements it on its own ring
// membership, a client from `connect()` implements it through a member (no ring state here).
// Programs, the console's Store/Request, the HTTP gateway and the CLI one-shots all call it.
import type { Readable } from 'node:stream';

/** A peer's address and id as the API reports it (ids are bigints: spaces go up to 160 bits). */
export interface ApiContact {
  id: bigint;
  host: string;
  port: number;
}

export interface Progress {
  /**
   * What moves: a put first `reads` its source into the peer (total unknown for a stream), then
   * `sends` the bytes to the key's owner; a get `receives` them. Bytes only grow within a phase.
   */
  phase: 'reading' | 'sending' | 'receiving';
  /** Bytes moved so far in this phase. */
  bytes: number;
  /** All the bytes, when known. */
  total?: number;
}

/** Options every operation takes. */
export interface OpOptions {
  /** Aborting ends the operation with CDHT_ERR_ABORTED: a put leaves no copy, a get closes the transfer. */
  signal?: AbortSignal;
  /** Ends the operation with CDHT_ERR_TIMEOUT after this long (default: the peer's request timeout, 30 s, or 10 min for a put's bytes). */
  timeoutMs?: number;
  /** Called as bytes move (at most a few times a second). */
  onProgress?: (p: Progress) => void;
}

export interface PutOptions extends OpOptions {
  /**
   * Resolve once this many copies are confirmed, the owner's included (default: the ring's
   * replica count k, as far as the peer knows it; 1: as soon as the owner holds the bytes).
   */
  copies?: number;
}

/** What put takes: bytes, a string (stored as UTF-8), a stream or async iterable of bytes, or a file on disk. */
export type PutSource = Uint8Array | string | AsyncIterable<Uint8Array | string> | { path: string };

export interface PutResult {
  name: string;
  /** The name's key in the ring (filename mod 256 in the 8-bit mode). */
  key: bigint;
  size: number;
  /** SHA-256 of the bytes, hex. */
  sha256: string;
  /** The peers confirmed to hold the bytes, owner first. */
  holders: ApiContact[];
  /** Routing hops from this peer to the owner. */
  hops: number;
}

/** What the ring knows of a stored name, without moving its bytes. */
export interface FileStat {
  name: string;
  key: bigint;
  size: number;
  /** SHA-256 of the bytes, hex (empty when the holder has not hashed its copy yet). */
  sha256: string;
  /** Peers that answered that they hold it (owner first, then replicas). */
  holders: ApiContact[];
}

export interface LookupResult {
  key: bigint;
  owner: ApiContact;
  /** Routing hops from the asking peer to the owner. */
  hops: number;
  /** The owner's successors (its replica holders come first). */
  successors: ApiContact[];
  /** The ids of the peers the lookup crossed: the asking peer first, the owner last (at most 64). */
  path: bigint[];
}

export interface GetFileResult {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

/** The data operations, on a peer or on a client. */
export interface DataApi {
  put(name: string, source: PutSource, options?: PutOptions): Promise<PutResult>;
  /** A stream of the stored bytes, checked against the stored record before the stream ends. */
  get(name: string, options?: OpOptions): Readable;
  getBuffer(name: string, options?: OpOptions): Promise<Buffer>;
  /** Saves the bytes at `path` (written whole, then renamed into place: never a partial file there). */
  getFile(name: string, path: string, options?: OpOptions): Promise<GetFileResult>;
  /** The record of a stored name, or null when no holder has it. */
  stat(name: string, options?: OpOptions): Promise<FileStat | null>;
  has(name: string, options?: OpOptions): Promise<boolean>;
  /** Who owns `key` (a key of the ring's id space, or a stored name's key). */
  lookup(key: bigint | number, options?: OpOptions): Promise<LookupResult>;
  /**
   * Removes every copy of `name`; only its publisher may (else CDHT_ERR_FORBIDDEN). Its bytes
   * cannot come back from a holder that missed it; the name can be put again.
   */
  delete(name: string, options?: OpOptions): Promise<void>;
}
