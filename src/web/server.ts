// The web page's server: serves the page's files (built into dist/browser by `npm run build`)
// and one WebSocket at /ws that carries a ring source to the page: a RingController (peers in this
// process) or a RemoteRing (`cdht web --peer`). It holds no ring logic: verbs go to the source as
// typed, its state and traces come back. Every bad message gets one
// error reply; nothing a client sends can stop the server.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';
import { ControlError } from '../control/ring-controller.js';
import type { ControlResult } from '../control/ring-controller.js';
import type { RingSource } from '../control/ring-source.js';
import type { RingState, TraceView } from '../control/view-types.js';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION, VERBS } from './protocol.js';
import type { ClientMessage, ErrorCode, ReplyMessage, ServerMessage, Verb } from './protocol.js';

export interface WebServerOptions {
  /** The ring the page shows and drives (the name is the first source's, a RingController). */
  controller: RingSource;
  host?: string;
  port?: number;
  /** When `port` is taken, listen on any free port instead of failing. */
  fallbackToFreePort?: boolean;
  /** Where the built page is (default: dist/browser/web/page beside this module). */
  assetDir?: string;
}

export interface WebServer {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  clientCount(): number;
  close(): Promise<void>;
}

/** Frames above this close the socket (code 1009); between MAX_MESSAGE_BYTES and this, an error reply. */
export const MAX_FRAME_BYTES = 1024 * 1024;
export const MAX_CLIENTS = 16;
/** Commands one page may have in progress at once. */
const MAX_PENDING_PER_CLIENT = 8;
/** Traces are sent in batches, at most this often... */
const TRACE_BATCH_MS = 50;
/** ...and at most this many in a batch (the rest are counted as dropped). */
const MAX_TRACES_PER_BATCH = 500;
/** A page that has this much unsent is behind: traces to it are dropped until it catches up. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const MAX_REF_LENGTH = 64;
const MAX_ARG_LENGTH = 256;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Client {
  ws: WebSocket;
  pings: boolean;
  pending: number;
  queue: TraceView[];
  dropped: number;
  /** A state could not be sent while the page was behind; send the latest once it catches up. */
  owesState: boolean;
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
}

function loadAssets(dir: string): Map<string, { body: Buffer; type: string }> {
  const assets = new Map<string, { body: Buffer; type: string }>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new Error(`the web page is not built (no ${dir}); run npm run build`);
  }
  for (const name of names) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (type) assets.set(`/${name}`, { body: readFileSync(`${dir}/${name}`), type });
  }
  if (!assets.has('/index.html')) throw new Error(`the web page is not built (no index.html in ${dir}); run npm run build`);
  assets.set('/', assets.get('/index.html')!);
  return assets;
}

