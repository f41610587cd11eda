// The integrity rules of the pure core, with no network: which offered copies a peer wants, how
// many, and under which id they must come.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import { defaultContact } from '../src/space.js';
import type { Effect } from '../src/core/effects.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { FileBegin, Message } from '../src/core/messages.js';
import { PeerCore } from '../src/core/peer-core.js';

const c = (id: number): Contact => defaultContact(BigInt(id), '127.0.0.1', 30_000);
const SHA = new Uint8Array(32).fill(9);

/** Peer 200 with successors 220 and 240, which has heard 10 (first) and 5 (second) ping it. */
function peer200(): PeerCore {
  let seq = 3;
  const core = new PeerCore({ self: c(200), space: SPEC_SPACE, mode: { kind: 'init', successors: [c(220), c(240)] }, pingIntervalMs: 1000, pingMisses: 3, random32: () => (seq = (seq * 1103515245 + 12345) >>> 0), storeId: 'x', replicas: 3 });
  core.handle({ type: 'start', now: 0 });
  for (const [p, role] of [[10, 1], [5, 2]] as const) {
    const effects = core.handle({ type: 'receive', msg: { type: 'ping', from: c(p), seq: 1, role, loud: false }, origin: { via: 'udp', src: c(p) }, now: 10 });
    const check = effects.find((e) => e.kind === 'send' && e.msg.type === 'ping');
    if (check?.kind === 'send' && check.msg.type === 'ping') {
      core.handle({ type: 'receive', msg: { type: 'pong', from: c(p), seq: check.msg.seq, loud: false, successors: [c(200)] }, origin: { via: 'udp', src: c(p) }, now: 11 });
    }
  }
  assert.equal(core.snapshot().pred1, 10n);
  return core;
}

function wants(effects: Effect[]): Extract<Message, { type: 'key-want' }>[] {
  return effects.flatMap((e) => (e.kind === 'send' && e.msg.type === 'key-want' ? [e.msg] : []));
}

/** Four-digit names whose key (name mod 256) lies in (from, to]. */
function namesIn(from: number, to: number, count: number, skip = 0): string[] {
  const out: string[] = [];
  for (let n = 0; n < 10_000 && out.length < count + skip; n++) if (n % 256 > from && n % 256 <= to) out.push(String(n).padStart(4, '0'));
  return out.slice(skip);
}

test('wants are bounded per offering peer, whatever it offers', () => {
  const core = peer200();
  const all = namesIn(10, 200, 128 * 40);
  let wanted = 0;
  for (let i = 0; i < 40; i++) {
    const keys = all.slice(i * 128, (i + 1) * 128).map((name) => ({ name, size: 10, sha256: SHA }));
    const out = wants(core.handle({ type: 'receive', msg: { type: 'key-offer', from: c(10), oid: i + 1, keys }, origin: { via: 'tcp', src: c(10) }, now: 100 + i }));
    assert.equal(out.length, 1);
    wanted += out[0]!.names.length;
    assert.equal(out[0]!.names.length + out[0]!.refused.length, keys.length, 'each name is wanted or refused');
  }
  assert.ok(all.length > 4000);
  assert.equal(wanted, 1024, 'one peer reserves at most 1024 names');
});

