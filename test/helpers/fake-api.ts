// An in-memory DataApi for the gateway's tests: a Map of name -> bytes, with switches that make
// it fail, stall or lie, and a record of the AbortSignals it was handed.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { DataApi, FileStat, GetFileResult, LookupResult, OpOptions, PutOptions, PutResult, PutSource } from '../../src/api/types.js';
import { CdhtError } from '../../src/core/errors.js';

const OWNER = { id: 2n ** 100n + 7n, host: '127.0.0.1', port: 7000 };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const keyOf = (name: string): bigint => BigInt(`0x${sha(Buffer.from(name)).slice(0, 40)}`);

/** A promise with its resolver, for "the fake reached this point" signals. */
export function latch(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

export class FakeApi implements DataApi {
  readonly files = new Map<string, Buffer>();
  /** Every signal an operation got, last one last. */
  readonly signals: AbortSignal[] = [];
  /** get streams the first chunk, then stalls until its signal fires. */
  stallGet = false;
  /** get serves the bytes with one of them flipped (stat still names the true SHA-256). */
  corrupt = false;
  /** get ends its stream this many bytes short. */
  truncate = 0;
  /** Opened when a put has read its first chunk / a get has sent its first chunk. */
  putStarted = latch();
  getStarted = latch();
  copiesSeen: number | undefined;

  async put(name: string, source: PutSource, options: PutOptions = {}): Promise<PutResult> {
    this.note(options);
    this.copiesSeen = options.copies;
    if (this.files.has(name)) throw new CdhtError('CDHT_ERR_EXISTS', `${name} is stored already`);
    const chunks: Buffer[] = [];
    for await (const c of source as AsyncIterable<Uint8Array>) {
      chunks.push(Buffer.from(c));
      this.putStarted.open();
    }
    if (options.signal?.aborted) throw new CdhtError('CDHT_ERR_ABORTED', 'aborted');
    const bytes = Buffer.concat(chunks);
    this.files.set(name, bytes);
    return { name, key: keyOf(name), size: bytes.length, sha256: sha(bytes), holders: [OWNER], hops: 2 };
  }

  get(name: string, options: OpOptions = {}): Readable {
    this.note(options);
    const bytes = this.files.get(name);
    const self = this;
    return Readable.from(
      (async function* () {
        if (!bytes) throw new CdhtError('CDHT_ERR_NOT_FOUND', `no holder has ${name}`);
        const served = self.corrupt && bytes.length > 0 ? Buffer.from(bytes) : bytes.subarray(0, bytes.length - self.truncate);
        if (self.corrupt && served.length > 0) served[served.length - 1]! ^= 0xff;
        const first = Math.min(served.length, 64 * 1024);
        yield served.subarray(0, first);
        self.getStarted.open();
        if (self.stallGet && options.signal) {
          if (!options.signal.aborted) await once(options.signal, 'abort');
          throw new CdhtError('CDHT_ERR_ABORTED', 'aborted');
        }
        for (let i = first; i < served.length; i += 64 * 1024) yield served.subarray(i, i + 64 * 1024);
      })(),
      { objectMode: false },
    );
  }

  async getBuffer(name: string, options?: OpOptions): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.get(name, options) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  getFile(): Promise<GetFileResult> {
    throw new Error('the gateway never calls getFile');
  }

  async stat(name: string, options: OpOptions = {}): Promise<FileStat | null> {
    this.note(options);
    const bytes = this.files.get(name);
    return bytes ? { name, key: keyOf(name), size: bytes.length, sha256: sha(bytes), holders: [OWNER] } : null;
  }

  async delete(name: string, options: OpOptions = {}): Promise<void> {
    this.note(options);
    if (!this.files.delete(name)) throw new CdhtError('CDHT_ERR_NOT_FOUND', `no holder has ${name}`);
  }

  async has(name: string, options?: OpOptions): Promise<boolean> {
    return (await this.stat(name, options)) !== null;
  }

  async lookup(key: bigint | number, options: OpOptions = {}): Promise<LookupResult> {
    this.note(options);
    return { key: BigInt(key), owner: OWNER, hops: 3, successors: [{ id: OWNER.id + 1n, host: '127.0.0.1', port: 7001 }], path: [1n, 2n, 3n, OWNER.id] };
  }

  private note(options: OpOptions): void {
    if (options.signal) this.signals.push(options.signal);
  }
}
