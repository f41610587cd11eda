// What this peer holds: every stored name in its data directory, with its key, size and (when
// known) SHA-256. Rebuilt from the directory at start; the data directory is where the bytes
// live, this is what the protocol reasons about (ownership, replicas, hand-over).
import type { Id, IdSpace } from '../id-space.js';
import type { KeyInfo } from '../messages.js';
import type { Contact } from '../contact.js';

/** Names a peer keeps track of; beyond this new ones are not recorded (the files stay on disk). */
export const MAX_HELD_KEYS = 100_000;
/** Deleted names remembered, and for how long: longer than a holder is likely to stay away. */
export const MAX_TOMBSTONES = 100_000;
export const TOMBSTONE_TTL_MS = 7 * 24 * 3600_000;

export interface Held extends KeyInfo {
  key: Id;
  /**
   * A copy the ring gave this peer (a store it took as owner, a replica, a hand-over), as
   * opposed to a file found in its directory (at start, or the source of a store typed here).
   * Only ring copies move on towards their owner when this peer no longer owns them.
   */
  ring: boolean;
}

export class KeyStore {
  private readonly held = new Map<string, Held>();

  constructor(private readonly space: IdSpace) {}

  /** The stored name a data file holds, or undefined for other files (received copies, temporary files). */
  nameOfFile(file: string): string | undefined {
    if (file.startsWith('.') || file.startsWith('received_')) return undefined;
    if (this.space.spec) {
      const m = /^(\d{4})\.pdf$/.exec(file);
      return m ? m[1] : undefined;
    }
    return this.space.nameProblem(file) ? undefined : file;
  }

  add(info: KeyInfo, ring = false): void {
    if (!this.held.has(info.name) && this.held.size >= MAX_HELD_KEYS) return;
    const prev = this.held.get(info.name);
    const same = prev && prev.size === info.size;
    const sha256 = info.sha256 ?? (same ? prev.sha256 : undefined);
    // the first publisher named stays: a later copy cannot change who may delete the name
    const publisher = (same ? prev.publisher : undefined) ?? info.publisher;
    this.held.set(info.name, { name: info.name, size: info.size, key: this.space.keyOf(info.name), ring: ring || !!prev?.ring, ...(sha256 ? { sha256 } : {}), ...(publisher ? { publisher } : {}) });
    this.tombstones.delete(info.name);
  }
  delete(name: string): void {
    this.held.delete(name);
  }

  /**
   * name -> a deleted name's bytes and when it was deleted: a copy of those bytes offered or
   * stored again (by a holder that missed the delete) is refused and told to go, until
   * TOMBSTONE_TTL_MS has passed. Oldest first; at most MAX_TOMBSTONES.
   */
  private readonly tombstones = new Map<string, { sha256: Uint8Array; at: number; publisher?: Contact }>();

  /** Forgets the name and remembers that it was deleted (a put of new bytes clears it). */
  bury(name: string, sha256: Uint8Array, at: number, publisher?: Contact): void {
    this.held.delete(name);
    this.tombstones.delete(name);
    if (this.tombstones.size >= MAX_TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value!);
    this.tombstones.set(name, { sha256, at, ...(publisher ? { publisher } : {}) });
  }
  /** The tombstone of a name deleted less than TOMBSTONE_TTL_MS before `now`. */
  tombstone(name: string, now: number): { sha256: Uint8Array; at: number; publisher?: Contact } | undefined {
    const t = this.tombstones.get(name);
    if (t && now - t.at > TOMBSTONE_TTL_MS) {
      this.tombstones.delete(name);
      return undefined;
    }
    return t;
  }
  has(name: string): boolean {
    return this.held.has(name);
  }
  get(name: string): Held | undefined {
    return this.held.get(name);
  }
  get size(): number {
    return this.held.size;
  }
  all(): Held[] {
    return [...this.held.values()];
  }
  /** Held names whose key lies in (a, b] clockwise. */
  inRange(a: Id, b: Id): Held[] {
    return this.all().filter((h) => this.space.betweenRightClosed(a, h.key, b));
  }
}
