// The HTTP(S) gateway: a thin shell that serves a DataApi (a member peer's) to clients that run no
// peer, as OpenDHT's dhtproxy does. Bytes are streamed both ways; every operation is bounded.
import { once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { DEFAULT_HOST } from '../core/config.js';
import { CdhtError } from '../core/errors.js';
import type { TlsIdentity } from '../security/identity.js';
import { tlsContextOptions } from '../security/tls.js';
import { errorBody, parseCopies, parseRoute, SHA256_HEADER, statusOf, toJson, type Route } from './gateway-protocol.js';
import type { DataApi, OpOptions } from './types.js';

export const DEFAULT_GATEWAY_HOST = DEFAULT_HOST;
export const DEFAULT_MAX_CONCURRENT = 32;
/** A peer's own default --max-file-size. */
export const DEFAULT_MAX_FILE_BYTES = 1024 ** 3;
/** Slow-loris bounds: the headers within 10 s, a whole request (a put's bytes) within 10 min. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 10 * 60_000;
/** A connection silent this long is closed (which aborts whatever it was doing). */
export const IDLE_TIMEOUT_MS = 120_000;
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Open connections at once; idle keep-alive ones count too. */
export const MAX_CONNECTIONS = 1024;
export const MAX_HEADERS = 64;

export interface GatewayOptions {
  host?: string;
  port: number;
  /** Mutual TLS with this identity: only clients holding a certificate of its authority get in. */
  tls?: TlsIdentity;
  maxFileBytes?: number;
  maxConcurrent?: number;
}

export interface Gateway {
  address: { host: string; port: number };
  close(): Promise<void>;
}

interface Limits {
  maxFileBytes: number;
  maxConcurrent: number;
}

export async function startGateway(api: DataApi, opts: GatewayOptions): Promise<Gateway> {
  const limits: Limits = { maxFileBytes: opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES, maxConcurrent: opts.maxConcurrent ?? DEFAULT_MAX_CONCURRENT };
  let active = 0;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const route = routeOf(req, res);
    if (!route) return;
    if (route.kind === 'health') return void sendJson(res, 200, { ok: true });
    if (active >= limits.maxConcurrent) return refuse(req, res, new CdhtError('CDHT_ERR_BUSY', `the gateway is serving ${limits.maxConcurrent} operations, its limit`));
    active++;
    serve(api, route, req, res, limits)
      .catch((err: unknown) => failed(req, res, err))
      .finally(() => active--);
  };
  const server = opts.tls ? https.createServer({ ...tlsContextOptions(opts.tls), ...serverOptions() }, handler) : http.createServer(serverOptions(), handler);
  bound(server);
  const host = opts.host ?? DEFAULT_GATEWAY_HOST;
  server.listen({ host, port: opts.port });
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e as Error))]);
  const { port } = server.address() as AddressInfo;
  return {
    address: { host, port },
    close: () => closeServer(server),
  };
}

function serverOptions(): http.ServerOptions {
  return { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, maxHeaderSize: 16 * 1024 };
}

function bound(server: http.Server): void {
  server.maxConnections = MAX_CONNECTIONS;
  server.maxHeadersCount = MAX_HEADERS;
  server.setTimeout(IDLE_TIMEOUT_MS);
  // A failed handshake or garbage on the socket is the client's problem; it must not take us down.
  server.on('clientError', (_err, socket) => socket.destroy());
  server.on('tlsClientError', (_err: Error, socket: { destroy(): void }) => socket.destroy());
}

async function closeServer(server: http.Server): Promise<void> {
  const closed = new Promise<void>((res) => server.close(() => res()));
  server.closeAllConnections();
  await closed;
}

function routeOf(req: http.IncomingMessage, res: http.ServerResponse): Route | undefined {
  const path = (req.url ?? '/').split('?')[0]!;
  try {
    const route = parseRoute(req.method ?? '', path);
    if (!route) refuse(req, res, new CdhtError('CDHT_ERR_BAD_ARGUMENT', `no such route: ${req.method} ${path.slice(0, 200)}`), 404);
    return route;
  } catch (err) {
    refuse(req, res, err as CdhtError);
    return undefined;
  }
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
function clientGone(res: http.ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort(new CdhtError('CDHT_ERR_ABORTED', 'the client went away'));
  });
  return ac.signal;
}

