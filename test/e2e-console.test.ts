// The console as a new user meets it, as processes: a bare quit asks, pipes that close end the
// ring quietly, a second ring on taken ports says why, temporary folders go, the seed of --random
// is printed, --version, a single peer's start line, help and status, and init's checks.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLI_SCRIPT, CliProcess, inCliTurn, REPO_ROOT, runCli } from './helpers/cli.js';
import { freeBasePort } from './helpers/ports.js';

const procs: CliProcess[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'cdht-console-'));
  dirs.push(d);
  return d;
};
const spawn = (args: string[], label: string, cwd = tmpdir()) => {
  const p = new CliProcess(args, { cwd, label });
  procs.push(p);
  return p;
};

test('a bare quit asks which peer; pings on|off; the temporary data folder is removed on exit', async () => {
  const ids = [3, 40, 77];
  const ring = spawn(['ring', '--peers', ids.join(','), '--interval', '0.3', '--base-port', String(await freeBasePort(ids))], 'cdht ring');
  await ring.waitFor([/^Data: .*cdht-ring-\S+ \(temporary: removed on exit\)/, /Ping lines hidden \(pings on shows them\)/]);
  const folder = /^Data: (\S+) /.exec(ring.out.find((l) => l.startsWith('Data: '))!)![1]!;
  assert.ok(existsSync(folder));
  ring.send('quit');
  await ring.waitFor([/^Quit which peer\? Type <id> quit \(or quit <id>\) for one peer to leave gracefully, or exit to stop the whole ring$/]);
  assert.ok(ring.running, 'a bare quit leaves the ring running');
  assert.ok(!ring.out.some((l) => l.includes('] Ping ')), 'no ping lines by default');
  ring.mark();
  ring.send('pings on');
  await ring.waitFor(['Ping lines shown', /^\[ ?\d+\] Ping requests sent to Peers/]);
  ring.send('pings off');
  await ring.waitFor(['Ping lines hidden']);
  ring.send('quit 40');
  await ring.waitFor(['Peer 40 left the ring', '[ 3] Peer 40 will depart from the network']);
  ring.send('exit');
  assert.equal((await ring.waitForExit()).code, 0);
  assert.ok(!existsSync(folder), `${folder} is removed`);
});

test('--json | head -2: the reader going away ends the ring quietly, with no stack trace', async () => {
  const ring = spawn(['ring', '--sim', '--peers', '3,40,77', '--json', '--ping-lines', '--speed', '50'], 'cdht ring --json | head -2');
  await ring.waitFor([/"type":"console"/]);
  ring.child.stdout!.destroy(); // what head does after two lines
  const st = await ring.waitForExit();
  assert.equal(st.code, 0, ring.describe());
  assert.deepEqual(ring.err, [], 'nothing on stderr');
});

test('help, ring --help and sim through a pipe that closes at once end quietly with 0', async () => {
  const cases = [['--help'], ['ring', '--help'], ['sim', '--peers', '100', '--lookups', '10'], ['check', '--help']];
  await Promise.all(
    cases.map((args) => inCliTurn(async () => {
      const p = spawn(args, `cdht ${args.join(' ')} | head -0`);
      // closed before the child has written a byte (node takes tens of ms to start), so every write fails with EPIPE
      p.child.stdout!.destroy();
      const st = await p.waitForExit();
      assert.equal(st.code, 0, p.describe());
      assert.deepEqual(p.err, [], `nothing on stderr: ${p.describe()}`);
    })),
  );
});

test('a second ring on ports in use says why and how to move it', async () => {
  const ids = [3, 40];
  const base = String(await freeBasePort(ids));
  const first = spawn(['ring', '--peers', '3,40', '--base-port', base], 'first ring');
  await first.waitFor([/^Data: /]);
  const second = await runCli(['ring', '--peers', '3,40', '--base-port', base], { cwd: tmpdir(), label: 'second ring' });
  procs.push(second);
  assert.equal(second.status.code, 1, second.describe());
  assert.match(second.err.join('\n'), /^cdht: error: cannot start the ring: peers 3, 40 did not start: cannot listen on 127\.0\.0\.1:\d+: address already in use .*choose others with --base-port/);
  assert.ok(first.running);
});

test('--random without --seed prints the seed, and that seed replays the same ids', async () => {
  const ring = spawn(['ring', '--sim', '--random', '5'], 'ring --random');
  await ring.waitFor([/^Random ids from seed \d+ \(replay with --seed \d+\)$/]);
  const seed = /seed (\d+)/.exec(ring.out.find((l) => l.startsWith('Random ids'))!)![1]!;
  const idsOf = (p: CliProcess) => /\(([\d, ]+)\)/.exec(p.out[0]!)![1];
  const again = spawn(['ring', '--sim', '--random', '5', '--seed', seed], 'ring --seed');
  await again.waitFor([/^cdht ring: 5 peers/]);
  assert.equal(idsOf(again), idsOf(ring));
  assert.ok(!again.out.some((l) => l.startsWith('Random ids')), 'a given seed is not repeated back');
});

test('--version, and init refuses itself or the same successor twice', async () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  const v = await runCli(['--version'], { cwd: tmpdir() });
  assert.deepEqual([v.status.code, v.out[0]], [0, pkg.version]);
  const self = await runCli(['init', '2', '2', '5', '30'], { cwd: tmpdir() });
  assert.equal(self.status.code, 2);
  assert.equal(self.err[0], 'cdht: error: FIRST_SUCCESSOR must be another peer (got 2, the same as PEER)');
  const twice = await runCli(['init', '2', '4', '4', '30'], { cwd: tmpdir() });
  assert.equal(twice.status.code, 2);
  assert.equal(twice.err[0], 'cdht: error: FIRST_SUCCESSOR and SECOND_SUCCESSOR must be two different peers (both are 4)');
});

