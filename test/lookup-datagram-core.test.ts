// Lookups by datagram (issue 16): on an open ring above 8 bits a lookup and its answer travel as
// datagrams, so that a finger's refresh keeps no connection open to each peer it crosses; one left
// unanswered goes once more over connections, which notice a dead hop. A private ring and the
// specification's 8-bit ring keep connections. The core alone: hand-made events, no clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { Effect } from '../src/core/effects.js';
import { IdSpace, SPEC_SPACE, type Id } from '../src/core/id-space.js';
import type { MessageOf } from '../src/core/messages.js';
import type { Origin } from '../src/core/origin.js';
import { PeerCore } from '../src/core/peer-core.js';
import { LOOKUP_DATAGRAM_RETRY_MS } from '../src/core/routing/lookups.js';

const SPACE = new IdSpace(16);
const at = (id: Id, host = '10.0.0.2'): Contact => ({ id, host, port: 30000 + Number(id % 20000n) });
const udp = (c: Contact): Origin => ({ via: 'udp', src: { host: c.host, port: c.port } });
const tcp = (c: Contact): Origin => ({ via: 'tcp', src: { host: c.host, port: 50000 } });
type Send = Extract<Effect, { kind: 'send' }>;
const sends = (effects: Effect[]) => effects.filter((e): e is Send => e.kind === 'send');
const lookups = (effects: Effect[]) => sends(effects).filter((e) => e.msg.type === 'lookup');

/** Peer 1000 with successors 2000 and 3000 and, checked, first predecessor 900. */
function core(opts: { secure?: boolean; space?: IdSpace; fingers?: boolean } = {}): PeerCore {
  const space = opts.space ?? SPACE;
  const self = space.bits > 8 ? at(1000n) : at(100n);
  const [p, s1, s2] = space.bits > 8 ? [900n, 2000n, 3000n] : [90n, 120n, 130n];
  let n = 1;
  const c = new PeerCore({ self, space, mode: { kind: 'init', successors: [at(s1), at(s2)] }, pingIntervalMs: 1000, pingMisses: 3, random32: () => n++, storeId: 'peer', ...(opts.secure ? { secure: true } : {}), ...(opts.fingers ? { routing: 'fingers' as const } : {}) });
  c.handle({ type: 'start', now: 0 });
  const pred = at(p);
  const check = sends(c.handle({ type: 'receive', msg: { type: 'ping', from: pred, seq: 1, role: 1, loud: false }, origin: udp(pred), now: 5 })).find((e) => e.msg.type === 'ping');
  if (check) c.handle({ type: 'receive', msg: { type: 'pong', from: pred, seq: (check.msg as MessageOf<'ping'>).seq, loud: false, successors: [self] }, origin: udp(pred), now: 6 });
  // (a private ring takes a ping only over a certificate: its predecessor stays unknown, which a lookup of ours does not need)
  if (!opts.secure) assert.equal(c.snapshot().pred1, p);
  return c;
}

test('a lookup of ours goes by datagram, once more over a connection if unanswered, and its answer ends it', () => {
  const c = core();
  const out = c.handle({ type: 'lookup', key: 5000n, op: 1, now: 10 });
  const [first] = lookups(out);
  assert.ok(first, 'a lookup is sent');
  assert.equal(first.transport, 'udp');
  const lid = (first.msg as MessageOf<'lookup'>).lid;
  const timer = out.find((e) => e.kind === 'set-timer' && e.name === `lookup-retry:${lid}`);
  assert.deepEqual(timer && timer.kind === 'set-timer' ? timer.at : undefined, 10 + LOOKUP_DATAGRAM_RETRY_MS);
  // no answer in time: the same lookup, over a connection, to the same first hop
  const again = lookups(c.handle({ type: 'timer', name: `lookup-retry:${lid}`, now: 10 + LOOKUP_DATAGRAM_RETRY_MS }));
  assert.deepEqual(again.map((e) => [e.transport, e.to.id, (e.msg as MessageOf<'lookup'>).lid]), [['tcp', first.to.id, lid]]);
  // only once
  assert.deepEqual(lookups(c.handle({ type: 'timer', name: `lookup-retry:${lid}`, now: 20 + 2 * LOOKUP_DATAGRAM_RETRY_MS })), []);
  const owner = at(5000n);
  const done = c.handle({ type: 'receive', msg: { type: 'lookup-reply', from: owner, lid, hops: 3, successors: [at(6000n)] }, origin: udp(owner), now: 1500 });
  const ev = done.find((e) => e.kind === 'op');
  assert.ok(ev && ev.kind === 'op' && ev.event.type === 'owner' && ev.event.owner.id === 5000n, 'the answer names the owner');
});

