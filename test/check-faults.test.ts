// The fault simulator: each fault on the network itself (pauses, duplicates, reordering), then
// with real peers: a pause is a false death that heals, a partition that heals leaves one ring,
// duplicates and reordering change nothing, one seed gives one run, and a Request that fails at a
// checkpoint fails the seed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import { defaultContact } from '../src/space.js';
import type { Message } from '../src/core/messages.js';
import { checkRing } from '../src/check/invariants.js';
import { CheckWorld, runScenario } from '../src/check/run.js';
import { generate, NORMAL_LATENCY, type Scenario } from '../src/check/scenario.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import type { Endpoint } from '../src/transport/types.js';

interface Probe {
  c: Contact;
  ep: Endpoint;
  got: { msg: Message; at: number }[];
}

async function endpoint(net: SimNetwork, id: number): Promise<Probe> {
  const c = defaultContact(BigInt(id));
  const got: Probe['got'] = [];
  const ep = await net.runtime(c).openEndpoint({ self: c, dataDir: `d${id}` }, {
    onMessage: (msg) => got.push({ msg, at: net.now() }),
    onBadInput: () => {},
    onFileOffer: () => null,
    onFileDone: () => {},
  });
  return { c, ep, got };
}

const ping = (from: Contact, seq: number): Message => ({ type: 'ping', from, seq, role: 1, loud: false });
const query = (from: Contact, qid: number): Message => ({ type: 'successor-query', from, qid });

test('a paused endpoint runs nothing: its timers wait, datagrams to it are lost, TCP waits for the resume', async () => {
  const net = new SimNetwork({ seed: 1, latencyMs: [2, 2], connectTimeoutMs: 3000 });
  const a = await endpoint(net, 1);
  const b = await endpoint(net, 2);
  const fired: [string, number][] = [];
  net.runtime(b.c).setTimer(100, () => fired.push(['b', net.now()]));
  net.runtime(a.c).setTimer(100, () => fired.push(['a', net.now()]));
  assert.ok(net.pause(b.c));
  assert.ok(!net.pause(b.c), 'already paused');
  a.ep.sendDatagram(b.c, ping(a.c, 1));
  let resolvedAt = -1;
  const sent = a.ep.sendMessage(b.c, query(a.c, 7)).then(() => (resolvedAt = net.now()));
  await net.runFor(1000);
  assert.deepEqual(fired, [['a', 100]], 'only the running endpoint\'s timer fired');
  assert.equal(b.got.length, 0);
  assert.equal(resolvedAt, -1, 'no acknowledgement while paused');
  assert.ok(net.resume(b.c));
  await net.runFor(10);
  await sent;
  assert.deepEqual(fired, [['a', 100], ['b', 1000]], 'the paused timer fires late, at the resume');
  assert.deepEqual(b.got.map((g) => [g.msg.type, g.at]), [['successor-query', 1000]], 'the datagram was lost, the TCP message waited');
  assert.equal(resolvedAt, 1000);
});

test('a pause longer than the connect timeout fails the sender, and the message still arrives on resume (at least once)', async () => {
  const net = new SimNetwork({ seed: 2, latencyMs: [2, 2], connectTimeoutMs: 3000 });
  const a = await endpoint(net, 1);
  const b = await endpoint(net, 2);
  net.pause(b.c);
  let failedAt = -1;
  const sent = a.ep.sendMessage(b.c, query(a.c, 9)).catch(() => (failedAt = net.now()));
  await net.runFor(5000);
  await sent;
  assert.equal(failedAt, 3000);
  net.resume(b.c);
  await net.runFor(1);
  assert.equal(b.got.length, 1);
});

test('a paused endpoint that is killed takes what waited for it along', async () => {
  const net = new SimNetwork({ seed: 3 });
  const b = await endpoint(net, 2);
  let fired = false;
  net.runtime(b.c).setTimer(10, () => (fired = true));
  net.pause(b.c);
  await net.runFor(100);
  assert.ok(net.kill(b.c));
  assert.ok(!net.isPaused(b.c));
  assert.ok(!net.resume(b.c));
  await net.runFor(100);
  assert.equal(fired, false);
});

test('duplicates: every datagram and TCP message arrives twice, the send settles once', async () => {
  const net = new SimNetwork({ seed: 4, duplicateRate: 1 });
  const a = await endpoint(net, 1);
  const b = await endpoint(net, 2);
  a.ep.sendDatagram(b.c, ping(a.c, 1));
  let settled = 0;
  const sent = a.ep.sendMessage(b.c, query(a.c, 2)).then(() => settled++);
  await net.runFor(100);
  await sent;
  assert.deepEqual(b.got.map((g) => g.msg.type).sort(), ['ping', 'ping', 'successor-query', 'successor-query']);
  assert.equal(settled, 1);
});