test('a copy is wanted only from a neighbour, only for a key this peer holds, and must come under the want id', () => {
  const core = peer200();
  const offer = (from: Contact, name: string, oid: number) =>
    wants(core.handle({ type: 'receive', msg: { type: 'key-offer', from, oid, keys: [{ name, size: 10, sha256: SHA }] }, origin: { via: 'tcp', src: from }, now: 50 }))[0]!;
  // key 100 is in 200's range (10, 200]: wanted from the predecessor 10
  const ok = offer(c(10), '0100', 1);
  assert.deepEqual([ok.names, ok.refused], [['0100'], []]);
  // key 230 lies ahead (220's): refused from 10, whatever it says
  assert.deepEqual(offer(c(10), '0230', 2).refused, ['0230']);
  // key 3 (behind 200's predecessors) from 99, which pinged nobody here: it answers a check, but is
  // no predecessor of ours, so it holds no replica we should keep
  const stranger = core.handle({ type: 'receive', msg: { type: 'key-offer', from: c(99), oid: 3, keys: [{ name: '0003', size: 10, sha256: SHA }] }, origin: { via: 'tcp', src: c(99) }, now: 60 });
  const check = stranger.find((e) => e.kind === 'send' && e.msg.type === 'ping');
  assert.ok(check?.kind === 'send' && check.msg.type === 'ping');
  const answered = core.handle({ type: 'receive', msg: { type: 'pong', from: c(99), seq: check.msg.seq, loud: false, successors: [] }, origin: { via: 'udp', src: c(99) }, now: 61 });
  assert.deepEqual(wants(answered)[0]?.refused, ['0003']);
  // the same from the predecessor 10, which holds key 3 as its owner: wanted
  assert.deepEqual(offer(c(10), '0003', 6).names, ['0003']);
  // an offer without a record is refused
  const bare = wants(core.handle({ type: 'receive', msg: { type: 'key-offer', from: c(10), oid: 4, keys: [{ name: '0101', size: 10 }] }, origin: { via: 'tcp', src: c(10) }, now: 62 }))[0]!;
  assert.deepEqual(bare.refused, ['0101']);
  // the copy of 0100 is accepted only under the want's id, with the offered record, never replacing
  const file = (rid: number, size = 10): FileBegin => ({ type: 'file-begin', from: c(10), file: '0100', rid, purpose: 'replica', size });
  const accepted = (h: FileBegin) => core.handle({ type: 'file-offer', header: h, origin: { via: 'tcp', src: c(10) }, now: 70 }).find((e) => e.kind === 'accept-file');
  assert.equal(accepted(file(1)), undefined, 'the offer id is not the want id');
  assert.equal(accepted(file(ok.wid, 11)), undefined, 'another size than offered');
  assert.deepEqual(accepted(file(ok.wid)), { kind: 'accept-file', saveAs: '0100.pdf', sha256: SHA, keep: true });
  core.handle({ type: 'file-done', header: file(ok.wid), ok: true, sha256: SHA, now: 71 });
  // held now: a second copy of the name is refused however it comes
  const again = offer(c(10), '0100', 5);
  assert.deepEqual([again.names, again.refused], [[], []], 'held already: neither wanted nor refused');
  assert.equal(accepted(file(ok.wid)), undefined);
});

test('a store copy never replaces a file, and a stored name is served with its record', () => {
  const core = peer200();
  const from = { via: 'tcp' as const, src: c(10) };
  core.handle({ type: 'receive', msg: { type: 'store', origin: c(10), file: '0150', final: true, hops: 1 }, origin: from, now: 20 });
  const h: FileBegin = { type: 'file-begin', from: c(10), file: '0150', rid: 0, purpose: 'store', size: 10 };
  const acc = core.handle({ type: 'file-offer', header: h, origin: from, now: 21 }).find((e) => e.kind === 'accept-file');
  assert.deepEqual(acc, { kind: 'accept-file', saveAs: '0150.pdf', keep: true }, 'a store copy never replaces a file');
  core.handle({ type: 'file-done', header: h, ok: true, sha256: SHA, now: 22 });
  const ask = (file: string) => core.handle({ type: 'receive', msg: { type: 'file-request', requester: c(220), file, rid: 7, final: true, hops: 1, fallback: 0 }, origin: { via: 'tcp', src: c(220) }, now: 30 });
  const serve = ask('0150').find((e) => e.kind === 'serve-file');
  assert.deepEqual(serve, { kind: 'serve-file', name: '0150', rid: 7, to: c(220), sha256: SHA });
});

test('a store in this peer\'s own name that it never started is dropped; a peer handing its keys over passes requests on', () => {
  const core = peer200();
  const forged = core.handle({ type: 'receive', msg: { type: 'store', origin: c(200), file: '0150', final: true, hops: 3 }, origin: { via: 'tcp', src: c(10) }, now: 20 });
  assert.ok(!forged.some((e) => e.kind === 'trace' && e.trace.kind === 'store-accepted'), 'nobody typed Store 0150 here');
  // holding a file, Quit starts a hand-over; a request that stops here meanwhile goes to the successor
  core.handle({ type: 'receive', msg: { type: 'store', origin: c(10), file: '0150', final: true, hops: 1 }, origin: { via: 'tcp', src: c(10) }, now: 21 });
  const h: FileBegin = { type: 'file-begin', from: c(10), file: '0150', rid: 0, purpose: 'store', size: 10 };
  core.handle({ type: 'file-offer', header: h, origin: { via: 'tcp', src: c(10) }, now: 22 });
  core.handle({ type: 'file-done', header: h, ok: true, sha256: SHA, now: 23 });
  core.handle({ type: 'quit', now: 30 });
  const asked = core.handle({ type: 'receive', msg: { type: 'file-request', requester: c(5), file: '0150', rid: 8, final: true, hops: 1, fallback: 2 }, origin: { via: 'tcp', src: c(5) }, now: 31 });
  assert.ok(!asked.some((e) => e.kind === 'serve-file'), 'not served by a peer on its way out');
  const on = asked.find((e) => e.kind === 'send' && e.msg.type === 'file-request');
  assert.ok(on?.kind === 'send' && on.to.id === 220n, 'passed to the successor that takes the keys over');
});
