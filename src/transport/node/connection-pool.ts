// The message links of one endpoint, keyed by the peer at the other end. On a private ring the
// certificate proves who that is, so a link the peer opened to us carries our messages to it
// too, and two links to one peer converge on one (the one dialed by the lower id). On an open
// ring nothing proves who opened a connection, so only links we dialed carry our messages.
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { formatAddress, type Address, type Target } from '../../core/contact.js';
import type { Id } from '../../core/id-space.js';
import type { Message } from '../../core/messages.js';
import type { EndpointHandlers, TlsIdentity } from '../types.js';
import type { MemoryBudget } from './budget.js';
import { Link, linkName, type LinkOwner } from './connection.js';
import { FrameReader, type FrameHandler } from './frame-reader.js';
import { sourceOf, unreachable } from './guard.js';
import type { Limits } from './limits.js';
import type { DatagramKeys } from './sealed-datagrams.js';
import { dialSocket, exportSecret } from './tls.js';

export interface PoolContext {
  readonly handlers: Required<EndpointHandlers>;
  readonly limits: Limits;
  /** Connections we dial go to peers we chose: their partial frames count against the members' budget. */
  readonly budget: MemoryBudget;
  readonly identity: TlsIdentity | undefined;
  readonly keys: DatagramKeys | undefined;
  /** Every outbound socket, so closing the endpoint can reach dials still in progress. */
  readonly sockets: Set<net.Socket>;
  /** A link's datagram key is now known at both ends: flush datagrams waiting for it. */
  onConfirmed(link: Link): void;
}

const IDLE_HANDLER: FrameHandler = { frame() {}, data() {} };

const addrKey = (a: Address): string => formatAddress(a);
/** Names plain-TCP links (TLS links are named by their keying material). */
let plainLinks = 0;

/** A counting semaphore with a bounded queue of waiters, each waiting at most `maxWaitMs`. */
class Slots {
  private active = 0;
  private readonly waiting: Array<{ go: () => void; fail: (e: Error) => void }> = [];

  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
    private readonly maxWaitMs: number,
    private readonly onFull: () => void,
  ) {}

  get inUse(): number {
    return this.active;
  }

  /** Resolves once a slot is ours (give it back with `release`, once); rejects when the queue is full. */
  acquire(): Promise<void> {
    if (this.active < this.max) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueued) {
      return Promise.reject(unreachable(`too many connections (${this.max} open, ${this.maxQueued} waiting)`));
    }
    this.onFull();
    return new Promise((resolve, reject) => {
      const w = {
        go: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      // Every link is busy: a send does not wait for ever for one of them to go.
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(w);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(unreachable(`no free connection slot within ${this.maxWaitMs} ms (${this.max} links open)`));
      }, this.maxWaitMs);
      this.waiting.push(w);
    });
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next.go(); // the slot passes straight on; `active` stays as it is
    else this.active--;
  }

  failAll(err: Error): void {
    for (const w of this.waiting.splice(0)) w.fail(err);
  }
}

export class LinkPool implements LinkOwner {
  private readonly byId = new Map<Id, Link>();
  private readonly byAddr = new Map<string, Link>();
  private readonly dialing = new Map<string, Promise<Link>>();
  private readonly links = new Set<Link>();
  /** Links holding an outbound slot (each gives it back once, when it closes). */
  private readonly holdingSlot = new Set<Link>();
  private readonly slots: Slots;
  private closing = false;
  /** Links dialed since the endpoint opened (tests count connections with this). */
  dialedTotal = 0;

  constructor(private readonly ctx: PoolContext) {
    this.slots = new Slots(ctx.limits.maxOutboundLinks, ctx.limits.maxQueuedDials, ctx.limits.connectTimeoutMs, () => this.retireIdlest());
  }

  get handlers(): Required<EndpointHandlers> {
    return this.ctx.handlers;
  }
  get limits(): Limits {
    return this.ctx.limits;
  }
  get size(): number {
    return this.links.size;
  }
  get dialedOpen(): number {
    return this.slots.inUse;
  }

  /** Delivers one encoded message frame to `to`, on a usable link or a new one. */
  send(to: Target, frame: Uint8Array): Promise<void> {
    if (this.closing) return Promise.reject(unreachable('endpoint closed'));
    const link = this.find(to);
    if (!link) return this.connect(to).then((l) => l.send(frame));
    // A link that was open when we used it may break under the message: the other end evicted
    // it (too many connections from our host) or closed it idle a moment before. One fresh
    // connection is then the real test of whether the peer can be reached.
    return link.send(frame).catch((err: unknown) => {
      if (this.closing) throw err;
      return this.connect(to).then((l) => l.send(frame));
    });
  }

  /** Makes sure a link to `to` exists or is being made (a private ring wants its datagram key). */
  warm(to: Target): Promise<Link> {
    const link = this.find(to);
    return link ? Promise.resolve(link) : this.connect(to);
  }

  /** The id proven by a link we dialed to this address, if any. */
  peerIdAt(to: Address): Id | undefined {
    return this.byAddr.get(addrKey(to))?.peerId;
  }

  private find(to: Target): Link | undefined {
    if (this.ctx.identity && to.id !== undefined) {
      const l = this.byId.get(to.id);
      return l?.usable ? l : undefined;
    }
    const l = this.byAddr.get(addrKey(to));
    return l?.usable ? l : undefined;
  }

