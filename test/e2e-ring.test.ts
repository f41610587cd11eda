// `cdht ring` as a person uses it: a child process whose console is fed through stdin; the
// prefixed peer lines and the reporter's rows are read back from stdout.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ringSuccessors } from '../src/core/ring.js';
import { CliProcess } from './helpers/cli.js';
import { freeBasePort } from './helpers/ports.js';

const procs: CliProcess[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const ROW = /^Peer +(\d+) - +(\?|\d+) > +(\?|\d+) > \[ *(\d+)\] > +(\?|\d+) > +(\?|\d+)/;

interface Row {
  id: number;
  pred2?: number;
  pred1?: number;
  s1?: number;
  s2?: number;
  stale: boolean;
}

/** The rows of the last complete reporter table printed since `from` (ends with "Unmonitored Peers"). */
function lastTable(lines: string[], from = 0): Row[] | undefined {
  let end = lines.length - 1;
  while (end >= from && !lines[end]!.startsWith('Unmonitored Peers')) end--;
  if (end < from) return undefined;
  let start = end;
  while (start > from && ROW.test(lines[start - 1]!)) start--;
  const num = (s: string) => (s === '?' ? undefined : Number(s));
  return lines.slice(start, end).map((l) => {
    const m = ROW.exec(l)!;
    return { id: Number(m[1]), pred2: num(m[2]!), pred1: num(m[3]!), s1: num(m[5]!), s2: num(m[6]!), stale: l.includes('stale') };
  });
}

function assertTrueRing(rows: Row[]): void {
  const truth = ringSuccessors(rows.map((r) => BigInt(r.id)));
  for (const r of rows) {
    const [w1, w2] = truth.get(BigInt(r.id))!.map(Number);
    assert.deepEqual([r.s1, r.s2], [w1, w2], `row of Peer ${r.id}`);
    assert.equal(r.stale, false);
  }
}

test('the console drives the reference ring through every operation of the spec', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-ring-e2e-'));
  dirs.push(dir);
  const ring = new CliProcess(
    ['ring', '--interval', '0.5', '--ping-lines', '--base-port', String(await freeBasePort([2, 4, 5, 8, 9, 14, 15, 19])), '--data-dir', dir, '--shared-dir'],
    { cwd: dir, label: 'cdht ring' },
  );
  procs.push(ring);
  await ring.waitFor([
    '[ 9] Ping response received from Peer 14',
    '[ 8] Ping response received from Peer 14',
    '[ 2] Ping request message received from Peer 19',
    '[ 2] Ping request message received from Peer 14',
  ]);
  ring.send('ring');
  await ring.waitFor([/^Unmonitored Peers \(0\)/]);
  const before = lastTable(ring.out)!;
  assert.deepEqual(before.map((r) => r.id), [2, 4, 5, 8, 9, 14, 19]);
  assertTrueRing(before);
  assert.deepEqual(before.find((r) => r.id === 2), { id: 2, pred2: 14, pred1: 19, s1: 4, s2: 5, stale: false });

  ring.mark();
  ring.send('join 15 via 4');
  await ring.waitFor([
    '[ 4] Peer 15 Join request forwarded to my successor',
    '[14] Peer 15 Join request received',
    '[ 9] Successor Change request received',
    '[15] Join request has been accepted',
    '[15] My first successor is Peer 19',
    '[15] My second successor is Peer 2',
  ]);
  ring.mark();
  ring.send('8 store 2067');
  await ring.waitFor(['[ 8] Store 2067 request forwarded to my successor', '[14] Store 2067 request forwarded to my successor', '[15] Store 2067 request forwarded to my successor', '[19] Store 2067 request accepted'], { ordered: true });
  ring.mark();
  ring.send('9 quit');
  await ring.waitFor(['[ 8] Peer 9 will depart from the network', '[ 8] My new first successor is Peer 14', '[ 8] My new second successor is Peer 15', '[ 5] Peer 9 will depart from the network', '[ 5] My new second successor is Peer 14']);
  ring.mark();
  ring.send('kill 14');
  await ring.waitFor(['[ 8] Peer 14 is no longer alive', '[ 8] My new first successor is Peer 15', '[ 8] My new second successor is Peer 19', '[ 5] My new second successor is Peer 15']);

  writeFileSync(join(dir, '4103.pdf'), Buffer.from('the file of key 7\n'));
  ring.mark();
  ring.send('2 request 4103');
  await ring.waitFor(['[ 2] File request for 4103 has been sent to my successor', '[ 8] File 4103 is stored here', '[ 8] Sending file 4103 to Peer 2', '[ 2] File 4103 received']);
  assert.equal(readFileSync(join(dir, 'received_4103.pdf'), 'utf8'), 'the file of key 7\n');

  ring.mark();
  ring.send('ring');
  await ring.waitFor([/^Unmonitored Peers/]);
  const afterRows = lastTable(ring.out, ring.out.length - 20)!;
  assert.deepEqual(afterRows.map((r) => r.id), [2, 4, 5, 8, 15, 19]);
  assertTrueRing(afterRows);
  ring.send('route 2067 from 2');
  await ring.waitFor(['Key 19 is owned by Peer 19; a request from Peer 2 goes 2 > 4 > 5 > 8 > 15 > 19']);
  ring.send('what');
  await ring.waitFor(["Unknown command 'what'. Type help for the list."]);
  ring.send('exit');
  const st = await ring.waitForExit(10_000);
  assert.equal(st.code, 0);
  assert.ok(!existsSync(join(dir, 'received_2067.pdf')));
});

