// Turns the words typed after `cdht init|join` into PeerOptions, or into one sentence that says
// which argument is wrong and what it was. No commander here: main.ts reports what this returns.
import { isIP } from 'node:net';
import { statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Address, Contact, Target } from '../core/contact.js';
import { CdhtError } from '../core/errors.js';
import { checkConfig, ConfigError, DEFAULT_HOST, MAX_PORT, ROUTINGS, type ConfigField, type RoutingName, type Surface } from '../core/config.js';
import type { Id, IdSpace } from '../core/id-space.js';
import { MAX_BITS, MIN_BITS, SPEC_BITS } from '../core/id-space.js';
import type { PeerOptions } from '../peer.js';
import { loadTlsIdentity } from '../security/ca-files.js';
import { TlsSetupError, type TlsIdentity } from '../security/identity.js';
import { defaultContact, idSpace } from '../space.js';
import { storeDirOf } from '../store-dir.js';
import { ContactProblem, parseAddress, parsePeer } from './contacts.js';
import type { RingOptions } from './ring-options.js';

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
  bits?: string;
  id?: string;
  listen?: string;
  advertise?: string;
  routing?: string;
  successors?: string;
  replicas?: string;
  maxFileSize?: string;
  /** A private ring's certificate directory (--tls, or CDHT_TLS_DIR). */
  tls?: string;
  tlsSource?: string;
  /** --log-format (or CDHT_LOG_FORMAT): text (default) or json. */
  logFormat?: string;
  logFormatSource?: string;
}

/** How a command prints its events: text lines (the specification's), or one JSON object a line. */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function parseLogFormat(text: string, name = '--log-format'): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(text)) problem(`${name} must be ${LOG_FORMATS.join(' or ')} (got ${JSON.stringify(text)})`);
  return text as LogFormat;
}

/** A ring's --log-format: json is pino lines, which --json (the ring's own event objects) is not. */
function ringLogFormat(o: { json?: boolean; logFormat?: string; logFormatSource?: string }): { logFormat?: LogFormat } {
  if (o.logFormat === undefined) return {};
  const name = o.logFormatSource === 'env' ? 'CDHT_LOG_FORMAT' : '--log-format';
  const logFormat = parseLogFormat(o.logFormat, name);
  if (logFormat === 'json' && o.json) problem(`--json and ${name} json cannot be used together: --json prints the ring's state objects, ${name} json log lines`);
  return { logFormat };
}

/** What the CLI does with the lines a peer prints. */
export interface LineFilter {
  pingLines: boolean;
  debug: boolean;
}

export interface RunPlan {
  peer: PeerOptions & { space: IdSpace };
  show: LineFilter;
  /** Said once at start: the ring is open, or a private ring's key file is readable by others. */
  notices: string[];
  /** init and join: text lines (default) or JSON lines. */
  logFormat?: LogFormat;
}

/** A bad argument or option: the CLI prints `error: ` and the message, and exits 2. */
export class ArgumentProblem extends CdhtError {
  constructor(message: string) {
    super('CDHT_ERR_BAD_ARGUMENT', message);
  }
}
ArgumentProblem.prototype.name = 'ArgumentProblem';

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

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size in bytes, with an optional K, M, G or T (powers of 1024), e.g. 500M or 2G. */
export function parseSize(name: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  const n = m ? Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!(n >= 0 && Number.isSafeInteger(n))) problem(`${name} must be a size such as 1048576, 500M or 2G (got ${quoted(value)})`);
  return n;
}

export function parseHost(value: string, name = '--host'): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes === 0 || bytes > MAX_HOST_BYTES || /[\s\u0000-\u001f\u007f]/.test(value)) {
    problem(`${name} must be an address or host name of 1 to ${MAX_HOST_BYTES} bytes without spaces (got ${quoted(value)})`);
  }
  // four dotted numbers mean an IPv4 address, never a name: 999.1.1.1 is a typo, not a host to look up
  if (/^\d+(\.\d+){3}$/.test(value) && isIP(value) === 0) problem(`${name} must be an address or host name; ${quoted(value)} is not an IPv4 address (each part 0 to 255)`);
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

function parseListenAddress(name: string, value: string): Address {
  const a = parseAddress(value);
  if (!a) problem(`${name} must be host:port, such as 127.0.0.2:12002 or [::1]:12002 (got ${quoted(value)})`);
  return a;
}

export function parseBits(value: string | undefined): IdSpace {
  if (value === undefined) return idSpace(SPEC_BITS);
  return idSpace(parseIntegerIn('--bits', value, MIN_BITS, MAX_BITS));
}

