// `cdht ring`: a whole ring in one process, driven through the RingController by a console,
// watched as prefixed (and coloured) peer lines, the reporter, `--json` or the web page.
// Runs on real sockets or on the simulator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import * as readline from 'node:readline';
import { RingController } from '../control/ring-controller.js';
import type { RingState, TraceView } from '../control/view-types.js';
import { DEFAULT_RING_PEERS, DEFAULT_SIM_SEED, settingsOf, type PeerSettings } from '../core/config.js';
import { SPEC_BITS } from '../core/id-space.js';
import { identitiesFromDir, throwawayIdentities } from '../security/ring-identities.js';
import type { Id } from '../core/id-space.js';
import type { PeerTrace } from '../peer.js';
import { REFERENCE_RING, sliceRange, type RingSlice } from '../testnet.js';
import { SimNetwork } from '../transport/sim/network.js';
import { mulberry32 } from '../util/prng.js';
import { DEFAULT_WEB_HOST, startWebServer } from '../web/server.js';
import type { WebServer } from '../web/server.js';
import { complete, runCommand } from './console.js';
import type { ConsoleHost } from './console.js';
import { renderReport } from './reporter.js';
import { printable, shouldShow } from './run.js';
import { TransferMeter } from './transfer-meter.js';
import { startSlices, type SliceProcesses } from './ring-processes.js';
import type { logTraceJson as LogTraceJson } from './node-log.js';
import type { LogFormat } from './args.js';

/** What `cdht ring` runs; its peers' settings (PeerSettings) reach every peer as ringPlan checked them. */
export interface RingOptions extends PeerSettings {
  ids?: Id[];
  random?: number;
  intervalS: number;
  basePort: number;
  host: string;
  dataDir?: string;
  sharedDir: boolean;
  sim: boolean;
  speed: number;
  seed?: number;
  /** Ping lines: hidden unless true (the console's `pings on` shows them). */
  pingLines?: boolean;
  debug: boolean;
  json: boolean;
  /** json: pino lines (one object a line, the trace's kind as `event`) instead of text; not with --json. */
  logFormat?: LogFormat;
  reporter: boolean;
  pingMisses: number;
  bits?: number;
  /** A private ring: a throwaway authority in memory (--secure) ... */
  secure?: boolean;
  /** ... or the certificates in this directory (--tls DIR). */
  tlsDir?: string;
  /** Serve the web page (`--web`). */
  web?: boolean;
  webHost?: string;
  /** undefined: 8080, or any free port when 8080 is taken. */
  webPort?: number;
  /** false: plan the ring and wait for Start (from the page or the console). */
  start?: boolean;
  /** One ring over this many processes: this one runs slice 0 and starts the others (`--processes`). */
  processes?: number;
  /** This process runs only this share of the --random N peers (`--slice I/P`, one terminal a slice). */
  slice?: RingSlice;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream & { isTTY?: boolean; rows?: number };
}

export const DEFAULT_WEB_PORT = 8080;
const REPORT_EVERY_MS = 1000;
/** Lines kept for the redrawn reporter screen. */
const SCREEN_LOG_LINES = 200;
const PALETTE = [39, 208, 76, 170, 220, 45, 203, 141, 118, 215, 81, 199];

export function pickIds(n: number, random: () => number): Id[] {
  const pool = Array.from({ length: 256 }, (_, i) => BigInt(i));
  const out: Id[] = [];
  for (let i = 0; i < n; i++) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out.sort((a, b) => (a < b ? -1 : 1));
}

