// `cdht ring`: a whole ring in one process, driven through the RingController by a console,
// watched as prefixed (and coloured) peer lines, the reporter, `--json` or the web page
// (ring-output.ts prints). Runs on real sockets or on the simulator.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import * as readline from 'node:readline';
import { RingController } from '../control/ring-controller.js';
import { DEFAULT_RING_PEERS, DEFAULT_SIM_SEED, settingsOf } from '../core/config.js';
import { SPEC_BITS, type Id } from '../core/id-space.js';
import { identitiesFromDir, throwawayIdentities, type RingIdentities } from '../security/ring-identities.js';
import { REFERENCE_RING, sliceRange, type RingSlice } from '../testnet.js';
import { mulberry32 } from '../util/prng.js';
import type { WebServer } from '../web/server.js';
import { complete, runCommand } from './console.js';
import type { ConsoleHost } from './console.js';
import { renderReport } from './reporter.js';
import { startSlices, type SliceProcesses } from './ring-processes.js';
import { DEFAULT_WEB_PORT, type RingOptions } from './ring-options.js';
import { RingOutput } from './ring-output.js';

const REPORT_EVERY_MS = 1000;

/** A ring planned from its options, not started yet. */
interface PlannedRing {
  ctl: RingController;
  /** The 8-bit ids asked for or drawn; empty above 8 bits, where ids come from addresses. */
  ids: Id[];
  /** Ids above 8 bits (ports from the base up, one a peer, not base + id). */
  big: boolean;
  seed: number | undefined;
  /** The share of the ring this process runs (`--slice`, or slice 0 of `--processes`). */
  slice: RingSlice | undefined;
  identities: RingIdentities | undefined;
  dataDir: string;
  /** A folder made for this run (no --data-dir), removed on exit. */
  tempDir: string | undefined;
}

/** What is open while the ring runs, for clean-up to close. */
interface Held {
  ctl: RingController;
  tempDir: string | undefined;
  /** The other slices' processes (`--processes`). */
  slices?: SliceProcesses;
  web?: WebServer;
}

export async function runRing(o: RingOptions): Promise<number> {
  const out = await RingOutput.open(o);
  const ring = await planRing(o);
  introduce(o, ring, out);
  // prefixes line up: `[ 2]` in the reference ring, `[  2]` once ids reach three digits
  out.follow(ring.ctl, ring.big ? 10 : ring.ids.some((id) => id >= 100n) ? 3 : 2);
  const held: Held = { ctl: ring.ctl, tempDir: ring.tempDir };
  /** Set once the console reads; a stop asked for before then is acted on when it does. */
  let stopRing: ((code: number) => void) | undefined;
  out.onGone = (code) => stopRing?.(code);
  // the first failure of another slice's process ends the ring with 1
  let sliceFailed = false;
  if (o.processes && o.processes > 1) {
    held.slices = startSlices(o, o.processes, (line) => out.passOn(line), (text) => {
      sliceFailed = true;
      process.stderr.write(`cdht: error: ${text}; stopping the ring\n`);
      stopRing?.(1);
    });
  }
  if (!(await startPeers(o, held)) || sliceFailed || !(await startWeb(o, held, out))) {
    await cleanUp(held);
    return 1;
  }
  if (o.json) out.json(ring.ctl.state());
  const reporter = setInterval(() => out.drawReport(), REPORT_EVERY_MS);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      clearInterval(reporter);
      out.rl?.close();
      await cleanUp(held);
      resolve(code);
    };
    stopRing = (code) => void stop(code);
    if (out.gone !== undefined) stopRing(out.gone);
    else if (sliceFailed) stopRing(1);
    readConsole(o, ring, held, out, { stop: (code) => void stop(code), stopping: () => stopping });
  });
}

/** The controller, ids, seed, identities and data folder `o` asks for. */
async function planRing(o: RingOptions): Promise<PlannedRing> {
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
  const big = (o.bits ?? SPEC_BITS) > SPEC_BITS;
  const tempDir = o.dataDir === undefined && !o.sim ? mkdtempSync(joinPath(tmpdir(), 'cdht-ring-')) : undefined;
  const dataDir = o.dataDir ?? tempDir ?? 'data';
  // random ids and the console's random choices: the controller's simulator's PRNG, else the seed's
  const plan = o.ids ? { ids: o.ids } : big ? { count: o.random ?? DEFAULT_RING_PEERS } : o.random ? { randomIds: o.random } : { ids: REFERENCE_RING };
  const ctl = new RingController({ ...ctlOpts, dataDir, ...plan, ...(seed !== undefined ? { random: mulberry32(seed) } : {}) });
  const ids = o.ids ?? (big ? [] : ctl.plannedIds());
  return { ctl, ids, big, seed, slice, identities, dataDir, tempDir };
}

