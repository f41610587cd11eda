// `cdht node`'s input: Store and Request lines, read as init and join read them, so an operator
// (`docker attach`, `kubectl attach -i`, a pipe) can publish and fetch through a running node.
// Nothing else: leaving is SIGTERM's, with its bound. Input that ends (/dev/null) ends nothing.
import { createInterface } from 'node:readline';
import { publishTyped } from '../control/publish.js';
import type { Peer } from '../peer.js';
import { runTyped } from './commands.js';
import type { NodeLog } from './node-log.js';

/** What the console reads of the node (node.ts's NodeState): its peer, and whether it is stopping. */
export interface ConsoleTarget {
  readonly peer: Peer | undefined;
  readonly stopping: boolean;
}

const COMMANDS = /^\s*(store|request)\s+\S/i;

/** Reads commands until the returned function is called. */
export function readCommands(state: ConsoleTarget, log: NodeLog, input: NodeJS.ReadableStream = process.stdin): () => void {
  input.on('error', () => {}); // a closed terminal must not take the node down
  const rl = createInterface({ input, crlfDelay: Infinity });
  rl.on('line', (typed) => {
    if (typed.trim() === '') return;
    const peer = state.peer;
    if (!COMMANDS.test(typed)) return log.say('command-refused', 'cdht node reads Store NAME and Request NAME here; SIGTERM or Ctrl+C leaves the ring');
    if (!peer || state.stopping) return log.say('command-refused', `Not in a ring${state.stopping ? ' any more' : ' yet'}: '${typed.trim()}' was not taken`);
    const published = publishTyped(typed, peer.space, peer.storeDir, peer.isInRing);
    if ('error' in published) return log.say('command-refused', published.error);
    runTyped(published.line, peer.space, peer, (text) => log.say('command-refused', text));
  });
  return () => rl.close();
}
