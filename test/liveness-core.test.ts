// Lean liveness in the core alone (no sockets, no clock but the events' own `now`): above the
// spec's id space a peer pings only its first successor, probes its second only once the first
// stops listing it, learns its second predecessor from its first's pings, and tells its first
// predecessor at once when its first successor changes, by a pong only that predecessor can
// take for news. The spec's space keeps pinging both successors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { Effect } from '../src/core/effects.js';
import { IdSpace, SPEC_SPACE } from '../src/core/id-space.js';
import type { Message, MessageOf } from '../src/core/messages.js';
import type { Origin } from '../src/core/origin.js';
import { PeerCore } from '../src/core/peer-core.js';

const at = (id: bigint): Contact => ({ id, host: '10.0.0.1', port: 20000 + Number(id) });
const udpFrom = (c: Contact): Origin => ({ via: 'udp', src: { host: c.host, port: c.port } });
type Send = Extract<Effect, { kind: 'send' }>;
const sends = (effects: Effect[]) => effects.filter((e): e is Send => e.kind === 'send');
const pingsIn = (effects: Effect[]) => sends(effects).filter((e): e is Send & { msg: MessageOf<'ping'> } => e.msg.type === 'ping');
const deadIn = (effects: Effect[]) => effects.flatMap((e) => (e.kind === 'trace' && e.trace.kind === 'peer-dead' ? [e.trace.peer] : []));

/** Peer 8 with successors 9 and 14, past the start-up grace; `bits` 16 is lean, 8 the spec's. */
function core(bits = 16): { c: PeerCore; now: { t: number } } {
  let n = 1;
  const c = new PeerCore({
    self: at(8n),
    space: bits === 8 ? SPEC_SPACE : new IdSpace(bits),
    mode: { kind: 'init', successors: [at(9n), at(14n)] },
    pingIntervalMs: 1000,
    pingMisses: 3,
    random32: () => n++,
    storeId: 'peer-8',
  });
  c.handle({ type: 'start', now: 0 });
  return { c, now: { t: 0 } };
}

/** Answers every ping in `effects` as the peer pinged would, naming `lists[id]` as its successors. */
function answer(c: PeerCore, effects: Effect[], now: number, lists: Record<string, Contact[]>): Effect[] {
  const out: Effect[] = [];
  for (const p of pingsIn(effects)) {
    const who = p.to as Contact;
    const pong: Message = { type: 'pong', from: who, seq: p.msg.seq, loud: p.msg.loud, successors: lists[String(who.id)] ?? [] };
    out.push(...c.handle({ type: 'receive', msg: pong, origin: udpFrom(who), now }));
  }
  return out;
}

test('lean: each probe pings the first successor alone; the spec\'s space pings both', () => {
  const lean = core(16).c;
  const first = lean.handle({ type: 'timer', name: 'ping', now: 0 });
  assert.deepEqual(pingsIn(first).map((p) => [p.to.id, p.msg.role]), [[9n, 1]]);
  const spec = core(8).c;
  assert.deepEqual(pingsIn(spec.handle({ type: 'timer', name: 'ping', now: 0 })).map((p) => [p.to.id, p.msg.role]), [[9n, 1], [14n, 2]]);
});

test('lean: a second successor the first still lists is never probed; one it stops listing is probed and, silent, declared dead', () => {
  const { c } = core(16);
  const lists = { '9': [at(14n), at(20n)] };
  let t = 20_000; // past init's start-up grace
  for (let i = 0; i < 5; i++, t += 1000) {
    const out = c.handle({ type: 'timer', name: 'ping', now: t });
    assert.ok(pingsIn(out).every((p) => p.to.id === 9n), 'only the first successor');
    answer(c, out, t + 5, lists);
  }
  // 9's own probes found 14 gone: its pong lists 20 next
  const out = c.handle({ type: 'timer', name: 'ping', now: t });
  const doubt = answer(c, out, t + 5, { '9': [at(20n), at(25n)] });
  const probe = pingsIn(doubt).filter((p) => p.to.id === 14n);
  assert.equal(probe.length, 1, 'the doubted second successor is probed at once');
  assert.equal(probe[0]!.msg.role, 2);
  assert.deepEqual(deadIn(doubt), [], 'not declared dead on its first successor\'s word alone');
  // 14 stays silent past half a re-probe (125 ms): dead, and 9's next is verified as the new second
  const judged = c.handle({ type: 'timer', name: 'liveness', now: t + 5 + 130 });
  assert.deepEqual(deadIn(judged), [14n]);
  assert.equal(c.snapshot().successors[0], 9n);
  assert.ok(!c.snapshot().successors.includes(14n));
});

test('lean: a doubted second successor that answers stays', () => {
  const { c } = core(16);
  const t = 20_000;
  const out = c.handle({ type: 'timer', name: 'ping', now: t });
  const doubt = answer(c, out, t + 5, { '9': [at(20n)] });
  const probe = pingsIn(doubt).find((p) => p.to.id === 14n)!;
  c.handle({ type: 'receive', msg: { type: 'pong', from: at(14n), seq: probe.msg.seq, loud: false, successors: [at(20n)] }, origin: udpFrom(at(14n)), now: t + 20 });
  const later = c.handle({ type: 'timer', name: 'liveness', now: t + 500 });
  assert.deepEqual(deadIn(later), []);
  assert.deepEqual(c.snapshot().successors.slice(0, 2), [9n, 14n]);
  // and is not pinged on the next probe (its doubt was answered)
  assert.deepEqual(pingsIn(c.handle({ type: 'timer', name: 'ping', now: t + 1000 })).map((p) => p.to.id), [9n]);
});

