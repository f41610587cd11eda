// What is stored stays what was stored, tried as an attacker would on the simulator: an outsider
// speaking as a neighbour offers names and pushes its own bytes as their replicas, a member plants
// a name at peers that do not own it, a final request asks for files outside the store, and a
// holder whose copy went bad is asked for it. Each test checks the bytes every peer holds.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { FileBegin, Message } from '../src/core/messages.js';
import type { PeerTrace } from '../src/peer.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import type { Endpoint, EndpointHandlers } from '../src/transport/types.js';
import { createTestnet } from '../src/testnet.js';
import type { Testnet, TestnetOptions } from '../src/testnet.js';

const SEED = Number(process.env.SEED ?? 13);

interface World {
  net: Testnet;
  sim: SimNetwork;
  traces: PeerTrace[];
}

async function ring(opts: TestnetOptions = {}): Promise<World> {
  const sim = new SimNetwork({ seed: SEED });
  const net = await createTestnet({ runtime: 'sim', pingIntervalMs: 1000, perPeerDirs: true, replicas: 3, ...opts, sim });
  const traces: PeerTrace[] = [];
  net.on('trace', (t: PeerTrace) => traces.push(t));
  await net.run(3000);
  return { net, sim, traces };
}

/** The store folder of peer `id` (the data folder itself in the 8-bit space). */
const store = (net: Testnet, id: bigint | number) => (net.space.spec ? `data/peer-${id}` : `data/peer-${id}/store`);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();
const same = (a: Uint8Array | undefined, b: Uint8Array) => !!a && Buffer.from(a).equals(Buffer.from(b));
const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * seed + 11) & 255);

/** Lets the simulator run while an attacker's send is under way. */
async function sent(net: Testnet, p: Promise<unknown>, ms = 500): Promise<unknown> {
  const [r] = await Promise.all([p.then(() => 'delivered', (e: unknown) => e), net.run(ms)]);
  return r;
}

/** An attacker's endpoint: what it receives, and the transfers offered to it. */
async function attacker(net: Testnet, port: number, authId?: bigint): Promise<{ ep: Endpoint; me: Contact; got: Message[]; offered: FileBegin[] }> {
  const me: Contact = { id: authId ?? 200n, host: '10.66.0.1', port };
  const got: Message[] = [];
  const offered: FileBegin[] = [];
  const handlers: EndpointHandlers = {
    onMessage: (m) => void got.push(m),
    onBadInput: () => {},
    onFileOffer: (h) => {
      offered.push(h);
      return null;
    },
    onFileDone: () => {},
  };
  const dataDir = `evil-${port}`;
  const ep = await net.runtime.openEndpoint({ self: me, dataDir, ...(authId !== undefined ? { tls: { id: authId, keyPem: '', certPem: '', caPem: '' } } : {}) }, handlers);
  return { ep, me, got, offered };
}

/** Stores `name` from peer `at` and waits until `owner` holds it. */
async function storeFrom(w: World, at: number, name: string, bytes: Uint8Array, owner: number): Promise<void> {
  w.sim.disk.write(store(w.net, at), w.net.space.fileOf(name), bytes);
  w.net.peer(at)!.store(name);
  assert.ok(await w.net.until(() => same(w.sim.disk.read(store(w.net, owner), w.net.space.fileOf(name)), bytes), 5000), `${owner} holds ${name}`);
}

/** Requests `name` at peer `at`; resolves with what landed (or undefined). */
async function requestAt(w: World, at: number, name: string): Promise<Uint8Array | undefined> {
  const m = w.traces.length;
  w.net.peer(at)!.request(name);
  const ended = () => w.traces.slice(m).some((t) => t.id === BigInt(at) && ((t.trace.kind === 'receive' && t.trace.phase === 'done') || t.trace.kind === 'request-missing' || t.trace.kind === 'request-timeout'));
  assert.ok(await w.net.until(ended, 20_000), `the request for ${name} at ${at} ended`);
  return w.sim.disk.read(`data/peer-${at}`, w.net.space.receivedFileOf(name));
}

const notes = (w: World, id: number, since = 0) => w.traces.slice(since).filter((t) => t.id === BigInt(id) && t.trace.kind === 'note').map((t) => (t.trace as { text: string }).text);

test('an outsider speaking as a neighbour gets no want of its own, and can neither plant nor overwrite a name', async () => {
  const w = await ring();
  const { net, sim } = w;
  const evil = await attacker(net, 6001);
  const fourteen = net.contactOf(14); // 19's first predecessor: the neighbour it pretends to be
  const fake = bytesOf(500, 3);
  sim.disk.write('evil-6001', '2067.pdf', fake);
  // 1. offers of names in 19's range "from 14", before anyone stores them: the want goes to the
  // real 14 (under an id the attacker never sees), so no push of the attacker's is accepted
  const names = Array.from({ length: 128 }, (_, i) => String(19 + 256 * i).padStart(4, '0')).filter((n) => n.length === 4);
  for (let oid = 1; oid <= 40; oid++) {
    const keys = names.map((name) => ({ name, size: 500, sha256: sha(fake) }));
    void evil.ep.sendMessage(net.contactOf(19), { type: 'key-offer', from: fourteen, oid, keys }).catch(() => undefined);
  }
  await net.run(2000);
  for (const rid of [1, 2, 3, 40, 0]) {
    const h: FileBegin = { type: 'file-begin', from: fourteen, file: '2067', rid, purpose: 'replica', size: 500, sha256: sha(fake) };
    await sent(net, evil.ep.sendFile(net.contactOf(19), h, '2067.pdf'));
  }
  assert.equal(sim.disk.read(store(net, 19), '2067.pdf'), undefined, 'nothing planted at the owner');
  // 2. the genuine Store of 2067 wins, and a later push of the attacker's bytes changes nothing
  const genuine = bytesOf(500, 7);
  await storeFrom(w, 8, '2067', genuine, 19);
  for (const rid of [1, 2, 3]) {
    const h: FileBegin = { type: 'file-begin', from: fourteen, file: '2067', rid, purpose: 'replica', size: 500, sha256: sha(fake) };
    await sent(net, evil.ep.sendFile(net.contactOf(19), h, '2067.pdf'));
    await sent(net, evil.ep.sendFile(net.contactOf(2), h, '2067.pdf'));
  }
  assert.ok(await net.until(() => [19, 2, 4].every((id) => same(sim.disk.read(store(net, id), '2067.pdf'), genuine)), 15_000), 'the owner and its replicas hold the genuine bytes');
  assert.ok(same(await requestAt(w, 5, '2067'), genuine), 'a Request gets the genuine bytes');
  await net.close();
});

