// Files over a connection of their own: file-begin, file-data..., file-end (sha256), then the
// receiver's verdict (ack once the file is verified and renamed into place, or refuse with a
// reason). Never whole in memory: the sender writes each chunk after a 6-byte header without
// copying it; the receiver streams file-data payloads straight into a hidden .part file.
import { isLibraryTemp } from '../../store-dir.js';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, createReadStream, promises as fsp } from 'node:fs';
import type * as net from 'node:net';
import { join } from 'node:path';
import { CdhtError } from '../../core/errors.js';
import { RECORD_MISMATCH, type FileBegin } from '../../core/messages.js';
import { decodeBytes, decodeLink, encodeFrame, encodeLink, fileDataHeader, isLinkCode } from '../../wire/index.js';
import { acceptanceOf, type EndpointHandlers, type FileAcceptance, type Origin } from '../types.js';
import { openSink, type FileSink } from './file-sink.js';
import type { FrameHandler, FrameReader } from './frame-reader.js';
import { asError, describe, isPlainFileName, oneLine, unreachable } from './guard.js';
import type { Limits } from './limits.js';

const DISCARD: FrameHandler = { frame() {}, data() {} };
const FILE_ACK = encodeLink({ type: 'ack', count: 1 });

function transferError(message: string): CdhtError {
  return new CdhtError('CDHT_ERR_TRANSFER', oneLine(message));
}

/** Calls `fn(bytes)` at most once per interval, and always for the final count. */
function throttle(intervalMs: number, fn: (bytes: number) => void): (bytes: number, final?: boolean) => void {
  let last = -Infinity;
  return (bytes, final = false) => {
    const now = performance.now();
    if (!final && now - last < intervalMs) return;
    last = now;
    fn(bytes);
  };
}

// ---- sending ---------------------------------------------------------------------------------

/**
 * Streams `path` as `header` over `sock` (a connection of its own) and resolves once the
 * receiver has verified and saved it. Rejects with CDHT_ERR_TRANSFER when the receiver refuses
 * or the file does not match its header, CDHT_ERR_UNREACHABLE when the connection breaks.
 */
export async function streamFile(
  sock: net.Socket,
  reader: FrameReader,
  header: FileBegin,
  path: string,
  limits: Limits,
  where: string,
  onProgress?: (bytes: number) => void,
): Promise<void> {
  let settled = false;
  let settle!: (err?: Error) => void;
  const outcome = new Promise<void>((resolve, reject) => {
    settle = (err) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
  });
  outcome.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
  reader.setHandler({
    frame(bytes) {
      const d = isLinkCode(bytes[5]!) ? decodeLink(bytes) : undefined;
      if (d?.ok && d.frame.type === 'ack' && d.frame.count === 1) return settle();
      if (d?.ok && d.frame.type === 'refuse') return settle(transferError(`${where} refused the file: ${d.frame.reason}`));
      settle(transferError(`${where}: unexpected frame from the receiver`));
      sock.destroy();
    },
    data() {},
  });
  sock.setTimeout(limits.transferIdleMs, () => {
    settle(unreachable(`${where}: no progress for ${limits.transferIdleMs} ms`));
    sock.destroy();
  });
  sock.once('close', () => settle(unreachable(`${where}: connection closed before the receiver confirmed the file`)));
  const progress = onProgress ? throttle(limits.fileProgressIntervalMs, onProgress) : undefined;

  const drained = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        sock.off('drain', done);
        sock.off('close', done);
        resolve();
      };
      sock.on('drain', done);
      sock.on('close', done);
    });

  try {
    sock.write(encodeFrame(header));
    const file = await fsp.open(path, 'r');
    try {
      const hash = createHash('sha256');
      const chunkBytes = limits.fileDataChunkBytes;
      const read = async (): Promise<Buffer | null> => {
        const buf = Buffer.allocUnsafe(chunkBytes);
        const { bytesRead } = await file.read(buf, 0, chunkBytes, null);
        return bytesRead === 0 ? null : buf.subarray(0, bytesRead);
      };
      let sent = 0;
      let next = read();
      for (;;) {
        const chunk = await next;
        if (settled || !chunk) break;
        if (sent + chunk.length > header.size) throw transferError(`${path} grew past the announced ${header.size} bytes while sending`);
        next = read(); // the disk reads the next chunk while this one goes out
        next.catch(() => {});
        hash.update(chunk);
        sent += chunk.length;
        sock.cork();
        sock.write(fileDataHeader(chunk.length));
        const ok = sock.write(chunk);
        sock.uncork();
        progress?.(sent);
        if (!ok) await drained();
      }
      if (!settled) {
        if (sent !== header.size) throw transferError(`${path} has ${sent} bytes, ${header.size} were announced`);
        sock.write(encodeFrame({ type: 'file-end', sha256: hash.digest() }));
        progress?.(sent, true);
      }
    } finally {
      await file.close().catch(() => {});
    }
  } catch (err) {
    settle(err instanceof CdhtError ? err : transferError(`cannot send ${path}: ${describe(err)}`));
  }
  try {
    await outcome;
    sock.end();
  } catch (err) {
    sock.destroy();
    throw asError(err);
  }
}

