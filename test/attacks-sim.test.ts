// The protocol's own defences, tried as an attacker would on the simulator: forged successor
// changes and pongs, forged stores, acceptances and file offers, and (on a private ring) a
// member speaking for another. Each test checks the ring stays correct and no file changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { Message, RoutedMessage } from '../src/core/messages.js';
import type { PeerLine, PeerTrace } from '../src/peer.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import type { Endpoint, EndpointHandlers } from '../src/transport/types.js';
import { createTestnet } from '../src/testnet.js';
import type { Testnet, TestnetOptions } from '../src/testnet.js';
import { encodeFrame } from '../src/wire/index.js';

const SEED = Number(process.env.SEED ?? 11);

async function ring(opts: TestnetOptions = {}): Promise<{ net: Testnet; sim: SimNetwork; lines: PeerLine[] }> {
  const sim = opts.sim ?? new SimNetwork({ seed: SEED });
  const net = await createTestnet({ runtime: 'sim', pingIntervalMs: 1000, ...opts, sim });
  const lines: PeerLine[] = [];
  net.on('line', (l: PeerLine) => lines.push(l));
  await net.run(3000);
  return { net, sim, lines };
}

/** Lets the simulator run while an attacker's send is under way; resolves with its outcome. */
async function sent(net: Testnet, p: Promise<unknown>, ms = 500): Promise<unknown> {
  const [r] = await Promise.all([p.then(() => 'delivered', (e: unknown) => e), net.run(ms)]);
  return r;
}

const of = (lines: PeerLine[], id: number, since = 0) => lines.slice(since).filter((l) => l.id === BigInt(id)).map((l) => l.text);

/** An endpoint of the attacker's own on the simulated network (an outsider unless it holds a certificate). */
async function attacker(net: Testnet, port: number, authId?: bigint): Promise<{ ep: Endpoint; me: Contact; got: Message[] }> {
  const me: Contact = { id: 200n, host: '10.66.0.1', port };
  const got: Message[] = [];
  const handlers: EndpointHandlers = {
    onMessage: (m) => void got.push(m),
    onBadInput: () => {},
    onFileOffer: () => null,
    onFileDone: () => {},
  };
  const ep = await net.runtime.openEndpoint({ self: me, dataDir: 'evil', ...(authId !== undefined ? { tls: { id: authId, keyPem: '', certPem: '', caPem: '' } } : {}) }, handlers);
  return { ep, me, got };
}

test('a forged successor change naming a silent address cannot cut the ring', async () => {
  const { net, sim, lines } = await ring();
  const nine = net.contactOf(9);
  const silent = { id: 10n, host: '127.0.0.1', port: 1 };
  const forged: Message = { type: 'successor-change', from: nine, successors: [silent, { ...silent, id: 11n, port: 2 }] };
  const bytes = encodeFrame(forged);
  for (let i = 0; i < 5; i++) sim.deliverRaw(net.contactOf(8), bytes, 'tcp', { src: { host: '10.66.0.9', port: 4000 + i } });
  await net.run(10_000);
  assert.deepEqual(net.peer(8)!.snapshot().successors.slice(0, 2), [9n, 14n], '8 keeps its live successors');
  assert.deepEqual(net.staleIds(), []);
  // and a Request still finds 14's file
  sim.disk.write('data', '0014.pdf', Uint8Array.of(14));
  const m = lines.length;
  net.peer(2)!.request('0014');
  assert.ok(await net.until(() => of(lines, 2, m).includes('File 0014 received'), 5000), of(lines, 2, m).join('\n'));
  assert.ok(of(lines, 2, m).includes('Peer 14 had File 0014'));
  await net.close();
});

