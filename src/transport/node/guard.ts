// Small pieces every module of the Node transport shares: handlers that never throw back into a
// socket callback, one-line error descriptions, and the CDHT_ERR_UNREACHABLE constructor.
import { formatAddress, type Address } from '../../core/contact.js';
import { CdhtError } from '../../core/errors.js';
import type { BadInputReason, EndpointHandlers } from '../types.js';

/** An errno code when there is one (ECONNREFUSED), else the message on one line. */
export function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && !code.startsWith('CDHT_') && !code.startsWith('ERR_')) return code;
  return oneLine(err instanceof Error ? err.message : String(err));
}

export function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

export function unreachable(message: string): CdhtError {
  return new CdhtError('CDHT_ERR_UNREACHABLE', oneLine(message));
}

/** A definite answer, not silence: the peer there will not have us (and retrying will not help). */
export function notAdmitted(message: string): CdhtError {
  return new CdhtError('CDHT_ERR_NOT_ADMITTED', oneLine(message));
}

/** What a private ring tells a peer that came without TLS, in a plain refuse frame. */
export const PRIVATE_RING_REFUSAL = 'this ring is private: start the peer with --tls DIR holding a certificate of its authority';

/** Certificate checks a TLS client fails when the server's certificate is of another authority. */
export const FOREIGN_CERT_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** A bare name inside the data directory: no separators, no hidden or relative names. */
export function isPlainFileName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !/[/\\\0]/.test(name) && !name.startsWith('.');
}

/** host:port of a socket's remote end, as handlers see it in `source`. */
export function remoteOf(sock: { remoteAddress?: string | undefined; remotePort?: number | undefined }): Address {
  // A TLS socket whose handshake failed may be closed before it read its peer's address; the TCP
  // socket under it (Node's _parent) read it when it was accepted.
  const under = (sock as { _parent?: { remoteAddress?: string | undefined; remotePort?: number | undefined } })._parent;
  return { host: sock.remoteAddress ?? under?.remoteAddress ?? '?', port: sock.remotePort ?? under?.remotePort ?? 0 };
}

export function sourceOf(a: Address): string {
  return formatAddress(a);
}

/** Handlers that never throw back into a socket callback: a throwing handler is logged and ignored. */
export function guard(h: EndpointHandlers): Required<EndpointHandlers> {
  const bad = (detail: string, source?: string, reason: BadInputReason = 'internal'): void => {
    try {
      h.onBadInput(oneLine(detail), source, reason);
    } catch {
      // The log itself failed; there is nowhere left to report it.
    }
  };
  return {
    onBadInput: bad,
    onMessage(msg, origin) {
      try {
        h.onMessage(msg, origin);
      } catch (err) {
        bad(`onMessage handler threw: ${describe(err)}`, sourceOf(origin.src));
      }
    },
    onFileOffer(header, origin) {
      try {
        return h.onFileOffer(header, origin);
      } catch (err) {
        bad(`onFileOffer handler threw: ${describe(err)}`, sourceOf(origin.src));
        return null;
      }
    },
    onFileProgress(header, bytes) {
      try {
        h.onFileProgress?.(header, bytes);
      } catch (err) {
        bad(`onFileProgress handler threw: ${describe(err)}`);
      }
    },
    onFileDone(header, result) {
      try {
        h.onFileDone(header, result);
      } catch (err) {
        bad(`onFileDone handler threw: ${describe(err)}`);
      }
    },
  };
}

/** An error listener for a socket whose errors someone else reports (or that is already given up). */
export function ignoreError(): void {}