// ---- receiving -------------------------------------------------------------------------------

export interface FileContext {
  /** Where a Request's copy lands. */
  readonly dataDir: string;
  /** Where stored names live: store and replica copies land here. */
  readonly storeDir: string;
  readonly handlers: Required<EndpointHandlers>;
  readonly limits: Limits;
  readonly maxFileBytes: number | undefined;
  /** Receivers that have not yet reported onFileDone. */
  readonly transfers: Set<FileReceiver>;
  /** Temporary space for .part files: announced sizes of the transfers under way, against a cap. */
  readonly temp: TempSpace;
}

/**
 * Bytes of the files being received at once, counted from each offer's announced size before
 * its first byte is written (so a .part file can never grow past what was granted).
 */
export class TempSpace {
  used = 0;
  peak = 0;
  constructor(readonly cap: number) {}

  /** Grants `bytes` (returns false when they would not fit): give them back with release. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.cap) return false;
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
  }
}

/** Tells the sender no (with a reason), then reads and discards its bytes a little while so the refusal reaches it. */
export function refuseFile(sock: net.Socket, reader: FrameReader, reason: string, limits: Limits): void {
  reader.setHandler(DISCARD);
  reader.allowFileData();
  if (!sock.destroyed && sock.writable) {
    sock.write(encodeLink({ type: 'refuse', reason }));
    sock.end();
  }
  const timer = setTimeout(() => sock.destroy(), limits.refuseLingerMs);
  timer.unref();
  sock.once('close', () => clearTimeout(timer));
}

/**
 * A file offer (the connection's first frame was file-begin): the handler picks a name or
 * refuses; an accepted offer over maxFileBytes, or with a name that is not a plain file name,
 * fails before any byte is written.
 */
export function receiveOffer(ctx: FileContext, sock: net.Socket, reader: FrameReader, header: FileBegin, origin: Origin): void {
  // Checked before the offer is shown: a full temporary space is "later", not "no".
  const oversize = ctx.maxFileBytes !== undefined && header.size > ctx.maxFileBytes;
  if (!oversize && !ctx.temp.take(header.size)) {
    const busy = `busy: ${ctx.temp.used} of ${ctx.temp.cap} bytes of temporary space are taken by files being received; try again later`;
    refuseFile(sock, reader, busy, ctx.limits);
    ctx.handlers.onFileDone(header, { ok: false, error: busy, busy: true });
    return;
  }
  const granted = oversize ? 0 : header.size;
  const accepted = acceptanceOf(ctx.handlers.onFileOffer(header, origin));
  const tooBig = oversize ? `file of ${header.size} bytes exceeds the limit of ${ctx.maxFileBytes} bytes` : undefined;
  // whatever else the handler had against it, a file over the limit says so: the sender learns the size and the limit
  if (accepted === null) {
    ctx.temp.release(granted);
    return refuseFile(sock, reader, tooBig ?? 'offer refused', ctx.limits);
  }
  const saveAs = accepted.saveAs;
  let problem: string | undefined;
  if (!isPlainFileName(saveAs) && !(header.purpose === 'request' && isLibraryTemp(saveAs))) problem = `refusing to save as ${JSON.stringify(saveAs)}: not a plain file name`;
  else problem = tooBig;
  if (problem) {
    ctx.temp.release(granted);
    refuseFile(sock, reader, problem, ctx.limits);
    ctx.handlers.onFileDone(header, { ok: false, error: problem });
    return;
  }
  new FileReceiver(ctx, sock, reader, header, accepted);
}

/**
 * A transfer coming in, as a reader of its file sees it while it grows (a get's stream tails it):
 * bytes [0, written) are in the file at `tempPath`, which becomes `finalPath` once the transfer has
 * checked it whole ('finished'), or is removed ('failed').
 */
export interface IncomingFile {
  readonly size: number;
  readonly written: number;
  readonly tempPath: string;
  readonly finalPath: string;
  readonly outcome: 'receiving' | 'finished' | 'failed';
  /** `fn` runs each time the file grows or the transfer ends, until the returned function is called. */
  onChange(fn: () => void): () => void;
}

/**
 * One accepted transfer: streams into `.saveAs.<hex>.part` through a FileSink (which hashes as
 * it writes), and puts it in place as `saveAs` only once size and sha256 match file-end, the
 * sender's record (file-begin) and the receiver's (the acceptance). A kept name is linked, never
 * renamed over: a file already there stays as it is. Calls onFileDone exactly once. What the
 * sender is told names no local path.
 */
export class FileReceiver implements FrameHandler, IncomingFile {
  private state: 'receiving' | 'finishing' | 'done' = 'receiving';
  /** Bytes in the .part file so far (the sink has written them, not merely received them). */
  written = 0;
  outcome: IncomingFile['outcome'] = 'receiving';
  /** Readers of the file as it grows, woken when it grows or the transfer ends; bounded by the readers of one request. */
  private readonly watchers = new Set<() => void>();
  private received = 0;
  readonly tempPath: string;
  private readonly dir: string;
  private readonly saveAs: string;
  private readonly sink: FileSink;
  private waitingForDisk = false;
  private readonly progress: (bytes: number, final?: boolean) => void;
  /** Resolves once onFileDone has been called. */
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor(
    private readonly ctx: FileContext,
    private readonly sock: net.Socket,
    private readonly reader: FrameReader,
    private readonly header: FileBegin,
    private readonly accepted: FileAcceptance,
  ) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
    ctx.transfers.add(this);
    this.progress = throttle(ctx.limits.fileProgressIntervalMs, (bytes) => ctx.handlers.onFileProgress(header, bytes));
    this.saveAs = accepted.saveAs;
    this.dir = header.purpose === 'request' ? ctx.dataDir : ctx.storeDir;
    this.tempPath = join(this.dir, `.${this.saveAs}.${randomBytes(8).toString('hex')}.part`);
    this.sink = openSink(this.tempPath, header.size, ctx.limits.fileWorkerMinBytes);
    this.sink.onError((err) => this.abort('cannot write the file here', `cannot write ${this.tempPath}: ${err}`));
    this.sink.onWritten((n) => {
      this.written = n;
      this.wake();
    });
    reader.allowFileData();
    reader.setHandler(this);
    sock.setTimeout(ctx.limits.transferIdleMs, () => this.abort(`no bytes for ${ctx.limits.transferIdleMs} ms`));
    sock.on('end', () => this.abort('connection closed before file-end'));
    sock.on('close', () => this.abort('connection closed before file-end'));
  }

