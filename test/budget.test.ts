// The transport's shared bounds: bytes of partial frames per host and in total, and accepted
// connections per host, each given back exactly once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionCounter, MemoryBudget } from '../src/transport/node/budget.js';

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

test('a connection counter caps each host and the total, names the busiest host, and counts out once', () => {
  const n = new ConnectionCounter(2, 3);
  const outs = [n.add('h1'), n.add('h1')];
  assert.match(n.refusal('h1') ?? '', /2 connections already open from h1/);
  assert.equal(n.refusal('h2'), undefined);
  outs.push(n.add('h2'));
  assert.match(n.refusal('h3') ?? '', /3 connections already open/);
  assert.equal(n.busiestHost(), 'h1');
  outs[0]!();
  outs[0]!();
  assert.equal(n.count('h1'), 1);
  assert.equal(n.total, 2);
  for (const out of outs) out();
  assert.equal(n.total, 0);
  assert.equal(n.busiestHost(), undefined);
});