test('forged pongs do not keep a killed peer alive, nor hijack a first successor', async () => {
  const { net, sim, lines } = await ring({ sim: new SimNetwork({ seed: SEED, latencyMs: [1, 1] }) });
  const m = lines.length;
  await net.kill(14);
  const killedAt = sim.now();
  const fourteen = net.contactOf(14);
  // pongs "from 14" keep coming every 20 ms, from its own address and from elsewhere, with every seq an attacker might guess
  let seq = 0;
  const flood = () => {
    for (let i = 0; i < 20; i++, seq++) {
      const pong: Message = { type: 'pong', from: fourteen, seq, loud: false, successors: [net.contactOf(19)], pred: net.contactOf(9) };
      sim.deliverRaw(net.contactOf(9), encodeFrame(pong), 'udp', { src: seq % 2 ? fourteen : { host: '10.66.0.2', port: 9 } });
    }
    if (seq < 10_000) net.runtime.setTimer(20, flood);
  };
  flood();
  assert.ok(await net.until(() => of(lines, 9, m).includes('Peer 14 is no longer alive'), 10_000), 'the forged pongs kept 14 alive');
  const at = lines.find((l, i) => i >= m && l.id === 9n && l.text === 'Peer 14 is no longer alive')!.at;
  assert.ok(at - killedAt <= 2000, `detected after ${at - killedAt} ms`);
  // a pong "from 9" naming peer 2's address (which answers pings) as a closer predecessor
  const hijack: Message = { type: 'pong', from: net.contactOf(9), seq: 1, loud: false, successors: [], pred: { ...net.contactOf(2), id: 8n } };
  for (let i = 0; i < 50; i++) sim.deliverRaw(net.contactOf(8), encodeFrame(hijack), 'udp', { src: net.contactOf(9) });
  await net.run(5000);
  assert.deepEqual(net.peer(8)!.snapshot().successors.slice(0, 2), [9n, 19n]);
  assert.deepEqual(net.staleIds(), []);
  await net.close();
});

test('forged acceptances, offers and stores move no file where it was not asked for', async () => {
  const { net, sim, lines } = await ring({ perPeerDirs: true, maxFileBytes: 10_000 });
  const original = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
  sim.disk.write('data/peer-8', '2067.pdf', original);
  const evil = await attacker(net, 6666);
  // 1. a store-accepted for a store 8 never started: 8 uploads nothing
  const before = sim.stats().filesSent;
  await sent(net, evil.ep.sendMessage(net.contactOf(8), { type: 'store-accepted', from: evil.me, file: '2067', storeId: 'x' }));
  assert.equal(sim.stats().filesSent, before, 'no upload for a store this peer did not start');
  // 2. a real store, then the attacker offers its own bytes as the copy: refused (not the origin)
  let m = lines.length;
  net.peer(8)!.store('2067');
  assert.ok(await net.until(() => of(lines, 19, m).includes('File 2067 stored here'), 5000));
  assert.deepEqual(sim.disk.read('data/peer-19', '2067.pdf'), original);
  sim.disk.write('evil', '2067.pdf', new Uint8Array(300).fill(0xee));
  const header = { type: 'file-begin', from: evil.me, file: '2067', rid: 0, purpose: 'store', size: 300 } as const;
  await sent(net, evil.ep.sendFile(net.contactOf(19), header, '2067.pdf'));
  // 3. the attacker starts a store of its own for 2067 and pushes: the name is taken, nothing changes
  await sent(net, evil.ep.sendMessage(net.contactOf(19), { type: 'store', origin: evil.me, file: '2067', final: true, hops: 1 }));
  await sent(net, evil.ep.sendFile(net.contactOf(19), { ...header, from: evil.me }, '2067.pdf'));
  assert.deepEqual(sim.disk.read('data/peer-19', '2067.pdf'), original, 'the owner\'s copy never changes');
  // 4. a forged "final" store sent to a non-owner plants nothing there
  sim.disk.write('evil', '0009.pdf', Uint8Array.of(9, 9));
  await sent(net, evil.ep.sendMessage(net.contactOf(4), { type: 'store', origin: evil.me, file: '0009', final: true, hops: 1 }));
  assert.ok(!of(lines, 4).includes('Store 0009 request accepted'), '4 does not own key 9');
  // 5. an offer of 1 GiB is refused before a byte is written
  await sent(net, evil.ep.sendMessage(net.contactOf(9), { type: 'store', origin: evil.me, file: '0007', final: false, hops: 1 }));
  sim.disk.write('evil', '0007.pdf', new Uint8Array(20_000));
  await sent(net, evil.ep.sendFile(net.contactOf(8), { type: 'file-begin', from: evil.me, file: '0007', rid: 0, purpose: 'store', size: 20_000 }, '0007.pdf'));
  assert.equal(sim.disk.read('data/peer-8', '0007.pdf'), undefined, 'larger than --max-file-size');
  // 6. during a real Request, offers with guessed request ids are refused and the genuine bytes land
  m = lines.length;
  net.peer(2)!.request('2067');
  for (let rid = 1; rid <= 200; rid++) {
    void evil.ep.sendFile(net.contactOf(2), { type: 'file-begin', from: evil.me, file: '2067', rid, purpose: 'request', size: 300 }, '2067.pdf').catch(() => undefined);
  }
  assert.ok(await net.until(() => of(lines, 2, m).includes('File 2067 received'), 5000), of(lines, 2, m).join('\n'));
  assert.deepEqual(sim.disk.read('data/peer-2', 'received_2067.pdf'), original);
  await net.close();
});

