// The Node shell's window on the world: the real clock and timers, and an endpoint that binds UDP
// (pings, sealed on a private ring) and TCP or mutual TLS (persistent message links, one
// connection per file transfer) at one address, and streams files to and from disk.
import { createHash, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { createReadStream, promises as fsp } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { formatAddress, type Address, type Contact, type Target } from '../../core/contact.js';
import { CdhtError } from '../../core/errors.js';
import type { Id } from '../../core/id-space.js';
import type { FileBegin, Message } from '../../core/messages.js';
import { isRouted, speakerOf } from '../../core/messages.js';
import type { Origin, ProofCheck } from '../../core/origin.js';
import { OriginSigner, OriginVerifier } from '../../security/origin-proofs.js';
import { decodeFrame, encodeFrame } from '../../wire/index.js';
import type { BadInputReason, Endpoint, EndpointHandlers, EndpointOptions, Runtime } from '../types.js';
import { Acceptor } from './acceptor.js';
import { MemoryBudget } from './budget.js';
import type { Link } from './connection.js';
import { LinkPool } from './connection-pool.js';
import { FileReceiver, receiveOffer, streamFile, TempSpace, type FileContext } from './file-stream.js';
import { FrameReader } from './frame-reader.js';
import { describe, guard, isPlainFileName, sourceOf, unreachable } from './guard.js';
import { resolveLimits, type Limits } from './limits.js';
import { DatagramKeys } from './sealed-datagrams.js';
import { dialSocket } from './tls.js';
import { NodeLibraryFiles } from './library-files.js';
import { isLibraryTemp } from '../../store-dir.js';

export { DEFAULT_LIMITS, type Limits } from './limits.js';

export interface NodeRuntimeOptions {
  /** Replaces some of the transport's bounds (tests shorten deadlines). */
  readonly limits?: Partial<Limits>;
}

/** listFiles looks at no more than this many directory entries. */
const MAX_LISTED_FILES = 100_000;

export function createNodeRuntime(o: NodeRuntimeOptions = {}): Runtime {
  const limits = resolveLimits(o.limits);
  return {
    kind: 'node',
    now: () => Date.now(),
    setTimer: (delayMs, fn) => setTimeout(fn, delayMs),
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
    random32: () => randomInt(0, 2 ** 32 - 1) >>> 0,
    openEndpoint: (opts, handlers) => NodeEndpoint.open(opts, handlers, limits),
  };
}

/** What an endpoint holds right now: connections, memory in partial frames, keys. */
export interface EndpointStats {
  /** Accepted connections open now, and since opening. */
  inbound: number;
  acceptedTotal: number;
  /** Message links (dialed and accepted) open now; links dialed since opening. */
  links: number;
  dialedTotal: number;
  /** Accepted connections that are members' (the rest are strangers'). */
  memberInbound: number;
  /** Bytes held in partial frames, all connections together (strangers' and members'). */
  bufferedBytes: number;
  /** Temporary bytes granted to files being received now, the most at once since opening, and the cap. */
  tempBytes: number;
  peakTempBytes: number;
  tempCap: number;
  datagramKeys: number;
  transfersIn: number;
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EACCES: 'permission denied',
  ENOTFOUND: 'no such host (ENOTFOUND)',
};

/**
 * A temporary file untouched for this many transfer idle limits belongs to no live transfer (a
 * receiver aborts one idle that long), so it is removed at start; a live one in a shared
 * directory is written to far more often.
 */
const STALE_PART_FACTOR = 4;
/** What a receiver names its temporary files: `.NAME.<16 hex>.part`. */
const PART_FILE = /^\..+\.[0-9a-f]{16}\.part$/;


/** Removes the temporary files in `dir` not written to for `staleMs`; best effort. */
async function removeStaleParts(dir: string, staleMs: number): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names.slice(0, MAX_LISTED_FILES)) {
    if (!PART_FILE.test(name) && !isLibraryTemp(name)) continue;
    const path = join(dir, name);
    const st = await fsp.lstat(path).catch(() => null);
    if (st?.isFile() && now - st.mtimeMs > staleMs) await fsp.unlink(path).catch(() => {});
  }
}

/** Datagrams waiting for a peer's key, and where they go. */
interface Waiting {
  to: Target;
  frames: Uint8Array[];
}

