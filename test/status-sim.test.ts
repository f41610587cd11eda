// cdht status and decommission on the simulator: the walk returns the true ring in order with
// shares that add up to the whole space; a decommission from the peer's own host makes it leave,
// a stranger's is refused; a query cannot aim a reply at a third host, and replies are rate-limited.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { Message } from '../src/core/messages.js';
import { STATUS_BURST } from '../src/core/status.js';
import { CLIENT_ID, shareOf, StatusClient, walkRing } from '../src/control/status-walk.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import { createTestnet, REFERENCE_RING, type Testnet, type TestnetOptions } from '../src/testnet.js';

const SEED = Number(process.env.SEED ?? 17);

async function ring(opts: TestnetOptions = {}): Promise<Testnet> {
  const sim = new SimNetwork({ seed: SEED });
  const net = await createTestnet({ runtime: 'sim', pingIntervalMs: 1000, perPeerDirs: true, ...opts, sim });
  await net.run(3000);
  return net;
}

/** Runs the simulator while `p` is under way; resolves with what `p` gave. */
async function during<T>(net: Testnet, p: Promise<T>, ms = 20_000): Promise<T> {
  let done = false;
  const settled = p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  void settled.then(() => (done = true));
  await net.until(() => done, ms);
  const r = await settled;
  if (!r.ok) throw r.e;
  return r.v;
}

function client(net: Testnet, host: string, port: number, tlsId?: bigint): Promise<StatusClient> {
  const self: Contact = { id: tlsId ?? CLIENT_ID, host, port };
  const tls = tlsId !== undefined ? { id: tlsId, keyPem: '', certPem: '', caPem: '' } : undefined;
  return StatusClient.open(net.runtime, self, `client-${port}`, tls);
}

test('a status walk of the 7-peer reference ring returns the true ring in order, shares summing to 1', async () => {
  const net = await ring();
  const c = await client(net, '127.0.0.1', 40001);
  for (const start of [2, 9]) {
    const walk = await during(net, walkRing(c, net.contactOf(start)));
    assert.equal(walk.complete, true, walk.notes.join('; '));
    assert.deepEqual(walk.notes, []);
    const ids = walk.peers.map((p) => Number(p.id));
    const i = REFERENCE_RING.indexOf(BigInt(start));
    const truth = [...REFERENCE_RING.slice(i), ...REFERENCE_RING.slice(0, i)].map(Number);
    assert.deepEqual(ids, truth);
    const total = walk.peers.reduce((s, p) => s + p.share, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `shares add up to ${total}`);
    for (const p of walk.peers) {
      const k = REFERENCE_RING.indexOf(p.id);
      const pred = REFERENCE_RING[(k + REFERENCE_RING.length - 1) % REFERENCE_RING.length]!;
      assert.equal(p.pred, pred, `Peer ${p.id}'s first predecessor`);
      assert.equal(p.share, shareOf(pred, p.id, 256n));
      assert.equal(p.phase, 'normal');
      assert.equal(p.address.port, net.contactOf(p.id).port);
    }
  }
  await c.close();
  await net.close();
});

test('status counts what a peer holds, by number and bytes only, on a 16-bit ring with 3 copies', async () => {
  const net = await ring({ bits: 16, count: 5, replicas: 3 });
  const ids = net.runningIds();
  const at = net.peer(ids[0]!)!;
  net.sim!.disk.write(at.storeDir, 'notes.txt', new Uint8Array(1000));
  at.store('notes.txt');
  await net.run(10_000);
  const c = await client(net, '127.0.0.1', 40002);
  const walk = await during(net, walkRing(c, net.contactOf(ids[2]!)));
  assert.equal(walk.complete, true);
  assert.equal(walk.peers.length, 5);
  // three copies of one name: 3 keys and 3000 bytes on the ring, none short of k once copied
  assert.equal(walk.peers.reduce((s, p) => s + p.keys, 0), 3, JSON.stringify(walk.peers.map((p) => p.keys)));
  assert.equal(walk.peers.reduce((s, p) => s + p.bytes, 0), 3000);
  assert.ok(walk.peers.every((p) => p.shortOfK === 0 && p.handovers === 0));
  await c.close();
  await net.close();
});

test('decommission: a stranger is refused; the peer\'s own host makes it leave and the ring repairs', async () => {
  const net = await ring();
  const stranger = await client(net, '10.66.0.1', 40003);
  const refused = await during(net, stranger.decommission(net.contactOf(14)));
  assert.equal(refused.accepted, false);
  assert.match(refused.reason, /loopback/);
  assert.equal(net.peer(14)!.isRunning, true);

  const local = await client(net, '127.0.0.1', 40004);
  const ok = await during(net, local.decommission(net.contactOf(14)));
  assert.equal(ok.accepted, true, ok.reason);
  assert.ok(await net.until(() => !net.peer(14)!.isRunning, 10_000), 'Peer 14 left');
  await net.run(3000);
  const walk = await during(net, walkRing(local, net.contactOf(2)));
  assert.equal(walk.complete, true, walk.notes.join('; '));
  assert.deepEqual(walk.peers.map((p) => Number(p.id)), [2, 4, 5, 8, 9, 19]);
  assert.equal(walk.peers.find((p) => p.id === 9n)!.successors[0], 19n);
  assert.equal(walk.peers.find((p) => p.id === 19n)!.pred, 9n);
  await stranger.close();
  await local.close();
  await net.close();
});

