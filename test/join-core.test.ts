// Unit tests of src/core/membership/join.ts through one PeerCore driven by hand: at a member, a
// join is taken only by the peer the joiner belongs right after, and only once the joiner answers
// at its address; others pass it on, a joiner already in the ring is refused. At the joiner, routed
// traffic waits (bounded) while it joins and goes back to the peer it asked when the join fails
// (timeout on the hand clock, refusal, successors that do not answer); a refusal or acceptance
// from a wrong sender is dropped. The spec's 8-bit space, an in-memory disk, no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdSpace } from '../src/core/id-space.js';
import { MAX_HOPS } from '../src/core/messages.js';
import { HandCore, over, peer } from './helpers/hand-core.js';

const RING = [1, 8, 14, 21, 32];
const ids = (cs: { id: bigint }[]) => cs.map((c) => Number(c.id));
const toId = (s: { to: { id?: bigint } }) => Number(s.to.id);

/** Peer `id` starting with a join through Peer 8; the ring (with `id` in it) answers its pings. */
function joiner(id: number, extra: Partial<ConstructorParameters<typeof HandCore>[0]> = {}): HandCore {
  return new HandCore({ id, ring: [...RING, id], config: { mode: { kind: 'join', known: peer(8) } }, ...extra });
}

// ---- at a member ---------------------------------------------------------------------------------

test('the peer a joiner belongs after takes it once it answers: join-accept with its old successors, the predecessor told', () => {
  const c = new HandCore({ id: 8, ring: RING });
  assert.deepEqual(c.core.snapshot().successors, [14n, 21n]);
  c.setRing([...RING, 10]); // 10 answers at its address
  const mark = c.sent.length;
  c.receive({ type: 'join', joiner: peer(10), hops: 0 }, over(peer(10)));
  const checks = c.sentOf('ping', mark).filter((s) => toId(s) === 10 && s.msg.role === 0);
  assert.equal(checks.length, 1, 'the joiner is checked at its address first');
  assert.deepEqual(c.tracesOf('join-received').map((t) => t.joiner), [10n]);
  const [accept] = c.sentOf('join-accept', mark);
  assert.equal(toId(accept!), 10);
  // our old successors, then (we had fewer than r) our predecessors
  assert.deepEqual(ids(accept!.msg.successors), [14, 21, 1, 32]);
  assert.deepEqual(c.core.snapshot().successors, [10n, 14n, 21n]);
  const [change] = c.sentOf('successor-change', mark);
  assert.equal(toId(change!), 1, 'the first predecessor hears of its new second successor');
  assert.deepEqual(ids(change!.msg.successors), [10, 14, 21]);
});

test('a joiner that does not answer at its address is refused, and nothing changes here', () => {
  const c = new HandCore({ id: 8, ring: RING }); // 10 is not in the ring: its pings go unanswered
  const mark = c.sent.length;
  c.receive({ type: 'join', joiner: peer(10), hops: 0 }, over(peer(10)));
  assert.equal(c.sentOf('join-reject', mark).length, 0, 'not before the check has had its time');
  c.run(1000);
  const rejects = c.sentOf('join-reject', mark);
  assert.deepEqual(rejects.map(toId), [10]);
  assert.match(rejects[0]!.msg.reason, /cannot reach you/);
  assert.equal(c.sentOf('join-accept', mark).length, 0);
  assert.deepEqual(c.tracesOf('join-received'), [], 'a forged join prints nothing');
  assert.deepEqual(c.core.snapshot().successors.slice(0, 2), [14n, 21n]);
});

test('a join that belongs further on goes to the first successor one hop more; one past MAX_HOPS is dropped', () => {
  const c = new HandCore({ id: 8, ring: RING });
  const mark = c.sent.length;
  c.receive({ type: 'join', joiner: peer(16), hops: 3 }, over(peer(1)));
  const fwd = c.sentOf('join', mark);
  assert.deepEqual(fwd.map(toId), [14]);
  assert.equal(fwd[0]!.msg.hops, 4);
  assert.equal(Number(fwd[0]!.msg.joiner.id), 16);
  assert.equal(c.sentOf('ping', mark).filter((s) => toId(s) === 16).length, 0, 'a relay does not check the joiner');
  const mark2 = c.sent.length;
  c.receive({ type: 'join', joiner: peer(16), hops: MAX_HOPS + 1 }, over(peer(1)));
  c.receive({ type: 'join', joiner: peer(10), hops: MAX_HOPS + 1 }, over(peer(1)));
  assert.deepEqual(c.sent.slice(mark2).filter((s) => s.msg.type !== 'pong' && s.msg.type !== 'ping'), [], 'nothing forwarded, accepted or refused');
});

