// The transport's shared bounds: bytes of partial frames per host and in total, and accepted
// connections per host, each given back exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBudget } from '../src/transport/node/budget.js';
import { SlotTable } from '../src/transport/node/slots.js';

test('a memory budget refuses a host over its share or everyone over the total, and forgets what is released', () => {
  const b = new MemoryBudget(100, 150);
  const a1 = b.account('10.0.0.1');
  const a2 = b.account('10.0.0.1');
  const c = b.account('10.0.0.2');
  assert.equal(a1.set(60), true);
  assert.equal(a2.set(50), false, 'host over 100');
  assert.equal(b.hostTotal('10.0.0.1'), 110);
  a2.set(30);
  assert.equal(c.set(70), false, 'total 160 over 150');
  assert.equal(c.set(60), true);
  assert.equal(b.total, 150);
  a1.release();
  a1.release();
  assert.equal(b.hostTotal('10.0.0.1'), 30);
  a2.release();
  c.release();
  assert.equal(b.total, 0);
  assert.equal(b.hostTotal('10.0.0.1'), 0);
});

test('slots: strangers capped per host and in their share, evicted from the busiest stranger host, never a member', () => {
  // 6 slots, 2 only for members, strangers at most 3 per host
  const t = new SlotTable<string>(6, 2, 3);
  const a = [t.admit('a1', 'A'), t.admit('a2', 'A'), t.admit('a3', 'A')].map((x) => ('slot' in x ? x.slot : assert.fail('admitted')));
  // a fourth from A takes A's oldest that has sent no whole frame, not one that has
  t.promote(a[0]!, 'stranger');
  const a4 = t.admit('a4', 'A');
  assert.ok('slot' in a4 && a4.evicted?.slot === a[1], 'the oldest new one of A');
  assert.match(a4.evicted.why, /A holds 3 connections/);
  // a member (proven by its first frame) leaves the strangers' count: B's newcomer then fits
  t.promote(a[2]!, 'member');
  assert.equal(t.memberCount, 1);
  assert.equal(t.strangersFrom('A'), 2);
  const b1 = t.admit('b1', 'B');
  assert.ok('slot' in b1 && !b1.evicted);
  t.admit('b2', 'B');
  t.admit('b3', 'B');
  // the strangers' share is 6 - 2 = 4: b3 evicted from the host with the most connections that
  // sent no whole frame (B: b1, b2; A has one such, and one that has)
  assert.equal(t.strangersFrom('A'), 2);
  assert.equal(t.strangersFrom('B'), 2);
  // and so does the next one, never touching the member
  const c1 = t.admit('c1', 'C');
  assert.ok('slot' in c1 && c1.evicted?.slot.host === 'B', JSON.stringify(c1));
  assert.equal(t.total, 5);
  assert.equal(t.memberCount, 1);
  // members fill every slot: then nobody is evicted for a stranger, it is refused
  const m = new SlotTable<string>(2, 1, 2);
  for (const x of ['m1', 'm2']) {
    const r = m.admit(x, 'M');
    assert.ok('slot' in r);
    m.promote(r.slot, 'member');
  }
  assert.match(('refused' in m.admit('s', 'S') ? (m.admit('s', 'S') as { refused: string }).refused : ''), /all 2 connections are members'/);
  // removing is idempotent and frees the slot
  t.remove(a[2]!);
  t.remove(a[2]!);
  assert.equal(t.memberCount, 0);
  assert.equal(t.total, 4);
});
