// `cdht node` end to end: separate processes on 127.0.0.1 with ports chosen at random per run,
// judged by their output, exit codes, files and HTTP answers. Waits are on output, bounded.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess, expectUsageErrors, runCli } from './helpers/cli.js';
import { freeBasePort } from './helpers/ports.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';

/** Generous: two busy cores, and a join waits for pings to answer. */
const WAIT_MS = 60_000;
const INTERVAL = ['--ping-interval', '0.5'];
const dirs: string[] = [];
const procs: CliProcess[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-node-'));
  dirs.push(d);
  return d;
}

function subDir(root: string, name: string): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  return d;
}

function node(args: string[], cwd: string, label: string, env: NodeJS.ProcessEnv = process.env): CliProcess {
  const p = new CliProcess(['node', ...args], { cwd, label, env });
  procs.push(p);
  return p;
}

/** The environment without any CDHT_* variable the test runner may have set. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CDHT_')) env[k] = v;
  return { ...env, ...extra };
}

after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('cdht node: settings', () => {
  test('--print-config shows flags over variables over the file over the defaults, as JSON', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'cdht.toml'), 'host = "127.0.0.5"\nping-misses = 7\nsuccessors = 6\nseeds = ["a.example:7000"]\n');
    const env = cleanEnv({ CDHT_PING_MISSES: '8', CDHT_SUCCESSORS: '5', CDHT_CONFIG: 'cdht.toml' });
    const p = await runCli(['node', '--successors', '9', '--print-config'], { cwd, env });
    assert.equal(p.status.code, 0, p.describe());
    const c = JSON.parse(p.out.join('\n')) as Record<string, unknown>;
    assert.equal(c['successors'], 9, 'the flag');
    assert.equal(c['ping-misses'], 8, 'the variable');
    assert.equal(c['host'], '127.0.0.5', 'the file');
    assert.deepEqual(c['seeds'], ['a.example:7000']);
    assert.equal(c['bits'], 8, 'the default');
  });

  test('an unknown key, a bad value from a variable or a file: one error line naming its source, exit 2', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'typo.toml'), 'data_dir = "/var/lib/cdht"\n');
    writeFileSync(join(cwd, 'bad.json'), JSON.stringify({ id: '7', replicas: 40 }));
    await expectUsageErrors(
      [
        [['node', '--config', 'typo.toml'], /typo\.toml: unknown setting "data_dir"/],
        [['node', '--config', 'bad.json'], /bad\.json: replicas must be an integer from 1 to 5/],
        [['node', '--id', '7', '--seeds', '7@127.0.0.1:9'], /--seeds must name other peers/],
        [['node'], /--id is required at 8 bits/],
        [['node', '--bits', '16'], /--id auto derives the id from the advertised address: give --advertise/],
        [['node', '--id', '7', '--log-format', 'xml'], /--log-format must be text or json/],
      ],
      cwd,
      'Usage: cdht node',
    );
    const p = await runCli(['node', '--id', '7'], { cwd, env: cleanEnv({ CDHT_PING_MISSES: '0' }) });
    assert.equal(p.status.code, 2);
    assert.match(p.err[0]!, /^cdht: error: CDHT_PING_MISSES must be an integer from 1 to 100 \(got '0'\)$/);
  });
});

describe('cdht node: seeds and identity', () => {
  test('two nodes form a ring through --seeds, the first seed dead and the second alive', async () => {
    const root = tempDir();
    const base = await freeBasePort([10, 99, 200]);
    const common = ['--base-port', String(base), ...INTERVAL, '--no-ping-lines'];
    const a = node(['--id', '10', '--data-dir', subDir(root, 'a'), ...common], root, 'node 10', cleanEnv());
    await a.waitFor([/^Peer 10 .*a ring of one/], { timeoutMs: WAIT_MS });
    const seeds = `127.0.0.1:${base + 99},10@127.0.0.1:${base + 10}`;
    const b = node(['--id', '200', '--data-dir', subDir(root, 'b'), '--seeds', seeds, ...common], root, 'node 200', cleanEnv());
    await b.waitFor([`Joining through seed 127.0.0.1:${base + 99}`, /^Join failed: nobody answers/, `Joining through seed 10@127.0.0.1:${base + 10}`, 'Join request has been accepted', 'My first successor is Peer 10'], { ordered: true, timeoutMs: WAIT_MS });
    await a.waitFor(['Peer 200 Join request received', 'My new first successor is Peer 200'], { timeoutMs: WAIT_MS });
  });

  test('a restart comes back as the same peer: the id derived from the address and the address are kept', async () => {
    const root = tempDir();
    const port = (await freeBasePort([0])) + 0;
    const data = subDir(root, 'data');
    const first = node(['--bits', '16', '--listen', `127.0.0.1:${port}`, '--data-dir', data, ...INTERVAL], root, 'first run', cleanEnv());
    await first.waitFor([/^Peer \d+ \(16-bit ids\) on 127\.0\.0\.1:\d+; no seeds/], { timeoutMs: WAIT_MS });
    const started = first.out.find((l) => l.startsWith('Peer '))!;
    await first.stop();
    const kept = JSON.parse(readFileSync(join(data, 'cdht-node.json'), 'utf8')) as { id: string; advertise: string };
    assert.equal(kept.advertise, `127.0.0.1:${port}`);
    assert.ok(started.startsWith(`Peer ${kept.id} (16-bit ids) on 127.0.0.1:${port};`), started);
    // no --listen, no --id: both come from the data directory
    const again = node(['--bits', '16', '--data-dir', data, ...INTERVAL], root, 'second run', cleanEnv());
    await again.waitFor([new RegExp(`^Peer ${kept.id} \\(16-bit ids\\) on 127\\.0\\.0\\.1:${port}; no seeds`)], { timeoutMs: WAIT_MS });
    await again.stop();
    const other = await runCli(['node', '--bits', '16', '--id', '1', '--data-dir', data], { cwd: root, env: cleanEnv() });
    assert.equal(other.status.code, 2);
    assert.match(other.err[0]!, new RegExp(`--id 1: .*cdht-node\\.json belongs to Peer ${kept.id} of the 16-bit space`));
  });
});

describe('cdht node: TLS files kept in the data folder', () => {
  test('--tls once: its files are kept (key 0600), and a restart without --tls is the same member of the private ring', async () => {
    const root = tempDir();
    const [ca, tlsA, tlsB] = [join(root, 'ca'), join(root, 'tls-a'), join(root, 'tls-b')];
    assert.equal((await runCli(['ca', 'create', ca], { cwd: root })).status.code, 0);
    for (const [id, out] of [['1000', tlsA], ['2000', tlsB]] as const) assert.equal((await runCli(['ca', 'issue', id, '--ca', ca, '--out', out], { cwd: root })).status.code, 0);
    const port = await freeBasePort([0, 1, 2]);
    const portB = port + 1;
    const data = subDir(root, 'data');
    const first = node(['--bits', '16', '--id', '1000', '--listen', `127.0.0.1:${port}`, '--tls', tlsA, '--data-dir', data, ...INTERVAL], root, 'first run', cleanEnv());
    await first.waitFor([/^Peer 1000 \(16-bit ids\) on 127\.0\.0\.1:\d+; no seeds/], { timeoutMs: WAIT_MS });
    await first.stop();
    const kept = join(data, '.cdht-tls');
    for (const f of ['ca.crt', 'peer-1000.key', 'peer-1000.crt']) assert.equal(readFileSync(join(kept, f), 'utf8'), readFileSync(join(f === 'ca.crt' ? ca : tlsA, f), 'utf8'), f);
    assert.equal(statSync(join(kept, 'peer-1000.key')).mode & 0o777, 0o600);
    assert.equal(statSync(kept).mode & 0o777, 0o700);
    assert.ok(!first.out.some((l) => l.startsWith('This ring is open')), first.describe());

    // the --tls directory is gone: id, address and certificate all come from the data folder
    rmSync(tlsA, { recursive: true });
    const again = node(['--bits', '16', '--data-dir', data, ...INTERVAL, '--no-ping-lines'], root, 'second run', cleanEnv());
    await again.waitFor([new RegExp(`^Peer 1000 \\(16-bit ids\\) on 127\\.0\\.0\\.1:${port}; no seeds`), `Private ring: the TLS files kept in ${kept} from an earlier --tls`], { timeoutMs: WAIT_MS });
    assert.ok(!again.out.some((l) => l.startsWith('This ring is open')), again.describe());
    // a member with a certificate of the same authority joins it: the handshake used the kept files
    const b = node(['--bits', '16', '--id', '2000', '--listen', `127.0.0.1:${portB}`, '--tls', tlsB, '--data-dir', subDir(root, 'b'), '--seeds', `1000@127.0.0.1:${port}`, ...INTERVAL, '--no-ping-lines'], root, 'node 2000', cleanEnv());
    await b.waitFor(['My first successor is Peer 1000'], { timeoutMs: WAIT_MS });
    await again.waitFor(['Peer 2000 Join request received'], { timeoutMs: WAIT_MS });
    // a peer without --tls is not let in
    const open = node(['--bits', '16', '--id', '3000', '--listen', `127.0.0.1:${port + 2}`, '--data-dir', subDir(root, 'open'), '--seeds', `1000@127.0.0.1:${port}`, ...INTERVAL], root, 'open peer', cleanEnv());
    await open.waitFor([/this ring is private/], { timeoutMs: WAIT_MS });
  });
});

describe('cdht node: input', () => {
  test('Store and Request typed on stdin reach the peer as at init and join; any other line is refused with a line', async () => {
    const root = tempDir();
    const port = await freeBasePort([0]);
    const data = subDir(root, 'data');
    writeFileSync(join(root, 'notes.txt'), 'published through stdin');
    const p = node(['--bits', '16', '--listen', `127.0.0.1:${port}`, '--data-dir', data, ...INTERVAL, '--no-ping-lines'], root, 'node', cleanEnv());
    // a ring of one takes stores once it has looked for a successor and found none
    await p.waitFor([/^Peer \d+ \(16-bit ids\)/, 'No live successor is known; this peer is alone until another joins'], { timeoutMs: WAIT_MS });
    p.send(`Store ${join(root, 'notes.txt')}`);
    // above 8 bits a typed Store is the library's put: the core's lines, then one outcome line
    const sum = createHash('sha256').update('published through stdin').digest('hex').slice(0, 12);
    await p.waitFor(['Store notes.txt request accepted', new RegExp(`^Stored notes\\.txt: 23 bytes at Peer \\d+ \\(sha256 ${sum}…\\)$`)], { timeoutMs: WAIT_MS });
    assert.equal(readFileSync(join(data, 'store', 'notes.txt'), 'utf8'), 'published through stdin');
    p.send('Request notes.txt');
    p.send('Quit');
    await p.waitFor([/^(File notes\.txt|Request for File notes\.txt)/, 'cdht node reads Store NAME and Request NAME here; SIGTERM or Ctrl+C leaves the ring'], { timeoutMs: WAIT_MS });
    // and a typed Request is a get: the checked copy saved as received_NAME, said in one line
    await p.waitFor([`Received notes.txt: 23 bytes, sha256 ${sum}…, saved as ${join(data, 'received_notes.txt')}`], { timeoutMs: WAIT_MS });
    assert.equal(readFileSync(join(data, 'received_notes.txt'), 'utf8'), 'published through stdin');
    p.send(`Store ${join(root, 'missing.txt')}`);
    await p.waitFor([/^There is no file .*missing\.txt to store$/], { timeoutMs: WAIT_MS });
    assert.ok(p.running, 'Quit on stdin does not stop it: leaving is SIGTERM\'s');
  });
});

describe('cdht node: --api', () => {
  test('clients without a peer put, get and delete through the node\'s gateway', async () => {
    const root = tempDir();
    const port = await freeBasePort([0]);
    const data = subDir(root, 'data');
    const p = node(['--bits', '16', '--listen', `127.0.0.1:${port}`, '--data-dir', data, '--api', '127.0.0.1:0', ...INTERVAL, '--no-ping-lines'], root, 'node', cleanEnv());
    await p.waitFor([/^Data API on http:\/\/127\.0\.0\.1:\d+ /, 'No live successor is known; this peer is alone until another joins'], { timeoutMs: WAIT_MS });
    const via = /^Data API on http:\/\/(127\.0\.0\.1:\d+) /.exec(p.out.find((l) => l.startsWith('Data API on'))!)![1]!;
    writeFileSync(join(root, 'q.txt'), 'through the api');
    const put = await runCli(['put', join(root, 'q.txt'), '--via', via, '--name', 'Quarterly report (final).txt'], { cwd: root, env: cleanEnv(), timeoutMs: WAIT_MS });
    assert.equal(put.status.code, 0, put.describe());
    assert.equal(readFileSync(join(data, 'store', 'Quarterly report (final).txt'), 'utf8'), 'through the api');
    const get = await runCli(['get', 'Quarterly report (final).txt', '--via', via, '-o', '-'], { cwd: root, env: cleanEnv(), timeoutMs: WAIT_MS });
    assert.equal(get.status.code, 0, get.describe());
    assert.deepEqual(get.out, ['through the api']);
    const del = await runCli(['delete', 'Quarterly report (final).txt', '--via', via], { cwd: root, env: cleanEnv(), timeoutMs: WAIT_MS });
    assert.equal(del.status.code, 0, del.describe());
    assert.ok(!existsSync(join(data, 'store', 'Quarterly report (final).txt')));
  });
});

describe('cdht node: an address already taken', () => {
  test('exits 1 at once instead of trying its seeds forever', async () => {
    const root = tempDir();
    const base = await freeBasePort([10, 200]);
    const taken = createServer();
    await new Promise<void>((res) => taken.listen(base + 200, '127.0.0.1', res));
    try {
      const p = await runCli(['node', '--id', '200', '--base-port', String(base), '--seeds', '10'], { cwd: root, env: cleanEnv(), timeoutMs: WAIT_MS });
      assert.equal(p.status.code, 1, p.describe());
      assert.ok(p.out.some((l) => /^Cannot start Peer 200: .*address already in use/.test(l)), p.describe());
      assert.equal(p.out.filter((l) => l.startsWith('Joining through seed')).length, 1, p.describe());
    } finally {
      taken.close();
    }
  });
});

describe('cdht node: graceful stop', () => {
  test('SIGTERM leaves gracefully: its file is at its successor before it exits 0', async () => {
    const root = tempDir();
    const base = await freeBasePort([10, 200]);
    const common = ['--base-port', String(base), ...INTERVAL, '--no-ping-lines'];
    const [aDir, bDir] = [subDir(root, 'a'), subDir(root, 'b')];
    // key 150 lies in (10, 200]: Peer 200 owns it, and holds its only copy (k = 1 at 8 bits)
    writeFileSync(join(bDir, '0150.pdf'), 'the file 200 hands over');
    const a = node(['--id', '10', '--data-dir', aDir, ...common], root, 'node 10', cleanEnv());
    await a.waitFor([/^Peer 10 /], { timeoutMs: WAIT_MS });
    // a name, looked up on each try: every address it has is tried
    const b = node(['--id', '200', '--data-dir', bDir, '--seeds', `localhost:${base + 10}`, ...common], root, 'node 200', cleanEnv());
    await b.waitFor([`Joining through seed localhost:${base + 10} (127.0.0.1:${base + 10})`, 'My first successor is Peer 10'], { timeoutMs: WAIT_MS });
    await a.waitFor(['My new first successor is Peer 200'], { timeoutMs: WAIT_MS });
    assert.ok(!existsSync(join(aDir, '0150.pdf')));
    b.signal('SIGTERM');
    const exit = await b.waitForExit(WAIT_MS);
    // checked at once: the hand-over is confirmed before the peer says it leaves, and it exits after
    assert.ok(existsSync(join(aDir, '0150.pdf')), `the file reached Peer 10 before Peer 200 exited\n  ${b.describe()}`);
    assert.deepEqual(exit, { code: 0, signal: null }, b.describe());
    assert.ok(b.out.some((l) => /^SIGTERM: leaving the ring gracefully/.test(l)), b.describe());
    assert.ok(b.out.some((l) => /^Leaving the ring; telling Peer 10/.test(l)), b.describe());
    await a.waitFor(['Peer 200 will depart from the network'], { timeoutMs: WAIT_MS });
    assert.equal(readFileSync(join(aDir, '0150.pdf'), 'utf8'), 'the file 200 hands over');
  });

  /**
   * Peer 200 joined through Peer 10 holding a name it owns, then Peer 10 frozen (SIGSTOP): the
   * hand-over cannot finish, and with --ping-misses 100 Peer 200 does not soon declare it dead, so
   * its leave lasts until something stops it.
   */
  async function stuckLeaver(extra: string[]): Promise<CliProcess> {
    const root = tempDir();
    const base = await freeBasePort([10, 200]);
    const common = ['--base-port', String(base), ...INTERVAL, '--no-ping-lines'];
    const bDir = subDir(root, 'b');
    writeFileSync(join(bDir, '0150.pdf'), 'nobody takes this');
    const a = node(['--id', '10', '--data-dir', subDir(root, 'a'), ...common], root, 'node 10', cleanEnv());
    await a.waitFor([/^Peer 10 /], { timeoutMs: WAIT_MS });
    const b = node(['--id', '200', '--data-dir', bDir, '--seeds', '10', '--ping-misses', '100', ...common, ...extra], root, 'node 200', cleanEnv());
    await b.waitFor(['My first successor is Peer 10'], { timeoutMs: WAIT_MS });
    a.signal('SIGSTOP'); // the cleanup's SIGKILL ends it, stopped or not
    return b;
  }

  test('a leave that outlasts --leave-timeout stops abruptly with exit 1', async () => {
    const b = await stuckLeaver(['--leave-timeout', '1']);
    b.signal('SIGTERM');
    assert.deepEqual(await b.waitForExit(WAIT_MS), { code: 1, signal: null }, b.describe());
    assert.ok(b.out.includes('Did not finish leaving within 1 s: stopping abruptly'), b.describe());
    assert.ok(!b.out.some((l) => l.startsWith('Leaving the ring;')), 'it never got past the hand-over');
  });

  test('a second signal stops at once, with the signal\'s exit code', async () => {
    const b = await stuckLeaver([]);
    b.signal('SIGTERM');
    // two signals sent at once may reach the process as one: the second goes once the first is taken
    await b.waitFor([/^SIGTERM: leaving the ring gracefully/], { timeoutMs: WAIT_MS });
    b.signal('SIGTERM');
    assert.deepEqual(await b.waitForExit(WAIT_MS), { code: 143, signal: null }, b.describe());
    assert.ok(b.out.includes('SIGTERM again: stopping at once'), b.describe());
  });

  test('init and join keep Ctrl+C and SIGTERM as an abrupt departure, and say so in --help', async () => {
    const p = await runCli(['join', '--help'], { cwd: tempDir() });
    assert.equal(p.status.code, 0);
    assert.ok(p.out.some((l) => l.startsWith('Ctrl+C and SIGTERM are an abrupt departure')), p.describe());
  });
});

