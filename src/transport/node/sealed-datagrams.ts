// Sealed datagrams on a private ring: each message connection exports keying material from its
// TLS session; both ends derive the same key id and one AES-256-GCM key per direction. A ping
// is sealed under the key of a connection to its receiver, with a counter the receiver checks
// against a sliding replay window; the key's connection proves who sealed it (origin.authId).
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import type { Id } from '../../core/id-space.js';
import { decodeSealed, encodeSealedHeader, KEY_ID_BYTES, TAG_BYTES } from '../../wire/index.js';
import type { Limits } from './limits.js';

const CIPHER = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
/** Counters stop well below 2^53 (JS numbers) and 2^64 (the wire); a key is retired long before. */
const MAX_COUNTER = 2 ** 48;

/** What a key entry touches when it is used, so its connection does not close as idle. */
export interface KeyActivity {
  touch(): void;
}

interface KeyEntry {
  readonly connId: string;
  readonly keyId: Uint8Array;
  readonly peerId: Id;
  readonly sendKey: Buffer;
  readonly recvKey: Buffer;
  /** The nonce's direction byte: 0 from the lower id to the higher, 1 back. */
  readonly sendDir: number;
  readonly recvDir: number;
  counter: number;
  /** Highest counter opened, and a bitmap of the window below it (bit i: maxSeen - i seen). */
  maxSeen: number;
  window: bigint;
  /** The other end holds this key too (the acceptor always; the dialer once hello arrived). */
  confirmed: boolean;
  open: boolean;
  closedAt: number;
  link: KeyActivity | undefined;
}

export type Opened = { ok: true; frame: Uint8Array; authId: Id } | { ok: false; error: string };

function derive(secret: Buffer, info: string, bytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, bytes));
}

