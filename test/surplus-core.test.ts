// Unit tests of src/core/storage/surplus.ts through one PeerCore driven by hand: a ring copy this
// peer holds beyond its share goes only once the peers responsible now (by its own view) have each
// answered, themselves, that they hold the same bytes; a silent, unsure or different answer, a
// change of view, a copy in use, a user's file, the spec's 8-bit mode all keep it. Whom it asks,
// how often, how many names at once. A 10-bit space (the spec's 8 bits never collect), an
// in-memory disk, a clock moved by hand, no sockets.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { IdSpace, SPEC_SPACE } from '../src/core/id-space.js';
import type { KeyInfo } from '../src/core/messages.js';
import { MAX_SURPLUS_CHECKS, SURPLUS_EVERY_PROBES } from '../src/core/storage/surplus.js';
import { HandCore, over, peer } from './helpers/hand-core.js';

const SPACE = new IdSpace(10, (b) => new Uint8Array(createHash('sha256').update(b).digest()));
const SHA = new Uint8Array(32).fill(5);
const OTHER_SHA = new Uint8Array(32).fill(6);
const SIZE = 10;
const record = (name: string): KeyInfo => ({ name, size: SIZE, sha256: SHA });

/** The first `n` names (f0, f1, ...) whose keys lie in (a, b]. */
function namesIn(a: number, b: number, n = 1): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const name = `f${i}`;
    if (SPACE.betweenRightClosed(BigInt(a), SPACE.keyOf(name), BigInt(b))) out.push(name);
  }
  return out;
}

/** The core takes ring copies of `names` from `from` as the ring gives them: an offer, its want, the files. */
function take(c: HandCore, from: number, names: string[]): void {
  const mark = c.sent.length;
  c.receive({ type: 'key-offer', from: peer(from), oid: 1, keys: names.map(record) });
  const [want] = c.sentOf('key-want', mark);
  assert.deepEqual(want?.msg.names, names, `Peer ${c.opts.id} wants the copies`);
  for (const file of names) assert.ok(c.fileArrives({ type: 'file-begin', from: peer(from), file, purpose: 'replica', size: SIZE, rid: want!.msg.wid }, SHA));
  for (const file of names) assert.ok(c.disk.has(file));
}

/** `n` probe intervals, the predecessors pinging as a settled ring's do. */
function probes(c: HandCore, n: number): void {
  for (let i = 0; i < n; i++) {
    c.run(1000);
    c.heartbeat();
  }
}

interface Question {
  to: number;
  qid: number;
  file: string;
}

/** The holds queries about `name` sent since `since`. */
function questions(c: HandCore, name: string, since = 0): Question[] {
  return c.sentOf('holds-query', since).filter((s) => s.msg.file === name).map((s) => ({ to: Number((s.to as { id: bigint }).id), qid: s.msg.qid, file: s.msg.file }));
}

/** Probe by probe until the core asks about `name` (at most `max` probes): its questions, and the probes it took. */
function untilAsked(c: HandCore, name: string, max = 2 * SURPLUS_EVERY_PROBES): { asked: Question[]; after: number } {
  const mark = c.sent.length;
  for (let i = 1; i <= max; i++) {
    probes(c, 1);
    const asked = questions(c, name, mark);
    if (asked.length) return { asked, after: i };
  }
  return { asked: [], after: max };
}

/** `q` answered by `as` (default: the peer asked), with `rec` (default: the genuine record; null: it holds nothing). */
function answer(c: HandCore, q: Question, rec: KeyInfo | null = record(q.file), as = q.to): void {
  c.receive({ type: 'holds-reply', from: peer(as), qid: q.qid, file: q.file, ...(rec ? { record: rec } : {}), successors: [] });
}

const deleted = (c: HandCore, name: string) => c.effects.some((e) => e.kind === 'delete-file' && e.name === name);

// ---- a key ahead: its holders are successors in our own list ------------------------------------

/**
 * Peer 500 in a ring of three (100, 300, 500) with k = 3 holds every key: it takes `n` copies of
 * keys in (500, 700] from their owner, 100. Then 700 joins through 500, and 500 hears of 900 behind
 * it from 700's pongs: those keys are 700's, held by 700, 900 and 100, and 500's copies are one too many.
 */