test('on a private ring a member cannot speak for another, and outsiders are refused', async () => {
  const { net, sim, lines } = await ring({ secure: true });
  // peer 4's certificate, used to forge 9's successor change and 14's departure
  const member = await attacker(net, 7777, 4n);
  const m = lines.length;
  const dropped: PeerTrace[] = [];
  net.on('trace', (t: PeerTrace) => void (t.trace.kind === 'dropped' && dropped.push(t)));
  await sent(net, member.ep.sendMessage(net.contactOf(8), { type: 'successor-change', from: net.contactOf(9), successors: [net.contactOf(5)] }));
  await sent(net, member.ep.sendMessage(net.contactOf(9), { type: 'depart', from: net.contactOf(14), successors: [net.contactOf(2)] }), 3000);
  assert.ok(!of(lines, 8, m).includes('Successor Change request received'));
  assert.ok(!of(lines, 9, m).includes('Peer 14 will depart from the network'));
  // each forgery is one typed trace at the peer it was sent to, and its debug line
  assert.deepEqual(
    dropped.map(({ id, trace }) => ({ id, trace })),
    [
      { id: 8n, trace: { kind: 'dropped', message: 'successor-change', from: 9n, reason: 'sent by Peer 4' } },
      { id: 9n, trace: { kind: 'dropped', message: 'depart', from: 14n, reason: 'sent by Peer 4' } },
    ],
  );
  assert.ok(of(lines, 8, m).includes('Dropped a successor change claiming to be from Peer 9: sent by Peer 4'));
  assert.ok(of(lines, 9, m).includes('Dropped a departure claiming to be from Peer 14: sent by Peer 4'));
  assert.deepEqual(net.staleIds(), []);
  // an outsider (no certificate) cannot even deliver
  const outsider = await attacker(net, 7778);
  const refused = await sent(net, outsider.ep.sendMessage(net.contactOf(8), { type: 'join', joiner: outsider.me, hops: 0 }));
  assert.match(String(refused), /certificate|TLS/);
  assert.ok(sim.stats().messagesFailed > 0);
  // members still store and request
  sim.disk.write('data', '4103.pdf', Uint8Array.of(4, 1, 0, 3));
  net.peer(2)!.request('4103');
  assert.ok(await net.until(() => of(lines, 2, m).includes('File 4103 received'), 5000));
  await net.close();
});