/** --routing, or --shortcuts (the older flag for --routing shortcuts, mapped here and nowhere else). */
export function parseRouting(value: string | undefined, shortcuts = false): RoutingName | undefined {
  if (value === undefined) return shortcuts ? 'shortcuts' : undefined;
  if (!ROUTINGS.includes(value as RoutingName)) problem(`--routing must be one of ${ROUTINGS.join(', ')} (got ${quoted(value)})`);
  if (shortcuts && value !== 'shortcuts') problem(`--shortcuts and --routing ${value} cannot be used together`);
  return value as RoutingName;
}

/** Wildcard listen addresses cannot be advertised: others could not reach them. */
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** The integer flags core/config.ts checks, as typed, and each one's name in a message. */
type IntegerFlags = Partial<Record<'basePort' | 'pingMisses' | 'successors' | 'replicas', { name: string; text: string }>>;

/**
 * The numeric settings and routing, checked by checkConfig and completed with `surface`'s
 * defaults; a value out of range is one sentence naming its flag and quoting what was typed.
 */
export function peerSettings(flags: IntegerFlags, routing: RoutingName | undefined, space: IdSpace, surface: Surface): ReturnType<typeof checkConfig> {
  // text that is not digits becomes NaN: checkConfig refuses it with the same range
  const n = (f: keyof IntegerFlags) => (flags[f] === undefined ? {} : { [f]: /^\d+$/.test(flags[f]!.text) ? Number(flags[f]!.text) : NaN });
  try {
    return checkConfig({ ...n('basePort'), ...n('pingMisses'), ...n('successors'), ...n('replicas'), ...(routing ? { routing } : {}) }, { space, surface });
  } catch (err) {
    const flag = err instanceof ConfigError ? flags[err.field as keyof IntegerFlags] : undefined;
    if (!(err instanceof ConfigError) || !flag) throw err;
    problem(`${flag.name} must be an integer from ${err.min} to ${err.max} (got ${quoted(flag.text)})`);
  }
}

/** The integer flags of RawOptions (and of `cdht ring`'s) that were typed, with their names. */
function integerFlags(o: { basePort?: string; basePortSource?: string; pingMisses?: string; successors?: string; replicas?: string }): IntegerFlags {
  const flags: IntegerFlags = {};
  const add = (field: ConfigField & keyof IntegerFlags, name: string, text: string | undefined) => {
    if (text !== undefined) flags[field] = { name, text };
  };
  add('basePort', o.basePortSource === 'env' ? '--base-port (from CDHT_BASE_PORT)' : '--base-port', o.basePort);
  add('pingMisses', '--ping-misses', o.pingMisses);
  add('successors', '--successors', o.successors);
  add('replicas', '--replicas', o.replicas);
  return flags;
}

/** The options both commands share, checked. */
export function commonOptions(o: RawOptions): Omit<PeerOptions, 'id' | 'mode' | 'pingIntervalMs'> & { show: LineFilter; space: IdSpace } {
  const space = parseBits(o.bits);
  const s = peerSettings(integerFlags(o), parseRouting(o.routing, !!o.shortcuts), space, 'peer');
  return {
    space,
    basePort: s.basePort,
    host: o.host === undefined ? DEFAULT_HOST : parseHost(o.host),
    dataDir: parseDataDir(o.dataDir ?? process.cwd()),
    pingMisses: s.pingMisses,
    routing: s.routing,
    successors: s.successors,
    replicas: s.replicas,
    ...(o.maxFileSize !== undefined ? { maxFileBytes: parseSize('--max-file-size', o.maxFileSize) } : {}),
    show: { pingLines: o.pingLines !== false, debug: !!o.debug },
  };
}

/**
 * Where this peer is: its id and advertised contact, and where it binds. The spec's layout
 * (host, port base + id) unless --advertise / --listen say otherwise; above 8 bits an address
 * is required and the id may be derived from it (PEER `auto`).
 */
