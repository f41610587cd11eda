// `cdht node`: one long-running peer for servers. It keeps its identity in its data directory,
// starts a ring of one or joins through its seeds (each tried in turn, names resolved on every
// try, with back-off between rounds until one answers), and runs until it is stopped.
import { lookup } from 'node:dns/promises';
import { formatAddress, type Target } from '../core/contact.js';
import { Peer, type PeerExit, type PeerOptions } from '../peer.js';
import type { MergedConfig } from '../config/merge.js';
import { readCommands } from './node-console.js';
import { keepTls, keptTlsPath, writeIdentity } from './node-identity.js';
import { nodeLog, type NodeLog } from './node-log.js';
import type { NodePlan } from './node-plan.js';
import { readiness, serveOps, type OpsServer } from '../ops/http.js';
import { PeerMetrics } from '../ops/metrics.js';
import type { Gateway } from '../api/gateway.js';

/** The first pause after a round of seeds that all failed; each round doubles it, up to the cap. */
export const SEED_BACKOFF_FIRST_MS = 1_000;
export const SEED_BACKOFF_MAX_MS = 30_000;
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof SIGNAL_EXIT_CODES;

/** --print-config: the merged settings, as a JSON config file would hold them. */
export function printConfig(config: MergedConfig): number {
  process.stdout.write(`${JSON.stringify(config.values, null, 2)}\n`);
  return 0;
}

/** The pause after failed round `round` (0 first). */
export function seedBackoffMs(round: number): number {
  return Math.min(SEED_BACKOFF_FIRST_MS * 2 ** Math.min(round, 30), SEED_BACKOFF_MAX_MS);
}

/** What the node is doing now, for the signal handlers, /readyz and /metrics. */
export class NodeState {
  /** The peer of the current try (a new one per seed tried), then the one in the ring. */
  peer: Peer | undefined;
  /** A stop was asked for: no more tries, and no longer ready. */
  stopping = false;
  readonly stop = new AbortController();
  constructor(readonly seeded: boolean) {}
}

function startLine(plan: NodePlan): string {
  const p = plan.run.peer;
  const at = formatAddress({ host: p.host!, port: p.port! });
  const bound = p.listen && formatAddress(p.listen) !== at ? ` (listening on ${formatAddress(p.listen)})` : '';
  const how = plan.seeds.length === 0 ? 'no seeds: a ring of one until others join' : `seeds ${plan.seeds.map(formatSeed).join(', ')}`;
  return `Peer ${plan.identity.id} (${plan.identity.bits}-bit ids) on ${at}${bound}; ${how}; data folder ${plan.dataDir}; ping every ${p.pingIntervalMs / 1000} s`;
}

function formatSeed(t: Target): string {
  return `${t.id !== undefined ? `${t.id}@` : ''}${formatAddress(t)}`;
}

/** Resolves with `value` when the signal aborts (at once if it has). */
function onAbort<T>(signal: AbortSignal, value: T): Promise<T> {
  return new Promise((res) => (signal.aborted ? res(value) : signal.addEventListener('abort', () => res(value), { once: true })));
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([new Promise<void>((res) => (timer = setTimeout(res, ms))), onAbort(signal, undefined)]).finally(() => clearTimeout(timer));
}

/** A name may stand for many peers (a headless service, round-robin DNS): this many are tried. */
const MAX_ADDRESSES_PER_SEED = 16;

/**
 * The seed's addresses, looked up now (they may change between tries), each a peer to try;
 * none when the name does not resolve.
 */