/** The URL a node printed for --http 127.0.0.1:0. */
async function httpUrl(p: CliProcess): Promise<string> {
  await p.waitFor([/^HTTP on http:\/\/127\.0\.0\.1:\d+ /], { timeoutMs: WAIT_MS });
  return /(http:\/\/127\.0\.0\.1:\d+)/.exec(p.out.find((l) => l.startsWith('HTTP on '))!)![1]!;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(WAIT_MS) });
  return { status: res.status, body: await res.text() };
}

describe('cdht node: health and metrics', () => {
  test('/healthz answers; /readyz is 503 until it joins, 200 in the ring, 503 when its only successor dies; /metrics parses', async () => {
    const root = tempDir();
    const base = await freeBasePort([10, 99, 200]);
    const common = ['--base-port', String(base), ...INTERVAL, '--no-ping-lines'];
    // the seeds: one dead, and Peer 10, not started yet: every round fails until it is
    const seeds = `127.0.0.1:${base + 99},10@127.0.0.1:${base + 10}`;
    const b = node(['--id', '200', '--data-dir', subDir(root, 'b'), '--seeds', seeds, '--http', '127.0.0.1:0', ...common], root, 'node 200', cleanEnv());
    const url = await httpUrl(b);
    await b.waitFor([/^No seed answered; trying again in 1 s$/], { timeoutMs: WAIT_MS });
    assert.equal((await get(`${url}/healthz`)).status, 200);
    const before = await get(`${url}/readyz`);
    assert.equal(before.status, 503);
    assert.match((JSON.parse(before.body) as { reason: string }).reason, /^not in a ring yet: joining through its seeds$/);

    const a = node(['--id', '10', '--data-dir', subDir(root, 'a'), ...common], root, 'node 10', cleanEnv());
    await b.waitFor(['My first successor is Peer 10'], { timeoutMs: WAIT_MS });
    const inRing = await get(`${url}/readyz`);
    assert.equal(inRing.status, 200, inRing.body);
    assert.equal((JSON.parse(inRing.body) as { ready: boolean }).ready, true);

    const metrics = await get(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    const e = parsePrometheus(metrics.body);
    assert.ok(e.samples.length > 20);
    assert.equal(sampleValue(e, 'cdht_in_ring'), 1);
    assert.ok(sampleValue(e, 'cdht_successors_alive')! >= 1);
    assert.ok(sampleValue(e, 'cdht_peers_known')! >= 1);
    for (const name of ['cdht_keys_owned', 'cdht_transfers_in_progress', 'nodejs_eventloop_lag_seconds']) assert.equal(typeof sampleValue(e, name), 'number', name);
    assert.equal(e.types.get('cdht_lookups_total'), 'counter');

    await a.stop(); // SIGKILL: Peer 200 learns it only from unanswered pings
    await b.waitFor(['Peer 10 is no longer alive'], { timeoutMs: WAIT_MS });
    const alone = await get(`${url}/readyz`);
    assert.equal(alone.status, 503, alone.body);
    assert.match((JSON.parse(alone.body) as { reason: string }).reason, /^no successor answers/);
  });
});

/** Asks `url` until `done` holds for its answer (each ask waits for the answer; at most `tries`). */
async function pollUntil(url: string, done: (r: { status: number; body: string }) => boolean, what: string, tries = 600): Promise<{ status: number; body: string }> {
  let last: { status: number; body: string } | undefined;
  for (let i = 0; i < tries; i++) {
    last = await get(url);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: last answer ${last?.status} ${last?.body}`);
}

interface ReadyBody {
  ready: boolean;
  reason: string;
  k?: number;
  keysOwned?: number;
  keysShortOfK?: number;
}

describe('cdht node: /readyz and keys short of k', () => {
  test('k = 3 on three peers: a successor killed is 503 while it leaves pings unanswered, keys short of k are reported, and a new peer takes the copies', async () => {
    const root = tempDir();
    const base = await freeBasePort([10, 50, 100, 200]);
    // 100 misses before a death is declared: the silence lasts seconds, not a fraction of one
    const common = ['--base-port', String(base), ...INTERVAL, '--no-ping-lines', '--replicas', '3', '--ping-misses', '100'];
    const [aDir, bDir, cDir, dDir] = ['a', 'b', 'c', 'd'].map((n) => subDir(root, n)) as [string, string, string, string];
    // key 5 lies in (200, 10]: Peer 10 owns it once the ring is 10 -> 100 -> 200
    writeFileSync(join(aDir, '0005.pdf'), 'owned by Peer 10');
    const a = node(['--id', '10', '--data-dir', aDir, '--http', '127.0.0.1:0', ...common], root, 'node 10', cleanEnv());
    const url = await httpUrl(a);
    const b = node(['--id', '100', '--data-dir', bDir, '--seeds', '10', ...common], root, 'node 100', cleanEnv());
    await b.waitFor(['My first successor is Peer 10'], { timeoutMs: WAIT_MS });
    const c = node(['--id', '200', '--data-dir', cDir, '--seeds', '10', ...common], root, 'node 200', cleanEnv());
    await c.waitFor(['My first successor is Peer 10'], { timeoutMs: WAIT_MS });
    // the copies reach 100 and 200: every key of Peer 10 at k copies
    // (a sync now and then re-offers what the holders have: short for the moment its offer is unanswered)
    const settled = (r: { status: number; body: string }) => r.status === 200 && (JSON.parse(r.body) as ReadyBody).keysShortOfK === 0;
    const whole = await pollUntil(`${url}/readyz`, (r) => settled(r) && existsSync(join(bDir, '0005.pdf')) && existsSync(join(cDir, '0005.pdf')), 'Peer 10 ready with its key on three peers');
    const ok = JSON.parse(whole.body) as ReadyBody;
    assert.deepEqual([ok.k, ok.keysOwned, ok.keysShortOfK], [3, 1, 0], whole.body);

    await c.stop(); // SIGKILL: Peer 10 learns it only from unanswered pings
    const silent = await pollUntil(`${url}/readyz`, (r) => r.status === 503, '503 while Peer 200 leaves pings unanswered');
    const why = JSON.parse(silent.body) as ReadyBody;
    assert.equal(why.ready, false);
    assert.match(why.reason, /^successor Peer 200 does not answer \(\d+ pings? missed\)/, silent.body);
    // declared dead: a ring of two holds two copies of three; said, and not held against readiness
    const short = await pollUntil(`${url}/readyz`, (r) => r.status === 200 && ((JSON.parse(r.body) as ReadyBody).keysShortOfK ?? 0) >= 1, 'ready again, keys short of k');
    assert.match((JSON.parse(short.body) as ReadyBody).reason, /1 key it owns short of k=3 copies: only 1 live successor to hold the other 2/, short.body);
    const m = parsePrometheus((await get(`${url}/metrics`)).body);
    assert.equal(sampleValue(m, 'cdht_keys_short_of_k'), 1);

    // a new peer between 10 and 100 becomes a replica holder: the repair copies the key to it
    const d = node(['--id', '50', '--data-dir', dDir, '--seeds', '10', ...common], root, 'node 50', cleanEnv());
    await d.waitFor(['My first successor is Peer 100'], { timeoutMs: WAIT_MS });
    await pollUntil(`${url}/readyz`, (r) => settled(r) && existsSync(join(dDir, '0005.pdf')), `every key of Peer 10 at k copies again\n${a.describe()}\n${d.describe()}`);
    assert.equal(readFileSync(join(dDir, '0005.pdf'), 'utf8'), 'owned by Peer 10', 'the repair copied the key to the new peer');
    // and the gauge is back at 0 (read until a scrape falls between the syncs' brief re-offers)
    await pollUntil(`${url}/metrics`, (r) => sampleValue(parsePrometheus(r.body), 'cdht_keys_short_of_k') === 0, 'cdht_keys_short_of_k back at 0');
  });
});

describe('cdht node: --log-format json', () => {
  test('every line is one JSON object with the trace kind as event and the text line as msg', async () => {
    const root = tempDir();
    const base = await freeBasePort([10, 200]);
    const common = ['--base-port', String(base), ...INTERVAL];
    const a = node(['--id', '10', '--data-dir', subDir(root, 'a'), '--log-format', 'json', ...common], root, 'node 10 (json)', cleanEnv());
    await a.waitFor([/"event":"start"/], { timeoutMs: WAIT_MS });
    const b = node(['--id', '200', '--data-dir', subDir(root, 'b'), '--seeds', '10', '--no-ping-lines', ...common], root, 'node 200', cleanEnv());
    await b.waitFor(['My first successor is Peer 10'], { timeoutMs: WAIT_MS });
    await a.waitFor([/"event":"ping-sent"/], { timeoutMs: WAIT_MS });
    b.signal('SIGTERM');
    assert.equal((await b.waitForExit(WAIT_MS)).code, 0);
    await a.waitFor([/"event":"depart-received"/], { timeoutMs: WAIT_MS });
    const lines = a.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const l of lines) {
      assert.equal(typeof l['event'], 'string', JSON.stringify(l));
      assert.equal(typeof l['msg'], 'string', JSON.stringify(l));
      assert.equal(typeof l['time'], 'number', JSON.stringify(l));
    }
    const find = (event: string) => lines.find((l) => l['event'] === event);
    assert.equal(find('start')?.['id'], '10');
    assert.deepEqual([find('join-received')?.['msg'], find('join-received')?.['joiner'], find('join-received')?.['id']], ['Peer 200 Join request received', '200', '10']);
    assert.equal(find('depart-received')?.['msg'], 'Peer 200 will depart from the network');
    assert.equal(find('ping-sent')?.['level'], 'debug', 'ping lines are shown (not --no-ping-lines), at debug level');
  });
});

