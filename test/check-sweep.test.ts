// The sweep CI runs: a thousand seeds of the fault simulator, every invariant kept; and the
// `cdht check` command itself (output, --json, replay and shrunk schedule, exit codes).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { churn } from '../src/check/churn.js';
import { sweep } from '../src/check/sweep.js';
import { CLI_SCRIPT } from './helpers/cli.js';

/** Seeds in the CI sweep (the issue asks for at least 1000). */
const CI_SEEDS = Number(process.env.CHECK_SEEDS ?? 1000);

test(`cdht check: ${CI_SEEDS} seeds keep every invariant (8 peers each, faults of every kind)`, async () => {
  const r = await sweep({ from: 1, seeds: CI_SEEDS, peers: 8 });
  assert.equal(r.seeds, CI_SEEDS);
  assert.ok(r.events > CI_SEEDS * 1000, `${r.events} events`);
  assert.deepEqual(
    r.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.detail}\n  replay: ${f.replay}\n  shrunk: ${f.shrunk?.replay}\n    ${f.shrunk?.steps.join('\n    ')}`),
    [],
  );
});

test(`cdht check --byzantine 0.25: ${CI_SEEDS} seeds keep every invariant while forgers attack (no stored byte changes, nothing outside a store sent, every Request gets the stored bytes)`, async () => {
  const r = await sweep({ from: 1, seeds: CI_SEEDS, peers: 8, byzantine: 0.25 });
  assert.equal(r.seeds, CI_SEEDS);
  assert.ok(r.events > CI_SEEDS * 1000, `${r.events} events`);
  assert.deepEqual(
    r.failures.map((f) => `seed ${f.seed}: ${f.invariant}: ${f.detail}\n  replay: ${f.replay}\n  shrunk: ${f.shrunk?.replay}\n    ${f.shrunk?.steps.join('\n    ')}`),
    [],
  );
});

test('Requests under churn: 24 peers, a kill and a join every 2 s for a minute, every Request answered and no file lost', async () => {
  const r = await churn({ runtime: 'sim', peers: 24, files: 60, fileBytes: 700, churnEveryMs: 2000, durationMs: 60_000, requestEveryMs: 100, seed: 5 });
  assert.equal(r.kills, 30);
  assert.ok(r.requests >= 550, `${r.requests} requests`);
  assert.deepEqual(r.reasons, []);
  assert.equal(r.failed, 0);
  assert.equal(r.succeeded + r.abandoned, r.requests);
  assert.equal(r.lost, 0);
  assert.equal(r.shortOfCopies, 0);
});

function cdht(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_SCRIPT, ...args], { timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

test('cdht check prints one summary line and exits 0 when every seed kept every invariant', async () => {
  const r = await cdht(['check', '--seeds', '3', '--from', '7', '--workers', '1']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout.trim(), /^cdht check: 3 seeds, [\d,]+ simulated events in [\d.]+ s \([\d,]+ events\/s, \d+x real time, 1 worker\): every invariant held$/);
  const j = await cdht(['check', '--seeds', '2', '--json']);
  assert.equal(j.code, 0);
  const o = JSON.parse(j.stdout) as { seeds: number; events: number; failures: unknown[] };
  assert.equal(o.seeds, 2);
  assert.ok(o.events > 0);
  assert.deepEqual(o.failures, []);
});

test('cdht check: a failing seed prints its replay and shortest schedule, which replays the failure; exit 1', async () => {
  // checking 1.5 s after each step is too early for a ring to repair: the checker must say so
  const r = await cdht(['check', '--seeds', '1', '--from', '1', '--quiet-ms', '1500', '--settle-ms', '1500', '--workers', '1']);
  assert.equal(r.code, 1);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^FAIL seed 1: \w+: .+ \(at [\d.]+ s virtual\)$/);
  assert.equal(lines[1], '  replay: cdht check --seeds 1 --from 1 --peers 8 --quiet-ms 1500 --settle-ms 1500');
  const shrunk = /^ {2}shortest schedule found \((\d+) steps?, \d+ runs\), replay: (cdht check .* --steps [\d,]+)$/.exec(lines[2]!);
  assert.ok(shrunk, lines[2]);
  const steps = lines.slice(3, 3 + Number(shrunk[1]));
  for (const s of steps) assert.match(s, /^ +[\d.]+s (kill|quit|join|pause|resume|partition|heal|loss|delay|store|request) /);
  assert.match(lines[lines.length - 1]!, /1 seed failed$/);
  const invariant = /^FAIL seed 1: (\w+):/.exec(lines[0]!)![1];
  const again = await cdht([...shrunk[2]!.split(' ').slice(1), '--json', '--no-shrink']);
  assert.equal(again.code, 1);
  const o = JSON.parse(again.stdout) as { failures: { seed: number; invariant: string; replay: string; shrunk: unknown }[] };
  assert.equal(o.failures[0]!.invariant, invariant, 'the shrunk schedule fails the same way');
  assert.equal(o.failures[0]!.shrunk, null);
});

test('cdht check: bad arguments get one line naming them and exit 2', async () => {
  const spaces = [['--bits', '7'], ['--bits', '32', '--routing', 'chord'], ['--bits', '32', '--byzantine', '0.25']];
  for (const args of [['--seeds', '0'], ['--peers', '2'], ['--steps', '1,x'], ['--from', '-1'], ['extra'], ...spaces]) {
    const r = await cdht(['check', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr.split('\n')[0]!, /^cdht: error: /);
    assert.equal(r.stdout, '');
  }
});

test('cdht check --bits 32 --routing fingers runs the 32-bit ring; a failing seed there replays with its space and names its slots', async () => {
  const r = await cdht(['check', '--seeds', '2', '--bits', '32', '--routing', 'fingers', '--workers', '1']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout.trim(), /^cdht check: 2 seeds, .*: every invariant held$/);
  // checked too early to have repaired, as the failing test above
  const f = await cdht(['check', '--seeds', '1', '--from', '1', '--quiet-ms', '1500', '--settle-ms', '1500', '--bits', '16', '--routing', 'successor', '--no-shrink']);
  assert.equal(f.code, 1);
  const lines = f.stdout.trim().split('\n');
  assert.equal(lines[1], '  replay: cdht check --seeds 1 --from 1 --peers 8 --quiet-ms 1500 --settle-ms 1500 --bits 16 --routing successor');
  assert.match(lines[2]!, /^ {2}the schedule's slots and their ids: (\d+=\d+ ?)+$/);
});