export async function runRing(o: RingOptions): Promise<number> {
  const input = o.input ?? process.stdin;
  const output = o.output ?? process.stdout;
  // --log-format json: each line a pino object; like --json, no redrawn screen and no colours
  const jsonLog = o.logFormat === 'json' ? await import('./node-log.js') : undefined;
  const logger = jsonLog?.jsonLogger(output);
  const logTraceJson: typeof LogTraceJson | undefined = jsonLog?.logTraceJson;
  const tty = !!output.isTTY && !o.json && !logger;
  // A reader that went away (`| head -2`, jq stopped with Ctrl+C) ends the ring quietly, whenever it goes.
  let gone: number | undefined;
  let stopRing: ((code: number) => void) | undefined;
  output.on('error', (err: NodeJS.ErrnoException) => {
    gone ??= err.code === 'EPIPE' ? 0 : 1;
    stopRing?.(gone);
  });
  const identities = o.tlsDir ? identitiesFromDir(o.tlsDir) : o.secure ? await throwawayIdentities() : undefined;
  // --random without --seed still replays: the seed is chosen here and printed
  const slice = o.slice ?? (o.processes ? { index: 0, of: o.processes } : undefined);
  const seed = o.seed ?? (o.random !== undefined ? Math.floor(Math.random() * 2 ** 32) : undefined);
  const ctlOpts = {
    runtime: o.sim ? ('sim' as const) : ('node' as const),
    ...(o.sim ? { seed: seed ?? DEFAULT_SIM_SEED, speed: o.speed } : {}),
    pingIntervalMs: o.intervalS * 1000,
    basePort: o.basePort,
    host: o.host,
    perPeerDirs: !o.sharedDir,
    ...settingsOf(o),
    ...(o.bits !== undefined ? { bits: o.bits } : {}),
    ...(identities ? { secure: true, identityFor: identities.identityFor, prepareIdentity: identities.prepare } : {}),
    // a ring over processes starts settled: every peer knows its true successors and fingers from the
    // start, wherever they run, rather than learning a ring of thousands by walking it
    ...(slice ? { slice, settled: true } : {}),
  };
  const sim = o.sim ? new SimNetwork({ seed: seed ?? DEFAULT_SIM_SEED }) : undefined;
  const random = sim ? () => sim.random() : seed !== undefined ? mulberry32(seed) : Math.random;
  const big = (o.bits ?? SPEC_BITS) > SPEC_BITS;
  const ids = o.ids ?? (big ? [] : o.random ? pickIds(o.random, random) : [...REFERENCE_RING]);
  const tempDir = o.dataDir === undefined && !o.sim ? mkdtempSync(joinPath(tmpdir(), 'cdht-ring-')) : undefined;
  const dataDir = o.dataDir ?? tempDir ?? 'data';
  const ctl = new RingController({ ...ctlOpts, ...(sim ? { sim } : {}), dataDir, ids, ...(big && !o.ids ? { count: o.random ?? DEFAULT_RING_PEERS } : {}) });
  /** Prefixes line up: `[ 2]` in the reference ring, `[  2]` once ids reach three digits. */
  const width = big ? 10 : ids.some((id) => id >= 100n) ? 3 : 2;
  const screen: string[] = [];
  let rl: readline.Interface | undefined;
  let watching = o.reporter;
  const show = { pingLines: o.pingLines === true, debug: o.debug };

  const write = (text: string) => {
    if (gone !== undefined) return;
    if (watching && tty) {
      screen.push(text);
      if (screen.length > SCREEN_LOG_LINES) screen.splice(0, screen.length - SCREEN_LOG_LINES);
      return;
    }
    if (rl && tty) {
      readline.clearLine(output, 0);
      readline.cursorTo(output, 0);
      output.write(text + '\n');
      rl.prompt(true);
    } else {
      output.write(text + '\n');
    }
  };
  const json = (obj: object) => gone === undefined && output.write(JSON.stringify(obj) + '\n');
  const say = (text: string) => (o.json ? json({ type: 'console', text }) : logger ? gone === undefined && logger.info({ event: 'console' }, text) : write(text));

  // above 8 bits ports are not derived from ids: each peer takes the next port from the base
  const ports = big ? `ports from ${o.basePort} up, one a peer` : `ports ${o.basePort}+id`;
  const where = o.sim ? `the simulator (seed ${seed ?? DEFAULT_SIM_SEED}, ${o.speed}x real time)` : `${o.host}, ${ports}`;
  const listed = ids.length > 0 && ids.length <= 32 ? ` (${ids.join(', ')})` : '';
  const count = ids.length || (o.random ?? DEFAULT_RING_PEERS);
  say(`cdht ring: ${count} peer${count === 1 ? '' : 's'}${listed}, ${o.bits ?? SPEC_BITS}-bit ids, on ${where}, ping interval ${o.intervalS} s`);
  if (slice) {
    const { from, to } = sliceRange(count, slice);
    const others = o.processes ? `; this process starts the other ${o.processes - 1} (cdht ring --slice I/${o.processes})` : '';
    say(`One ring over ${slice.of} processes: this is slice ${slice.index}/${slice.of}, ${to - from} peers on ports ${o.basePort + from} to ${o.basePort + to - 1}${others}. The console drives this slice's peers; lookups and transfers go round the whole ring`);
  }
  if (o.random !== undefined && o.seed === undefined) say(`Random ids from seed ${seed} (replay with --seed ${seed})`);
  say(identities ? `This is ${identities.description}` : 'This ring is open: messages are not authenticated or encrypted (--secure or --tls DIR makes a private ring)');
  const folder = o.sim ? 'in memory' : `${dataDir}${tempDir ? ' (temporary: removed on exit)' : ''}`;
  say(`Data: ${folder}${o.sharedDir ? ' (shared)' : ' (one folder per peer: peer-<id>)'}. Ping lines ${show.pingLines ? 'shown' : 'hidden (pings on shows them)'}. Type help for commands.`);

  const meter = new TransferMeter();
  const tag = (peer: string) => {
    const t = `[${peer.padStart(width)}]`;
    return tty ? `\x1b[38;5;${PALETTE[(/^\d+$/.test(peer) ? Number(peer) : parseInt(peer.slice(-4), 16)) % PALETTE.length]}m${t}\x1b[0m` : t;
  };
  ctl.on('trace', (v: TraceView, raw: PeerTrace) => {
    const lines = v.lines.filter((l) => shouldShow(l.level, show));
    if (o.json) {
      if (lines.length > 0 || v.lines.length === 0) json({ type: 'trace', ...v, lines });
      return;
    }
    if (logger) return gone === undefined && logTraceJson!(logger, raw, ctl.space, show, meter, v.peer);
    for (const l of lines) write(`${tag(v.peer)} ${printable(l.text)}`);
    for (const l of meter.lines(raw.id, raw.at, raw.trace)) write(`${tag(v.peer)} ${l}`);
  });
  if (o.json) ctl.on('state', (s: RingState) => json(s));

  let lastReport = '';
  const drawReport = () => {
    if (!watching || ctl.phase !== 'running') return;
    const text = renderReport(ctl.state());
    if (o.json || logger) {
      // --json carries the structured state ({"type":"state"}) on every change instead; JSON lines have no screen
    } else if (tty) {
      const rows = output.rows ?? 40;
      const reportLines = text.split('\n');
      const logRoom = Math.max(3, rows - reportLines.length - 3);
      output.write('\x1b[2J\x1b[H' + text + '\n\n' + screen.slice(-logRoom).join('\n') + '\n');
      rl?.prompt(true);
    } else if (text !== lastReport) {
      output.write(`--- ring at ${((ctl.sim ? ctl.sim.now() : Date.now()) / 1000).toFixed(1)} s ---\n${text}\n`);
    }
    lastReport = text;
  };

  let web: WebServer | undefined;
  /** The other slices' processes (`--processes`); the first failure of one, if any, ends the ring with 1. */
  let slices: SliceProcesses | undefined;
  let sliceFailed = false;
  if (o.processes && o.processes > 1) {
    slices = startSlices(
      o,
      o.processes,
      (line) => (o.json || logger ? gone === undefined && output.write(line + '\n') : write(line)),
      (text) => {
        sliceFailed = true;
        process.stderr.write(`cdht: error: ${text}; stopping the ring\n`);
        stopRing?.(1);
      },
    );
  }
  const cleanUp = async () => {
    await slices?.stop();
    await web?.close();
    await ctl.close();
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  };

  if (o.start !== false) {
    try {
      await ctl.start();
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const hint = /in use/.test(msg) ? ` (another ring on ports ${o.basePort}+id? choose others with --base-port)` : '';
      process.stderr.write(`cdht: error: ${msg.replace(/^The ring could not start: /, 'cannot start the ring: ')}${hint}\n`);
      await cleanUp();
      return 1;
    }
  }
  if (sliceFailed) {
    await cleanUp();
    return 1;
  }
  if (o.web) {
    try {
      web = await startWebServer({ controller: ctl, host: o.webHost ?? DEFAULT_WEB_HOST, port: o.webPort ?? DEFAULT_WEB_PORT, fallbackToFreePort: o.webPort === undefined });
    } catch (err) {
      process.stderr.write(`cdht: error: cannot serve the web page: ${err instanceof Error ? err.message : String(err)}\n`);
      await cleanUp();
      return 1;
    }
    say(`Web page: ${web.url}${web.port !== (o.webPort ?? DEFAULT_WEB_PORT) ? ` (port ${o.webPort ?? DEFAULT_WEB_PORT} is taken)` : ''}`);
  }
  if (o.json) json(ctl.state());
  const reporter = setInterval(drawReport, REPORT_EVERY_MS);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      clearInterval(reporter);
      rl?.close();
      await cleanUp();
      resolve(code);
    };
    stopRing = (code) => void stop(code);
    if (gone !== undefined) stopRing(gone);
    else if (sliceFailed) stopRing(1);
    const host: ConsoleHost = {
      ctl,
      say,
      showRing: () => (ctl.phase === 'running' ? renderReport(ctl.state()).split('\n').forEach((l) => say(l)) : say(`The ring is ${ctl.phase}`)),
      toggleWatch: () => {
        watching = !watching;
        if (!watching && tty) screen.splice(0).forEach((l) => output.write(l + '\n'));
        say(`Reporter ${watching ? 'on' : 'off'}`);
        lastReport = '';
        drawReport();
      },
      setPings: (on) => (show.pingLines = on),
      pings: () => show.pingLines,
      exit: () => void stop(0),
      random,
    };
    rl = readline.createInterface({ input, output, terminal: tty, historySize: 500, completer: (line: string) => complete(ctl, line) });
    if (tty) {
      rl.setPrompt('cdht> ');
      rl.prompt();
    }
    rl.on('line', (line) => {
      void runCommand(host, line).then(() => {
        if (tty && !stopping) rl?.prompt(true);
      });
    });
    // with the page served, the end of input leaves the ring running (Ctrl+C stops it)
    rl.on('close', () => (web ? undefined : void stop(0)));
    let interrupts = 0;
    const onInterrupt = () => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      say('Stopping the ring (Ctrl+C again to force)');
      void stop(0);
    };
    rl.on('SIGINT', onInterrupt);
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);
    drawReport();
  });
}
