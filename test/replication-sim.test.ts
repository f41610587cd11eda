// Successor lists, replication and hand-over on the simulator: files live on k peers, move to
// a joiner that now owns them, are handed on by a peer that quits, are copied again after a
// crash, and a Request is served by a replica when the owner is gone or lacks the file.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Id } from '../src/core/id-space.js';
import type { PeerLine } from '../src/peer.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import { createTestnet } from '../src/testnet.js';
import type { Testnet, TestnetOptions } from '../src/testnet.js';

const SEED = Number(process.env.SEED ?? 21);

async function ring(opts: TestnetOptions = {}): Promise<{ net: Testnet; sim: SimNetwork; lines: PeerLine[] }> {
  const sim = opts.sim ?? new SimNetwork({ seed: SEED });
  const net = await createTestnet({ runtime: 'sim', pingIntervalMs: 1000, perPeerDirs: true, replicas: 3, ...opts, sim });
  const lines: PeerLine[] = [];
  net.on('line', (l: PeerLine) => lines.push(l));
  await net.run(3000);
  return { net, sim, lines };
}

const of = (lines: PeerLine[], id: number, since = 0) => lines.slice(since).filter((l) => l.id === BigInt(id)).map((l) => l.text);
const dir = (id: Id | number) => `data/peer-${id}`;

/** Ids (sorted) of the running peers whose directory holds `file` with exactly `bytes`. */
function holders(net: Testnet, sim: SimNetwork, file: string, bytes: Uint8Array): bigint[] {
  return net.runningIds().filter((id) => {
    const b = sim.disk.read(dir(id), file);
    return !!b && b.length === bytes.length && b.every((x, i) => x === bytes[i]);
  });
}

async function store(net: Testnet, sim: SimNetwork, lines: PeerLine[], at: number, name: string, bytes: Uint8Array, owner: number): Promise<void> {
  sim.disk.write(dir(at), `${name}.pdf`, bytes);
  const m = lines.length;
  net.peer(at)!.store(name);
  assert.ok(await net.until(() => of(lines, owner, m).includes(`File ${name} stored here`) || of(lines, owner, m).includes(`Store ${name} request accepted`), 5000));
}

test('a stored file lives on its owner and the next k - 1 successors', async () => {
  const { net, sim, lines } = await ring();
  const bytes = Uint8Array.from({ length: 4000 }, (_, i) => (i * 7) & 255);
  await store(net, sim, lines, 8, '2067', bytes, 19); // key 19
  assert.ok(await net.until(() => holders(net, sim, '2067.pdf', bytes).length >= 4, 10_000));
  // the origin 8 keeps its own; the ring's copies are on 19 and its successors 2 and 4
  assert.deepEqual(holders(net, sim, '2067.pdf', bytes), [2n, 4n, 8n, 19n]);
  const snap = net.peer(4)!.snapshot();
  assert.deepEqual(snap.files.map((f) => [f.name, f.key, f.size]), [['2067', 19n, 4000]], 'the key store knows what the directory holds');
  await net.close();
});

test('a joiner receives the keys it now owns, and the ring keeps k copies', async () => {
  const { net, sim, lines } = await ring();
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => i & 255);
  await store(net, sim, lines, 2, '4367', bytes, 19); // key 4367 mod 256 = 15: owned by 19 until 16 joins
  assert.ok(await net.until(() => holders(net, sim, '4367.pdf', bytes).includes(4n), 10_000));
  await net.join(16, 2);
  assert.ok(await net.until(() => holders(net, sim, '4367.pdf', bytes).includes(16n), 20_000), 'the joiner got the key it owns');
  await net.close();
});

test('a peer that quits hands its keys to its successor before leaving (k = 1)', async () => {
  const { net, sim, lines } = await ring({ replicas: 1 });
  const bytes = Uint8Array.from({ length: 2000 }, (_, i) => (i * 3) & 255);
  await store(net, sim, lines, 2, '0270', bytes, 14); // key 14
  assert.ok(await net.until(() => holders(net, sim, '0270.pdf', bytes).includes(14n), 5000));
  assert.ok(!holders(net, sim, '0270.pdf', bytes).includes(19n), 'k = 1: only the owner');
  await net.quit(14);
  assert.ok(holders(net, sim, '0270.pdf', bytes).includes(19n), 'handed to the successor before 14 left');
  const m = lines.length;
  net.peer(5)!.request('0270');
  assert.ok(await net.until(() => of(lines, 5, m).includes('File 0270 received'), 5000), of(lines, 5, m).join('\n'));
  await net.close();
});

