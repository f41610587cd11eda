// The client of a gateway: the DataApi over HTTP(S) for a program that runs no peer (hyperdht's
// client mode). Bytes stream both ways; what arrives is checked against the SHA-256 the gateway names.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat as fsStat, unlink } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { MAX_PORT } from '../core/config.js';
import { CdhtError } from '../core/errors.js';
import type { TlsIdentity } from '../security/identity.js';
import { tlsClientOptions } from '../security/tls.js';
import {
  decodeFileStat,
  decodeLookupResult,
  decodePutResult,
  errorFromResponse,
  fileRoute,
  HEALTH_ROUTE,
  lookupRoute,
  SHA256_HEADER,
  statRoute,
} from './gateway-protocol.js';
import type { DataApi, FileStat, GetFileResult, LookupResult, OpOptions, Progress, PutOptions, PutResult, PutSource } from './types.js';

/** Without an operation's own timeoutMs, a connection silent this long fails it. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** connect() waits at most this long for the gateway's first answer. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Sockets to the gateway at once; further requests queue in the agent, up to MAX_IN_FLIGHT in all. */
export const MAX_SOCKETS = 16;
export const MAX_FREE_SOCKETS = 4;
export const MAX_IN_FLIGHT = 256;
/** Results and errors are small; a gateway sending more is not one. */
export const MAX_JSON_BYTES = 1024 * 1024;
export const PROGRESS_EVERY_MS = 250;

export interface ConnectOptions {
  /** A private ring's gateway: this client's certificate, of the ring's authority. */
  tls?: TlsIdentity;
  timeoutMs?: number;
}

interface Where {
  host: string;
  port: number;
}

/** `host:port` or `[v6]:port`. */
export function parseGatewayAddress(text: string): Where {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^\s:@[\]/]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || !(port >= 1 && port <= MAX_PORT)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `a gateway address is host:port or [v6]:port (got ${JSON.stringify(text)})`);
  return { host: m[1]!, port };
}

/** Connects to the gateway at `address` and checks that it answers (and admits us). */
export async function connect(address: string, opts: ConnectOptions = {}): Promise<RingClient> {
  const client = new RingClient(parseGatewayAddress(address), opts);
  try {
    await client.health();
    return client;
  } catch (err) {
    client.close();
    throw err;
  }
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EADDRNOTAVAIL']);
const isTlsRefusal = (code: string): boolean => code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);

/** A socket or TLS error as the catalog's code. A reset while connecting is a TLS server refusing us. */
function transportError(err: unknown, connecting: boolean, where: string): Error {
  if (err instanceof CdhtError) return err;
  const code = String((err as NodeJS.ErrnoException | undefined)?.code ?? '');
  const why = err instanceof Error ? err.message : String(err);
  if (UNREACHABLE_CODES.has(code)) return new CdhtError('CDHT_ERR_UNREACHABLE', `no gateway answered at ${where} (${why})`, { cause: err });
  if (isTlsRefusal(code) || (connecting && (code === 'ECONNRESET' || code === 'EPIPE'))) {
    return new CdhtError('CDHT_ERR_NOT_ADMITTED', `the gateway at ${where} refused us (${why}): a private ring's gateway admits only certificates of its authority`, { cause: err });
  }
  return new CdhtError('CDHT_ERR_TRANSFER', `the connection to ${where} broke off (${why})`, { cause: err });
}

/** Calls onProgress at most every PROGRESS_EVERY_MS, and once more at the end. */
function progressOf(onProgress: OpOptions['onProgress'], phase: Progress['phase'], total?: number): { add(n: number): void; end(): void; bytes: number } {
  let last = 0;
  const m = {
    bytes: 0,
    add(n: number) {
      m.bytes += n;
      const now = Date.now();
      if (onProgress && now - last >= PROGRESS_EVERY_MS) {
        last = now;
        onProgress(report());
      }
    },
    end: () => onProgress?.(report()),
  };
  const report = (): Progress => (total === undefined ? { phase, bytes: m.bytes } : { phase, bytes: m.bytes, total });
  return m;
}

/** The bytes of a get as they arrive, hashed; the stream fails instead of ending when they are not the stored ones. */
class CheckedDownload extends Transform {
  private readonly hash = createHash('sha256');
  private expected: { sha256?: string; size?: number } = {};
  private meter = progressOf(undefined, 'receiving');
  sha256 = '';

