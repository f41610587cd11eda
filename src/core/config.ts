// Every default, limit and cross-rule of a peer's settings, decided here once. The CLI, the Peer,
// the testnet, the ring controller and the checker take their defaults from the named rules below
// and check what they are given with checkConfig(); none of them writes a number of its own.
// Pure data and arithmetic: the shell turns the reference layout's numbers into addresses (space.ts).
import type { ErrorCode } from './errors.js';
import type { IdSpace } from './id-space.js';
import { MAX_SUCCESSORS as WIRE_MAX_SUCCESSORS } from './messages.js';

export type RoutingName = 'successor' | 'shortcuts' | 'fingers';
export const ROUTINGS: readonly RoutingName[] = ['successor', 'shortcuts', 'fingers'];

// ---- limits ------------------------------------------------------------------------------------

/** The reference layout: peer ID listens on port basePort + ID (8-bit ids). */
export const DEFAULT_BASE_PORT = 12000;
/** The loopback address: where peers, the gateway and the web page listen unless told, and how a wildcard listener is reached from here. */
export const DEFAULT_HOST = '127.0.0.1';
/** The highest port (a u16 on the wire); ports start at 1. */
export const MAX_PORT = 65535;
export const MIN_BASE_PORT = 1;
/** Peer 255 must still fit at or below MAX_PORT. */
export const MAX_BASE_PORT = MAX_PORT - 255;

export const DEFAULT_PING_MISSES = 3;
export const MIN_PING_MISSES = 1;
export const MAX_PING_MISSES = 100;

/** Successor list length r: any r - 1 adjacent failures are survived. */
export const DEFAULT_SUCCESSORS = 4;
export const MIN_SUCCESSORS = 2;
/** As many as a message can carry (the wire refuses longer lists). */
export const MAX_SUCCESSORS = WIRE_MAX_SUCCESSORS;

/** Copies of a file: the owner and its next k - 1 successors, so k is at most r + 1. */
export const MIN_REPLICAS = 1;
export function maxReplicas(successors: number): number {
  return successors + 1;
}

// ---- defaults, and who decides them ------------------------------------------------------------

/**
 * Who starts a peer decides two defaults, routing and copies per file:
 * - 'library': a program (startPeer, createTestnet, the ring controller) gets the specification's
 *   behaviour in any space, the successor walk and one copy, unless it asks for more;
 * - 'peer': `cdht init|join|node`, `cdht sim`: the routing of the id space (defaultRouting), one
 *   copy in the specification's 8-bit mode and RING_REPLICAS above;
 * - 'ring': a whole ring on one machine (`cdht ring`, the checker): the routing of the id space,
 *   RING_REPLICAS copies in any space.
 */
export type Surface = 'library' | 'peer' | 'ring';

/** Copies per file where one copy is too few: above 8 bits, and for a whole ring on one machine. */
export const RING_REPLICAS = 3;

/**
 * How a peer routes when not told: the specification's successor walk in its 8-bit space (the
 * lines it prints are the spec's), Chord's fingers above, where a walk round a large ring is slow.
 */
export function defaultRouting(space: IdSpace): RoutingName {
  return space.spec ? 'successor' : 'fingers';
}

/** What a peer does when neither its caller nor its surface says otherwise (the core's fallback too). */
export const DEFAULTS = {
  routing: 'successor',
  successors: DEFAULT_SUCCESSORS,
  // the specification's one copy
  replicas: 1,
  pingMisses: DEFAULT_PING_MISSES,
  maxFileBytes: 1024 * 1024 * 1024,
  secure: false,
  originProofs: true,
  collectSurplus: true,
  requestTimeoutMs: 15_000,
  joinTimeoutMs: 10_000,
  quitTimeoutMs: 3_000,
} as const;

/** How a peer routes when not told, by who started it (see Surface). */
export function surfaceRouting(space: IdSpace, surface: Surface): RoutingName {
  return surface === 'library' ? DEFAULTS.routing : defaultRouting(space);
}

