// `cdht web --peer`: the page's server attached to a ring of separate `cdht init` processes on
// real sockets (loopback, a random base port). It serves the ring's true membership (ids,
// addresses, successors), walks it again when a peer leaves, refuses every mutating verb without
// a certificate, and on a private ring asks a peer to leave only with a certificate: the peer's
// own (issued in memory by the authority's key) is accepted, an operator's is refused by the peer.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PageSocket } from './helpers/page-socket.js';
import type { RingState } from '../src/control/view-types.js';
import type { ServerMessage } from '../src/web/protocol.js';
import { CliProcess, CliRing, cleanEnv, FIGURE1, freeBasePort, runCli } from './helpers/cli.js';

const INTERVAL_S = 0.5;
const WAIT_MS = 30_000;
const cleanups: (() => Promise<unknown>)[] = [];
const dirs: string[] = [];

after(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-web-remote-'));
  dirs.push(d);
  return d;
}

/** A page's socket that keeps every message and can wait for one (the newest that matches). */
class Page extends PageSocket {
  private ref = 1;
  constructor(url: string) {
    super(url, cleanups);
  }
  wait<T extends ServerMessage>(pred: (m: ServerMessage) => boolean, what: string, ms = WAIT_MS): Promise<T> {
    return this.waitFor<T>(pred, { ms, what, latest: true });
  }
  state(pred: (s: RingState) => boolean, what: string): Promise<RingState> {
    return this.wait<RingState>((m) => m.type === 'state' && pred(m), what);
  }
  ask(msg: Record<string, unknown>): Promise<ServerMessage & { type: 'reply' | 'error' }> {
    return this.askWith(msg, this.ref++, WAIT_MS);
  }
}

/** Starts `cdht web` and waits for the URL it prints. */
async function startWeb(dir: string, args: string[]): Promise<{ proc: CliProcess; url: string }> {
  const proc = new CliProcess(['web', '--web-port', '0', '--refresh', '1', ...args], { cwd: dir, label: 'cdht web', env: cleanEnv() });
  cleanups.push(() => proc.stop());
  await proc.waitFor([/^Watching the ring at /, /^Web page: http:\/\/127\.0\.0\.1:\d+\/$/], { timeoutMs: WAIT_MS });
  const url = proc.out.find((l) => l.startsWith('Web page: '))!.slice('Web page: '.length);
  return { proc, url };
}

const live = (s: RingState) => s.peers.filter((p) => p.state === 'live');
const MUTATING: Record<string, unknown>[] = [
  { verb: 'start' },
  { verb: 'stop' },
  { verb: 'add', peer: '30' },
  { verb: 'join', peer: '30', via: '2' },
  { verb: 'store', peer: '8', file: '2067' },
  { verb: 'request', peer: '8', file: '2067' },
  { verb: 'quit', peer: '14' },
  { verb: 'kill', peer: '14' },
  { verb: 'routes', key: '2067', peer: '8' },
];

