// Accepted connections: counted per remote host and in total before any work is done (TLS
// included), given deadlines for their handshake and first frame, then turned by that first
// frame into a message link (hello, or a message) or a file transfer (file-begin).
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { Address } from '../../core/contact.js';
import type { Id } from '../../core/id-space.js';
import { decodeBytes, encodeLink, isLinkCode, LINK_CODES, messageCode } from '../../wire/index.js';
import type { EndpointHandlers, Origin, TlsIdentity } from '../types.js';
import { ConnectionCounter, type MemoryBudget } from './budget.js';
import type { LinkPool } from './connection-pool.js';
import { FrameReader, type FrameHandler } from './frame-reader.js';
import { ignoreError, PRIVATE_RING_REFUSAL, remoteOf, sourceOf } from './guard.js';
import type { Limits } from './limits.js';
import { createTlsAcceptor } from './tls.js';

const FILE_BEGIN_CODE = messageCode('file-begin');

export interface AcceptorContext {
  readonly handlers: Required<EndpointHandlers>;
  readonly limits: Limits;
  readonly budget: MemoryBudget;
  readonly identity: TlsIdentity | undefined;
  readonly pool: LinkPool;
  /** A file offer arrived as the first frame; the connection is the transfer's from now on. */
  startFile(sock: net.Socket, reader: FrameReader, header: import('../../core/messages.js').FileBegin, origin: Origin): void;
  isClosing(): boolean;
}

export class Acceptor {
  readonly counter: ConnectionCounter;
  /** Accepted raw sockets by remote host, oldest first, each with the function that counts it out. */
  private readonly byHost = new Map<string, Map<net.Socket, () => void>>();
  private readonly tlsServer: tls.Server | undefined;
  /** Connections accepted since the endpoint opened (tests count connections with this). */
  acceptedTotal = 0;

  constructor(private readonly ctx: AcceptorContext) {
    const l = ctx.limits;
    this.counter = new ConnectionCounter(l.maxInboundPerHost, l.maxInboundConnections);
    this.tlsServer = ctx.identity
      ? createTlsAcceptor(ctx.identity, l.tlsHandshakeTimeoutMs, {
          secure: (sock, peerId) => this.opened(sock, remoteOf(sock), peerId),
          refused: (detail, source) => ctx.handlers.onBadInput(detail, source),
          notTls: (sock) => this.tellPlainPeer(sock),
        })
      : undefined;
  }

  /** A new TCP connection from the listening server. */
  handle(raw: net.Socket): void {
    raw.on('error', ignoreError); // whoever reads the socket reports; a reset after close is nothing
    if (this.ctx.isClosing()) {
      raw.destroy();
      return;
    }
    const remote = remoteOf(raw);
    let refusal = this.counter.refusal(remote.host);
    if (refusal && this.counter.count(remote.host) < this.ctx.limits.maxInboundPerHost && this.evictFromBusiest(remote.host)) {
      refusal = this.counter.refusal(remote.host);
    }
    if (refusal) {
      const source = sourceOf(remote);
      this.ctx.handlers.onBadInput(`tcp from ${source}: ${refusal}`, source);
      raw.destroy();
      return;
    }
    this.acceptedTotal++;
    const countOut = this.counter.add(remote.host);
    const mine = this.byHost.get(remote.host) ?? new Map<net.Socket, () => void>();
    mine.set(raw, countOut);
    this.byHost.set(remote.host, mine);
    raw.on('close', () => {
      countOut();
      mine.delete(raw);
      if (mine.size === 0 && this.byHost.get(remote.host) === mine) this.byHost.delete(remote.host);
    });
    if (this.tlsServer) this.tlsServer.emit('connection', raw);
    else this.opened(raw, remote, undefined);
  }

  /**
   * A peer without --tls spoke plain cdht to this private ring: one plain refuse frame on the raw
   * socket under the TLS one tells it why (it would otherwise see only a closed connection). The
   * raw socket is found by its remote port among those accepted from that host.
   */
  private tellPlainPeer(sock: tls.TLSSocket): void {
    const remote = remoteOf(sock);
    for (const raw of this.byHost.get(remote.host)?.keys() ?? []) {
      if (raw.remotePort !== remote.port || !raw.writable) continue;
      raw.write(encodeLink({ type: 'refuse', reason: PRIVATE_RING_REFUSAL }));
      return;
    }
  }

  /**
   * Every slot is taken: a host holding more connections than the newcomer's loses its oldest,
   * so one host (or a few) cannot lock everybody else out. Returns true when one was freed.
   */
  private evictFromBusiest(newHost: string): boolean {
    const busiest = this.counter.busiestHost();
    if (busiest === undefined || busiest === newHost || this.counter.count(busiest) <= this.counter.count(newHost) + 1) return false;
    const victims = this.byHost.get(busiest);
    const first = victims?.entries().next();
    if (!first || first.done) return false;
    const [sock, countOut] = first.value;
    victims!.delete(sock); // counted out now: the close event comes later
    this.ctx.handlers.onBadInput(`tcp from ${sourceOf(remoteOf(sock))}: closed to make room (${busiest} holds the most connections)`, busiest);
    countOut();
    sock.destroy();
    return true;
  }

  /** TCP accepted (open ring) or TLS finished (private ring): wait for the first frame. */
  private opened(sock: net.Socket, remote: Address, peerId: Id | undefined): void {
    if (this.ctx.isClosing()) {
      sock.destroy();
      return;
    }
    const source = sourceOf(remote);
    const where = `${peerId === undefined ? 'tcp' : 'tls'} from ${source}`;
    const origin: Origin = peerId === undefined ? { via: 'tcp', src: remote } : { via: 'tcp', src: remote, authId: peerId };
    let decided = false;
    const reader: FrameReader = new FrameReader(
      sock,
      {
        where,
        host: remote.host,
        budget: this.ctx.budget,
        limits: this.ctx.limits,
        firstFrameDeadline: true,
        fail: (detail) => {
          this.ctx.handlers.onBadInput(detail, source);
          sock.destroy();
        },
      },
      {
        frame: (bytes, owned) => {
          decided = true;
          this.classify(sock, reader, remote, peerId, origin, bytes, owned);
        },
        data() {},
      } satisfies FrameHandler,
    );
    sock.on('end', () => {
      if (!decided && reader.partialBytes > 0) {
        this.ctx.handlers.onBadInput(`${where}: connection closed inside a frame (${reader.partialBytes} bytes)`, source);
      }
    });
  }

  private classify(sock: net.Socket, reader: FrameReader, remote: Address, peerId: Id | undefined, origin: Origin, bytes: Uint8Array, owned: boolean): void {
    const code = bytes[5]!;
    if (code === FILE_BEGIN_CODE) {
      const d = decodeBytes(bytes, owned);
      if (d.ok && d.msg.type === 'file-begin') return this.ctx.startFile(sock, reader, d.msg, origin);
    } else if (isLinkCode(code) && code !== LINK_CODES.hello) {
      const source = sourceOf(remote);
      this.ctx.handlers.onBadInput(`tcp from ${source}: a connection must open with hello, a message or file-begin; dropped`, source);
      sock.destroy();
      return;
    }
    // hello opens a link; a message first is a one-way connection (a peer of the first release).
    const link = this.ctx.pool.adoptInbound(sock, reader, remote, peerId, code !== LINK_CODES.hello);
    link.frame(bytes, owned);
  }

  /** Drops every accepted connection (the endpoint is closing). */
  close(): void {
    for (const mine of this.byHost.values()) for (const sock of mine.keys()) sock.destroy();
    this.tlsServer?.close();
  }
}
