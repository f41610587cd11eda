// Byzantine peers for the fault simulator: a chosen share of the ring's peers keep running the
// protocol, and beside each a forger (an endpoint of its own, and raw frames from any source
// address) sends what an attacker inside the ring would: offers of names with other bytes,
// wants and file pushes under guessed ids, final requests for files outside the store, stores
// and joins in other peers' names, deletes and key-deletes in other peers' names (the owner's
// too). Every forgery is drawn from the seed, so a failing run
// replays. The runner (run.ts) checks what must hold whatever they send: no stored file's bytes
// change, no byte outside a store is sent, every honest Request gets the stored bytes.
import { createHash } from 'node:crypto';
import type { Contact } from '../core/contact.js';
import type { FileBegin, Message, Purpose } from '../core/messages.js';
import type { SimNetwork } from '../transport/sim/network.js';
import type { Endpoint } from '../transport/types.js';
import { encodeFrame } from '../wire/index.js';

/** How often each forger acts (virtual ms), and how many forgeries it sends each time. */
const ACT_EVERY_MS = 400;
const FORGERIES_PER_ACT = 3;
/** What an honest peer keeps outside its store: bytes that must never leave it. */
export const SECRET_FILE = 'peer.key';

export interface ForgerWorld {
  readonly sim: SimNetwork;
  /** Honest peers in the ring now (ids). */
  honest(): number[];
  contact(id: number): Contact;
  /** Names stored so far (their genuine bytes are known to the runner). */
  storedNames(): string[];
  /** A stored name's SHA-256 (any member learns it from a holds query). */
  sha256Of(name: string): Uint8Array | undefined;
  /** Names the scenario will store: never planted ahead of it (a forger storing a name first is a fair Store). */
  reserved(): ReadonlySet<string>;
  /** A fresh name a forger used: the runner's own probes keep away from it. */
  claim(name: string): void;
  rand(): number;
}

/** The forger beside Byzantine peer `id`: it holds its own endpoint on an address of its own. */
export class Forger {
  /** Where the forger saves what it is sent (so a leak lands on the simulated disk, where the runner sees it). */
  readonly dir: string;
  private ep: Endpoint | undefined;
  private readonly me: Contact;
  private readonly oids: number[] = [];
  private stopped = false;

  constructor(
    private readonly w: ForgerWorld,
    readonly id: number,
  ) {
    this.dir = `forger-${id}`;
    this.me = { id: BigInt(id), host: `10.66.0.${1 + (id % 250)}`, port: 30_000 + id };
  }

  async start(): Promise<void> {
    this.ep = await this.w.sim.runtime(this.me).openEndpoint(
      { self: this.me, dataDir: this.dir },
      {
        onMessage: (m) => {
          if (m.type === 'key-want') this.oids.push(m.wid, m.oid);
        },
        onBadInput: () => {},
        // anything it is sent lands on the disk: a leak must be visible to the runner
        onFileOffer: (h) => ({ saveAs: `got-${h.rid}-${h.file.replace(/[^\w.-]/g, '_')}` }),
        onFileDone: () => {},
      },
    );
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    void this.ep?.close();
  }

  private schedule(): void {
    this.w.sim.runtime(this.me).setTimer(ACT_EVERY_MS, () => {
      if (this.stopped) return;
      for (let i = 0; i < FORGERIES_PER_ACT; i++) this.forge();
      this.schedule();
    });
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length ? xs[Math.floor(this.w.rand() * xs.length)] : undefined;
  }

  private nonce(): number {
    return Math.floor(this.w.rand() * 2 ** 32) >>> 0 || 1;
  }

  /** A name to attack: one stored already (to overwrite), or a fresh one no honest peer will store (to plant). */
  private name(): string {
    const stored = this.pick(this.w.storedNames());
    if (stored && this.w.rand() < 0.6) return stored;
    for (let i = 0; i < 20; i++) {
      const n = String(Math.floor(this.w.rand() * 10_000)).padStart(4, '0');
      if (this.w.reserved().has(n) || this.w.storedNames().includes(n)) continue;
      this.w.claim(n);
      return n;
    }
    return stored ?? '0000';
  }

