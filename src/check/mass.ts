// Mass failure on the simulator: a settled ring of N peers holding F files, a share of the peers
// killed at one instant, and the repair measured as it happens:
// - reconvergence: the first moment every live peer's successor list is the true one (and no
//   peer is alone);
// - copies restored: the first moment every surviving file (one holder at least lived) is on its
//   right k peers again;
// - lookups asked from random live peers all through the repair: answered by the true owner
//   among the live peers, by another peer (a wrong owner: the one outcome that must never
//   happen), or not answered (allowed: they may wait or fail clearly);
// - files lost: those whose every holder died, against what theory expects (fraction^k of F).
// `cdht check --mass`, the bench and the tests use it.
import type { Id } from '../core/id-space.js';
import { defaultRouting, DEFAULT_SUCCESSORS, RING_REPLICAS, SCALE_BITS, SIM_BASE_PORT, TESTNET_PING_INTERVAL_MS, type PeerSettings } from '../core/config.js';
import { idSpace } from '../space.js';
import type { PeerTrace } from '../peer.js';
import { createTestnet } from '../testnet.js';
import { randomKey } from '../scale.js';
import { storeFolder, testnetView } from './testnet-view.js';
import { mulberry32 } from '../util/prng.js';
import { checkAlone, checkCopies, checkSuccessors, rightPeers, type RingView } from './invariants.js';

/** Routing, r and k as core/config.ts declares them (default: the id space's routing, 4 and 3). */
export interface MassOptions extends Pick<PeerSettings, 'routing' | 'successors' | 'replicas'> {
  peers: number;
  /** Share of the peers killed at once (0 to 0.9). */
  fraction: number;
  bits?: number;
  files?: number;
  seed?: number;
  /** Lookups a second asked during the repair. */
  lookupRate?: number;
  /** How long the repair is watched at most (virtual ms). */
  maxMs?: number;
  pingIntervalMs?: number;
}

export interface MassResult {
  peers: number;
  killed: number;
  r: number;
  k: number;
  /** Virtual ms from the kill until every successor list was true; undefined if never within maxMs. */
  reconvergeMs: number | undefined;
  /** Virtual ms from the kill until every surviving file was on its k right peers again. */
  copiesMs: number | undefined;
  lookups: number;
  wrongOwner: number;
  unanswered: number;
  files: number;
  lost: number;
  /** fraction^k · files: the loss theory expects when holders die independently. */
  expectedLost: number;
  /** The last violation seen, when a measure never came true. */
  last?: string;
  wallMs: number;
}

const SAMPLE_MS = 250;

