// What a peer's command prints (node, init, join; ring shares the JSON half): the peer's own lines
// as text (the default, the specification's words), or one JSON object a line through pino with
// the trace's kind as `event`. Both read the same traces; the shell's own sentences (start,
// seeds, leaving, console answers) go through `say`.
import { pino, type Logger } from 'pino';
import type { Id, IdSpace } from '../core/id-space.js';
import type { LineLevel } from '../core/trace.js';
import { renderTrace } from '../core/trace.js';
import type { Peer, PeerLine, PeerTrace } from '../peer.js';
import type { LineFilter } from './args.js';
import { printable, shouldShow } from './run.js';
import { TransferMeter } from './transfer-meter.js';
import type { LogFormat } from '../config/settings.js';

export interface NodeLog {
  /** A sentence of the node shell itself, with the kind of event it reports. */
  say(event: string, text: string, fields?: Record<string, unknown>): void;
  /** Prints what this peer does from now on (each try at a seed is a new Peer). */
  follow(peer: Peer): void;
}

export function nodeLog(format: LogFormat, show: LineFilter, out: NodeJS.WritableStream = process.stdout): NodeLog {
  return format === 'json' ? jsonLog(show, out) : textLog(show, out);
}

function textLog(show: LineFilter, out: NodeJS.WritableStream): NodeLog {
  const write = (text: string) => out.write(`${printable(text)}\n`);
  return {
    say: (_event, text) => write(text),
    follow(peer) {
      const meter = new TransferMeter();
      peer.on('line', (l: PeerLine) => {
        if (shouldShow(l.level, show)) write(l.text);
      });
      peer.on('trace', (t: PeerTrace) => meter.lines(t.id, t.at, t.trace).forEach(write));
    },
  };
}

/** pino's levels for the peer's: ping and debug lines are detail an operator filters out. */
const PINO_LEVELS: Record<LineLevel, 'info' | 'debug'> = { info: 'info', ping: 'debug', debug: 'debug' };

/**
 * pino writing one JSON object a line to `out` (stdout synchronously: a line said just before
 * exit must not be lost, and the rate is a peer's, not a server's).
 */
export function jsonLogger(out: NodeJS.WritableStream = process.stdout): Logger {
  return pino(
    { level: 'debug', base: { pid: process.pid }, formatters: { level: (label) => ({ level: label }) } },
    out === process.stdout ? pino.destination({ dest: 1, sync: true }) : out,
  );
}

/**
 * One trace as JSON lines: each line it renders to (those `show` lets through) with the trace's
 * fields and its kind as `event`, then the transfer meter's rate lines. `id`: the peer logging
 * (trace fields such as `peer` name the others it speaks of).
 */
export function logTraceJson(logger: Logger, t: PeerTrace, space: IdSpace, show: LineFilter, meter: TransferMeter, id: string): void {
  const fields = { ...plainFields(t.trace, space), event: t.trace.kind, id };
  for (const l of renderTrace(t.trace, space)) {
    if (shouldShow(l.level, show)) logger[PINO_LEVELS[l.level]](fields, l.text);
  }
  for (const text of meter.lines(t.id, t.at, t.trace)) logger.info({ event: 'transfer-rate', id, file: fieldOf(t.trace, 'file') }, text);
}

function jsonLog(show: LineFilter, out: NodeJS.WritableStream): NodeLog {
  const logger = jsonLogger(out);
  return {
    say: (event, text, fields = {}) => logger.info({ event, ...fields }, text),
    follow(peer) {
      const meter = new TransferMeter();
      const id = peer.space.format(peer.id);
      peer.on('trace', (t: PeerTrace) => logTraceJson(logger, t, peer.space, show, meter, id));
    },
  };
}

/** A trace's fields as JSON can carry them: ids as the space prints them, bytes dropped; `kind` becomes `event`. */
function plainFields(trace: object, space: IdSpace): Record<string, unknown> {
  const plain = (v: unknown): unknown => {
    if (typeof v === 'bigint') return space.format(v as Id);
    if (Array.isArray(v)) return v.map(plain);
    if (v instanceof Uint8Array) return undefined;
    return v;
  };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(trace)) if (k !== 'kind' && k !== 'text' && k !== 'level') fields[k] = plain(v);
  return fields;
}

function fieldOf(trace: object, name: string): unknown {
  return (trace as Record<string, unknown>)[name];
}
