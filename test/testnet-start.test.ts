// Testnet.create on real sockets returns once every peer is up: it watches the peers' own
// readiness. It used to look again only when a line or a neighbour change came, so a ring of one
// (its peer ready at once, with nothing more to say) sat out the whole start bound, 10 s by
// default. A lone peer now happens to print that it is alone right after it is up, which hid the
// wait from any test that let the ring speak (test/controller.test.ts's ring of one passed
// without the fix); here the ring is kept silent while it starts. The simulator's start checks
// after every simulated event and never had the wait, so this guard needs sockets (one peer, a
// reserved port, no sleeps: the timer below is a safety net, not a measure).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Testnet, createTestnet } from '../src/testnet.js';
import { freeBasePort } from './helpers/ports.js';

/** The start's bound: far beyond a start that watches its peers, and ends a start that waits it out. */
const START_WAIT_MS = 120_000;
/** Safety net: a start still pending this long waited for words, not for its peer. */
const NET_MS = 30_000;

test('a ring of one on sockets is up as soon as its peer is, though nothing is said while it starts', async () => {
  const own = Object.hasOwn(Testnet.prototype, 'emit');
  const emit = Testnet.prototype.emit;
  // the ring's lines and neighbour changes are held back: only the peer's readiness can end the start
  Testnet.prototype.emit = function (this: Testnet, event: string | symbol, ...args: unknown[]): boolean {
    return event === 'line' || event === 'neighbours' ? false : emit.call(this, event, ...args);
  };
  const starting = Testnet.create({ runtime: 'node', ids: [5], basePort: await freeBasePort([5]), pingIntervalMs: 60_000, startWaitMs: START_WAIT_MS });
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the ring of one was not up within ${NET_MS / 1000} s: its start waited for a line, not for its peer`)), NET_MS)));
  try {
    const net = await Promise.race([starting, hung]);
    try {
      assert.deepEqual(net.runningIds(), [5n]);
    } finally {
      await net.close();
    }
  } catch (e) {
    // a start that waits out its bound still ends: its ring is closed then, so the process can exit
    void starting.then((net) => net.close(), () => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
    if (own) Testnet.prototype.emit = emit;
    else delete (Testnet.prototype as { emit?: unknown }).emit;
  }
});

test('a testnet hands on its peers\' lines and traces while someone listens, and asks none of them to render lines otherwise', async () => {
  const net = await createTestnet({ runtime: 'sim', ids: [2, 9, 14], pingIntervalMs: 1000 });
  const peer = net.peer(9)!;
  assert.equal(peer.listenerCount('line'), 0, 'nobody listens: no forwarder on the peer');
  assert.equal(peer.listenerCount('trace'), 0);
  const lines: string[] = [];
  const onLine = (l: { text: string }) => lines.push(l.text);
  net.on('line', onLine);
  assert.equal(peer.listenerCount('line'), 1);
  await net.sim!.runFor(2500);
  assert.ok(lines.some((l) => /ping/i.test(l)), 'lines come through while listened to');
  net.off('line', onLine);
  assert.equal(peer.listenerCount('line'), 0, 'and the forwarder goes with the last listener');
  // a peer started while someone listens gets its forwarder at once
  const traces: unknown[] = [];
  net.on('trace', (t: unknown) => traces.push(t));
  const joiner = await net.join(5, 9);
  assert.ok(joiner.isInRing);
  assert.equal(joiner.listenerCount('trace'), 1);
  assert.ok(traces.some((t) => (t as { id: bigint }).id === 5n), 'the new peer\'s traces come through');
  await net.close();
});