async function serve(api: DataApi, route: Exclude<Route, { kind: 'health' }>, req: http.IncomingMessage, res: http.ServerResponse, limits: Limits): Promise<void> {
  const signal = clientGone(res);
  const op: OpOptions = { signal };
  switch (route.kind) {
    case 'put':
      return servePut(api, route.name, req, res, limits, signal);
    case 'get':
      return serveGet(api, route.name, res, signal);
    case 'stat': {
      const stat = await api.stat(route.name, op);
      if (!stat) throw new CdhtError('CDHT_ERR_NOT_FOUND', `no holder has ${route.name}`);
      return sendJson(res, 200, stat);
    }
    case 'lookup':
      return sendJson(res, 200, await api.lookup(route.key, op));
    case 'delete':
      await api.delete(route.name, op);
      return sendJson(res, 200, { deleted: route.name });
  }
}

async function servePut(api: DataApi, name: string, req: http.IncomingMessage, res: http.ServerResponse, limits: Limits, signal: AbortSignal): Promise<void> {
  const copies = parseCopies(new URL(req.url ?? '/', 'http://x').searchParams.get('copies'));
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limits.maxFileBytes) throw tooLarge(limits);
  const result = await api.put(name, capped(req, limits), { signal, ...(copies !== undefined ? { copies } : {}) });
  sendJson(res, 201, result);
}

const tooLarge = (limits: Limits): CdhtError => new CdhtError('CDHT_ERR_TOO_LARGE', `the file is over the gateway's limit of ${limits.maxFileBytes} bytes`);

/** The request body as it comes, cut off with TOO_LARGE once it passes the limit (a chunked body says nothing up front). */
async function* capped(req: http.IncomingMessage, limits: Limits): AsyncIterable<Uint8Array> {
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > limits.maxFileBytes) throw tooLarge(limits);
    yield chunk;
  }
}

/** Headers wait for the record (size, SHA-256) and the first chunk, so an early failure still gets its status. */
async function serveGet(api: DataApi, name: string, res: http.ServerResponse, signal: AbortSignal): Promise<void> {
  // the record (for the headers) and the bytes are asked for at once: one lookup's time, not two
  const it = api.get(name, { signal })[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = it.next();
  first.catch(() => undefined); // awaited below, unless the stat fails first
  const stat = await api.stat(name, { signal }).catch(async (err: unknown) => {
    await it.return?.();
    throw err;
  });
  if (!stat) {
    await it.return?.();
    throw new CdhtError('CDHT_ERR_NOT_FOUND', `no holder has ${name}`);
  }
  let r = await first;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(stat.size),
    ...(stat.sha256 ? { [SHA256_HEADER]: stat.sha256 } : {}),
  });
  let sent = 0;
  try {
    for (; !r.done; r = await it.next()) {
      sent += r.value.length;
      // A holder whose stream disagrees with its record must not leave the client waiting for bytes.
      if (sent > stat.size) throw new CdhtError('CDHT_ERR_INTEGRITY', `${name}: the holder sent more than the ${stat.size} bytes of its record`);
      if (!res.write(r.value)) await once(res, 'drain', { signal });
    }
    if (sent !== stat.size) throw new CdhtError('CDHT_ERR_TRANSFER', `${name}: the transfer ended after ${sent} of ${stat.size} bytes`);
  } catch (err) {
    // Past the headers the only way to say "failed" is to cut the body short.
    res.destroy(err as Error);
    void it.return?.();
    throw err;
  }
  res.end();
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = toJson(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function failed(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const e = err instanceof CdhtError ? err : new CdhtError('CDHT_ERR_TRANSFER', `the operation failed: ${err instanceof Error ? err.message : String(err)}`);
  refuse(req, res, e);
}

/**
 * Answers with a coded error. A body still unread is not waited for: the connection closes after
 * the answer, so a refused 10 GB upload costs nothing.
 */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, err: CdhtError, status = statusOf(err.code)): void {
  if (!req.complete) res.shouldKeepAlive = false;
  const body = errorBody(err);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
