// What `cdht ring` prints: peer lines behind a (coloured) [id], the reporter redrawn on a terminal
// or printed on each change, `--json` objects or `--log-format json` lines. A reader that goes away
// (`| head -2`, jq stopped with Ctrl+C) silences it and asks the ring to stop, whenever it goes.
import * as readline from 'node:readline';
import type { Logger } from 'pino';
import type { RingController } from '../control/ring-controller.js';
import type { RingState, TraceView } from '../control/view-types.js';
import type { PeerTrace } from '../peer.js';
import type { LineFilter } from './args.js';
import type { logTraceJson as LogTraceJson } from './node-log.js';
import { renderReport } from './reporter.js';
import type { RingOptions } from './ring-options.js';
import { printable, shouldShow } from './run.js';
import { TransferMeter } from './transfer-meter.js';

/** Lines kept for the redrawn reporter screen. */
const SCREEN_LOG_LINES = 200;
const PALETTE = [39, 208, 76, 170, 220, 45, 203, 141, 118, 215, 81, 199];

type Output = NonNullable<RingOptions['output']>;

export class RingOutput {
  /** The exit code once the reader has gone (0 for a closed pipe); nothing is written after. */
  gone: number | undefined;
  /** Told the exit code when the reader goes. */
  onGone: ((code: number) => void) | undefined;
  /** The console once it reads: on a terminal a printed line redraws its prompt. */
  rl: readline.Interface | undefined;
  /** The reporter is on (`--reporter`, the console's watch). */
  watching: boolean;
  /** Which peer lines are shown; the console's `pings on|off` changes it. */
  readonly show: LineFilter;
  /** A terminal that gets colours and the redrawn screen (not with --json or --log-format json). */
  readonly tty: boolean;
  private readonly screen: string[] = [];
  private lastReport = '';
  private ctl: RingController | undefined;

  /** --log-format json loads pino: each line a pino object; like --json, no redrawn screen and no colours. */
  static async open(o: RingOptions): Promise<RingOutput> {
    const jsonLog = o.logFormat === 'json' ? await import('./node-log.js') : undefined;
    const output = o.output ?? process.stdout;
    return new RingOutput(o, output, jsonLog?.jsonLogger(output), jsonLog?.logTraceJson);
  }

  private constructor(
    private readonly o: RingOptions,
    private readonly output: Output,
    private readonly logger: Logger | undefined,
    private readonly logTraceJson: typeof LogTraceJson | undefined,
  ) {
    this.tty = !!output.isTTY && !o.json && !logger;
    this.watching = o.reporter;
    this.show = { pingLines: o.pingLines === true, debug: o.debug };
    output.on('error', (err: NodeJS.ErrnoException) => {
      this.gone ??= err.code === 'EPIPE' ? 0 : 1;
      this.onGone?.(this.gone);
    });
  }

  /** A line of text; on a terminal with the reporter on, kept for the screen's next redraw. */
  write(text: string): void {
    if (this.gone !== undefined) return;
    if (this.watching && this.tty) {
      this.screen.push(text);
      if (this.screen.length > SCREEN_LOG_LINES) this.screen.splice(0, this.screen.length - SCREEN_LOG_LINES);
      return;
    }
    if (this.rl && this.tty) {
      readline.clearLine(this.output, 0);
      readline.cursorTo(this.output, 0);
      this.output.write(text + '\n');
      this.rl.prompt(true);
    } else {
      this.output.write(text + '\n');
    }
  }

  json(obj: object): void {
    if (this.gone === undefined) this.output.write(JSON.stringify(obj) + '\n');
  }

  /** What the ring itself says (not a peer): a console object, a log line or a line of text. */
  say(text: string): void {
    if (this.o.json) this.json({ type: 'console', text });
    else if (this.logger) this.gone === undefined && this.logger.info({ event: 'console' }, text);
    else this.write(text);
  }

  /** A line from another slice's process: already JSON with --json or --log-format json, else text. */
  passOn(line: string): void {
    if (this.o.json || this.logger) this.gone === undefined && this.output.write(line + '\n');
    else this.write(line);
  }

  /**
   * Prints the peers' traces from now on (and with --json every state); `width` lines the ids up:
   * `[ 2]` in the reference ring, `[  2]` once ids reach three digits.
   */
  follow(ctl: RingController, width: number): void {
    this.ctl = ctl;
    const meter = new TransferMeter();
    const tag = (peer: string) => {
      const t = `[${peer.padStart(width)}]`;
      return this.tty ? `\x1b[38;5;${PALETTE[(/^\d+$/.test(peer) ? Number(peer) : parseInt(peer.slice(-4), 16)) % PALETTE.length]}m${t}\x1b[0m` : t;
    };
    ctl.on('trace', (v: TraceView, raw: PeerTrace) => {
      const lines = v.lines.filter((l) => shouldShow(l.level, this.show));
      if (this.o.json) {
        if (lines.length > 0 || v.lines.length === 0) this.json({ type: 'trace', ...v, lines });
        return;
      }
      if (this.logger) return void (this.gone === undefined && this.logTraceJson!(this.logger, raw, ctl.space, this.show, meter, v.peer));
      for (const l of lines) this.write(`${tag(v.peer)} ${printable(l.text)}`);
      for (const l of meter.lines(raw.id, raw.at, raw.trace)) this.write(`${tag(v.peer)} ${l}`);
    });
    if (this.o.json) ctl.on('state', (s: RingState) => this.json(s));
  }

  /** The reporter, while it is on and the ring runs: the whole screen on a terminal, else each change. */
  drawReport(): void {
    const ctl = this.ctl;
    if (!ctl || !this.watching || ctl.phase !== 'running') return;
    const text = renderReport(ctl.state());
    if (this.o.json || this.logger) {
      // --json carries the structured state ({"type":"state"}) on every change instead; JSON lines have no screen
    } else if (this.tty) {
      const rows = this.output.rows ?? 40;
      const reportLines = text.split('\n');
      const logRoom = Math.max(3, rows - reportLines.length - 3);
      this.output.write('\x1b[2J\x1b[H' + text + '\n\n' + this.screen.slice(-logRoom).join('\n') + '\n');
      this.rl?.prompt(true);
    } else if (text !== this.lastReport) {
      this.output.write(`--- ring at ${((ctl.sim ? ctl.sim.now() : Date.now()) / 1000).toFixed(1)} s ---\n${text}\n`);
    }
    this.lastReport = text;
  }

  /** The console's watch: turning it off on a terminal prints the lines the screen kept. */
  toggleWatch(): void {
    this.watching = !this.watching;
    if (!this.watching && this.tty) this.screen.splice(0).forEach((l) => this.output.write(l + '\n'));
    this.say(`Reporter ${this.watching ? 'on' : 'off'}`);
    this.lastReport = '';
    this.drawReport();
  }
}
