// Turns the words typed after `cdht init|join` into PeerOptions, or into one sentence that says
// which argument is wrong and what it was. No commander here: main.ts reports what this returns.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_BASE_PORT, DEFAULT_HOST } from '../core/contact.js';
import type { PeerOptions } from '../peer.js';
import type { RingOptions } from './ring.js';

export const MIN_BASE_PORT = 1;
/** Peer 255 must still fit below 65536. */
export const MAX_BASE_PORT = 65535 - 255;
export const DEFAULT_PING_MISSES = 3;
export const MAX_PING_MISSES = 100;
/** The wire carries a host in at most 255 bytes. */
const MAX_HOST_BYTES = 255;

/** The options commander collects for both commands (strings until checked here). */
export interface RawOptions {
  basePort?: string;
  /** 'env' when --base-port came from CDHT_BASE_PORT, so the message can say so. */
  basePortSource?: string;
  host?: string;
  dataDir?: string;
  pingMisses?: string;
  pingLines: boolean;
  debug?: boolean;
  shortcuts?: boolean;
}

/** What the CLI does with the lines a peer prints. */
export interface LineFilter {
  pingLines: boolean;
  debug: boolean;
}

export interface RunPlan {
  peer: PeerOptions;
  show: LineFilter;
}

export class ArgumentProblem extends Error {}

function problem(message: string): never {
  throw new ArgumentProblem(message);
}

const quoted = (v: string): string => JSON.stringify(v).replace(/^"|"$/g, "'");

export function parsePeerId(name: string, value: string): number {
  const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= 255)) problem(`${name} must be a peer id, an integer from 0 to 255 (got ${quoted(value)})`);
  return n;
}

/** Seconds, fractions allowed; returns milliseconds. */
export function parseInterval(value: string, name = 'PING_INTERVAL'): number {
  const seconds = /^(\d+(\.\d*)?|\.\d+)$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    problem(`${name} must be a number of seconds greater than 0, such as 30 or 0.5 (got ${quoted(value)})`);
  }
  return seconds * 1000;
}

export function parseIntegerIn(name: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) problem(`${name} must be an integer from ${min} to ${max} (got ${quoted(value)})`);
  return n;
}

function parseHost(value: string, name = '--host'): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0 || bytes > MAX_HOST_BYTES || /[\s\u0000-\u001f\u007f]/.test(value)) {
    problem(`${name} must be an address or host name of 1 to ${MAX_HOST_BYTES} bytes without spaces (got ${quoted(value)})`);
  }
  return value;
}

function parseDataDir(value: string): string {
  const dir = resolve(value);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    problem(`--data-dir must be an existing directory; ${quoted(value)} does not exist or cannot be read`);
  }
  if (!isDir) problem(`--data-dir must be a directory; ${quoted(value)} is not one`);
  return dir;
}

/** The options both commands share, checked. */
export function commonOptions(o: RawOptions): Omit<PeerOptions, 'id' | 'mode' | 'pingIntervalMs'> & { show: LineFilter } {
  const portName = o.basePortSource === 'env' ? '--base-port (from CDHT_BASE_PORT)' : '--base-port';
  return {
    basePort: o.basePort === undefined ? DEFAULT_BASE_PORT : parseIntegerIn(portName, o.basePort, MIN_BASE_PORT, MAX_BASE_PORT),
    host: o.host === undefined ? DEFAULT_HOST : parseHost(o.host),
    dataDir: parseDataDir(o.dataDir ?? process.cwd()),
    pingMisses: o.pingMisses === undefined ? DEFAULT_PING_MISSES : parseIntegerIn('--ping-misses', o.pingMisses, 1, MAX_PING_MISSES),
    shortcuts: !!o.shortcuts,
    show: { pingLines: o.pingLines !== false, debug: !!o.debug },
  };
}

