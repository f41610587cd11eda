// The reporter's rows and the ring console's commands, in process on the simulator.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { complete, runCommand } from '../src/cli/console.js';
import type { ConsoleHost } from '../src/cli/console.js';
import { buildReport, renderReport } from '../src/cli/reporter.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import { createTestnet } from '../src/testnet.js';
import type { Testnet } from '../src/testnet.js';

test('reporter rows: pred2 > pred1 > [id] > succ1 > succ2, ? for unknown, unmonitored and stale peers', () => {
  const text = renderReport({
    peers: [
      { id: 2n, phase: 'active', pred1: 19n, pred2: 15n, successors: [4n, 5n], files: [] },
      { id: 4n, phase: 'active', successors: [5n, 8n], files: [] },
      { id: 5n, phase: 'active', pred1: 4n, pred2: 2n, successors: [8n, 9n], files: [] },
    ],
    files: new Map([[2n, 1], [4n, 0], [5n, 3]]),
  });
  const lines = text.split('\n');
  assert.equal(lines[0], 'Peer  2 - 15 > 19 > [ 2] >  4 >  5  files: 1');
  assert.equal(lines[1], 'Peer  4 -  ? >  ? > [ 4] >  5 >  8  files: 0  <- stale, should be 5 > 2');
  assert.match(lines[2]!, /^Peer {2}5 - {2}2 > {2}4 > \[ 5\] > {2}8 > {2}9 {2}files: 3 {2}<- stale/);
  assert.equal(lines[3], 'Unmonitored Peers (4): 8, 9, 15, 19');
  const r = buildReport({ peers: [{ id: 7n, phase: 'active', successors: [7n + 1n], files: [] }, { id: 8n, phase: 'active', successors: [7n], files: [] }] });
  assert.deepEqual(r.stale, [], 'a ring of two is not stale');
});

function host(net: Testnet, said: string[]): ConsoleHost & { watching: boolean; exited: boolean } {
  const h = {
    net,
    watching: false,
    exited: false,
    say: (l: string) => void said.push(l),
    showRing: () => void said.push('<ring>'),
    toggleWatch: () => void (h.watching = !h.watching),
    exit: () => void (h.exited = true),
    files: () => new Map(net.runningIds().map((id) => [id, id === 19n ? ['2067.pdf'] : []])),
    random: () => 0.5,
  };
  return h;
}

test('console: every operation of the spec, and bad input answered in one line', async () => {
  const sim = new SimNetwork({ seed: 5 });
  const net = await createTestnet({ runtime: 'sim', sim, pingIntervalMs: 1000 });
  await net.run(1500);
  const said: string[] = [];
  const h = host(net, said);
  const lines: string[] = [];
  net.on('line', (l: { id: number; text: string }) => lines.push(`[${l.id}] ${l.text}`));

  for (const bad of ['frobnicate', '300 store 1234', '8 store 12', '8 fly', 'kill', 'kill 77', 'join', 'join 15 via', 'add 0', 'add x', 'route', 'route 300', 'route 19 from 77', 'files 77']) {
    const before = said.length;
    runCommand(h, bad);
    assert.equal(said.length, before + 1, `'${bad}' should get exactly one line, got: ${said.slice(before).join(' | ')}`);
  }
  runCommand(h, 'route 2067 from 8');
  assert.equal(said.at(-1), 'Key 19 is owned by Peer 19; a request from Peer 8 goes 8 > 9 > 14 > 19');
  runCommand(h, 'route 7 from 2');
  assert.equal(said.at(-1), 'Key 7 is owned by Peer 8; a request from Peer 2 goes 2 > 4 > 5 > 8');

  runCommand(h, '8 store 2067');
  await net.until(() => lines.includes('[19] Store 2067 request accepted'), 2000);
  runCommand(h, 'join 15 via 4');
  await net.until(() => net.peer(15)?.isInRing === true, 3000);
  assert.ok(lines.includes('[14] Peer 15 Join request received'));
  runCommand(h, '9 quit');
  await net.until(() => lines.includes('[8] Peer 9 will depart from the network') && !net.peer(9)!.isRunning, 3000);
  runCommand(h, 'kill 14');
  await net.until(() => lines.includes('[8] Peer 14 is no longer alive') && net.staleIds().length === 0, 10_000);
  runCommand(h, '2 request 4103');
  await net.until(() => lines.some((l) => l.startsWith('[2] Peer 8 does not have')), 3000);
  runCommand(h, 'add 3');
  assert.match(said.at(-1)!, /^Joining 3 new peers: \d+, \d+, \d+$/);
  await net.until(() => net.runningIds().length === 9 && net.staleIds().length === 0, 10_000);
  assert.deepEqual(net.staleIds().map(Number), []);
  runCommand(h, 'files 19');
  assert.equal(said.at(-1), 'Peer 19 holds 1 file: 2067.pdf');
  runCommand(h, 'watch');
  assert.equal(h.watching, true);
  runCommand(h, 'ring');
  assert.equal(said.at(-1), '<ring>');
  runCommand(h, 'help');
  assert.ok(said.some((l) => l.includes('route <key|NNNN>')));
  runCommand(h, 'exit');
  assert.equal(h.exited, true);
  await net.close();
});

test('console tab completion offers verbs and running ids', async () => {
  const net = await createTestnet({ runtime: 'sim', sim: new SimNetwork({ seed: 2 }), ids: [3, 40, 77] });
  assert.deepEqual(complete(net, 'ki')[0], ['kill']);
  assert.deepEqual(complete(net, 'kill ')[0], ['3', '40', '77']);
  assert.deepEqual(complete(net, '40 st')[0], ['store']);
  assert.deepEqual(complete(net, 'join 9 ')[0], ['via']);
  await net.close();
});