test('reordering: TCP messages on one pair may overtake each other', async () => {
  const net = new SimNetwork({ seed: 5, latencyMs: [1, 50], reorderRate: 1 });
  const a = await endpoint(net, 1);
  const b = await endpoint(net, 2);
  for (let qid = 0; qid < 30; qid++) void a.ep.sendMessage(b.c, query(a.c, qid));
  await net.runFor(200);
  const order = b.got.map((g) => (g.msg.type === 'successor-query' ? g.msg.qid : -1));
  assert.equal(order.length, 30);
  assert.notDeepEqual(order, [...order].sort((x, y) => x - y));
});

/** A world of real peers on the simulator, settled, with no scheduled steps. */
async function world(ids: number[], net: Partial<Scenario['net']> = {}, seed = 11): Promise<CheckWorld> {
  const w = new CheckWorld({ seed, ids, net: { codec: true, latencyMs: [...NORMAL_LATENCY], duplicateRate: 0, reorderRate: 0, ...net }, steps: [] }, { peers: ids.length });
  await w.start();
  await w.sim.runFor(4000);
  assert.equal(checkRing(w.view([])), undefined, 'the first ring settles');
  return w;
}

/** Runs until the structure holds (true) or maxMs pass. */
async function settles(w: CheckWorld, maxMs: number): Promise<boolean> {
  return w.sim.runUntil(() => w.unsettled().length === 0 && !checkRing(w.view([])), maxMs);
}

test('a pause is a false death that heals: declared dead, then back in the ring where it was', async () => {
  const w = await world([10, 40, 70, 100, 130, 200]);
  const deaths: string[] = [];
  w.peers.get(40)!.on('trace', (t) => t.trace.kind === 'peer-dead' && deaths.push(String(t.trace.peer)));
  const paused = w.peers.get(70)!;
  assert.ok(w.sim.pause(paused.self));
  await w.sim.runFor(6000);
  assert.ok(deaths.includes('70'), '40 declared the paused 70 dead');
  assert.notEqual(w.peers.get(40)!.snapshot().successors[0], 70n, '40 went round it');
  w.sim.resume(paused.self);
  assert.ok(await settles(w, 20_000), `the ring heals: ${checkRing(w.view([]))?.detail}`);
  assert.ok(paused.isInRing, 'the same process, never restarted');
  assert.deepEqual(w.peers.get(40)!.snapshot().successors.slice(0, 2), [70n, 100n]);
});

test('a partition that heals leaves one ring, every list whole', async () => {
  const w = await world([10, 40, 70, 100, 130, 200]);
  const side = [40, 70, 100].map((id) => `127.0.0.1:${20_000 + id}`);
  const rest = [10, 130, 200].map((id) => `127.0.0.1:${20_000 + id}`);
  w.sim.partition(side, rest);
  await w.sim.runFor(8000);
  assert.deepEqual(w.peers.get(10)!.snapshot().successors, [130n, 200n], 'each side made a ring of its own');
  w.sim.heal();
  assert.ok(await settles(w, 30_000), `one ring again: ${checkRing(w.view([]))?.detail}`);
});

test('duplicates and reordering change nothing: the same schedule keeps every invariant with them', async () => {
  const base = generate(3, { peers: 8, quietMs: 4000 });
  for (const net of [{ duplicateRate: 0, reorderRate: 0 }, { duplicateRate: 0.2, reorderRate: 0.5 }]) {
    const r = await runScenario({ ...base, net: { ...base.net, ...net } }, { peers: 8 });
    assert.equal(r.failure, undefined, `with ${JSON.stringify(net)}: ${r.failure?.invariant}: ${r.failure?.detail}`);
    assert.ok(r.checkpoints >= 2 && r.requests > 0);
  }
});

test('one seed gives one run: the same events, the same end', async () => {
  const sc = generate(42, { peers: 8, quietMs: 4000 });
  const a = await runScenario(sc, { peers: 8 });
  const b = await runScenario(sc, { peers: 8 });
  assert.deepEqual(a, b);
  assert.ok(a.events > 1000);
  const c = await runScenario(generate(43, { peers: 8, quietMs: 4000 }), { peers: 8 });
  assert.notEqual(c.events, a.events);
});

test('requests: a Request that cannot be answered at a checkpoint fails the seed', async () => {
  const w = await world([10, 40, 70, 100]);
  assert.ok(w.store(40, '0090', 500)); // key 90: owner 100
  await w.sim.runFor(3000);
  await w.requestAll(['0090'], 10);
  assert.equal(w.failure, undefined);
  // the next transfer breaks midway: the requester sees it fail
  w.sim.failNextTransfer();
  await w.requestAll(['0090'], 10);
  const failure = w.failure as { invariant: string; detail: string } | undefined;
  assert.equal(failure?.invariant, 'requests');
  assert.match(failure!.detail, /Request 0090 at Peer 10: the transfer from Peer 100 failed/);
});
