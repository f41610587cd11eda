// A graceful leave keeps k copies: when a peer that quits has exited, every key it held is on
// all k peers responsible for it after it is gone, at once (no wait for the new owner's repair).
// At k = 3 the third holder of a key the leaver owned does not know it as a predecessor: it takes
// that copy once its second predecessor, the leaver's successor, vouches for the same bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestnet, type Testnet } from '../src/index.js';
import type { Id } from '../src/core/id-space.js';

function onDisk(net: Testnet, name: string): Id[] {
  return net.runningIds().filter((id) => net.sim!.disk.read(net.peer(id)!.storeDir, name) !== undefined);
}

function responsible(net: Testnet, key: Id, k: number): Id[] {
  const ids = net.runningIds();
  const at = ids.indexOf(net.space.ownerOf(key, ids)!);
  return Array.from({ length: k }, (_, i) => ids[(at + i) % ids.length]!);
}

// a ring of 10, and rings so small that each peer's successor list runs round into its
// predecessors (there a key ahead of a peer is also one it holds once the leaver is gone)
for (const [k, count] of [[2, 10], [3, 10], [4, 10], [3, 5], [3, 4], [2, 4]] as const) {
  test(`k = ${k}, ${count} peers: once a leaver has exited, every key it held is on its k responsible peers, and no other`, async () => {
    const net = await createTestnet({ runtime: 'sim', bits: 16, count, settled: true, replicas: k, seed: count === 10 ? 3 + k : 3 + k + count, perPeerDirs: true, dataDir: '/sim', pingIntervalMs: 1000 });
    try {
      const names = Array.from({ length: 40 }, (_, i) => `doc-${i}.txt`);
      const first = net.runningIds();
      const publisher = (n: string) => first[names.indexOf(n) % count];
      for (const [i, name] of names.entries()) await net.settle(net.peer(net.runningIds()[i % count]!)!.put(name, `bytes of ${name}`));
      await net.run(20_000);
      const leaver = net.runningIds()[count === 10 ? 4 : 2]!;
      const held = names.filter((n) => onDisk(net, n).includes(leaver));
      // it is owner, first replica and last replica of some
      const roles = new Set(held.map((n) => responsible(net, net.space.keyOf(n), k).indexOf(leaver)));
      assert.deepEqual([...roles].sort(), Array.from({ length: k }, (_, i) => i), `roles ${[...roles]}`);
      const exit = await net.quit(leaver);
      assert.equal(exit.code, 0);
      assert.ok(!net.runningIds().includes(leaver));
      // no time has passed for a repair: the copies were made before it left
      const missing = (n: string) => responsible(net, net.space.keyOf(n), k).filter((id) => !onDisk(net, n).includes(id));
      assert.deepEqual(held.filter((n) => missing(n).length > 0), [], `short of ${k} copies right after the leave`);
      // and, up to k = 3, no copy where none belongs: the ring's copies (the publisher's own file
      // aside) are on its k peers. (With k above 3 a leaver, knowing two predecessors, cannot tell
      // a key of its third predecessor's range from its second's, and gives its second successor a
      // copy of each: one too many for the third's, which surplus collection removes.)
      const extra = names.filter((n) => onDisk(net, n).some((id) => !responsible(net, net.space.keyOf(n), k).includes(id) && id !== publisher(n)));
      if (k <= 3) assert.deepEqual(extra, [], 'copies beyond the k responsible peers right after the leave');
    } finally {
      await net.close();
    }
  });
}