/**
 * Messages a datagram may carry: pings, pongs, lookups (open rings above 8 bits send them so) and
 * a lookup's answer (matched by its unguessable id).
 */
const DATAGRAM_TYPES: ReadonlySet<Message['type']> = new Set(['ping', 'pong', 'lookup', 'lookup-reply']);

function ignoreSendError(): void {}

/** A send whose caller stopped wanting it (its request's time is up) while it waited for a slot. */
function expired(signal: AbortSignal): CdhtError {
  const why = signal.reason instanceof Error ? signal.reason.message : 'given up';
  return new CdhtError('CDHT_ERR_TRANSFER', `not sent: ${why} while waiting for a sending slot`);
}

export class NodeEndpoint implements Endpoint {
  private readonly udp: dgram.Socket;
  private readonly server: net.Server;
  private readonly handlers: Required<EndpointHandlers>;
  private readonly budget: MemoryBudget;
  private readonly memberBudget: MemoryBudget;
  private readonly keys: DatagramKeys | undefined;
  private readonly pool: LinkPool;
  private readonly acceptor: Acceptor;
  private readonly files: FileContext;
  /** The library's put and get. */
  readonly library: NodeLibraryFiles;
  private readonly outSockets = new Set<net.Socket>();
  private readonly fileSlots: { active: number; waiting: Array<() => void> } = { active: 0, waiting: [] };
  private readonly awaitingKeys = new Map<string, Waiting>();
  /** A private ring's origin proofs: this peer signs the routed messages it originates, and checks everyone's. */
  private readonly signer: OriginSigner | undefined;
  private readonly verifier: OriginVerifier | undefined;
  private listening = false;
  private closing: Promise<void> | null = null;

  static async open(opts: EndpointOptions, handlers: EndpointHandlers, limits: Limits): Promise<NodeEndpoint> {
    const at = opts.listen ?? opts.self;
    const ep = new NodeEndpoint(at, opts, guard(handlers), limits);
    try {
      await ep.listen();
    } catch (err) {
      await ep.close();
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const why = LISTEN_ERRORS[code] ?? describe(err);
      throw new CdhtError('CDHT_ERR_LISTEN', `cannot listen on ${formatAddress(at)}: ${why}`, { cause: err });
    }
    // what a transfer cut short left behind (a peer killed mid-copy): gone once it is older than any live transfer can be
    const staleMs = STALE_PART_FACTOR * limits.transferIdleMs;
    await removeStaleParts(opts.dataDir, staleMs);
    if (opts.storeDir && opts.storeDir !== opts.dataDir) await removeStaleParts(opts.storeDir, staleMs);
    return ep;
  }

  private constructor(
    private readonly bindAt: Address,
    private readonly opts: EndpointOptions,
    handlers: Required<EndpointHandlers>,
    private readonly limits: Limits,
  ) {
    const identity = opts.tls;
    const proofs = identity && opts.originProofs !== false;
    this.signer = proofs ? new OriginSigner(identity, () => randomInt(0, 2 ** 32 - 1)) : undefined;
    this.verifier = proofs ? new OriginVerifier(identity.caPem) : undefined;
    // every routed message gets its proof check here, whichever door it came in by
    const deliver = handlers.onMessage;
    this.handlers = handlers = { ...handlers, onMessage: (msg, origin) => deliver(msg, this.vouch(msg, origin)) };
    this.budget = new MemoryBudget(limits.maxBufferedBytesPerHost, limits.maxBufferedBytesTotal);
    // members often share one host (a machine running several peers): no per-host share in theirs
    this.memberBudget = new MemoryBudget(limits.maxMemberBufferedBytes, limits.maxMemberBufferedBytes);
    this.keys = identity ? new DatagramKeys(identity.id, limits) : undefined;
    const tempCap = opts.maxFileBytes !== undefined ? limits.tempSpaceFiles * opts.maxFileBytes : limits.maxTempBytes;
    this.files = { dataDir: opts.dataDir, storeDir: opts.storeDir ?? opts.dataDir, handlers, limits, maxFileBytes: opts.maxFileBytes, transfers: new Set<FileReceiver>(), temp: new TempSpace(tempCap) };
    this.library = new NodeLibraryFiles({ store: this.files.storeDir, data: this.files.dataDir }, opts.self.id, (rid, reason) => {
      const ending: Promise<void>[] = [];
      for (const t of this.files.transfers) {
        if (t.offer.purpose !== 'request' || t.offer.rid !== rid) continue;
        t.abort(reason);
        ending.push(t.settled);
      }
      return Promise.all(ending).then(() => undefined);
    }, (rid) => {
      // the one accepted last: a holder's copy that failed its check is followed by another's under the same request
      let last: FileReceiver | undefined;
      for (const t of this.files.transfers) if (t.offer.purpose === 'request' && t.offer.rid === rid) last = t;
      return last;
    });
    this.pool = new LinkPool({
      handlers,
      limits,
      budget: this.memberBudget,
      identity,
      keys: this.keys,
      sockets: this.outSockets,
      onConfirmed: (link) => this.flushDatagrams(link),
    });
    this.acceptor = new Acceptor({
      handlers,
      limits,
      budget: this.budget,
      memberBudget: this.memberBudget,
      identity,
      pool: this.pool,
      startFile: (sock, reader, header, origin) => receiveOffer(this.files, sock, reader, header, origin),
      isClosing: () => this.closing !== null,
    });
    this.udp = dgram.createSocket(bindAt.host.includes(':') ? 'udp6' : 'udp4');
    this.udp.on('message', (bytes, from) => this.onDatagram(bytes, { host: from.address, port: from.port }));
    this.udp.on('error', (err) => {
      if (this.listening) handlers.onBadInput(`udp socket: ${describe(err)}`, undefined, 'internal');
    });
    this.server = net.createServer((sock) => this.acceptor.handle(sock));
    this.server.on('error', (err) => {
      if (this.listening) handlers.onBadInput(`tcp server: ${describe(err)}`, undefined, 'internal');
    });
  }