test('lean: the second predecessor is the one the first predecessor\'s ping names, once it answers a ping of ours', () => {
  const { c } = core(16);
  const p1 = at(5n);
  const p2 = at(3n);
  // 5 pings as our first predecessor, naming 3; 5 is verified first (it answers our check)
  let out = c.handle({ type: 'receive', msg: { type: 'ping', from: p1, seq: 41, role: 1, loud: false, pred: p2 }, origin: udpFrom(p1), now: 100 });
  const check5 = pingsIn(out).find((p) => p.to.id === 5n && p.msg.role === 0)!;
  assert.ok(check5, 'the pinger is checked before it is taken');
  c.handle({ type: 'receive', msg: { type: 'pong', from: p1, seq: check5.msg.seq, loud: false, successors: [at(8n)] }, origin: udpFrom(p1), now: 110 });
  assert.equal(c.snapshot().pred1, 5n);
  out = c.handle({ type: 'receive', msg: { type: 'ping', from: p1, seq: 42, role: 1, loud: false, pred: p2 }, origin: udpFrom(p1), now: 1100 });
  const check3 = pingsIn(out).find((p) => p.to.id === 3n && p.msg.role === 0);
  assert.ok(check3, 'the named second predecessor is checked');
  assert.equal(c.snapshot().pred2, undefined, 'not before it answers');
  c.handle({ type: 'receive', msg: { type: 'pong', from: p2, seq: check3!.msg.seq, loud: false, successors: [p1] }, origin: udpFrom(p2), now: 1110 });
  assert.equal(c.snapshot().pred2, 3n);
  // named again: kept without another check, well past the verification's memory
  for (let t = 2100; t < 40_000; t += 1000) {
    const again = c.handle({ type: 'receive', msg: { type: 'ping', from: p1, seq: t, role: 1, loud: false, pred: p2 }, origin: udpFrom(p1), now: t });
    assert.deepEqual(pingsIn(again).filter((p) => p.msg.role === 0).map((p) => p.to.id), [], `no check at ${t}`);
    c.handle({ type: 'timer', name: 'ping', now: t + 1 });
  }
  assert.equal(c.snapshot().pred2, 3n);
  assert.equal(c.snapshot().pred1, 5n);
});

test('lean: a new first successor is told to the first predecessor at once, in a pong only it can take for news', () => {
  const { c } = core(16);
  const p1 = at(5n);
  // 5 becomes our first predecessor (checked), and pings once more: its sequence number is the key
  const out = c.handle({ type: 'receive', msg: { type: 'ping', from: p1, seq: 41, role: 1, loud: false }, origin: udpFrom(p1), now: 100 });
  const check = pingsIn(out).find((p) => p.to.id === 5n)!;
  c.handle({ type: 'receive', msg: { type: 'pong', from: p1, seq: check.msg.seq, loud: false, successors: [at(8n)] }, origin: udpFrom(p1), now: 110 });
  // our first successor, 9, dies (three unanswered probes past the grace) while 5 keeps pinging
  let t = 20_000;
  let told: Send[] = [];
  let lastSeq = 0;
  for (let i = 0; i < 8 && told.length === 0; i++, t += 250) {
    lastSeq = 700 + i;
    const ping = c.handle({ type: 'receive', msg: { type: 'ping', from: p1, seq: lastSeq, role: 1, loud: false }, origin: udpFrom(p1), now: t - 1 });
    assert.deepEqual(sends(ping).filter((e) => e.msg.type === 'pong').map((e) => (e.msg as MessageOf<'pong'>).seq), [lastSeq], 'every ping answered');
    const fx = c.handle({ type: 'timer', name: i === 0 ? 'ping' : 'liveness', now: t });
    told = sends(fx).filter((e) => e.to.id === 5n && e.msg.type === 'pong');
  }
  assert.equal(told.length, 1, 'the first predecessor is told');
  const news = told[0]!.msg as MessageOf<'pong'>;
  assert.equal(news.seq, lastSeq, 'repeating its last ping\'s sequence number');
  assert.equal(news.successors[0]!.id, 14n);
});

test('lean: news from the first successor counts only with the sequence number of our last answered ping to it', () => {
  const { c } = core(16);
  const t = 20_000;
  const out = c.handle({ type: 'timer', name: 'ping', now: t });
  const ping9 = pingsIn(out).find((p) => p.to.id === 9n)!;
  answer(c, out, t + 5, { '9': [at(14n), at(20n)] });
  // a guessed sequence number: dropped, 14 is not doubted
  const forged = c.handle({ type: 'receive', msg: { type: 'pong', from: at(9n), seq: ping9.msg.seq + 1, loud: false, successors: [at(20n)] }, origin: udpFrom(at(9n)), now: t + 100 });
  assert.deepEqual(pingsIn(forged), []);
  // the right one from another address: dropped too
  const elsewhere = c.handle({ type: 'receive', msg: { type: 'pong', from: at(9n), seq: ping9.msg.seq, loud: false, successors: [at(20n)] }, origin: { via: 'udp', src: { host: '10.6.6.6', port: 1 } }, now: t + 100 });
  assert.deepEqual(pingsIn(elsewhere), []);
  // the real news: 14 is doubted and probed
  const real = c.handle({ type: 'receive', msg: { type: 'pong', from: at(9n), seq: ping9.msg.seq, loud: false, successors: [at(20n)] }, origin: udpFrom(at(9n)), now: t + 100 });
  assert.deepEqual(pingsIn(real).map((p) => p.to.id), [14n]);
});
