// A replica a peer asked for, whose transfer its own endpoint turned away (no temporary room) or
// that broke on the way, is asked for still: the sender's retry under the same want id is taken,
// not refused as "no such replica was asked for". The core alone, no sockets, no clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultContact } from '../src/space.js';
import type { Effect } from '../src/core/effects.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { FileBegin, MessageOf } from '../src/core/messages.js';
import type { Origin } from '../src/core/origin.js';
import { PeerCore } from '../src/core/peer-core.js';

const SHA = new Uint8Array(32).fill(9);
const p5 = defaultContact(5n);
const udp: Origin = { via: 'udp', src: { host: p5.host, port: p5.port } };
const tcp: Origin = { via: 'tcp', src: { host: p5.host, port: 50000 } };
const sends = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: 'send' }> => e.kind === 'send');

/** Peer 8 (k = 3) whose first predecessor is Peer 5 (checked), and the want it sends for 5's offer of 0005. */
function wanting(): { c: PeerCore; want: MessageOf<'key-want'> } {
  let n = 100;
  const c = new PeerCore({ self: defaultContact(8n), space: SPEC_SPACE, mode: { kind: 'init', successors: [defaultContact(9n), defaultContact(14n)] }, pingIntervalMs: 1000, pingMisses: 3, random32: () => n++, storeId: 'peer-8', replicas: 3 });
  c.handle({ type: 'start', now: 0 });
  // 5 pings as our first predecessor; we check it, it answers
  const check = sends(c.handle({ type: 'receive', msg: { type: 'ping', from: p5, seq: 1, role: 1, loud: false }, origin: udp, now: 10 })).find((e) => e.msg.type === 'ping')!;
  c.handle({ type: 'receive', msg: { type: 'pong', from: p5, seq: (check.msg as MessageOf<'ping'>).seq, loud: false, successors: [defaultContact(8n)] }, origin: udp, now: 11 });
  assert.equal(c.snapshot().pred1, 5n);
  const out = sends(c.handle({ type: 'receive', msg: { type: 'key-offer', from: p5, oid: 77, keys: [{ name: '0005', size: 10, sha256: SHA }] }, origin: tcp, now: 20 }));
  const want = out.find((e) => e.msg.type === 'key-want')!.msg as MessageOf<'key-want'>;
  assert.deepEqual(want.names, ['0005'], 'a replica of its first predecessor\'s key is wanted');
  return { c, want };
}

function header(wid: number): FileBegin {
  return { type: 'file-begin', from: p5, file: '0005', rid: wid, purpose: 'replica', size: 10, sha256: SHA };
}
const accepted = (effects: Effect[]) => effects.some((e) => e.kind === 'accept-file');

for (const how of ['busy', 'broken'] as const) {
  test(`a wanted replica whose transfer was ${how === 'busy' ? 'turned away by our endpoint' : 'broken on the way'} is taken when it comes again`, () => {
    const { c, want } = wanting();
    assert.ok(accepted(c.handle({ type: 'file-offer', header: header(want.wid), origin: tcp, now: 30 })), 'the first copy is taken');
    c.handle({ type: 'file-done', header: header(want.wid), ok: false, error: how === 'busy' ? 'busy: no temporary space' : 'connection reset', ...(how === 'busy' ? { busy: true } : {}), now: 31 });
    assert.ok(accepted(c.handle({ type: 'file-offer', header: header(want.wid), origin: tcp, now: 40 })), 'the retry under the same want id is taken');
    c.handle({ type: 'file-done', header: header(want.wid), ok: true, sha256: SHA, now: 41 });
    assert.ok(c.snapshot().files.some((f) => f.name === '0005'));
    // once held, the same copy again is refused
    assert.ok(!accepted(c.handle({ type: 'file-offer', header: header(want.wid), origin: tcp, now: 50 })));
  });
}

test('a replica never asked for is still refused, and a finished one is not asked for again', () => {
  const { c, want } = wanting();
  assert.ok(!accepted(c.handle({ type: 'file-offer', header: header(want.wid + 1), origin: tcp, now: 30 })), 'another want id');
  assert.ok(accepted(c.handle({ type: 'file-offer', header: header(want.wid), origin: tcp, now: 31 })));
  assert.ok(!accepted(c.handle({ type: 'file-offer', header: header(want.wid), origin: tcp, now: 32 })), 'a second copy while the first is on its way');
});
