// The one interface a peer's shell needs from the world: a clock, timers, and an endpoint
// (UDP + TCP + a data directory). The Node runtime and the simulated runtime implement it.
import type { Contact } from '../core/contact.js';
import type { FileBegin, Message } from '../core/messages.js';

export interface EndpointHandlers {
  /** A decoded message, from UDP or from a TCP connection. */
  onMessage(msg: Message, via: 'udp' | 'tcp'): void;
  /** Bytes that did not decode, or a connection that broke a rule; one line for the debug log. */
  onBadInput(detail: string): void;
  /** A file transfer is starting: return the file name to save it as (in the data directory), or null to refuse. */
  onFileOffer(header: FileBegin): string | null;
  /** The transfer accepted by onFileOffer ended: ok only when the whole file was verified and renamed into place. */
  onFileDone(header: FileBegin, result: { ok: true } | { ok: false; error: string }): void;
}

export interface Endpoint {
  /** Fire and forget. */
  sendDatagram(to: Contact, msg: Message): void;
  /** Resolves once handed to the peer's TCP socket; rejects (CdhtError CDHT_ERR_UNREACHABLE) if it cannot connect. */
  sendMessage(to: Contact, msg: Message): Promise<void>;
  /** Size of `name` in the data directory, or null when there is no such regular file. */
  statFile(name: string): Promise<{ size: number } | null>;
  /** Streams `name` from the data directory to `to`: file-begin (header), file-data..., file-end (sha256). */
  sendFile(to: Contact, header: FileBegin, name: string): Promise<void>;
  /** Stop listening; pending transfers are abandoned (partial files removed). */
  close(): Promise<void>;
}

export interface Runtime {
  readonly kind: 'node' | 'sim';
  now(): number;
  setTimer(delayMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
  /** Bind UDP and TCP at self.host:self.port. Rejects if the address is in use. */
  openEndpoint(self: Contact, dataDir: string, handlers: EndpointHandlers): Promise<Endpoint>;
}
