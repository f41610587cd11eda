// The protocol core on its own: ring arithmetic, commands, pings, failure detection and
// joins, driven synchronously through FakeLink.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SPEC_SPACE } from '../src/core/id-space.js';
import { ringSuccessors as ringSuccessorsOf } from '../src/core/ring.js';
import { defaultContact } from '../src/space.js';
import { BASE, FakeLink } from './helpers/fake-link.js';
import type { Effect } from '../src/core/effects.js';
import type { Message } from '../src/core/messages.js';
import { proven, type ProofCheck } from '../src/core/origin.js';
import { renderTrace } from '../src/core/trace.js';

const space = SPEC_SPACE;
const keyOf = (f: string) => Number(space.keyOf(f));
const ownerOf = (k: number, ids: number[]) => Number(space.ownerOf(BigInt(k), ids.map(BigInt)));
const betweenOpen = (a: number, x: number, b: number) => space.betweenOpen(BigInt(a), BigInt(x), BigInt(b));
const betweenRightClosed = (a: number, x: number, b: number) => space.betweenRightClosed(BigInt(a), BigInt(x), BigInt(b));
/** The true ring with plain-number ids. */
function ringSuccessors(ids: number[]): Map<number, number[]> {
  return new Map([...ringSuccessorsOf(ids.map(BigInt))].map(([k, v]) => [Number(k), v.map(Number)]));
}

const here = dirname(fileURLToPath(import.meta.url));

