// What this peer holds: every stored name in its data directory, with its key, size and (when
// known) SHA-256. Rebuilt from the directory at start; the data directory is where the bytes
// live, this is what the protocol reasons about (ownership, replicas, hand-over).
import type { Id, IdSpace } from '../id-space.js';
import type { KeyInfo } from '../messages.js';

/** Names a peer keeps track of; beyond this new ones are not recorded (the files stay on disk). */
export const MAX_HELD_KEYS = 100_000;

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
    const sha256 = info.sha256 ?? (prev && prev.size === info.size ? prev.sha256 : undefined);
    this.held.set(info.name, { name: info.name, size: info.size, key: this.space.keyOf(info.name), ring: ring || !!prev?.ring, ...(sha256 ? { sha256 } : {}) });
  }
  delete(name: string): void {
    this.held.delete(name);
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