  constructor(readonly fileName: string) {
    super();
  }
  get bytes(): number {
    return this.meter.bytes;
  }
  expect(headers: http.IncomingHttpHeaders, onProgress: OpOptions['onProgress']): void {
    const sha = headers[SHA256_HEADER];
    const size = Number(headers['content-length'] ?? NaN);
    this.expected = { ...(typeof sha === 'string' ? { sha256: sha.toLowerCase() } : {}), ...(Number.isSafeInteger(size) ? { size } : {}) };
    this.meter = progressOf(onProgress, 'receiving', this.expected.size);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.meter.add(chunk.length);
    if (this.expected.size !== undefined && this.bytes > this.expected.size) return cb(this.mismatch(`more than the ${this.expected.size} bytes announced`));
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    this.sha256 = this.hash.digest('hex');
    if (this.expected.size !== undefined && this.bytes !== this.expected.size) return cb(new CdhtError('CDHT_ERR_TRANSFER', `${this.fileName}: the transfer ended after ${this.bytes} of ${this.expected.size} bytes`));
    if (this.expected.sha256 !== undefined && this.sha256 !== this.expected.sha256) return cb(this.mismatch(`SHA-256 ${this.sha256}, not ${this.expected.sha256}`));
    this.meter.end();
    cb();
  }
  private mismatch(what: string): CdhtError {
    return new CdhtError('CDHT_ERR_INTEGRITY', `${this.fileName}: the bytes received do not match the stored record (${what})`);
  }
}

interface Body {
  stream: Readable;
  size?: number;
}

async function* asBuffers(source: AsyncIterable<Uint8Array | string>): AsyncIterable<Buffer> {
  for await (const c of source) yield typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/** Every PutSource as a byte stream, with its size when it is known up front. */
async function bodyOf(source: PutSource): Promise<Body> {
  if (typeof source === 'string' || source instanceof Uint8Array) {
    const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
    return { stream: Readable.from([bytes], { objectMode: false }), size: bytes.length };
  }
  if (typeof source === 'object' && source !== null && 'path' in source && typeof source.path === 'string') {
    const st = await fsStat(source.path).catch((err: NodeJS.ErrnoException) => {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `cannot read ${source.path} (${err.code ?? err.message})`);
    });
    if (!st.isFile()) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `${source.path} is not a file`);
    return { stream: createReadStream(source.path), size: st.size };
  }
  if (typeof source === 'object' && source !== null && Symbol.asyncIterator in source) return { stream: Readable.from(asBuffers(source), { objectMode: false }) };
  throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', 'put takes bytes, a string, an async iterable of bytes or { path }');
}

/** A response body, whole, up to `max` bytes. Listens at once so an answer that came with a reset is still read. */
function readBody(res: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > max) res.destroy(new CdhtError('CDHT_ERR_BAD_PAYLOAD', `the gateway's answer is over ${max} bytes`));
      else chunks.push(c);
    });
    res.once('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', (err) => (res.complete ? resolve(Buffer.concat(chunks)) : reject(err)));
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Pipes a download's body into `out`; a broken-off body fails with the exchange's reason for it. */
function streamInto(res: http.IncomingMessage, out: CheckedDownload, ex: Exchange): Promise<void> {
  return new Promise((resolve, reject) => {
    res.on('error', (err) => reject(ex.errorOf(err)));
    res.once('close', () => {
      // errorOf codes it (CDHT_ERR_TRANSFER)
      if (!res.complete) reject(ex.errorOf(new Error('the gateway closed the transfer before its end')));
    });
    out.once('error', reject);
    out.once('finish', resolve);
    res.pipe(out);
  });
}

/** One HTTP request and its response, with the operation's signal and timeout tied to it. */
class Exchange {
  readonly req: http.ClientRequest;
  readonly response: Promise<http.IncomingMessage>;
  /** Why we ended it ourselves (abort, timeout, a failed source): reported instead of the socket error it causes. */
  private cause: Error | undefined;
  private done = false;
  private readonly cleanups: Array<() => void> = [];

