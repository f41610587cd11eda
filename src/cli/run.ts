// Runs one peer in the foreground: its lines go to stdout, stdin lines become commands, and a
// signal is an abrupt departure. Resolves with the process exit code; the caller exits.
import { createInterface } from 'node:readline';
import { formatBytes, listFolder, nodeDisk } from '../control/files.js';
import { formatAddress } from '../core/contact.js';
import type { Address } from '../core/contact.js';
import { Peer } from '../peer.js';
import type { PeerExit, PeerLine } from '../peer.js';
import type { LineFilter, RunPlan } from './args.js';
import { publishTyped } from '../control/publish.js';
import { runTyped } from './commands.js';

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

const HELP = [
  'Commands (case-insensitive):',
  '  Store NNNN     store file NNNN at the peer that owns key NNNN mod 256 (NNNN.pdf is copied there)',
  '  Request NNNN   fetch NNNN.pdf from its owner; it lands here as received_NNNN.pdf',
  '  Quit           leave the ring gracefully (Ctrl+C leaves abruptly)',
  '  status         this peer\'s predecessors, successors and files',
  '  help           this list',
];

/** What a peer says when it starts, whatever lines are hidden: who it is, where, and its folder. */
function startLine(peer: Peer, plan: RunPlan): string {
  const p = plan.peer;
  const name = (x: unknown) => (typeof x === 'object' && x !== null && 'id' in x && typeof x.id === 'bigint' ? peer.space.format(x.id) : String(x));
  // a known peer given as host:port has no id yet: name its address, not "Peer <something>"
  const known = (x: unknown) =>
    typeof x === 'object' && x !== null && !('id' in x && typeof x.id === 'bigint') && 'host' in x && 'port' in x ? formatAddress(x as Address) : `Peer ${name(x)}`;
  const how = p.mode.kind === 'init' ? `successors ${p.mode.successors.map(name).join(' and ')}` : `joining through ${known(p.mode.known)}`;
  const pings = plan.show.pingLines ? '' : ' (ping lines hidden)';
  return `Peer ${peer.space.format(peer.id)} on ${peer.self.host}, TCP and UDP port ${peer.self.port}; ${how}; data folder ${p.dataDir ?? process.cwd()}; ping every ${p.pingIntervalMs / 1000} s${pings}. Type help for commands.`;
}

function status(peer: Peer, plan: RunPlan): string[] {
  const s = peer.snapshot();
  const q = (id: bigint | undefined) => (id === undefined ? '?' : peer.space.format(id));
  const dir = plan.peer.dataDir ?? process.cwd();
  const files = listFolder(nodeDisk, peer.space, dir);
  // the two successors the README promises, as the spec's lines name them; the rest of the list is backup
  return [
    `Peer ${q(peer.id)} (${s.phase}): ${q(s.pred2)} > ${q(s.pred1)} > [${q(peer.id)}] > ${s.successors.slice(0, 2).map(q).join(' > ') || '?'}`,
    `Files in ${dir}: ${files.length ? files.map((f) => `${f.name} (${formatBytes(f.size)})`).join(', ') : 'none'}`,
  ];
}

export async function runPeer(plan: RunPlan, programName: string): Promise<number> {
  // A reader that went away (EPIPE) or a terminal that closed must not crash a running peer.
  process.stdout.on('error', ignore);
  process.stderr.on('error', ignore);
  process.stdin.on('error', ignore);

  // loaded here, not at the top: pino is no start-up cost for the commands that never run a peer
  // (and before the peer exists, so that it misses none of its lines)
  const { nodeLog } = await import('./node-log.js');
  let peer: Peer;
  try {
    peer = new Peer(plan.peer);
  } catch (err) {
    process.stderr.write(`${programName}: error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  // text: the peer's lines and the shell's as they are; json: one object a line, with its event
  const log = nodeLog(plan.logFormat ?? 'text', plan.show);
  log.follow(peer);
  const out = (text: string) => log.say('console', text);
  log.say('start', startLine(peer, plan), { id: peer.space.format(peer.id), host: peer.self.host, port: peer.self.port });
  plan.notices.forEach((n) => log.say('notice', n));

  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  rl.on('line', (typed) => {
    // help and status are the shell's; Store, Request and Quit are parsed here and go to the peer typed
    const word = typed.trim().toLowerCase();
    if (word === 'quit') leaving = true;
    if (word === 'help') return HELP.forEach(out);
    if (word === 'status') return status(peer, plan).forEach(out);
    try {
      // a line refused (by the parser, or a path that cannot be published) is one line of its own kind
      const refused = (text: string) => log.say('command-refused', text);
      const published = publishTyped(typed, peer.space, peer.storeDir, peer.isInRing);
      if ('error' in published) return refused(published.error);
      runTyped(published.line, peer.space, peer, refused);
    } catch (err) {
      // The core checks commands itself; this is only a guard against a bug taking the peer down.
      process.stderr.write(`${programName}: command failed: ${printable(err instanceof Error ? err.message : String(err))}\n`);
    }
  });
  // End of input leaves the peer running: scripts start peers with no one typing at them. Said
  // once, since whatever is typed after Ctrl+D is no longer read and would vanish without a word.
  // Only at a terminal: a script's input ending (or /dev/null) is nothing to report.
  let leaving = false;
  rl.on('close', () => {
    if (process.stdin.isTTY && !leaving && !peer.isClosed) log.say('input-closed', 'Input closed (Ctrl+D): this peer keeps running but reads no more commands; Ctrl+C leaves the ring');
  });

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
  rl.removeAllListeners('close'); // leaving: the input notice is for a peer that stays
  rl.close();
  return signalCode ?? exit.code;
}