export async function runMassFailure(o: MassOptions): Promise<MassResult> {
  const t0 = performance.now();
  const seed = o.seed ?? 1;
  const bits = o.bits ?? SCALE_BITS;
  const r = o.successors ?? DEFAULT_SUCCESSORS;
  const k = o.replicas ?? RING_REPLICAS;
  const fileCount = o.files ?? 300;
  const maxMs = o.maxMs ?? 180_000;
  const rand = mulberry32((seed ^ 0x3a55) >>> 0);
  const net = await createTestnet({
    runtime: 'sim',
    seed,
    bits,
    routing: o.routing ?? defaultRouting(idSpace(bits)),
    settled: true,
    successors: r,
    replicas: k,
    pingIntervalMs: o.pingIntervalMs ?? TESTNET_PING_INTERVAL_MS,
    basePort: SIM_BASE_PORT,
    perPeerDirs: true,
    ...(bits > 8 ? { count: o.peers } : { ids: specIds(o.peers, rand) }),
  });
  const sim = net.sim!;
  try {
    await net.run(5_000);
    // the files, stored from random peers; the ring is settled before anyone dies
    const names = Array.from({ length: fileCount }, (_, i) => `mass-${seed}-${i}.bin`).map((n) => (net.space.spec ? String(1000 + Math.floor(rand() * 9000)) : n));
    const unique = [...new Set(names)];
    const ids0 = net.runningIds();
    for (const name of unique) {
      const at = ids0[Math.floor(rand() * ids0.length)]!;
      sim.disk.write(storeFolder(net, at), net.space.fileOf(name), Uint8Array.from({ length: 64 }, (_, i) => (i + name.length) & 255));
      net.peer(at)!.coreTyped('store', name);
    }
    const viewOf = (files: readonly string[]): RingView => testnetView(net, r, k, files);
    const placed = await net.until(() => !checkCopies(viewOf(unique)), 60_000);
    // plain: a finding of the check (the run fails with it), not a condition a program handles
    if (!placed) throw new Error(`the files were not all on their k peers before the kill: ${checkCopies(viewOf(unique))?.detail}`);
    await net.run(5_000);

    // the kill
    const victims = new Set<Id>();
    const count = Math.round(o.fraction * ids0.length);
    while (victims.size < count) victims.add(ids0[Math.floor(rand() * ids0.length)]!);
    const before = viewOf(unique);
    // a file survives when one of its right peers (the ring's copies, not the origin's own file) lives on
    const surviving = unique.filter((name) => rightPeers(before, net.space.keyOf(name)).some((id) => !victims.has(id) && before.holds(id, name)));
    for (const id of victims) void net.kill(id);
    const killedAt = sim.now();

    let lookups = 0;
    let wrongOwner = 0;
    let answered = 0;
    const onTrace = (t: PeerTrace) => {
      if (t.trace.kind !== 'lookup-result') return;
      if (t.trace.owner === undefined) return;
      answered++;
      const live = net.runningIds();
      if (t.trace.owner !== net.space.ownerOf(t.trace.key, live)) {
        wrongOwner++;
        if (process.env.MASS_DEBUG) {
          const f = (x: Id | undefined) => (x === undefined ? '-' : String(live.indexOf(x)) + (live.includes(x) ? '' : `x${x}`));
          const snap = net.peer(t.trace.owner)?.snapshot();
          console.error(`${sim.now() - killedAt} key ${t.trace.key} owner ${f(t.trace.owner)} true ${f(net.space.ownerOf(t.trace.key, live))} owner pred ${f(snap?.pred1)} succ ${snap?.successors.map(f).join(',')}`);
        }
      }
    };
    net.on('trace', onTrace);
    let reconvergeMs: number | undefined;
    let copiesMs: number | undefined;
    let last: string | undefined;
    const perSample = Math.max(1, Math.round(((o.lookupRate ?? 20) * SAMPLE_MS) / 1000));
    while (sim.now() - killedAt < maxMs && (reconvergeMs === undefined || copiesMs === undefined)) {
      const live = net.runningIds();
      for (let i = 0; i < perSample; i++) {
        net.peer(live[Math.floor(rand() * live.length)]!)!.findOwner(randomKey(rand, net.space.size));
        lookups++;
      }
      await net.run(SAMPLE_MS);
      if (reconvergeMs === undefined) {
        const v = viewOf([]);
        const bad = checkAlone(v) ?? checkSuccessors(v);
        if (!bad) reconvergeMs = sim.now() - killedAt;
        else last = bad.detail;
      }
      if (copiesMs === undefined && reconvergeMs !== undefined) {
        const bad = checkCopies(viewOf(surviving));
        if (!bad) copiesMs = sim.now() - killedAt;
        else last = bad.detail;
      }
    }
    // the last lookups get their answer or their timeout
    await net.run(6_000);
    net.off('trace', onTrace);
    return {
      peers: ids0.length,
      killed: victims.size,
      r,
      k,
      reconvergeMs,
      copiesMs,
      lookups,
      wrongOwner,
      unanswered: lookups - answered,
      files: unique.length,
      lost: unique.length - surviving.length,
      expectedLost: Math.pow(o.fraction, k) * unique.length,
      ...(last !== undefined && (reconvergeMs === undefined || copiesMs === undefined) ? { last } : {}),
      wallMs: performance.now() - t0,
    };
  } finally {
    await net.close();
  }
}

function specIds(n: number, rand: () => number): Id[] {
  const pool = Array.from({ length: 256 }, (_, i) => BigInt(i));
  const out: Id[] = [];
  for (let i = 0; i < Math.min(n, 256); i++) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  return out;
}