  constructor(private readonly client: RingClient, method: string, path: string, options: OpOptions, headers: http.OutgoingHttpHeaders, connecting = false) {
    // `timeout` bounds silences from the connect on (req.setTimeout would start after it).
    const idleMs = options.timeoutMs === undefined && !connecting ? client.timeoutMs : undefined;
    this.req = client.transport.request({ host: client.where.host, port: client.where.port, method, path, agent: client.agent, headers, ...(idleMs !== undefined ? { timeout: idleMs } : {}) });
    const where = client.address;
    this.response = new Promise((resolve, reject) => {
      this.req.once('response', resolve);
      // `on`, not `once`: a request destroyed after its response may emit another error, which must not go unheard.
      this.req.on('error', (err) => reject(this.errorOf(err, connecting, where)));
    });
    this.response.catch(() => this.finish());
    this.limit(options, connecting);
  }

  private limit(options: OpOptions, connecting: boolean): void {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return this.stop(new CdhtError('CDHT_ERR_ABORTED', 'aborted before it started'));
    if (signal) {
      const onAbort = () => this.stop(new CdhtError('CDHT_ERR_ABORTED', 'the operation was aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.cleanups.push(() => signal.removeEventListener('abort', onAbort));
    }
    const ms = connecting ? Math.min(CONNECT_TIMEOUT_MS, this.client.timeoutMs) : (timeoutMs ?? this.client.timeoutMs);
    const timedOut = () => this.stop(new CdhtError(connecting ? 'CDHT_ERR_UNREACHABLE' : 'CDHT_ERR_TIMEOUT', `no answer from ${this.client.address} within ${ms} ms`));
    if (connecting || timeoutMs !== undefined) {
      // connect()'s limit and the caller's own are for the whole operation.
      const timer = setTimeout(timedOut, ms);
      this.cleanups.push(() => clearTimeout(timer));
    } else {
      // The default only bounds silences, so a long transfer that keeps moving is never cut.
      this.req.once('timeout', timedOut);
    }
  }

  /** Ends the exchange with `err` (kept as the reason whatever socket error follows). */
  stop(err: Error): void {
    if (this.done) return;
    this.cause ??= err;
    this.req.destroy(err);
  }

  errorOf(err: unknown, connecting = false, where = this.client.address): Error {
    return this.cause ?? transportError(err, connecting, where);
  }

  /** Sends `body` (streamed, backpressure kept); a failing source fails the request with its own error. */
  send(body: Body | undefined, onProgress: OpOptions['onProgress']): void {
    if (!body) return void this.req.end();
    const meter = progressOf(onProgress, 'sending', body.size);
    body.stream.once('error', (err) => (this.cause ??= err));
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        meter.add(chunk.length);
        cb(null, chunk);
      },
      flush(cb) {
        meter.end();
        cb();
      },
    });
    pipeline(body.stream, counter, this.req, () => {});
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    for (const c of this.cleanups) c();
    this.client.released();
  }
}

export class RingClient implements DataApi {
  readonly agent: http.Agent;
  readonly transport: typeof http | typeof https;
  readonly timeoutMs: number;
  readonly address: string;
  private inFlight = 0;

  constructor(readonly where: Where, opts: ConnectOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.address = where.host.includes(':') ? `[${where.host}]:${where.port}` : `${where.host}:${where.port}`;
    const pool = { keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_FREE_SOCKETS };
    this.transport = opts.tls ? https : http;
    this.agent = opts.tls ? new https.Agent({ ...pool, ...tlsClientOptions(opts.tls) }) : new http.Agent(pool);
  }

  /** Checks that a gateway answers there (connect() calls it). */
  async health(): Promise<void> {
    const ok = await this.call('GET', HEALTH_ROUTE, {}, (v) => (v as { ok?: unknown } | undefined)?.ok === true, true);
    if (!ok) throw new CdhtError('CDHT_ERR_UNREACHABLE', `${this.address} answers, but not as a cdht gateway`);
  }

  async put(name: string, source: PutSource, options: PutOptions = {}): Promise<PutResult> {
    const body = await bodyOf(source);
    const query = options.copies !== undefined ? `?copies=${encodeURIComponent(String(options.copies))}` : '';
    const headers = { 'content-type': 'application/octet-stream', ...(body.size !== undefined ? { 'content-length': String(body.size) } : {}) };
    return this.call('PUT', fileRoute(name) + query, options, decodePutResult, false, headers, body);
  }