function ahead(n = 1, config: Record<string, unknown> = {}, keys: [number, number] = [500, 700]): { c: HandCore; names: string[] } {
  const names = namesIn(...keys, n);
  const c = new HandCore({ id: 500, ring: [100, 300, 500], space: SPACE, config: { replicas: 3, ...config } });
  take(c, 100, names);
  c.setRing([100, 300, 500, 700, 900]);
  c.receive({ type: 'join', joiner: peer(700), hops: 1 }, over(peer(700)));
  probes(c, 1);
  assert.deepEqual(c.core.snapshot().successors.slice(0, 3), [700n, 900n, 100n], '500 knows the new ring ahead of it');
  return { c, names };
}

test('a copy ahead of us is asked about at the owner and the k - 1 after it, from our own list, and goes once all three hold the same bytes', () => {
  const { c, names } = ahead();
  const [name] = names as [string];
  const { asked } = untilAsked(c, name);
  assert.deepEqual(asked.map((q) => q.to), [700, 900, 100], 'the owner and its next two, nobody else');
  answer(c, asked[0]!);
  answer(c, asked[1]!);
  assert.ok(c.disk.has(name), 'not before the last of them answers');
  answer(c, asked[2]!);
  assert.ok(!c.disk.has(name), 'deleted');
  assert.ok(deleted(c, name));
  assert.ok(c.lines.some((l) => l.includes(`Deleted the surplus copy of File ${name}`)), 'and says so');
  assert.ok(!c.core.snapshot().files.some((f) => f.name === name), 'the key store forgot it too');
  // asked again, it says it holds nothing, and it is never asked about again
  const mark = c.sent.length;
  c.receive({ type: 'holds-query', from: peer(900), qid: 77, file: name });
  assert.equal(c.sentOf('holds-reply', mark)[0]?.msg.record, undefined);
  probes(c, 3 * SURPLUS_EVERY_PROBES);
  assert.deepEqual(questions(c, name, mark), []);
});

test('a key ahead whose k holders run past the end of our successor list (we are one of them) is kept: nobody asked', () => {
  // a key in (900, 100]: held by 100, 300 and 500 itself; our list (700, 900, 100, 300) ends at 300
  const { c, names } = ahead(1, {}, [900, 100]);
  assert.deepEqual(c.core.snapshot().successors, [700n, 900n, 100n, 300n]);
  probes(c, 3 * SURPLUS_EVERY_PROBES);
  assert.deepEqual(questions(c, names[0]!), []);
  assert.ok(c.disk.has(names[0]!));
});

test('one silent holder keeps the copy; the name is asked about again a round later, and goes when all answer', () => {
  const { c, names } = ahead();
  const [name] = names as [string];
  const first = untilAsked(c, name);
  answer(c, first.asked[0]!);
  answer(c, first.asked[2]!);
  // 900 never answers: its question times out (the request timeout, 15 s)
  probes(c, 16);
  assert.ok(c.disk.has(name), 'a silent holder keeps the copy');
  const again = untilAsked(c, name);
  assert.deepEqual(again.asked.map((q) => q.to), [700, 900, 100], 'all asked again');
  for (const q of again.asked) answer(c, q);
  assert.ok(!c.disk.has(name));
});

test('a holder of other bytes, another size, no SHA-256, or nothing at all counts for nothing: the copy stays', () => {
  const variants: [string, (name: string) => KeyInfo | null][] = [
    ['other bytes', (name) => ({ name, size: SIZE, sha256: OTHER_SHA })],
    ['another size', (name) => ({ name, size: SIZE + 1, sha256: SHA })],
    ['no SHA-256', (name) => ({ name, size: SIZE })],
    ['nothing held', () => null],
  ];
  for (const [what, rec] of variants) {
    const { c, names } = ahead();
    const [name] = names as [string];
    const { asked } = untilAsked(c, name);
    answer(c, asked[0]!);
    answer(c, asked[1]!, rec(name));
    answer(c, asked[2]!);
    assert.ok(c.disk.has(name), `${what}: kept`);
    assert.ok(!deleted(c, name), what);
  }
});

