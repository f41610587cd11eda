// The HTTP face a load balancer, an orchestrator and Prometheus see: /healthz (the process
// answers), /readyz (the peer is in the ring with successors that answer) and /metrics.
// Readiness is a pure function of the node's state, so its rules are tested without sockets.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Address } from '../core/contact.js';
import type { PeerSnapshot } from '../peer.js';

export interface Readiness {
  ready: boolean;
  /** Why not, or what it is: read by people and scripts alike. */
  reason: string;
  phase?: string;
  successors?: number;
}

export interface ReadinessInput {
  /** A stop was asked for (it is leaving, or about to). */
  stopping: boolean;
  /** It joined through seeds: alone, it has lost its ring; without seeds, alone is a ring of one. */
  seeded: boolean;
  peer?: { isInRing: boolean; snapshot(): PeerSnapshot };
}

export function readiness(i: ReadinessInput): Readiness {
  if (i.stopping) return { ready: false, reason: 'stopping: leaving the ring' };
  if (!i.peer) return { ready: false, reason: 'starting' };
  const s = i.peer.snapshot();
  const at = { phase: s.phase, successors: s.successors.length };
  // between tries at its seeds the last try's peer has stopped: it is still joining all the same
  const joining = s.phase === 'joining' || (i.seeded && !i.peer.isInRing && s.phase !== 'leaving');
  if (!i.peer.isInRing || s.phase !== 'active') return { ready: false, reason: joining ? 'not in a ring yet: joining through its seeds' : `not in the ring (${s.phase})`, ...at };
  if (s.successors.length === 0 && i.seeded) return { ready: false, reason: 'no successor answers: this peer is alone, cut off from its ring', ...at };
  return { ready: true, reason: s.successors.length === 0 ? 'a ring of one' : 'in the ring, successors answering', ...at };
}

export interface OpsHandlers {
  readiness(): Readiness;
  metrics(): Promise<string>;
  metricsType: string;
}

export interface OpsServer {
  /** Where it listens (the port chosen when 0 was asked for). */
  address: Address;
  close(): Promise<void>;
}

/** Requests whose headers take longer are dropped: a scrape is tiny, a slow client is not served. */
const HEADERS_TIMEOUT_MS = 5_000;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function route(req: IncomingMessage, res: ServerResponse, h: OpsHandlers): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
  const json = (status: number, body: object) => send(res, status, 'application/json', `${JSON.stringify(body)}\n`);
  switch (path) {
    case '/healthz':
      return json(200, { status: 'ok' });
    case '/readyz': {
      const r = h.readiness();
      return json(r.ready ? 200 : 503, r);
    }
    case '/metrics':
      return send(res, 200, h.metricsType, await h.metrics());
    default:
      return send(res, 404, 'text/plain', 'not found: try /healthz, /readyz or /metrics\n');
  }
}

/** Listens on `at`; rejects with the listen error (an address in use, say). */
export function serveOps(at: Address, h: OpsHandlers): Promise<OpsServer> {
  const server = createServer((req, res) => {
    route(req, res, h).catch((err: unknown) => send(res, 500, 'text/plain', `${err instanceof Error ? err.message : String(err)}\n`));
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      resolve({
        address: { host: a.address, port: a.port },
        close: () => new Promise<void>((res) => {
          server.closeAllConnections();
          server.close(() => res());
        }),
      });
    });
  });
}
