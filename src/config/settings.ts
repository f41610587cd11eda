// Every setting a long-running peer reads, in one table: its long option's name (also its key in
// a config file), its environment variable, its type and its default. The defaults and limits
// are core/config.ts's, imported, never written down a second time.
import { DEFAULT_BASE_PORT, DEFAULT_HOST, DEFAULT_PING_MISSES, DEFAULT_SUCCESSORS, DEFAULTS, MAX_SUCCESSORS, MIN_SUCCESSORS, RING_REPLICAS } from '../core/config.js';
import { MAX_BITS, MIN_BITS, SPEC_BITS } from '../core/id-space.js';

/**
 * integer and number: a number in a file, or its digits as text (range checks are args.ts's);
 * boolean: true/false; list: an array in a file, comma-separated text in a flag or a variable.
 */
export type SettingKind = 'string' | 'integer' | 'number' | 'boolean' | 'list';
export type SettingValue = string | number | boolean | string[];

export interface Setting {
  /** The long option's name: `--data-dir`, `data-dir = ...` in a file, CDHT_DATA_DIR. */
  readonly name: string;
  readonly kind: SettingKind;
  /** The option's argument as help shows it (`<DIR>`); none for booleans. */
  readonly arg?: string;
  readonly help: string;
  /** A boolean that is on unless turned off: the help of its --no- flag. */
  readonly offHelp?: string;
  readonly default?: SettingValue;
  /** Older variable names still read (init/join's CDHT_TLS_DIR), after the canonical one. */
  readonly aliases?: readonly string[];
}

/** Seconds between pings when nothing says otherwise (init and join take it as PING_INTERVAL). */
export const DEFAULT_PING_INTERVAL_S = 5;
/** Under Kubernetes' 30 s grace period, so a pod's leave finishes before it is killed. */
export const DEFAULT_LEAVE_TIMEOUT_S = 25;
export { LOG_FORMATS, type LogFormat } from '../cli/args.js';
import { LOG_FORMATS } from '../cli/args.js';

export const SETTINGS: readonly Setting[] = [
  { name: 'id', kind: 'string', arg: '<ID>', help: 'this peer\'s id (above 8 bits: an id, or auto from the advertised address; default: the id kept in --data-dir, else auto)' },
  { name: 'bits', kind: 'integer', arg: '<M>', help: `id space size in bits, ${MIN_BITS} to ${MAX_BITS}`, default: SPEC_BITS },
  { name: 'seeds', kind: 'list', arg: '<LIST>', help: 'peers to join through, tried in turn with back-off: host:port or ID@host:port, comma-separated (none: start a ring of one)', default: [] },
  { name: 'ping-interval', kind: 'number', arg: '<S>', help: 'seconds between pings to the successors (fractions allowed)', default: DEFAULT_PING_INTERVAL_S },
  { name: 'base-port', kind: 'integer', arg: '<N>', help: 'at 8 bits, peer ID listens on port N + ID', default: DEFAULT_BASE_PORT },
  { name: 'host', kind: 'string', arg: '<ADDR>', help: 'at 8 bits, the address to listen on and to reach the others at', default: DEFAULT_HOST },
  { name: 'listen', kind: 'string', arg: '<HOST:PORT>', help: 'address to bind (default: the advertised one)' },
  { name: 'advertise', kind: 'string', arg: '<HOST:PORT>', help: 'address the other peers reach this one at (default: the one kept in --data-dir, else --listen)' },
  { name: 'data-dir', kind: 'string', arg: '<DIR>', help: 'where stored files and this peer\'s identity are kept (default: the current directory)' },
  { name: 'tls', kind: 'string', arg: '<DIR>', help: 'a private ring: DIR/ca.crt and this peer\'s DIR/peer-ID.key and .crt (made by cdht ca); copied to DATA_DIR/.cdht-tls, so a restart needs it only to replace them', aliases: ['CDHT_TLS_DIR'] },
  { name: 'routing', kind: 'string', arg: '<R>', help: 'successor, shortcuts or fingers (default: successor at 8 bits, fingers above)' },
  { name: 'shortcuts', kind: 'boolean', help: 'forward past the first successor when the second is closer to the key', default: false },
  { name: 'successors', kind: 'integer', arg: '<R>', help: `successor list length (${MIN_SUCCESSORS}..${MAX_SUCCESSORS})`, default: DEFAULT_SUCCESSORS },
  { name: 'replicas', kind: 'integer', arg: '<K>', help: `copies of each stored file (default ${DEFAULTS.replicas} at 8 bits, ${RING_REPLICAS} above)` },
  { name: 'ping-misses', kind: 'integer', arg: '<K>', help: 'consecutive unanswered pings before a successor is declared dead', default: DEFAULT_PING_MISSES },
  { name: 'max-file-size', kind: 'string', arg: '<SIZE>', help: 'refuse incoming files larger than this, in bytes or with K, M, G (e.g. 500M)', default: String(DEFAULTS.maxFileBytes) },
  { name: 'ping-lines', kind: 'boolean', help: 'show the ping request and response lines', offHelp: 'hide the ping request and response lines', default: true },
  { name: 'debug', kind: 'boolean', help: 'show debug lines (dropped input, retries)', default: false },
  { name: 'http', kind: 'string', arg: '<HOST:PORT>', help: 'serve /healthz, /readyz and /metrics here (port 0: any free port, printed at start)' },
  { name: 'api', kind: 'string', arg: '<HOST:PORT>', help: 'serve the data API here for clients without a peer (cdht put/get --via, connect()): HTTP, or HTTPS with mutual TLS on a private ring' },
  { name: 'log-format', kind: 'string', arg: '<FORMAT>', help: `${LOG_FORMATS.join(' or ')}: json prints one object a line, the event's kind as "event"`, default: 'text' },
  { name: 'leave-timeout', kind: 'number', arg: '<S>', help: 'seconds a SIGTERM or SIGINT has to leave gracefully before the peer stops anyway', default: DEFAULT_LEAVE_TIMEOUT_S },
];

/** The file a config may name only through a flag or CDHT_CONFIG (a file cannot name another). */
export const CONFIG_SETTING: Setting = { name: 'config', kind: 'string', arg: '<FILE>', help: 'read settings from this TOML or JSON file (keys are the long options\' names)' };

/** CDHT_DATA_DIR for data-dir. */
export function envName(name: string): string {
  return `CDHT_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** dataDir for data-dir: the key commander and args.ts's RawOptions use. */
export function camelName(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function settingNamed(name: string): Setting | undefined {
  return SETTINGS.find((s) => s.name === name);
}