  /** Forged bytes for `name`, written where the forger sends files from. */
  private fake(name: string): { file: string; size: number; sha256: Uint8Array } {
    const size = 64 + Math.floor(this.w.rand() * 512);
    const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 31 + this.id) & 255);
    const file = `${name}.pdf`;
    this.w.sim.disk.write(this.dir, file, bytes);
    return { file, size, sha256: createHash('sha256').update(bytes).digest() };
  }

  /** Sends from the forger's own endpoint, or as raw bytes from a spoofed source address. */
  private deliver(to: Contact, msg: Message, spoof?: Contact): void {
    if (spoof) this.w.sim.deliverRaw(to, encodeFrame(msg), 'tcp', { src: { host: spoof.host, port: spoof.port } });
    else void this.ep?.sendMessage(to, msg).catch(() => undefined);
  }

  private forge(): void {
    const honest = this.w.honest();
    const target = this.pick(honest);
    if (target === undefined || !this.ep) return;
    const to = this.w.contact(target);
    const name = this.name();
    // a contact to speak as: a peer of the ring, or the forger itself. A name stored already is
    // attacked only in an honest peer's name: in its own, a forger Storing a name the peer it asks
    // does not hold (a partition's other side, an owner that joined before its hand-over) makes a
    // second version, which is the ring's merge to settle (issue 14), not an overwrite
    const stored = this.w.storedNames().includes(name);
    const as = stored || this.w.rand() < 0.7 ? this.w.contact(this.pick(honest.filter((x) => x !== target)) ?? target) : this.me;
    switch (Math.floor(this.w.rand() * 11)) {
      case 0: {
        // offers of names with other bytes (wants for them would let a push through)
        const f = this.fake(name);
        const oid = this.nonce();
        this.oids.push(oid);
        return this.deliver(to, { type: 'key-offer', from: as, oid, keys: [{ name, size: f.size, sha256: f.sha256 }] }, as === this.me ? undefined : as);
      }
      case 1:
      case 2: {
        // a push of other bytes as a replica, a store's copy or a request's answer, under a guessed or overheard id
        const f = this.fake(name);
        const purpose: Purpose = this.pick(['replica', 'store', 'request'] as const)!;
        const rid = purpose === 'store' ? 0 : (this.pick(this.oids) ?? this.nonce());
        const h: FileBegin = { type: 'file-begin', from: as, file: name, rid, purpose, size: f.size, ...(this.w.rand() < 0.5 ? { sha256: f.sha256 } : {}) };
        void this.ep.sendFile(to, h, f.file).catch(() => undefined);
        return;
      }
      case 3: {
        // a final request for what lies outside the store, answered to the forger
        const file = this.pick([SECRET_FILE, `../peer-${target}/${SECRET_FILE}`, name, '.part', 'received_0001.pdf'])!;
        return this.deliver(to, { type: 'file-request', requester: this.me, file, rid: this.nonce(), final: true, hops: 1, fallback: 255 });
      }
      case 4:
        // a store in another peer's name, arriving as if relayed
        return this.deliver(to, { type: 'store', origin: as, file: name, final: this.w.rand() < 0.5, hops: 3 });
      case 5: {
        // a join in a made-up name, at the forger's address or at a peer's
        const joiner: Contact = { id: BigInt(Math.floor(this.w.rand() * 256)), host: as.host, port: as.port };
        return this.deliver(to, { type: 'join', joiner, hops: this.w.rand() < 0.5 ? 0 : 2 });
      }
      case 8:
        // a delete in another peer's name, from its address (spoofed): its owner must not drop the name
        return this.deliver(to, { type: 'delete-request', from: as, qid: this.nonce(), file: name, nonce: this.w.rand() < 0.5 ? 0 : this.nonce() }, as === this.me ? undefined : as);
      case 9: {
        // a key-delete of the genuine bytes in another peer's name (the owner's, by luck): no holder may drop them
        const sha256 = this.w.sha256Of(name);
        if (!sha256) return;
        return this.deliver(to, { type: 'key-delete', from: as, file: name, sha256 }, as === this.me ? undefined : as);
      }
      case 10:
        // a confirmation nobody asked for
        return this.deliver(to, { type: 'delete-confirm', from: as, qid: this.nonce(), file: name, nonce: this.nonce() }, as === this.me ? undefined : as);
      case 6:
        // a want for an offer the target never made
        return this.deliver(to, { type: 'key-want', from: as, oid: this.pick(this.oids) ?? this.nonce(), wid: this.nonce(), names: [name], refused: [] }, as === this.me ? undefined : as);
      default:
        // a request in another peer's name, for a stored name: the answer goes to that peer, who did not ask
        return this.deliver(to, { type: 'file-request', requester: as, file: name, rid: this.nonce(), final: this.w.rand() < 0.5, hops: 3, fallback: 2 });
    }
  }
}
