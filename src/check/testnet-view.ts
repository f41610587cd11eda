// The invariants' view of a ring started with createTestnet on the simulator: the live peers'
// snapshots, who would take a key, and who holds a stored name (its key store knows it and its
// bytes are on the simulated disk). The mass-failure and partition measures judge rings by it.
import type { Id } from '../core/id-space.js';
import type { Testnet } from '../testnet.js';
import type { RingView } from './invariants.js';

/** Where peer `id` keeps stored names: its data folder at 8 bits, the store folder in it above. */
export function storeFolder(net: Testnet, id: Id): string {
  return net.space.spec ? net.dataDirOf(id) : `${net.dataDirOf(id)}/store`;
}

/** The live peers of `net` as the invariants see them, with successor lists of length r and k copies a file. */
export function testnetView(net: Testnet, r: number, k: number, files: readonly string[]): RingView {
  const sim = net.sim;
  // an assertion: the checker's callers always run on the simulator
  if (!sim) throw new Error('testnetView reads the simulated disk: start the ring with runtime "sim"');
  const live = net.runningIds();
  const snaps = new Map(live.map((id) => [id, net.peer(id)!.snapshot()]));
  return {
    space: net.space,
    r,
    k,
    peers: [...snaps.values()].map((s) => ({ id: s.id, phase: s.phase, successors: s.successors, pred1: s.pred1, pred2: s.pred2 })),
    owns: (id, key) => net.peer(id)!.nextHop(key) === null,
    holds: (id, name) => !!snaps.get(id)?.files.some((f) => f.name === name) && sim.disk.size(storeFolder(net, id), net.space.fileOf(name)) !== undefined,
    files,
  };
}
