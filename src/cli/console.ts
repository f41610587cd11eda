// The ring console's commands: parse one typed line and act on a Testnet. Every answer is
// one or more lines through `say`; nothing a person types can throw out of here.
import type { Id } from '../core/id-space.js';
import { SPEC_NAME, SPEC_SPACE } from '../core/id-space.js';
import type { Testnet } from '../testnet.js';

const space = SPEC_SPACE;
const FILE_NAME = SPEC_NAME;
const RING_SIZE = 256;

export const HELP = [
  'Commands (ids are 0-255, files are four digits):',
  '  <id> store NNNN        Store a file, typed at peer <id>',
  '  <id> request NNNN      Request a file from peer <id>',
  '  <id> quit              Graceful departure of peer <id>',
  '  kill <id>              Abrupt departure (no goodbye)',
  '  join <id> [via <id>]   Start a new peer that joins through a running one',
  '  add N                  Join N new peers with random free ids',
  '  ring                   Show the reporter table once',
  '  watch                  Toggle the reporter (redrawn every second)',
  '  route <key|NNNN> [from <id>]  Owner of a key and the path a request takes',
  '  files [id]             Files held by every peer, or by one',
  '  help                   This list',
  '  exit                   Stop every peer and leave',
];

export const VERBS = ['store', 'request', 'quit', 'kill', 'join', 'add', 'ring', 'watch', 'route', 'files', 'help', 'exit'];
/** `add` starts at most this many peers at once. */
const MAX_ADD = 256;

export interface ConsoleHost {
  net: Testnet;
  say(line: string): void;
  showRing(): void;
  toggleWatch(): void;
  exit(): void;
  /** Files held per peer id (from the data directories). */
  files(): Map<Id, string[]>;
  /** A random number in [0, 1) (the runner decides where randomness comes from). */
  random(): number;
}

function parseId(s: string | undefined): Id | undefined {
  if (s === undefined || !/^\d{1,3}$/.test(s)) return undefined;
  return space.parse(s);
}

