// End to end: the `cdht` command as separate processes on real sockets, fed through stdin and
// judged by its stdout lines, exit codes and files, the way the spec's marker drives it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_SCRIPT, CliProcess, CliRing, FIGURE1, REPO_ROOT, freeBasePort, expectUsageErrors, runCli } from './helpers/cli.js';

const INTERVAL_S = 0.5;
const rings: CliRing[] = [];
const dirs: string[] = [];
const loose: CliProcess[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-e2e-'));
  dirs.push(d);
  return d;
}

async function newRing(): Promise<CliRing> {
  const ring = new CliRing(tempDir(), await freeBasePort());
  rings.push(ring);
  return ring;
}

after(async () => {
  await Promise.all([...rings.map((r) => r.stopAll()), ...loose.map((p) => p.stop())]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('cdht CLI, end to end', () => {
  test('the reference scenario: pings, quit, store, join, abrupt departure, file retrieval', async () => {
    const ring = await newRing();
    for (const [id, s1, s2] of FIGURE1) ring.init(id, s1, s2, INTERVAL_S);
    await ring.pingsSeen(FIGURE1);
    const at = (id: number) => ring.peer(id);
    // status names two successors, as the README promises, though the peer keeps a list of four
    at(2).send('status');
    await at(2).waitFor([/^Peer 2 \(active\): \S+ > \S+ > \[2\] > 4 > 5$/]);

    // Graceful departure of 9: both predecessors hear it, and 9's process ends with 0.
    ring.markAll();
    at(9).send('Quit');
    await Promise.all([
      at(8).waitFor(['Peer 9 will depart from the network', 'My new first successor is Peer 14', 'My new second successor is Peer 19'], { ordered: true }),
      at(5).waitFor(['Peer 9 will depart from the network', 'My new first successor is Peer 8', 'My new second successor is Peer 14'], { ordered: true }),
    ]);
    assert.deepEqual(await at(9).waitForExit(), { code: 0, signal: null }, 'peer 9 exits with 0 after Quit');
    await at(14).waitFor(['Ping request message received from Peer 8', 'Ping request message received from Peer 5']);

    // Store 2067 (key 19) typed at 8 travels 8 -> 14 -> 19.
    ring.markAll();
    at(8).send('Store 2067');
    await Promise.all([
      at(8).waitFor(['Store 2067 request forwarded to my successor']),
      at(14).waitFor(['Store 2067 request forwarded to my successor']),
      at(19).waitFor(['Store 2067 request accepted']),
    ]);

    // 15 joins through 4; the request travels 4 -> 5 -> 8 -> 14 (9 has left, so 8 is 14's first predecessor).
    ring.markAll();
    ring.join(15, 4, INTERVAL_S);
    await Promise.all([
      ...[4, 5, 8].map((id) => at(id).waitFor(['Peer 15 Join request forwarded to my successor'])),
      at(14).waitFor(['Peer 15 Join request received', 'My new first successor is Peer 15', 'My new second successor is Peer 19'], { ordered: true }),
      at(8).waitFor(['Successor Change request received', 'My new first successor is Peer 14', 'My new second successor is Peer 15'], { ordered: true }),
      at(15).waitFor(['Join request has been accepted', 'My first successor is Peer 19', 'My second successor is Peer 2'], { ordered: true }),
    ]);
    assert.ok(!at(19).linesSinceMark().some((l) => l.includes('Peer 15 Join')), 'the join stops at 14');
    await Promise.all([
      at(8).waitFor(['Ping response received from Peer 15']),
      at(15).waitFor(['Ping request message received from Peer 14', 'Ping response received from Peer 19', 'Ping response received from Peer 2']),
    ]);

    // 14 is killed (Ctrl+C): 8 and 5, whose successor it was, notice after missed pings and repair.
    ring.markAll();
    at(14).signal('SIGINT');
    assert.deepEqual(await at(14).waitForExit(), { code: 130, signal: null }, 'SIGINT exits with 130');
    await Promise.all([
      at(8).waitFor(['Peer 14 is no longer alive', 'My new first successor is Peer 15', 'My new second successor is Peer 19'], { ordered: true }),
      at(5).waitFor(['Peer 14 is no longer alive', 'My new first successor is Peer 8', 'My new second successor is Peer 15'], { ordered: true }),
    ]);
    assert.ok(!at(8).linesSinceMark().some((l) => l.includes('will depart')), 'a kill says no goodbye');

    // Request 4103 (key 7) typed at 2 travels 2 -> 4 -> 5 -> 8; 8 sends the file straight to 2.
    const original = randomBytes(1 << 20);
    writeFileSync(join(ring.cwd, '4103.pdf'), original);
    ring.markAll();
    at(2).send('Request 4103');
    await Promise.all([
      at(2).waitFor(['File request for 4103 has been sent to my successor']),
      ...[4, 5].map((id) => at(id).waitFor(['Request for File 4103 has been received, but the file is not stored here'])),
      at(8).waitFor(['File 4103 is stored here', 'Sending file 4103 to Peer 2', 'The file has been sent'], { ordered: true }),
      at(2).waitFor(['Peer 8 had File 4103', 'Receiving File 4103 from Peer 8', 'File 4103 received'], { ordered: true }),
    ]);
    assert.ok(readFileSync(join(ring.cwd, 'received_4103.pdf')).equals(original), 'received_4103.pdf is byte for byte 4103.pdf');
    assert.deepEqual(readdirSync(ring.cwd).filter((f) => f.endsWith('.part')), [], 'no partial file is left behind');
  });

  test('bad arguments: one error line naming the argument, the usage, exit code 2', async () => {
    const cwd = tempDir();
    const cases: Array<[string[], RegExp]> = [
      [['init', '300', '4', '5', '1'], /PEER.*'300'/],
      [['init', '2', '4', '5', '0'], /PING_INTERVAL.*'0'/],
      [['init', '2', '4', '5', 'abc'], /PING_INTERVAL.*'abc'/],
      [['join', '15', '4'], /PING_INTERVAL/],
      [['frobnicate'], /frobnicate/],
      [['init', '2', '4', '5', '1', '--ping-misses', '0'], /--ping-misses.*'0'/],
      [['init', '2', '4', '5', '1', 'extra'], /'extra'/],
      [['init', '2', '4', '5', '1', '--base-port', '65281'], /--base-port.*'65281'/],
      [['init', '2', '4', '5', '1', '--data-dir', join(cwd, 'missing')], /--data-dir/],
    ];
    await expectUsageErrors(cases, cwd, 'Usage: cdht');
    const none = await runCli([], { cwd });
    assert.equal(none.status.code, 2, 'no command at all is a usage error');
    assert.ok(none.err.some((l) => l.startsWith('Usage: cdht')));
    const help = await runCli(['init', '--help'], { cwd });
    assert.equal(help.status.code, 0, '--help exits 0');
    assert.ok(help.out.some((l) => l.startsWith('Usage: cdht init')));
  });

  test('join through a peer nobody runs fails on the refused connection, not after a wait', async () => {
    const base = await freeBasePort();
    const p = await runCli(['join', '15', '4', '1', '--base-port', String(base)], { cwd: tempDir() });
    assert.notEqual(p.status.code, 0, p.describe());
    // the refusal itself ends the join (no timer ran out): the line names it
    assert.ok([...p.out, ...p.err].some((l) => /Peer 4 cannot be reached.*ECONNREFUSED/.test(l)), p.describe());
  });

  test('a peer whose port is taken says so and exits 1', async () => {
    const ring = await newRing();
    await ring.init(2, 4, 5, INTERVAL_S).waitFor(['Ping requests sent to Peers 4 and 5']);
    const p = await runCli(['init', '2', '4', '5', '1', '--base-port', String(ring.basePort)], { cwd: ring.cwd });
    assert.equal(p.status.code, 1, p.describe());
    assert.ok([...p.out, ...p.err].some((l) => /Peer 2.*in use/.test(l)), p.describe());
    assert.ok(ring.peer(2).running, 'the first peer is unharmed');
  });

  test('commands typed at a running peer: one answer per bad line, then Store still works', async () => {
    const ring = await newRing();
    const small = [[10, 20, 30], [20, 30, 10], [30, 10, 20]] as const;
    for (const [id, s1, s2] of small) ring.init(id, s1, s2, INTERVAL_S);
    await ring.pingsSeen(small);
    const p20 = ring.peer(20);
    const notPing = () => p20.linesSinceMark().filter((l) => !l.startsWith('Ping '));
    p20.mark();
    for (const [typed, answer] of [
      ['Store abc', /'abc'/],
      ['Store 12345', /'12345'/],
      ['Request 99', /'99'/],
      ['hello', /'hello'/],
    ] as const) {
      const before = notPing().length;
      p20.send(typed);
      await p20.waitFor([answer]);
      assert.equal(notPing().length, before + 1, `one line answers '${typed}': ${notPing().join(' | ')}`);
    }
    // Key 159: 20 -> 30 -> 10, which owns it; the leading zero stays part of the name.
    ring.markAll();
    p20.send('Store 0159');
    await Promise.all([
      p20.waitFor(['Store 0159 request forwarded to my successor']),
      ring.peer(30).waitFor(['Store 0159 request forwarded to my successor']),
      ring.peer(10).waitFor(['Store 0159 request accepted']),
    ]);
    assert.ok(p20.running, 'the peer is still running');
  });

  test('garbage on the wire is dropped and logged; the peer keeps pinging', async () => {
    const ring = await newRing();
    const small = [[10, 20, 30], [20, 30, 10], [30, 10, 20]] as const;
    for (const [id, s1, s2] of small) ring.init(id, s1, s2, INTERVAL_S, id === 20 ? ['--debug'] : []);
    await ring.pingsSeen(small);
    const port = ring.basePort + 20;
    const p20 = ring.peer(20);
    p20.mark();

    const sendTcp = (bytes: Buffer) =>
      new Promise<void>((resolve) => {
        const s = net.connect({ port, host: '127.0.0.1' }, () => s.end(bytes));
        s.on('error', () => resolve()); // the peer may cut us off mid-write: that is its right
        s.on('close', () => resolve());
      });
    await sendTcp(randomBytes(4096));
    await sendTcp(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), randomBytes(64)]));
    await sendTcp(Buffer.from([0, 0, 0, 2, 1, 99])); // a well-formed frame of an unknown type
    const udp = dgram.createSocket('udp4');
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => udp.send(randomBytes(1 + Math.floor(Math.random() * 1400)), port, '127.0.0.1', () => resolve()));
    }
    udp.close();

    await p20.waitFor([/bad input.*4294967295/i, /bad input.*udp/i, /bad input.*type code 99/i]);
    ring.markAll();
    await Promise.all([
      ring.peer(30).waitFor(['Ping request message received from Peer 20']),
      ring.peer(10).waitFor(['Ping request message received from Peer 20']),
      p20.waitFor(['Ping response received from Peer 30', 'Ping response received from Peer 10']),
    ]);
    assert.ok(p20.running, 'the peer is still running');
  });

  test('p2p is the same program under another name', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    assert.equal(pkg.bin['cdht'], 'bin/cdht.js');
    assert.equal(pkg.bin['p2p'], 'bin/cdht.js');
    const dir = tempDir();
    const link = join(dir, 'p2p');
    symlinkSync(CLI_SCRIPT, link);
    const help = await runCli(['--help'], { cwd: dir, script: link });
    assert.equal(help.status.code, 0);
    assert.ok(help.out.some((l) => l.startsWith('Usage: p2p')), help.describe());
    const bad = await runCli(['init', '2', '4', '5', 'x'], { cwd: dir, script: link });
    assert.equal(bad.status.code, 2);
    assert.match(bad.err[0] ?? '', /^p2p: error: PING_INTERVAL/);
    loose.push(help, bad);
  });
});
