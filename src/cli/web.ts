// `cdht web --peer HOST:PORT`: the web page for a ring that runs elsewhere. A RemoteRing walks the
// ring from that member over the protocol (as `cdht status` does) and the page's server shows it,
// walked again every --refresh seconds. Read-only unless given a certificate (--tls DIR): then the
// page may ask a peer to leave (decommission), with that peer's own certificate found in DIR or
// issued in memory by the authority's key there; the peer judges the request either way.
// Loaded only when `cdht web` runs.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MAX_PORT } from '../core/config.js';
import { formatAddress, type Address, type Contact } from '../core/contact.js';
import { DEFAULT_REFRESH_MS, RemoteRing } from '../control/remote-ring.js';
import { UnreachableError, type DecommissionReply, type StatusClient } from '../control/status-walk.js';
import { issuePeer } from '../security/ca.js';
import { CA_KEY_FILE, readAuthority } from '../security/ca-files.js';
import type { TlsIdentity } from '../security/identity.js';
import { createNodeRuntime } from '../transport/node/endpoint.js';
import { parseHost, parseIntegerIn } from './args.js';
import { DEFAULT_WEB_PORT } from './ring-options.js';
import { openStatusClient, statusPlan, tlsOf, type RawStatusOptions } from './status.js';
import { DEFAULT_WEB_HOST, startWebServer, type WebServer } from '../web/server.js';

export interface WebPlan {
  peer: Address;
  max: number;
  timeoutMs: number;
  refreshMs: number;
  webHost: string;
  webPort?: number;
  /** A private ring: the watcher's certificate, and the directory other certificates come from. */
  tls?: TlsIdentity;
  tlsDir?: string;
}

export interface RawWebOptions extends RawStatusOptions {
  refresh?: string;
  webPort?: string;
  webHost?: string;
}

const MAX_REFRESH_S = 3600;
/** A certificate issued in memory for one decommission lives this long. */
const ISSUED_DAYS = 1;

export function webPlan(o: RawWebOptions): WebPlan {
  const s = statusPlan('status', o);
  return {
    peer: s.peer,
    max: s.max,
    timeoutMs: s.timeoutMs,
    refreshMs: o.refresh === undefined ? DEFAULT_REFRESH_MS : 1000 * parseIntegerIn('--refresh', o.refresh, 1, MAX_REFRESH_S),
    webHost: o.webHost === undefined ? DEFAULT_WEB_HOST : parseHost(o.webHost, '--web-host'),
    // 0: any free port (scripts and tests read the URL it prints)
    ...(o.webPort !== undefined ? { webPort: parseIntegerIn('--web-port', o.webPort, 0, MAX_PORT) } : {}),
    ...(s.tls ? { tls: s.tls, tlsDir: resolve(o.tls!) } : {}),
  };
}

/**
 * The certificate that may ask Peer `id` to leave: its own from DIR, else one the authority's key
 * in DIR issues now; else the watcher's, which the peer will refuse (and say why).
 */
async function identityFor(id: bigint, plan: WebPlan): Promise<TlsIdentity | undefined> {
  const dir = plan.tlsDir!;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return plan.tls;
  }
  if (names.includes(`peer-${id}.key`)) return tlsOf(dir, String(id));
  if (names.includes(CA_KEY_FILE)) {
    const ca = await readAuthority(dir);
    const c = await issuePeer(ca, id, { days: ISSUED_DAYS });
    return { id, keyPem: c.keyPem, certPem: c.certPem, caPem: ca.certPem };
  }
  return plan.tls;
}

/**
 * One decommission from an endpoint of its own, holding the certificate chosen for that peer; with
 * the watcher's own, from the watcher's endpoint (a private ring's peers keep one connection per
 * certificate id: a second endpoint with the same id would take the first one's place).
 */
async function decommissionWith(plan: WebPlan, walker: StatusClient, to: Contact): Promise<DecommissionReply> {
  const identity = await identityFor(to.id, plan);
  if (identity === undefined || identity.id === plan.tls?.id) return walker.decommission(to, plan.timeoutMs);
  const dataDir = mkdtempSync(join(tmpdir(), 'cdht-web-leave-'));
  let client: StatusClient | undefined;
  try {
    client = await openStatusClient(to, identity, dataDir);
    return await client.decommission(to, plan.timeoutMs);
  } finally {
    await client?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runWeb(plan: WebPlan): Promise<number> {
  const where = formatAddress(plan.peer);
  const dataDir = mkdtempSync(join(tmpdir(), 'cdht-web-'));
  let client: StatusClient | undefined;
  let ring: RemoteRing | undefined;
  let web: WebServer | undefined;
  const cleanUp = async () => {
    await web?.close();
    await ring?.close();
    await client?.close();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const walker = (client = await openStatusClient(plan.peer, plan.tls, dataDir));
    ring = new RemoteRing({
      runtime: createNodeRuntime(),
      client,
      peer: plan.peer,
      refreshMs: plan.refreshMs,
      timeoutMs: plan.timeoutMs,
      max: plan.max,
      ...(plan.tls ? { decommission: (to: Contact) => decommissionWith(plan, walker, to) } : {}),
    });
    const first = await ring.begin();
    web = await startWebServer({ controller: ring, host: plan.webHost, port: plan.webPort ?? DEFAULT_WEB_PORT, fallbackToFreePort: plan.webPort === undefined });
    const n = first.peers.length;
    const mode = plan.tls ? `; a peer may be asked to leave (certificates from ${plan.tlsDir})` : ', read-only';
    process.stdout.write(`Watching the ring at ${where}: ${n} peer${n === 1 ? '' : 's'} (${first.space.bits}-bit ids)${first.complete ? '' : ', walk incomplete'}${mode}\n`);
    process.stdout.write(`Web page: ${web.url}${plan.webPort === undefined && web.port !== DEFAULT_WEB_PORT ? ` (port ${DEFAULT_WEB_PORT} is taken)` : ''}\n`);
  } catch (err) {
    // the watcher names each address it tried; the first is the one given
    const why = (err instanceof Error ? err.message : String(err)).replace(`${where}: `, '');
    if (/private/i.test(why) && !plan.tls) process.stderr.write(`cdht: the ring at ${where} is private: give --tls DIR holding its authority's ca.crt and a certificate it issued\n`);
    else if (err instanceof UnreachableError) process.stderr.write(`cdht: no peer answered at ${where}: ${why}\n`);
    else process.stderr.write(`cdht: error: cannot watch the ring at ${where}: ${why}\n`);
    await cleanUp();
    return 1;
  }
  return new Promise<number>((done) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return void process.exit(1); // a second signal forces
      stopping = true;
      void cleanUp().then(() => done(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