  /** The offer this transfer answers. */
  get offer(): FileBegin {
    return this.header;
  }

  get size(): number {
    return this.header.size;
  }

  get finalPath(): string {
    return join(this.dir, this.saveAs);
  }

  onChange(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private wake(): void {
    for (const fn of [...this.watchers]) fn();
  }

  /** The endpoint is closing, or the connection broke; harmless once file-end has arrived. `detail`: the local version of `reason`. */
  abort(reason: string, detail?: string): void {
    if (this.state === 'receiving') this.fail(reason, false, detail);
  }

  data(piece: Uint8Array): void {
    if (this.state !== 'receiving') return;
    this.received += piece.length;
    if (this.received > this.header.size) return this.fail(`sender sent more than the announced ${this.header.size} bytes`);
    // The piece is a view of a chunk the socket handed over for good, so the sink may keep it.
    this.sink.add(piece);
    this.progress(this.received);
  }

  afterRead(chunk: Uint8Array): void {
    if (this.state !== 'receiving') return;
    this.sink.afterRead(chunk);
    if (this.sink.backlogged && !this.waitingForDisk) {
      // The disk is behind: stop reading the socket so memory stays bounded.
      this.waitingForDisk = true;
      this.reader.pause('disk');
      this.sink.onDrain(() => {
        this.waitingForDisk = false;
        this.reader.resume('disk');
      });
    }
  }

  frame(bytes: Uint8Array, owned: boolean): void {
    if (this.state !== 'receiving') return;
    if (isLinkCode(bytes[5]!)) return this.fail('unexpected link frame inside a file transfer');
    const d = decodeBytes(bytes, owned);
    if (!d.ok) return this.fail(`bad frame: ${d.error.message}`);
    if (d.msg.type === 'file-end') return this.end(d.msg.sha256);
    // A non-empty file-data frame is always streamed, so anything else here breaks the rules.
    this.fail(`unexpected ${d.msg.type} inside a file transfer`);
  }

  private end(sha256: Uint8Array): void {
    if (this.received !== this.header.size) return this.fail(`got ${this.received} of ${this.header.size} bytes`);
    this.state = 'finishing';
    this.reader.setHandler(DISCARD);
    // Nothing more may come: keep reading only so that the sender's FIN is seen.
    this.reader.resume('disk');
    void this.commit(sha256);
  }

  private async commit(expected: Uint8Array): Promise<void> {
    let actual: Uint8Array;
    try {
      actual = await this.sink.finish();
    } catch (err) {
      return this.fail('cannot write the file here', true, `cannot write ${this.tempPath}: ${describe(err)}`);
    }
    const sha = Buffer.from(actual);
    if (!sha.equals(expected)) return this.fail('sha256 mismatch', true);
    const records = [this.header.sha256, this.accepted.sha256];
    if (records.some((r) => r && !sha.equals(r))) return this.fail(RECORD_MISMATCH, true);
    const final = join(this.dir, this.saveAs);
    try {
      if (this.accepted.keep) await putWithoutReplacing(this.tempPath, final, sha);
      else await fsp.rename(this.tempPath, final);
    } catch (err) {
      const exists = (err as NodeJS.ErrnoException).code === 'EEXIST';
      const reason = exists ? `a file named ${this.saveAs} is stored here already (stored files do not change)` : 'cannot save the file here';
      await fsp.unlink(this.tempPath).catch(() => {});
      return this.fail(reason, true, exists ? reason : `cannot put ${this.tempPath} in place as ${final}: ${describe(err)}`);
    }
    if (this.state !== 'finishing') return; // only fail() moves it on, and it reports itself
    this.state = 'done';
    if (!this.sock.destroyed && this.sock.writable) {
      this.sock.write(FILE_ACK);
      this.sock.end();
    }
    this.progress(this.received, true);
    this.report({ ok: true, sha256: sha });
  }

  /**
   * `finished`: the sink already closed the file (commit failed after finish). The sender is told
   * `error`; this peer's handlers get `detail` (which may name local paths) when given.
   */
  private fail(error: string, finished = false, detail?: string): void {
    if (this.state === 'done') return;
    this.state = 'done';
    // a reader of the file stops now, not once it is removed
    this.outcome = 'failed';
    this.wake();
    refuseFile(this.sock, this.reader, error, this.ctx.limits);
    void (finished ? Promise.resolve() : this.sink.abort())
      .then(() => fsp.unlink(this.tempPath))
      .catch(() => {}) // never created, or already gone
      .then(() => this.report({ ok: false, error: oneLine(detail ?? error) }));
  }

  private report(result: { ok: true; sha256: Uint8Array } | { ok: false; error: string }): void {
    this.ctx.transfers.delete(this);
    this.outcome = result.ok ? 'finished' : 'failed';
    this.wake();
    // the .part file is renamed into place or removed by now
    this.ctx.temp.release(this.header.size);
    this.ctx.handlers.onFileDone(this.header, result);
    this.settle();
  }
}

/**
 * Puts `temp` in place as `final` unless a different file is there already (EEXIST): a hard link,
 * which fails rather than replace, then the temporary name goes. Where links are not allowed, an
 * exclusive copy does the same. The very same bytes there already (peers sharing a folder) count
 * as in place.
 */
async function putWithoutReplacing(temp: string, final: string, sha: Buffer): Promise<void> {
  try {
    try {
      await fsp.link(temp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EMLINK') throw err;
      await fsp.copyFile(temp, final, fsConstants.COPYFILE_EXCL);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await hashOf(final))?.equals(sha)) throw err;
  }
  await fsp.unlink(temp).catch(() => {});
}

/** SHA-256 of a regular file, or null when it cannot be read. */
async function hashOf(path: string): Promise<Buffer | null> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return null;
  }
  return hash.digest();
}
