// `cdht sim`: a settled ring of N peers on the simulator, L lookups of random keys from random
// peers through the real protocol, and how many hops they took. How a user explores scale.
// The simulator loads only when the ring is built, not to check the words.
import { defaultRouting, SCALE_BITS, type RoutingName } from '../core/config.js';
import type { ScaleResult } from '../scale.js';
import { ArgumentProblem, parseBits, parseIntegerIn, parseInterval, parseRouting } from './args.js';

export interface RawSimOptions {
  peers?: string;
  bits?: string;
  routing?: string;
  lookups: string;
  seed: string;
  fingers: string;
  warmup?: string;
  json?: boolean;
}

export interface SimPlan {
  peers: number;
  bits: number;
  routing: RoutingName;
  lookups: number;
  seed: number;
  fingers: 'seeded' | 'protocol';
  warmupMs?: number;
  json: boolean;
}

/** The largest ring `cdht sim` builds (memory grows by about 75 KiB a peer). */
export const MAX_SIM_PEERS = 65_536;

export function simPlan(o: RawSimOptions): SimPlan {
  if (o.peers === undefined) throw new ArgumentProblem('--peers N is required (for example --peers 1024)');
  const space = parseBits(o.bits ?? String(SCALE_BITS));
  const peers = parseIntegerIn('--peers', o.peers, 1, space.spec ? 256 : MAX_SIM_PEERS);
  if (o.fingers !== 'seeded' && o.fingers !== 'protocol') throw new ArgumentProblem(`--fingers must be seeded or protocol (got '${o.fingers}')`);
  return {
    peers,
    bits: space.bits,
    routing: parseRouting(o.routing) ?? defaultRouting(space),
    lookups: parseIntegerIn('--lookups', o.lookups, 1, 1_000_000),
    seed: parseIntegerIn('--seed', o.seed, 0, 2 ** 32 - 1),
    fingers: o.fingers,
    ...(o.warmup !== undefined ? { warmupMs: parseInterval(o.warmup, '--warmup') } : {}),
    json: !!o.json,
  };
}

export function renderSim(r: ScaleResult): string[] {
  const f = (n: number) => n.toFixed(2);
  return [
    `${r.peers} peers, ${r.bits}-bit ids, ${r.routing} routing, seed ${r.seed}: ${r.lookups} lookups`,
    `hops: mean ${f(r.meanHops)} (½·log2 N = ${f(r.halfLog2N)}), p50 ${r.p50Hops}, p99 ${r.p99Hops}, max ${r.maxHops}`,
    `missed the true owner: ${r.failures}`,
    `time: ${(r.virtualMs / 1000).toFixed(2)} s virtual, ${(r.wallMs / 1000).toFixed(2)} s wall, ${r.events} simulated events`,
  ];
}

export async function runSim(p: SimPlan, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const { runScale } = await import('../scale.js');
  const r = await runScale({
    peers: p.peers,
    bits: p.bits,
    routing: p.routing,
    lookups: p.lookups,
    seed: p.seed,
    fingers: p.fingers,
    ...(p.warmupMs !== undefined ? { warmupMs: p.warmupMs } : {}),
  });
  if (p.json) out.write(`${JSON.stringify(r)}\n`);
  else for (const l of renderSim(r)) out.write(`${l}\n`);
  return r.failures === 0 ? 0 : 1;
}