/** Waits until the reporter prints a table of `count` rows, none stale, after line `from`. */
function settledTable(ring: CliProcess, from: number, count: number, timeoutMs = 60_000): Promise<Row[]> {
  return new Promise<Row[]>((resolve, reject) => {
    const check = () => {
      const rows = lastTable(ring.out, from);
      if (rows && rows.length === count && rows.every((r) => !r.stale)) {
        clearTimeout(deadline);
        ring.child.stdout!.off('data', check);
        resolve(rows);
      }
    };
    const deadline = setTimeout(() => {
      ring.child.stdout!.off('data', check);
      const rows = lastTable(ring.out, from);
      const events = ring.out.filter((l) => /Joining|killed|rejected|Join failed|cannot be reached|Could not|been accepted/.test(l));
      reject(new Error(`no settled table of ${count} peers (last: ${rows?.length} rows, stale ${rows?.filter((r) => r.stale).map((r) => r.id)})\n${events.join('\n')}`));
    }, timeoutMs);
    ring.child.stdout!.on('data', check);
    check();
  });
}

test('--sim with 256 peers: after kills and joins the reporter shows the true ring', async () => {
  const ring = new CliProcess(['ring', '--sim', '--random', '256', '--seed', '4', '--speed', '40', '--reporter'], {
    cwd: tmpdir(),
    label: 'cdht ring --sim',
  });
  procs.push(ring);
  await ring.waitFor([/^Unmonitored Peers \(0\)/], { timeoutMs: 30_000 });
  // churn once the ring has run a moment (the next table: predecessors learnt, lists filled)
  ring.mark();
  await ring.waitFor([/^Unmonitored Peers \(0\)/], { timeoutMs: 30_000 });
  const first = lastTable(ring.out)!;
  assert.equal(first.length, 256);
  const victims = [3, 4, 100, 150];
  let from = ring.out.length;
  for (const v of victims) ring.send(`kill ${v}`);
  const afterKills = await settledTable(ring, from, 252);
  for (const v of victims) assert.ok(!afterKills.some((r) => r.id === v), `killed Peer ${v} still listed`);
  assertTrueRing(afterKills);

  // the only free ids are the victims': once nobody names them any more, they can join again
  ring.mark();
  from = ring.out.length;
  ring.send('add 4');
  await ring.waitFor([`Joining 4 new peers: ${victims.join(', ')}`]);
  const rows = await settledTable(ring, from, 256);
  assertTrueRing(rows);
  ring.send('exit');
  assert.equal((await ring.waitForExit(10_000)).code, 0);
});

test('--json writes one JSON object per line: structured state, traces, console answers', async () => {
  const ring = new CliProcess(['ring', '--sim', '--peers', '3,40,77', '--json', '--speed', '20'], { cwd: tmpdir(), label: 'cdht ring --json' });
  procs.push(ring);
  await ring.waitFor([/"type":"state".*"phase":"running"/]);
  ring.send('40 store 1234'); // key 210: owned by 3
  ring.send('nonsense');
  await ring.waitFor([/"text":"Store 1234 request accepted"/, /Unknown command 'nonsense'/]);
  ring.send('exit');
  assert.equal((await ring.waitForExit(10_000)).code, 0);
  type Ev = { type: string; peer?: string; trace?: { kind: string; file?: string; origin?: string }; lines?: { text: string; level: string }[]; text?: string; peers?: { id: string; state: string; successors: string[] }[]; stale?: string[] };
  const events = ring.out.filter((l) => l.trim()).map((l) => JSON.parse(l) as Ev);
  assert.ok(events.every((e) => e.type === 'trace' || e.type === 'console' || e.type === 'state'), 'only state, trace and console objects');
  const accepted = events.find((e) => e.type === 'trace' && e.trace?.kind === 'store-accepted')!;
  assert.deepEqual([accepted.peer, accepted.trace, accepted.lines], ['3', { kind: 'store-accepted', file: '1234', origin: '40' }, [{ text: 'Store 1234 request accepted', level: 'info' }]]);
  const state = events.filter((e) => e.type === 'state').at(-1)!;
  assert.deepEqual(state.peers!.map((p) => [p.id, p.state, p.successors.slice(0, 2)]), [['3', 'live', ['40', '77']], ['40', 'live', ['77', '3']], ['77', 'live', ['3', '40']]]);
  assert.deepEqual(state.stale, []);
  assert.ok(!events.some((e) => e.lines?.some((l) => l.level === 'ping')), 'ping traces are off by default');
});

test('cdht ring: bad options get one line naming them and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['--interval', 'abc'], /--interval must be a number of seconds/],
    [['--peers', '3,3'], /--peers must not repeat an id/],
    [['--peers', '3,300'], /--peers must be a peer id/],
    [['--random', '257'], /--random must be an integer from 1 to 256/],
    [['--peers', '1,2', '--random', '3'], /--peers and --random cannot be used together/],
    [['--speed', '5'], /--speed only applies with --sim/],
  ];
  for (const [args, want] of cases) {
    const p = new CliProcess(['ring', ...args], { cwd: tmpdir(), label: `ring ${args.join(' ')}` });
    procs.push(p);
    const st = await p.waitForExit(10_000);
    assert.equal(st.code, 2, p.describe());
    assert.match(p.err[0] ?? '', /^cdht: error: /);
    assert.match(p.err[0]!, want);
  }
});
