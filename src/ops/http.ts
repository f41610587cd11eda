// The HTTP face a load balancer, an orchestrator and Prometheus see: /healthz (the process
// answers), /readyz (the peer is in the ring with successors that answer, its keys at k copies or
// under repair) and /metrics.
// Readiness is a pure function of the node's state, so its rules are tested without sockets.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Address } from '../core/contact.js';
import type { PeerSnapshot, ReplicationStatus } from '../peer.js';

export interface Readiness {
  ready: boolean;
  /** Why not, or what it is: read by people and scripts alike. */
  reason: string;
  phase?: string;
  successors?: number;
  /** Copies asked for (k), keys it owns, and those of them short of k copies as far as it knows. */
  k?: number;
  keysOwned?: number;
  keysShortOfK?: number;
  /** Short keys are being copied to the replica holders now (the repair readiness waits out). */
  repairing?: boolean;
}

export interface ReadinessInput {
  /** A stop was asked for (it is leaving, or about to). */
  stopping: boolean;
  /** It joined through seeds: alone, it has lost its ring; without seeds, alone is a ring of one. */
  seeded: boolean;
  peer?: { isInRing: boolean; snapshot(): PeerSnapshot; replicationStatus?(): ReplicationStatus; space?: { format(id: bigint): string } };
}

/**
 * Ready: in the ring, its successors answering, and every key it owns at k copies or under
 * repair. Not ready (503) while it starts, joins, leaves, is cut off after joining through
 * seeds, or while a successor it pings (the first two: they hold its copies) leaves pings
 * unanswered: that peer's copies may be gone, and no repair starts before it is declared dead.
 * "Repair under way": the missing copies are offered to, or streaming to, live replica holders
 * now (the core's offers and pushes). Keys short because fewer live successors than k - 1 exist
 * (a ring smaller than k, or one refilling its successor list after a death) leave it ready,
 * with the shortage in the answer: readiness is what lets peers find a ring (a StatefulSet
 * starts pods one by one, seeds go through a Service of ready pods), so a small ring whose peers
 * were not ready could never grow back to k.
 */
export function readiness(i: ReadinessInput): Readiness {
  if (i.stopping) return { ready: false, reason: 'stopping: leaving the ring' };
  if (!i.peer) return { ready: false, reason: 'starting' };
  const s = i.peer.snapshot();
  const at = { phase: s.phase, successors: s.successors.length };
  // between tries at its seeds the last try's peer has stopped: it is still joining all the same
  const joining = s.phase === 'joining' || (i.seeded && !i.peer.isInRing && s.phase !== 'leaving');
  if (!i.peer.isInRing || s.phase !== 'active') return { ready: false, reason: joining ? 'not in a ring yet: joining through its seeds' : `not in the ring (${s.phase})`, ...at };
  if (s.successors.length === 0 && i.seeded) return { ready: false, reason: 'no successor answers: this peer is alone, cut off from its ring', ...at };
  const r = i.peer.replicationStatus?.();
  const how = s.successors.length === 0 ? 'a ring of one' : 'in the ring, successors answering';
  if (!r) return { ready: true, reason: how, ...at };
  const keys = { ...at, k: r.k, keysOwned: r.owned, keysShortOfK: r.shortOfK };
  const silent = r.unanswered.find((u) => s.successors.includes(u.peer));
  if (silent) {
    const missed = `${silent.misses} ping${silent.misses === 1 ? '' : 's'} missed`;
    return { ready: false, reason: `successor Peer ${i.peer.space?.format(silent.peer) ?? String(silent.peer)} does not answer (${missed}): the copies it holds may be gone until it is declared dead and replaced`, ...keys, repairing: false };
  }
  const n = r.shortOfK;
  const short = n > 0 && r.k > 1;
  const nKeys = `${n} key${n === 1 ? '' : 's'}`;
  if (short && r.replicaHolders < r.k - 1) {
    const have = r.replicaHolders === 0 ? 'no live successor' : `only ${r.replicaHolders} live successor${r.replicaHolders === 1 ? '' : 's'}`;
    return { ready: true, reason: `${how}; ${nKeys} it owns short of k=${r.k} copies: ${have} to hold the other ${r.k - 1} (the ring is smaller than k, or refilling its successors); copied once peers join`, ...keys, repairing: false };
  }
  if (short) return { ready: true, reason: `${how}; repair under way: ${nKeys} being copied to reach k=${r.k}`, ...keys, repairing: true };
  return { ready: true, reason: r.owned === 0 || r.k === 1 ? how : `${how}, every key it owns at k=${r.k} copies`, ...keys, repairing: false };
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
