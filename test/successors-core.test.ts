// Unit tests of src/core/membership/successors.ts through one PeerCore driven by hand: the list
// holds no self, no duplicate, no dead peer, at most r, in ring order; contacts others name enter
// only once they answer a ping; a successor-change counts only from the first successor, a
// successor-reply only from the peer asked with the query's id; a message never leaves the list
// shorter; a first successor found dead by our own probes is replaced through the next one; with
// every successor gone the peer looks for the ring through the nearest peer it knows, and says it
// is alone only when it knows no one. The spec's 8-bit space, a clock moved by hand, no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageOf } from '../src/core/messages.js';
import { HandCore, peer } from './helpers/hand-core.js';

const RING = [1, 8, 14, 21, 32];
const toId = (s: { to: { id?: bigint } }) => Number(s.to.id);
const succ = (c: HandCore) => c.core.snapshot().successors.map(Number);

/** Moves the clock `ms` on, the predecessors pinging once a second as a settled ring's do. */
function probes(c: HandCore, ms: number): void {
  for (let t = 0; t < ms; t += 1000) {
    c.run(1000);
    c.heartbeat();
  }
}

/** The last ping sent to `id` since `since`, left unanswered (the peer muted) so the test answers it. */
function lastPingTo(c: HandCore, id: number, since: number): MessageOf<'ping'> {
  const pings = c.sentOf('ping', since).filter((s) => toId(s) === id);
  assert.ok(pings.length > 0, `a ping to ${id}`);
  return pings[pings.length - 1]!.msg;
}

test('init: the list takes no self, one entry per id (the first given wins), in ring order, at most r', () => {
  const given = [peer(21), peer(8), { ...peer(14), port: 4444 }, peer(14), peer(32), peer(1), peer(4)];
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 3, mode: { kind: 'init', successors: given } } });
  assert.deepEqual(succ(c), [14, 21, 32]);
  assert.equal(c.core.members().find((m) => m.id === 14n)!.port, 4444, 'the first contact given for an id is kept');
});

test('successor-change: taken only from the first successor, and only the named peers that answer enter', () => {
  const c = new HandCore({ id: 8, ring: [...RING, 11] });
  assert.deepEqual(succ(c), [11, 14]);
  const emark = c.effects.length;
  // Peer 14, not our first successor, says it has a new list: ignored
  c.receive({ type: 'successor-change', from: peer(14), successors: [peer(9), peer(10)] });
  c.run(1000);
  assert.deepEqual(succ(c).slice(0, 2), [11, 14]);
  assert.deepEqual(c.tracesOf('successor-change-received', emark), []);
  // our first successor adopted a joiner (12, which answers) and names a peer that does not (13)
  c.setRing([...RING, 11, 12]);
  c.receive({ type: 'successor-change', from: peer(11), successors: [peer(12), peer(13), peer(14)] });
  c.run(1000);
  assert.deepEqual(c.tracesOf('successor-change-received', emark).map((t) => t.from), [11n]);
  assert.deepEqual(succ(c).slice(0, 3), [11, 12, 14]);
  assert.ok(!succ(c).includes(13), 'a named peer that does not answer stays out');
  assert.deepEqual(c.tracesOf('successor', emark).map((t) => [t.nth, t.peer]), [[1, 11n], [2, 12n]]);
});

test('a message never leaves the list shorter: a successor-change naming nothing that answers changes nothing', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 3 } });
  probes(c, 2000); // the tail fills from the first successor's pongs
  assert.deepEqual(succ(c), [14, 21, 32]);
  c.receive({ type: 'successor-change', from: peer(14), successors: [peer(66), peer(77)] });
  probes(c, 2000);
  assert.deepEqual(succ(c), [14, 21, 32]);
  c.receive({ type: 'successor-change', from: peer(14), successors: [] });
  assert.deepEqual(succ(c), [14, 21, 32]);
});