/** Copies per file when not told, never more than r + 1 allow. */
export function surfaceReplicas(space: IdSpace, surface: Surface, successors: number = DEFAULT_SUCCESSORS): number {
  const wanted = surface === 'ring' || (surface === 'peer' && !space.spec) ? RING_REPLICAS : DEFAULTS.replicas;
  return Math.min(wanted, maxReplicas(successors));
}

// ---- rings started in one process (testnet, checker, simulations) ----------------------------

/** The id space of rings built to measure scale (`cdht sim`, runScale, runMassFailure): ids from addresses. */
export const SCALE_BITS = 32;

/**
 * The first port of rings simulated to measure (runScale, runPartition, runMassFailure): above 8
 * bits ids come from addresses, so every figure measured so far hangs on it.
 */
export const SIM_BASE_PORT = 10_000;

/** Peers of a ring started in one process above 8 bits when no count is given (testnet, `cdht ring`). */
export const DEFAULT_RING_PEERS = 16;

/** The simulator's seed when none is given (testnet, controller, `cdht ring --sim`, runScale). */
export const DEFAULT_SIM_SEED = 1;

/** The ping interval of these rings when not told: a ping a second. */
export const TESTNET_PING_INTERVAL_MS = 1000;

// ---- checking ----------------------------------------------------------------------------------

/** The settings of a peer that have a default or a limit (PeerOptions and the testnet take them as they are). */
export interface PeerSettings {
  /** Consecutive unanswered probes before a successor is declared dead. */
  pingMisses?: number;
  /** Routing strategy (default: see Surface). */
  routing?: RoutingName;
  /** Successor list length r. */
  successors?: number;
  /** Copies of each stored file, the owner's included. */
  replicas?: number;
  /** Offers of larger files are refused before a byte is written. */
  maxFileBytes?: number;
  /** How long a Request waits for an answer before giving up (0: the default). */
  requestTimeoutMs?: number;
  /**
   * A private ring's origin proofs on routed messages (default true). False only to measure what
   * they cost (bench/secure.ts): without them a member can speak for any other through routing.
   */
  originProofs?: boolean;
  /** Delete surplus copies once their holders confirm theirs (default true). False only to measure what it saves (bench/surplus.ts). */
  collectSurplus?: boolean;
}

/** What checkConfig reads: the settings, and where the peer listens. */
export interface ConfigInput extends PeerSettings {
  pingIntervalMs?: number;
  basePort?: number;
  /** The advertised port, when not the reference layout's (then the base port is not used). */
  port?: number;
}

export type CheckedConfig = Required<Omit<ConfigInput, 'port' | 'pingIntervalMs'>> & Pick<ConfigInput, 'port' | 'pingIntervalMs'>;

/** The settings checkConfig checks, and the other options out of range a ConfigError can name. */
export type ConfigField =
  | 'pingIntervalMs' | 'maxFileBytes' | 'pingMisses' | 'routing' | 'successors' | 'replicas' | 'basePort' | 'port' | 'requestTimeoutMs'
  // a peer's id, its start mode's ids and its credentials (Peer); a ring's planned ids and peer count
  | 'id' | 'mode' | 'tls' | 'ids' | 'count'
  // an id space's size, a transport's limits, a ring authority's options
  | 'bits' | 'limits' | 'days' | 'algorithm' | 'authorityName';

/**
 * A setting or option refused: by checkConfig, or where an option of its own is checked (a
 * Peer's ids, an id space's bits, the transport's limits). It stays a RangeError (what Peer has
 * always thrown for a bad option), so it cannot also be a CdhtError; it carries the catalog's
 * code all the same.
 */
export class ConfigError extends RangeError {
  readonly code: ErrorCode = 'CDHT_ERR_CONFIG';
  constructor(
    readonly field: ConfigField,
    message: string,
    readonly min?: number,
    readonly max?: number,
  ) {
    super(message);
  }
}

const isIntIn = (v: number, min: number, max: number): boolean => Number.isInteger(v) && v >= min && v <= max;

/**
 * The settings checked and completed with the surface's defaults. Throws a ConfigError for the
 * first setting out of range, in the order below (the order a peer's options were always checked).
 */
