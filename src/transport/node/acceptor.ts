// Accepted connections: counted before any work is done (TLS included), given deadlines for
// their handshake and first frame, then turned by that first frame into a message link (hello,
// or a message) or a file transfer (file-begin).
//
// Fair slots. A connection is a stranger until it shows it is a member of the ring: on a
// private ring, a finished TLS handshake with this ring's certificate; on an open ring, a whole
// first message naming a neighbour (a successor, predecessor or finger the shell told us of) whose
// host is the connection's own. Members are not capped per host and may hold every slot;
// strangers may hold all but MEMBER_SLOTS of them and at most MAX_INBOUND_PER_HOST per host.
// When a newcomer finds no room, a stranger makes it: from the newcomer's own host when that host
// is at its cap, else from the host holding the most connections that have sent no whole frame
// (then the stranger host holding the most); within a host, one that has sent no whole frame yet
// before one that has, oldest first. A member is never evicted.
import type * as net from 'node:net';
import type * as tls from 'node:tls';
import { formatAddress, plainHost, type Address, type Contact } from '../../core/contact.js';
import type { Id } from '../../core/id-space.js';
import type { FileBegin, Message } from '../../core/messages.js';
import { decodeBytes, encodeLink, isLinkCode, LINK_CODES, messageCode } from '../../wire/index.js';
import type { EndpointHandlers, Origin, TlsIdentity } from '../types.js';
import type { MemoryBudget } from './budget.js';
import type { LinkPool } from './connection-pool.js';
import { FrameReader, type FrameHandler } from './frame-reader.js';
import { ignoreError, PRIVATE_RING_REFUSAL, remoteOf, sourceOf } from './guard.js';
import type { Limits } from './limits.js';
import { SlotTable, type Slot } from './slots.js';
import { createTlsAcceptor } from './tls.js';

const FILE_BEGIN_CODE = messageCode('file-begin');

export interface AcceptorContext {
  readonly handlers: Required<EndpointHandlers>;
  readonly limits: Limits;
  /** Partial frames of strangers' connections, and of members' (a budget strangers cannot reach). */
  readonly budget: MemoryBudget;
  readonly memberBudget: MemoryBudget;
  readonly identity: TlsIdentity | undefined;
  readonly pool: LinkPool;
  /** A file offer arrived as the first frame; the connection is the transfer's from now on. */
  startFile(sock: net.Socket, reader: FrameReader, header: FileBegin, origin: Origin): void;
  isClosing(): boolean;
}

/**
 * The contact a message speaks for when its sender wrote it itself: the `from` of a direct
 * message, the origin of a routed one on its first hop. A routed message further along names
 * someone else, so it proves nothing about the connection.
 */
export function speakerOf(msg: Message): Contact | undefined {
  switch (msg.type) {
    case 'join':
      return msg.hops <= 1 ? msg.joiner : undefined;
    case 'store':
    case 'lookup':
      return msg.hops <= 1 ? msg.origin : undefined;
    case 'file-request':
      return msg.hops <= 1 ? msg.requester : undefined;
    case 'file-data':
    case 'file-end':
      return undefined;
    default:
      return msg.from;
  }
}


export class Acceptor {
  readonly slots: SlotTable<net.Socket>;
  /** id -> host of the ring's members this peer knows (its neighbours), as the shell last said. */
  private members = new Map<Id, string>();
  /** Raw sockets in their TLS handshake, by remote address, so the secure socket finds its slot. */
  private readonly handshaking = new Map<string, Slot<net.Socket>>();
  private readonly tlsServer: tls.Server | undefined;
  /** Accepted raw sockets open now (at most maxInboundConnections), so closing reaches them all. */
  private readonly accepted = new Set<net.Socket>();
  /** Connections accepted since the endpoint opened (tests count connections with this). */
  acceptedTotal = 0;

  constructor(private readonly ctx: AcceptorContext) {
    const l = ctx.limits;
    this.slots = new SlotTable(l.maxInboundConnections, l.memberSlots, l.maxInboundPerHost);
    this.tlsServer = ctx.identity
      ? createTlsAcceptor(ctx.identity, l.tlsHandshakeTimeoutMs, {
          secure: (sock, peerId) => {
            const remote = remoteOf(sock);
            const slot = this.handshaking.get(formatAddress(remote));
            if (!slot) return sock.destroy(); // evicted during its handshake
            this.handshaking.delete(formatAddress(remote));
            // a certificate of this ring's authority: a member, whatever it sends
            this.slots.promote(slot, 'member');
            this.opened(sock, remote, peerId, slot);
          },
          refused: (detail, source, reason) => ctx.handlers.onBadInput(detail, source, reason),
          notTls: (sock) => this.tellPlainPeer(sock),
        })
      : undefined;
  }

  /** The ring's members this peer knows now (successors, predecessors, fingers). */
  setMembers(members: readonly Contact[]): void {
    const next = new Map<Id, string>();
    for (const m of members) next.set(m.id, plainHost(m.host));
    this.members = next;
  }

