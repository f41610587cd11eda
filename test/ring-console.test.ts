// The reporter's rows and the ring console's commands, in process on the simulator, through the
// RingController the console drives.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { complete, runCommand } from '../src/cli/console.js';
import type { ConsoleHost } from '../src/cli/console.js';
import { buildReport, renderReport } from '../src/cli/reporter.js';
import { RingController } from '../src/control/ring-controller.js';
import { buildRingState } from '../src/control/ring-view.js';
import type { TraceView } from '../src/control/view-types.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { CoreSnapshot } from '../src/core/peer-core.js';

function stateOf(live: CoreSnapshot[], files: Record<string, number> = {}, known = live.map((s) => s.id), replicas = 1) {
  return buildRingState({
    replicas,
    space: SPEC_SPACE,
    seq: 1,
    phase: 'running',
    runtime: 'sim',
    at: 0,
    planned: [],
    live,
    departed: new Map(),
    known: new Set(known),
    files: (id) => Array.from({ length: files[String(id)] ?? 0 }, (_, i) => ({ name: `000${i}.pdf`, size: 1, received: false })),
  });
}

test('keys: holders from the key stores, owner first; the reporter marks keys short of k copies', () => {
  const peer = (id: bigint, successors: bigint[], files: string[]): CoreSnapshot => ({
    id,
    phase: 'active',
    successors,
    files: files.map((name) => ({ name, key: SPEC_SPACE.keyOf(name), size: 10 })),
  });
  // 2067 (key 19) on 19 and 2: one short of 3; 4103 (key 7) on 8, 9 and 14: whole
  const live = [peer(2n, [8n, 9n], ['2067']), peer(8n, [9n, 14n], ['4103']), peer(9n, [14n, 19n], ['4103']), peer(14n, [19n, 2n], ['4103']), peer(19n, [2n, 8n], ['2067'])];
  const s = stateOf(live, {}, undefined, 3);
  assert.deepEqual(s.keys.map((k) => [k.name, k.owner, k.holders, k.want]), [['4103', '8', ['8', '9', '14'], 3], ['2067', '19', ['19', '2'], 3]]);
  assert.deepEqual(s.short, ['2067']);
  const text = renderReport(s);
  assert.match(text, /^Keys short of their 3 copies \(1\): 2067 \(2 of 3: 19, 2\)$/m);
  assert.doesNotMatch(renderReport(stateOf(live, {}, undefined, 2)), /Keys short/);
});

test('reporter rows: pred2 > pred1 > [id] > succ1 > succ2, ? for unknown, unmonitored and stale peers', () => {
  // 8, 9, 15 and 19 are named but were never run here: outside peers, members of the ring
  const text = renderReport(
    stateOf(
      [
        { id: 2n, phase: 'active', pred1: 19n, pred2: 15n, successors: [4n, 5n], files: [] },
        { id: 4n, phase: 'active', successors: [5n, 8n], files: [] },
        { id: 5n, phase: 'active', pred1: 4n, pred2: 2n, successors: [9n, 8n], files: [] },
      ],
      { '2': 1, '4': 0, '5': 3 },
    ),
  );
  const lines = text.split('\n');
  assert.equal(lines[0], 'Peer  2 - 15 > 19 > [ 2] >  4 >  5  files: 1');
  assert.equal(lines[1], 'Peer  4 -  ? >  ? > [ 4] >  5 >  8  files: 0');
  assert.equal(lines[2], 'Peer  5 -  2 >  4 > [ 5] >  9 >  8  files: 3  <- stale, should be 8 > 9');
  assert.equal(lines[3], 'Unmonitored Peers (4): 8, 9, 15, 19');
  assert.equal(lines[4], 'Stale rows (1): 5');
  // a ring of two is not stale; a peer that ran here and stopped is no member
  const two = buildReport(stateOf([{ id: 7n, phase: 'active', successors: [8n], files: [] }, { id: 8n, phase: 'active', successors: [7n], files: [] }]));
  assert.deepEqual(two.stale, []);
  const gone = buildReport(stateOf([{ id: 7n, phase: 'active', successors: [8n, 9n], files: [] }, { id: 9n, phase: 'active', successors: [7n], files: [] }], {}, [7n, 8n, 9n]));
  assert.deepEqual(gone.stale, ['7']);
});