  private async listen(): Promise<void> {
    const { host, port } = this.bindAt;
    await new Promise<void>((resolve, reject) => {
      this.udp.once('error', reject);
      this.udp.bind(port, host, () => {
        this.udp.off('error', reject);
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
  }

  stats(): EndpointStats {
    return {
      inbound: this.acceptor.slots.total,
      memberInbound: this.acceptor.slots.memberCount,
      acceptedTotal: this.acceptor.acceptedTotal,
      links: this.pool.size,
      dialedTotal: this.pool.dialedTotal,
      bufferedBytes: this.budget.total + this.memberBudget.total,
      tempBytes: this.files.temp.used,
      peakTempBytes: this.files.temp.peak,
      tempCap: this.files.temp.cap,
      datagramKeys: this.keys?.size ?? 0,
      transfersIn: this.files.transfers.size,
    };
  }

  // ---- datagrams ---------------------------------------------------------------------------

  private onDatagram(bytes: Buffer, src: Address): void {
    if (bytes.length > this.limits.maxDatagramBytes) return this.badDatagram(src, `${bytes.length} bytes is more than a datagram may carry`, 'oversize');
    let frame: Uint8Array = bytes;
    let authId: Id | undefined;
    if (this.keys) {
      const opened = this.keys.open(bytes);
      if (!opened.ok) return this.badDatagram(src, `dropped, ${opened.error}`, 'unsealed');
      frame = opened.frame;
      authId = opened.authId;
    }
    const d = decodeFrame(frame);
    if (!d.ok) return this.badDatagram(src, `${d.error.code}: ${d.error.message}`, 'undecodable');
    // datagrams carry liveness and lookup answers; everything else needs a connection
    if (!DATAGRAM_TYPES.has(d.msg.type)) return this.badDatagram(src, `${d.msg.type} is not allowed over udp`, 'not-allowed');
    this.handlers.onMessage(d.msg, authId === undefined ? { via: 'udp', src } : { via: 'udp', src, authId });
  }

  /** A datagram refused; its source is written out only now, not for every datagram that arrives. */
  private badDatagram(src: Address, detail: string, reason: BadInputReason): void {
    const source = sourceOf(src);
    this.handlers.onBadInput(`udp from ${source}: ${detail}`, source, reason);
  }

  sendDatagram(to: Target, msg: Message): void {
    if (this.closing) return;
    let frame: Uint8Array;
    try {
      frame = encodeFrame(msg);
    } catch {
      return; // an unsendable datagram is a lost datagram
    }
    if (!this.keys) return this.sendUdp(to, frame);
    const peerId = to.id ?? this.pool.peerIdAt(to);
    const sealed = peerId === undefined ? undefined : this.keys.seal(peerId, frame);
    if (sealed) {
      this.sendUdp(to, sealed.bytes);
      // The key outlives its connection only for a while: make a fresh one before it goes.
      if (!sealed.linkOpen) void this.pool.warm(to).catch(() => {});
      return;
    }
    this.awaitKey(to, peerId, frame);
  }

  private sendUdp(to: Address, bytes: Uint8Array): void {
    try {
      // Datagrams are fire and forget: a send error means the same as a lost packet. To an IP
      // address no callback is needed for that (dgram drops a failed send without one, and only a
      // host name's failed lookup would become an 'error' event), and none saves a tick a datagram.
      if (net.isIP(to.host) !== 0) this.udp.send(bytes, to.port, to.host);
      else this.udp.send(bytes, to.port, to.host, ignoreSendError);
    } catch {
      // Same: an unsendable datagram is a lost datagram.
    }
  }

  /** No key for this peer yet: queue a few datagrams and make a connection, whose key will seal them. */
  private awaitKey(to: Target, peerId: Id | undefined, frame: Uint8Array): void {
    const key = peerId !== undefined ? `id:${peerId}` : `addr:${formatAddress(to)}`;
    let waiting = this.awaitingKeys.get(key);
    if (!waiting) {
      if (this.awaitingKeys.size >= this.limits.maxPeersAwaitingKeys) {
        const oldest = this.awaitingKeys.keys().next().value;
        if (oldest !== undefined) this.awaitingKeys.delete(oldest);
      }
      waiting = { to, frames: [] };
      this.awaitingKeys.set(key, waiting);
    }
    waiting.frames.push(frame);
    if (waiting.frames.length > this.limits.maxQueuedDatagramsPerPeer) waiting.frames.shift();
    const w = waiting;
    this.pool.warm(to).catch(() => {
      if (this.awaitingKeys.get(key) === w) this.awaitingKeys.delete(key);
    });
  }

  /** A link's key is known at both ends now: seal and send what waited for it. */
  private flushDatagrams(link: Link): void {
    if (!this.keys || link.peerId === undefined) return;
    const keys = [`id:${link.peerId}`, ...(link.dialed ? [`addr:${formatAddress(link.remote)}`] : [])];
    for (const key of keys) {
      const waiting = this.awaitingKeys.get(key);
      if (!waiting) continue;
      this.awaitingKeys.delete(key);
      for (const frame of waiting.frames) {
        const sealed = this.keys.seal(link.peerId, frame);
        if (sealed) this.sendUdp(waiting.to, sealed.bytes);
      }
    }
  }

  // ---- messages and files -----------------------------------------------------------------------

  /**
   * A routed message's origin proof, checkable (private ring): the core checks it only where it
   * acts on the message, so relays pay nothing for it.
   */
  private vouch(msg: Message, origin: Origin): Origin {
    const verifier = this.verifier;
    if (!verifier || !isRouted(msg) || !msg.proof) return origin;
    let result: ProofCheck | undefined;
    const proof = (): ProofCheck => {
      if (result) return result;
      try {
        result = verifier.check(msg, Date.now());
      } catch (err) {
        result = { ok: false, why: describe(err) }; // never into a socket callback
      }
      return result;
    };
    return { ...origin, proof };
  }

  sendMessage(to: Target, msg: Message): Promise<void> {
    if (this.closing) return Promise.reject(unreachable('endpoint closed'));
    let frame: Uint8Array;
    try {
      // a routed message of our own leaves with our proof; one we relay keeps its origin's
      if (this.signer && isRouted(msg) && !msg.proof && speakerOf(msg).id === this.opts.tls?.id) msg = this.signer.sign(msg, Date.now());
      frame = encodeFrame(msg);
    } catch (err) {
      return Promise.reject(err);
    }
    if (frame.length > this.limits.maxMessageFrameBytes) {
      return Promise.reject(new CdhtError('CDHT_ERR_BAD_ARGUMENT', `a ${msg.type} of ${frame.length} bytes is larger than a message connection carries`));
    }
    return this.pool.send(to, frame);
  }

  async statFile(name: string): Promise<{ size: number } | null> {
    if (!isPlainFileName(name) && !isLibraryTemp(name)) return null;
    try {
      const st = await fsp.stat(join(this.storeDir, name));
      return st.isFile() ? { size: st.size } : null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw err;
    }
  }

  async hashFile(name: string): Promise<{ size: number; sha256: Uint8Array } | null> {
    if (!(await this.statFile(name))) return null;
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of createReadStream(join(this.storeDir, name))) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return null;
      throw err;
    }
    return { size, sha256: hash.digest() };
  }

  private get storeDir(): string {
    return this.opts.storeDir ?? this.opts.dataDir;
  }

  async listFiles(): Promise<{ name: string; size: number }[]> {
    const out: { name: string; size: number }[] = [];
    let names: string[];
    try {
      names = await fsp.readdir(this.storeDir);
    } catch {
      return out;
    }
    for (const name of names.slice(0, MAX_LISTED_FILES)) {
      if (name.startsWith('.')) continue;
      const st = await this.statFile(name).catch(() => null);
      if (st) out.push({ name, size: st.size });
    }
    return out;
  }

  setMembers(members: readonly Contact[]): void {
    this.acceptor.setMembers(members);
  }

  async sendFile(to: Target, header: FileBegin, name: string, onProgress?: (bytes: number) => void, signal?: AbortSignal, cancel?: AbortSignal): Promise<void> {
    if (!isPlainFileName(name) && !isLibraryTemp(name)) {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `${JSON.stringify(name)} is not a plain file name`);
    }
    if (!(await this.statFile(name))) {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `no file named ${name} in ${this.storeDir}`);
    }
    const release = await this.fileSlot(signal);
    try {
      if (this.closing) throw unreachable('endpoint closed');
      // waited past the point where the receiver still wants it (its request timed out): not sent at all
      if (signal?.aborted) throw expired(signal);
      const { sock } = await dialSocket(to, this.opts.tls, this.limits.connectTimeoutMs, this.outSockets, (detail) => this.handlers.onBadInput(detail, formatAddress(to), 'tls-dial'));
      const where = `${this.opts.tls ? 'tls' : 'tcp'} to ${formatAddress(to)}`;
      const reader = new FrameReader(
        sock,
        {
          where,
          host: to.host,
          budget: this.memberBudget,
          limits: this.limits,
          firstFrameDeadline: false,
          fail: (detail, reason) => {
            this.handlers.onBadInput(detail, formatAddress(to), reason);
            sock.destroy();
          },
        },
        { frame() {}, data() {} },
      );
      sock.once('close', () => reader.stop());
      if (cancel?.aborted) sock.destroy();
      const cut = () => sock.destroy();
      cancel?.addEventListener('abort', cut, { once: true });
      try {
        await streamFile(sock, reader, header, join(this.storeDir, name), this.limits, where, onProgress);
      } finally {
        cancel?.removeEventListener('abort', cut);
      }
    } finally {
      release();
    }
  }

