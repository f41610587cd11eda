// The options of `cdht ring` and the web page's default port: args.ts checks the words into
// them, ring.ts runs them, ring-processes.ts hands them to the slices and main.ts declares the
// command with them. Types and constants only, importing nothing of the CLI, so that none of
// those modules has to import another for them (and the command line loads no ring to print help).
import type { PeerSettings } from '../core/config.js';
import type { Id } from '../core/id-space.js';
import type { RingSlice } from '../testnet.js';

/** `--web` listens here unless told otherwise (or on a free port when this one is taken). */
export const DEFAULT_WEB_PORT = 8080;

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
  /**
   * json: pino lines (one object a line, the trace's kind as `event`) instead of text; not with
   * --json. args.ts's LogFormat, spelled out: ringPlan's assignment fails to compile if they part.
   */
  logFormat?: 'text' | 'json';
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

