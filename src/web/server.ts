// The web page's server: serves the page's files (built into dist/browser by `npm run build`)
// and one WebSocket at /ws that carries a ring source to the page: a RingController (peers in this
// process) or a RemoteRing (`cdht web --peer`). It holds no ring logic: verbs go to the source as
// typed, its state and traces come back (page-clients.ts). Every bad message gets one
// error reply; nothing a client sends can stop the server.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import type { RingSource } from '../control/ring-source.js';
import { DEFAULT_HOST } from '../core/config.js';
import { CdhtError } from '../core/errors.js';
import { PageClients } from './page-clients.js';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION, VERBS } from './protocol.js';

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
/** The page listens on this machine only unless told otherwise (--web-host). */
export const DEFAULT_WEB_HOST = DEFAULT_HOST;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? '0';
  } catch {
    return '0';
  }
}

/** The page's files by URL path, with their content types. */
type Assets = Map<string, { body: Buffer; type: string }>;

function loadAssets(dir: string): Assets {
  const assets: Assets = new Map();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new CdhtError('CDHT_ERR_NOT_BUILT', `the web page is not built (no ${dir}); run npm run build`);
  }
  for (const name of names) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (type) assets.set(`/${name}`, { body: readFileSync(`${dir}/${name}`), type });
  }
  if (!assets.has('/index.html')) throw new CdhtError('CDHT_ERR_NOT_BUILT', `the web page is not built (no index.html in ${dir}); run npm run build`);
  assets.set('/', assets.get('/index.html')!);
  return assets;
}

/**
 * The Host a browser names must be an address, localhost or --web-host itself, never another
 * DNS name: a page elsewhere cannot then reach this server by DNS rebinding.
 */
function hostAllowed(h: string | undefined, host: string, port: number): boolean {
  const m = h === undefined ? null : /^(\[[0-9a-f:.]+\]|[^:]+)(?::(\d+))?$/i.exec(h);
  if (!m || Number(m[2] ?? 80) !== port) return false;
  const name = m[1]!.toLowerCase();
  return name === 'localhost' || name === host.toLowerCase() || name.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(name);
}

function serveFile(assets: Assets, allowed: (h: string | undefined) => boolean, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!;
  if (!allowed(req.headers.host)) return void res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
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

/** Whether a socket may open: /ws only, an allowed Host, this server's own page, room for one more. */
function refusal(req: IncomingMessage, allowed: (h: string | undefined) => boolean, clients: number): string | undefined {
  if ((req.url ?? '').split('?')[0] !== '/ws') return '404 Not Found';
  if (!allowed(req.headers.host)) return '403 Forbidden';
  // a browser names the page that opened the socket: only this server's own page may drive the ring
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) return '403 Forbidden';
  if (clients >= MAX_CLIENTS) return '503 Service Unavailable';
  return undefined;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Listens on the port asked for, or on any free one when it is taken and that is allowed; the port it got. */
async function listenOn(server: Server, host: string, o: WebServerOptions): Promise<number> {
  try {
    await listen(server, host, o.port ?? 0);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!(o.fallbackToFreePort && e.code === 'EADDRINUSE')) {
      throw new CdhtError('CDHT_ERR_LISTEN', e.code === 'EADDRINUSE' ? `port ${o.port} on ${host} is in use (choose another with --web-port)` : e.message, { cause: err });
    }
    await listen(server, host, 0);
  }
  return (server.address() as AddressInfo).port;
}

export async function startWebServer(o: WebServerOptions): Promise<WebServer> {
  const ctl = o.controller;
  const host = o.host ?? DEFAULT_WEB_HOST;
  const assets = loadAssets(o.assetDir ?? fileURLToPath(new URL('../../browser/web/page/', import.meta.url)));
  const verbs = VERBS.filter((v) => ctl.verbs === undefined || ctl.verbs.includes(v));
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, clientTracking: false });
  let port = 0;
  const allowed = (h: string | undefined) => hostAllowed(h, host, port);
  const server = createServer((req, res) => serveFile(assets, allowed, req, res));
  const pages = new PageClients(ctl, { type: 'hello', protocol: PROTOCOL_VERSION, version: readVersion(), verbs, maxMessageBytes: MAX_MESSAGE_BYTES });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const status = refusal(req, allowed, pages.size);
    if (status) return void socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    wss.handleUpgrade(req, socket, head, (ws) => pages.accept(ws));
  });
  try {
    port = await listenOn(server, host, o);
  } catch (err) {
    pages.close();
    throw err;
  }
  const urlHost = host === '0.0.0.0' || host === '::' ? DEFAULT_HOST : host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/`,
    port,
    host,
    clientCount: () => pages.size,
    close: async () => {
      pages.close();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
