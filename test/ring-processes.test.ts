// `cdht ring --processes P` (issue 16): one ring over P processes on this machine, the runner
// starting the other slices itself. Small scale on loopback: 16 peers over 2 processes make one
// ring as the console's reporter shows it; the end of input stops every process; a slice that
// cannot start is told in one line and stops the ring.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ringSuccessors } from '../src/core/ring.js';
import { idSpace } from '../src/space.js';
import { sliceRange } from '../src/testnet.js';
import { CliProcess, cleanEnv, expectUsageErrors } from './helpers/cli.js';
import { freePortSpan } from './helpers/ports.js';

const PEERS = 16;
/** Looks at the reporter's rows, one a ping round, before the ring must have settled. */
const PING_ROUNDS = 120;
const procs: CliProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'cdht-ring-processes-'));
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/** The ring every process derives: ids of 127.0.0.1:base + i. */
function ringOf(basePort: number): bigint[] {
  const space = idSpace(32);
  return Array.from({ length: PEERS }, (_, i) => space.idOfAddress('127.0.0.1', basePort + i));
}

/** True once something listens on TCP there. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

const start = (args: string[]) => {
  const p = new CliProcess(['ring', '--bits', '32', '--random', String(PEERS), ...args], { cwd: dir, env: cleanEnv() });
  procs.push(p);
  return p;
};

test('--processes and --slice: usage mistakes are told in one line', { timeout: 300_000 }, async () => {
  // one at a time: seven node processes at once overrun the helper's bound on a loaded machine
  const cases: [string[], RegExp][] = [
    [['ring', '--random', '8', '--processes', '2'], /--processes needs --bits above 8 and --random N/],
    [['ring', '--bits', '32', '--processes', '2'], /--processes needs --bits above 8 and --random N/],
    [['ring', '--bits', '32', '--random', '8', '--processes', '2', '--slice', '0/2'], /cannot be used together/],
    [['ring', '--bits', '32', '--random', '8', '--slice', '2'], /--slice must be I\/P/],
    [['ring', '--bits', '32', '--random', '8', '--slice', '2/2'], /--slice \(I\) must be an integer from 0 to 1/],
    [['ring', '--bits', '32', '--random', '8', '--processes', '2', '--sim'], /not on the simulator/],
    [['ring', '--bits', '32', '--random', '8', '--processes', '9'], /--processes must be an integer from 1 to 8/],
  ];
  for (const c of cases) await expectUsageErrors([c], dir, 'Usage: cdht ring');
});

test(`${PEERS} peers over 2 processes make one ring; the end of input stops both`, { timeout: 300_000 }, async () => {
  const basePort = await freePortSpan(PEERS);
  const ring = ringOf(basePort);
  const truth = ringSuccessors(ring);
  const mine = sliceRange(PEERS, { index: 0, of: 2 });
  const p = start(['--processes', '2', '--base-port', String(basePort), '--interval', '0.5']);
  await p.waitFor([/^One ring over 2 processes: this is slice 0\/2, 8 peers on ports/]);
  // the reporter's rows of this slice's peers, asked for until each shows its true successors and predecessors
  const row = /^Peer +(\d+) - +(\?|\d+) > +(\?|\d+) > \[ *(\d+)\] > +(\?|\d+) > +(\?|\d+)/;
  const sorted = [...ring].sort((a, b) => (a < b ? -1 : 1));
  const at = (id: bigint, k: number) => sorted[(sorted.indexOf(id) + k + sorted.length) % sorted.length]!;
  const rightRow = (l: string) => {
    const m = row.exec(l);
    if (!m) return false;
    const id = BigInt(m[1]!);
    return [m[2], m[3], m[5], m[6]].join(' ') === [at(id, -2), at(id, -1), ...truth.get(id)!.slice(0, 2)].join(' ');
  };
  // between two looks, a ping round of this slice's first peer (its lines shown): the event that can change a row
  const pinger = new RegExp(`^\\[ *${ring[mine.from]}\\] Ping request`);
  p.send('pings on');
  await p.waitFor(['Ping lines shown']);
  let right = 0;
  for (let round = 0; round < PING_ROUNDS && right < mine.to - mine.from; round++) {
    p.mark();
    p.send('ring');
    await p.waitFor([/^Unmonitored Peers/]);
    right = p.linesSinceMark().filter(rightRow).length;
    if (right < mine.to - mine.from) {
      p.mark();
      await p.waitFor([pinger]);
    }
  }
  assert.equal(right, mine.to - mine.from, `every peer of slice 0 has its true neighbours, some in the other process\n  ${p.describe()}`);
  // stop and start again: this slice starts its own share of the addresses again
  p.mark();
  p.send('stop');
  await p.waitFor([/The ring is stopped; 8 peers planned again/]);
  p.send('start');
  await p.waitFor([/The ring is running: 8 peers/]);
  // the other slice runs in its own process: its ports answer, and stop answering once input ends
  assert.ok(await listening(basePort + PEERS - 1), 'the last peer (slice 1) listens');
  p.child.stdin!.end();
  const status = await p.waitForExit();
  assert.equal(status.code, 0, p.describe());
  assert.equal(await listening(basePort + PEERS - 1), false, 'slice 1 stopped with the ring');
  assert.deepEqual(p.err, []);
});

test('a slice that cannot start is told in one line and stops the ring with 1', { timeout: 300_000 }, async () => {
  const basePort = await freePortSpan(PEERS);
  // a port of slice 1 taken: that process cannot start its peers
  const squatter = net.createServer().listen(basePort + PEERS - 2, '127.0.0.1');
  await new Promise((r) => squatter.once('listening', r));
  try {
    const p = start(['--processes', '2', '--base-port', String(basePort)]);
    const status = await p.waitForExit();
    assert.equal(status.code, 1, p.describe());
    const lines = p.err.filter((l) => l.includes('--slice 1/2'));
    assert.equal(lines.length, 1, p.describe());
    assert.match(lines[0]!, /^cdht: error: process 1 of 2 \(--slice 1\/2\) ended \(exit code 1\): cdht: error: cannot start the ring: .*in use.*; stopping the ring$/);
  } finally {
    squatter.close();
  }
});

test('--log-format json over 2 processes: every line is one JSON object, the other slice\'s peers among them', { timeout: 300_000 }, async () => {
  const basePort = await freePortSpan(PEERS);
  const ring = ringOf(basePort);
  const theirs = sliceRange(PEERS, { index: 1, of: 2 });
  const ids = ring.slice(theirs.from, theirs.to).map(String);
  const p = start(['--processes', '2', '--base-port', String(basePort), '--interval', '0.5', '--ping-lines', '--log-format', 'json']);
  // a ping line of a peer that runs in the other process, passed on as it logged it
  await p.waitFor([new RegExp(`"id":"(${ids.join('|')})".*"event":"pong-received"|"event":"pong-received".*"id":"(${ids.join('|')})"`)], { timeoutMs: 60_000 });
  p.child.stdin!.end();
  const status = await p.waitForExit();
  assert.equal(status.code, 0, p.describe());
  const notJson = p.out.filter((l) => {
    try {
      return typeof JSON.parse(l) !== 'object';
    } catch {
      return true;
    }
  });
  assert.deepEqual(notJson, [], 'lines that are not JSON');
});