test('an answer in another\'s name, under a guessed id or about another name counts for nothing', () => {
  const forgeries: [string, (c: HandCore, q: Question, other: string) => void][] = [
    // 900 answers 700's question
    ['in another\'s name', (c, q) => answer(c, q, record(q.file), 900)],
    ['under a guessed id', (c, q) => answer(c, { ...q, qid: 999_999 })],
    // 700 answers under its question's id, about a name it holds with the same size and bytes
    ['about another name', (c, q, other) => c.receive({ type: 'holds-reply', from: peer(700), qid: q.qid, file: other, record: record(other), successors: [] })],
  ];
  for (const [what, forge] of forgeries) {
    const { c, names } = ahead(2);
    const [name, other] = names as [string, string];
    const { asked } = untilAsked(c, name);
    const [q700, q900, q100] = asked as [Question, Question, Question];
    answer(c, q900);
    answer(c, q100);
    forge(c, q700, other);
    assert.ok(c.disk.has(name), `${what}: 700 itself never answered`);
    probes(c, 16);
    assert.ok(c.disk.has(name), `${what}: kept once its question timed out`);
  }
});

test('a change of our view between the questions and the answers keeps the copy', () => {
  const { c, names } = ahead();
  const [name] = names as [string];
  const { asked } = untilAsked(c, name);
  // a peer joins behind us meanwhile: our first predecessor is 400 now
  c.setRing([100, 300, 400, 500, 700, 900]);
  c.heartbeat();
  assert.equal(c.core.snapshot().pred1, 400n);
  for (const q of asked) answer(c, q);
  assert.ok(c.disk.has(name), 'judged under another view: kept');
  // judged again under the new one, it goes
  const again = untilAsked(c, name);
  for (const q of again.asked) answer(c, q);
  assert.ok(!c.disk.has(name));
});

test('a copy being sent (its owner wanted it from us) is not asked about, nor deleted while it goes', () => {
  const { c, names } = ahead();
  const [name] = names as [string];
  // the replication offers it to its owner, 700, which wants it: a push is under way
  const offer = c.sentOf('key-offer').find((s) => Number((s.to as { id: bigint }).id) === 700 && s.msg.keys.some((k) => k.name === name));
  assert.ok(offer, 'offered to its owner');
  c.receive({ type: 'key-want', from: peer(700), oid: offer.msg.oid, wid: 4242, names: [name], refused: [] });
  assert.ok(c.effects.some((e) => e.kind === 'push-file' && e.name === name), 'pushed');
  const { asked } = untilAsked(c, name);
  assert.deepEqual(asked, [], 'not asked about while it is sent');
  assert.ok(c.disk.has(name));
});

test('a copy the holders confirm while it is being sent stays', () => {
  const { c, names } = ahead();
  const [name] = names as [string];
  const { asked } = untilAsked(c, name);
  const offer = c.sentOf('key-offer').filter((s) => Number((s.to as { id: bigint }).id) === 700 && s.msg.keys.some((k) => k.name === name)).at(-1)!;
  c.receive({ type: 'key-want', from: peer(700), oid: offer.msg.oid, wid: 4243, names: [name], refused: [] });
  for (const q of asked) answer(c, q);
  assert.ok(c.disk.has(name), 'busy at the last answer: kept');
});

test('a file found in the data folder is the user\'s: never asked about, never deleted', () => {
  const [name] = namesIn(500, 700) as [string];
  const c = new HandCore({ id: 500, ring: [100, 300, 500], space: SPACE, files: [record(name)], config: { replicas: 3 } });
  c.setRing([100, 300, 500, 700, 900]);
  c.receive({ type: 'join', joiner: peer(700), hops: 1 }, over(peer(700)));
  probes(c, 3 * SURPLUS_EVERY_PROBES);
  assert.deepEqual(questions(c, name), []);
  assert.ok(c.disk.has(name));
});