  /** One of MAX_OUTBOUND_FILES sending slots; rejects when MAX_QUEUED_FILES already wait. */
  private fileSlot(signal?: AbortSignal): Promise<() => void> {
    const s = this.fileSlots;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const next = s.waiting.shift();
      if (next) next();
      else s.active--;
    };
    if (s.active < this.limits.maxOutboundFiles) {
      s.active++;
      return Promise.resolve(release);
    }
    if (s.waiting.length >= this.limits.maxQueuedFiles) {
      return Promise.reject(unreachable(`too many file transfers (${this.limits.maxOutboundFiles} sending, ${this.limits.maxQueuedFiles} waiting)`));
    }
    if (signal?.aborted) return Promise.reject(expired(signal));
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', give);
        resolve(release);
      };
      // A send given up while it waits leaves the queue at once (and never takes a slot).
      const give = (): void => {
        const i = s.waiting.indexOf(wake);
        if (i >= 0) s.waiting.splice(i, 1);
        reject(expired(signal!));
      };
      signal?.addEventListener('abort', give, { once: true });
      s.waiting.push(wake);
    });
  }

  // ---- closing -----------------------------------------------------------------------------------

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const udpClosed = new Promise<void>((resolve) => {
      try {
        this.udp.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.awaitingKeys.clear();
    this.pool.close();
    this.acceptor.close();
    for (const t of [...this.files.transfers]) t.abort('endpoint closed');
    for (const sock of [...this.outSockets]) sock.destroy();
    for (const wake of this.fileSlots.waiting.splice(0)) wake(); // they see `closing` and reject
    await Promise.all([udpClosed, serverClosed, ...[...this.files.transfers].map((t) => t.settled)]);
  }
}
