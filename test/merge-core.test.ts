// Unit tests of src/core/membership/merge.ts through one PeerCore driven by hand: about once per
// MERGE_EVERY_MS (±25%, on the hand clock) the peer asks a peer it remembers, never a current
// successor, who owns the key just after its own id; an answer changes something only when it
// names a peer between us and our first successor, and only once that peer answers a ping of ours.
// The spec's 8-bit space, r = 2 (so remembered peers lie beyond the successors), no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MERGE_EVERY_MS } from '../src/core/membership/merge.js';
import type { MessageOf } from '../src/core/messages.js';
import { HandCore, peer } from './helpers/hand-core.js';

const RING = [1, 8, 14, 21, 32];
const toId = (s: { to: { id?: bigint } }) => Number(s.to.id);
const succ = (c: HandCore) => c.core.snapshot().successors.map(Number);

/** Peer 8 with successors 14 and 21; it remembers its predecessors 1 and 32 (they answered its checks). */
const hand = () => new HandCore({ id: 8, ring: RING, config: { successors: 2 } });

/** The merge questions (a lookup of key 9, our id + 1) sent since `since`, with when they went. */
function questions(c: HandCore, since: number): { to: number; msg: MessageOf<'lookup'> }[] {
  return c.sentOf('lookup', since).filter((s) => s.msg.key === 9n).map((s) => ({ to: toId(s), msg: s.msg }));
}

/** Probe by probe (the predecessors pinging), until the next merge question or `maxMs`. */
function untilAsked(c: HandCore, maxMs: number): { to: number; msg: MessageOf<'lookup'>; at: number } | undefined {
  for (let t = 0; t < maxMs; t += 1000) {
    const mark = c.sent.length;
    c.run(1000);
    c.heartbeat();
    const [q] = questions(c, mark);
    if (q) return { ...q, at: c.now };
  }
  return undefined;
}

test('one question per interval (±25%), to the remembered peers in turn, never to a current successor', () => {
  const c = hand();
  const asked: { to: number; at: number }[] = [];
  let last = 0;
  while (c.now < 400_000) {
    const q = untilAsked(c, 400_000 - c.now);
    if (!q) break;
    assert.ok(q.at - last >= 0.75 * MERGE_EVERY_MS - 1000, `${q.at - last} ms after the last question`);
    assert.ok(q.at - last <= 1.25 * MERGE_EVERY_MS + 1000, `${q.at - last} ms after the last question`);
    last = q.at;
    asked.push(q);
  }
  assert.ok(asked.length >= 10 && asked.length <= 18, `${asked.length} questions in 400 s`);
  assert.ok(asked.every((q) => q.to === 1 || q.to === 32), `only remembered non-successors: ${asked.map((q) => q.to)}`);
  assert.ok(asked.some((q) => q.to === 1) && asked.some((q) => q.to === 32), 'each in turn');
});

test('an answer naming our own first successor, or a peer beyond it, changes nothing and checks no one', () => {
  const c = hand();
  const q1 = untilAsked(c, 60_000)!;
  let mark = c.sent.length;
  c.receive({ type: 'lookup-reply', from: peer(14), lid: q1.msg.lid, hops: 2, successors: [peer(21)] }, 'udp');
  const q2 = untilAsked(c, 60_000)!;
  mark = c.sent.length;
  c.receive({ type: 'lookup-reply', from: peer(17), lid: q2.msg.lid, hops: 2, successors: [peer(21)] }, 'udp');
  assert.deepEqual(c.sentOf('ping', mark).filter((s) => toId(s) === 17), [], 'a peer past our first successor is not even checked');
  c.run(2000);
  assert.deepEqual(succ(c), [14, 21]);
});

test('an answer naming a peer between us and our first successor: taken once it answers a ping of ours, the lines printed', () => {
  const c = hand();
  const q = untilAsked(c, 60_000)!;
  c.setRing([...RING, 11]); // another ring's peer, right after us
  const mark = c.sent.length;
  const emark = c.effects.length;
  c.receive({ type: 'lookup-reply', from: peer(11), lid: q.msg.lid, hops: 3, successors: [peer(12)] }, 'udp');
  assert.ok(c.sentOf('ping', mark).some((s) => toId(s) === 11 && s.msg.role === 0), 'checked first');
  assert.deepEqual(succ(c), [11, 14]);
  assert.deepEqual(c.tracesOf('successor', emark).map((t) => [t.nth, t.peer]), [[1, 11n], [2, 14n]]);
});

test('an answer naming a peer between us that does not answer makes us look, never believe', () => {
  const c = hand();
  const q = untilAsked(c, 60_000)!;
  c.receive({ type: 'lookup-reply', from: peer(11), lid: q.msg.lid, hops: 3, successors: [] }, 'udp');
  c.run(2000);
  assert.deepEqual(succ(c), [14, 21]);
  // and an answer to no question of ours (an unknown lookup id) is not even looked at
  c.setRing([...RING, 12]);
  const mark = c.sent.length;
  c.receive({ type: 'lookup-reply', from: peer(12), lid: q.msg.lid + 7, hops: 3, successors: [] }, 'udp');
  assert.deepEqual(c.sentOf('ping', mark).filter((s) => toId(s) === 12), []);
  assert.deepEqual(succ(c), [14, 21]);
});

test('a peer that remembers only its successors asks no one', () => {
  const c = new HandCore({ id: 8, ring: [1, 8, 14, 21] }); // r = 4: every other peer is a successor
  for (let i = 0; i < 5; i++) c.run(1000), c.heartbeat();
  assert.deepEqual(succ(c), [14, 21, 1]);
  const mark = c.sent.length;
  for (let i = 0; i < 120; i++) c.run(1000), c.heartbeat();
  assert.deepEqual(questions(c, mark), []);
});