test('a private ring: decommission only with the peer\'s own certificate; status needs one', async () => {
  const net = await ring({ secure: true });
  const plain = await client(net, '127.0.0.1', 40009);
  await assert.rejects(during(net, walkRing(plain, net.contactOf(2))), /cannot reach|no answer/);
  await plain.close();
  const other = await client(net, '127.0.0.1', 40005, 200n);
  const walk = await during(net, walkRing(other, net.contactOf(2)));
  assert.equal(walk.peers.length, 7);
  const refused = await during(net, other.decommission(net.contactOf(8)));
  assert.equal(refused.accepted, false);
  assert.match(refused.reason, /own certificate/);
  const own = await client(net, '127.0.0.1', 40006, 8n);
  const ok = await during(net, own.decommission(net.contactOf(8)));
  assert.equal(ok.accepted, true, ok.reason);
  assert.ok(await net.until(() => !net.peer(8)!.isRunning, 10_000), 'Peer 8 left');
  await other.close();
  await own.close();
  await net.close();
});

test('a query cannot aim its reply at another host, and one host gets at most a burst of replies', async () => {
  const net = await ring();
  const got: Message[] = [];
  const handlers = { onMessage: (m: Message) => void got.push(m), onBadInput: () => {}, onFileOffer: () => null, onFileDone: () => {} };
  const victim: Contact = { id: 201n, host: '10.9.9.9', port: 40007 };
  const victimEp = await net.runtime.openEndpoint({ self: victim, dataDir: 'victim' }, handlers);
  const evil: Contact = { id: 202n, host: '10.66.0.2', port: 40008 };
  const evilGot: Message[] = [];
  const evilEp = await net.runtime.openEndpoint({ self: evil, dataDir: 'evil' }, { ...handlers, onMessage: (m: Message) => void evilGot.push(m) });
  // naming the victim as the asker: nobody is answered
  void evilEp.sendMessage(net.contactOf(5), { type: 'status-query', from: victim, qid: 1 }).catch(() => {});
  void evilEp.sendMessage(net.contactOf(5), { type: 'decommission', from: victim, qid: 2 }).catch(() => {});
  await net.run(2000);
  assert.deepEqual(got, []);
  assert.equal(net.peer(5)!.isRunning, true);
  // its own address, many times at once: at most a burst answered
  for (let q = 0; q < 3 * STATUS_BURST; q++) void evilEp.sendMessage(net.contactOf(5), { type: 'status-query', from: evil, qid: 100 + q }).catch(() => {});
  await net.run(500);
  const replies = evilGot.filter((m) => m.type === 'status-reply').length;
  assert.ok(replies > 0 && replies <= STATUS_BURST, `${replies} replies`);
  await victimEp.close();
  await evilEp.close();
  await net.close();
});

test('the walk is bounded: --max stops it, a ring that does not close trips the loop guard, a dead successor is stepped past', async () => {
  const c = (id: number): Contact => ({ id: BigInt(id), host: '127.0.0.1', port: 12000 + id });
  // 2 -> 4 -> 5 -> back to 4 (not to 2), and 9 is dead
  const next: Record<number, number[]> = { 2: [9, 4], 4: [5], 5: [4] };
  const fake = {
    status: (to: { port: number }) => {
      const id = to.port - 12000;
      if (!next[id]) return Promise.reject(new Error('ECONNREFUSED'));
      return Promise.resolve({ type: 'status-reply', from: c(id), qid: 1, bits: 8, phase: 'normal', successors: next[id]!.map(c), keys: 0, bytes: 0, handovers: 0 } as const);
    },
  } as unknown as StatusClient;
  const loop = await walkRing(fake, c(2));
  assert.deepEqual(loop.peers.map((p) => Number(p.id)), [2, 4, 5]);
  assert.equal(loop.complete, false);
  assert.match(loop.notes.join('\n'), /Peer 9 .* did not answer/);
  assert.match(loop.notes.join('\n'), /Peer 5 leads back to Peer 4, not to the start/);
  const capped = await walkRing(fake, c(2), { max: 2 });
  assert.deepEqual(capped.peers.map((p) => Number(p.id)), [2, 4]);
  assert.match(capped.notes.join('\n'), /stopped after 2 peers/);
});