test('after a crash the survivors restore k copies, and a Request is served by a replica', async () => {
  const { net, sim, lines } = await ring();
  const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 11) & 255);
  await store(net, sim, lines, 2, '4103', bytes, 8); // key 7: 8, then 9 and 14
  assert.ok(await net.until(() => ['8', '9', '14'].every((id) => holders(net, sim, '4103.pdf', bytes).includes(BigInt(id))), 10_000));
  await net.kill(8);
  // the new owner 9 copies it on to its second successor 19: three copies again
  assert.ok(await net.until(() => holders(net, sim, '4103.pdf', bytes).includes(19n), 20_000), `holders ${holders(net, sim, '4103.pdf', bytes)}`);
  const m = lines.length;
  net.peer(4)!.request('4103');
  assert.ok(await net.until(() => of(lines, 4, m).includes('File 4103 received'), 5000), of(lines, 4, m).join('\n'));
  assert.deepEqual(sim.disk.read(dir(4), 'received_4103.pdf'), bytes);
  await net.close();
});

test('an owner that lacks the file asks the replica after it', async () => {
  const { net, sim, lines } = await ring();
  const bytes = Uint8Array.of(1, 2, 3, 4, 5);
  // 9 holds a replica of key 7 (owned by 8), but 8 itself does not have it
  sim.disk.write(dir(9), '4103.pdf', bytes);
  const m = lines.length;
  net.peer(2)!.request('4103');
  assert.ok(await net.until(() => of(lines, 2, m).includes('File 4103 received'), 5000), of(lines, 2, m).join('\n'));
  assert.ok(of(lines, 2, m).includes('Peer 9 had File 4103'));
  assert.ok(of(lines, 8, m).some((l) => l.includes('asking Peer 9')));
  await net.close();
});

test('three adjacent peers die at once: the ring heals (r = 4) and no one is alone', async () => {
  const { net, lines } = await ring({ replicas: 1 });
  const m = lines.length;
  await Promise.all([net.kill(8), net.kill(9), net.kill(14)]);
  assert.ok(await net.until(() => net.staleIds().length === 0, 10_000), `stale: ${net.staleIds()}`);
  assert.ok(!lines.slice(m).some((l) => l.text.includes('alone')));
  assert.deepEqual(net.peer(5)!.snapshot().successors.slice(0, 2), [19n, 2n]);
  await net.close();
});

test('when every successor fails a peer rejoins through another it knows, and says so', async () => {
  const { net, lines } = await ring({ replicas: 1, successors: 2 });
  const m = lines.length;
  // 5 knows 8 and 9 as successors only: both die; it still hears its predecessors 2 and 4
  await Promise.all([net.kill(8), net.kill(9)]);
  assert.ok(await net.until(() => net.staleIds().length === 0, 15_000), `stale: ${net.staleIds()}`);
  assert.ok(of(lines, 5, m).some((l) => /^Every successor has failed; rejoining the ring through Peer \d+$/.test(l)), of(lines, 5, m).join('\n'));
  assert.deepEqual(net.peer(5)!.snapshot().successors, [14n, 19n]);
  await net.close();
});

test('a file found in a directory at start stays put until it is stored: nobody knows its owner yet', async () => {
  const sim = new SimNetwork({ seed: SEED });
  const bytes = Uint8Array.from({ length: 2000 }, (_, i) => i & 255);
  sim.disk.write(dir(8), '2067.pdf', bytes); // key 19, in 8's folder before any peer starts
  const { net, lines } = await ring({ sim });
  await net.run(10_000);
  assert.deepEqual(holders(net, sim, '2067.pdf', bytes), [8n], 'no copies went round the ring on their own');
  await store(net, sim, lines, 8, '2067', bytes, 19);
  assert.ok(await net.until(() => holders(net, sim, '2067.pdf', bytes).length === 4, 10_000));
  assert.deepEqual(holders(net, sim, '2067.pdf', bytes), [2n, 4n, 8n, 19n]);
  await net.close();
});
