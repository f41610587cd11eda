// Runs the test suite: every compiled test file under dist/test, two files at a time.
// CDHT_TEST_LOAD=N runs N CPU-bound loops beside the suite for its whole life, the way CI runs it,
// so that a test which races the wall clock fails on a quiet machine too, not only on a busy one.
// Node 20 does not expand globs for --test, so the files are listed here.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const TEST_DIR = 'dist/test';
const CONCURRENCY = 2;
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
  const parent = process.pid;
  const body = `const p=${parent};for(let i=1;;i++){if(i%${TURNS_BETWEEN_CHECKS}===0&&process.ppid!==p)process.exit(0)}`;
  return spawn(process.execPath, ['-e', body], { stdio: 'ignore' });
}

const files = testFiles(TEST_DIR);
if (files.length === 0) {
  process.stderr.write(`test: no *.test.js under ${TEST_DIR} (run the build first)\n`);
  process.exit(2);
}
const loops = Array.from({ length: loadFromEnv() }, startLoop);
const stopLoops = () => loops.forEach((l) => l.kill('SIGKILL'));
const started = Date.now();
process.stdout.write(`test: ${files.length} files, ${CONCURRENCY} at a time${loops.length ? `, beside ${loops.length} CPU-bound loop${loops.length === 1 ? '' : 's'}` : ''}\n`);

const run = spawn(process.execPath, ['--test', `--test-concurrency=${CONCURRENCY}`, ...files], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopLoops();
    run.kill(signal);
  });
}
run.on('exit', (code, signal) => {
  stopLoops();
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  process.stdout.write(`test: ${code === 0 ? 'passed' : 'FAILED'} in ${seconds} s${loops.length ? ` beside ${loops.length} CPU-bound loops` : ''}\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