/** The page listens on this machine only unless told otherwise (--web-host). */
export const DEFAULT_WEB_HOST = '127.0.0.1';

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const ctl = o.controller;
  const host = o.host ?? DEFAULT_WEB_HOST;
  const assets = loadAssets(o.assetDir ?? fileURLToPath(new URL('../../browser/web/page/', import.meta.url)));
  const version = readVersion();
  const verbs = VERBS.filter((v) => ctl.verbs === undefined || ctl.verbs.includes(v));
  const clients = new Set<Client>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, clientTracking: false });

  const server: Server = createServer((req, res) => serveFile(req, res));
  let port = 0;
  /**
   * The Host a browser names must be an address, localhost or --web-host itself, never another
   * DNS name: a page elsewhere cannot then reach this server by DNS rebinding.
   */
  const hostAllowed = (h: string | undefined) => {
    const m = h === undefined ? null : /^(\[[0-9a-f:.]+\]|[^:]+)(?::(\d+))?$/i.exec(h);
    if (!m || Number(m[2] ?? 80) !== port) return false;
    const name = m[1]!.toLowerCase();
    return name === 'localhost' || name === host.toLowerCase() || name.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(name);
  };

  function serveFile(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!hostAllowed(req.headers.host)) return void res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    const asset = assets.get(path);
    if (!asset) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    res.writeHead(200, {
      'content-type': asset.type,
      'content-length': asset.body.length,
      'cache-control': 'no-cache',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.on('error', () => socket.destroy());
    if ((req.url ?? '').split('?')[0] !== '/ws') return refuse('404 Not Found');
    if (!hostAllowed(req.headers.host)) return refuse('403 Forbidden');
    // a browser names the page that opened the socket: only this server's own page may drive the ring
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) return refuse('403 Forbidden');
    if (clients.size >= MAX_CLIENTS) return refuse('503 Service Unavailable');
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  const send = (c: Client, msg: ServerMessage | string) => {
    if (c.ws.readyState !== c.ws.OPEN) return;
    c.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  };

  function accept(ws: WebSocket): void {
    const c: Client = { ws, pings: false, pending: 0, queue: [], dropped: 0, owesState: false };
    clients.add(c);
    ws.on('error', () => ws.terminate());
    ws.on('close', () => clients.delete(c));
    ws.on('message', (data: RawData, isBinary: boolean) => void onMessage(c, data, isBinary));
    send(c, { type: 'hello', protocol: PROTOCOL_VERSION, version, verbs, maxMessageBytes: MAX_MESSAGE_BYTES });
    send(c, ctl.state());
  }

  async function onMessage(c: Client, data: RawData, isBinary: boolean): Promise<void> {
    const fail = (code: ErrorCode, message: string, ref?: string | number) => send(c, { type: 'error', code, message, ...(ref !== undefined ? { ref } : {}) });
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
    if (size > MAX_MESSAGE_BYTES) return fail('TOO_LARGE', `Message of ${size} bytes refused: at most ${MAX_MESSAGE_BYTES}`);
    if (isBinary) return fail('BAD_MESSAGE', 'Send JSON text, not binary frames');
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return fail('BAD_JSON', 'The message is not JSON');
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return fail('BAD_MESSAGE', 'The message must be a JSON object with a verb');
    const m = msg as Record<string, unknown>;
    const ref = (typeof m['ref'] === 'string' && m['ref'].length <= MAX_REF_LENGTH) || (typeof m['ref'] === 'number' && Number.isFinite(m['ref'])) ? (m['ref'] as string | number) : undefined;
    if (typeof m['verb'] !== 'string') return fail('BAD_MESSAGE', 'The message has no verb', ref);
    if (!(VERBS as readonly string[]).includes(m['verb'])) return fail('UNKNOWN_VERB', `Unknown verb '${m['verb'].slice(0, 32)}' (verbs: ${VERBS.join(', ')})`, ref);
    for (const k of ['peer', 'via', 'file', 'key'] as const) {
      const v = m[k];
      if (v !== undefined && (typeof v !== 'string' || v.length > MAX_ARG_LENGTH)) return fail('BAD_MESSAGE', `'${k}' must be a string of at most ${MAX_ARG_LENGTH} characters`, ref);
    }
    if (m['on'] !== undefined && typeof m['on'] !== 'boolean') return fail('BAD_MESSAGE', "'on' must be true or false", ref);
    if (c.pending >= MAX_PENDING_PER_CLIENT) return fail('TOO_MANY', `At most ${MAX_PENDING_PER_CLIENT} commands at once; wait for a reply`, ref);
    const cm = m as unknown as ClientMessage;
    c.pending++;
    try {
      const reply = await run(c, cm);
      send(c, { ...reply, ...(ref !== undefined ? { ref } : {}) });
    } catch (err) {
      if (err instanceof ControlError) fail(err.code, err.message, ref);
      else fail('INTERNAL', `The server could not do this: ${err instanceof Error ? err.message : String(err)}`, ref);
    } finally {
      c.pending--;
    }
  }

  /** One verb, as the console would carry it out. */
  async function run(c: Client, m: ClientMessage): Promise<ReplyMessage> {
    const done = (verb: Verb, r: ControlResult): ReplyMessage => ({ type: 'reply', verb, message: r.message, ...(r.warning ? { warning: r.warning } : {}) });
    switch (m.verb) {
      case 'start':
        return done('start', await ctl.start());
      case 'stop':
        return done('stop', await ctl.stop());
      case 'add':
        return done('add', await ctl.add(m.peer));
      case 'join':
        return done('join', await ctl.join(m.peer, m.via));
      case 'store':
        return done('store', ctl.store(m.peer, m.file));
      case 'request':
        return done('request', ctl.request(m.peer, m.file));
      case 'quit':
        return done('quit', await ctl.quit(m.peer));
      case 'kill':
        return done('kill', await ctl.kill(m.peer));
      case 'state':
        send(c, ctl.state());
        return { type: 'reply', verb: 'state', message: 'state sent' };
      case 'routes': {
        const route = ctl.routes(m.key, m.peer);
        return { type: 'reply', verb: 'routes', message: `Key ${route.key}: ${route.path.join(' > ')}`, route };
      }
      case 'pings':
        c.pings = m.on !== false;
        return { type: 'reply', verb: 'pings', message: `Ping traces ${c.pings ? 'on' : 'off'}` };
    }
  }

  const behind = (c: Client) => c.ws.bufferedAmount > MAX_BUFFERED_BYTES;
  const onState = (s: RingState) => {
    const text = JSON.stringify(s);
    for (const c of clients) {
      if (behind(c)) c.owesState = true;
      else send(c, text);
    }
  };
  const onTrace = (t: TraceView) => {
    const ping = t.lines.length > 0 && t.lines.every((l) => l.level === 'ping');
    for (const c of clients) {
      if (ping && !c.pings) continue;
      if (c.queue.length >= MAX_TRACES_PER_BATCH) c.dropped++;
      else c.queue.push(t);
    }
  };
  const flush = setInterval(() => {
    for (const c of clients) {
      if (behind(c)) {
        c.dropped += c.queue.length;
        c.queue = [];
        continue;
      }
      if (c.owesState) {
        c.owesState = false;
        send(c, ctl.state());
      }
      if (c.queue.length === 0 && c.dropped === 0) continue;
      send(c, { type: 'traces', items: c.queue, ...(c.dropped ? { dropped: c.dropped } : {}) });
      c.queue = [];
      c.dropped = 0;
    }
  }, TRACE_BATCH_MS);
  ctl.on('state', onState);
  ctl.on('trace', onTrace);

  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host, port: p }, () => {
        server.off('error', onError);
        resolve();
      });
    });
  try {
    await listen(o.port ?? 0);
  } catch (err) {
    if (!(o.fallbackToFreePort && (err as NodeJS.ErrnoException).code === 'EADDRINUSE')) {
      clearInterval(flush);
      ctl.off('state', onState);
      ctl.off('trace', onTrace);
      const e = err as NodeJS.ErrnoException;
      throw new Error(e.code === 'EADDRINUSE' ? `port ${o.port} on ${host} is in use (choose another with --web-port)` : e.message);
    }
    await listen(0);
  }
  port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/`,
    port,
    host,
    clientCount: () => clients.size,
    close: async () => {
      clearInterval(flush);
      ctl.off('state', onState);
      ctl.off('trace', onTrace);
      for (const c of clients) c.ws.terminate();
      clients.clear();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