/** The opening lines: which peers, where, the slice, the seed to replay, private or open, the data. */
function introduce(o: RingOptions, ring: PlannedRing, out: RingOutput): void {
  const { ids, seed, slice, identities } = ring;
  const say = (text: string) => out.say(text);
  // above 8 bits ports are not derived from ids: each peer takes the next port from the base
  const ports = ring.big ? `ports from ${o.basePort} up, one a peer` : `ports ${o.basePort}+id`;
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
  const folder = o.sim ? 'in memory' : `${ring.dataDir}${ring.tempDir ? ' (temporary: removed on exit)' : ''}`;
  say(`Data: ${folder}${o.sharedDir ? ' (shared)' : ' (one folder per peer: peer-<id>)'}. Ping lines ${out.show.pingLines ? 'shown' : 'hidden (pings on shows them)'}. Type help for commands.`);
}

/** Starts the peers, unless --no-start leaves that to the page or the console; false (told) when they cannot. */
async function startPeers(o: RingOptions, held: Held): Promise<boolean> {
  if (o.start === false) return true;
  try {
    await held.ctl.start();
    return true;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const hint = /in use/.test(msg) ? ` (another ring on ports ${o.basePort}+id? choose others with --base-port)` : '';
    process.stderr.write(`cdht: error: ${msg.replace(/^The ring could not start: /, 'cannot start the ring: ')}${hint}\n`);
    return false;
  }
}

/** With --web, serves the page (loading the web server only then) and says where; false (told) when it cannot. */
async function startWeb(o: RingOptions, held: Held, out: RingOutput): Promise<boolean> {
  if (!o.web) return true;
  const port = o.webPort ?? DEFAULT_WEB_PORT;
  try {
    const { startWebServer, DEFAULT_WEB_HOST } = await import('../web/server.js');
    held.web = await startWebServer({ controller: held.ctl, host: o.webHost ?? DEFAULT_WEB_HOST, port, fallbackToFreePort: o.webPort === undefined });
  } catch (err) {
    process.stderr.write(`cdht: error: cannot serve the web page: ${err instanceof Error ? err.message : String(err)}\n`);
    return false;
  }
  out.say(`Web page: ${held.web.url}${held.web.port !== port ? ` (port ${port} is taken)` : ''}`);
  return true;
}

async function cleanUp(held: Held): Promise<void> {
  await held.slices?.stop();
  await held.web?.close();
  await held.ctl.close();
  if (held.tempDir) rmSync(held.tempDir, { recursive: true, force: true });
}

/**
 * The console: one command a line from the input (with a prompt and completion on a terminal).
 * The end of input stops the ring unless the page is served; Ctrl+C and SIGTERM stop it, twice forces.
 */
function readConsole(o: RingOptions, ring: PlannedRing, held: Held, out: RingOutput, end: { stop: (code: number) => void; stopping: () => boolean }): void {
  const { ctl } = ring;
  const say = (text: string) => out.say(text);
  const host: ConsoleHost = {
    ctl,
    say,
    showRing: () => (ctl.phase === 'running' ? renderReport(ctl.state()).split('\n').forEach((l) => say(l)) : say(`The ring is ${ctl.phase}`)),
    toggleWatch: () => out.toggleWatch(),
    setPings: (on) => (out.show.pingLines = on),
    pings: () => out.show.pingLines,
    exit: () => end.stop(0),
    random: ctl.random,
  };
  const tty = out.tty;
  const rl = readline.createInterface({ input: o.input ?? process.stdin, output: o.output ?? process.stdout, terminal: tty, historySize: 500, completer: (line: string) => complete(ctl, line) });
  out.rl = rl;
  if (tty) {
    rl.setPrompt('cdht> ');
    rl.prompt();
  }
  rl.on('line', (line) => {
    void runCommand(host, line).then(() => {
      if (tty && !end.stopping()) rl.prompt(true);
    });
  });
  // with the page served, the end of input leaves the ring running (Ctrl+C stops it)
  rl.on('close', () => (held.web ? undefined : end.stop(0)));
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    say('Stopping the ring (Ctrl+C again to force)');
    end.stop(0);
  };
  rl.on('SIGINT', onInterrupt);
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  out.drawReport();
}
