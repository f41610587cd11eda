// The status desk in the core alone (no sockets, no clock): what a status reply carries and to
// whom it goes, and who may decommission a peer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import { defaultContact } from '../src/space.js';
import type { Effect } from '../src/core/effects.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { Message } from '../src/core/messages.js';
import type { Origin } from '../src/core/origin.js';
import { PeerCore } from '../src/core/peer-core.js';
import { STATUS_BURST, STATUS_WINDOW_MS } from '../src/core/status.js';

function core(secure = false): PeerCore {
  const c = new PeerCore({
    self: defaultContact(8n),
    space: SPEC_SPACE,
    mode: { kind: 'init', successors: [defaultContact(9n), defaultContact(14n)] },
    pingIntervalMs: 1000,
    pingMisses: 3,
    random32: () => 7,
    storeId: 'peer-8',
    secure,
  });
  c.handle({ type: 'start', now: 0, files: [{ name: '2012', size: 50 }, { name: '0159', size: 70 }] });
  return c;
}

const asker: Contact = { id: (1n << 160n) - 1n, host: '10.1.2.3', port: 40000 };
const from = (host: string, authId?: bigint): Origin => ({ via: 'tcp', src: { host, port: 51234 }, ...(authId !== undefined ? { authId } : {}) });
const sends = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: 'send' }> => e.kind === 'send');

test('a status reply carries counts, not names, and goes to the asker\'s port on the host it came from', () => {
  const c = core();
  const out = sends(c.handle({ type: 'receive', msg: { type: 'status-query', from: asker, qid: 5 }, origin: from('10.1.2.3'), now: 10 }));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.to, { host: '10.1.2.3', port: 40000 }, 'by address alone: the asker is not adopted');
  const reply = out[0]!.msg as Extract<Message, { type: 'status-reply' }>;
  assert.equal(reply.type, 'status-reply');
  assert.equal(reply.qid, 5);
  assert.equal(reply.bits, 8);
  assert.equal(reply.phase, 'normal');
  assert.equal(reply.keys, 2);
  assert.equal(reply.bytes, 120);
  assert.deepEqual(reply.successors.map((s) => s.id), [9n, 14n]);
  const text = JSON.stringify(reply, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  assert.ok(!text.includes('2012') && !text.includes('0159'), `no file name in ${text}`);
  // an IPv4-mapped source is the same host
  assert.equal(sends(c.handle({ type: 'receive', msg: { type: 'status-query', from: asker, qid: 6 }, origin: from('::ffff:10.1.2.3'), now: 11 })).length, 1);
});

test('a query naming another host than its connection\'s is answered to no one; a burst is cut at STATUS_BURST a window', () => {
  const c = core();
  assert.deepEqual(sends(c.handle({ type: 'receive', msg: { type: 'status-query', from: asker, qid: 1 }, origin: from('10.9.9.9'), now: 10 })), []);
  assert.deepEqual(sends(c.handle({ type: 'receive', msg: { type: 'status-query', from: asker, qid: 1 }, origin: { via: 'udp', src: { host: '10.1.2.3', port: 40000 } }, now: 10 })), []);
  let answered = 0;
  for (let q = 0; q < 3 * STATUS_BURST; q++) answered += sends(c.handle({ type: 'receive', msg: { type: 'status-query', from: asker, qid: q }, origin: from('10.1.2.3'), now: 20 })).length;
  assert.equal(answered, STATUS_BURST);
  assert.equal(sends(c.handle({ type: 'receive', msg: { type: 'status-query', from: asker, qid: 99 }, origin: from('10.1.2.3'), now: 20 + STATUS_WINDOW_MS })).length, 1, 'a new window');
});

test('decommission: refused from another host on an open ring, accepted from loopback and the peer then leaves', () => {
  const c = core();
  const stranger = sends(c.handle({ type: 'receive', msg: { type: 'decommission', from: asker, qid: 3 }, origin: from('10.1.2.3'), now: 10 }));
  assert.equal(stranger.length, 1);
  const refused = stranger[0]!.msg as { type: string; qid: number; accepted: boolean; reason: string };
  assert.deepEqual([refused.type, refused.qid, refused.accepted], ['decommission-reply', 3, false]);
  assert.match(refused.reason, /loopback/);
  assert.equal(c.snapshot().phase, 'active');
  const local: Contact = { ...asker, host: '127.0.0.1' };
  const out = c.handle({ type: 'receive', msg: { type: 'decommission', from: local, qid: 4 }, origin: from('127.0.0.1'), now: 20 });
  const reply = sends(out)[0]!.msg as { type: string; accepted: boolean };
  assert.equal(reply.type, 'decommission-reply');
  assert.equal(reply.accepted, true);
  // Quit's hand-over begins: both names are pending until the successor confirms them
  const status = sends(c.handle({ type: 'receive', msg: { type: 'status-query', from: local, qid: 5 }, origin: from('127.0.0.1'), now: 30 }))[0]!.msg as { phase: string; handovers: number };
  assert.equal(status.phase, 'leaving');
  assert.equal(status.handovers, 2);
});

test('decommission on a private ring: only the peer\'s own certificate', () => {
  const c = core(true);
  const local: Contact = { ...asker, id: 200n, host: '127.0.0.1' };
  const other = sends(c.handle({ type: 'receive', msg: { type: 'decommission', from: local, qid: 1 }, origin: from('127.0.0.1', 200n), now: 10 }))[0]!.msg as { accepted: boolean; reason: string };
  assert.equal(other.accepted, false);
  assert.match(other.reason, /own certificate/);
  const own = sends(c.handle({ type: 'receive', msg: { type: 'decommission', from: { ...local, id: 8n }, qid: 2 }, origin: from('10.1.2.3', 8n), now: 20 }));
  assert.equal(own.length, 0, 'the from host must still be the connection\'s');
  const ok = sends(c.handle({ type: 'receive', msg: { type: 'decommission', from: { ...asker, id: 8n }, qid: 3 }, origin: from('10.1.2.3', 8n), now: 30 }))[0]!.msg as { accepted: boolean };
  assert.equal(ok.accepted, true);
});
