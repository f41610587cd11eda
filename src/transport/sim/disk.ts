// The simulator's disk: directories of files in memory, copied on every read and write so a
// peer can never change another's bytes by accident.
import { CdhtError } from '../../core/errors.js';

/** Largest file the in-memory disk accepts. */
export const MAX_SIM_FILE_BYTES = 256 * 1024 * 1024;

/** Shared in-memory disk: directory name → file name → bytes. Reads and writes copy. */
export class SimDisk {
  private readonly dirs = new Map<string, Map<string, Uint8Array>>();
  /** Sees every write before it lands (the checker's "no file content ever changes"). */
  onWrite: ((dir: string, name: string, bytes: Uint8Array) => void) | undefined;

  write(dir: string, name: string, bytes: Uint8Array): void {
    if (bytes.length > MAX_SIM_FILE_BYTES) {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `file ${name} is larger than ${MAX_SIM_FILE_BYTES} bytes`);
    }
    this.onWrite?.(dir, name, bytes);
    let files = this.dirs.get(dir);
    if (!files) {
      files = new Map();
      this.dirs.set(dir, files);
    }
    files.set(name, new Uint8Array(bytes));
  }

  read(dir: string, name: string): Uint8Array | undefined {
    const bytes = this.dirs.get(dir)?.get(name);
    return bytes ? new Uint8Array(bytes) : undefined;
  }

  size(dir: string, name: string): number | undefined {
    return this.dirs.get(dir)?.get(name)?.length;
  }

  /** File names in `dir`, sorted (so iteration order never depends on write order). */
  list(dir: string): string[] {
    return [...(this.dirs.get(dir)?.keys() ?? [])].sort();
  }

  remove(dir: string, name: string): boolean {
    return this.dirs.get(dir)?.delete(name) ?? false;
  }
}