async function resolveSeed(seed: Target, log: NodeLog): Promise<Target[]> {
  try {
    const found = await lookup(seed.host, { all: true });
    return found.slice(0, MAX_ADDRESSES_PER_SEED).map((a) => ({ ...seed, host: a.address }));
  } catch (err) {
    log.say('seed-unresolved', `Seed ${formatSeed(seed)}: cannot resolve ${seed.host} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { seed: formatSeed(seed) });
    return [];
  }
}

/** Starts one peer with this mode; the log and the metrics follow it. */
function launch(plan: NodePlan, state: NodeState, follow: Follow, mode: PeerOptions['mode']): Peer {
  const peer = new Peer({ ...plan.run.peer, mode });
  state.peer = peer;
  follow(peer);
  return peer;
}

/** What watches each new peer (the log, the metrics). */
type Follow = (peer: Peer) => void;

/**
 * One try at one address of a seed: 'joined' (the peer is in the ring), 'failed' (its sockets
 * are closed again, ready for the next try), or 'fatal' (it could not even open its sockets, the
 * address being taken, say: no seed can help).
 */
async function tryJoin(plan: NodePlan, state: NodeState, follow: Follow, seed: Target, at: Target, log: NodeLog): Promise<'joined' | 'failed' | 'fatal'> {
  const named = at.host === seed.host ? '' : ` (${formatAddress(at)})`;
  log.say('seed-try', `Joining through seed ${formatSeed(seed)}${named}`, { seed: formatSeed(seed), address: formatAddress(at) });
  const peer = launch(plan, state, follow, { kind: 'join', known: at });
  const joined = await Promise.race([peer.ready.then(() => true, () => false), onAbort(state.stop.signal, false)]);
  if (joined) return 'joined';
  if (!peer.transportStats()) return 'fatal';
  await peer.kill();
  return 'failed';
}

/**
 * A peer in the ring: alone with no seeds, else joined through the first seed that answers; or
 * a peer that could not start at all (its exit says why). Undefined when stopped before any
 * seed answered.
 */
async function enterRing(plan: NodePlan, state: NodeState, log: NodeLog, follow: Follow): Promise<Peer | undefined> {
  if (plan.seeds.length === 0) return launch(plan, state, follow, { kind: 'init', successors: [] });
  const signal = state.stop.signal;
  for (let round = 0; !signal.aborted; round++) {
    for (const seed of plan.seeds) {
      for (const at of signal.aborted ? [] : await resolveSeed(seed, log)) {
        const tried = signal.aborted ? 'failed' : await tryJoin(plan, state, follow, seed, at, log);
        if (tried !== 'failed') return state.peer;
      }
    }
    if (signal.aborted) break;
    const wait = seedBackoffMs(round);
    log.say('seed-retry', `No seed answered; trying again in ${wait / 1000} s`, { waitMs: wait });
    await pause(wait, signal);
  }
  return undefined;
}

/** Runs the node until it stops; resolves with the process exit code. */
export async function runNode(plan: NodePlan): Promise<number> {
  writeIdentity(plan.dataDir, plan.identity);
  const log = nodeLog(plan.logFormat, plan.run.show);
  if (plan.tlsKept === 'save' && plan.run.peer.tls) {
    try {
      keepTls(plan.dataDir, plan.run.peer.tls);
    } catch (err) {
      log.say('tls-not-kept', `Cannot keep the TLS files in ${keptTlsPath(plan.dataDir)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; a restart will need --tls again`);
    }
  }
  const state = new NodeState(plan.seeds.length > 0);
  log.say('start', startLine(plan), { id: plan.identity.id, advertise: plan.identity.advertise });
  plan.run.notices.forEach((n) => log.say('notice', n));
  const metrics = new PeerMetrics();
  let ops: OpsServer | undefined;
  try {
    ops = plan.http ? await serveOps(plan.http, { readiness: () => readiness(state), metrics: () => metrics.text(), metricsType: metrics.contentType }) : undefined;
  } catch (err) {
    log.say('http-failed', `Cannot serve HTTP on ${formatAddress(plan.http!)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    return 1;
  }
  if (ops) log.say('http', `HTTP on http://${formatAddress(ops.address)} (/healthz, /readyz, /metrics)`, { url: `http://${formatAddress(ops.address)}` });
  let gateway: Gateway | undefined;
  try {
    gateway = plan.api ? await startNodeGateway(plan, state) : undefined;
  } catch (err) {
    log.say('api-failed', `Cannot serve the data API on ${formatAddress(plan.api!)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    await ops?.close();
    return 1;
  }
  if (gateway) {
    const url = `${plan.run.peer.tls ? 'https' : 'http'}://${formatAddress(gateway.address)}`;
    log.say('api', `Data API on ${url} (cdht put/get/delete --via ${formatAddress(gateway.address)})`, { url });
  }
  const stopping = listenForStop(state, log, plan.leaveTimeoutMs);
  const stopReading = readCommands(state, log);
  try {
    const peer = await enterRing(plan, state, log, (p) => {
      log.follow(p);
      metrics.follow(p);
    });
    const exit: PeerExit = peer ? await peer.closed : { code: 0, reason: 'stopped before joining' };
    return stopping.overdue() ? 1 : exit.code;
  } finally {
    stopping.off();
    stopReading();
    await gateway?.close();
    await ops?.close();
  }
}

/** The gateway for clients without a peer: the node's own certificate on a private ring (clients then need one of its authority too). */
async function startNodeGateway(plan: NodePlan, state: NodeState): Promise<Gateway> {
  const { startGateway } = await import('../api/gateway.js');
  const { currentPeerApi } = await import('./node-api.js');
  const p = plan.run.peer;
  return startGateway(currentPeerApi(() => state.peer), {
    host: plan.api!.host,
    port: plan.api!.port,
    ...(p.tls ? { tls: p.tls } : {}),
    ...(p.maxFileBytes !== undefined ? { maxFileBytes: p.maxFileBytes } : {}),
  });
}

/**
 * SIGTERM and SIGINT mean leave: a peer in the ring hands its keys over and tells its
 * predecessors (the Quit of init and join), within `leaveTimeoutMs`; past it, or on a second
 * signal, it stops at once. A peer still trying its seeds just stops.
 */
function listenForStop(state: NodeState, log: NodeLog, leaveTimeoutMs: number): { off(): void; overdue(): boolean } {
  let timer: NodeJS.Timeout | undefined;
  let overdue = false;
  const handler = (sig: StopSignal) => {
    if (state.stopping) {
      log.say('stop-forced', `${sig} again: stopping at once`);
      process.exit(SIGNAL_EXIT_CODES[sig]);
    }
    state.stopping = true;
    state.stop.abort();
    const peer = state.peer;
    if (!peer?.isInRing) {
      log.say('stop', `${sig}: not in a ring yet, stopping`);
      return void peer?.kill();
    }
    log.say('leave', `${sig}: leaving the ring gracefully (handing keys over, at most ${leaveTimeoutMs / 1000} s; a second signal stops at once)`);
    void peer.quit();
    timer = setTimeout(() => {
      overdue = true;
      log.say('leave-timeout', `Did not finish leaving within ${leaveTimeoutMs / 1000} s: stopping abruptly`);
      void peer.kill();
    }, leaveTimeoutMs);
  };
  const handlers = (Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]).map((sig) => [sig, () => handler(sig)] as const);
  handlers.forEach(([sig, h]) => process.on(sig, h));
  return {
    off: () => {
      clearTimeout(timer);
      handlers.forEach(([sig, h]) => process.off(sig, h));
    },
    overdue: () => overdue,
  };
}