test('on a private ring a member plants no name at peers that do not hold its key, and the genuine Store wins', async () => {
  const w = await ring({ secure: true });
  const { net, sim } = w;
  const member = await attacker(net, 6002, 4n); // holds peer 4's certificate, from another address
  const planted = bytesOf(300, 5);
  sim.disk.write('evil-6002', '0017.pdf', planted);
  // key 17 is 19's (kept on 19, 2 and 4); 9 and 14 neither own it nor keep its replica (at the
  // owner, a copy of a name it does not hold would be no more than a Store of it by the member)
  for (const to of [9, 14, 5]) {
    const effects = await sent(net, member.ep.sendMessage(net.contactOf(to), { type: 'key-offer', from: member.me, oid: 77, keys: [{ name: '0017', size: 300, sha256: sha(planted) }] }));
    assert.equal(effects, 'delivered');
  }
  const wants = member.got.filter((m): m is Extract<Message, { type: 'key-want' }> => m.type === 'key-want');
  assert.equal(wants.length, 3);
  assert.ok(wants.every((x) => x.names.length === 0 && x.refused.includes('0017')), 'every peer refuses the name');
  for (const to of [9, 14, 5]) {
    for (const want of wants) {
      const h: FileBegin = { type: 'file-begin', from: member.me, file: '0017', rid: want.wid, purpose: 'replica', size: 300, sha256: sha(planted) };
      await sent(net, member.ep.sendFile(net.contactOf(to), h, '0017.pdf'));
    }
  }
  await net.run(16_000); // longer than a replication sync
  assert.deepEqual(net.runningIds().filter((id) => sim.disk.read(store(net, id), '0017.pdf') !== undefined), [], 'the name is nowhere');
  const genuine = bytesOf(300, 9);
  await storeFrom(w, 2, '0017', genuine, 19);
  assert.ok(same(await requestAt(w, 8, '0017'), genuine));
  await net.close();
});

test('a final request is answered only for names the key store holds: nothing outside the store is ever sent', async () => {
  const w = await ring({ bits: 16, count: 4 });
  const { net, sim } = w;
  const evil = await attacker(net, 6003);
  const [a] = net.runningIds();
  const dataDir = `data/peer-${a}`;
  sim.disk.write(dataDir, 'secret.txt', bytesOf(40, 1));
  sim.disk.write(dataDir, `peer-${a}.key`, bytesOf(40, 2));
  // dropped into the store folder by hand after the start: not a stored name either
  sim.disk.write(store(net, a!), 'dropped.txt', bytesOf(40, 3));
  const m = w.traces.length;
  for (const [i, file] of ['secret.txt', `peer-${a}.key`, 'dropped.txt'].entries()) {
    await sent(net, evil.ep.sendMessage(net.contactOf(a!), { type: 'file-request', requester: evil.me, file, rid: 100 + i, final: true, hops: 1, fallback: 200 }), 1000);
  }
  assert.deepEqual(evil.offered, [], 'no file offered to the asker');
  const missing = evil.got.filter((x) => x.type === 'file-missing').map((x) => (x as { file: string }).file);
  assert.equal(missing.length, 3, `told the file is missing (${missing.join(', ')})`);
  const served = w.traces.slice(m).filter((t) => t.trace.kind === 'serve' && t.trace.phase !== 'missing');
  assert.deepEqual(served, [], 'no peer served anything');
  // a forged fallback count walks no further than the ring's replicas
  const forwards = w.traces.slice(m).filter((t) => t.trace.kind === 'note' && /asking Peer .* which keeps a replica/.test((t.trace as { text: string }).text));
  assert.ok(forwards.length <= 3 * 2, `${forwards.length} fallbacks for 3 requests with k = 3`);
  await net.close();
});

test('a holder whose copy went bad does not pass it on: the requester refuses it and a replica serves the stored bytes', async () => {
  const w = await ring();
  const { net, sim } = w;
  const genuine = bytesOf(2000, 13);
  await storeFrom(w, 8, '2067', genuine, 19);
  assert.ok(await net.until(() => [2, 4].every((id) => same(sim.disk.read(store(net, id), '2067.pdf'), genuine)), 15_000), 'replicas in place');
  // behind the peer's back, the owner's file changes on disk
  sim.disk.write(store(net, 19), '2067.pdf', bytesOf(2000, 17));
  const m = w.traces.length;
  assert.ok(same(await requestAt(w, 5, '2067'), genuine), 'the requester got the stored bytes, not the changed ones');
  assert.ok(notes(w, 19, m).some((t) => /no longer matches what was stored/.test(t)), 'the owner found its copy changed');
  assert.ok(!net.peer(19)!.snapshot().files.some((f) => f.name === '2067'), 'and no longer serves it');
  await net.close();
});
