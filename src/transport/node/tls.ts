// Making connections: plain TCP on an open ring, mutual TLS 1.3 on a private one (only the
// ring authority's certificates, the peer id in the subject CN, no host names). Dialing
// checks that the certificate at the address names the peer we meant; accepting hands raw
// sockets to a tls.Server that never listens itself, so caps apply before any TLS work.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { formatAddress, type Target } from '../../core/contact.js';
import type { Id } from '../../core/id-space.js';
import { authenticatedPeerId, tlsClientOptions, tlsContextOptions } from '../../security/tls.js';
import type { TlsIdentity } from '../types.js';
import { describe, FOREIGN_CERT_CODES, ignoreError, notAdmitted, remoteOf, sourceOf, unreachable } from './guard.js';

/** Label of the TLS exporter (RFC 8446 section 7.5) that both ends use to derive datagram keys. */
export const DATAGRAM_EXPORTER_LABEL = 'EXPORTER-cdht-datagram-keys';
export const EXPORTED_SECRET_BYTES = 32;

export interface Dialed {
  readonly sock: net.Socket;
  /** The id in the server's certificate (private rings). */
  readonly peerId?: Id | undefined;
}

/**
 * Connects to `to` within `timeoutMs`: TCP, then on a private ring the TLS handshake, which
 * fails unless the server's certificate comes from the ring's authority and names `to.id`
 * (any member when `to.id` is unknown). Rejects with CDHT_ERR_UNREACHABLE.
 */
export function dialSocket(to: Target, identity: TlsIdentity | undefined, timeoutMs: number, track: Set<net.Socket>, onHandshakeFailed?: (detail: string) => void): Promise<Dialed> {
  const where = formatAddress(to);
  return new Promise((resolve, reject) => {
    const sock = identity
      ? tls.connect({ host: to.host, port: to.port, ...tlsClientOptions(identity, to.id) })
      : net.connect({ host: to.host, port: to.port });
    track.add(sock);
    // on a private ring, TCP connected and TLS not done yet: a failure now is the handshake's
    let handshaking = false;
    if (identity) sock.once('connect', () => (handshaking = true));
    const fail = (why: string): void => {
      done();
      sock.destroy();
      if (handshaking) onHandshakeFailed?.(`tls to ${where}: handshake failed: ${why}`);
      reject(unreachable(`cannot connect to ${where}: ${why}`));
    };
    const onError = (err: Error): void => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (!identity || !FOREIGN_CERT_CODES.has(code)) return fail(describe(err));
      // it answered, with a certificate our authority did not sign: no retry will get us in
      if (handshaking) onHandshakeFailed?.(`tls to ${where}: handshake failed: a certificate of another authority (${code})`);
      done();
      sock.destroy();
      reject(notAdmitted(`the peer at ${where} has a certificate of another authority (${code}): this peer's --tls DIR is not from that ring's authority`));
    };
    const onClose = (): void => {
      track.delete(sock); // closed already: the close listener done() adds would never run
      fail('connection closed');
    };
    const onTimeout = (): void => fail(`no ${identity ? 'TLS session' : 'answer'} within ${timeoutMs} ms`);
    const onConnect = (): void => {
      const peerId = identity ? authenticatedPeerId(sock as tls.TLSSocket) : undefined;
      if (identity && peerId === undefined) return fail('the server is not a member of this ring');
      handshaking = false;
      done();
      resolve({ sock, peerId });
    };
    const connected = identity ? 'secureConnect' : 'connect';
    const timer = setTimeout(onTimeout, timeoutMs);
    // Settled either way: none of these listeners stays on a socket that lives on as a link (each
    // would keep this whole closure, promise functions and timer included, for the link's life).
    const done = (): void => {
      clearTimeout(timer);
      sock.removeListener('error', onError);
      sock.removeListener('close', onClose);
      sock.removeListener(connected, onConnect);
      // A socket always has an error listener: a late error must never reach the event loop.
      sock.on('error', ignoreError);
      untrackOnClose(sock, track);
    };
    sock.on('error', onError);
    sock.on('close', onClose);
    sock.on(connected, onConnect);
  });
}

/** Its own function, so the listener keeps only these two alive. */
function untrackOnClose(sock: net.Socket, track: Set<net.Socket>): void {
  sock.on('close', () => track.delete(sock));
}

export interface TlsAcceptorEvents {
  /** A member of the ring finished the handshake; `peerId` is the id its certificate names. */
  secure(sock: tls.TLSSocket, peerId: Id): void;
  /** A handshake failed or the certificate was not acceptable: a debug line, with its source. */
  refused(detail: string, source: string, reason: 'tls-handshake' | 'tls-certificate'): void;
  /** What came was not TLS at all (a peer without --tls): it may be told so in plain words. */
  notTls?(sock: tls.TLSSocket): void;
}

/**
 * A tls.Server for accepted sockets (fed through emit('connection')): mutual TLS 1.3 with the
 * ring's authority only. rejectUnauthorized is checked here rather than by Node, so that an
 * outsider's refusal is reported with its reason instead of a silent close.
 */
export function createTlsAcceptor(identity: TlsIdentity, handshakeTimeoutMs: number, events: TlsAcceptorEvents): tls.Server {
  const server = tls.createServer({ ...tlsContextOptions(identity), rejectUnauthorized: false, handshakeTimeout: handshakeTimeoutMs });
  server.on('secureConnection', (sock: tls.TLSSocket) => {
    sock.on('error', () => {});
    const source = sourceOf(remoteOf(sock));
    const peerId = sock.authorized ? authenticatedPeerId(sock) : undefined;
    if (peerId === undefined) {
      const why = sock.authorized ? 'its certificate names no cdht peer' : `no certificate of this ring (${sock.authorizationError ?? 'none presented'})`;
      events.refused(`tls from ${source}: refused, ${why}`, source, 'tls-certificate');
      sock.destroy();
      return;
    }
    events.secure(sock, peerId);
  });
  server.on('tlsClientError', (err, sock) => {
    const source = sourceOf(remoteOf(sock));
    if ((err as NodeJS.ErrnoException).code === 'ERR_SSL_WRONG_VERSION_NUMBER') events.notTls?.(sock);
    events.refused(`tls from ${source}: handshake failed: ${describe(err)}`, source, 'tls-handshake');
    sock.destroy();
  });
  return server;
}

/** Keying material both ends of a TLS 1.3 connection export identically. */
export function exportSecret(sock: tls.TLSSocket): Buffer {
  return sock.exportKeyingMaterial(EXPORTED_SECRET_BYTES, DATAGRAM_EXPORTER_LABEL, Buffer.alloc(0));
}
