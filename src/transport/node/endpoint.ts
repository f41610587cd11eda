// The Node shell's window on the world: the real clock and timers, and an endpoint that binds
// UDP (pings) and TCP (messages, file transfers) on one address and streams files to and from disk.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { createReadStream, createWriteStream, promises as fsp, type WriteStream } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { Address, Contact, Target } from '../../core/contact.js';
import { CdhtError } from '../../core/errors.js';
import type { FileBegin, Message } from '../../core/messages.js';
import { decodeFrame, encodeFrame, FILE_CHUNK_BYTES, FrameDecoder, type Decoded } from '../../wire/index.js';
import type { Endpoint, EndpointHandlers, EndpointOptions, Origin, Runtime } from '../types.js';

/** Outgoing TCP connections (messages and file transfers) open at once; more wait in a queue. */
export const MAX_OUTGOING_CONNECTIONS = 64;
/** Sends waiting for an outgoing slot; beyond this a send is rejected at once. */
export const MAX_QUEUED_SENDS = 1024;
/** Incoming TCP connections open at once; more are refused. */
export const MAX_INCOMING_CONNECTIONS = 256;
export const CONNECT_TIMEOUT_MS = 3_000;
/** A message connection with no traffic for this long is dropped. */
export const MESSAGE_IDLE_MS = 10_000;
/** A file transfer with no traffic for this long is abandoned. */
export const TRANSFER_IDLE_MS = 30_000;
/** listFiles looks at no more than this many directory entries. */
const MAX_LISTED_FILES = 100_000;