function placeSelf(peerWord: string, o: RawOptions, c: ReturnType<typeof commonOptions>): { id: Id; self: Contact; listen?: Address } {
  const space = c.space;
  const listen = o.listen === undefined ? undefined : parseListenAddress('--listen', o.listen);
  let advertise = o.advertise === undefined ? undefined : parseListenAddress('--advertise', o.advertise);
  if (advertise && WILDCARDS.has(advertise.host)) problem(`--advertise must be an address others can reach, not ${quoted(o.advertise!)}`);
  if (!advertise && listen && !WILDCARDS.has(listen.host)) advertise = listen;
  const idWord = o.id ?? peerWord;
  let id: Id;
  if (idWord === 'auto') {
    if (space.spec) problem('PEER must be an id in the 8-bit space (auto ids need --bits above 8)');
    if (!advertise) problem(`${o.id !== undefined ? '--id' : 'PEER'} auto derives the id from the advertised address: give --advertise host:port (or --listen host:port)`);
    id = space.idOfAddress(advertise.host, advertise.port);
  } else {
    const parsed = space.parse(idWord);
    if (parsed === undefined) {
      if (space.spec) parsePeerId(o.id !== undefined ? '--id' : 'PEER', idWord);
      problem(`${o.id !== undefined ? '--id' : 'PEER'} must be an id of the ${space.bits}-bit space${space.bits > 53 ? ' in hex' : ''}, or auto (got ${quoted(idWord)})`);
    }
    id = parsed;
  }
  if (!advertise) {
    if (!space.spec) problem(`in a ${space.bits}-bit space ports are not derived from ids: give --advertise host:port (or --listen host:port)`);
    advertise = defaultContact(id, c.host!, c.basePort);
  }
  return { id, self: { id, host: advertise.host, port: advertise.port }, ...(listen ? { listen } : {}) };
}

/** Turns a ContactProblem into an ArgumentProblem. */
function peerArg(space: IdSpace, name: string, text: string, place: ((id: Id) => Contact) | undefined, bare = false): Target {
  try {
    return parsePeer(space, name, text, place, bare);
  } catch (err) {
    if (err instanceof ContactProblem) problem(err.message);
    throw err;
  }
}

export const OPEN_RING_NOTICE = 'This ring is open: anyone who can reach this peer can send it messages, and nothing is encrypted (--tls DIR makes a private ring)';

/** A private ring's credentials for `id` from --tls DIR (or CDHT_TLS_DIR); every problem is one line (exit 2). */
function privateRing(o: RawOptions, id: Id): { tls?: TlsIdentity; notices: string[] } {
  if (o.tls === undefined || o.tls === '') {
    return { notices: [OPEN_RING_NOTICE] };
  }
  const name = o.tlsSource === 'env' ? 'CDHT_TLS_DIR' : '--tls';
  try {
    const { warnings, ...tls } = loadTlsIdentity(resolve(o.tls), id);
    return { tls, notices: warnings };
  } catch (err) {
    if (err instanceof TlsSetupError) problem(`${name}: ${err.message}`);
    throw err;
  }
}

function planOf(c: ReturnType<typeof commonOptions>, at: ReturnType<typeof placeSelf>, mode: PeerOptions['mode'], pingIntervalMs: number, o: RawOptions): RunPlan {
  const { show, ...rest } = c;
  const { tls, notices } = privateRing(o, at.id);
  if (tls && o.tls) {
    // a key in the folder a peer serves could be asked for by name
    const store = resolve(storeDirOf(c.dataDir!, c.space));
    const keys = resolve(o.tls);
    if (keys === store || keys.startsWith(store + sep)) problem(`${o.tlsSource === 'env' ? 'CDHT_TLS_DIR' : '--tls'}: ${keys} is inside ${store}, the folder this peer serves its stored files from; keep the keys elsewhere`);
  }
  const peer = { ...rest, id: at.id, host: at.self.host, port: at.self.port, ...(at.listen ? { listen: at.listen } : {}), ...(tls ? { tls } : {}), mode, pingIntervalMs };
  const logFormat = o.logFormat === undefined ? undefined : parseLogFormat(o.logFormat, o.logFormatSource === 'env' ? 'CDHT_LOG_FORMAT' : '--log-format');
  return { peer, show, notices, ...(logFormat ? { logFormat } : {}) };
}

export function initPlan(words: { peer: string; first: string; second: string; interval: string }, o: RawOptions): RunPlan {
  const c = commonOptions(o);
  const at = placeSelf(words.peer, o, c);
  const place = c.space.spec ? (id: Id) => defaultContact(id, c.host!, c.basePort) : undefined;
  const first = peerArg(c.space, 'FIRST_SUCCESSOR', words.first, place) as Contact;
  const second = peerArg(c.space, 'SECOND_SUCCESSOR', words.second, place) as Contact;
  const pingIntervalMs = parseInterval(words.interval);
  const name = (id: Id) => c.space.format(id);
  if (first.id === at.id) problem(`FIRST_SUCCESSOR must be another peer (got ${name(first.id)}, the same as PEER)`);
  if (first.id === second.id) problem(`FIRST_SUCCESSOR and SECOND_SUCCESSOR must be two different peers (both are ${name(first.id)})`);
  // a ring of two is written with the peer itself as the second successor
  const two = second.id === at.id;
  const plan = planOf(c, at, { kind: 'init', successors: two ? [first] : [first, second] }, pingIntervalMs, o);
  if (two) plan.notices.unshift(`A ring of two: Peer ${name(at.id)} has one successor, Peer ${name(first.id)}`);
  return plan;
}

