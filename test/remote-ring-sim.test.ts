// The RemoteRing (`cdht web --peer`'s source) on the simulator: its state is the true ring, walked
// again on its own clock; a killed peer shows as departed once the ring has repaired, even when it
// was the peer the watcher started from; without a way to decommission, every verb that would change
// the ring is refused; with one, a Quit is carried to the peer and the peer leaves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlError } from '../src/control/ring-controller.js';
import { RemoteRing } from '../src/control/remote-ring.js';
import { CLIENT_ID, StatusClient } from '../src/control/status-walk.js';
import type { RingState } from '../src/control/view-types.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import { createTestnet, REFERENCE_RING, type Testnet } from '../src/testnet.js';

const SEED = Number(process.env.SEED ?? 23);
const REFRESH_MS = 1000;

async function ring(): Promise<Testnet> {
  const sim = new SimNetwork({ seed: SEED });
  const net = await createTestnet({ runtime: 'sim', pingIntervalMs: 1000, perPeerDirs: true, sim });
  await net.run(3000);
  return net;
}

const ids = (xs: readonly bigint[]) => xs.map(String);
const live = (s: RingState) => s.peers.filter((p) => p.state === 'live').map((p) => p.id);
/** Successor lists hold this many (the testnet's default). */
const SUCCESSORS = 4;
/** A walk that came round, every live peer's whole successor list and predecessor those of the walked ring. */
function settled(s: RingState, n: number): boolean {
  const ring = s.peers.filter((p) => p.state === 'live');
  const after = (i: number) => Array.from({ length: Math.min(SUCCESSORS, n - 1) }, (_, d) => ring[(i + d + 1) % n]!.id);
  return ring.length === n && s.remote?.complete === true && ring.every((p, i) => p.pred1 === ring[(i + n - 1) % n]!.id && p.successors.join() === after(i).join());
}

/** Waits (on the simulated clock) for a published state that satisfies `pred`. */
async function stateWhere(net: Testnet, watcher: RemoteRing, pred: (s: RingState) => boolean, what: string): Promise<RingState> {
  let hit: RingState | undefined;
  const on = (s: RingState) => {
    if (pred(s)) hit = s;
  };
  watcher.on('state', on);
  if (pred(watcher.state())) hit = watcher.state();
  const ok = await net.until(() => hit !== undefined, 60_000);
  watcher.off('state', on);
  assert.ok(ok && hit, `${what}: not within 60 s of simulated time; last ${JSON.stringify(live(watcher.state()))} ${JSON.stringify(watcher.state().remote)}`);
  return hit;
}

test('the walked state is the true ring, follows a kill of its own start peer, and refuses every change', async () => {
  const net = await ring();
  const client = await StatusClient.open(net.runtime, { id: CLIENT_ID, host: '127.0.0.1', port: 40001 }, 'watcher');
  const watcher = new RemoteRing({ runtime: net.runtime, client, peer: net.contactOf(2), refreshMs: REFRESH_MS });
  const first = await net.settle(watcher.begin());
  assert.equal(first.complete, true, first.notes.join('; '));
  const s = watcher.state();
  assert.deepEqual(s.peers.map((p) => p.id), ids(REFERENCE_RING));
  assert.deepEqual(s.stale, []);
  const n = REFERENCE_RING.length;
  REFERENCE_RING.forEach((id, i) => {
    const p = s.peers.find((x) => x.id === String(id))!;
    assert.deepEqual(p.successors.slice(0, 2), [String(REFERENCE_RING[(i + 1) % n]), String(REFERENCE_RING[(i + 2) % n])]);
    assert.equal(p.pred1, String(REFERENCE_RING[(i + n - 1) % n]));
    assert.equal(p.layers?.['address'], `127.0.0.1:${net.contactOf(id).port}`);
  });
  assert.deepEqual(watcher.verbs, ['state', 'pings']);

  const refused: [string, () => unknown][] = [
    ['start', () => watcher.start()],
    ['stop', () => watcher.stop()],
    ['add', () => watcher.add('30')],
    ['join', () => watcher.join('30', '2')],
    ['store', () => watcher.store('8', '2067')],
    ['request', () => watcher.request('8', '2067')],
    ['quit', () => watcher.quit('14')],
    ['kill', () => watcher.kill('14')],
    ['routes', () => watcher.routes('2067', '8')],
  ];
  for (const [verb, call] of refused) {
    await assert.rejects(async () => call(), (e: unknown) => e instanceof ControlError && e.reason === 'READ_ONLY', verb);
  }
  assert.deepEqual(net.runningIds(), REFERENCE_RING);

  // the peer it walks from dies: the next walks start at a peer the last one met
  await net.kill(2);
  const after = await stateWhere(net, watcher, (x) => settled(x, n - 1), 'six live peers, settled');
  assert.deepEqual(live(after), ids(REFERENCE_RING.filter((id) => id !== 2n)));
  assert.equal(after.peers.find((p) => p.id === '2')?.state, 'departed');
  assert.notEqual(after.remote?.peer, `127.0.0.1:${net.contactOf(2).port}`);
  assert.equal(after.remote?.error, undefined);
  const seq = after.seq;
  await net.run(5 * REFRESH_MS);
  assert.equal(watcher.state().seq, seq, 'walks of an unchanged ring publish nothing new');
  assert.ok(watcher.state().at > after.at, 'yet it was walked again');

  await watcher.close();
  await client.close();
  await net.close();
});

test('given a way to decommission, Quit asks the peer, which leaves; other changes stay unsupported', async () => {
  const net = await ring();
  // an open ring takes a decommission from a loopback address: the simulated client has one
  const client = await StatusClient.open(net.runtime, { id: CLIENT_ID, host: '127.0.0.1', port: 40002 }, 'watcher');
  const asked: bigint[] = [];
  const watcher = new RemoteRing({
    runtime: net.runtime,
    client,
    peer: net.contactOf(9),
    refreshMs: REFRESH_MS,
    decommission: (to) => {
      asked.push(to.id);
      return client.decommission(to);
    },
  });
  await net.settle(watcher.begin());
  assert.deepEqual(watcher.verbs, ['state', 'pings', 'quit']);
  await assert.rejects(async () => watcher.kill('14'), (e: unknown) => e instanceof ControlError && e.reason === 'UNSUPPORTED');
  await assert.rejects(net.settle(watcher.quit('77')), (e: unknown) => e instanceof ControlError && e.reason === 'UNKNOWN_PEER');
  const r = await net.settle(watcher.quit('14'));
  assert.match(r.message, /^Peer 14 is leaving the ring/);
  assert.deepEqual(asked, [14n]);
  const after = await stateWhere(net, watcher, (x) => settled(x, REFERENCE_RING.length - 1), 'six live peers, settled');
  assert.deepEqual(live(after), ids(REFERENCE_RING.filter((id) => id !== 14n)));
  assert.ok(!net.runningIds().includes(14n));
  await watcher.close();
  await client.close();
  await net.close();
});