test('an answer in time cancels the retry', () => {
  const c = core();
  const [first] = lookups(c.handle({ type: 'lookup', key: 5000n, op: 1, now: 10 }));
  const lid = (first!.msg as MessageOf<'lookup'>).lid;
  const owner = at(5000n);
  const done = c.handle({ type: 'receive', msg: { type: 'lookup-reply', from: owner, lid, hops: 3, successors: [] }, origin: udp(owner), now: 20 });
  assert.ok(done.some((e) => e.kind === 'cancel-timer' && e.name === `lookup-retry:${lid}`));
  assert.deepEqual(lookups(c.handle({ type: 'timer', name: `lookup-retry:${lid}`, now: 10 + LOOKUP_DATAGRAM_RETRY_MS })), []);
});

test('a relay sends a lookup on as it came: by datagram, or over a connection', () => {
  const c = core();
  const asker = at(700n);
  const msg: MessageOf<'lookup'> = { type: 'lookup', origin: asker, key: 5000n, lid: 77, final: false, hops: 2 };
  const byDatagram = lookups(c.handle({ type: 'receive', msg, origin: udp(at(800n)), now: 10 }));
  assert.deepEqual(byDatagram.map((e) => [e.transport, (e.msg as MessageOf<'lookup'>).hops]), [['udp', 3]]);
  const byLink = lookups(c.handle({ type: 'receive', msg: { ...msg, lid: 78 }, origin: tcp(at(800n)), now: 11 }));
  assert.deepEqual(byLink.map((e) => e.transport), ['tcp']);
});

test('answers by datagram: at most 1024 a second to one host, loopback aside', () => {
  const c = core();
  const answers = (host: string, n: number, now: number) => {
    let count = 0;
    for (let i = 0; i < n; i++) {
      const asker = at(700n, host);
      const out = sends(c.handle({ type: 'receive', msg: { type: 'lookup', origin: asker, key: 950n, lid: i, final: false, hops: 3 }, origin: udp(at(800n)), now }));
      count += out.filter((e) => e.msg.type === 'lookup-reply' && e.transport === 'udp' && e.to.host === host).length;
    }
    return count;
  };
  assert.equal(answers('10.9.9.9', 1100, 100), 1024);
  assert.equal(answers('10.9.9.9', 10, 1200), 10, 'the next second has room again');
  assert.equal(answers('127.0.0.1', 1100, 100), 1100);
});

test('a private ring and the 8-bit ring look up over connections, with no retry timer', () => {
  for (const c of [core({ secure: true }), core({ space: SPEC_SPACE })]) {
    const key = c.snapshot().id > 255n ? 5000n : 200n;
    const out = c.handle({ type: 'lookup', key, op: 1, now: 10 });
    assert.deepEqual(lookups(out).map((e) => e.transport), ['tcp']);
    assert.ok(!out.some((e) => e.kind === 'set-timer' && e.name.startsWith('lookup-retry:')));
  }
});

test('a finger\'s refresh is upkeep: unanswered by datagram in time it ends, with no retry over a connection', () => {
  const c = core({ fingers: true });
  let refresh: Send | undefined;
  let now = 0;
  for (let i = 1; i <= 6 && !refresh; i++) {
    now = 10 + 1000 * i;
    refresh = lookups(c.handle({ type: 'timer', name: 'ping', now }))[0];
  }
  assert.ok(refresh, 'a refresh goes out within a few probes');
  assert.equal(refresh.transport, 'udp');
  const lid = (refresh.msg as MessageOf<'lookup'>).lid;
  const after = c.handle({ type: 'timer', name: `lookup-retry:${lid}`, now: now + LOOKUP_DATAGRAM_RETRY_MS });
  assert.deepEqual(lookups(after), [], 'nothing goes again over a connection');
  // and the refresh is over: the next probe may send the next one
  const next = lookups(c.handle({ type: 'timer', name: 'ping', now: now + 2 * LOOKUP_DATAGRAM_RETRY_MS }));
  assert.ok(next.every((e) => e.transport === 'udp'));
});
