// Unit tests of src/core/membership/depart.ts through one PeerCore driven by hand: the leaver tells
// both predecessors (acks awaited, bounded by the quit timeout on the hand clock) and its first
// successor (no ack), and exits once both acknowledged or time is up; an ack from a peer not told
// or from a wrong sender does not count. The receiver acknowledges, drops the leaver at once from
// its successors and predecessors, and does not take it back on another peer's word; a departure
// sent by another peer than the one it names is dropped. The spec's 8-bit space, no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdSpace } from '../src/core/id-space.js';
import { HandCore, peer } from './helpers/hand-core.js';

const RING = [1, 8, 14, 21, 32];
const ids = (cs: { id: bigint }[]) => cs.map((c) => Number(c.id));
const toId = (s: { to: { id?: bigint } }) => Number(s.to.id);

test('quit: both predecessors and the first successor are told our successors; the exit waits for both predecessors\' acks', () => {
  const c = new HandCore({ id: 8, ring: RING });
  const mark = c.sent.length;
  c.feed({ type: 'quit', now: c.now });
  assert.equal(c.core.phase, 'leaving');
  assert.deepEqual(c.tracesOf('leaving').map((t) => t.told), [[1n, 32n]]);
  const departs = c.sentOf('depart', mark);
  assert.deepEqual(departs.map(toId), [1, 32, 14]);
  assert.ok(departs.every((d) => ids(d.msg.successors).join() === '14,21'));
  c.receive({ type: 'depart-ack', from: peer(1) });
  c.receive({ type: 'depart-ack', from: peer(14) }); // not awaited: it does not stand in for 32
  assert.equal(c.exited(), undefined, 'still waiting for Peer 32');
  c.receive({ type: 'depart-ack', from: peer(32) });
  assert.deepEqual(c.exited(), { code: 0, reason: 'quit' });
});

test('quit: an ack that never comes costs at most the quit timeout; an undeliverable depart counts as answered', () => {
  const c = new HandCore({ id: 8, ring: RING });
  c.feed({ type: 'quit', now: c.now });
  c.receive({ type: 'depart-ack', from: peer(1) });
  c.run(2_999);
  assert.equal(c.exited(), undefined);
  c.run(1);
  assert.deepEqual(c.exited(), { code: 0, reason: 'quit' });
  assert.deepEqual(c.tracesOf('handover').map((t) => t.outcome), ['departure-unconfirmed']);

  const d = new HandCore({ id: 8, ring: RING });
  const mark = d.sent.length;
  d.feed({ type: 'quit', now: d.now });
  d.receive({ type: 'depart-ack', from: peer(32) });
  const to1 = d.sentOf('depart', mark).find((s) => toId(s) === 1)!;
  d.feed({ type: 'send-failed', to: to1.to, msg: to1.msg, error: 'ECONNREFUSED', now: d.now });
  assert.deepEqual(d.exited(), { code: 0, reason: 'quit' }, 'a predecessor that cannot be told is not waited for');
});

test('quit while still joining exits at once; a second quit while leaving sends nothing more', () => {
  const j = new HandCore({ id: 10, ring: [...RING, 10], config: { mode: { kind: 'join', known: peer(8) } } });
  const mark = j.sent.length;
  j.feed({ type: 'quit', now: j.now });
  assert.deepEqual(j.exited(), { code: 0, reason: 'quit' });
  assert.equal(j.sentOf('depart', mark).length, 0);

  const c = new HandCore({ id: 8, ring: RING });
  c.feed({ type: 'quit', now: c.now });
  const after = c.sent.length;
  c.feed({ type: 'quit', now: c.now });
  assert.equal(c.sentOf('depart', after).length, 0);
});

test('private ring: an ack sent by another peer than the one it names does not count', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { secure: true, originProofs: false }, proven: true });
  c.feed({ type: 'quit', now: c.now });
  assert.equal(c.core.phase, 'leaving');
  c.receive({ type: 'depart-ack', from: peer(1) });
  c.receive({ type: 'depart-ack', from: peer(32) }, { via: 'tcp', src: { host: peer(32).host, port: 50_032 }, authId: 66n });
  assert.equal(c.exited(), undefined);
  c.receive({ type: 'depart-ack', from: peer(32) });
  assert.deepEqual(c.exited(), { code: 0, reason: 'quit' });
});

test('a departing first successor is acknowledged, dropped at once and replaced by the successors it names, with the lines', () => {
  const c = new HandCore({ id: 8, ring: RING });
  // 14 still answers pings while it finishes leaving
  const mark = c.sent.length;
  const emark = c.effects.length;
  c.receive({ type: 'depart', from: peer(14), successors: [peer(21), peer(32)] });
  assert.deepEqual(c.sentOf('depart-ack', mark).map(toId), [14]);
  assert.deepEqual(c.core.snapshot().successors, [21n, 32n]);
  assert.deepEqual(c.tracesOf('successor', emark).map((t) => [t.nth, t.peer]), [[1, 21n], [2, 32n]]);
  // the leaver, though it still answers, is not taken back on another peer's word
  c.receive({ type: 'successor-change', from: peer(21), successors: [peer(14), peer(32)] });
  c.run(1000);
  assert.ok(!c.core.snapshot().successors.includes(14n), `14 stays gone: ${c.core.snapshot().successors}`);
});

test('a departing first predecessor is forgotten at once; a departure from another sender than the one it names is dropped', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { secure: true, originProofs: false }, proven: true });
  assert.equal(c.core.snapshot().pred1, 1n);
  const mark = c.sent.length;
  // Peer 66 says, in 14's name, that 14 leaves
  c.receive({ type: 'depart', from: peer(14), successors: [peer(66)] }, { via: 'tcp', src: { host: peer(66).host, port: 50_066 }, authId: 66n });
  assert.equal(c.sentOf('depart-ack', mark).length, 0);
  assert.deepEqual(c.core.snapshot().successors, [14n, 21n]);
  c.receive({ type: 'depart', from: peer(1), successors: [peer(8), peer(14)] });
  assert.deepEqual(c.sentOf('depart-ack', mark).map(toId), [1]);
  assert.equal(c.core.snapshot().pred1, undefined);
  assert.deepEqual(c.tracesOf('depart-received').map((t) => t.peer), [1n]);
  // 1 pings again as our predecessor, still finishing its departure: it is not taken back
  c.receive({ type: 'ping', from: peer(1), seq: 7, role: 1, loud: false }, 'udp');
  c.run(1000);
  assert.equal(c.core.snapshot().pred1, undefined);
});

test('above 8 bits a peer that has said it departs answers no ping (a second predecessor it could not tell finds it silent); in the spec space it still answers', () => {
  for (const [space, answers] of [[new IdSpace(16), false], [undefined, true]] as const) {
    const c = new HandCore({ id: 8, ring: RING, ...(space ? { space } : {}) });
    const mark = c.sent.length;
    c.receive({ type: 'ping', from: peer(1), seq: 7, role: 2, loud: false }, 'udp');
    assert.equal(c.sentOf('pong', mark).length, 1, 'a member answers');
    c.feed({ type: 'quit', now: c.now });
    assert.equal(c.core.phase, 'leaving');
    const mark2 = c.sent.length;
    c.receive({ type: 'ping', from: peer(1), seq: 8, role: 2, loud: false }, 'udp');
    c.receive({ type: 'ping', from: peer(40), seq: 9, role: 0, loud: false }, 'udp');
    assert.equal(c.sentOf('pong', mark2).length, answers ? 2 : 0);
  }
});
