// Unit tests of src/core/membership/predecessors.ts through one PeerCore driven by hand: a pinger
// fills the slot its ping's role names, only once it has answered a ping of ours; the closest
// pinger in a slot wins; a holder silent for two probe periods gives way to whoever pings; one not
// heard for pingMisses + 2 probes is forgotten (the first predecessor then counts as lost, and the
// peer takes no key but its own id until another pings). The spec's 8-bit space, hand clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HandCore, peer } from './helpers/hand-core.js';

const RING = [1, 8, 14, 21, 32];
const preds = (c: HandCore) => {
  const s = c.core.snapshot();
  return [s.pred1 === undefined ? undefined : Number(s.pred1), s.pred2 === undefined ? undefined : Number(s.pred2)];
};
const ping = (c: HandCore, from: number, role: 1 | 2, seq = 1) => c.receive({ type: 'ping', from: peer(from), seq, role, loud: false }, 'udp');

/** `ms` of probes in which only `pingers` ping us (each in the role given). */
function quietExcept(c: HandCore, ms: number, pingers: [number, 1 | 2][]): void {
  for (let t = 0; t < ms; t += 1000) {
    c.run(1000);
    for (const [id, role] of pingers) ping(c, id, role, c.now);
  }
}

test('the pings of a settled ring fill both slots', () => {
  const c = new HandCore({ id: 8, ring: RING });
  assert.deepEqual(preds(c), [1, 32]);
});

test('a pinger is taken only once it answers a ping of ours at its address', () => {
  const c = new HandCore({ id: 8, ring: RING });
  const mark = c.sent.length;
  ping(c, 5, 1); // 5 is not in the ring: its check goes unanswered
  assert.ok(c.sentOf('ping', mark).some((s) => Number(s.to.id) === 5 && s.msg.role === 0), 'it is checked');
  quietExcept(c, 2000, [[1, 1], [32, 2]]);
  assert.deepEqual(preds(c), [1, 32]);
  c.setRing([...RING, 5]);
  quietExcept(c, 3000, [[1, 1], [32, 2], [5, 1]]);
  assert.deepEqual(preds(c), [5, 32]);
});

test('the closest pinger wins its slot; a farther one is taken only once the holder has been silent two probe periods', () => {
  const c = new HandCore({ id: 8, ring: RING });
  c.setRing([...RING, 3, 5]); // 3 and 5 joined; they answer pings
  ping(c, 5, 1);
  assert.deepEqual(preds(c), [5, 32], 'closer than 1: taken at once');
  ping(c, 3, 1);
  assert.deepEqual(preds(c), [5, 32], 'farther than the holder, who is not silent');
  quietExcept(c, 2000, [[3, 1], [32, 2]]);
  assert.deepEqual(preds(c), [5, 32], 'two probe periods of silence are not yet enough');
  quietExcept(c, 1000, [[3, 1], [32, 2]]);
  assert.deepEqual(preds(c), [3, 32]);
});

test('a pinger that changes role leaves the other slot', () => {
  const c = new HandCore({ id: 8, ring: RING });
  ping(c, 32, 1); // 1 left without a word: 32, our second, pings as our first (1, closer and not yet silent, keeps that slot)
  assert.deepEqual(preds(c), [1, undefined], '32 left the second slot');
  quietExcept(c, 3000, [[32, 1]]);
  assert.deepEqual(preds(c)[0], 32);
});

test('a predecessor not heard for pingMisses + 2 probes is forgotten: the range shrinks to our own id until another pings', () => {
  const c = new HandCore({ id: 8, ring: RING });
  assert.equal(c.core.nextHop(5n), null);
  quietExcept(c, 5000, [[32, 2]]);
  assert.deepEqual(preds(c), [1, 32], 'five probes: still remembered');
  quietExcept(c, 1000, [[32, 2]]);
  assert.deepEqual(preds(c), [undefined, 32]);
  assert.notEqual(c.core.nextHop(5n), null, 'a key it cannot place is passed on');
  ping(c, 1, 1, 99);
  assert.deepEqual(preds(c), [1, 32]);
  assert.equal(c.core.nextHop(5n), null);
});
