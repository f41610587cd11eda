// Drives the real `cdht` command as child processes, the way a marker does: arguments, stdin,
// stdout lines, signals, exit codes. Waits are event-driven and bounded; nothing sleeps.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeBasePort as freeBaseFor } from './ports.js';

/** Tests run from dist/test/helpers, three levels below the repository. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI_SCRIPT = join(REPO_ROOT, 'bin', 'cdht.js');
/**
 * How long a wait on a process's output or exit may take before the test fails: a safety net for
 * a hung process, not a measure of speed. Generous, since on a busy 2-core machine a `cdht`
 * process alone can take 5 s to import its modules.
 */
export const DEFAULT_WAIT_MS = 60_000;
/**
 * One-shot commands (runCli) running at once in this test process; more wait their turn. A dozen
 * started together on two cores each took longer than any bound meant for one.
 */
export const MAX_PARALLEL_CLIS = 2;
/** Lines of a process's output quoted in a failure message. */
const TAIL_LINES = 20;
/** Lines kept per stream; a runaway peer must not eat the test's memory. */
const MAX_KEPT_LINES = 100_000;

export const FIGURE1: ReadonlyArray<readonly [number, number, number]> = [
  [2, 4, 5], [4, 5, 8], [5, 8, 9], [8, 9, 14], [9, 14, 19], [14, 19, 2], [19, 2, 4],
];

// ---- ports -------------------------------------------------------------------------------

/** A base port whose 256 ports are all free for TCP and UDP on 127.0.0.1 (as cdht.py checks). */
export function freeBasePort(): Promise<number> {
  return freeBaseFor(Array.from({ length: 256 }, (_, id) => id));
}

/** The environment without the test runner's own CDHT_* variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CDHT_')));
  return { ...env, ...extra };
}

// ---- one process ---------------------------------------------------------------------------

export type Expect = string | RegExp;
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function matches(line: string, e: Expect): boolean {
  return typeof e === 'string' ? line.trim() === e : e.test(line);
}

/** Splits a byte stream into lines and hands each one to `onLine`. */
function lineReader(onLine: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let partial = '';
  return {
    push(chunk) {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) onLine(p.replace(/\r$/, ''));
    },
    end() {
      if (partial) onLine(partial);
      partial = '';
    },
  };
}

export interface SpawnOptions {
  cwd: string;
  /** Shown in failure messages, e.g. "peer 8". */
  label?: string;
  /** The script node runs; default bin/cdht.js (a link named p2p tests the alias). */
  script?: string;
  env?: NodeJS.ProcessEnv;
  /** A command that runs node, e.g. ['ip', 'netns', 'exec', 'ns-a'] (it must exec, not fork). */
  wrap?: string[];
}

export class CliProcess {
  readonly child: ChildProcess;
  readonly label: string;
  readonly out: string[] = [];
  readonly err: string[] = [];
  readonly exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;
  private markAt = 0;
  private readonly events = new EventEmitter();

  constructor(args: string[], opts: SpawnOptions) {
    this.label = opts.label ?? args.join(' ');
    this.events.setMaxListeners(0);
    const argv = [process.execPath, opts.script ?? CLI_SCRIPT, ...args];
    const [cmd, ...rest] = opts.wrap ? [...opts.wrap, ...argv] : argv;
    this.child = spawn(cmd!, rest, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const keep = (into: string[]) => (line: string) => {
      if (into.length < MAX_KEPT_LINES) into.push(line);
      this.events.emit('change');
    };
    const outReader = lineReader(keep(this.out));
    const errReader = lineReader(keep(this.err));
    this.child.stdout!.on('data', (c: Buffer) => outReader.push(c));
    this.child.stderr!.on('data', (c: Buffer) => errReader.push(c));
    this.child.stdin!.on('error', () => {}); // writing to a peer that has exited is not this helper's failure
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        outReader.end();
        errReader.end();
        this.status = { code, signal };
        this.events.emit('change');
        resolve(this.status);
      });
    });
  }

  get running(): boolean {
    return this.status === undefined;
  }

  send(text: string): void {
    this.child.stdin!.write(`${text}\n`);
  }

  /** Later waits look only at lines printed after this point. */
  mark(): void {
    this.markAt = this.out.length;
  }

  linesSinceMark(): string[] {
    return this.out.slice(this.markAt);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  describe(): string {
    const tail = (l: string[]) => l.slice(-TAIL_LINES).map((x) => `    | ${x}`).join('\n') || '    | (nothing)';
    const state = this.status ? `exited (code ${this.status.code}, signal ${this.status.signal})` : 'running';
    return `${this.label}, ${state}; last stdout lines:\n${tail(this.out)}\n  last stderr lines:\n${tail(this.err)}`;
  }

  /**
   * Resolves once every expected line has appeared on stdout since the mark (in the given order
   * when `ordered`); rejects at the deadline or if the process exits first.
   */
  waitFor(expected: readonly Expect[], opts: { timeoutMs?: number; ordered?: boolean } = {}): Promise<void> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS;
    const missing = (): Expect[] => {
      const lines = this.out.slice(this.markAt);
      if (!opts.ordered) return expected.filter((e) => !lines.some((l) => matches(l, e)));
      let at = 0;
      for (let i = 0; i < expected.length; i++) {
        const found = lines.findIndex((l, j) => j >= at && matches(l, expected[i]!));
        if (found < 0) return expected.slice(i);
        at = found + 1;
      }
      return [];
    };
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const left = missing();
        if (left.length === 0) return done();
        if (!this.running) return done(new Error(`${this.label} exited before printing ${show(left)}\n  ${this.describe()}`));
      };
      const timer = setTimeout(
        () => done(new Error(`${this.label} did not print ${show(missing())}${opts.ordered ? ' (in this order)' : ''} within ${timeoutMs} ms\n  ${this.describe()}`)),
        timeoutMs,
      );
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.events.off('change', check);
        if (err) reject(err);
        else resolve();
      };
      this.events.on('change', check);
      check();
    });
  }

  async waitForExit(timeoutMs = DEFAULT_WAIT_MS): Promise<ExitStatus> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} still running after ${timeoutMs} ms\n  ${this.describe()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL and wait; safe to call on a process that has already exited. */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}