export function initPlan(words: { peer: string; first: string; second: string; interval: string }, o: RawOptions): RunPlan {
  const id = parsePeerId('PEER', words.peer);
  const first = parsePeerId('FIRST_SUCCESSOR', words.first);
  const second = parsePeerId('SECOND_SUCCESSOR', words.second);
  const pingIntervalMs = parseInterval(words.interval);
  if (first === id) problem(`FIRST_SUCCESSOR must be another peer (got ${first}, the same as PEER)`);
  if (second === first) {
    problem(`SECOND_SUCCESSOR must differ from FIRST_SUCCESSOR (got ${first} twice); in a ring of two, give PEER itself: init ${id} ${first} ${id}`);
  }
  const { show, ...rest } = commonOptions(o);
  return { peer: { id, mode: { kind: 'init', successors: [first, second] }, pingIntervalMs, ...rest }, show };
}

export function joinPlan(words: { peer: string; known: string; interval: string }, o: RawOptions): RunPlan {
  const id = parsePeerId('PEER', words.peer);
  const known = parsePeerId('KNOWN_PEER', words.known);
  const pingIntervalMs = parseInterval(words.interval);
  if (known === id) problem(`KNOWN_PEER must be another peer, already in the ring (got ${id}, the same as PEER)`);
  const { show, ...rest } = commonOptions(o);
  return { peer: { id, mode: { kind: 'join', known }, pingIntervalMs, ...rest }, show };
}

/** The options of `cdht ring`, as commander collects them. */
export interface RawRingOptions {
  peers?: string;
  random?: string;
  interval: string;
  basePort?: string;
  basePortSource?: string;
  host?: string;
  dataDir?: string;
  sharedDir?: boolean;
  sim?: boolean;
  speed: string;
  seed?: string;
  pingLines?: boolean;
  debug?: boolean;
  json?: boolean;
  reporter?: boolean;
  pingMisses?: string;
  web?: boolean;
  webPort?: string;
  webHost?: string;
  start?: boolean;
}

export function ringPlan(o: RawRingOptions): RingOptions {
  if ((o.webPort !== undefined || o.webHost !== undefined) && !o.web) problem('--web-port and --web-host only apply with --web');
  if (o.peers !== undefined && o.random !== undefined) problem('--peers and --random cannot be used together');
  let ids: bigint[] | undefined;
  if (o.peers !== undefined) {
    ids = o.peers.split(',').map((w) => BigInt(parsePeerId('--peers', w.trim())));
    if (new Set(ids).size !== ids.length) problem(`--peers must not repeat an id (got ${quoted(o.peers)})`);
  }
  const random = o.random === undefined ? undefined : parseIntegerIn('--random', o.random, 1, 256);
  const speed = /^(\d+(\.\d*)?|\.\d+)$/.test(o.speed) ? Number(o.speed) : NaN;
  if (!(speed > 0 && speed <= 10_000)) problem(`--speed must be a number above 0, at most 10000 (got ${quoted(o.speed)})`);
  if (o.speed !== '1' && !o.sim) problem('--speed only applies with --sim');
  const common = commonOptions({
    pingLines: true,
    ...(o.basePort !== undefined ? { basePort: o.basePort } : {}),
    ...(o.basePortSource !== undefined ? { basePortSource: o.basePortSource } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
    ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
    ...(o.pingMisses !== undefined ? { pingMisses: o.pingMisses } : {}),
  });
  return {
    ...(ids ? { ids } : {}),
    ...(random !== undefined ? { random } : {}),
    intervalS: parseInterval(o.interval, '--interval') / 1000,
    basePort: common.basePort!,
    host: common.host!,
    ...(o.dataDir !== undefined ? { dataDir: common.dataDir! } : {}),
    sharedDir: !!o.sharedDir,
    sim: !!o.sim,
    speed,
    ...(o.seed !== undefined ? { seed: parseIntegerIn('--seed', o.seed, 0, 2 ** 32 - 1) } : {}),
    ...(o.pingLines !== undefined ? { pingLines: o.pingLines } : {}),
    debug: !!o.debug,
    json: !!o.json,
    reporter: !!o.reporter,
    pingMisses: common.pingMisses!,
    ...(o.web ? { web: true } : {}),
    ...(o.webPort !== undefined ? { webPort: parseIntegerIn('--web-port', o.webPort, 1, 65535) } : {}),
    ...(o.webHost !== undefined ? { webHost: parseHost(o.webHost, '--web-host') } : {}),
    ...(o.start === false ? { start: false } : {}),
  };
}
