// The ring console's commands: parse one typed line and ask the RingController. Every answer is
// one or more lines through `say`; nothing a person types can throw out of here. The ring logic
// (validation, joins, routes, files) is the controller's; this file only reads words.
import type { Id } from '../core/id-space.js';
import { ControlError } from '../control/ring-controller.js';
import type { RingController } from '../control/ring-controller.js';
import { formatBytes } from '../control/files.js';
import type { FileView } from '../control/view-types.js';
import { parseCommand } from './commands.js';

export const HELP = [
  'Commands (ids are 0-255, files are four digits):',
  '  <id> store NNNN        Store a file, typed at peer <id>',
  '  <id> request NNNN      Request a file from peer <id>',
  '  <id> quit              Graceful departure of peer <id> (also: quit <id>)',
  '  kill <id>              Abrupt departure (no goodbye)',
  '  join <id> [via <id>]   Start a new peer that joins through a running one',
  '  add N                  Join N new peers with random free ids',
  '  ring                   Show the reporter table once',
  '  watch                  Toggle the reporter (redrawn every second)',
  '  pings on|off           Show or hide the ping lines (off by default)',
  '  route <key|NNNN> [from <id>]  Owner of a key and the path a request takes',
  '  files [id]             Files held by every peer, or by one, with sizes',
  '  stop, start            Stop every peer (the ids stay planned); start them again',
  '  help                   This list',
  '  exit                   Stop every peer and leave',
];

export const VERBS = ['store', 'request', 'quit', 'kill', 'join', 'add', 'ring', 'watch', 'pings', 'route', 'files', 'stop', 'start', 'help', 'exit'];
const PEER_VERBS = ['store', 'request', 'quit'];

export interface ConsoleHost {
  ctl: RingController;
  say(line: string): void;
  showRing(): void;
  toggleWatch(): void;
  /** Shows or hides ping lines; returns whether they are shown now. */
  setPings(on: boolean): boolean;
  pings(): boolean;
  exit(): void;
  /** A random number in [0, 1) (the runner decides where randomness comes from). */
  random(): number;
}