export function createNodeRuntime(): Runtime {
  return {
    kind: 'node',
    now: () => Date.now(),
    setTimer: (delayMs, fn) => setTimeout(fn, delayMs),
    clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
    random32: () => randomInt(0, 2 ** 32 - 1) >>> 0,
    openEndpoint: (opts, handlers) => NodeEndpoint.open(opts, handlers),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && !code.startsWith('CDHT_')) return code;
  return oneLine(err instanceof Error ? err.message : String(err));
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

function unreachable(message: string): CdhtError {
  return new CdhtError('CDHT_ERR_UNREACHABLE', message);
}

/** A bare name inside the data directory: no separators, no hidden or relative names. */
function isPlainFileName(name: string): boolean {
  return typeof name === 'string' && name.length > 0 && !/[/\\\0]/.test(name) && !name.startsWith('.');
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  EACCES: 'permission denied',
};

/** Handlers that never throw back into a socket callback: a throwing handler is logged and ignored. */
function guard(h: EndpointHandlers): EndpointHandlers {
  const bad = (detail: string, source?: string): void => {
    try {
      h.onBadInput(oneLine(detail), source);
    } catch {
      // The log itself failed; there is nowhere left to report it.
    }
  };
  return {
    onBadInput: bad,
    onMessage(msg, origin) {
      try {
        h.onMessage(msg, origin);
      } catch (err) {
        bad(`onMessage handler threw: ${describe(err)}`);
      }
    },
    onFileOffer(header, origin) {
      try {
        return h.onFileOffer(header, origin);
      } catch (err) {
        bad(`onFileOffer handler threw: ${describe(err)}`);
        return null;
      }
    },
    onFileDone(header, result) {
      try {
        h.onFileDone(header, result);
      } catch (err) {
        bad(`onFileDone handler threw: ${describe(err)}`);
      }
    },
  };
}

/** A counting semaphore with a bounded queue: at most `max` holders, at most `maxQueued` waiting. */
class Slots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly maxQueued: number,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.max) {
      this.active++;
    } else {
      if (this.waiting.length >= this.maxQueued) {
        throw unreachable(`too many outgoing connections (${this.max} open, ${this.maxQueued} queued)`);
      }
      // The releasing holder hands its slot straight over, so `active` stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Outgoing connections.

interface Dialed {
  readonly sock: net.Socket;
  /** Settles when the socket closes: resolves if it closed cleanly, rejects with the first failure. */
  readonly closed: Promise<void>;
  /** Destroys the connection, making `closed` reject with this error. */
  fail(error: Error): void;
  /** Resolves on 'drain'; rejects if the connection closes first. */
  drained(): Promise<void>;
}

/** Connects within CONNECT_TIMEOUT_MS, or rejects with CDHT_ERR_UNREACHABLE. */
function dial(to: Target, idleMs: number, track: Set<(error: Error) => void>): Promise<Dialed> {
  const where = `${to.host}:${to.port}`;
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: to.host, port: to.port });
    let connected = false;
    let failure: Error | null = null;
    const fail = (error: Error): void => {
      failure ??= error;
      sock.destroy();
    };
    track.add(fail);
    const connectTimer = setTimeout(
      () => fail(unreachable(`cannot connect to ${where}: no answer within ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    const closed = new Promise<void>((resolveClosed, rejectClosed) => {
      sock.once('close', (hadError) => {
        clearTimeout(connectTimer);
        track.delete(fail);
        if (!connected) reject(failure ?? unreachable(`cannot connect to ${where}: connection closed`));
        if (failure || hadError) rejectClosed(failure ?? unreachable(`connection to ${where} failed`));
        else resolveClosed();
      });
    });
    // Nobody awaits `closed` when the connect fails; that failure is reported through reject().
    closed.catch(() => {});
    sock.on('error', (err) => {
      failure ??= unreachable(`${connected ? 'connection to' : 'cannot connect to'} ${where}: ${describe(err)}`);
    });
    const drained = (): Promise<void> =>
      new Promise((resolveDrain, rejectDrain) => {
        if (sock.destroyed) {
          rejectDrain(failure ?? unreachable(`connection to ${where} closed`));
          return;
        }
        const onDrain = (): void => {
          sock.off('close', onClose);
          resolveDrain();
        };
        const onClose = (): void => {
          sock.off('drain', onDrain);
          rejectDrain(failure ?? unreachable(`connection to ${where} closed`));
        };
        sock.once('drain', onDrain);
        sock.once('close', onClose);
      });
    sock.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      sock.setTimeout(idleMs, () => fail(unreachable(`connection to ${where} idle for ${idleMs} ms`)));
      resolve({ sock, closed, fail, drained });
    });
  });
}

async function writeFrame(conn: Dialed, frame: Uint8Array): Promise<void> {
  if (!conn.sock.write(frame)) await conn.drained();
}

/** file-begin, the file in FILE_CHUNK_BYTES file-data frames, file-end; never the whole file in memory. */
async function streamFile(conn: Dialed, header: FileBegin, path: string): Promise<void> {
  const hash = createHash('sha256');
  let sent = 0;
  await writeFrame(conn, encodeFrame(header));
  const input = createReadStream(path, { highWaterMark: FILE_CHUNK_BYTES });
  for await (const chunk of input as AsyncIterable<Buffer>) {
    sent += chunk.length;
    if (sent > header.size) throw new Error(`${path} grew past the announced ${header.size} bytes while sending`);
    hash.update(chunk);
    await writeFrame(conn, encodeFrame({ type: 'file-data', chunk }));
  }
  if (sent !== header.size) throw new Error(`${path} has ${sent} bytes, ${header.size} were announced`);
  conn.sock.end(encodeFrame({ type: 'file-end', sha256: hash.digest() }));
}

// ---------------------------------------------------------------------------------------------
// Incoming connections.

interface Context {
  readonly dataDir: string;
  /** Guarded: they never throw. */
  readonly handlers: EndpointHandlers;
  /** Receivers that have not yet reported onFileDone. */
  readonly transfers: Set<FileReceiver>;
}

/**
 * One accepted file transfer: streams into `.saveAs.<hex>.part`, hashing as it goes, and renames
 * it to `saveAs` only once size and sha256 match. Calls onFileDone exactly once.
 */
class FileReceiver {
  private state: 'receiving' | 'finishing' | 'done' = 'receiving';
  private received = 0;
  private readonly hash = createHash('sha256');
  private readonly tempPath: string;
  private readonly out: WriteStream;
  private opened = false;
  private readonly outClosed: Promise<void>;
  private writeFailed = false;
  private waitingForDrain = false;
  /** Resolves once onFileDone has been called. */
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor(
    private readonly ctx: Context,
    private readonly sock: net.Socket,
    private readonly header: FileBegin,
    private readonly saveAs: string,
  ) {
    this.settled = new Promise((resolve) => (this.settle = resolve));
    ctx.transfers.add(this);
    this.tempPath = join(ctx.dataDir, `.${saveAs}.${randomBytes(8).toString('hex')}.part`);
    this.out = createWriteStream(this.tempPath, { flags: 'wx' });
    this.outClosed = new Promise((resolve) => this.out.once('close', resolve));
    this.out.once('open', () => (this.opened = true));
    this.out.on('error', (err) => {
      this.writeFailed = true;
      this.fail(`cannot write ${this.tempPath}: ${describe(err)}`);
    });
  }

  frame(d: Decoded): void {
    if (this.state !== 'receiving') return;
    if (!d.ok) return this.fail(`bad frame: ${d.error.message}`);
    const msg = d.msg;
    if (msg.type === 'file-data') return this.data(msg.chunk);
    if (msg.type === 'file-end') return this.end(msg.sha256);
    this.fail(`unexpected ${msg.type} inside a file transfer`);
  }

  /** The connection ended, broke or went idle; harmless once the file-end has arrived. */
  abort(reason: string): void {
    if (this.state === 'receiving') this.fail(reason);
  }

  private data(chunk: Uint8Array): void {
    this.received += chunk.length;
    if (this.received > this.header.size) {
      return this.fail(`sender sent more than the announced ${this.header.size} bytes`);
    }
    this.hash.update(chunk);
    // Chunks from FrameDecoder are the caller's to keep, so the stream may hold on to them.
    if (!this.out.write(chunk) && !this.waitingForDrain) {
      // The disk is behind: stop reading the socket so memory stays bounded.
      this.waitingForDrain = true;
      this.sock.pause();
      this.out.once('drain', () => {
        this.waitingForDrain = false;
        if (this.state === 'receiving') this.sock.resume();
      });
    }
  }

  private end(sha256: Uint8Array): void {
    if (this.received !== this.header.size) {
      return this.fail(`got ${this.received} of ${this.header.size} bytes`);
    }
    if (!this.hash.digest().equals(sha256)) return this.fail('sha256 mismatch');
    this.state = 'finishing';
    // Keep reading so the sender's FIN arrives; anything after file-end is ignored.
    this.sock.resume();
    void this.commit();
  }

  private async commit(): Promise<void> {
    this.out.end();
    await this.outClosed;
    if (this.writeFailed) return; // fail() has taken over
    try {
      await fsp.rename(this.tempPath, join(this.ctx.dataDir, this.saveAs));
    } catch (err) {
      return this.fail(`cannot rename ${this.tempPath} to ${this.saveAs}: ${describe(err)}`);
    }
    this.state = 'done';
    if (!this.sock.destroyed) this.sock.end();
    this.report({ ok: true });
  }

  private fail(error: string): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.sock.destroy();
    this.out.destroy();
    // Unlink only after the stream has closed: an open still in flight would recreate the file.
    void this.outClosed
      .then(() => (this.opened ? fsp.unlink(this.tempPath) : undefined))
      .catch(() => {})
      .then(() => this.report({ ok: false, error: oneLine(error) }));
  }

  private report(result: { ok: true } | { ok: false; error: string }): void {
    this.ctx.transfers.delete(this);
    this.ctx.handlers.onFileDone(this.header, result);
    this.settle();
  }
}

/** One accepted TCP connection: a stream of messages, or (if its first frame is file-begin) one file. */
class Inbound {
  private readonly decoder = new FrameDecoder();
  private mode: 'first' | 'messages' | 'file' = 'first';
  private receiver: FileReceiver | null = null;
  private readonly where: string;
  private readonly origin: Origin;

  constructor(
    private readonly ctx: Context,
    private readonly sock: net.Socket,
  ) {
    this.where = `tcp from ${sock.remoteAddress}:${sock.remotePort}`;
    this.origin = { via: 'tcp', src: { host: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 } };
    sock.setTimeout(MESSAGE_IDLE_MS, () =>
      this.abort(`idle for ${this.mode === 'file' ? TRANSFER_IDLE_MS : MESSAGE_IDLE_MS} ms`),
    );
    sock.on('data', (bytes: Buffer) => this.onData(bytes));
    sock.on('end', () => this.onEnd());
    sock.on('error', (err) => {
      this.ctx.handlers.onBadInput(`${this.where}: ${describe(err)}`, this.where);
      this.receiver?.abort(`connection failed: ${describe(err)}`);
    });
    sock.on('close', () => this.receiver?.abort('connection closed before file-end'));
  }

  /** Drops the connection; a transfer in progress fails and its partial file is removed. */
  abort(reason: string): void {
    this.receiver?.abort(reason);
    this.sock.destroy();
  }

  private onData(bytes: Buffer): void {
    for (const d of this.decoder.push(bytes)) {
      if (this.sock.destroyed) return; // an earlier frame ended the connection
      this.onFrame(d);
    }
    if (this.decoder.failed && !this.sock.destroyed) this.abort('undecodable byte stream');
  }

  private onFrame(d: Decoded): void {
    if (this.mode === 'first') {
      if (d.ok && d.msg.type === 'file-begin') return this.startFile(d.msg);
      this.mode = 'messages';
    }
    if (this.mode === 'file') {
      this.receiver?.frame(d);
      return;
    }
    if (!d.ok) return this.ctx.handlers.onBadInput(`${this.where}: ${d.error.message}`, this.where);
    const type = d.msg.type;
    if (type === 'file-begin' || type === 'file-data' || type === 'file-end') {
      return this.ctx.handlers.onBadInput(`${this.where}: ${type} outside a file transfer`, this.where);
    }
    this.ctx.handlers.onMessage(d.msg, this.origin);
  }

  private startFile(header: FileBegin): void {
    this.mode = 'file';
    this.sock.setTimeout(TRANSFER_IDLE_MS);
    const saveAs = this.ctx.handlers.onFileOffer(header, this.origin);
    if (saveAs === null) {
      this.sock.destroy();
      return;
    }
    if (!isPlainFileName(saveAs)) {
      this.sock.destroy();
      this.ctx.handlers.onFileDone(header, { ok: false, error: `refusing to save as ${JSON.stringify(saveAs)}: not a plain file name` });
      return;
    }
    this.receiver = new FileReceiver(this.ctx, this.sock, header, saveAs);
  }

  private onEnd(): void {
    // The socket ends its side too (allowHalfOpen is off); a transfer cut short fails on 'close'.
    if (this.mode !== 'file' && this.decoder.buffered > 0 && !this.decoder.failed) {
      this.ctx.handlers.onBadInput(`${this.where}: connection closed inside a frame (${this.decoder.buffered} bytes)`, this.where);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The endpoint.

class NodeEndpoint implements Endpoint {
  private readonly udp: dgram.Socket;
  private readonly server: net.Server;
  private readonly ctx: Context;
  private readonly inbound = new Set<Inbound>();
  private readonly outgoing = new Set<(error: Error) => void>();
  private readonly slots = new Slots(MAX_OUTGOING_CONNECTIONS, MAX_QUEUED_SENDS);
  private listening = false;
  private closing: Promise<void> | null = null;

  static async open(opts: EndpointOptions, handlers: EndpointHandlers): Promise<NodeEndpoint> {
    const self = opts.listen ?? opts.self;
    const ep = new NodeEndpoint(self, opts.dataDir, guard(handlers));
    try {
      await ep.listen();
    } catch (err) {
      await ep.close();
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const why = LISTEN_ERRORS[code] ?? describe(err);
      throw new Error(`cannot listen on ${self.host}:${self.port}: ${why}`, { cause: err });
    }
    return ep;
  }

  private constructor(
    private readonly self: Address,
    private readonly dataDir: string,
    handlers: EndpointHandlers,
  ) {
    this.ctx = { dataDir, handlers, transfers: new Set() };
    this.udp = dgram.createSocket(self.host.includes(':') ? 'udp6' : 'udp4');
    this.udp.on('message', (bytes, from) => this.onDatagram(bytes, { host: from.address, port: from.port }));
    this.udp.on('error', (err) => {
      if (this.listening) handlers.onBadInput(`udp socket: ${describe(err)}`);
    });
    this.server = net.createServer((sock) => this.onConnection(sock));
    this.server.on('error', (err) => {
      if (this.listening) handlers.onBadInput(`tcp server: ${describe(err)}`);
    });
  }

  private async listen(): Promise<void> {
    const { host, port } = this.self;
    await new Promise<void>((resolve, reject) => {
      this.udp.once('error', reject);
      this.udp.bind(port, host, () => {
        this.udp.off('error', reject);
        resolve();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
  }

  private onDatagram(bytes: Buffer, src: Address): void {
    const where = `udp from ${src.host}:${src.port}`;
    const d = decodeFrame(bytes);
    if (!d.ok) return this.ctx.handlers.onBadInput(`${where}: ${d.error.message}`, where);
    if (d.msg.type !== 'ping' && d.msg.type !== 'pong') {
      return this.ctx.handlers.onBadInput(`${where}: ${d.msg.type} is not allowed over udp`, where);
    }
    this.ctx.handlers.onMessage(d.msg, { via: 'udp', src });
  }

  private onConnection(sock: net.Socket): void {
    sock.on('error', () => {}); // replaced by Inbound's handler, or irrelevant once refused
    if (this.closing) {
      sock.destroy();
      return;
    }
    if (this.inbound.size >= MAX_INCOMING_CONNECTIONS) {
      this.ctx.handlers.onBadInput(
        `tcp from ${sock.remoteAddress}:${sock.remotePort}: refused, ${MAX_INCOMING_CONNECTIONS} connections already open`,
      );
      sock.destroy();
      return;
    }
    const conn = new Inbound(this.ctx, sock);
    this.inbound.add(conn);
    sock.once('close', () => this.inbound.delete(conn));
  }

  sendDatagram(to: Target, msg: Message): void {
    if (this.closing) return;
    try {
      const frame = encodeFrame(msg);
      this.udp.send(frame, to.port, to.host, () => {
        // Datagrams are fire and forget: a send error means the same as a lost packet.
      });
    } catch {
      // Same: an unsendable datagram is a lost datagram.
    }
  }

  async sendMessage(to: Target, msg: Message): Promise<void> {
    const frame = encodeFrame(msg);
    await this.slots.run(async () => {
      const conn = await this.dial(to, MESSAGE_IDLE_MS);
      conn.sock.end(frame);
      await conn.closed;
    });
  }

  async statFile(name: string): Promise<{ size: number } | null> {
    if (!isPlainFileName(name)) return null;
    try {
      const st = await fsp.stat(join(this.dataDir, name));
      return st.isFile() ? { size: st.size } : null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw err;
    }
  }

  async listFiles(): Promise<{ name: string; size: number }[]> {
    const out: { name: string; size: number }[] = [];
    let names: string[];
    try {
      names = await fsp.readdir(this.dataDir);
    } catch {
      return out;
    }
    for (const name of names.slice(0, MAX_LISTED_FILES)) {
      if (!isPlainFileName(name)) continue;
      const st = await this.statFile(name).catch(() => null);
      if (st) out.push({ name, size: st.size });
    }
    return out;
  }

  async sendFile(to: Target, header: FileBegin, name: string): Promise<void> {
    if (!isPlainFileName(name)) {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `${JSON.stringify(name)} is not a plain file name`);
    }
    if (!(await this.statFile(name))) {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `no file named ${name} in ${this.dataDir}`);
    }
    const path = join(this.dataDir, name);
    await this.slots.run(async () => {
      const conn = await this.dial(to, TRANSFER_IDLE_MS);
      try {
        await streamFile(conn, header, path);
      } catch (err) {
        conn.fail(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
      await conn.closed;
    });
  }

  private dial(to: Target, idleMs: number): Promise<Dialed> {
    if (this.closing) return Promise.reject(unreachable('endpoint closed'));
    return dial(to, idleMs, this.outgoing);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const udpClosed = new Promise<void>((resolve) => {
      try {
        this.udp.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const fail of [...this.outgoing]) fail(unreachable('endpoint closed'));
    for (const conn of [...this.inbound]) conn.abort('endpoint closed');
    await Promise.all([udpClosed, serverClosed, ...[...this.ctx.transfers].map((t) => t.settled)]);
  }
}