test('the specification\'s 8-bit mode, and a peer told not to collect, never collect', () => {
  // the same ring and copy in the spec's space: ids 10, 30, 50 and then 70, 90; 0060 is key 60
  const c = new HandCore({ id: 50, ring: [10, 30, 50], space: SPEC_SPACE, config: { replicas: 3 } });
  take(c, 10, ['0060']);
  c.setRing([10, 30, 50, 70, 90]);
  c.receive({ type: 'join', joiner: peer(70), hops: 1 }, over(peer(70)));
  probes(c, 1);
  assert.deepEqual(c.core.snapshot().successors.slice(0, 3), [70n, 90n, 10n]);
  probes(c, 3 * SURPLUS_EVERY_PROBES);
  assert.deepEqual(questions(c, '0060'), [], 'spec mode: no questions');
  assert.ok(c.disk.has('0060'));

  const { c: off, names } = ahead(1, { collectSurplus: false });
  probes(off, 3 * SURPLUS_EVERY_PROBES);
  assert.deepEqual(questions(off, names[0]!), [], 'collectSurplus false: no questions');
});

/** Four names more than a round takes, up to the first round: the names, what each round asked about, and the first one's. */
function firstRound(): { c: HandCore; names: string[]; askedAbout: (since: number) => Set<string>; first: Set<string>; mark: number } {
  const { c, names } = ahead(MAX_SURPLUS_CHECKS + 4);
  const askedAbout = (since: number) => new Set(c.sentOf('holds-query', since).map((s) => s.msg.file));
  const mark = c.sent.length;
  assert.ok(untilAsked(c, names[0]!).asked.length > 0);
  const first = askedAbout(mark);
  assert.equal(first.size, MAX_SURPLUS_CHECKS, 'one round: the bound');
  return { c, names, askedAbout, first, mark };
}

test(`a round runs every ${SURPLUS_EVERY_PROBES} probe intervals and checks at most ${MAX_SURPLUS_CHECKS} names at once; the next round takes the rest`, () => {
  const { c, names, askedAbout, first, mark } = firstRound();
  // every holder confirms: those go, and nothing is asked until the next round, which takes the rest
  for (const q of c.sentOf('holds-query', mark)) answer(c, { to: Number((q.to as { id: bigint }).id), qid: q.msg.qid, file: q.msg.file });
  assert.equal(names.filter((n) => c.disk.has(n)).length, 4);
  const next = c.sent.length;
  probes(c, SURPLUS_EVERY_PROBES - 1);
  assert.equal(askedAbout(next).size, 0, 'nothing between two rounds');
  probes(c, 1);
  assert.deepEqual([...askedAbout(next)].sort(), names.filter((n) => !first.has(n)).sort(), `the rest, ${SURPLUS_EVERY_PROBES} probes later`);
});

test('names whose holders never answer cannot starve the names behind them: each round starts where the last one stopped', () => {
  const { c, names, askedAbout, first } = firstRound();
  // nobody answers: the questions time out (15 s) while the next round finds every slot taken,
  // and the round after that must take up the names the first one never reached
  const next = c.sent.length;
  probes(c, 2 * SURPLUS_EVERY_PROBES);
  const later = askedAbout(next);
  const rest = names.filter((n) => !first.has(n));
  assert.equal(rest.length, 4);
  for (const n of rest) assert.ok(later.has(n), `${n} is asked about within two more rounds`);
  assert.equal(names.filter((n) => c.disk.has(n)).length, names.length, 'silence deletes nothing');
});

// ---- a key behind us: looked up, and the owner's chain judged against our own predecessors ---------

/**
 * Peer 500 (k = 2, ring 100, 300, 500, 700, 900) owns `name` (key in (300, 330]) and takes its copy.
 * Then `joiners` come in between the key and 500: its predecessors change, and the copy may be one too many.
 */
function behind(joiners: number[], k = 2): { c: HandCore; name: string; key: bigint } {
  const [name] = namesIn(300, 330) as [string];
  const ring = [100, 300, 500, 700, 900];
  const c = new HandCore({ id: 500, ring, space: SPACE, config: { replicas: k } });
  take(c, 700, [name]);
  c.setRing([...ring, ...joiners]);
  c.heartbeat();
  return { c, name, key: SPACE.keyOf(name) };
}

