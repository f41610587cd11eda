// The library's files on a real disk: a put's bytes staged and moved into place without ever
// replacing a stored name, a get's bytes read back or moved to the caller's path. Names are
// checked here too: a stored name or a library temporary name, never a path.
import { createHash } from 'node:crypto';
import { constants as fsc, createReadStream, createWriteStream } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isLibraryTemp } from '../../store-dir.js';
import { CdhtError } from '../../core/errors.js';
import type { FileDir, LibraryFiles } from '../types.js';
import type { IncomingFile } from './file-stream.js';
import { isPlainFileName } from './guard.js';

/** The record log's name in the store directory, per peer (peers may share a directory); hidden: never taken for a stored name. */
export function recordsFile(id: bigint): string {
  return `.cdht-records-${id}`;
}

/** A get's stream reads the file a transfer fills in pieces of at most this size. */
const TAIL_CHUNK_BYTES = 256 * 1024;

function checkName(name: string): void {
  if (!isPlainFileName(name) && !isLibraryTemp(name)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `${JSON.stringify(name)} is not a stored or temporary name`);
}

function aborted(signal: AbortSignal): CdhtError {
  return new CdhtError('CDHT_ERR_ABORTED', 'aborted', { cause: signal.reason });
}

export class NodeLibraryFiles implements LibraryFiles {
  constructor(
    private readonly dirs: { store: string; data: string },
    /** Whose record log this is. */
    private readonly peerId: bigint,
    /** Ends an incoming request transfer (the endpoint knows its receivers). */
    private readonly abortTransfer: (rid: number, reason: string) => Promise<void>,
    /** The incoming request transfer for `rid` under way, if any. */
    private readonly incoming: (rid: number) => IncomingFile | undefined = () => undefined,
  ) {}

  private path(dir: FileDir, name: string): string {
    checkName(name);
    return join(this.dirs[dir], name);
  }

  async write(dir: FileDir, name: string, source: AsyncIterable<Uint8Array>, opts: { maxBytes: number; signal?: AbortSignal; onBytes?: (n: number) => void }): Promise<{ size: number; sha256: Uint8Array }> {
    const path = this.path(dir, name);
    await fsp.mkdir(this.dirs[dir], { recursive: true });
    const out = createWriteStream(path, { flags: 'wx' });
    const opened = new Promise<void>((res, rej) => {
      out.once('open', () => res());
      out.once('error', rej);
    });
    const hash = createHash('sha256');
    let size = 0;
    try {
      await opened;
      for await (const chunk of source) {
        if (opts.signal?.aborted) throw aborted(opts.signal);
        size += chunk.length;
        if (size > opts.maxBytes) throw new CdhtError('CDHT_ERR_TOO_LARGE', `more than ${opts.maxBytes} bytes (this peer's --max-file-size)`);
        hash.update(chunk);
        // the source waits while the disk catches up: memory stays flat whatever the size
        if (!out.write(chunk)) await waitDrain(out, opts.signal);
        opts.onBytes?.(size);
      }
      if (opts.signal?.aborted) throw aborted(opts.signal);
      await new Promise<void>((res, rej) => {
        out.once('error', rej);
        out.end(() => res());
      });
      return { size, sha256: hash.digest() };
    } catch (err) {
      out.destroy();
      await fsp.unlink(path).catch(() => undefined);
      throw err;
    }
  }

  async place(staged: string, name: string): Promise<'placed' | 'exists'> {
    const from = this.path('store', staged);
    const to = this.path('store', name);
    try {
      // a hard link never replaces: EEXIST when the name is there already
      await fsp.link(from, to);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return 'exists';
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw err;
      // a file system without hard links: an exclusive copy
      try {
        await fsp.copyFile(from, to, fsc.COPYFILE_EXCL);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
        throw e;
      }
    }
    await fsp.unlink(from).catch(() => undefined);
    return 'placed';
  }

