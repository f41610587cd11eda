// The RingController, the one API under the console, --json and the web server: plan, start,
// join, store, request, quit, kill, stop, state and routes, on the simulator and on real sockets.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ControlError, RingController } from '../src/control/ring-controller.js';
import type { RingState, TraceView } from '../src/control/view-types.js';
import { ringSuccessors } from '../src/core/ring.js';
import { Peer } from '../src/peer.js';
import { mulberry32 } from '../src/util/prng.js';
import { freeBasePort } from './helpers/ports.js';

const dirs: string[] = [];
const ctls: RingController[] = [];
after(async () => {
  await Promise.all(ctls.map((c) => c.close()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function controller(opts: ConstructorParameters<typeof RingController>[0]): RingController {
  const c = new RingController({ stateEveryMs: 10, ...opts });
  ctls.push(c);
  return c;
}

/** Resolves with the first published state that satisfies `pred` (bounded). */
function stateWhere(ctl: RingController, pred: (s: RingState) => boolean, ms = 30_000): Promise<RingState> {
  return new Promise((resolve, reject) => {
    const now = ctl.state();
    if (pred(now)) return resolve(now);
    const timer = setTimeout(() => {
      ctl.off('state', on);
      reject(new Error(`no such state within ${ms} ms; last: ${JSON.stringify(ctl.state().peers.map((p) => [p.id, p.state, p.successors]))}`));
    }, ms);
    const on = (s: RingState) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      ctl.off('state', on);
      resolve(s);
    };
    ctl.on('state', on);
  });
}

/** The drawn ring agrees with the true ring: every live peer's first two successors are the truth's. */
function settled(s: RingState): boolean {
  const live = s.peers.filter((p) => p.state === 'live');
  const truth = ringSuccessors([...live.map((p) => BigInt(p.id)), ...s.outside.map(BigInt)]);
  return live.length > 0 && live.every((p) => p.phase === 'active' && p.successors.slice(0, 2).join() === truth.get(BigInt(p.id))!.join());
}

async function rejects(p: Promise<unknown> | (() => unknown), code: string, message: RegExp): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (e: unknown) => {
    assert.ok(e instanceof ControlError, String(e));
    assert.equal(e.reason, code);
    assert.equal(e.code, 'CDHT_ERR_CONTROL');
    assert.match(e.message, message);
    return true;
  });
}

test('plan, start, join, store, request, quit, kill and stop on the simulator', async () => {
  const ctl = controller({ runtime: 'sim', seed: 3, speed: 200, pingIntervalMs: 1000, dataDir: 'data', perPeerDirs: true });
  assert.equal(ctl.state().phase, 'planned');
  await rejects(ctl.start(), 'EMPTY_PLAN', /add a node/);
  for (const id of [2, 4, 5, 8, 9, 14, 19]) await ctl.add(String(id));
  await rejects(ctl.add('14'), 'ID_TAKEN', /Peer 14 is already planned/);
  await rejects(ctl.add('300'), 'BAD_ID', /^Peer ID must be a peer id, an integer from 0 to 255 \(got '300'\)$/);
  await rejects(() => ctl.store('8', '2067'), 'NOT_RUNNING', /Start it first/);
  const planned = ctl.state();
  assert.deepEqual(planned.peers.map((p) => [p.id, p.state, p.successors[0]]), [
    ['2', 'planned', '4'], ['4', 'planned', '5'], ['5', 'planned', '8'], ['8', 'planned', '9'], ['9', 'planned', '14'], ['14', 'planned', '19'], ['19', 'planned', '2'],
  ]);

  const traces: TraceView[] = [];
  ctl.on('trace', (t: TraceView) => traces.push(t));
  assert.match((await ctl.start()).message, /running: 7 peers/);
  await stateWhere(ctl, settled);

  await rejects(ctl.join('14', '4'), 'ID_TAKEN', /Peer 14 is already in the ring/);
  await rejects(ctl.join('15', '77'), 'UNKNOWN_PEER', /^Known Peer 77 is not in the ring \(2, 4, 5, 8, 9, 14, 19\)$/);
  await rejects(ctl.join('15', 'x'), 'BAD_ID', /^Known Peer must be a peer id/);
  assert.equal((await ctl.join('15', '4')).message, 'Peer 15 joined through Peer 4');
  await stateWhere(ctl, (s) => settled(s) && s.peers.some((p) => p.id === '15' && p.state === 'live'));

  // a file at 8, stored at its owner 19, then requested by 2
  ctl.sim!.disk.write('data/peer-8', '2067.pdf', new TextEncoder().encode('two thousand sixty-seven'));
  assert.deepEqual(ctl.routes('2067', '8'), { key: '19', owner: '19', from: '8', path: ['8', '9', '14', '15', '19'], complete: true });
  assert.throws(() => ctl.store('8', '12'), /Invalid file name '12': a file name is exactly four digits/);
  assert.throws(() => ctl.store('77', '2067'), /Peer 77 is not running here/);
  assert.equal(ctl.store('8', '2067').warning, undefined);
  assert.match(ctl.store('2', '4444').warning ?? '', /Peer 2 has no 4444.pdf/);
  await stateWhere(ctl, (s) => s.peers.find((p) => p.id === '19')!.files.some((f) => f.name === '2067.pdf' && f.size === 24));
  const hops = traces.filter((t) => t.trace.kind === 'forwarded' && t.trace['file'] === '2067').map((t) => [t.peer, t.trace['to']]);
  assert.deepEqual(hops, [['8', '9'], ['9', '14'], ['14', '15'], ['15', '19']]);
  assert.ok(traces.some((t) => t.peer === '19' && t.lines.some((l) => l.text === 'Store 2067 request accepted')));
  ctl.request('2', '2067');
  const got = await stateWhere(ctl, (s) => s.peers.find((p) => p.id === '2')!.files.some((f) => f.name === 'received_2067.pdf'));
  assert.deepEqual(got.peers.find((p) => p.id === '2')!.files, [{ name: 'received_2067.pdf', size: 24, received: true }]);

  assert.equal((await ctl.quit('9')).message, 'Peer 9 left the ring');
  assert.equal((await ctl.kill('14')).message, 'Peer 14 killed (abrupt departure)');
  const after = await stateWhere(ctl, (s) => settled(s) && s.peers.filter((p) => p.state === 'live').length === 6);
  assert.deepEqual(after.peers.filter((p) => p.state === 'departed').map((p) => [p.id, p.departure]), [['9', 'graceful'], ['14', 'abrupt']]);
  assert.deepEqual(after.peers.find((p) => p.id === '8')!.successors.slice(0, 2), ['15', '19']);
  await rejects(ctl.kill('14'), 'UNKNOWN_PEER', /Peer 14 is not running here/);

  assert.match((await ctl.stop()).message, /6 peers planned again/);
  const replanned = ctl.state();
  assert.equal(replanned.phase, 'planned');
  assert.deepEqual(replanned.peers.map((p) => `${p.id}:${p.state}`), ['2:planned', '4:planned', '5:planned', '8:planned', '15:planned', '19:planned']);
  await ctl.start();
  await stateWhere(ctl, (s) => s.phase === 'running' && settled(s));
});

test('a peer that joins from outside is a member: no row is stale for pointing at it', async () => {
  const ctl = controller({ runtime: 'sim', seed: 9, speed: 200, ids: [2, 4, 5, 8, 9, 14, 19] });
  await ctl.start();
  const sim = ctl.sim!;
  // like `cdht join 150 2 1` in another process: a peer this controller did not start
  const outsider = new Peer({ id: 150, mode: { kind: 'join', known: 2 }, pingIntervalMs: 1000, runtime: sim.runtime(), dataDir: 'elsewhere' });
  const s = await stateWhere(ctl, (st) => st.outside.includes('150') && settled(st) && st.peers.find((p) => p.id === '2')!.pred1 === '150');
  assert.deepEqual(s.stale, []);
  assert.deepEqual(s.peers.find((p) => p.id === '19')!.want, ['150', '2']);
  assert.deepEqual(s.peers.find((p) => p.id === '14')!.want, ['19', '150']);
  assert.equal((await ctl.join('151', '150')).message, 'Peer 151 joined through Peer 150');
  await rejects(ctl.join('150'), 'ID_TAKEN', /Peer 150 is already in the ring/);
  void outsider.kill();
});


test('random ids come from the controller\'s own simulator first thing, so a seed replays them; its random goes on from there', () => {
  const a = controller({ runtime: 'sim', seed: 9, randomIds: 6 });
  const b = controller({ runtime: 'sim', seed: 9, randomIds: 6 });
  assert.equal(new Set(a.plannedIds()).size, 6);
  assert.deepEqual(a.plannedIds(), b.plannedIds());
  // one stream: the console's draws and the simulator's own interleave
  assert.deepEqual([a.random(), a.sim!.random()], [b.sim!.random(), b.random()]);
  // off the simulator they come from the random given
  const seeded = (n: number) => controller({ randomIds: 4, random: mulberry32(n) }).plannedIds();
  assert.deepEqual(seeded(5), seeded(5));
  assert.notDeepEqual(seeded(5), seeded(6));
});

test('events are typed: a state listener gets a RingState, a trace listener a TraceView', async () => {
  const ctl = controller({ runtime: 'sim', seed: 3, speed: 100, ids: [3, 40] });
  const seen = new Promise<number>((resolve) => ctl.once('state', (s) => resolve(s.peers.length)));
  // @ts-expect-error a state listener does not get a number (untyped events would accept this)
  ctl.on('state', (s: number) => s);
  // @ts-expect-error there is no such event
  ctl.on('stat', () => {});
  ctl.on('trace', (v) => assert.equal(typeof v.peer, 'string'));
  await ctl.start();
  assert.equal(await seen, 2);
});

test('a Store over the owner\'s --max-file-size names the size and the limit at both ends (real sockets)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-ctl-limit-'));
  dirs.push(dir);
  const ctl = controller({ runtime: 'node', ids: [2, 4], basePort: await freeBasePort([2, 4]), dataDir: dir, perPeerDirs: true, pingIntervalMs: 500, maxFileBytes: 1024 });
  const lines: string[] = [];
  ctl.on('trace', (v) => v.lines.forEach((l) => lines.push(`[${v.peer}] ${l.text}`)));
  await ctl.start();
  writeFileSync(join(ctl.testnet!.dataDirOf(2), '0004.pdf'), Buffer.alloc(3000, 7));
  ctl.store('2', '0004'); // key 4: owned by 4
  const want = [
    /^\[2\] Copying file 0004 to Peer 4 failed: .*refused the file: file of 3000 bytes exceeds the limit of 1024 bytes$/,
    "[4] Refused File 0004 from Peer 2: its 3000 bytes are over this peer's limit of 1024 bytes (--max-file-size)",
  ];
  const seen = () => want.every((w) => lines.some((l) => (typeof w === 'string' ? l === w : w.test(l))));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lines so far:\n${lines.join('\n')}`)), 30_000);
    const check = () => seen() && (clearTimeout(timer), ctl.off('trace', check), resolve());
    ctl.on('trace', check);
    check();
  });
  assert.deepEqual(readdirSync(ctl.testnet!.dataDirOf(4)), [], 'nothing was written at the owner');
});
