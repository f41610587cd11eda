// `cdht status --peer HOST:PORT` (nodetool status for a ring) and `cdht decommission --peer
// HOST:PORT` (a graceful leave, as the console's Quit): one-shot clients that join no ring. They
// talk from an endpoint of their own on an ephemeral port (status-walk.ts). Loaded only when one
// of the two commands runs.
import { formatBytes } from '../control/files.js';
import * as dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatAddress, type Address, type Contact } from '../core/contact.js';
import type { Id, IdSpace } from '../core/id-space.js';
import { CLIENT_ID, MAX_WALK_PEERS, StatusClient, UnreachableError, walkRing, type PeerStatus } from '../control/status-walk.js';
import { CA_KEY_FILE, loadTlsIdentity, peerKeyFile } from '../security/ca-files.js';
import { parseDecimalPeerId, TlsSetupError, type TlsIdentity } from '../security/identity.js';
import { createNodeRuntime } from '../transport/node/endpoint.js';
import { ArgumentProblem, parseIntegerIn } from './args.js';
import { parseAddress } from './contacts.js';

export interface StatusPlan {
  kind: 'status' | 'decommission';
  peer: Address;
  json: boolean;
  max: number;
  timeoutMs: number;
  /** A private ring: the client's certificate (its id is the client's id). */
  tls?: TlsIdentity;
  /**
   * decommission with --tls DIR --id ID where DIR holds the ring authority's key and no
   * certificate of ID: one is issued in memory for this request (the authority may speak for any peer).
   */
  authority?: { dir: string; id: bigint };
}

export interface RawStatusOptions {
  peer?: string;
  json?: boolean;
  max?: string;
  timeout?: string;
  tls?: string;
  id?: string;
}

const quoted = (v: string): string => JSON.stringify(v).replace(/^"|"$/g, "'");
/** Tries at an ephemeral port before giving up (another process may take the one found free). */
const BIND_TRIES = 5;
const MAX_TIMEOUT_S = 600;

/** The certificate in DIR to use: --id's, or the only peer-ID.key there (the one-shots use it too). */
export function tlsOf(dir: string, idText: string | undefined): TlsIdentity {
  let id: bigint | undefined;
  if (idText !== undefined) {
    id = parseDecimalPeerId(idText);
    if (id === undefined) throw new ArgumentProblem(`--id must be a peer id, a decimal integer (got ${quoted(idText)})`);
  } else {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      throw new ArgumentProblem(`--tls: cannot read directory ${dir}`);
    }
    const ids = names.map((n) => /^peer-(\d+)\.key$/.exec(n)?.[1]).filter((x): x is string => x !== undefined);
    if (ids.length !== 1) {
      throw new ArgumentProblem(`--tls: ${dir} holds ${ids.length === 0 ? 'no' : ids.length} peer certificates; choose the one to use with --id ID`);
    }
    id = BigInt(ids[0]!);
  }
  try {
    const { warnings: _w, ...tls } = loadTlsIdentity(dir, id);
    return tls;
  } catch (err) {
    if (err instanceof TlsSetupError) throw new ArgumentProblem(`--tls: ${err.message}`);
    throw err;
  }
}

export function statusPlan(kind: StatusPlan['kind'], o: RawStatusOptions): StatusPlan {
  if (o.peer === undefined) throw new ArgumentProblem('--peer HOST:PORT is required (any peer of the ring)');
  const peer = parseAddress(o.peer);
  if (!peer) throw new ArgumentProblem(`--peer must be host:port, such as 127.0.0.1:12002 or [::1]:12002 (got ${quoted(o.peer)})`);
  const max = o.max === undefined ? MAX_WALK_PEERS : parseIntegerIn('--max', o.max, 1, MAX_WALK_PEERS);
  const timeoutMs = 1000 * (o.timeout === undefined ? 5 : parseIntegerIn('--timeout', o.timeout, 1, MAX_TIMEOUT_S));
  if (o.id !== undefined && !o.tls) throw new ArgumentProblem('--id chooses a certificate of --tls DIR: give --tls too');
  const base = { kind, peer, json: o.json === true, max, timeoutMs };
  if (kind === 'decommission' && o.tls && o.id !== undefined) {
    const dir = resolve(o.tls);
    const id = parseDecimalPeerId(o.id);
    if (id !== undefined && !existsSync(join(dir, peerKeyFile(id))) && existsSync(join(dir, CA_KEY_FILE))) return { ...base, authority: { dir, id } };
  }
  const tls = o.tls ? tlsOf(resolve(o.tls), o.id) : undefined;
  return { ...base, ...(tls ? { tls } : {}) };
}

/** The local address this host reaches `peer` from (a UDP "connect" sends nothing; it only picks the route). */
async function localAddressFor(peer: Address): Promise<string> {
  const sock = dgram.createSocket(net.isIPv6(peer.host) ? 'udp6' : 'udp4');
  try {
    return await new Promise<string>((res, rej) => {
      sock.once('error', rej);
      sock.connect(peer.port, peer.host, () => {
        try {
          res(sock.address().address);
        } catch (err) {
          rej(err as Error);
        }
      });
    });
  } finally {
    sock.close();
  }
}

