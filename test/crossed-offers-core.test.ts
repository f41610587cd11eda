// Two offers of the same name to the same peer can cross (a new file's offer and a sync, or a
// hand-over's): the peer wants the name under both, since neither copy has landed yet. The owner
// sends it once; a want that comes after the copy has landed sends nothing, because a second copy
// would only be refused ("stored here already") and, in a hand-over, taken for a failed taker.
// The core alone, its timers driven by hand, no sockets, no clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultContact } from '../src/space.js';
import type { Effect } from '../src/core/effects.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { MessageOf } from '../src/core/messages.js';
import type { Origin } from '../src/core/origin.js';
import { PeerCore } from '../src/core/peer-core.js';

const SHA = new Uint8Array(32).fill(7);
const p5 = defaultContact(5n);
const p8 = defaultContact(8n);
const p9 = defaultContact(9n);
const p14 = defaultContact(14n);
const tcp: Origin = { via: 'tcp', src: { host: p9.host, port: 50000 } };
const offersTo9 = (effects: Effect[]) =>
  effects.flatMap((e) => (e.kind === 'send' && e.msg.type === 'key-offer' && e.msg.from && (e.to as { id?: bigint }).id === 9n ? [e.msg] : []));
const pushes = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: 'push-file' }> => e.kind === 'push-file');

/** Peer 8 (k = 3, successors 9 and 14) holding 0008, its own key, run until it has offered 0008 to Peer 9 twice. */
function twoOffers(): { c: PeerCore; offers: MessageOf<'key-offer'>[]; now: number } {
  let n = 100;
  const c = new PeerCore({ self: p8, space: SPEC_SPACE, mode: { kind: 'init', successors: [p9, p14] }, pingIntervalMs: 1000, pingMisses: 3, random32: () => n++, storeId: 'peer-8', replicas: 3 });
  const timers = new Map<string, number>();
  const offers: MessageOf<'key-offer'>[] = [];
  let now = 0;
  // Peers 5, 9 and 14 answer every ping; Peer 5 pings as our first predecessor
  const take = (effects: Effect[]): void => {
    for (const e of effects) {
      if (e.kind === 'set-timer') timers.set(e.name, e.at);
      if (e.kind === 'cancel-timer') timers.delete(e.name);
      if (e.kind === 'send' && e.msg.type === 'ping' && e.msg.from) {
        const to = [p5, p9, p14].find((p) => p.id === (e.to as { id?: bigint }).id);
        const next = to === p5 ? p8 : to === p9 ? p14 : p9;
        if (to) take(c.handle({ type: 'receive', msg: { type: 'pong', from: to, seq: e.msg.seq, loud: false, successors: [next] }, origin: { via: 'udp', src: { host: to.host, port: to.port } }, now }));
      }
    }
    offers.push(...offersTo9(effects).filter((m) => m.keys.some((k) => k.name === '0008')));
  };
  take(c.handle({ type: 'start', now: 0, files: [{ name: '0008', size: 10, sha256: SHA }] }));
  take(c.handle({ type: 'receive', msg: { type: 'ping', from: p5, seq: 1, role: 1, loud: false }, origin: { via: 'udp', src: { host: p5.host, port: p5.port } }, now }));
  // every timer in turn, for at most five minutes of its time: a sync repeats the offer
  for (let i = 0; i < 10_000 && offers.length < 2 && now < 300_000; i++) {
    const next = [...timers].sort((a, b) => a[1] - b[1])[0];
    if (!next) break;
    timers.delete(next[0]);
    now = Math.max(now, next[1]);
    take(c.handle({ type: 'timer', name: next[0], now }));
  }
  assert.ok(offers.length >= 2, `Peer 8 offered 0008 to Peer 9 ${offers.length} times in ${now} ms`);
  return { c, offers, now };
}

const want = (o: MessageOf<'key-offer'>, wid: number): MessageOf<'key-want'> => ({ type: 'key-want', from: p9, oid: o.oid, wid, names: ['0008'], refused: [] });

test('a want that crosses a copy already taken sends nothing more', () => {
  const { c, offers, now } = twoOffers();
  const first = pushes(c.handle({ type: 'receive', msg: want(offers[0]!, 501), origin: tcp, now: now + 1 }));
  assert.equal(first.length, 1, 'the first want gets its copy');
  assert.equal(first[0]!.rid, 501);
  c.handle({ type: 'push-progress', file: '0008', to: p9, purpose: 'replica', rid: 501, phase: 'sent', now: now + 2 });
  const second = pushes(c.handle({ type: 'receive', msg: want(offers[1]!, 502), origin: tcp, now: now + 3 }));
  assert.deepEqual(second, [], 'no second copy of a name the peer took');
});

test('two wants in flight together: one copy goes, the second only if the first fails', () => {
  const { c, offers, now } = twoOffers();
  const a = pushes(c.handle({ type: 'receive', msg: want(offers[0]!, 601), origin: tcp, now: now + 1 }));
  const b = pushes(c.handle({ type: 'receive', msg: want(offers[1]!, 602), origin: tcp, now: now + 2 }));
  assert.equal(a.length + b.length, 1, 'one copy on its way at a time');
  // the copy broke on the way: the waiting one goes under its own want id
  const retry = pushes(c.handle({ type: 'push-progress', file: '0008', to: p9, purpose: 'replica', rid: 601, phase: 'failed', error: 'connection reset', now: now + 3 }));
  assert.deepEqual(retry.map((p) => p.rid), [602]);
  const after = pushes(c.handle({ type: 'push-progress', file: '0008', to: p9, purpose: 'replica', rid: 602, phase: 'sent', now: now + 4 }));
  assert.deepEqual(after, []);
});
