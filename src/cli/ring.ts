// `cdht ring`: a whole ring in one process, with prefixed (and coloured) peer lines, the
// reporter, and a console to drive it. Runs on real sockets or on the simulator.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import * as readline from 'node:readline';
import type { RoutingName } from '../core/context.js';
import type { Id } from '../core/id-space.js';
import { SPEC_SPACE } from '../core/id-space.js';
import type { PeerLine } from '../peer.js';
import { SimNetwork } from '../transport/sim/network.js';
import { mulberry32 } from '../util/prng.js';
import { createTestnet, REFERENCE_RING } from '../testnet.js';
import type { Testnet } from '../testnet.js';
import { complete, runCommand } from './console.js';
import type { ConsoleHost } from './console.js';
import { renderReport } from './reporter.js';
import { printable, shouldShow } from './run.js';

export interface RingOptions {
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
  /** undefined: shown for rings of at most AUTO_PING_LINES_MAX peers. */
  pingLines?: boolean;
  debug: boolean;
  json: boolean;
  reporter: boolean;
  pingMisses: number;
  bits?: number;
  routing?: RoutingName;
  successors?: number;
  replicas?: number;
  maxFileBytes?: number;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream & { isTTY?: boolean; rows?: number };
}

const AUTO_PING_LINES_MAX = 16;
const REPORT_EVERY_MS = 1000;
/** The simulator advances in slices of this much real time. */
const SIM_SLICE_MS = 50;
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
  const tty = !!output.isTTY && !o.json;
  const sim = o.sim ? new SimNetwork({ seed: o.seed ?? 1 }) : undefined;
  const random = sim ? () => sim.random() : o.seed !== undefined ? mulberry32(o.seed) : Math.random;
  const big = (o.bits ?? 8) > 8;
  const ids = o.ids ?? (big ? undefined : o.random ? pickIds(o.random, random) : [...REFERENCE_RING]);
  const count = ids ? ids.length : (o.random ?? 16);
  const pingLines = o.pingLines ?? count <= AUTO_PING_LINES_MAX;
  const dataDir = o.dataDir ?? (sim ? 'data' : mkdtempSync(joinPath(tmpdir(), 'cdht-ring-')));
  /** Prefixes line up: `[ 2]` in the reference ring, `[  2]` once ids reach three digits. */
  const width = big ? 10 : ids!.some((id) => id >= 100n) ? 3 : 2;
  const screen: string[] = [];
  let rl: readline.Interface | undefined;
  let watching = o.reporter;

  const write = (text: string) => {
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
  const say = (text: string) => (o.json ? output.write(JSON.stringify({ type: 'console', text }) + '\n') : write(text));

  let net: Testnet;
  try {
    net = await createTestnet({
      ...(ids ? { ids } : { bits: o.bits!, count: o.random ?? 16 }),
      ...(o.routing ? { routing: o.routing } : {}),
      ...(o.successors !== undefined ? { successors: o.successors } : {}),
      ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
      ...(o.maxFileBytes !== undefined ? { maxFileBytes: o.maxFileBytes } : {}),
      runtime: sim ? 'sim' : 'node',
      ...(sim ? { sim } : {}),
      pingIntervalMs: o.intervalS * 1000,
      basePort: o.basePort,
      host: o.host,
      dataDir,
      perPeerDirs: !o.sharedDir,
      pingMisses: o.pingMisses,
    });
  } catch (err) {
    process.stderr.write(`cdht: error: cannot start the ring: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  const show = { pingLines, debug: o.debug };
  net.on('line', (l: PeerLine) => {
    if (!shouldShow(l.level, show)) return;
    if (o.json) return void output.write(JSON.stringify({ type: 'line', t: l.at, peer: Number(l.id), level: l.level, text: l.text }) + '\n');
    const tag = `[${String(l.id).padStart(width)}]`;
    const color = PALETTE[Number(l.id) % PALETTE.length];
    const text = printable(l.text);
    write(tty ? `\x1b[38;5;${color}m${tag}\x1b[0m ${text}` : `${tag} ${text}`);
  });

  const files = (): Map<Id, string[]> => {
    const out = new Map<Id, string[]>();
    const running = net.runningIds();
    const cache = new Map<string, string[]>();
    for (const id of running) {
      const dir = net.dataDirOf(id);
      let names = cache.get(dir);
      if (!names) {
        try {
          names = (sim ? sim.disk.list(dir) : readdirSync(dir)).filter((f: string) => /^\d{4}\.pdf$/.test(f)).sort();
        } catch {
          names = [];
        }
        cache.set(dir, names);
      }
      out.set(id, o.sharedDir ? names.filter((f) => SPEC_SPACE.ownerOf(SPEC_SPACE.keyOf(f.slice(0, 4)), running) === id) : names);
    }
    return out;
  };
  const report = () => {
    const held = new Map([...files()].map(([id, f]) => [id, f.length]));
    const peers = [...net.peers.values()].filter((p) => p.isRunning).map((p) => p.snapshot());
    return renderReport({ peers, files: held });
  };

  const where = sim ? `the simulator (seed ${sim.seed}, ${o.speed}x real time)` : `${o.host}, ports ${o.basePort}+id`;
  const running = net.runningIds();
  const listed = running.length <= 32 ? ` (${running.map((id) => net.space.format(id)).join(', ')})` : '';
  say(`cdht ring: ${running.length} peers${listed}, ${net.space.bits}-bit ids, on ${where}, ping interval ${o.intervalS} s`);
  say(`Data: ${sim ? 'in memory' : dataDir}${o.sharedDir ? ' (shared)' : ' (one folder per peer: peer-<id>)'}. Type help for commands.`);

  // the simulator runs in slices of real time, `speed` times faster
  let pacing: Promise<void> | undefined;
  const pacer = sim
    ? setInterval(() => {
        if (!pacing) pacing = sim.runFor(SIM_SLICE_MS * o.speed).finally(() => (pacing = undefined));
      }, SIM_SLICE_MS)
    : undefined;

  let lastReport = '';
  const drawReport = () => {
    if (!watching) return;
    const text = report();
    if (o.json) {
      if (text !== lastReport) output.write(JSON.stringify({ type: 'report', text }) + '\n');
    } else if (tty) {
      const rows = output.rows ?? 40;
      const reportLines = text.split('\n');
      const logRoom = Math.max(3, rows - reportLines.length - 3);
      output.write('\x1b[2J\x1b[H' + text + '\n\n' + screen.slice(-logRoom).join('\n') + '\n');
      rl?.prompt(true);
    } else if (text !== lastReport) {
      output.write(`--- ring at ${((sim ? sim.now() : Date.now()) / 1000).toFixed(1)} s ---\n${text}\n`);
    }
    lastReport = text;
  };
  const reporter = setInterval(drawReport, REPORT_EVERY_MS);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      clearInterval(reporter);
      if (pacer) clearInterval(pacer);
      if (pacing) await pacing;
      rl?.close();
      await net.close();
      resolve(code);
    };
    const host: ConsoleHost = {
      net,
      say,
      showRing: () => report().split('\n').forEach((l) => say(l)),
      toggleWatch: () => {
        watching = !watching;
        if (!watching && tty) screen.splice(0).forEach((l) => output.write(l + '\n'));
        say(`Reporter ${watching ? 'on' : 'off'}`);
        lastReport = '';
        drawReport();
      },
      exit: () => void stop(0),
      files,
      random,
    };
    rl = readline.createInterface({
      input,
      output,
      terminal: tty,
      historySize: 500,
      completer: (line: string) => complete(net, line),
    });
    if (tty) {
      rl.setPrompt('cdht> ');
      rl.prompt();
    }
    rl.on('line', (line) => {
      runCommand(host, line);
      if (tty && !stopping) rl?.prompt();
    });
    rl.on('close', () => void stop(0));
    let interrupts = 0;
    const onInterrupt = () => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      say('Stopping the ring (Ctrl+C again to force)');
      void stop(0);
    };
    rl.on('SIGINT', onInterrupt);
    process.on('SIGINT', onInterrupt);
    drawReport();
  });
}
