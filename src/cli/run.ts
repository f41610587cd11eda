// Runs one peer in the foreground: its lines go to stdout, stdin lines become commands, and a
// signal is an abrupt departure. Resolves with the process exit code; the caller exits.
import { createInterface } from 'node:readline';
import { Peer } from '../peer.js';
import type { PeerExit, PeerLine } from '../peer.js';
import type { LineFilter, RunPlan } from './args.js';
import { publishTyped } from './publish.js';

/** After a signal, how long the sockets get to close before we exit anyway. */
const KILL_GRACE_MS = 2_000;
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type ExitSignal = keyof typeof SIGNAL_EXIT_CODES;

/**
 * Control characters become visible escapes: some lines carry text a remote peer chose (a
 * join refusal's reason), and it must not move the cursor or fake extra lines.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function shouldShow(level: PeerLine['level'], show: LineFilter): boolean {
  if (level === 'ping') return show.pingLines;
  if (level === 'debug') return show.debug;
  return true;
}

const ignore = (): void => {};

export async function runPeer(plan: RunPlan, programName: string): Promise<number> {
  // A reader that went away (EPIPE) or a terminal that closed must not crash a running peer.
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  process.stdin.on('error', ignore);

  let peer: Peer;
  try {
    peer = new Peer(plan.peer);
  } catch (err) {
    process.stderr.write(`${programName}: error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  for (const n of plan.notices) process.stdout.write(`${printable(n)}\n`);
  peer.on('line', (l: PeerLine) => {
    if (shouldShow(l.level, plan.show)) process.stdout.write(`${printable(l.text)}\n`);
  });

  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  const dataDir = plan.peer.dataDir ?? process.cwd();
  rl.on('line', (typed) => {
    try {
      const published = publishTyped(typed, peer.space, dataDir);
      if ('error' in published) return void process.stdout.write(`${printable(published.error)}\n`);
      peer.command(published.line);
    } catch (err) {
      // The core checks commands itself; this is only a guard against a bug taking the peer down.
      process.stderr.write(`${programName}: command failed: ${printable(err instanceof Error ? err.message : String(err))}\n`);
    }
  });
  // End of input leaves the peer running: scripts start peers with no one typing at them.

  let signalCode: number | undefined;
  let onSignal!: (sig: ExitSignal) => void;
  const signalled = new Promise<void>((resolveSignal) => {
    onSignal = (sig) => {
      if (signalCode !== undefined) process.exit(SIGNAL_EXIT_CODES[sig]); // a second signal: no more waiting
      signalCode = SIGNAL_EXIT_CODES[sig];
      void peer.kill();
      resolveSignal();
    };
  });
  const handlers = (Object.keys(SIGNAL_EXIT_CODES) as ExitSignal[]).map((sig) => {
    const h = (): void => onSignal(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  // On a terminal readline reads raw keys, so Ctrl+C reaches us here instead of as a signal.
  rl.on('SIGINT', () => onSignal('SIGINT'));

  let graceTimer: NodeJS.Timeout | undefined;
  const afterSignal = signalled.then(() =>
    Promise.race([
      peer.closed,
      new Promise<PeerExit>((res) => (graceTimer = setTimeout(() => res({ code: 1, reason: 'did not stop in time' }), KILL_GRACE_MS))),
    ]),
  );
  const exit = await Promise.race([peer.closed, afterSignal]);
  clearTimeout(graceTimer);
  for (const [sig, h] of handlers) process.off(sig, h);
  rl.close();
  return signalCode ?? exit.code;
}