/** Runs one typed line; resolves once its answer has been said (joins and departures take a moment). */
export async function runCommand(host: ConsoleHost, input: string): Promise<void> {
  const words = input.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return;
  try {
    await dispatch(host, words, input.trim());
  } catch (err) {
    host.say(err instanceof ControlError ? err.message : `Error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function dispatch(host: ConsoleHost, words: string[], line: string): Promise<void> {
  const { ctl, say } = host;
  const [w0, w1, w2, w3] = words as [string, ...(string | undefined)[]];
  const verb = w0.toLowerCase();
  const answer = async (r: Promise<{ message: string; warning?: string }> | { message: string; warning?: string }) => {
    const res = await r;
    say(res.warning ? `${res.message} (${res.warning})` : res.message);
  };
  if (/^\d+$/.test(w0)) {
    // what follows the id is read as the single peer's console reads it (the shared parser)
    const c = parseCommand(line.slice(w0.length), ctl.space);
    if (c.kind === 'quit') return answer(ctl.quit(w0));
    const sub = c.kind === 'store' || c.kind === 'request' ? c.kind : c.kind === 'refused' && c.reason !== 'unknown' ? (w1 ?? '').toLowerCase() : undefined;
    if (sub === 'store' || sub === 'request') {
      if (c.kind === 'refused' && c.reason === 'usage') return say(ctl.space.spec ? `Usage: ${w0} ${sub} NNNN (a file name of exactly four digits)` : `Usage: ${w0} ${sub} ${sub === 'store' ? 'PATH' : 'NAME'}`);
      // the name as typed (quotes and all): the controller checks the id first, then the name,
      // and a Store above 8 bits may name a path to publish
      const file = ctl.space.spec ? w2 : line.replace(/^\S+\s+\S+\s+/, '');
      const res = sub === 'store' ? ctl.store(w0, file) : ctl.request(w0, file);
      if (res.warning) say(res.warning);
      return;
    }
    return say(`Unknown peer command ${cut(words.slice(1).join(' '))}: use <id> store NNNN, <id> request NNNN or <id> quit`);
  }
  switch (verb) {
    case 'help':
      return HELP.forEach((l) => say(l));
    case 'exit':
      return host.exit();
    case 'quit':
      // `Quit` means one peer leaves everywhere else; a bare quit must not stop the whole ring
      if (words.length === 2) return answer(ctl.quit(w1));
      return say('Quit which peer? Type <id> quit (or quit <id>) for one peer to leave gracefully, or exit to stop the whole ring');
    case 'ring':
      return host.showRing();
    case 'watch':
      return host.toggleWatch();
    case 'pings': {
      const want = w1?.toLowerCase();
      if (words.length > 2 || (want !== undefined && want !== 'on' && want !== 'off')) return say('Usage: pings on|off');
      const on = host.setPings(want === undefined ? !host.pings() : want === 'on');
      return say(`Ping lines ${on ? 'shown' : 'hidden'}`);
    }
    case 'kill':
      if (words.length !== 2) return say('Usage: kill <id>');
      return answer(ctl.kill(w1));
    case 'join': {
      const viaWord = w2?.toLowerCase();
      if (w1 === undefined || (w2 !== undefined && (viaWord !== 'via' || words.length !== 4)) || words.length === 3) {
        return say('Usage: join <id> [via <id>]');
      }
      return answer(ctl.join(w1, w3));
    }
    case 'add': {
      const n = Number(w1);
      if (!/^\d+$/.test(w1 ?? '') || n < 1 || n > 256 || words.length !== 2) return say('Usage: add N (1 to 256)');
      const { ids, done, short } = ctl.addRandom(n, host.random);
      say(`${short ? `${short}: joining` : 'Joining'} ${ids.length} new peer${ids.length > 1 ? 's' : ''}: ${ids.join(', ')}`);
      const results = await done;
      for (const r of results) if (r.status === 'rejected') say(r.reason instanceof Error ? r.reason.message : String(r.reason));
      return;
    }
    case 'route': {
      const [k, fromWord, fromId] = words.slice(1);
      if (k === undefined || words.length === 3 || words.length > 4 || (fromWord !== undefined && fromWord.toLowerCase() !== 'from')) {
        return say('Usage: route <key 0-255 | file NNNN> [from <id>]');
      }
      const r = ctl.routes(k, fromId);
      const end = r.path[r.path.length - 1];
      const tail = !r.complete ? ` (stops: ${r.note})` : end === r.owner ? '' : ' (the ring is still repairing)';
      return say(`Key ${r.key} is owned by Peer ${r.owner}; a request from Peer ${r.from} goes ${r.path.join(' > ')}${tail}`);
    }
    case 'files':
      if (words.length > 2) return say('Usage: files [id]');
      return showFiles(host, w1);
    case 'start':
      return answer(ctl.start());
    case 'stop':
      return answer(ctl.stop());
    default:
      return say(`Unknown command ${cut(w0)}. Type help for the list.`);
  }
}

/** Typed text quoted back: a pasted page of text is not echoed whole. */
const ECHO_CHARS = 40;
function cut(typed: string): string {
  return `'${typed.length > ECHO_CHARS ? `${typed.slice(0, ECHO_CHARS)}…' (${typed.length} characters)` : `${typed}'`}`;
}

export function describeFiles(files: FileView[]): string {
  return files.map((f) => `${f.name} (${formatBytes(f.size)})`).join(', ');
}

function showFiles(host: ConsoleHost, which: string | undefined): void {
  const all = host.ctl.files(which);
  if (which !== undefined) {
    const [id, f] = [...all][0]!;
    return host.say(`Peer ${id} holds ${f.length} file${f.length === 1 ? '' : 's'}${f.length ? ': ' + describeFiles(f) : ''}`);
  }
  const sorted = [...all].sort((a, b) => (a[0] < b[0] ? -1 : 1)) as [Id, FileView[]][];
  for (const [id, f] of sorted) host.say(`Peer ${String(id).padStart(3)}: ${f.length ? describeFiles(f) : '-'}`);
  // and each stored name with the peers that hold it, owner first
  const keys = host.ctl.state().keys;
  if (keys.length) host.say(`Holders (owner first; the ring keeps ${keys[0]!.want}):`);
  for (const k of keys) {
    const mark = k.holders.length < k.want ? `  <- ${k.want - k.holders.length} cop${k.want - k.holders.length === 1 ? 'y' : 'ies'} short` : '';
    host.say(`  ${k.name} (key ${k.key}, ${formatBytes(k.size)}): ${k.holders.join(', ')}${mark}`);
  }
}

/** Tab completion: verbs, and running ids where an id is expected. */
export function complete(ctl: RingController, line: string): [string[], string] {
  const words = line.split(/\s+/);
  const last = words[words.length - 1] ?? '';
  const ids = ctl.liveIds().map(String);
  const w0 = (words[0] ?? '').toLowerCase();
  let cands: string[];
  if (words.length <= 1) cands = [...VERBS.filter((v) => !['store', 'request'].includes(v)), ...ids];
  else if (/^\d+$/.test(w0) && words.length === 2) cands = PEER_VERBS;
  else if (['kill', 'files', 'quit'].includes(w0) && words.length === 2) cands = ids;
  else if (w0 === 'pings' && words.length === 2) cands = ['on', 'off'];
  else if (w0 === 'join' && words.length === 3) cands = ['via'];
  else if (w0 === 'join' && words.length === 4) cands = ids;
  else if (w0 === 'route' && words.length === 3) cands = ['from'];
  else if (w0 === 'route' && words.length === 4) cands = ids;
  else cands = [];
  return [cands.filter((c) => c.startsWith(last.toLowerCase()) || c.startsWith(last)), last];
}
