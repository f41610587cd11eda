// BENCH=node: issue 17's figures for `cdht node` as separate processes on 127.0.0.1. Peer 200
// holds NODE_FILES names of 64 KiB it owns and joins Peer 10; /metrics is scraped a few times at
// that many keys; then SIGTERM: seconds until it exits, its exit code, and how many names reached
// Peer 10 (all of them, when the leave is graceful).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliProcess } from '../test/helpers/cli.js';
import { freeBasePort } from '../test/helpers/ports.js';

const FILES = Number(process.env.NODE_FILES ?? 1000);
const FILE_BYTES = 64 * 1024;
const SCRAPES = 5;
const WAIT_MS = 120_000;
/** Keys Peer 200 owns when its predecessor is Peer 10: (10, 200]. */
const owned = (n: number) => n % 256 > 10 && n % 256 <= 200;

function names(count: number): string[] {
  const out: string[] = [];
  for (let n = 0; n < 10_000 && out.length < count; n++) if (owned(n)) out.push(String(n).padStart(4, '0'));
  return out;
}

/** Lines counted by their shape (numbers left out): `3 × Copying a replica of D ... failed: ...`. */
function summary(lines: string[]): string {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l.replace(/\d+/g, 'D'), (counts.get(l.replace(/\d+/g, 'D')) ?? 0) + 1);
  return [...counts].map(([l, n]) => `${n} × ${l}`).join('; ') || 'none';
}

export async function nodeBench(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'cdht-bench-node-'));
  const [aDir, bDir] = ['a', 'b'].map((d) => join(root, d)) as [string, string];
  [aDir, bDir].forEach((d) => mkdirSync(d));
  const held = names(FILES);
  for (const n of held) writeFileSync(join(bDir, `${n}.pdf`), randomBytes(FILE_BYTES));
  const base = await freeBasePort([10, 200]);
  const common = ['node', '--base-port', String(base), '--ping-interval', '1', '--no-ping-lines'];
  const a = new CliProcess([...common, '--id', '10', '--data-dir', aDir, ...(process.env.NODE_DEBUG_A ? ['--debug'] : [])], { cwd: root, label: 'node 10' });
  const b = new CliProcess([...common, '--id', '200', '--data-dir', bDir, '--seeds', '10', '--http', '127.0.0.1:0', '--debug'], { cwd: root, label: 'node 200' });
  try {
    await b.waitFor(['My first successor is Peer 10', /^HTTP on /], { timeoutMs: WAIT_MS });
    const url = /(http:\/\/\S+)/.exec(b.out.find((l) => l.startsWith('HTTP on '))!)![1]!;
    const scrapes: number[] = [];
    for (let i = 0; i < SCRAPES; i++) {
      const t = performance.now();
      await (await fetch(`${url}/metrics`)).text();
      scrapes.push(performance.now() - t);
    }
    const t0 = performance.now();
    b.signal('SIGTERM');
    const exit = await b.waitForExit(WAIT_MS);
    const seconds = (performance.now() - t0) / 1000;
    const arrived = readdirSync(aDir).filter((f) => /^\d{4}\.pdf$/.test(f)).length;
    console.log(`node: /metrics at ${held.length} keys: ${scrapes.map((ms) => ms.toFixed(1)).join(', ')} ms (${SCRAPES} scrapes)`);
    console.log(`node: SIGTERM with ${held.length} files of 64 KiB held: exit ${exit.code} after ${seconds.toFixed(2)} s; ${arrived} of ${held.length} at its successor`);
    // a hand-over that gave names up says why in its debug lines: shown, counted, when any is missing
    const gaveUp = b.out.filter((l) => /^(Copying a replica of .* failed|Peer \d+ cannot take the keys handed over)/.test(l));
    if (arrived < held.length) console.log(`node: the leaver's hand-over lines: ${summary(gaveUp)}`);
    if (arrived < held.length && process.env.NODE_DEBUG_A) console.log(`node: the successor's refusals: ${summary(a.out.filter((l) => /Refused|refused|Ignored/.test(l)))}`);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    rmSync(root, { recursive: true, force: true });
  }
}
