// The checker's defaults, apart from the checker: `cdht check --help` shows two of them, and
// the command line must not load the simulator and every peer module to print its help.
import { DEFAULT_SUCCESSORS, RING_REPLICAS, TESTNET_PING_INTERVAL_MS } from '../core/config.js';
import { SPEC_BITS } from '../core/id-space.js';

export const CHECK_DEFAULTS = {
  pingIntervalMs: TESTNET_PING_INTERVAL_MS,
  successors: DEFAULT_SUCCESSORS,
  // a whole ring on one machine (core/config.ts's 'ring' surface)
  replicas: RING_REPLICAS,
  quietMs: 4_000,
  settleMs: 30_000,
  pollMs: 500,
  requestBoundMs: 5_000,
  byzantine: 0,
  bits: SPEC_BITS,
  secure: false,
} as const;
