// One long-lived message connection ("link") to a neighbour, dialed or accepted: messages both
// ways, each side acknowledging what it consumed with a cumulative count per read; closing is
// a goaway from each side, so no message in flight is lost when an idle or duplicate link goes.
import type * as net from 'node:net';
import type { Address } from '../../core/contact.js';
import type { Id } from '../../core/id-space.js';
import { decodeBytes, decodeLink, encodeLink, isLinkCode } from '../../wire/index.js';
import type { Message } from '../../core/messages.js';
import type { EndpointHandlers, Origin } from '../types.js';
import type { FrameHandler, FrameReader } from './frame-reader.js';
import { describe, notAdmitted, oneLine, sourceOf, unreachable } from './guard.js';
import type { Limits } from './limits.js';

/** Characters of another side's refusal reason kept in an error. */
const MAX_REFUSAL_CHARS = 200;

/** What a link tells the pool that holds it. */
export interface LinkOwner {
  readonly handlers: Required<EndpointHandlers>;
  readonly limits: Limits;
  /** The other side's hello arrived: it runs the link protocol (and holds this connection's datagram key). */
  confirmed(link: Link): void;
  /** The link takes no new sends any more (closing, either side's choice). */
  retired(link: Link): void;
  closed(link: Link): void;
}

export interface LinkInit {
  readonly dialed: boolean;
  /** The id the other side's certificate names (private rings). */
  readonly peerId?: Id | undefined;
  /** The socket's remote address; for a dialed link also the address that was dialed. */
  readonly remote: Address;
  /** Names this connection the same way at both ends (from its TLS keying material), or uniquely here. */
  readonly connId: string;
  /**
   * Accepted without a hello: a peer that writes messages and closes (the first release did).
   * It is only read from; nothing is written back, not even acknowledgements.
   */
  readonly oneWay?: boolean;
  /** Accepted from a stranger: told each message until it returns true (a member speaks here). */
  readonly identify?: ((msg: Message) => boolean) | undefined;
}

interface Pending {
  resolve(): void;
  reject(err: Error): void;
  at: number;
}

/** How lines name a message connection: 'tcp to 127.0.0.1:12004', 'tcp from ...'. */
export function linkName(dialed: boolean, remote: Address): string {
  return `tcp ${dialed ? 'to' : 'from'} ${sourceOf(remote)}`;
}

const HELLO = encodeLink({ type: 'hello' });
const GOAWAY = encodeLink({ type: 'goaway' });

export class Link implements FrameHandler {
  readonly dialed: boolean;
  readonly peerId: Id | undefined;
  readonly remote: Address;
  readonly connId: string;
  readonly origin: Origin;
  private readonly oneWay: boolean;
  private identify: ((msg: Message) => boolean) | undefined;
  private state: 'open' | 'draining' | 'closed' = 'open';
  private readonly pending: Pending[] = [];
  private ackedTotal = 0;
  /** Message frames consumed from the other side (mod 2^32), and the count last acknowledged. */
  private received = 0;
  private ackedOut = 0;
  private sentGoaway = false;
  private gotGoaway = false;
  private gotHello = false;
  private failure: Error | null = null;
  private lastActive = performance.now();
  private drainStarted = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;

  constructor(
    private readonly sock: net.Socket,
    private readonly reader: FrameReader,
    init: LinkInit,
    private readonly owner: LinkOwner,
  ) {
    this.dialed = init.dialed;
    this.peerId = init.peerId;
    this.remote = init.remote;
    this.connId = init.connId;
    this.oneWay = init.oneWay ?? false;
    this.identify = init.identify;
    this.origin = init.peerId === undefined ? { via: 'tcp', src: init.remote } : { via: 'tcp', src: init.remote, authId: init.peerId };
    reader.setHandler(this);
    sock.setNoDelay(true);
    sock.on('end', () => this.onEnd());
    sock.on('error', (err) => (this.failure ??= unreachable(`${this.where}: ${describe(err)}`)));
    sock.on('close', () => this.onClose());
    if (init.dialed) sock.write(HELLO);
    this.arm();
  }