  /** Open ring: the connection is a member's when it speaks for a known member at its own host. */
  private isMember(speaker: Contact | undefined, remoteHost: string): boolean {
    if (!speaker) return false;
    const host = plainHost(remoteHost);
    return this.members.get(speaker.id) === host && plainHost(speaker.host) === host;
  }

  /** A new TCP connection from the listening server. */
  handle(raw: net.Socket): void {
    raw.on('error', ignoreError); // whoever reads the socket reports; a reset after close is nothing
    if (this.ctx.isClosing()) {
      raw.destroy();
      return;
    }
    const remote = remoteOf(raw);
    const admitted = this.slots.admit(raw, remote.host);
    if ('refused' in admitted) {
      const source = sourceOf(remote);
      this.ctx.handlers.onBadInput(`tcp from ${source}: ${admitted.refused}`, source, 'no-slot');
      raw.destroy();
      return;
    }
    if (admitted.evicted) {
      const victim = admitted.evicted.slot.item;
      const source = sourceOf(remoteOf(victim));
      this.ctx.handlers.onBadInput(`tcp from ${source}: closed to make room (${admitted.evicted.why})`, admitted.evicted.slot.host, 'no-slot');
      victim.destroy();
    }
    this.acceptedTotal++;
    const slot = admitted.slot;
    this.accepted.add(raw);
    raw.on('close', () => {
      this.slots.remove(slot);
      this.accepted.delete(raw);
    });
    if (this.tlsServer) {
      const key = formatAddress(remote);
      this.handshaking.set(key, slot);
      raw.on('close', () => {
        if (this.handshaking.get(key) === slot) this.handshaking.delete(key);
      });
      this.tlsServer.emit('connection', raw);
    } else this.opened(raw, remote, undefined, slot);
  }

  /**
   * A peer without --tls spoke plain cdht to this private ring: one plain refuse frame on the raw
   * socket under the TLS one tells it why (it would otherwise see only a closed connection). The
   * raw socket is the one still in its handshake from that address.
   */
  private tellPlainPeer(sock: tls.TLSSocket): void {
    const raw = this.handshaking.get(formatAddress(remoteOf(sock)))?.item;
    if (raw?.writable) raw.write(encodeLink({ type: 'refuse', reason: PRIVATE_RING_REFUSAL }));
  }

  /** TCP accepted (open ring) or TLS finished (private ring): wait for the first frame. */
  private opened(sock: net.Socket, remote: Address, peerId: Id | undefined, slot: Slot<net.Socket>): void {
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
        budget: slot.standing === 'member' ? this.ctx.memberBudget : this.ctx.budget,
        limits: this.ctx.limits,
        firstFrameDeadline: true,
        fail: (detail, reason) => {
          this.ctx.handlers.onBadInput(detail, source, reason);
          sock.destroy();
        },
      },
      {
        frame: (bytes, owned) => {
          decided = true;
          this.classify(sock, reader, remote, peerId, origin, bytes, owned, slot);
        },
        data() {},
      } satisfies FrameHandler,
    );
    sock.on('end', () => {
      if (!decided && reader.partialBytes > 0) {
        this.ctx.handlers.onBadInput(`${where}: connection closed inside a frame (${reader.partialBytes} bytes)`, source, 'truncated');
      }
    });
  }

  /** A whole frame named who speaks on the connection: a member's slot and budget, or a known stranger's. */
  private identify(slot: Slot<net.Socket>, reader: FrameReader, speaker: Contact | undefined, remoteHost: string): boolean {
    if (slot.standing === 'member') return true;
    if (!this.isMember(speaker, remoteHost)) {
      this.slots.promote(slot, 'stranger');
      return false;
    }
    this.slots.promote(slot, 'member');
    reader.moveTo(this.ctx.memberBudget);
    return true;
  }

  private classify(sock: net.Socket, reader: FrameReader, remote: Address, peerId: Id | undefined, origin: Origin, bytes: Uint8Array, owned: boolean, slot: Slot<net.Socket>): void {
    const code = bytes[5]!;
    if (code === FILE_BEGIN_CODE) {
      const d = decodeBytes(bytes, owned);
      if (d.ok && d.msg.type === 'file-begin') {
        this.identify(slot, reader, d.msg.from, remote.host);
        return this.ctx.startFile(sock, reader, d.msg, origin);
      }
    } else if (isLinkCode(code) && code !== LINK_CODES.hello) {
      const source = sourceOf(remote);
      this.ctx.handlers.onBadInput(`tcp from ${source}: a connection must open with hello, a message or file-begin; dropped`, source, 'not-allowed');
      sock.destroy();
      return;
    }
    this.slots.promote(slot, 'stranger');
    // hello opens a link; a message first is a one-way connection (a peer of the first release).
    // Until a message proves a member speaks on it, each message is checked for who it speaks for.
    const identify = slot.standing === 'member' ? undefined : (msg: Message) => this.identify(slot, reader, speakerOf(msg), remote.host);
    const link = this.ctx.pool.adoptInbound(sock, reader, remote, peerId, code !== LINK_CODES.hello, identify);
    link.frame(bytes, owned);
  }

  /** Drops every accepted connection (the endpoint is closing). */
  close(): void {
    for (const sock of [...this.accepted]) sock.destroy();
    this.tlsServer?.close();
  }
}