  read(dir: FileDir, name: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    const path = this.path(dir, name);
    // opened when a reader starts, not now: a stream made now opens the file at once, and if it is
    // never read (a put refused first, a peer stopping) its error has no listener and crashes the
    // process, or its descriptor stays open with no owner
    return { [Symbol.asyncIterator]: () => createReadStream(path, signal ? { signal } : {})[Symbol.asyncIterator]() };
  }

  async keep(dir: FileDir, temp: string, name: string): Promise<void> {
    if (!isLibraryTemp(temp)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `${JSON.stringify(temp)} is not a temporary name`);
    await fsp.rename(this.path(dir, temp), this.path(dir, name));
  }

  async *readIncoming(rid: number, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    // the get hears of a transfer as its offer is accepted, just before the transfer is set up
    await Promise.resolve();
    const t = this.incoming(rid);
    if (!t) return;
    let fh: fsp.FileHandle | undefined;
    try {
      for (let pos = 0; pos < t.size; ) {
        if (signal?.aborted) throw aborted(signal);
        if (t.outcome === 'failed') return;
        if (t.written <= pos) {
          if (t.outcome !== 'receiving') return;
          await changeOf(t, signal);
          continue;
        }
        // opened once bytes are there (the sink creates the file); a descriptor keeps reading after the rename
        fh ??= await openFirst([t.tempPath, t.finalPath]);
        if (!fh) return;
        const buf = Buffer.allocUnsafe(Math.min(TAIL_CHUNK_BYTES, t.written - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) return;
        pos += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh?.close().catch(() => undefined);
    }
  }

  async export(dir: FileDir, name: string, path: string): Promise<void> {
    const from = this.path(dir, name);
    const part = `${path}.part-${process.pid}-${Date.now().toString(36)}`;
    await fsp.mkdir(dirname(path), { recursive: true });
    try {
      await fsp.rename(from, path);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    }
    // another file system: copied beside the target, then renamed into place whole
    try {
      await fsp.copyFile(from, part);
      await fsp.rename(part, path);
      await fsp.unlink(from).catch(() => undefined);
    } catch (err) {
      await fsp.unlink(part).catch(() => undefined);
      throw err;
    }
  }

  async remove(dir: FileDir, name: string): Promise<void> {
    await fsp.unlink(this.path(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  abortIncoming(rid: number, reason: string): Promise<void> {
    return this.abortTransfer(rid, reason);
  }

  async readRecords(): Promise<string> {
    try {
      return await fsp.readFile(join(this.dirs.store, recordsFile(this.peerId)), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  async writeRecords(lines: string, replace = false): Promise<void> {
    const path = join(this.dirs.store, recordsFile(this.peerId));
    await fsp.mkdir(this.dirs.store, { recursive: true });
    if (!replace) return fsp.appendFile(path, lines);
    const part = `${path}.${process.pid}.new`;
    await fsp.writeFile(part, lines);
    await fsp.rename(part, path);
  }
}

/** The first of `paths` that opens for reading; undefined when none is there (a failed transfer removed it). */
async function openFirst(paths: string[]): Promise<fsp.FileHandle | undefined> {
  for (const p of paths) {
    try {
      return await fsp.open(p, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

/** Resolves when the incoming file grows or its transfer ends; rejects when the signal fires. */
function changeOf(t: IncomingFile, signal?: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    const done = (): void => {
      off();
      signal?.removeEventListener('abort', stop);
      res();
    };
    const stop = (): void => {
      off();
      rej(aborted(signal!));
    };
    const off = t.onChange(done);
    signal?.addEventListener('abort', stop, { once: true });
  });
}

function waitDrain(out: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    const done = () => {
      signal?.removeEventListener('abort', stop);
      out.removeListener('error', fail);
      res();
    };
    const fail = (e: unknown) => {
      signal?.removeEventListener('abort', stop);
      rej(e);
    };
    const stop = () => {
      out.removeListener('drain', done);
      fail(aborted(signal!));
    };
    out.once('drain', done);
    out.once('error', fail);
    signal?.addEventListener('abort', stop, { once: true });
  });
}