  // (built when a line needs them: every open link would otherwise keep both strings)
  private get source(): string {
    return sourceOf(this.remote);
  }
  private get where(): string {
    return linkName(this.dialed, this.remote);
  }

  /** Takes new sends: open, and neither side has started closing it. */
  get usable(): boolean {
    return this.state === 'open' && !this.oneWay;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Messages sent and not yet acknowledged. */
  get inFlight(): number {
    return this.pending.length;
  }

  get idleSince(): number {
    return this.lastActive;
  }

  get helloReceived(): boolean {
    return this.gotHello;
  }

  /** Traffic that keeps the link open: sealed datagrams under its key count too. */
  touch(): void {
    this.lastActive = performance.now();
  }

  /** Writes one message frame; resolves when the other side acknowledges it. */
  send(frame: Uint8Array): Promise<void> {
    if (this.state !== 'open') return Promise.reject(unreachable(`${this.where}: connection closing`));
    if (this.pending.length >= this.owner.limits.maxUnackedPerLink) {
      return Promise.reject(unreachable(`${this.where}: ${this.owner.limits.maxUnackedPerLink} messages already await acknowledgement`));
    }
    return new Promise<void>((resolve, reject) => {
      const now = performance.now();
      this.pending.push({ resolve, reject, at: now });
      this.lastActive = now;
      this.write(frame);
      this.arm();
    });
  }

  /** Starts closing: no new sends, a goaway to the other side, then close once both sides are done. */
  drain(): void {
    if (this.state !== 'open') return;
    this.state = 'draining';
    this.drainStarted = performance.now();
    this.owner.retired(this);
    if (this.oneWay) {
      this.sock.end();
      return this.arm();
    }
    this.sentGoaway = true;
    this.write(GOAWAY);
    this.arm();
    this.maybeFinish();
  }

  /** Drops the connection at once: every message awaiting acknowledgement is rejected with `err`. */
  destroy(err: Error): void {
    this.failure ??= err;
    this.sock.destroy();
  }

  // ---- frames in --------------------------------------------------------------------------

  frame(bytes: Uint8Array, owned: boolean): void {
    if (this.state === 'closed') return;
    const code = bytes[5]!;
    if (isLinkCode(code)) return this.linkFrame(bytes);
    // Every message frame counts, decodable or not: the count is what the other side waits on.
    this.received = (this.received + 1) >>> 0;
    this.lastActive = performance.now();
    const d = decodeBytes(bytes, owned);
    const h = this.owner.handlers;
    if (!d.ok) return h.onBadInput(`${this.where}: ${d.error.code}: ${d.error.message}`, this.source, 'undecodable');
    const type = d.msg.type;
    if (type === 'file-begin' || type === 'file-data' || type === 'file-end') {
      return h.onBadInput(`${this.where}: ${type} outside a file transfer`, this.source, 'not-allowed');
    }
    if (this.identify?.(d.msg)) this.identify = undefined;
    h.onMessage(d.msg, this.origin);
  }

  data(): void {
    // Message links never stream (their reader does not allow file-data).
  }

  /** One acknowledgement per read, however many messages it carried. */
  afterRead(): void {
    if (this.received === this.ackedOut || this.state === 'closed' || this.oneWay) return;
    this.ackedOut = this.received;
    this.write(encodeLink({ type: 'ack', count: this.received }));
  }

  private linkFrame(bytes: Uint8Array): void {
    if (this.oneWay) return this.violation('link frame on a connection that opened without hello');
    const d = decodeLink(bytes);
    if (!d.ok) return this.violation(`${d.error.code}: ${d.error.message}`);
    const f = d.frame;
    this.lastActive = performance.now();
    switch (f.type) {
      case 'hello':
        if (this.gotHello) return;
        this.gotHello = true;
        if (!this.dialed) this.write(HELLO);
        this.owner.confirmed(this);
        return;
      case 'ack':
        return this.onAck(f.count);
      case 'goaway':
        this.gotGoaway = true;
        if (this.state === 'open') this.drain();
        else this.maybeFinish();
        return;
      case 'refuse':
        // a private ring's answer to a link we opened without TLS, before any hello: its reason
        // is the whole story (cut and on one line: it is the other side's text)
        if (this.dialed && !this.gotHello) return this.destroy(notAdmitted(`${this.where} refused the connection: ${oneLine(f.reason).slice(0, MAX_REFUSAL_CHARS)}`));
        return this.violation('refuse on a message connection');
    }
  }

  private onAck(count: number): void {
    const fresh = (count - (this.ackedTotal >>> 0)) >>> 0;
    if (fresh > this.pending.length) return this.violation(`acknowledged ${fresh} messages, ${this.pending.length} were sent`);
    this.ackedTotal += fresh;
    for (const p of this.pending.splice(0, fresh)) p.resolve();
    this.maybeFinish();
  }

  private violation(detail: string): void {
    this.owner.handlers.onBadInput(`${this.where}: ${detail}; dropped`, this.source, 'violation');
    this.destroy(unreachable(`${this.where}: ${detail}`));
  }

  // ---- writing, closing and timers ----------------------------------------------------------

  private write(frame: Uint8Array): void {
    if (this.sock.destroyed || !this.sock.writable) return;
    this.sock.write(frame);
    if (this.sock.writableLength > this.owner.limits.maxLinkWriteBacklogBytes) {
      // The other side is not reading: stop producing acknowledgements for it until it does.
      this.reader.pause('backlog');
      this.sock.once('drain', () => this.reader.resume('backlog'));
    }
  }

  private maybeFinish(): void {
    if (this.state !== 'draining' || !this.sentGoaway || !this.gotGoaway || this.pending.length > 0) return;
    // Both sides promised no more messages and ours are all acknowledged; acks we owe are written.
    this.sock.end();
  }

  private onEnd(): void {
    if (this.pending.length > 0) this.failure ??= unreachable(`${this.where}: connection closed before the acknowledgement`);
    if (this.reader.partialBytes > 0) {
      this.owner.handlers.onBadInput(`${this.where}: connection closed inside a frame (${this.reader.partialBytes} bytes)`, this.source, 'truncated');
    }
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.reader.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length > 0) {
      // (an error is built only when someone waits for it: most links close with nothing pending)
      const err = this.failure ?? unreachable(`${this.where}: connection closed before the acknowledgement`);
      for (const p of this.pending.splice(0)) p.reject(err);
    }
    this.owner.closed(this);
  }