test('nothing under src/core or src/wire imports node:* or reads a clock or randomness', () => {
  // tests run from dist/test; the sources sit at ../../src
  for (const part of ['core', 'wire']) {
    const dir = join(here, '..', '..', 'src', part);
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length >= 4, `expected the ${part} sources in ${dir}`);
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      assert.doesNotMatch(src, /from\s+['"]node:/, `${part}/${f} imports a node: module`);
      assert.doesNotMatch(src, /\brequire\(|\bBuffer\b|Date\.now|Math\.random|setTimeout|setInterval|process\./, `${part}/${f} touches the outside world`);
    }
  }
});

test('keys and owners follow the spec examples', () => {
  assert.equal(keyOf('2012'), 220);
  assert.equal(keyOf('2067'), 19);
  assert.equal(keyOf('4103'), 7);
  assert.equal(keyOf('0159'), 159);
  const ring = [2, 4, 5, 8, 9, 14, 19];
  assert.equal(ownerOf(7, ring), 8);
  assert.equal(ownerOf(19, ring), 19);
  assert.equal(ownerOf(220, ring), 2, 'keys above the largest id wrap to the smallest');
  assert.equal(ownerOf(0, ring), 2);
  assert.equal(ownerOf(2, ring), 2);
});

test('intervals wrap past 255', () => {
  assert.ok(betweenOpen(19, 200, 2));
  assert.ok(betweenOpen(19, 0, 2));
  assert.ok(!betweenOpen(19, 2, 2), 'the open interval excludes its end');
  assert.ok(!betweenOpen(4, 4, 5));
  assert.ok(betweenOpen(7, 3, 7), 'a ring of one covers every other id');
  assert.ok(betweenRightClosed(19, 2, 2));
  assert.ok(betweenRightClosed(250, 3, 5));
  assert.ok(!betweenRightClosed(250, 6, 5));
  assert.deepEqual(ringSuccessors([19, 2, 4]).get(19), [2, 4]);
});

function referenceRing(): FakeLink {
  const net = new FakeLink();
  for (const [id, s] of ringSuccessors([2, 4, 5, 8, 9, 14, 19])) net.add(id, { kind: 'init', successors: s });
  return net;
}

test('pings: each peer pings both successors and learns its predecessors', () => {
  const net = referenceRing();
  net.advance(0);
  assert.ok(net.linesOf(2).includes('Ping requests sent to Peers 4 and 5'));
  assert.ok(net.linesOf(2).includes('Ping response received from Peer 4'));
  assert.ok(net.linesOf(2).includes('Ping response received from Peer 5'));
  assert.ok(net.linesOf(5).includes('Ping request message received from Peer 2'));
  assert.ok(net.linesOf(5).includes('Ping request message received from Peer 4'));
  const s = net.snapshot(5);
  assert.equal(s.pred1, 4);
  assert.equal(s.pred2, 2);
});

test('commands: bad input gets one clear line each and the peer keeps working', () => {
  const net = referenceRing();
  net.advance(0);
  const mark = net.lines.length;
  for (const bad of ['Store abc', 'Store 12345', 'Store 12', 'Request 99', 'Fetch 1234', 'Store', 'Quit now']) net.command(8, bad);
  const said = net.linesOf(8, mark);
  assert.equal(said.length, 7, said.join('\n'));
  assert.match(said[0]!, /Invalid file name 'abc'/);
  assert.match(said[1]!, /Invalid file name '12345'/);
  assert.match(said[2]!, /Invalid file name '12'/);
  assert.match(said[3]!, /Invalid file name '99'/);
  assert.match(said[4]!, /Unknown command 'Fetch'/);
  net.command(8, 'sToRe 2067');
  assert.ok(net.linesOf(8, mark).includes('Store 2067 request forwarded to my successor'));
  assert.ok(net.linesOf(19, mark).includes('Store 2067 request accepted'));
  net.command(2, 'store 0159');
  assert.ok(net.linesOf(2, mark).includes('Store 0159 request accepted'), 'key 159 wraps to Peer 2 and the name keeps its zero');
});

test('a killed successor is declared dead after the missed ping and pingMisses - 1 quick re-probes', () => {
  const net = referenceRing();
  net.advance(2500); // pings at 0, 1000, 2000 all answered
  net.down.add(14);
  const mark = net.lines.length;
  net.advance(500); // the ping at 3000 is the first unanswered one
  const firstMiss = 3000;
  const reprobeMs = net.cores.get(9)!.reprobeMs;
  assert.equal(reprobeMs, 250, 'a quarter of the 1 s interval');
  net.advance(3 * reprobeMs - 1);
  assert.ok(!net.linesOf(9, mark).includes('Peer 14 is no longer alive'), 'declared too early');
  net.advance(1);
  const at = net.lines.find((l, i) => i >= mark && l.id === 9 && l.line === 'Peer 14 is no longer alive')?.at;
  assert.equal(at, firstMiss + 3 * reprobeMs, 'three unanswered probes: the ping and two re-probes');
  assert.ok(at - 2000 <= 2 * 1000, 'within two intervals of the last answered ping');
  assert.deepEqual(net.linesOf(9, mark).filter((l) => l.startsWith('My new')), ['My new first successor is Peer 19', 'My new second successor is Peer 2']);
  assert.deepEqual(net.linesOf(8, mark).filter((l) => !l.startsWith('Ping')), [
    'Peer 14 is no longer alive',
    'My new first successor is Peer 9',
    'My new second successor is Peer 19',
  ]);
});

test('one lost ping never kills a peer, and pingMisses is honoured', () => {
  const net = new FakeLink();
  for (const [id, s] of ringSuccessors([1, 2, 3])) net.add(id, { kind: 'init', successors: s }, { pingMisses: 2 });
  net.advance(1500);
  let drop = true;
  net.lose = (from, to, msg) => {
    if (from === 1 && to === 2 && msg.type === 'ping' && drop) {
      drop = false;
      return true;
    }
    return false;
  };
  net.advance(5000);
  assert.equal(drop, false, 'a ping was lost');
  assert.ok(!net.lines.some((l) => l.line.endsWith('is no longer alive')));
  net.lose = (from, to, msg) => from === 1 && to === 2 && msg.type === 'ping';
  const mark = net.lines.length;
  net.advance(500 + 250); // the ping at 7000 is lost: one miss at 7250, and a re-probe
  assert.ok(!net.linesOf(1, mark).includes('Peer 2 is no longer alive'));
  net.advance(250); // the re-probe is lost too: the second miss
  assert.ok(net.linesOf(1, mark).includes('Peer 2 is no longer alive'));
});

test('a long ping interval still detects a death within 60 s', () => {
  const net = new FakeLink();
  for (const [id, s] of ringSuccessors([1, 2, 3])) net.add(id, { kind: 'init', successors: s }, { pingIntervalMs: 30_000 });
  net.advance(31_000);
  const pings = net.linesOf(1).filter((l) => l.startsWith('Ping requests sent')).length;
  assert.equal(pings, 2, 'ping lines stay at one per interval');
  net.down.add(2);
  const killedAt = net.now;
  const mark = net.lines.length;
  net.advance(60_000);
  const at = net.lines.find((l, i) => i >= mark && l.line === 'Peer 2 is no longer alive')?.at;
  assert.ok(at !== undefined && at - killedAt <= 60_000, `detected after ${at === undefined ? 'never' : at - killedAt} ms`);
});

test('joins wrap around: below the smallest id and above the largest', () => {
  const net = referenceRing();
  net.advance(100);
  for (const [id, via] of [[1, 8], [200, 4], [0, 19], [255, 2]]) {
    const mark = net.lines.length;
    net.add(id!, { kind: 'join', known: via! });
    net.flush();
    assert.ok(net.linesOf(id, mark).includes('Join request has been accepted'), `Peer ${id} was not accepted`);
    net.advance(3000);
  }
  const ids = [0, 1, 2, 4, 5, 8, 9, 14, 19, 200, 255];
  const truth = ringSuccessors(ids);
  for (const id of ids) assert.deepEqual(net.snapshot(id).successors.slice(0, 2), truth.get(id), `successors of ${id}`);
});

test('a join for an id already in the ring is refused and the joiner exits non-zero', () => {
  const net = referenceRing();
  net.advance(100);
  net.cores.delete(14); // a second process claiming id 14 (the first is still in the ring)
  net.add(14, { kind: 'join', known: 2 });
  net.flush();
  assert.equal(net.exits.get(14), 1);
  assert.ok(net.linesOf(14).some((l) => l.startsWith('Join request rejected')));
});

test("a lookup's owner answers by datagram on an open ring and over its link on a private one", () => {
  const answer = (secure: boolean) => {
    const net = new FakeLink();
    net.add(9, { kind: 'init', successors: [14, 19] }, { secure });
    const asker = defaultContact(2n, '127.0.0.1', BASE);
    // a private ring's relay (8) hands on the asker's proof, which the shell finds signed by 2
    const proof = { at: 0, nonce: 5, cert: Uint8Array.of(1), sig: Uint8Array.of(2) };
    const lookup = { type: 'lookup' as const, origin: asker, key: 9n, lid: 77, final: true, hops: 2, ...(secure ? { proof } : {}) };
    const check = secure ? { proof: proven({ by: 2n, at: 0, nonce: 5 }) } : {};
    const effects = net.feed(9, { type: 'receive', msg: lookup, origin: { via: 'tcp', src: defaultContact(8n, '127.0.0.1', BASE), authId: 8n, ...check }, now: 0 });
    const reply = effects.find((e) => e.kind === 'send' && e.msg.type === 'lookup-reply');
    assert.ok(reply && reply.kind === 'send', 'the owner answered');
    assert.equal(reply.to.port, asker.port);
    assert.deepEqual(reply.msg, { type: 'lookup-reply', from: defaultContact(9n, '127.0.0.1', BASE), lid: 77, hops: 2, successors: reply.msg.type === 'lookup-reply' ? reply.msg.successors : [] });
    return reply.transport;
  };
  assert.equal(answer(false), 'udp');
  assert.equal(answer(true), 'tcp');
});

test('on a private ring a routed message is acted on only with its origin proof, at any hop, fresh and once; relays check no signature', () => {
  const net = new FakeLink();
  net.add(9, { kind: 'init', successors: [14, 19] }, { secure: true });
  const relay = { via: 'tcp' as const, src: defaultContact(4n, '127.0.0.1', BASE + 4), authId: 4n };
  const asker = defaultContact(2n, '127.0.0.1', BASE + 2);
  const T = 1_000_000;
  let checks = 0;
  /** The message as it arrives with a proof dated `at`, and what the shell's check of it would say. */
  const feed = (msg: Message, check?: ProofCheck, at = T) => {
    const origin = check ? { ...relay, proof: () => (checks++, check) } : relay;
    const withProof = check ? ({ ...msg, proof: { at, nonce: 1, cert: Uint8Array.of(1), sig: Uint8Array.of(1) } } as Message) : msg;
    return net.feed(9, { type: 'receive', msg: withProof, origin, now: T });
  };
  const acted = (effects: Effect[]) => effects.some((e) => (e.kind === 'send' && (e.msg.type === 'store-accepted' || e.msg.type === 'lookup-reply')) || e.kind === 'serve-file');
  // a drop is one typed trace, `dropped`, naming the message, whom it speaks for and why; its debug line says the same
  const drops = (effects: Effect[]) => effects.flatMap((e) => (e.kind === 'trace' && e.trace.kind === 'dropped' ? [e.trace] : []));
  const dropLine = (effects: Effect[]) => effects.flatMap((e) => (e.kind === 'trace' ? renderTrace(e.trace, SPEC_SPACE) : [])).map((l) => l.text).filter((t) => t.startsWith('Dropped'));
  const by = (id: bigint, nonce: number, at = T): ProofCheck => ({ ok: true, signed: { by: id, at, nonce } });
  // 9 knows no predecessor yet, so it takes whatever is marked final as its own
  const file = '4103';
  const store = { type: 'store' as const, origin: asker, file, final: true, hops: 3 };
  const request = { type: 'file-request' as const, requester: asker, file, rid: 42, final: true, hops: 3, fallback: 0 };
  const lookup = { type: 'lookup' as const, origin: asker, key: 9n, lid: 43, final: true, hops: 3 };
  // 11 belongs between 9 and 14: 9 takes its join (it checks that 11 answers: a ping to it)
  const joiner = defaultContact(11n, '127.0.0.1', BASE + 11);
  const join = { type: 'join' as const, joiner, hops: 3 };
  const actedOnJoin = (effects: Effect[]) => effects.some((e) => e.kind === 'send' && e.to.id === 11n && (e.msg.type === 'ping' || e.msg.type === 'join-reject' || e.msg.type === 'join-accept'));
  const signer = (msg: Message) => (msg.type === 'join' ? 11n : 2n);
  for (const [i, msg] of ([store, request, lookup, join] as Message[]).entries()) {
    // no proof, one that does not verify, another member's, a stale one, one from the future: one line each
    const who = signer(msg);
    for (const [check, at, why] of [
      [undefined, T, /carries no origin proof/],
      [{ ok: false, why: 'the signature does not match' }, T, /refused \(the signature does not match\)/],
      [by(4n, 1), T, /signed by Peer 4/],
      [by(who, 2, T - 301_000), T - 301_000, /stale \(301 s old\)/],
      [by(who, 3, T + 301_000), T + 301_000, /ahead/],
    ] as const) {
      const effects = feed(msg, check, at);
      assert.ok(!acted(effects) && !actedOnJoin(effects), `${msg.type} ${String(why)} was acted on`);
      const lines = dropLine(effects);
      assert.equal(lines.length, 1, `${msg.type}: one debug line`);
      assert.match(lines[0]!, why);
      const [dropped, ...more] = drops(effects);
      assert.deepEqual([dropped?.message, dropped?.from, more.length], [msg.type, who, 0], `${msg.type}: one dropped trace`);
      assert.match(dropped!.reason, why);
    }
    // its origin's proof: acted on once; the same proof again (other hops) is a replay
    const good = by(who, 100 + i, T - 1000);
    const first = feed(msg, good, T - 1000);
    assert.ok(acted(first) || actedOnJoin(first), `${msg.type} with its origin's proof is acted on`);
    const again = feed({ ...msg, hops: 5 } as Message, good, T - 1000);
    assert.ok(!acted(again) && !actedOnJoin(again), `${msg.type}: a replay is not acted on`);
    assert.match(dropLine(again)[0] ?? '', /replay/);
  }
  // a relay drops what carries no proof or a stale one, and forwards the rest without checking a signature
  const far = { type: 'store' as const, origin: asker, file: '2012', final: false, hops: 2 };
  assert.ok(keyOf('2012') > 19 || keyOf('2012') <= 2, 'a key 9 does not own');
  const forwarded = (effects: Effect[]) => effects.some((e) => e.kind === 'send' && e.msg.type === 'store');
  assert.equal(forwarded(feed(far)), false, 'an unproven store is not relayed');
  assert.equal(forwarded(feed(far, by(2n, 9, T - 400_000), T - 400_000)), false, 'a stale one is not relayed');
  const before = checks;
  assert.equal(forwarded(feed(far, { ok: false, why: 'forged' })), true, 'one with a proof is relayed');
  assert.equal(checks, before, 'a relay does not check the signature');
});

test('on a private ring a message rerouted round an unreachable peer keeps the proof check it came with', () => {
  const net = new FakeLink();
  net.add(9, { kind: 'init', successors: [14, 19] }, { secure: true });
  const T = 1_000_000;
  const asker = defaultContact(2n, '127.0.0.1', BASE + 2);
  const proof = { at: T, nonce: 1, cert: Uint8Array.of(1), sig: Uint8Array.of(1) };
  // a store of 2's relayed by 9 towards 19 (key 220: past 19), whose next hop 14 turns out unreachable
  const store = { type: 'store' as const, origin: asker, file: '2012', final: false, hops: 2, proof };
  const sent = net.feed(9, { type: 'receive', msg: store, origin: { via: 'tcp', src: defaultContact(8n, '127.0.0.1', BASE + 8), authId: 8n, proof: proven({ by: 2n, at: T, nonce: 1 }) }, now: T });
  const out = sent.find((e) => e.kind === 'send' && e.msg.type === 'store');
  assert.ok(out && out.kind === 'send' && out.to.id === 14n, 'relayed to 14');
  const again = net.feed(9, { type: 'send-failed', to: out.to, msg: out.msg, error: 'unreachable', now: T + 10 });
  const rerouted = again.find((e) => e.kind === 'send' && e.msg.type === 'store');
  assert.ok(rerouted && rerouted.kind === 'send' && rerouted.to.id === 19n, `rerouted to 19: ${JSON.stringify(again.map((e) => e.kind === 'trace' && e.trace.kind === 'note' ? e.trace.text : e.kind))}`);
  assert.equal(rerouted.msg.type === 'store' && rerouted.msg.proof, proof, 'with its proof, unchanged');
  // a store of 9's own (the shell signs it as it leaves, so the core's copy has no proof)
  const other = new FakeLink();
  other.add(9, { kind: 'init', successors: [14, 19] }, { secure: true });
  const typed = other.feed(9, { type: 'store', name: '2013', now: T + 20 });
  const own = typed.find((e) => e.kind === 'send' && e.msg.type === 'store');
  assert.ok(own && own.kind === 'send' && own.to.id === 14n, 'typed at 9, sent to 14');
  const ownAgain = other.feed(9, { type: 'send-failed', to: own.to, msg: own.msg, error: 'unreachable', now: T + 30 });
  assert.ok(ownAgain.some((e) => e.kind === 'send' && e.msg.type === 'store' && e.to.id === 19n), 'our own store goes round too');
});

test('an open ring takes routed messages without proofs, as before', () => {
  const net = new FakeLink();
  net.add(9, { kind: 'init', successors: [14, 19] });
  const asker = defaultContact(2n, '127.0.0.1', BASE + 2);
  const lookup = { type: 'lookup' as const, origin: asker, key: 9n, lid: 44, final: true, hops: 3 };
  const effects = net.feed(9, { type: 'receive', msg: lookup, origin: { via: 'tcp', src: defaultContact(4n, '127.0.0.1', BASE + 4) }, now: 0 });
  assert.ok(effects.some((e) => e.kind === 'send' && e.msg.type === 'lookup-reply'));
});