export function joinPlan(words: { peer: string; known: string; interval: string }, o: RawOptions): RunPlan {
  const c = commonOptions(o);
  const at = placeSelf(words.peer, o, c);
  const place = c.space.spec ? (id: Id) => defaultContact(id, c.host!, c.basePort) : undefined;
  const known = peerArg(c.space, 'KNOWN_PEER', words.known, place, true);
  const pingIntervalMs = parseInterval(words.interval);
  if (known.id === at.id) problem(`KNOWN_PEER must be another peer, already in the ring (got ${c.space.format(at.id)}, the same as PEER)`);
  return planOf(c, at, { kind: 'join', known }, pingIntervalMs, o);
}

/**
 * `cdht node`: a peer placed as init and join place one, with no successors given: it is a ring
 * of one until the node shell points it at a seed (its mode is chosen per try). At 8 bits the id
 * must be given; above, it may be derived from the advertised address.
 */
export function nodePlan(o: RawOptions & { pingInterval: string }): RunPlan {
  const c = commonOptions(o);
  if (o.id === undefined && c.space.spec) problem('--id is required at 8 bits (ids 0 to 255); above 8 bits (--bits) it may be auto');
  const at = placeSelf('auto', { ...o, id: o.id ?? 'auto' }, c);
  return planOf(c, at, { kind: 'init', successors: [] }, parseInterval(o.pingInterval, '--ping-interval'), o);
}

/** --http HOST:PORT, where port 0 asks for any free port (the address bound is said at start). */
export function parseHttpAddress(value: string, option = '--http'): Address {
  // parseAddress takes ports 1 to MAX_PORT: a trailing :0 is read as :1 and put back
  const any = /:0$/.test(value);
  const a = parseListenAddress(option, any ? `${value.slice(0, -1)}1` : value);
  return any ? { ...a, port: 0 } : a;
}

/** Seeds as typed: host:port, ID@host:port, or (8 bits) an ID placed by the reference layout. */
export function parseSeeds(words: readonly string[], plan: RunPlan): Target[] {
  const { space, host, basePort } = plan.peer;
  const place = space.spec ? (id: Id) => defaultContact(id, host!, basePort) : undefined;
  const seeds = words.map((w) => peerArg(space, '--seeds', w, place, true));
  const self = seeds.find((s) => s.id === plan.peer.id);
  if (self) problem(`--seeds must name other peers; ${space.format(self.id!)} is this peer`);
  return seeds;
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
  logFormat?: string;
  logFormatSource?: string;
  reporter?: boolean;
  pingMisses?: string;
  bits?: string;
  routing?: string;
  successors?: string;
  replicas?: string;
  maxFileSize?: string;
  web?: boolean;
  webPort?: string;
  webHost?: string;
  start?: boolean;
  secure?: boolean;
  tls?: string;
  tlsSource?: string;
  processes?: string;
  slice?: string;
}

/** Processes one ring may be spread over (`--processes`, `--slice I/P`). */
export const MAX_PROCESSES = 64;

/** --processes P or --slice I/P: one ring over several processes, each starting its share of the --random N peers. */
function parseSlicing(o: RawRingOptions, bits: number, random: number | undefined): Pick<RingOptions, 'processes' | 'slice'> {
  if (o.processes === undefined && o.slice === undefined) return {};
  const flag = o.processes !== undefined ? '--processes' : '--slice';
  if (o.processes !== undefined && o.slice !== undefined) problem('--processes and --slice cannot be used together: --processes starts every slice itself');
  if (bits <= 8 || random === undefined) problem(`${flag} needs --bits above 8 and --random N: every process derives the whole ring's ids from the peers' addresses`);
  if (o.sim) problem(`${flag} runs one process a slice on real sockets, not on the simulator`);
  if (o.secure) problem(`${flag} cannot use --secure (one throwaway authority a process): make one with cdht ca and give --tls DIR`);
  if (o.processes !== undefined) {
    const processes = parseIntegerIn('--processes', o.processes, 1, Math.min(MAX_PROCESSES, random));
    return processes > 1 ? { processes } : {};
  }
  const m = /^(\d+)\/(\d+)$/.exec(o.slice!.trim());
  if (!m) problem(`--slice must be I/P, share I (0-based) of P processes, e.g. 1/4 (got ${quoted(o.slice!)})`);
  const of = parseIntegerIn('--slice (P)', m[2]!, 1, Math.min(MAX_PROCESSES, random));
  const index = parseIntegerIn('--slice (I)', m[1]!, 0, of - 1);
  return { slice: { index, of } };
}

