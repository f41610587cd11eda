// `cdht ring --processes P`: the other P - 1 slices of one ring, each a `cdht ring --slice I/P`
// child on this machine. Their peer lines come back to the parent's output; a child that ends
// while the ring runs is told in one line; stopping closes their input (which ends a ring) and
// signals any that linger.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as readline from 'node:readline';
import type { RingOptions } from './ring-options.js';

/** A child still running this long after its input closed gets SIGTERM, and SIGKILL as long again after that. */
const STOP_GRACE_MS = 10_000;

export interface SliceProcesses {
  /** Ends every child and waits until all are gone. */
  stop(): Promise<void>;
}

/** The `cdht ring` words that make slice `index` of the ring `o` plans (same ids, ports, settings). */
export function sliceArgs(o: RingOptions, index: number, processes: number): string[] {
  const args = ['ring', '--bits', String(o.bits), '--random', String(o.random), '--slice', `${index}/${processes}`];
  args.push('--base-port', String(o.basePort), '--host', o.host, '--interval', String(o.intervalS), '--ping-misses', String(o.pingMisses));
  if (o.routing) args.push('--routing', o.routing);
  if (o.successors !== undefined) args.push('--successors', String(o.successors));
  if (o.replicas !== undefined) args.push('--replicas', String(o.replicas));
  if (o.maxFileBytes !== undefined) args.push('--max-file-size', String(o.maxFileBytes));
  if (o.dataDir !== undefined) args.push('--data-dir', o.dataDir);
  if (o.sharedDir) args.push('--shared-dir');
  if (o.tlsDir !== undefined) args.push('--tls', o.tlsDir);
  args.push(o.pingLines ? '--ping-lines' : '--no-ping-lines');
  if (o.debug) args.push('--debug');
  if (o.json) args.push('--json');
  else if (o.logFormat === 'json') args.push('--log-format', 'json');
  return args;
}

/**
 * Starts slices 1 .. P - 1 of the ring (this process runs slice 0). `onLine` gets each of their
 * peer lines (or, with --json, trace objects); `onFailure` one line for a child that ends by itself.
 */
export function startSlices(o: RingOptions, processes: number, onLine: (line: string) => void, onFailure: (text: string) => void): SliceProcesses {
  const cdht = fileURLToPath(new URL('../../../bin/cdht.js', import.meta.url));
  let stopping = false;
  const children: { proc: ChildProcess; gone: Promise<void> }[] = [];
  for (let index = 1; index < processes; index++) {
    const proc = spawn(process.execPath, [cdht, ...sliceArgs(o, index, processes)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let lastError = '';
    // the console and header lines of a child are for nobody: only its peers' lines come through
    readline.createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (l.startsWith('[') || l.startsWith('{"type":"trace"') || peerLogLine(l)) onLine(l);
    });
    readline.createInterface({ input: proc.stderr! }).on('line', (l) => {
      if (l.trim()) lastError = l.trim();
    });
    proc.stdin!.on('error', () => {}); // a child already gone
    const gone = new Promise<void>((resolve) => {
      proc.on('error', (err) => {
        if (!stopping) onFailure(`process ${index} of ${processes} (--slice ${index}/${processes}) did not start: ${err.message}`);
        resolve();
      });
      proc.on('exit', (code, signal) => {
        if (!stopping) onFailure(`process ${index} of ${processes} (--slice ${index}/${processes}) ended (${signal ?? `exit code ${code}`})${lastError ? `: ${lastError}` : ''}`);
        resolve();
      });
    });
    children.push({ proc, gone });
  }
  return {
    async stop() {
      stopping = true;
      await Promise.all(
        children.map(async ({ proc, gone }) => {
          if (proc.exitCode !== null || proc.signalCode !== null) return;
          proc.stdin!.end();
          const term = setTimeout(() => proc.kill('SIGTERM'), STOP_GRACE_MS);
          const kill = setTimeout(() => proc.kill('SIGKILL'), 2 * STOP_GRACE_MS);
          await gone;
          clearTimeout(term);
          clearTimeout(kill);
        }),
      );
    },
  };
}

/** A line a child's peer logged with --log-format json (pino, with the peer's id), not the child's console. */
function peerLogLine(line: string): boolean {
  if (!line.startsWith('{')) return false;
  try {
    const o = JSON.parse(line) as { event?: unknown; id?: unknown };
    return typeof o.event === 'string' && o.event !== 'console' && o.id !== undefined;
  } catch {
    return false;
  }
}