test('on a private ring a member cannot speak for another at any hop: unsigned, forged, tampered, foreign, replayed and stale proofs', async () => {
  const { net, sim, lines } = await ring({ secure: true, perPeerDirs: true });
  sim.disk.write('data/peer-8', '4103.pdf', new Uint8Array(50_000).fill(7));
  const member = await attacker(net, 7779, 4n);
  const nine = net.contactOf(9);
  const store: RoutedMessage = { type: 'store', origin: nine, file: '0159', final: true, hops: 3 };
  const request = (rid: number): RoutedMessage => ({ type: 'file-request', requester: nine, file: '4103', rid, final: true, hops: 3, fallback: 0 });
  // what the notary hands the endpoint holding `by`'s certificate: the harness stands in for a
  // proof 9 really made (captured on the way), or for member 4's own, or another ring's member's
  const proofBy = <M extends RoutedMessage>(msg: M, by: bigint, ring = '') => sim.notary.sign(msg, by, ring, sim.now());
  const filesBefore = sim.stats().filesSent;
  const dropped = async (id: number, since: number, why: RegExp) => {
    assert.ok(await net.until(() => of(lines, id, since).some((l) => /^Dropped/.test(l)), 5000), `a line at ${id}`);
    const drops = of(lines, id, since).filter((l) => /^Dropped/.test(l));
    assert.equal(drops.length, 1, drops.join(' | '));
    assert.match(drops[0]!, why);
  };
  const attempts: [(rid: number) => [RoutedMessage, RoutedMessage], RegExp][] = [
    [(rid) => [store, request(rid)], /claiming to come from Peer 9: it carries no origin proof/],
    [(rid) => [proofBy(store, 4n), proofBy(request(rid), 4n)], /signed by Peer 4/],
    [(rid) => [{ ...proofBy(store, 9n), file: '2012' }, { ...proofBy(request(rid), 9n), rid: rid + 1 }], /refused \(the signature does not match\)/],
    [(rid) => [proofBy(store, 9n, 'another ring'), proofBy(request(rid), 9n, 'another ring')], /refused \(its certificate is not signed by this ring's authority\)/],
    [(rid) => [{ ...store, proof: { at: sim.now(), nonce: 1, cert: Uint8Array.of(1), sig: Uint8Array.of(1, 2, 3) } }, { ...request(rid), proof: { at: sim.now(), nonce: 2, cert: Uint8Array.of(1), sig: Uint8Array.of(4) } }], /refused \(the signature does not match\)/],
  ];
  let rid = 500;
  for (const [make, why] of attempts) {
    const [s, r] = make(rid++);
    let m = lines.length;
    await sent(net, member.ep.sendMessage(net.contactOf(2), s));
    await dropped(2, m, why);
    m = lines.length;
    await sent(net, member.ep.sendMessage(net.contactOf(8), r));
    await dropped(8, m, why);
  }
  // the same bytes injected raw (no endpoint at all) fare no better
  let m = lines.length;
  sim.deliverRaw(net.contactOf(8), encodeFrame({ ...request(rid++), proof: { at: sim.now(), nonce: 3, cert: Uint8Array.of(1), sig: Uint8Array.of(9) } }), 'tcp', { authId: 4n });
  await dropped(8, m, /signature does not match/);
  // a relay drops it as well: unsigned, on its way from 5 towards 19
  m = lines.length;
  await sent(net, member.ep.sendMessage(net.contactOf(5), { type: 'store', origin: nine, file: '2067', final: false, hops: 3 }));
  await dropped(5, m, /it carries no origin proof/);
  // a proof of 9's is acted on once; replayed with other hop counts it is dropped
  const genuine = proofBy(store, 9n);
  m = lines.length;
  await sent(net, member.ep.sendMessage(net.contactOf(2), genuine));
  assert.ok(await net.until(() => of(lines, 2, m).includes('Store 0159 request accepted'), 5000));
  for (const hops of [4, 9]) {
    const r = lines.length;
    await sent(net, member.ep.sendMessage(net.contactOf(2), { ...genuine, hops }));
    await dropped(2, r, /a replay of an origin proof already acted on/);
  }
  assert.equal(of(lines, 2, m).filter((l) => l === 'Store 0159 request accepted').length, 1);
  // a proof of 9's request captured now and played six minutes later is stale
  const captured = proofBy(request(rid++), 9n);
  await net.run(6 * 60_000);
  m = lines.length;
  await sent(net, member.ep.sendMessage(net.contactOf(8), captured));
  await dropped(8, m, /stale \(360 s old\)/);
  // no file went anywhere, 9 was offered none, and the honest ring works
  assert.equal(sim.stats().filesSent, filesBefore, 'no file sent to 9');
  assert.ok(!of(lines, 8).some((l) => l.startsWith('Sending file 4103 to Peer 9')));
  assert.deepEqual(net.staleIds(), []);
  sim.disk.write('data/peer-4', '2067.pdf', Uint8Array.of(2, 0, 6, 7));
  m = lines.length;
  net.peer(4)!.store('2067');
  assert.ok(await net.until(() => of(lines, 19, m).includes('File 2067 stored here'), 5000), of(lines, 19, m).join('\n'));
  m = lines.length;
  net.peer(9)!.request('4103');
  assert.ok(await net.until(() => of(lines, 9, m).includes('File 4103 received'), 5000), of(lines, 9, m).join('\n'));
  assert.deepEqual(sim.disk.read('data/peer-9', 'received_4103.pdf'), new Uint8Array(50_000).fill(7));
  await net.close();
});

test('bad input is one debug line per source per minute, and the peer keeps serving', async () => {
  const { net, sim, lines } = await ring();
  const m = lines.length;
  const garbage = Uint8Array.of(0, 0, 0, 3, 9, 9, 9);
  const a = { host: '10.66.0.7', port: 1000 };
  const b = { host: '10.66.0.8', port: 1000 };
  for (let i = 0; i < 50; i++) {
    sim.deliverRaw(net.contactOf(8), garbage, 'udp', { src: a });
    sim.deliverRaw(net.contactOf(8), garbage, 'tcp', { src: b });
  }
  const dropped = () => lines.slice(m).filter((l) => l.id === 8n && l.level === 'debug' && l.text.startsWith('Dropped bad input')).length;
  assert.equal(dropped(), 2, 'one line for each of the two sources');
  await net.run(61_000);
  sim.deliverRaw(net.contactOf(8), garbage, 'udp', { src: a });
  assert.equal(dropped(), 3, 'a minute later the same source gets a line again');
  assert.deepEqual(net.staleIds(), []);
  await net.close();
});

test('forged joins print nothing at the specification\'s level, and change no successor', async () => {
  const { net, sim, lines } = await ring();
  const m = lines.length;
  const nineteen = net.contactOf(19);
  for (let i = 0; i < 200; i++) {
    // a joiner at an address nobody answers at, and one "at" peer 19's address under another id
    const silent: Message = { type: 'join', joiner: { id: 15n, host: '10.66.0.3', port: 5000 + i }, hops: i % 2 };
    const borrowed: Message = { type: 'join', joiner: { id: 16n, host: nineteen.host, port: nineteen.port }, hops: 0 };
    sim.deliverRaw(net.contactOf(14), encodeFrame(silent), 'tcp', { src: { host: '10.66.0.3', port: 5000 + i } });
    sim.deliverRaw(net.contactOf(14), encodeFrame(borrowed), 'tcp', { src: { host: '10.66.0.3', port: 7000 + i } });
  }
  await net.run(5000);
  const info = lines.slice(m).filter((l) => l.level === 'info' && /Join request|successor is Peer/.test(l.text));
  assert.deepEqual(info.map((l) => `[${l.id}] ${l.text}`), []);
  assert.deepEqual(net.peer(14)!.snapshot().successors.slice(0, 2), [19n, 2n]);
  assert.deepEqual(net.staleIds(), []);
  await net.close();
});

test('commands typed while a peer starts wait, and each one past the cap gets a line', async () => {
  const sim = new SimNetwork({ seed: SEED });
  const net = await createTestnet({ runtime: 'sim', pingIntervalMs: 1000, sim });
  await net.run(2000);
  const peer = net.start({ id: 16, mode: { kind: 'join', known: 14 } });
  const said: string[] = [];
  peer.on('line', (l: PeerLine) => said.push(l.text));
  for (let i = 0; i < 80; i++) peer.request(String(i).padStart(4, '0'));
  const refused = said.filter((t) => t.startsWith('Still starting:'));
  assert.equal(refused.length, 16, 'one line for each of the 16 past the 64 that wait');
  assert.match(refused[0]!, /'Request 0064' was not taken/);
  await net.close();
});