function nonce(dir: number, counter: number): Buffer {
  const n = Buffer.alloc(NONCE_BYTES);
  n[3] = dir;
  n.writeUIntBE(counter, NONCE_BYTES - 6, 6);
  return n;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** The key id a connection's exported secret gives: the connection's name at both ends. */
export function keyIdOf(secret: Buffer): Uint8Array {
  return derive(secret, 'cdht v2 datagram key id', KEY_ID_BYTES);
}

export class DatagramKeys {
  private readonly byKeyId = new Map<string, KeyEntry>();
  private readonly byPeer = new Map<Id, KeyEntry[]>();
  private readonly mask: bigint;

  constructor(
    private readonly selfId: Id,
    private readonly limits: Limits,
  ) {
    this.mask = (1n << BigInt(limits.replayWindow)) - 1n;
  }

  get size(): number {
    return this.byKeyId.size;
  }

  /**
   * Adds the keys of a new connection to `peerId` from its exported secret; returns its
   * connection id (hex key id), or undefined when no key can exist (a connection to ourselves).
   */
  add(secret: Buffer, peerId: Id, confirmed: boolean): string | undefined {
    if (peerId === this.selfId) return undefined;
    const keyId = keyIdOf(secret);
    const connId = hex(keyId);
    const lowToHigh = derive(secret, 'cdht v2 datagram key low to high', KEY_BYTES);
    const highToLow = derive(secret, 'cdht v2 datagram key high to low', KEY_BYTES);
    const low = this.selfId < peerId;
    this.sweep();
    if (this.byKeyId.size >= this.limits.maxDatagramKeys) this.evictOne();
    const entry: KeyEntry = {
      connId,
      keyId,
      peerId,
      sendKey: low ? lowToHigh : highToLow,
      recvKey: low ? highToLow : lowToHigh,
      sendDir: low ? 0 : 1,
      recvDir: low ? 1 : 0,
      counter: 0,
      maxSeen: 0,
      window: 0n,
      confirmed,
      open: true,
      closedAt: 0,
      link: undefined,
    };
    this.byKeyId.set(connId, entry);
    const list = this.byPeer.get(peerId) ?? [];
    list.push(entry);
    this.byPeer.set(peerId, list);
    return connId;
  }

  confirm(connId: string): void {
    const e = this.byKeyId.get(connId);
    if (e) e.confirmed = true;
  }

  attach(connId: string, link: KeyActivity): void {
    const e = this.byKeyId.get(connId);
    if (e) e.link = link;
  }

  /** The connection closed: its key stays usable for KEY_GRACE_MS (pings in flight, a redial). */
  closed(connId: string): void {
    const e = this.byKeyId.get(connId);
    if (!e || !e.open) return;
    e.open = false;
    e.closedAt = performance.now();
    e.link = undefined;
  }

  /** True when a key to `peerId` exists whose connection is still open. */
  hasOpenKey(peerId: Id): boolean {
    return (this.byPeer.get(peerId) ?? []).some((e) => e.open && e.confirmed);
  }

  /**
   * Seals a frame for `peerId` under the newest confirmed key (one with an open connection
   * first). Undefined when there is none: the caller connects and queues.
   */
  seal(peerId: Id, frame: Uint8Array): { bytes: Buffer; linkOpen: boolean } | undefined {
    const entry = this.pick(peerId);
    if (!entry || entry.counter >= MAX_COUNTER) return undefined;
    const counter = ++entry.counter;
    const header = encodeSealedHeader(entry.keyId, counter, frame.length + TAG_BYTES);
    const cipher = createCipheriv(CIPHER, entry.sendKey, nonce(entry.sendDir, counter), { authTagLength: TAG_BYTES });
    cipher.setAAD(header);
    const body = cipher.update(frame);
    cipher.final();
    entry.link?.touch();
    return { bytes: Buffer.concat([header, body, cipher.getAuthTag()]), linkOpen: entry.open };
  }

  /** Opens a sealed datagram: known key, authentic, not replayed; yields the inner frame and who sealed it. */
  open(bytes: Uint8Array): Opened {
    const d = decodeSealed(bytes);
    if (!d.ok) return { ok: false, error: `${d.error.code}: ${d.error.message}` };
    const p = d.parts;
    const entry = this.byKeyId.get(hex(p.keyId));
    if (!entry || this.expired(entry)) return { ok: false, error: 'sealed under an unknown or expired key' };
    const c = p.counter;
    if (c === 0 || c > MAX_COUNTER) return { ok: false, error: 'counter out of range' };
    const seen = this.seen(entry, c);
    if (seen) return { ok: false, error: `replayed (${seen})` };
    let frame: Buffer;
    try {
      const decipher = createDecipheriv(CIPHER, entry.recvKey, nonce(entry.recvDir, c), { authTagLength: TAG_BYTES });
      decipher.setAAD(p.aad);
      decipher.setAuthTag(p.tag);
      frame = Buffer.concat([decipher.update(p.ciphertext), decipher.final()]);
    } catch {
      return { ok: false, error: 'does not open (tampered, or not sealed for us)' };
    }
    this.record(entry, c);
    entry.link?.touch();
    return { ok: true, frame, authId: entry.peerId };
  }

  /** Why counter `c` cannot be accepted (below the window, or already seen), or undefined. */
  private seen(e: KeyEntry, c: number): string | undefined {
    if (c > e.maxSeen) return undefined;
    const off = e.maxSeen - c;
    if (off >= this.limits.replayWindow) return 'older than the replay window';
    return (e.window >> BigInt(off)) & 1n ? 'counter already seen' : undefined;
  }

  private record(e: KeyEntry, c: number): void {
    if (c > e.maxSeen) {
      const shift = c - e.maxSeen;
      e.window = shift >= this.limits.replayWindow ? 1n : ((e.window << BigInt(shift)) | 1n) & this.mask;
      e.maxSeen = c;
    } else {
      e.window |= 1n << BigInt(e.maxSeen - c);
    }
  }

  private pick(peerId: Id): KeyEntry | undefined {
    const list = this.byPeer.get(peerId);
    if (!list) return undefined;
    let fallback: KeyEntry | undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const e = list[i]!;
      if (!e.confirmed || this.expired(e)) continue;
      if (e.open) return e;
      fallback ??= e;
    }
    return fallback;
  }

  private expired(e: KeyEntry): boolean {
    return !e.open && performance.now() - e.closedAt > this.limits.keyGraceMs;
  }

  private sweep(): void {
    for (const e of [...this.byKeyId.values()]) if (this.expired(e)) this.remove(e);
  }

  /** At the cap: the longest-closed key goes, or the oldest open one if none is closed. */
  private evictOne(): void {
    let victim: KeyEntry | undefined;
    let oldestOpen: KeyEntry | undefined;
    for (const e of this.byKeyId.values()) {
      if (e.open) oldestOpen ??= e; // insertion order: the first open one is the oldest
      else if (!victim || e.closedAt < victim.closedAt) victim = e;
    }
    victim ??= oldestOpen;
    if (victim) this.remove(victim);
  }

  private remove(e: KeyEntry): void {
    this.byKeyId.delete(e.connId);
    const list = (this.byPeer.get(e.peerId) ?? []).filter((x) => x !== e);
    if (list.length > 0) this.byPeer.set(e.peerId, list);
    else this.byPeer.delete(e.peerId);
  }
}