export function ringPlan(o: RawRingOptions): RingOptions {
  if (o.secure && o.tls !== undefined) problem('--secure and --tls cannot be used together: --secure makes its own authority');
  let tlsDir: string | undefined;
  if (o.tls !== undefined && o.tls !== '') {
    const name = o.tlsSource === 'env' ? 'CDHT_TLS_DIR' : '--tls';
    tlsDir = resolve(o.tls);
    try {
      // plain: caught on the next line, which says the one sentence the user sees
      if (!statSync(join(tlsDir, 'ca.crt')).isFile()) throw new Error('not a file');
    } catch {
      problem(`${name}: ${join(tlsDir, 'ca.crt')} is missing: make the ring's authority with cdht ca create DIR`);
    }
  }
  if ((o.webPort !== undefined || o.webHost !== undefined) && !o.web) problem('--web-port and --web-host only apply with --web');
  if (o.peers !== undefined && o.random !== undefined) problem('--peers and --random cannot be used together');
  let ids: bigint[] | undefined;
  if (o.peers !== undefined) {
    ids = o.peers.split(',').map((w) => BigInt(parsePeerId('--peers', w.trim())));
    if (new Set(ids).size !== ids.length) problem(`--peers must not repeat an id (got ${quoted(o.peers)})`);
  }
  const space = parseBits(o.bits);
  if (!space.spec && o.peers !== undefined) problem('--peers takes 8-bit ids; above 8 bits use --random N (ids derived from the peers\' addresses)');
  const random = o.random === undefined ? undefined : parseIntegerIn('--random', o.random, 1, space.spec ? 256 : 65_536);
  const speed = /^(\d+(\.\d*)?|\.\d+)$/.test(o.speed) ? Number(o.speed) : NaN;
  if (!(speed > 0 && speed <= 10_000)) problem(`--speed must be a number above 0, at most 10000 (got ${quoted(o.speed)})`);
  if (o.speed !== '1' && !o.sim) problem('--speed only applies with --sim');
  // a whole ring on one machine: copies on three peers unless asked otherwise (the 'ring' surface)
  const settings = peerSettings(integerFlags(o), parseRouting(o.routing), space, 'ring');
  const host = o.host === undefined ? DEFAULT_HOST : parseHost(o.host);
  const dataDir = o.dataDir === undefined ? undefined : parseDataDir(o.dataDir);
  return {
    ...(ids ? { ids } : {}),
    ...(random !== undefined ? { random } : {}),
    intervalS: parseInterval(o.interval, '--interval') / 1000,
    basePort: settings.basePort,
    host,
    ...(dataDir !== undefined ? { dataDir } : {}),
    sharedDir: !!o.sharedDir,
    sim: !!o.sim,
    speed,
    ...(o.seed !== undefined ? { seed: parseIntegerIn('--seed', o.seed, 0, 2 ** 32 - 1) } : {}),
    ...(o.pingLines !== undefined ? { pingLines: o.pingLines } : {}),
    debug: !!o.debug,
    json: !!o.json,
    ...ringLogFormat(o),
    reporter: !!o.reporter,
    pingMisses: settings.pingMisses,
    bits: space.bits,
    routing: settings.routing,
    successors: settings.successors,
    replicas: settings.replicas,
    ...(o.maxFileSize !== undefined ? { maxFileBytes: parseSize('--max-file-size', o.maxFileSize) } : {}),
    ...(o.web ? { web: true } : {}),
    ...(o.webPort !== undefined ? { webPort: parseIntegerIn('--web-port', o.webPort, 1, MAX_PORT) } : {}),
    ...(o.webHost !== undefined ? { webHost: parseHost(o.webHost, '--web-host') } : {}),
    ...(o.start === false ? { start: false } : {}),
    ...(o.secure ? { secure: true } : {}),
    ...(tlsDir ? { tlsDir } : {}),
    ...parseSlicing(o, space.bits, random),
  };
}