/** A TCP port free at `host` now (the endpoint then binds it for TCP and UDP both). */
function freePort(host: string): Promise<number> {
  return new Promise((res, rej) => {
    const srv = net.createServer();
    srv.once('error', rej);
    srv.listen({ host, port: 0 }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => res(port));
    });
  });
}

/** A client endpoint that reaches `peer` (the web page's watcher opens one too), as `tls`'s id or CLIENT_ID. */
export async function openStatusClient(peer: Address, tls: TlsIdentity | undefined, dataDir: string): Promise<StatusClient> {
  const host = await localAddressFor(peer);
  const runtime = createNodeRuntime();
  let last: unknown;
  for (let i = 0; i < BIND_TRIES; i++) {
    const self: Contact = { id: tls?.id ?? CLIENT_ID, host, port: await freePort(host) };
    try {
      return await StatusClient.open(runtime, self, dataDir, tls);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/** Runs `body` with a client endpoint; unreachable peers and set-up failures become one line and exit 1. */
async function withClient(plan: StatusPlan, body: (c: StatusClient) => Promise<number>): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdht-status-'));
  let client: StatusClient | undefined;
  try {
    client = await openStatusClient(plan.peer, plan.tls, dataDir);
    return await body(client);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const where = formatAddress(plan.peer);
    if (/private/i.test(why) && !plan.tls) {
      process.stderr.write(`cdht: the ring at ${where} is private: give --tls DIR holding its authority's ca.crt and a certificate it issued\n`);
    } else if (err instanceof UnreachableError) {
      process.stderr.write(`cdht: no peer answered at ${where}: ${why}\n`);
    } else {
      process.stderr.write(`cdht: ${plan.kind} of ${where} failed: ${why}\n`);
    }
    return 1;
  } finally {
    await client?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const pct = (share: number): string => `${(share * 100).toFixed(share < 0.001 ? 4 : 2)}%`;

function jsonOf(p: PeerStatus, space: IdSpace): Record<string, unknown> {
  const id = (x: Id) => space.formatFull(x);
  return {
    id: id(p.id),
    address: formatAddress(p.address),
    state: p.phase,
    keys: p.keys,
    bytes: p.bytes,
    share: p.share,
    shortOfK: p.shortOfK ?? null,
    handovers: p.handovers,
    pred: p.pred === undefined ? null : id(p.pred),
    successors: p.successors.map(id),
  };
}

function table(peers: PeerStatus[], space: IdSpace): string {
  const head = ['ID', 'ADDRESS', 'STATE', 'KEYS', 'BYTES', 'SHARE', 'SHORT_OF_K', 'HANDOVERS'];
  const rows = peers.map((p) => [space.format(p.id), formatAddress(p.address), p.phase, String(p.keys), formatBytes(p.bytes), pct(p.share), p.shortOfK === undefined ? '?' : String(p.shortOfK), String(p.handovers)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function runStatus(plan: StatusPlan): Promise<number> {
  return withClient(plan, async (client) => {
    const walk = await walkRing(client, plan.peer, { max: plan.max, timeoutMs: plan.timeoutMs });
    const { space, peers } = walk;
    if (plan.json) {
      process.stdout.write(`${JSON.stringify(peers.map((p) => jsonOf(p, space)), null, 2)}\n`);
      for (const n of walk.notes) process.stderr.write(`cdht: ${n}\n`);
    } else {
      const total = peers.reduce((s, p) => s + p.share, 0);
      process.stdout.write(`Ring of ${peers.length} peer${peers.length === 1 ? '' : 's'} (${space.bits}-bit ids) walked from ${formatAddress(plan.peer)}${walk.complete ? '' : ' (incomplete)'}\n`);
      process.stdout.write(`${table(peers, space)}\n`);
      process.stdout.write(`Shares add up to ${pct(total)}. SHORT_OF_K: keys a peer owns whose k copies it knows are not all in place yet (a lower bound).\n`);
      for (const n of walk.notes) process.stdout.write(`Note: ${n}\n`);
    }
    return walk.complete ? 0 : 1;
  });
}

export async function runDecommission(plan: StatusPlan): Promise<number> {
  if (plan.authority) {
    const { dir, id } = plan.authority;
    const { readAuthority, issuePeer } = await import('../security/ca.js'); // the certificate tools, only when used
    const ca = await readAuthority(dir);
    const c = await issuePeer(ca, id, { days: 1 });
    const { authority: _a, ...rest } = plan;
    return runDecommission({ ...rest, tls: { id, keyPem: c.keyPem, certPem: c.certPem, caPem: ca.certPem } });
  }
  return withClient(plan, async (client) => {
    const r = await client.decommission(plan.peer, plan.timeoutMs);
    const who = `Peer ${r.from.id} at ${formatAddress(plan.peer)}`;
    if (plan.json) process.stdout.write(`${JSON.stringify({ id: r.from.id.toString(), address: formatAddress(plan.peer), accepted: r.accepted, reason: r.reason })}\n`);
    else if (r.accepted) process.stdout.write(`${who} is leaving the ring (${r.reason})\n`);
    else process.stdout.write(`${who} refused to leave: ${r.reason}\n`);
    return r.accepted ? 0 : 1;
  });
}