export function checkConfig(input: ConfigInput, at: { space: IdSpace; surface: Surface }): CheckedConfig {
  const o = input;
  const fail = (field: ConfigField, message: string, min?: number, max?: number): never => {
    throw new ConfigError(field, message, min, max);
  };
  if (o.pingIntervalMs !== undefined && !(o.pingIntervalMs > 0 && Number.isFinite(o.pingIntervalMs))) fail('pingIntervalMs', 'ping interval must be a positive number');
  if (o.maxFileBytes !== undefined && !(Number.isSafeInteger(o.maxFileBytes) && o.maxFileBytes >= 0)) fail('maxFileBytes', 'maxFileBytes must be a non-negative integer', 0);
  if (o.pingMisses !== undefined && !isIntIn(o.pingMisses, MIN_PING_MISSES, MAX_PING_MISSES)) {
    fail('pingMisses', `ping misses must be an integer from ${MIN_PING_MISSES} to ${MAX_PING_MISSES}`, MIN_PING_MISSES, MAX_PING_MISSES);
  }
  if (o.routing !== undefined && !ROUTINGS.includes(o.routing)) fail('routing', `routing must be one of ${ROUTINGS.join(', ')}`);
  if (o.successors !== undefined && !isIntIn(o.successors, MIN_SUCCESSORS, MAX_SUCCESSORS)) {
    fail('successors', `successors must be an integer from ${MIN_SUCCESSORS} to ${MAX_SUCCESSORS}`, MIN_SUCCESSORS, MAX_SUCCESSORS);
  }
  const successors = o.successors ?? DEFAULT_SUCCESSORS;
  if (o.replicas !== undefined && !isIntIn(o.replicas, MIN_REPLICAS, maxReplicas(successors))) {
    fail('replicas', 'replicas must be an integer from 1 to the successor list length + 1', MIN_REPLICAS, maxReplicas(successors));
  }
  const basePort = o.basePort ?? DEFAULT_BASE_PORT;
  if (o.port === undefined && !isIntIn(basePort, MIN_BASE_PORT, MAX_BASE_PORT)) fail('basePort', `base port must be an integer from ${MIN_BASE_PORT} to ${MAX_BASE_PORT}`, MIN_BASE_PORT, MAX_BASE_PORT);
  if (o.port !== undefined && !isIntIn(o.port, 1, MAX_PORT)) fail('port', `port must be an integer from 1 to ${MAX_PORT}`, 1, MAX_PORT);
  if (o.requestTimeoutMs !== undefined && !(o.requestTimeoutMs >= 0 && Number.isFinite(o.requestTimeoutMs))) fail('requestTimeoutMs', 'requestTimeoutMs must be a non-negative number of milliseconds', 0);
  return {
    pingMisses: o.pingMisses ?? DEFAULTS.pingMisses,
    routing: o.routing ?? surfaceRouting(at.space, at.surface),
    successors,
    replicas: o.replicas ?? surfaceReplicas(at.space, at.surface, successors),
    maxFileBytes: o.maxFileBytes ?? DEFAULTS.maxFileBytes,
    // 0 has always meant "the default" here
    requestTimeoutMs: o.requestTimeoutMs || DEFAULTS.requestTimeoutMs,
    originProofs: o.originProofs ?? DEFAULTS.originProofs,
    collectSurplus: o.collectSurplus ?? DEFAULTS.collectSurplus,
    basePort,
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.pingIntervalMs !== undefined ? { pingIntervalMs: o.pingIntervalMs } : {}),
  };
}

// every key of PeerSettings, or this does not compile: a setting added there reaches the peers
const ALL_SETTINGS: Record<keyof PeerSettings, true> = { pingMisses: true, routing: true, successors: true, replicas: true, maxFileBytes: true, requestTimeoutMs: true, originProofs: true, collectSurplus: true };
const SETTING_KEYS = Object.keys(ALL_SETTINGS) as (keyof PeerSettings)[];

/** The settings named in `o`, and only those: how a ring's options reach each of its peers untouched. */
export function settingsOf(o: PeerSettings): PeerSettings {
  const out: PeerSettings = {};
  for (const key of SETTING_KEYS) if (o[key] !== undefined) (out as Record<string, unknown>)[key] = o[key];
  return out;
}