  private connect(to: Target): Promise<Link> {
    const key = this.ctx.identity && to.id !== undefined ? `id:${to.id}` : `addr:${addrKey(to)}`;
    const inProgress = this.dialing.get(key);
    if (inProgress) return inProgress;
    const p = this.dial(to).finally(() => this.dialing.delete(key));
    this.dialing.set(key, p);
    return p;
  }

  private async dial(to: Target): Promise<Link> {
    await this.slots.acquire();
    let dialed;
    try {
      if (this.closing) throw unreachable('endpoint closed');
      dialed = await dialSocket(to, this.ctx.identity, this.ctx.limits.connectTimeoutMs, this.ctx.sockets, (detail) => this.ctx.handlers.onBadInput(detail, formatAddress(to), 'tls-dial'));
      if (this.closing) {
        dialed.sock.destroy();
        throw unreachable('endpoint closed');
      }
    } catch (err) {
      this.slots.release();
      throw err;
    }
    this.dialedTotal++;
    const remote: Address = { host: to.host, port: to.port };
    const link = this.makeLink(dialed.sock, true, remote, dialed.peerId, { firstFrameDeadline: false });
    this.holdingSlot.add(link);
    this.byAddr.set(addrKey(remote), link);
    this.adoptById(link);
    return link;
  }

  /**
   * An accepted connection whose first frame made it a message link. On a private ring it also
   * carries our messages to its peer; on an open ring it only receives.
   */
  adoptInbound(sock: net.Socket, reader: FrameReader, remote: Address, peerId: Id | undefined, oneWay: boolean, identify?: (msg: Message) => boolean): Link {
    const link = this.makeLink(sock, false, remote, peerId, { reader, oneWay, identify });
    if (this.closing) link.destroy(unreachable('endpoint closed'));
    else if (!oneWay) this.adoptById(link);
    return link;
  }

  private makeLink(sock: net.Socket, dialed: boolean, remote: Address, peerId: Id | undefined, o: { reader?: FrameReader; firstFrameDeadline?: boolean; oneWay?: boolean; identify?: ((msg: Message) => boolean) | undefined }): Link {
    const keys = this.ctx.keys;
    // Both ends name the connection by its TLS keying material, so they agree on a tie-break.
    const connId = keys && peerId !== undefined && !o.oneWay ? keys.add(exportSecret(sock as tls.TLSSocket), peerId, !dialed) : undefined;
    let link: Link | undefined;
    const reader =
      o.reader ??
      new FrameReader(
        sock,
        {
          // a plain string: an object literal with a getter is kept as a slow dictionary
          where: linkName(dialed, remote),
          host: remote.host,
          budget: this.ctx.budget,
          limits: this.ctx.limits,
          firstFrameDeadline: o.firstFrameDeadline ?? false,
          fail: (detail, reason) => {
            this.ctx.handlers.onBadInput(detail, sourceOf(remote), reason);
            if (link) link.destroy(unreachable(detail));
            else sock.destroy();
          },
        },
        IDLE_HANDLER,
      );
    link = new Link(sock, reader, { dialed, peerId, remote, connId: connId ?? `tcp-${++plainLinks}`, oneWay: o.oneWay ?? false, identify: o.identify }, this);
    if (connId) keys!.attach(connId, link);
    this.links.add(link);
    return link;
  }

  /** Two usable links to one peer: both ends keep the one dialed by the lower id (then the lower connection id). */
  private adoptById(link: Link): void {
    const id = link.peerId;
    if (!this.ctx.identity || id === undefined || id === this.ctx.identity.id) return;
    const existing = this.byId.get(id);
    if (!existing || !existing.usable) {
      this.byId.set(id, link);
      return;
    }
    const [keep, drop] = this.prefer(existing, link) ? [existing, link] : [link, existing];
    this.byId.set(id, keep);
    drop.drain();
  }

  /** True when `a` should be kept over `b`. */
  private prefer(a: Link, b: Link): boolean {
    const self = this.ctx.identity!.id;
    const dialer = (l: Link): Id => (l.dialed ? self : l.peerId!);
    const da = dialer(a);
    const db = dialer(b);
    if (da !== db) return da < db;
    return a.connId < b.connId;
  }

  /** At the outbound cap: the least recently used idle link we dialed closes, freeing its slot. */
  private retireIdlest(): void {
    let idlest: Link | undefined;
    for (const l of this.links) {
      if (l.dialed && l.usable && l.inFlight === 0 && (!idlest || l.idleSince < idlest.idleSince)) idlest = l;
    }
    idlest?.drain();
  }

  // ---- LinkOwner -----------------------------------------------------------------------------

  confirmed(link: Link): void {
    this.ctx.keys?.confirm(link.connId);
    this.ctx.onConfirmed(link);
  }

  retired(link: Link): void {
    if (link.peerId !== undefined && this.byId.get(link.peerId) === link) this.byId.delete(link.peerId);
    const at = addrKey(link.remote);
    if (link.dialed && this.byAddr.get(at) === link) this.byAddr.delete(at);
  }

  closed(link: Link): void {
    this.retired(link);
    this.links.delete(link);
    this.ctx.keys?.closed(link.connId);
    if (this.holdingSlot.delete(link)) this.slots.release();
  }

  /** Drops every link; messages awaiting acknowledgement are rejected. */
  close(): void {
    this.closing = true;
    const err = unreachable('endpoint closed');
    this.slots.failAll(err);
    for (const l of [...this.links]) l.destroy(err);
  }
}
