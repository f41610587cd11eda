// The console's one parser: a typed line (`Store NAME`, `Request NAME`, `Quit`) read into a typed
// command, or the line that refuses it. The single peer's console (cli/run.ts, cli/node-console.ts)
// and the ring console (cli/console.ts) read lines here, so a refusal reads the same wherever it
// is typed; the peer is then called with the typed command (Peer.store, request, quit), never text.
import type { IdSpace } from '../core/id-space.js';
import { unquoteName } from '../core/id-space.js';

/** Characters of an unknown command echoed back (a pasted page of text is not repeated whole). */
const ECHO_CHARS = 40;

export type FileVerb = 'store' | 'request';

/** Why a line is refused: an unknown verb, the wrong words after a known one, or a name the space does not take. */
export type RefusalReason = 'unknown' | 'usage' | 'bad-name';

export type Command =
  | { kind: 'none' }
  | { kind: 'quit' }
  | { kind: FileVerb; name: string }
  /** The line is refused; `text` says why (one line, as the console prints it). */
  | { kind: 'refused'; reason: RefusalReason; text: string };

export function parseCommand(line: string, space: IdSpace): Command {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { kind: 'none' };
  const verb = words[0]!.toLowerCase();
  if (verb === 'quit') return words.length > 1 ? { kind: 'refused', reason: 'usage', text: `Quit takes no argument (got '${words.slice(1).join(' ')}')` } : { kind: 'quit' };
  const what = space.spec ? 'NNNN' : 'NAME';
  // a pasted page of text is not echoed back whole
  const typed = words[0]!.length > ECHO_CHARS ? `${words[0]!.slice(0, ECHO_CHARS)}…' (${words[0]!.length} characters)` : `${words[0]}'`;
  if (verb !== 'store' && verb !== 'request') return { kind: 'refused', reason: 'unknown', text: `Unknown command '${typed}: type Store ${what}, Request ${what} or Quit` };
  const Verb = verbOf(verb);
  // Above 8 bits a name may hold spaces (`my report (v2).pdf`): the rest of the line is the name,
  // and quotes around it are taken off, so a name with leading or trailing spaces can be typed too.
  const name = (space.spec ? words[1] : unquoteName(line.trim().slice(words[0]!.length).trim())) ?? '';
  if (space.spec ? words.length !== 2 : !name) {
    return { kind: 'refused', reason: 'usage', text: space.spec ? `${Verb} takes one file name of four digits, e.g. ${Verb} 2012` : `${Verb} takes one file name, e.g. ${Verb} notes.txt` };
  }
  const problem = space.nameProblem(name);
  if (problem) return { kind: 'refused', reason: 'bad-name', text: problem };
  return { kind: verb, name };
}

/** What the console calls a command's verb: `Store`, `Request`. */
export function verbOf(kind: FileVerb): string {
  return kind === 'store' ? 'Store' : 'Request';
}

/** What a console runs a parsed command on: a peer (Peer has these methods). */
export interface CommandTarget {
  store(name: string): void;
  request(name: string): void;
  quit(): unknown;
}

/**
 * Parses `line` and runs it on `peer`; a refused line is said through `say`. Returns the command
 * read (a console that stops reading after Quit looks at its kind).
 */
export function runTyped(line: string, space: IdSpace, peer: CommandTarget, say: (text: string) => void): Command {
  const c = parseCommand(line, space);
  if (c.kind === 'refused') say(c.text);
  else if (c.kind === 'quit') void peer.quit();
  else if (c.kind === 'store') peer.store(c.name);
  else if (c.kind === 'request') peer.request(c.name);
  return c;
}
