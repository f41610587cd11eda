// --log-format json on the commands that print results rather than a running peer's events
// (status, decommission, put, get, delete, lookup, check, sim, ca, web): every line they would
// print becomes one pino object on the same stream, with the command as `event` and the line as
// `msg`; what went to stderr is logged at level error. The peer commands (init, join, ring, node)
// log their own traces instead (node-log.ts). `--json` is a result format of its own and cannot
// be combined with it.
import type { Command, Option } from 'commander';
import type { Logger } from 'pino';

export const LOG_FORMAT_HELP = 'text (the default) or json: each line printed becomes one object (pino), the command as "event"';

/** Gives every command that prints and does not take --log-format already the option. */
export function addLogFormatEverywhere(program: Command, makeOption: () => Option): void {
  const visit = (cmd: Command) => {
    if (cmd.commands.length > 0) return cmd.commands.forEach(visit);
    if (!cmd.options.some((o) => o.long === '--log-format')) cmd.addOption(makeOption());
  };
  program.commands.forEach(visit);
}

/** The words of a command from the program down, e.g. "ca issue". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * From now on, lines written to stdout and stderr go out as JSON objects (stdout: level info,
 * stderr: level error), written synchronously to the same descriptors so none is lost at exit.
 * The peer commands keep their own logging (node-log.ts).
 */
export async function logOutputAsJson(event: string): Promise<void> {
  const { pino } = await import('pino'); // loaded only when asked for: the CLI starts without it
  const make = (fd: 1 | 2): Logger => pino({ base: { pid: process.pid }, formatters: { level: (label) => ({ level: label }) } }, pino.destination({ dest: fd, sync: true }));
  const out = make(1);
  const err = make(2);
  process.stdout.write = lines((line) => out.info({ event }, line)) as typeof process.stdout.write;
  process.stderr.write = lines((line) => err.error({ event }, line)) as typeof process.stderr.write;
}

/** A write function that hands on whole lines (colours and blank lines dropped), the rest at exit. */
function lines(emit: (line: string) => void): (chunk: unknown, ...rest: unknown[]) => boolean {
  let held = '';
  const send = (text: string) => {
    // eslint-disable-next-line no-control-regex
    const plain = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    if (plain.trim() !== '') emit(plain);
  };
  process.on('exit', () => {
    if (held !== '') send(held);
    held = '';
  });
  return (chunk, ...rest) => {
    held += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    let at: number;
    while ((at = held.indexOf('\n')) >= 0) {
      send(held.slice(0, at));
      held = held.slice(at + 1);
    }
    const done = rest.find((r): r is () => void => typeof r === 'function');
    done?.();
    return true;
  };
}
