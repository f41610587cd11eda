// The console's Store and Request above the 8-bit space: thin callers of the library's put and
// get, each ending in one outcome line (what was stored where, what was received where, or the
// coded error with its hint). Nothing here throws: a failed operation is a line, and the peer
// runs on. The specification's mode keeps the core's typed Store and Request (see Peer.command).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { CdhtError } from '../core/errors.js';
import type { IdSpace } from '../core/id-space.js';
import type { LibraryFiles } from '../transport/types.js';
import type { PutResult } from './types.js';

/** Console Stores and Requests under way at once on one peer; beyond, a typed one is refused with a line. */
export const MAX_CONSOLE_OPERATIONS = 64;

/** What the console's operations need of their peer. */
export interface ConsoleOpsHost {
  readonly space: IdSpace;
  /** Where a Request's copy lands (as `received_NAME`). */
  readonly dataDir: string;
  readonly maxFileBytes: number;
  library(): LibraryFiles | undefined;
  /** Whether the store folder holds a file for `name` (what a typed Store publishes). */
  hasStored(name: string): Promise<boolean>;
  put(name: string, source: AsyncIterable<Uint8Array>): Promise<PutResult>;
  get(name: string): Readable;
  /** Prints one line, as the peer's other lines. */
  say(text: string): void;
}

export class ConsoleOps {
  private underway = 0;

  constructor(private readonly host: ConsoleOpsHost) {}

  /** `Store NAME`: the file NAME in this peer's store folder, put into the ring. */
  store(name: string): Promise<void> {
    return this.run('store', name, async (lib) => {
      if (!(await this.host.hasStored(name))) {
        throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `there is no file ${name} in this peer's store folder to store`);
      }
      const r = await this.host.put(name, lib.read('store', this.host.space.fileOf(name)));
      return storedLine(this.host.space, r);
    });
  }

  /** `Request NAME`: the ring's copy of NAME, checked, saved as received_NAME in the data folder. */
  request(name: string): Promise<void> {
    return this.run('request', name, async (lib) => {
      const temp = `.cdht-get-${randomBytes(8).toString('hex')}`;
      const saveAs = this.host.space.receivedFileOf(name);
      try {
        const got = await lib.write('data', temp, this.host.get(name), { maxBytes: this.host.maxFileBytes });
        // a copy received before is replaced whole, never left half written
        await lib.keep('data', temp, saveAs);
        return `Received ${name}: ${got.size} bytes, sha256 ${short(Buffer.from(got.sha256).toString('hex'))}, saved as ${join(this.host.dataDir, saveAs)}`;
      } catch (err) {
        await lib.remove('data', temp).catch(() => undefined);
        throw err;
      }
    });
  }

  private async run(kind: 'store' | 'request', name: string, op: (lib: LibraryFiles) => Promise<string>): Promise<void> {
    const verb = kind === 'store' ? 'Store' : 'Request';
    if (this.underway >= MAX_CONSOLE_OPERATIONS) {
      return this.host.say(`${verb} ${name} not taken: ${MAX_CONSOLE_OPERATIONS} Stores and Requests typed here are under way; type it again once some have ended`);
    }
    this.underway++;
    try {
      const lib = this.host.library();
      if (!lib) throw new CdhtError('CDHT_ERR_NOT_IN_RING', 'this peer has no files to work with (it is not running)');
      this.host.say(await op(lib));
    } catch (err) {
      this.host.say(failedLine(verb, name, err));
    } finally {
      this.underway--;
    }
  }
}

const short = (hex: string): string => `${hex.slice(0, 12)}…`;

/** `Stored NAME: N bytes at Peer X and K more copies (sha256 abcd…)`. */
export function storedLine(space: IdSpace, r: PutResult): string {
  const [owner, ...more] = r.holders;
  const where = owner ? ` at Peer ${space.format(owner.id)}` : '';
  const copies = more.length ? ` and ${more.length} more cop${more.length === 1 ? 'y' : 'ies'}` : '';
  return `Stored ${r.name}: ${r.size} bytes${where}${copies} (sha256 ${short(r.sha256)})`;
}

/** One line for a failed Store or Request: the error's message and, for a coded error, its hint. */
export function failedLine(verb: string, name: string, err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  const hint = err instanceof CdhtError ? ` — ${err.hint}` : '';
  return `${verb} ${name} failed: ${message}${hint}`;
}
