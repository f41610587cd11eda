// The checker's defaults, apart from the checker: `cdht check --help` shows two of them, and
// the command line must not load the simulator and every peer module to print its help.
import { SPEC_BITS } from '../core/id-space.js';

export const CHECK_DEFAULTS = {
  pingIntervalMs: 1000,
  successors: 4,
  replicas: 3,
  quietMs: 4_000,
  settleMs: 30_000,
  pollMs: 500,
  requestBoundMs: 5_000,
  byzantine: 0,
  bits: SPEC_BITS,
  secure: false,
} as const;
