// Layer 1: a holder bounds the Request answers it streams at once and answers the rest with
// file-busy; the requester retries with a growing, jittered back-off and gives up with one line
// before its request timeout. Cores joined by FakeLink, the clock moved by hand.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Effect } from '../src/core/effects.js';
import { MAX_SERVING_FILES, MAX_SERVING_PER_REQUESTER } from '../src/core/storage/transfers.js';
import { BASE, FakeLink } from './helpers/fake-link.js';

/** 2, 4, 5, 8 in a ring; 8 owns key 7 (File 0007). Records the serve-file effects 8 emits. */
function ring(): { net: FakeLink; serves: Extract<Effect, { kind: 'serve-file' }>[] } {
  const net = new FakeLink();
  net.add(2, { kind: 'init', successors: [4, 5] });
  net.add(4, { kind: 'init', successors: [5, 8] });
  net.add(5, { kind: 'init', successors: [8, 2] });
  const owner = net.add(8, { kind: 'init', successors: [2, 4] });
  const serves: Extract<Effect, { kind: 'serve-file' }>[] = [];
  const handle = owner.handle.bind(owner);
  owner.handle = (ev) => {
    const effects = handle(ev);
    for (const e of effects) if (e.kind === 'serve-file') serves.push(e);
    return effects;
  };
  net.advance(0);
  return { net, serves };
}

const busyDelays = (lines: string[]) => lines.flatMap((l) => /^Peer 8 is busy; asking for File 0007 again in (\d+\.\d) s$/.exec(l)?.[1] ?? []).map(Number);

test('a holder streams at most 4 answers to one requester and 8 in all; beyond them it answers file-busy at once', () => {
  assert.equal(MAX_SERVING_FILES, 8);
  assert.equal(MAX_SERVING_PER_REQUESTER, 4);
  const { net, serves } = ring();
  for (let i = 0; i < 5; i++) net.command(2, 'Request 0007');
  assert.equal(serves.length, 4, 'four answers to Peer 2 under way');
  assert.equal(busyDelays(net.linesOf(2)).length, 1, 'the fifth was told busy at once');
  for (let i = 0; i < 4; i++) net.command(4, 'Request 0007');
  assert.equal(serves.length, 8);
  net.command(5, 'Request 0007');
  assert.equal(serves.length, 8, 'the ninth in all waits for a slot');
  assert.ok(net.linesOf(5).some((l) => l.startsWith('Peer 8 is busy')));
  // an answer finishing frees its slot: Peer 5's retry is served
  const done = serves[0]!;
  net.feed(8, { type: 'serve-progress', file: '0007', rid: done.rid, to: done.to, phase: 'start', size: 10, now: net.now });
  net.feed(8, { type: 'serve-progress', file: '0007', rid: done.rid, to: done.to, phase: 'sent', now: net.now });
  net.advance(7000);
  assert.equal(serves.length, 9, 'served on a retry');
  assert.equal(serves[8]!.to.port - BASE, 5);
});

test('the requester backs off (doubling, jittered) and gives up with one clear line before its timeout', () => {
  const { net } = ring();
  for (let i = 0; i < 5; i++) net.command(2, 'Request 0007');
  const since = net.lines.length;
  net.advance(20_000);
  const lines = net.linesOf(2);
  const delays = busyDelays(lines);
  assert.ok(delays.length >= 3, `retried: ${delays.join(', ')}`);
  assert.ok(delays.every((d) => d >= 0.1 && d <= 6), `each wait within 4 s +50 %: ${delays.join(', ')}`);
  assert.ok(delays.at(-1)! > delays[0]!, `the waits grow: ${delays.join(', ')}`);
  const gaveUp = net.linesOf(2, since).filter((l) => l.startsWith('Gave up the request for File 0007'));
  assert.equal(gaveUp.length, 1, lines.join('\n'));
  assert.match(gaveUp[0]!, /^Gave up the request for File 0007: Peer 8 was busy \(\d+ answers within 15 s\); try again later$/);
  const at = net.lines.find((l) => l.id === 2 && l.line === gaveUp[0])!.at;
  assert.ok(at < 15_000, `given up before the timeout (${at} ms)`);
  // the four being served (whose bytes never come here) time out as before; the busy one does not
  assert.equal(net.linesOf(2).filter((l) => l.startsWith('No answer to the request for File 0007')).length, 4);
});