  get(name: string, options: OpOptions = {}): Readable {
    const out = new CheckedDownload(name);
    this.download(name, options, out).catch((err: Error) => out.destroy(err));
    return out;
  }

  async getBuffer(name: string, options: OpOptions = {}): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of this.get(name, options) as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  }

  async getFile(name: string, path: string, options: OpOptions = {}): Promise<GetFileResult> {
    const part = `${path}.part-${randomBytes(6).toString('hex')}`;
    const src = this.get(name, options) as CheckedDownload;
    try {
      await pipelineAsync(src, createWriteStream(part, { flags: 'wx' }));
      await rename(part, path);
    } catch (err) {
      await unlink(part).catch(() => {});
      throw err;
    }
    return { name, path, size: src.bytes, sha256: src.sha256 };
  }

  async stat(name: string, options: OpOptions = {}): Promise<FileStat | null> {
    try {
      return await this.call('GET', statRoute(name), options, decodeFileStat);
    } catch (err) {
      if (err instanceof CdhtError && err.code === 'CDHT_ERR_NOT_FOUND') return null;
      throw err;
    }
  }

  async has(name: string, options: OpOptions = {}): Promise<boolean> {
    return (await this.stat(name, options)) !== null;
  }

  lookup(key: bigint | number, options: OpOptions = {}): Promise<LookupResult> {
    if (typeof key === 'number' && !Number.isSafeInteger(key)) return Promise.reject(new CdhtError('CDHT_ERR_BAD_ARGUMENT', `a key is a non-negative integer (got ${key})`));
    const k = BigInt(key);
    if (k < 0n) return Promise.reject(new CdhtError('CDHT_ERR_BAD_ARGUMENT', `a key is a non-negative integer (got ${k})`));
    return this.call('GET', lookupRoute(k), options, decodeLookupResult);
  }

  /** Deletes `name` through the gateway: its member is the publisher the ring judges (see docs/api.md). */
  async delete(name: string, options: OpOptions = {}): Promise<void> {
    await this.call('DELETE', fileRoute(name), options, () => undefined);
  }

  close(): void {
    this.agent.destroy();
  }

  /** @internal An exchange has ended. */
  released(): void {
    this.inFlight--;
  }

  private open(method: string, path: string, options: OpOptions, headers: http.OutgoingHttpHeaders = {}, connecting = false): Exchange {
    if (this.inFlight >= MAX_IN_FLIGHT) throw new CdhtError('CDHT_ERR_BUSY', `this client has ${MAX_IN_FLIGHT} operations in flight, its limit`);
    this.inFlight++;
    return new Exchange(this, method, path, options, headers, connecting);
  }

  /** A request whose answer is JSON: the decoded result on success, its CdhtError otherwise. */
  private async call<T>(method: string, path: string, options: OpOptions, decode: (v: unknown) => T, connecting = false, headers: http.OutgoingHttpHeaders = {}, body?: Body): Promise<T> {
    const ex = this.open(method, path, options, headers, connecting);
    try {
      ex.send(body, options.onProgress);
      const res = await ex.response;
      const raw = await readBody(res, MAX_JSON_BYTES).catch((err: unknown) => Promise.reject(ex.errorOf(err)));
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return decode(parseJson(raw));
      throw errorFromResponse(status, parseJson(raw));
    } finally {
      ex.finish();
    }
  }

  private async download(name: string, options: OpOptions, out: CheckedDownload): Promise<void> {
    const ex = this.open('GET', fileRoute(name), options);
    // A reader that stops early (destroy, a failed write) ends the transfer.
    out.once('close', () => ex.stop(new CdhtError('CDHT_ERR_ABORTED', 'the reader closed the stream')));
    try {
      ex.send(undefined, undefined);
      const res = await ex.response;
      if (res.statusCode !== 200) {
        const raw = await readBody(res, MAX_JSON_BYTES).catch((err: unknown) => Promise.reject(ex.errorOf(err)));
        throw errorFromResponse(res.statusCode ?? 0, parseJson(raw));
      }
      out.expect(res.headers, options.onProgress);
      await streamInto(res, out, ex);
    } finally {
      ex.finish();
    }
  }
}