function show(list: readonly Expect[]): string {
  return list.map((e) => (typeof e === 'string' ? JSON.stringify(e) : String(e))).join(', ');
}

/** Turns for runCli: at most MAX_PARALLEL_CLIS one-shots run, the rest wait in order. */
let runningClis = 0;
const waitingClis: Array<() => void> = [];

async function cliTurn(): Promise<() => void> {
  if (runningClis >= MAX_PARALLEL_CLIS) await new Promise<void>((resolve) => waitingClis.push(resolve));
  else runningClis++;
  // the finished one hands its turn straight to the next in line, so the count stays right
  return () => {
    const next = waitingClis.shift();
    if (next) next();
    else runningClis--;
  };
}

/** Runs `work` (a one-shot process started and awaited by hand) in one of runCli's turns. */
export async function inCliTurn<T>(work: () => Promise<T>): Promise<T> {
  const done = await cliTurn();
  try {
    return await work();
  } finally {
    done();
  }
}

/**
 * Runs the CLI to completion (it must exit by itself within the bound). At most MAX_PARALLEL_CLIS
 * run at once; the bound counts from the process's start, not from the call.
 */
export async function runCli(args: string[], opts: SpawnOptions & { timeoutMs?: number }): Promise<CliProcess & { status: ExitStatus }> {
  const done = await cliTurn();
  try {
    const p = new CliProcess(args, opts);
    try {
      await p.waitForExit(opts.timeoutMs ?? DEFAULT_WAIT_MS);
    } finally {
      await p.stop();
    }
    return p as CliProcess & { status: ExitStatus };
  } finally {
    done();
  }
}

/**
 * Runs each case (arguments and a pattern the error must match) and checks the usage-error contract:
 * exit code 2, exactly one `cdht: error:` line and it comes first, then the usage, nothing on stdout.
 * The cases are started together but run MAX_PARALLEL_CLIS at a time (runCli's turns).
 */
export async function expectUsageErrors(cases: ReadonlyArray<readonly [string[], RegExp]>, cwd: string, usage: string): Promise<void> {
  await Promise.all(
    cases.map(async ([args, names]) => {
      const p = await runCli(args, { cwd });
      const what = `cdht ${args.join(' ')}\n  ${p.describe()}`;
      assert.equal(p.status.code, 2, `exit code 2 for ${what}`);
      const errors = p.err.filter((l) => l.startsWith('cdht: error:'));
      assert.equal(errors.length, 1, `one error line for ${what}`);
      assert.equal(p.err[0], errors[0], `the error line comes first for ${what}`);
      assert.match(errors[0]!, names, `the error names the bad argument for ${what}`);
      assert.ok(p.err.some((l) => l.startsWith(usage)), `the usage follows for ${what}`);
      assert.deepEqual(p.out, [], `nothing on stdout for ${what}`);
    }),
  );
}

// ---- a ring of processes ----------------------------------------------------------------------

/** Peers started as separate `cdht` processes sharing one directory and one base port. */
export class CliRing {
  readonly peers = new Map<number, CliProcess>();

  constructor(
    readonly cwd: string,
    readonly basePort: number,
  ) {}

  private start(id: number, args: string[]): CliProcess {
    const p = new CliProcess([...args, '--base-port', String(this.basePort)], { cwd: this.cwd, label: `peer ${id}` });
    this.peers.set(id, p);
    return p;
  }

  init(id: number, s1: number, s2: number, intervalS: number, extra: string[] = []): CliProcess {
    return this.start(id, ['init', String(id), String(s1), String(s2), String(intervalS), ...extra]);
  }

  join(id: number, known: number, intervalS: number, extra: string[] = []): CliProcess {
    return this.start(id, ['join', String(id), String(known), String(intervalS), ...extra]);
  }

  peer(id: number): CliProcess {
    const p = this.peers.get(id);
    if (!p) throw new Error(`peer ${id} was never started`);
    return p;
  }

  markAll(): void {
    for (const p of this.peers.values()) p.mark();
  }

  /**
   * Waits until every running peer has sent, answered and been answered: for each, the
   * ping lines towards its successors and from its predecessors.
   */
  async pingsSeen(ring: ReadonlyArray<readonly [number, number, number]>, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const preds = new Map<number, number[]>();
    for (const [id, s1, s2] of ring) for (const s of [s1, s2]) preds.set(s, [...(preds.get(s) ?? []), id]);
    await Promise.all(
      ring.map(([id, s1, s2]) =>
        this.peer(id).waitFor(
          [
            `Ping requests sent to Peers ${s1} and ${s2}`,
            `Ping response received from Peer ${s1}`,
            `Ping response received from Peer ${s2}`,
            ...(preds.get(id) ?? []).map((p) => `Ping request message received from Peer ${p}`),
          ],
          { timeoutMs },
        ),
      ),
    );
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.peers.values()].map((p) => p.stop()));
  }
}