function host(ctl: RingController, said: string[]): ConsoleHost & { watching: boolean; exited: boolean; shown: boolean } {
  const h = {
    ctl,
    watching: false,
    exited: false,
    shown: false,
    say: (l: string) => void said.push(l),
    showRing: () => void said.push('<ring>'),
    toggleWatch: () => void (h.watching = !h.watching),
    setPings: (on: boolean) => (h.shown = on),
    pings: () => h.shown,
    exit: () => void (h.exited = true),
    random: () => 0.5,
  };
  return h;
}

test('console: every operation of the spec, and bad input answered in one line', async () => {
  const ctl = new RingController({ runtime: 'sim', seed: 5, speed: 200, pingIntervalMs: 1000, ids: [2, 4, 5, 8, 9, 14, 19], perPeerDirs: true, dataDir: 'd' });
  await ctl.start();
  const said: string[] = [];
  const h = host(ctl, said);
  const lines: string[] = [];
  ctl.on('trace', (t: TraceView) => t.lines.forEach((l) => lines.push(`[${t.peer}] ${l.text}`)));
  after(() => ctl.close());
  const until = (pred: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; said: ${said.slice(-5).join(' | ')}`)), 10_000);
      const check = () => pred() && (clearTimeout(timer), ctl.off('trace', check), ctl.off('state', check), resolve());
      ctl.on('trace', check);
      ctl.on('state', check);
      check();
    });

  const answers: Record<string, string | RegExp> = {
    frobnicate: "Unknown command 'frobnicate'. Type help for the list.",
    '300 store 1234': "Peer ID must be a peer id, an integer from 0 to 255 (got '300')",
    '8 store 12': "Invalid file name '12': a file name is exactly four digits, 0000 to 9999",
    '8 store': 'Usage: 8 store NNNN (a file name of exactly four digits)',
    '8 fly': /^Unknown peer command 'fly'/,
    kill: 'Usage: kill <id>',
    'kill 77': 'Peer 77 is not running here (running: 2, 4, 5, 8, 9, 14, 19)',
    join: 'Usage: join <id> [via <id>]',
    'join 15 via': 'Usage: join <id> [via <id>]',
    'join 14 via 4': 'Peer 14 is already in the ring',
    'join 15 via 77': 'Known Peer 77 is not in the ring (2, 4, 5, 8, 9, 14, 19)',
    'add 0': 'Usage: add N (1 to 256)',
    'add x': 'Usage: add N (1 to 256)',
    route: 'Usage: route <key 0-255 | file NNNN> [from <id>]',
    'route 300': "Key must be a key from 0 to 255 or a file name of four digits (got '300')",
    'route 19 from 77': 'Peer 77 is not in the ring here',
    'files 77': 'Peer 77 is not running here',
    quit: /^Quit which peer\? Type <id> quit \(or quit <id>\)/,
    'pings maybe': 'Usage: pings on|off',
    start: 'The ring is already running',
  };
  for (const [typed, want] of Object.entries(answers)) {
    const before = said.length;
    await runCommand(h, typed);
    assert.equal(said.length, before + 1, `'${typed}' should get exactly one line, got: ${said.slice(before).join(' | ')}`);
    if (typeof want === 'string') assert.equal(said.at(-1), want, typed);
    else assert.match(said.at(-1)!, want, typed);
  }
  assert.equal(h.exited, false, 'a bare quit does not stop the ring');
  assert.equal(ctl.liveIds().length, 7);

  // routes follow each peer's real next hop: once every peer knows its predecessor
  await until(() => ctl.state().peers.every((p) => p.pred1 !== undefined));
  await runCommand(h, 'route 2067 from 8');
  assert.equal(said.at(-1), 'Key 19 is owned by Peer 19; a request from Peer 8 goes 8 > 9 > 14 > 19');
  await runCommand(h, 'route 7 from 2');
  assert.equal(said.at(-1), 'Key 7 is owned by Peer 8; a request from Peer 2 goes 2 > 4 > 5 > 8');

  await runCommand(h, '8 store 2067');
  assert.equal(said.at(-1), 'Peer 8 has no 2067.pdf: the store is routed and accepted, but no bytes are copied');
  await until(() => lines.includes('[19] Store 2067 request accepted'));
  await runCommand(h, 'join 15 via 4');
  assert.equal(said.at(-1), 'Peer 15 joined through Peer 4');
  assert.ok(lines.includes('[14] Peer 15 Join request received'));
  await runCommand(h, '9 quit');
  assert.equal(said.at(-1), 'Peer 9 left the ring');
  assert.ok(lines.includes('[8] Peer 9 will depart from the network'));
  await runCommand(h, 'quit 5');
  assert.equal(said.at(-1), 'Peer 5 left the ring');
  await runCommand(h, 'kill 14');
  assert.equal(said.at(-1), 'Peer 14 killed (abrupt departure)');
  await until(() => lines.includes('[8] Peer 14 is no longer alive') && ctl.state().stale.length === 0);
  await runCommand(h, '2 request 4103');
  await until(() => lines.some((l) => l.startsWith('[2] Peer 8 does not have')));
  await runCommand(h, 'add 3');
  assert.match(said.at(-1)!, /^Joining 3 new peers: \d+, \d+, \d+$/);
  await until(() => ctl.liveIds().length === 8 && ctl.state().stale.length === 0);

  // file lists come from the key stores (and the copies Requests received), not from the folders
  ctl.sim!.disk.write('d/peer-8', '2067.pdf', new Uint8Array(1536));
  await runCommand(h, '8 store 2067');
  await until(() => ctl.state().peers.find((p) => p.id === '19')!.files.some((f) => f.name === '2067.pdf'));
  await runCommand(h, '2 request 2067');
  await until(() => lines.includes('[2] File 2067 received'));
  ctl.sim!.disk.write('d/peer-19', 'by-hand.pdf', new Uint8Array(10));
  await runCommand(h, 'files 19');
  assert.equal(said.at(-1), 'Peer 19 holds 1 file: 2067.pdf (1.5 KiB)');
  await runCommand(h, 'files');
  assert.ok(said.includes('Peer  19: 2067.pdf (1.5 KiB)'), said.slice(-9).join('\n'));
  assert.ok(said.includes('Peer   2: received_2067.pdf (1.5 KiB)'), said.slice(-9).join('\n'));
  await runCommand(h, 'pings on');
  assert.equal(said.at(-1), 'Ping lines shown');
  assert.equal(h.shown, true);
  await runCommand(h, 'pings off');
  assert.equal(said.at(-1), 'Ping lines hidden');
  await runCommand(h, 'watch');
  assert.equal(h.watching, true);
  await runCommand(h, 'ring');
  assert.equal(said.at(-1), '<ring>');
  await runCommand(h, 'help');
  assert.ok(said.some((l) => l.includes('route <key|NNNN>')));
  assert.ok(said.some((l) => l.includes('pings on|off')));
  await runCommand(h, 'stop');
  assert.match(said.at(-1)!, /^The ring is stopped; 8 peers planned again$/);
  await runCommand(h, '2 store 2067');
  assert.equal(said.at(-1), 'The ring is not running: Start it first');
  await runCommand(h, 'exit');
  assert.equal(h.exited, true);
  await ctl.close();
});

test('console tab completion offers verbs and running ids', async () => {
  const ctl = new RingController({ runtime: 'sim', seed: 2, speed: 100, ids: [3, 40, 77] });
  await ctl.start();
  assert.deepEqual(complete(ctl, 'ki')[0], ['kill']);
  assert.deepEqual(complete(ctl, 'kill ')[0], ['3', '40', '77']);
  assert.deepEqual(complete(ctl, '40 st')[0], ['store']);
  assert.deepEqual(complete(ctl, 'join 9 ')[0], ['via']);
  assert.deepEqual(complete(ctl, 'pings o')[0], ['on', 'off']);
  await ctl.close();
});

test('console: add N with fewer free ids joins those there are; a pasted page is not echoed whole', async () => {
  const ids = Array.from({ length: 254 }, (_, i) => i);
  const ctl = new RingController({ runtime: 'sim', seed: 9, speed: 500, pingIntervalMs: 1000, ids });
  after(() => ctl.close());
  await ctl.start();
  const said: string[] = [];
  const h = host(ctl, said);
  await runCommand(h, 'add 3');
  assert.equal(said[0], 'Only 2 ids are free: joining 2 new peers: 254, 255');
  assert.deepEqual(said.slice(1), [], 'both joined');
  assert.equal(ctl.liveIds().length, 256);
  await runCommand(h, 'add 1');
  assert.equal(said.at(-1), 'No id is free: all 256 are in the ring or still named by it');
  await runCommand(h, 'y'.repeat(20_000));
  assert.equal(said.at(-1), `Unknown command '${'y'.repeat(40)}…' (20000 characters). Type help for the list.`);
  await ctl.close();
});