/** Probe by probe until the core looks `key` up: its lookup's id, and the probes it took. */
function untilLookedUp(c: HandCore, key: bigint, max = 2 * SURPLUS_EVERY_PROBES): { lid: number | undefined; after: number } {
  const mark = c.sent.length;
  for (let i = 1; i <= max; i++) {
    probes(c, 1);
    const l = c.sentOf('lookup', mark).find((s) => s.msg.key === key && s.msg.origin.id === 500n);
    if (l) return { lid: l.msg.lid, after: i };
  }
  return { lid: undefined, after: max };
}

const answerLookup = (c: HandCore, lid: number, owner: number, successors: number[]) =>
  c.receive({ type: 'lookup-reply', from: peer(owner), lid, hops: 2, successors: successors.map(peer) }, 'udp');

test('a copy behind us is looked up; the owner\'s chain runs into our predecessors, and the k holders confirm: it goes', () => {
  const { c, name, key } = behind([360, 420]);
  assert.deepEqual([c.core.snapshot().pred2, c.core.snapshot().pred1], [360n, 420n]);
  const { lid } = untilLookedUp(c, key);
  assert.ok(lid !== undefined, 'looked up');
  const mark = c.sent.length;
  answerLookup(c, lid, 360, [420, 500, 700]);
  const asked = questions(c, name, mark);
  assert.deepEqual(asked.map((q) => q.to), [360, 420]);
  for (const q of asked) answer(c, q);
  assert.ok(!c.disk.has(name));
});

test('our own predecessors confirm too, even beyond the first k of the chain', () => {
  // 340, 360, 420 joined: 340 owns the key, 340 and 360 hold it (k = 2), and 420 is our first predecessor
  const { c, name, key } = behind([340, 360, 420]);
  const { lid } = untilLookedUp(c, key);
  const mark = c.sent.length;
  answerLookup(c, lid!, 340, [360, 420, 500]);
  const asked = questions(c, name, mark);
  assert.deepEqual(asked.map((q) => q.to), [340, 360, 420], 'the owner, its next, and our own first predecessor');
  answer(c, asked[0]!);
  answer(c, asked[1]!);
  answer(c, asked[2]!, null);
  assert.ok(c.disk.has(name), 'our predecessor does not hold it: kept');
});

test('a lying owner\'s chain counts for nothing: skipping our predecessors, a stranger between them, one at another address, out of order, too short, or us as owner', () => {
  const lies: [string, (c: HandCore, lid: number) => void][] = [
    ['skips our predecessors', (c, lid) => answerLookup(c, lid, 340, [350, 380, 500])],
    ['a stranger between them', (c, lid) => answerLookup(c, lid, 340, [360, 400, 420, 500])],
    ['our predecessor at another address', (c, lid) => c.receive({ type: 'lookup-reply', from: peer(340), lid, hops: 2, successors: [peer(360), { ...peer(420), port: 9 }, peer(500)] }, 'udp')],
    ['out of order', (c, lid) => answerLookup(c, lid, 360, [340, 360, 420, 500])],
    ['we own it', (c, lid) => answerLookup(c, lid, 500, [700, 900])],
  ];
  for (const [what, lie] of lies) {
    const { c, name, key } = behind([340, 360, 420]);
    const { lid } = untilLookedUp(c, key);
    const mark = c.sent.length;
    lie(c, lid!);
    assert.deepEqual(questions(c, name, mark), [], `${what}: nobody asked`);
    assert.ok(c.disk.has(name), what);
  }
  // k = 3 and only two peers (our predecessors) before us: we are the third holder, not surplus
  const { c, name, key } = behind([360, 420], 3);
  const { lid } = untilLookedUp(c, key);
  const mark = c.sent.length;
  answerLookup(c, lid!, 360, [420, 500, 700]);
  assert.deepEqual(questions(c, name, mark), [], 'too short a chain: nobody asked');
  assert.ok(c.disk.has(name));
});

