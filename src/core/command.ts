// The console's one parser: a typed line (`Store NAME`, `Request NAME`, `Quit`) read into a
// command, or the line that refuses it. The core answers what it runs (Quit, and Store and
// Request in the specification's mode); the peer's shell runs Store and Request above 8 bits as
// the library's put and get. Both read lines here, so a refusal reads the same whichever runs it.
import type { IdSpace } from './id-space.js';
import { unquoteName } from './id-space.js';

/** Characters of an unknown command echoed back (a pasted page of text is not repeated whole). */
const ECHO_CHARS = 40;

export type Command =
  | { kind: 'none' }
  | { kind: 'quit' }
  | { kind: 'store' | 'request'; name: string }
  /** The line is refused; `text` says why (one line, as the console prints it). */
  | { kind: 'refused'; text: string };

export function parseCommand(line: string, space: IdSpace): Command {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { kind: 'none' };
  const verb = words[0]!.toLowerCase();
  if (verb === 'quit') return words.length > 1 ? { kind: 'refused', text: `Quit takes no argument (got '${words.slice(1).join(' ')}')` } : { kind: 'quit' };
  const what = space.spec ? 'NNNN' : 'NAME';
  // a pasted page of text is not echoed back whole
  const typed = words[0]!.length > ECHO_CHARS ? `${words[0]!.slice(0, ECHO_CHARS)}…' (${words[0]!.length} characters)` : `${words[0]}'`;
  if (verb !== 'store' && verb !== 'request') return { kind: 'refused', text: `Unknown command '${typed}: type Store ${what}, Request ${what} or Quit` };
  const Verb = verb === 'store' ? 'Store' : 'Request';
  // Above 8 bits a name may hold spaces (`my report (v2).pdf`): the rest of the line is the name,
  // and quotes around it are taken off, so a name with leading or trailing spaces can be typed too.
  const name = (space.spec ? words[1] : unquoteName(line.trim().slice(words[0]!.length).trim())) ?? '';
  if (space.spec ? words.length !== 2 : !name) {
    return { kind: 'refused', text: space.spec ? `${Verb} takes one file name of four digits, e.g. ${Verb} 2012` : `${Verb} takes one file name, e.g. ${Verb} notes.txt` };
  }
  const problem = space.nameProblem(name);
  if (problem) return { kind: 'refused', text: problem };
  return { kind: verb, name };
}

/** What the console calls a command's verb: `Store`, `Request`. */
export function verbOf(kind: 'store' | 'request'): string {
  return kind === 'store' ? 'Store' : 'Request';
}
