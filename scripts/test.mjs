// Runs the test suite: every compiled test file under dist/test, two files at a time.
//
// CDHT_TEST_LOAD=N runs N CPU-bound loops beside the suite for its whole life, so that a test
// which races the wall clock fails on any machine, not only on a busy one.
//
// CDHT_TEST_LOAD_FROM_SWEEPS=1 (what CI uses) makes the load useful: the simulator's seed sweeps,
// which keep both cores busy with worker threads and run on virtual time (a load cannot change
// what they find), run beside the rest of the suite as its CPU-bound load; when they are done,
// N plain loops take over until the rest is done too. On two cores the whole suite already keeps
// both busy, so N plain loops beside all of it would double its time, past CI's 15 minutes.
//
// Node 20 does not expand globs for --test, so the files are listed here.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const TEST_DIR = 'dist/test';
const CONCURRENCY = 2;
/** The seed sweeps: simulator only, each sweep two worker threads at full speed. */
const SWEEP_FILES = new Set(['check-sweep.test.js', 'check-spaces.test.js']);
/** More loops than this is a typo, not a load. */
const MAX_LOOPS = 16;
/** A loop looks up whether its parent is gone once in this many turns (the look-up is a system call). */
const TURNS_BETWEEN_CHECKS = 50_000_000;

function testFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testFiles(path));
    else if (entry.name.endsWith('.test.js')) found.push(path);
  }
  return found.sort();
}

function loadFromEnv() {
  const raw = process.env.CDHT_TEST_LOAD ?? '0';
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_LOOPS) {
    process.stderr.write(`test: CDHT_TEST_LOAD must be a whole number from 0 to ${MAX_LOOPS} (got ${raw})\n`);
    process.exit(2);
  }
  return n;
}

/** A busy loop in its own process; it ends by itself if this runner dies without killing it. */
function startLoop() {
  const body = `const p=${process.pid};for(let i=1;;i++){if(i%${TURNS_BETWEEN_CHECKS}===0&&process.ppid!==p)process.exit(0)}`;
  return spawn(process.execPath, ['-e', body], { stdio: 'ignore' });
}

/**
 * `node --test` over `list`; resolves with its exit code. With `held`, its report is kept and
 * printed whole when it ends, so that two runs at once do not interleave their lines.
 */
function runTests(list, concurrency, children, held = false) {
  return new Promise((resolve) => {
    const run = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...list], { stdio: held ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    const report = [];
    if (held) {
      run.stdout.on('data', (b) => report.push(b));
      run.stderr.on('data', (b) => report.push(b));
    }
    children.add(run);
    run.on('close', (code, signal) => {
      children.delete(run);
      if (held) process.stdout.write(Buffer.concat(report));
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

const files = testFiles(TEST_DIR);
if (files.length === 0) {
  process.stderr.write(`test: no *.test.js under ${TEST_DIR} (run the build first)\n`);
  process.exit(2);
}
const load = loadFromEnv();
const fromSweeps = load > 0 && process.env.CDHT_TEST_LOAD_FROM_SWEEPS === '1';
const children = new Set();
const loops = [];
const startLoops = () => {
  while (loops.length < load) loops.push(startLoop());
};
const stopAll = () => {
  for (const l of loops) l.kill('SIGKILL');
  for (const c of children) c.kill('SIGTERM');
};
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => (stopAll(), process.exit(130)));

const started = Date.now();
let codes;
if (fromSweeps) {
  const sweeps = files.filter((f) => SWEEP_FILES.has(basename(f)));
  const rest = files.filter((f) => !SWEEP_FILES.has(basename(f)));
  // a sweep file renamed would leave the rest with no load at all, and node --test with no file
  // searches folders of its own: refuse rather than pass without the load CI asks for
  if (sweeps.length !== SWEEP_FILES.size) {
    process.stderr.write(`test: CDHT_TEST_LOAD_FROM_SWEEPS wants ${[...SWEEP_FILES].join(' and ')} under ${TEST_DIR}; found ${sweeps.length ? sweeps.map((f) => basename(f)).join(', ') : 'neither'}\n`);
    process.exit(2);
  }
  process.stdout.write(`test: ${rest.length} files, ${CONCURRENCY} at a time, beside the seed sweeps (${sweeps.length} files) and then ${load} CPU-bound loop${load === 1 ? '' : 's'}\n`);
  let restDone = false;
  const restRun = runTests(rest, CONCURRENCY, children).then((code) => ((restDone = true), code));
  const sweepRun = runTests(sweeps, 1, children, true).then((code) => {
    if (!restDone) {
      process.stdout.write(`test: the sweeps are done after ${((Date.now() - started) / 1000).toFixed(0)} s; ${load} CPU-bound loops take over\n`);
      startLoops();
    }
    return code;
  });
  codes = await Promise.all([restRun, sweepRun]);
} else {
  startLoops();
  process.stdout.write(`test: ${files.length} files, ${CONCURRENCY} at a time${load ? `, beside ${load} CPU-bound loop${load === 1 ? '' : 's'}` : ''}\n`);
  codes = [await runTests(files, CONCURRENCY, children)];
}
for (const l of loops) l.kill('SIGKILL');
const failed = codes.some((c) => c !== 0);
const seconds = ((Date.now() - started) / 1000).toFixed(0);
process.stdout.write(`test: ${failed ? 'FAILED' : 'passed'} in ${seconds} s${load ? ' under load' : ''}\n`);
process.exit(failed ? 1 : 0);