test('a joiner whose id is already in the ring (ours or a successor\'s) is refused at once', () => {
  const c = new HandCore({ id: 8, ring: RING });
  const mark = c.sent.length;
  c.receive({ type: 'join', joiner: { ...peer(14), host: '10.9.9.9' }, hops: 0 }, over(peer(14), '10.9.9.9'));
  c.receive({ type: 'join', joiner: { ...peer(8), host: '10.9.9.8' }, hops: 1 }, over(peer(1)));
  const rejects = c.sentOf('join-reject', mark);
  assert.deepEqual(rejects.map((r) => r.to.host), ['10.9.9.9', '10.9.9.8']);
  assert.ok(rejects.every((r) => /already in the ring/.test(r.msg.reason)));
  assert.deepEqual(c.tracesOf('join-refused').map((t) => t.joiner), [14n, 8n]);
  assert.deepEqual(c.core.snapshot().successors, [14n, 21n]);
});

// ---- at the joiner -------------------------------------------------------------------------------

test('no answer within the join timeout: the joiner exits, handing what waited (at most 32) back to the peer it asked', () => {
  const c = joiner(10);
  assert.equal(c.core.phase, 'joining');
  const [req] = c.sentOf('join');
  assert.equal(toId(req!), 8);
  assert.deepEqual([req!.msg.hops, Number(req!.msg.joiner.id)], [0, 10]);
  const mark = c.sent.length;
  c.receive({ type: 'store', origin: peer(21), file: 'f', final: true, hops: 2 }, over(peer(1)));
  for (let i = 0; i < 40; i++) c.receive({ type: 'lookup', origin: peer(21), key: BigInt(i), lid: i + 1, final: false, hops: 1 }, over(peer(1)));
  assert.equal(c.sent.length - mark, 0, 'traffic for this address waits while it joins');
  c.run(9_999);
  assert.equal(c.exited(), undefined);
  c.run(1);
  assert.deepEqual(c.exited(), { code: 1, reason: 'join timed out' });
  const back = c.sent.slice(mark);
  assert.equal(back.length, 32, 'the queue is bounded at 32');
  assert.ok(back.every((s) => toId(s) === 8));
  const store = back[0]!.msg;
  assert.equal(store.type, 'store');
  assert.deepEqual([(store as { final: boolean }).final, (store as { hops: number }).hops], [false, 3], 'routed afresh, one hop more');
});

test('join-accept: the joiner takes the named successors that answer, its acceptor as predecessor, and replays what waited', () => {
  const c = joiner(10);
  c.receive({ type: 'join', joiner: peer(30), hops: 1 }, over(peer(1)));
  const mark = c.sent.length;
  c.receive({ type: 'join-accept', from: peer(8), successors: [peer(14), peer(21)] });
  assert.equal(c.core.phase, 'active');
  assert.equal(c.timerAt('join'), undefined, 'the join timer is cancelled');
  const snap = c.core.snapshot();
  assert.deepEqual(snap.successors, [14n, 21n, 8n]);
  assert.equal(snap.pred1, 8n);
  assert.deepEqual(c.tracesOf('join-accepted').map((t) => t.by), [8n]);
  assert.deepEqual(c.tracesOf('successor').map((t) => [t.nth, t.peer, t.initial]), [[1, 14n, true], [2, 21n, true]]);
  // the queued join of 30 is handled now that we are in the ring: it goes on to our first successor
  const fwd = c.sentOf('join', mark);
  assert.deepEqual(fwd.map(toId), [14]);
  assert.equal(fwd[0]!.msg.hops, 2);
  c.run(20_000);
  assert.equal(c.exited(), undefined, 'the join timer never fires');
});

test('join-accept naming successors none of which answers: the join fails', () => {
  const c = joiner(10);
  for (const id of [8, 14, 21]) c.mute.add(id);
  c.receive({ type: 'join-accept', from: peer(8), successors: [peer(14), peer(21)] });
  assert.equal(c.exited(), undefined, 'not before the checks have had their time');
  c.run(1000);
  assert.deepEqual(c.exited(), { code: 1, reason: 'successors unreachable' });
  assert.equal(c.core.phase, 'stopped');
});

test('private ring: a refusal or acceptance sent by another peer than the one it names is dropped; the genuine refusal ends the join', () => {
  const c = joiner(10, { config: { mode: { kind: 'join', known: peer(8) }, secure: true, originProofs: false }, proven: true });
  const forgedBy = { via: 'tcp' as const, src: { host: peer(8).host, port: 50_008 }, authId: 66n };
  c.receive({ type: 'join-reject', from: peer(8), reason: 'go away' }, forgedBy);
  c.receive({ type: 'join-accept', from: peer(8), successors: [peer(66)] }, forgedBy);
  assert.equal(c.core.phase, 'joining');
  assert.equal(c.exited(), undefined);
  c.receive({ type: 'join-reject', from: peer(8), reason: 'full' });
  assert.deepEqual(c.exited(), { code: 1, reason: 'join rejected' });
  assert.ok(c.lines.some((l) => /rejected by Peer 8: full/.test(l)) || c.tracesOf('note').some((n) => /rejected by Peer 8: full/.test(n.text)));
});