export function runCommand(host: ConsoleHost, input: string): void {
  const words = input.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return;
  try {
    dispatch(host, words);
  } catch (err) {
    host.say(`Error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function dispatch(host: ConsoleHost, words: string[]): void {
  const { net, say } = host;
  const [w0, w1, w2, w3] = words;
  const verb = w0!.toLowerCase();
  const peerFirst = parseId(w0);
  if (peerFirst !== undefined) {
    const p = net.peers.get(peerFirst);
    if (!p || !p.isRunning) return say(`Peer ${peerFirst} is not running here (running: ${net.runningIds().join(', ')})`);
    const sub = (w1 ?? '').toLowerCase();
    if (sub === 'store' || sub === 'request') {
      if (!w2 || words.length !== 3 || !FILE_NAME.test(w2)) return say(`Usage: ${peerFirst} ${sub} NNNN (a file name of exactly four digits)`);
      return p.command(`${sub} ${w2}`);
    }
    if (sub === 'quit' && words.length === 2) {
      void p.quit();
      return;
    }
    return say(`Unknown peer command '${words.slice(1).join(' ')}': use <id> store NNNN, <id> request NNNN or <id> quit`);
  }
  switch (verb) {
    case 'help':
      return HELP.forEach((l) => say(l));
    case 'exit':
    case 'quit':
      return host.exit();
    case 'ring':
      return host.showRing();
    case 'watch':
      return host.toggleWatch();
    case 'kill': {
      const id = parseId(w1);
      if (id === undefined || words.length !== 2) return say('Usage: kill <id>');
      const p = net.peers.get(id);
      if (!p || !p.isRunning) return say(`Peer ${id} is not running here`);
      void p.kill();
      return say(`Peer ${id} killed (abrupt departure)`);
    }
    case 'join': {
      const id = parseId(w1);
      const via = w2?.toLowerCase() === 'via' ? parseId(w3) : net.runningIds()[0];
      if (id === undefined || (w2 !== undefined && (w2.toLowerCase() !== 'via' || words.length !== 4)) || words.length === 3) {
        return say('Usage: join <id> [via <id>]');
      }
      if (via === undefined) return say('No running peer to join through');
      if (net.peers.get(id)?.isRunning) return say(`Peer ${id} is already running here`);
      net.start({ id, mode: { kind: 'join', known: via } });
      return say(`Peer ${id} joining through Peer ${via}`);
    }
    case 'add': {
      const n = Number(w1);
      if (!Number.isInteger(n) || n < 1 || n > MAX_ADD || words.length !== 2) return say(`Usage: add N (1 to ${MAX_ADD})`);
      return addPeers(host, n);
    }
    case 'route':
      return route(host, words.slice(1));
    case 'files':
      return showFiles(host, w1);
    default:
      return say(`Unknown command '${w0}'. Type help for the list.`);
  }
}

function addPeers(host: ConsoleHost, n: number): void {
  const { net, say } = host;
  const running = net.runningIds();
  // an id the ring still names (a peer killed moments ago) would be refused as a duplicate
  const named = new Set<Id>();
  for (const id of running) {
    const s = net.peers.get(id)!.snapshot();
    for (const n of [s.pred1, s.pred2, ...s.successors]) if (n !== undefined) named.add(n);
  }
  const free: Id[] = [];
  for (let id = 0n; id < BigInt(RING_SIZE); id++) if (!net.peers.get(id)?.isRunning && !named.has(id)) free.push(id);
  if (running.length === 0) return say('No running peer to join through');
  if (free.length < n) return say(`Only ${free.length} ids are free`);
  const chosen: Id[] = [];
  for (let i = 0; i < n; i++) chosen.push(free.splice(Math.floor(host.random() * free.length), 1)[0]!);
  for (const id of chosen) net.start({ id, mode: { kind: 'join', known: running[Math.floor(host.random() * running.length)]! } });
  say(`Joining ${n} new peer${n > 1 ? 's' : ''}: ${chosen.sort((a, b) => (a < b ? -1 : 1)).join(', ')}`);
}

/** Follows the peers' own successor lists the way a request would travel. */
function route(host: ConsoleHost, args: string[]): void {
  const { net, say } = host;
  const [k, fromWord, fromId] = args;
  let key: Id | undefined;
  if (k !== undefined && FILE_NAME.test(k)) key = space.keyOf(k);
  else if (k !== undefined && /^\d+$/.test(k) && Number(k) < RING_SIZE) key = BigInt(k);
  const start = fromWord === undefined ? net.runningIds()[0] : fromWord.toLowerCase() === 'from' ? parseId(fromId) : undefined;
  if (key === undefined || start === undefined || args.length === 2 || args.length > 3) {
    return say('Usage: route <key 0-255 | file NNNN> [from <id>]');
  }
  if (!net.peers.get(start)?.isInRing) return say(`Peer ${start} is not in the ring here`);
  const owner = space.ownerOf(key, net.runningIds());
  const path = [start];
  let at = start;
  for (let hops = 0; hops < RING_SIZE; hops++) {
    const snap = net.peers.get(at)?.snapshot();
    if (!snap) break;
    const s1 = snap.successors[0];
    const owns = key === at || (snap.pred1 !== undefined && space.betweenRightClosed(snap.pred1, key, at));
    if (owns || s1 === undefined) break;
    path.push(s1);
    if (space.betweenRightClosed(at, key, s1)) break;
    at = s1;
  }
  const end = path[path.length - 1];
  say(`Key ${key} is owned by Peer ${owner}; a request from Peer ${start} goes ${path.join(' > ')}${end === owner ? '' : ' (the ring is still repairing)'}`);
}

function showFiles(host: ConsoleHost, which: string | undefined): void {
  const all = host.files();
  if (which !== undefined) {
    const id = parseId(which);
    if (id === undefined || !all.has(id)) return host.say(`Peer ${which} is not running here`);
    const f = all.get(id)!;
    return host.say(`Peer ${id} holds ${f.length} file${f.length === 1 ? '' : 's'}${f.length ? ': ' + f.join(', ') : ''}`);
  }
  for (const [id, f] of [...all].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    host.say(`Peer ${String(id).padStart(3)}: ${f.length ? f.join(', ') : '-'}`);
  }
}

/** Tab completion: verbs, and running ids where an id is expected. */
export function complete(net: Testnet, line: string): [string[], string] {
  const words = line.split(/\s+/);
  const last = words[words.length - 1] ?? '';
  const ids = net.runningIds().map(String);
  let cands: string[];
  if (words.length <= 1) cands = [...VERBS.filter((v) => !['store', 'request', 'quit'].includes(v)), ...ids];
  else if (parseId(words[0]) !== undefined && words.length === 2) cands = ['store', 'request', 'quit'];
  else if (['kill', 'files'].includes(words[0]!.toLowerCase()) && words.length === 2) cands = ids;
  else if (words[0]!.toLowerCase() === 'join' && words.length === 3) cands = ['via'];
  else if (words[0]!.toLowerCase() === 'join' && words.length === 4) cands = ids;
  else if (words[0]!.toLowerCase() === 'route' && words.length === 3) cands = ['from'];
  else if (words[0]!.toLowerCase() === 'route' && words.length === 4) cands = ids;
  else cands = [];
  return [cands.filter((c) => c.startsWith(last.toLowerCase()) || c.startsWith(last)), last];
}