  /** The next moment something is due: an acknowledgement, the end of a drain, or idleness. */
  private nextDue(): number {
    const l = this.owner.limits;
    if (this.state === 'closed') return 0;
    if (this.state === 'draining') return this.drainStarted + l.drainTimeoutMs;
    if (this.pending.length > 0) return this.pending[0]!.at + l.ackTimeoutMs;
    return this.lastActive + l.idleCloseMs;
  }

  private arm(): void {
    const due = this.nextDue();
    if (due === 0) return;
    if (this.timer && this.timerAt <= due) return; // fires first and re-arms for later
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(() => this.onTimer(), Math.max(1, due - performance.now()));
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = null;
    if (this.state === 'closed') return;
    const l = this.owner.limits;
    const now = performance.now();
    if (this.state === 'draining' && now >= this.drainStarted + l.drainTimeoutMs) {
      return this.destroy(unreachable(`${this.where}: did not close within ${l.drainTimeoutMs} ms`));
    }
    const oldest = this.pending[0];
    if (oldest && now >= oldest.at + l.ackTimeoutMs) {
      return this.destroy(unreachable(`${this.where}: no acknowledgement within ${l.ackTimeoutMs} ms`));
    }
    if (this.state === 'open' && !oldest && now >= this.lastActive + l.idleCloseMs) this.drain();
    this.arm();
  }
}
