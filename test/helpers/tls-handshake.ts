// One TLS connection over 127.0.0.1 between a server and a client with the given options,
// reporting what each side saw. Event-driven and bounded: it settles when both sides have.
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { authenticatedPeerId } from '../../src/security/tls.js';

export const EKM_LABEL = 'EXPORTER-cdht-test';
const EKM_BYTES = 32;

export interface Side {
  /** The server accepted the connection / the client heard from an accepting server. */
  ok: boolean;
  error?: Error;
  authorized?: boolean;
  peerCN?: unknown;
  peerId?: bigint | undefined;
  /** Keying material exported from the session, hex. */
  ekm?: string;
  protocol?: string | null;
}

export interface Handshake {
  server: Side;
  client: Side;
}

function seen(sock: tls.TLSSocket): Omit<Side, 'ok'> {
  return {
    authorized: sock.authorized,
    peerCN: sock.getPeerCertificate()?.subject?.CN,
    peerId: authenticatedPeerId(sock),
    ekm: sock.exportKeyingMaterial(EKM_BYTES, EKM_LABEL, Buffer.alloc(0)).toString('hex'),
    protocol: sock.getProtocol(),
  };
}

export async function handshake(serverOpts: tls.TlsOptions, clientOpts: tls.ConnectionOptions, timeoutMs = 10_000): Promise<Handshake> {
  const server = tls.createServer(serverOpts);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let client: tls.TLSSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const serverSide = new Promise<Side>((resolve) => {
      server.once('secureConnection', (sock: tls.TLSSocket) => {
        const side = { ok: true, ...seen(sock) };
        // Only an accepting server speaks: the client counts that as its success.
        sock.end('ok');
        resolve(side);
      });
      server.once('tlsClientError', (error: Error) => resolve({ ok: false, error }));
      server.once('connection', (raw) => raw.once('close', () => resolve({ ok: false, error: new Error('connection closed before the handshake ended') })));
    });
    const clientSide = new Promise<Side>((resolve) => {
      let side: Omit<Side, 'ok'> = {};
      const c = tls.connect({ ...clientOpts, host: '127.0.0.1', port });
      client = c;
      c.once('secureConnect', () => (side = seen(c)));
      c.once('data', () => resolve({ ok: true, ...side }));
      c.once('error', (error) => resolve({ ok: false, ...side, error }));
      c.once('close', () => resolve({ ok: false, ...side, error: new Error('closed before the server spoke') }));
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`TLS handshake did not settle within ${timeoutMs} ms`)), timeoutMs);
    });
    const [s, c] = await Promise.race([Promise.all([serverSide, clientSide]), timeout]);
    return { server: s, client: c };
  } finally {
    clearTimeout(timer);
    client?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