test('a first successor our probes find dead is replaced: the next is asked, and only its own reply with the query\'s id counts', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 2 } });
  probes(c, 2000);
  assert.deepEqual(succ(c).slice(0, 2), [14, 21]);
  c.mute.add(14);
  const mark = c.sent.length;
  const emark = c.effects.length;
  for (let i = 0; i < 40 && c.tracesOf('peer-dead', emark).length === 0; i++) c.run(50);
  assert.deepEqual(c.tracesOf('peer-dead', emark).map((t) => t.peer), [14n]);
  assert.deepEqual(succ(c), [21], 'at the moment of death the list is short, until the reply fills it');
  const queries = c.sentOf('successor-query', mark);
  assert.deepEqual(queries.map(toId), [21], 'the next successor is asked for its list');
  const qid = queries[0]!.msg.qid;
  const before = succ(c);
  // a reply with another id, or from another peer with the right id: ignored
  c.receive({ type: 'successor-reply', from: peer(21), qid: qid + 1, successors: [peer(32), peer(1)] });
  c.receive({ type: 'successor-reply', from: peer(32), qid, successors: [peer(32), peer(1)] });
  assert.deepEqual(succ(c), before);
  c.receive({ type: 'successor-reply', from: peer(21), qid, successors: [peer(32), peer(1)] });
  assert.deepEqual(succ(c).slice(0, 2), [21, 32]);
  assert.ok(c.tracesOf('successor', emark).some((t) => t.nth === 2 && t.peer === 32n), 'the new second successor is printed');
  // the same reply again (a replay) is not taken twice: its query is spent
  c.setRing([1, 8, 21, 30, 32]);
  c.receive({ type: 'successor-reply', from: peer(21), qid, successors: [peer(30)] });
  assert.deepEqual(succ(c), [21, 32]);
});

/** The next probe's ping to Peer 14 is answered by the test with a pong naming `pred` as 14's predecessor. */
function pongOf14Naming(c: HandCore, pred: number): void {
  c.mute.add(14);
  const mark = c.sent.length;
  c.run(c.timerAt('ping')! - c.now); // up to the probe, no further: 14's ping is not overdue
  c.mute.delete(14);
  const ping = lastPingTo(c, 14, mark);
  c.receive({ type: 'pong', from: peer(14), seq: ping.seq, loud: false, successors: [peer(21), peer(32)], pred: peer(pred) }, 'udp');
}

test('stabilization: the first successor\'s pong naming a peer between us is taken once that peer answers; one that does not is not', () => {
  const c = new HandCore({ id: 8, ring: RING });
  probes(c, 1000);
  // 14's pong names 11 as its predecessor; 11 does not answer
  pongOf14Naming(c, 11);
  probes(c, 3000);
  assert.deepEqual(succ(c).slice(0, 2), [14, 21], 'an answer can make us look, never make us believe');
  // now 11 has joined for real and answers
  c.setRing([...RING, 11]);
  const emark = c.effects.length;
  pongOf14Naming(c, 11);
  assert.deepEqual(succ(c).slice(0, 2), [11, 14]);
  assert.deepEqual(c.tracesOf('successor', emark).map((t) => [t.nth, t.peer]), [[1, 11n], [2, 14n]]);
});

test('every successor gone: the peer looks for the ring through the nearest peer clockwise it knows, and says so once', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 2 } }); // r = 2: no tail to fall back on
  probes(c, 2000);
  c.mute.add(14);
  c.mute.add(21);
  const mark = c.sent.length;
  const emark = c.effects.length;
  probes(c, 4000);
  // known: predecessors 1 and 32; clockwise from 8, 32 is the nearer
  assert.deepEqual(c.tracesOf('rejoining', emark).map((t) => t.via), [32n]);
  assert.ok(c.sentOf('successor-query', mark).some((s) => toId(s) === 32));
  assert.deepEqual(c.tracesOf('alone', emark), [], 'not alone while it knows another peer');
  assert.deepEqual(succ(c), []);
  assert.equal(c.core.nextHop(20n)?.to, 32n, 'lost, a key beyond its own range goes to the peer it asks, not taken here');
  assert.equal(c.core.nextHop(5n), null, 'a key in its own range stays');
});

test('a peer that knew only one other, which died, says once that it is alone and keeps asking it, less and less often', () => {
  const c = new HandCore({ id: 8, ring: [8, 14] });
  probes(c, 2000);
  c.mute.add(14);
  const emark = c.effects.length;
  const mark = c.sent.length;
  probes(c, 400_000);
  assert.equal(c.tracesOf('alone', emark).length, 1, 'said once');
  const asks = c.sentOf('successor-query', mark).filter((s) => toId(s) === 14).length;
  assert.ok(asks >= 3, `it keeps asking: ${asks}`);
  assert.ok(asks <= 20, `with a pause that doubles up to a minute: ${asks} asks in 400 s`);
  // and 14 answering again brings it back
  c.mute.delete(14);
  probes(c, 130_000);
  assert.deepEqual(succ(c), [14]);
});

test('a successor declared dead that answers again (a false alarm) is taken back in its place', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { successors: 2 } });
  probes(c, 2000);
  c.mute.add(14);
  const emark = c.effects.length;
  probes(c, 3000);
  assert.deepEqual(c.tracesOf('peer-dead', emark).map((t) => t.peer), [14n]);
  assert.deepEqual(succ(c), [21, 32]);
  c.mute.delete(14);
  probes(c, 10_000);
  assert.deepEqual(succ(c), [14, 21], 'the ghost answered a probe of ours and is back');
});