test('a peer that joined between us while the joiner was being checked takes the join instead: it goes on to that peer', () => {
  const d = new HandCore({ id: 8, ring: RING });
  d.setRing([...RING, 10, 12]);
  d.mute.add(12); // 12's answer to the check is held back
  const mark = d.sent.length;
  d.receive({ type: 'join', joiner: peer(12), hops: 0 }, over(peer(12)));
  const check = d.sentOf('ping', mark).find((s) => toId(s) === 12 && s.msg.role === 0)!;
  assert.ok(check, '12 is being checked');
  // meanwhile 10 joins right after us, and answers at once
  d.receive({ type: 'join', joiner: peer(10), hops: 0 }, over(peer(10)));
  assert.deepEqual(d.core.snapshot().successors.slice(0, 2), [10n, 14n]);
  // now 12 answers: it belongs after 10, not after us
  const before = d.sent.length;
  d.receive({ type: 'pong', from: peer(12), seq: check.msg.seq, loud: false, successors: [] }, 'udp');
  assert.deepEqual(d.sentOf('join-accept', before), []);
  const fwd = d.sentOf('join', before);
  assert.deepEqual(fwd.map(toId), [10]);
  assert.equal(fwd[0]!.msg.hops, 1);
  assert.deepEqual(d.tracesOf('join-received').map((t) => t.joiner), [10n]);
});

// ---- above the spec's space: a silent entry of the acceptor's list does not hold the join ----------

test('above 8 bits a joiner is in the ring once its first successor is certain; a silent later entry joins only if it answers', () => {
  const space = new IdSpace(16);
  const at16 = (id: number) => new HandCore({ id, ring: [...RING, 10], space, config: { mode: { kind: 'join', known: peer(8) } } });
  const c = at16(10);
  c.mute.add(21); // listed by the acceptor, but gone a moment ago
  c.receive({ type: 'join-accept', from: peer(8), successors: [peer(14), peer(21), peer(32)] });
  assert.equal(c.core.phase, 'active', 'no wait for the silent entry');
  assert.deepEqual(c.core.snapshot().successors, [14n, 32n, 8n]);
  assert.equal(c.core.snapshot().pred1, 8n);
  assert.deepEqual(c.tracesOf('successor').map((t) => [t.nth, t.peer, t.initial]), [[1, 14n, true], [2, 32n, true]]);
  c.run(2000);
  assert.deepEqual(c.core.snapshot().successors.slice(0, 2), [14n, 32n], 'the silent one never enters');
  assert.equal(c.exited(), undefined);

  // the same entry, slow rather than gone: it enters when it answers, printed as a new second successor
  const d = at16(10);
  d.mute.add(21);
  d.receive({ type: 'join-accept', from: peer(8), successors: [peer(14), peer(21), peer(32)] });
  d.mute.delete(21);
  d.run(300);
  assert.deepEqual(d.core.snapshot().successors.slice(0, 3), [14n, 21n, 32n]);
  assert.deepEqual(d.tracesOf('successor').map((t) => [t.nth, t.peer, t.initial]), [[1, 14n, true], [2, 32n, true], [2, 21n, false]]);
});

test('above 8 bits the first successor is never guessed: a silent first entry is waited for', () => {
  const c = new HandCore({ id: 10, ring: [...RING, 10], space: new IdSpace(16), config: { mode: { kind: 'join', known: peer(8) } } });
  c.mute.add(14);
  c.receive({ type: 'join-accept', from: peer(8), successors: [peer(14), peer(21), peer(32)] });
  assert.equal(c.core.phase, 'joining', 'the first entry is not decided yet');
  c.run(1000);
  assert.equal(c.core.phase, 'active');
  assert.deepEqual(c.core.snapshot().successors.slice(0, 2), [21n, 32n]);
  assert.deepEqual(c.tracesOf('successor').map((t) => [t.nth, t.peer]), [[1, 21n], [2, 32n]]);
});

test('in the spec\'s space the joiner waits for every named successor, as its lines expect', () => {
  const c = joiner(10);
  c.mute.add(21);
  c.receive({ type: 'join-accept', from: peer(8), successors: [peer(14), peer(21), peer(32)] });
  assert.equal(c.core.phase, 'joining');
  c.run(1000);
  assert.equal(c.core.phase, 'active');
  assert.deepEqual(c.tracesOf('successor').map((t) => [t.nth, t.peer]), [[1, 14n], [2, 32n]]);
});