test('a copy of our first predecessor\'s range is our replica: kept without a question', () => {
  // 420 joined in front of us: it owns the key, and we (k = 2) hold its replica
  const { c, name, key } = behind([420]);
  const mark = c.sent.length;
  probes(c, 3 * SURPLUS_EVERY_PROBES);
  assert.ok(!c.sentOf('lookup', mark).some((s) => s.msg.key === key), 'not looked up');
  assert.deepEqual(questions(c, name, mark), []);
  assert.ok(c.disk.has(name));
});

test('a copy found to be ours to hold is judged again only after a while, or at once when our view changes', () => {
  // k = 3: 360 and 420 in front of us, and we are the key's third holder
  const { c, key } = behind([360, 420], 3);
  const first = untilLookedUp(c, key);
  answerLookup(c, first.lid!, 360, [420, 500, 700]);
  // several rounds: no new lookup of it
  const mark = c.sent.length;
  probes(c, 3 * SURPLUS_EVERY_PROBES);
  assert.ok(!c.sentOf('lookup', mark).some((s) => s.msg.key === key), 'not looked up again within a few rounds');
  // five minutes on, it is
  probes(c, 300);
  assert.ok(c.sentOf('lookup', mark).some((s) => s.msg.key === key), 'looked up again after KEEP_RECHECK_MS');

  // and at the next round once our view changes (440 joins right behind us)
  const { c: moved, key: k2 } = behind([360, 420], 3);
  answerLookup(moved, untilLookedUp(moved, k2).lid!, 360, [420, 500, 700]);
  moved.setRing([100, 300, 360, 420, 440, 500, 700, 900]);
  moved.heartbeat();
  assert.ok(untilLookedUp(moved, k2, SURPLUS_EVERY_PROBES).lid !== undefined, 'looked up again at the next round');
});

test('a change of our view while the lookup is out: nobody is asked', () => {
  const { c, name, key } = behind([360, 420]);
  const { lid } = untilLookedUp(c, key);
  // 440 joins right behind us meanwhile
  c.setRing([100, 300, 360, 420, 440, 500, 700, 900]);
  c.heartbeat();
  assert.equal(c.core.snapshot().pred1, 440n);
  const mark = c.sent.length;
  // an answer that fits the new view: judged under the old one, it asks nobody
  answerLookup(c, lid!, 360, [420, 440, 500]);
  assert.deepEqual(questions(c, name, mark), []);
  assert.ok(c.disk.has(name));
});

test('a lookup nobody answers keeps the copy, and asks nobody', () => {
  const { c, name, key } = behind([360, 420]);
  const { lid } = untilLookedUp(c, key);
  assert.ok(lid !== undefined);
  const mark = c.sent.length;
  probes(c, 16);
  assert.deepEqual(questions(c, name, mark), []);
  assert.ok(c.disk.has(name));
});

test('names that went between two rounds do not move where the next round starts: it takes up the name after the last one asked about', () => {
  const { c, names } = ahead(2 * MAX_SURPLUS_CHECKS + 4);
  // the store's own order, which rounds walk
  const order = c.core.snapshot().files.map((f) => f.name).filter((n) => names.includes(n));
  assert.equal(order.length, names.length);
  const askedAbout = (since: number) => [...new Set(c.sentOf('holds-query', since).map((s) => s.msg.file))];
  const mark = c.sent.length;
  assert.ok(untilAsked(c, order[0]!).asked.length > 0);
  assert.deepEqual(askedAbout(mark), order.slice(0, MAX_SURPLUS_CHECKS));
  // every holder confirms: the first round's names go, and the store's order shifts under the cursor
  for (const q of c.sentOf('holds-query', mark)) answer(c, { to: Number((q.to as { id: bigint }).id), qid: q.msg.qid, file: q.msg.file });
  assert.equal(names.filter((n) => c.disk.has(n)).length, MAX_SURPLUS_CHECKS + 4);
  const next = c.sent.length;
  probes(c, SURPLUS_EVERY_PROBES);
  assert.deepEqual(askedAbout(next), order.slice(MAX_SURPLUS_CHECKS, 2 * MAX_SURPLUS_CHECKS), 'the names right after, in order');
});