test('a single peer says who and where it is, even with ping lines hidden; help and status answer', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, '2067.pdf'), Buffer.alloc(2048));
  const base = String(await freeBasePort([2, 4, 5]));
  const p = spawn(['init', '2', '4', '5', '1', '--no-ping-lines', '--base-port', base, '--data-dir', dir], 'peer 2', dir);
  await p.waitFor([`Peer 2 on 127.0.0.1, TCP and UDP port ${Number(base) + 2}; successors 4 and 5; data folder ${dir}; ping every 1 s (ping lines hidden). Type help for commands.`]);
  p.send('help');
  await p.waitFor(['Commands (case-insensitive):', /^ {2}status +this peer's predecessors, successors and files$/]);
  p.send('status');
  await p.waitFor([/^Peer 2 \((starting|active)\): \? > \? > \[2\] > /, `Files in ${dir}: 2067.pdf (2.0 KiB)`]);
  p.signal('SIGINT');
  assert.equal((await p.waitForExit()).code, 130);
});

// That it starts without waiting out a bound is controller.test.ts's ring of one (an hour's bound, never met).
test('a ring of one peer starts and exits', async () => {
  const ring = spawn(['ring', '--peers', '5', '--base-port', String(await freeBasePort([5]))], 'ring of one');
  await ring.waitFor([/^cdht ring: 1 peer \(5\), /]);
  ring.send('exit');
  assert.equal((await ring.waitForExit()).code, 0, ring.describe());
});

test('a newcomer\'s slips at a single peer: host:port as known peer, a bad --host, a pasted page, Ctrl+D', async () => {
  const dir = tempDir();
  const base = await freeBasePort([2, 15]);
  // a known peer given only as an address is named by its address
  const joiner = spawn(['join', '15', '127.0.0.1:1', '1', '--base-port', String(base)], 'join 15 via 127.0.0.1:1', dir);
  await joiner.waitFor([/; joining through 127\.0\.0\.1:1; data folder /]);
  await joiner.waitForExit();
  assert.ok(!joiner.out.some((l) => l.includes('a known address')), joiner.describe());

  const badHost = await runCli(['init', '2', '4', '5', '1', '--host', '999.1.1.1'], { cwd: dir });
  assert.equal(badHost.status.code, 2, badHost.describe());
  assert.equal(badHost.err[0], "cdht: error: --host must be an address or host name; '999.1.1.1' is not an IPv4 address (each part 0 to 255)");

  const p = spawn(['init', '2', '4', '5', '1', '--no-ping-lines', '--base-port', String(base)], 'peer 2', dir);
  await p.waitFor([/^Peer 2 on /]);
  p.send('x'.repeat(20_000));
  await p.waitFor([/^Unknown command 'x{40}…' \(20000 characters\): type Store NNNN, Request NNNN or Quit$/]);
  assert.ok(p.out.every((l) => l.length < 200), 'nothing long echoed');
  p.child.stdin!.end(); // a script's input ending is nothing to report
  p.signal('SIGINT');
  assert.equal((await p.waitForExit()).code, 130);
  assert.ok(!p.out.some((l) => l.startsWith('Input closed')), p.describe());
});

test('Ctrl+D at a terminal: the peer says once that it reads no more commands, and runs on', async (t) => {
  if (!existsSync('/usr/bin/script')) return t.skip('needs script(1) from util-linux for a terminal');
  const dir = tempDir();
  const base = await freeBasePort([2, 4, 5]);
  const cmd = [process.execPath, CLI_SCRIPT, 'init', '2', '4', '5', '1', '--no-ping-lines', '--base-port', String(base)].map((w) => `'${w}'`).join(' ');
  // script(1) runs the peer on a pseudo-terminal and passes what we write to it as typed keys
  const p = new CliProcess([], {
    cwd: dir,
    label: 'peer 2 on a terminal',
    wrap: ['/bin/sh', '-c', 'exec /usr/bin/script -qfec "$CDHT_TTY_CMD" /dev/null', 'sh'],
    env: { ...process.env, CDHT_TTY_CMD: cmd },
  });
  procs.push(p);
  await p.waitFor([/Peer 2 on /]);
  p.child.stdin!.write('\x04'); // Ctrl+D at the start of a line: end of input
  await p.waitFor([/Input closed \(Ctrl\+D\): this peer keeps running but reads no more commands; Ctrl\+C leaves the ring/]);
  assert.equal(p.out.filter((l) => l.includes('Input closed')).length, 1, `said once:\n${p.describe()}`);
  assert.ok(p.running, 'the peer runs on');
});

test('the help says what ids are; a 32-bit ring\'s header names its ports as they are', async () => {
  const help = await runCli(['--help'], { cwd: tmpdir() });
  assert.match(help.out.join(' '), /ids 0\.\.255, or up to\s+160 bits with --bits/);
  const ring = spawn(['ring', '--bits', '32', '--random', '2', '--base-port', String(await freeBasePort([0, 1]))], 'ring --bits 32');
  await ring.waitFor([/^cdht ring: 2 peers, 32-bit ids, on 127\.0\.0\.1, ports from \d+ up, one a peer, ping interval 1 s$/]);
  ring.send('exit');
  assert.equal((await ring.waitForExit()).code, 0, ring.describe());
});