describe('cdht web --peer: the page for a ring running elsewhere', () => {
  test('serves the true membership of a ring of processes, follows a departure, and changes nothing without a certificate', async () => {
    const dir = tempDir();
    const ring = new CliRing(dir, await freeBasePort());
    cleanups.push(() => ring.stopAll());
    for (const [id, s1, s2] of FIGURE1) ring.init(id, s1, s2, INTERVAL_S);
    await ring.pingsSeen(FIGURE1);
    const at = (id: number) => `127.0.0.1:${ring.basePort + id}`;

    const { proc, url } = await startWeb(dir, ['--peer', at(8)]);
    assert.match(proc.out.join('\n'), new RegExp(`^Watching the ring at ${at(8).replace(/\./g, '\\.')}: 7 peers \\(8-bit ids\\), read-only$`, 'm'));
    const page = new Page(url);
    await page.opened;
    const hello = await page.wait((m) => m.type === 'hello', 'hello');
    assert.deepEqual(hello.type === 'hello' && hello.verbs, ['state', 'pings'], 'the page is offered watching only');
    const s = await page.state((x) => live(x).length === 7, 'seven live peers');
    const ids = FIGURE1.map(([id]) => id);
    assert.deepEqual(s.peers.map((p) => p.id), ids.map(String));
    for (const p of s.peers) {
      const i = ids.indexOf(Number(p.id));
      const next = (d: number) => String(ids[(i + d) % ids.length]);
      assert.equal(p.state, 'live');
      assert.equal(p.phase, 'active');
      assert.deepEqual(p.successors.slice(0, 2), [next(1), next(2)], `Peer ${p.id}'s successors`);
      assert.equal(p.pred1, next(ids.length - 1), `Peer ${p.id}'s predecessor`);
      assert.equal(p.stale, false);
      assert.equal(p.layers?.['address'], at(Number(p.id)));
    }
    assert.deepEqual(s.stale, []);
    assert.equal(s.phase, 'running');
    assert.deepEqual([s.remote?.complete, s.remote?.actions], [true, []]);

    for (const msg of MUTATING) {
      const r = await page.ask(msg);
      assert.equal(r.type, 'error', JSON.stringify(r));
      assert.equal(r.type === 'error' && r.code, 'READ_ONLY', JSON.stringify(r));
      assert.match(r.type === 'error' ? r.message : '', /read-only: give cdht web a certificate/);
    }
    assert.ok([...ring.peers.values()].every((p) => p.running), 'every peer still runs');
    const again = await page.ask({ verb: 'state' });
    assert.equal(again.type, 'reply');

    // 14 leaves on its own (its console's Quit): the next walks no longer meet it
    ring.peer(14).send('Quit');
    assert.deepEqual(await ring.peer(14).waitForExit(), { code: 0, signal: null });
    const after = await page.state((x) => live(x).length === 6 && x.remote?.complete === true && x.stale.length === 0, 'six live peers, none stale');
    assert.deepEqual(live(after).map((p) => p.id), ['2', '4', '5', '8', '9', '19']);
    assert.equal(after.peers.find((p) => p.id === '14')?.state, 'departed');
    assert.deepEqual(after.peers.find((p) => p.id === '9')?.successors.slice(0, 2), ['19', '2']);

    proc.signal('SIGTERM');
    assert.deepEqual(await proc.waitForExit(), { code: 0, signal: null });
  });

  test('a private ring: no certificate, no page; an operator\'s certificate watches and its leave requests are refused by the peer; the authority\'s key makes one', async () => {
    const dir = tempDir();
    const keys = tempDir();
    const ca = join(keys, 'ring-ca');
    const peersDir = join(keys, 'peers');
    const spare = join(keys, 'operator');
    assert.equal((await runCli(['ca', 'create', ca], { cwd: dir })).status.code, 0);
    // the peers' certificates live apart from the authority: leaving one needs it issued afresh
    for (const id of [2, 4, 5]) assert.equal((await runCli(['ca', 'issue', String(id), '--ca', ca, '--out', peersDir], { cwd: dir })).status.code, 0);
    // each watcher has a certificate of its own: a private ring's peers keep one connection per id
    assert.equal((await runCli(['ca', 'issue', '1000', '--ca', ca, '--out', spare], { cwd: dir })).status.code, 0);
    assert.equal((await runCli(['ca', 'issue', '1001', '--ca', ca], { cwd: dir })).status.code, 0);
    const three: [number, number, number][] = [[2, 4, 5], [4, 5, 2], [5, 2, 4]];
    const ring = new CliRing(dir, await freeBasePort());
    cleanups.push(() => ring.stopAll());
    for (const [id, s1, s2] of three) ring.init(id, s1, s2, INTERVAL_S, ['--tls', peersDir]);
    await ring.pingsSeen(three);
    const at = (id: number) => `127.0.0.1:${ring.basePort + id}`;

    const plain = await runCli(['web', '--peer', at(2), '--web-port', '0'], { cwd: dir, env: cleanEnv() });
    assert.equal(plain.status.code, 1, plain.describe());
    assert.match(plain.err.join('\n'), /is private: give --tls DIR/);

    const operator = await startWeb(dir, ['--peer', at(4), '--tls', spare]);
    const watcher = new Page(operator.url);
    await watcher.opened;
    const hello = await watcher.wait((m) => m.type === 'hello', 'hello');
    assert.deepEqual(hello.type === 'hello' && hello.verbs, ['quit', 'state', 'pings']);
    const s = await watcher.state((x) => live(x).length === 3, 'three live peers');
    assert.deepEqual(s.peers.map((p) => p.id), ['2', '4', '5']);
    const refused = await watcher.ask({ verb: 'quit', peer: '5' });
    assert.equal(refused.type === 'error' && refused.code, 'REFUSED', JSON.stringify(refused));
    assert.match(refused.type === 'error' ? refused.message : '', /^Peer 5 refused to leave: on a private ring only this peer's own certificate/);
    const kill = await watcher.ask({ verb: 'kill', peer: '5' });
    assert.equal(kill.type === 'error' && kill.code, 'UNSUPPORTED', JSON.stringify(kill));
    const unknown = await watcher.ask({ verb: 'quit', peer: '77' });
    assert.equal(unknown.type === 'error' && unknown.code, 'UNKNOWN_PEER', JSON.stringify(unknown));
    assert.equal(ring.peer(5).running, true);

    const authority = await startWeb(dir, ['--peer', at(2), '--tls', ca, '--id', '1001']);
    const admin = new Page(authority.url);
    await admin.opened;
    await admin.state((x) => live(x).length === 3, 'three live peers');
    ring.markAll();
    const bye = await admin.ask({ verb: 'quit', peer: '5' });
    assert.equal(bye.type, 'reply', JSON.stringify(bye));
    assert.match(bye.type === 'reply' ? bye.message : '', /^Peer 5 is leaving the ring/);
    assert.deepEqual(await ring.peer(5).waitForExit(), { code: 0, signal: null });
    for (const page of [admin, watcher]) {
      const after = await page.state((x) => live(x).length === 2 && x.remote?.complete === true && x.stale.length === 0, 'two live peers');
      assert.deepEqual(live(after).map((p) => p.id), ['2', '4']);
    }
  });
});
