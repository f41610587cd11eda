// The web server: serves the built page, carries verbs to the RingController and its state and
// traces back, answers every bad message (garbage, unknown verb, huge frame) with one error, and
// keeps serving; refuses other origins and foreign Host names.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, test } from 'node:test';
import { PageSocket } from './helpers/page-socket.js';
import { RingController } from '../src/control/ring-controller.js';
import type { ServerMessage } from '../src/web/protocol.js';
import { MAX_MESSAGE_BYTES } from '../src/web/protocol.js';
import { MAX_FRAME_BYTES, startWebServer } from '../src/web/server.js';
import type { WebServer } from '../src/web/server.js';

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function serve(ids = [2, 4, 5, 8, 9, 14, 19]): Promise<{ ctl: RingController; web: WebServer }> {
  const ctl = new RingController({ runtime: 'sim', seed: 11, speed: 200, ids, stateEveryMs: 20, perPeerDirs: true, dataDir: 'w' });
  const web = await startWebServer({ controller: ctl, host: '127.0.0.1', port: 0 });
  cleanups.push(() => ctl.close(), () => web.close());
  return { ctl, web };
}

/** A client that keeps every message and can wait for one. */
class Client extends PageSocket {
  constructor(url: string, headers: Record<string, string> = {}) {
    super(url, cleanups, headers);
  }
  wait<T extends ServerMessage>(pred: (m: ServerMessage) => boolean, ms = 30_000): Promise<T> {
    return this.waitFor<T>(pred, { ms });
  }
  ask(msg: Record<string, unknown>, ref: number): Promise<ServerMessage & { type: 'reply' | 'error' }> {
    return this.askWith(msg, ref);
  }
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string; csp: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body, csp: String(res.headers['content-security-policy']) }));
    })
      .on('error', reject)
      .end();
  });
}

test('serves the page and its scripts, nothing else, with a strict content policy', async () => {
  const { web } = await serve();
  const page = await get(web.url);
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.match(page.body, /<script type="module" src="app.js">/);
  assert.doesNotMatch(page.body, /https?:\/\//, 'the page loads nothing from the internet');
  assert.match(page.csp, /default-src 'none'; script-src 'self'/);
  const app = await get(`${web.url}app.js`);
  assert.equal(app.status, 200);
  assert.match(app.type, /^text\/javascript/);
  assert.equal((await get(`${web.url}../package.json`)).status, 404);
  assert.equal((await get(`${web.url}nothing.js`)).status, 404);
  assert.equal((await get(web.url, { host: `evil.example:${web.port}` })).status, 403, 'a foreign Host name (DNS rebinding) is refused');
});

test('verbs drive the ring; state and traces come back; every bad message gets one error and the server goes on', async () => {
  const { ctl, web } = await serve();
  const c = new Client(web.url);
  await c.opened;
  const hello = await c.wait((m) => m.type === 'hello');
  assert.equal(hello.type === 'hello' && hello.protocol, 1);
  const planned = await c.wait((m) => m.type === 'state');
  assert.equal(planned.type === 'state' && planned.phase, 'planned');

  let ref = 100;
  const bad: [unknown, string, RegExp][] = [
    ['garbage{', 'BAD_JSON', /not JSON/],
    [JSON.stringify([1, 2]), 'BAD_MESSAGE', /JSON object with a verb/],
    [JSON.stringify({ ref: 1 }), 'BAD_MESSAGE', /no verb/],
    [JSON.stringify({ verb: 'explode' }), 'UNKNOWN_VERB', /Unknown verb 'explode'/],
    [JSON.stringify({ verb: 'add', peer: 7 }), 'BAD_MESSAGE', /'peer' must be a string/],
    [JSON.stringify({ verb: 'add', peer: 'x'.repeat(300) }), 'BAD_MESSAGE', /at most 256 characters/],
    [JSON.stringify({ verb: 'add', peer: '300' }), 'BAD_ID', /Peer ID must be a peer id, an integer from 0 to 255 \(got '300'\)/],
    [JSON.stringify({ verb: 'add', peer: '14' }), 'ID_TAKEN', /Peer 14 is already planned/],
    [JSON.stringify({ verb: 'store', peer: '8', file: '2067' }), 'NOT_RUNNING', /Start it first/],
    [Buffer.from([1, 2, 3]), 'BAD_MESSAGE', /not binary/],
    ['x'.repeat(MAX_MESSAGE_BYTES + 1), 'TOO_LARGE', /at most 16384/],
    ['x'.repeat(MAX_FRAME_BYTES - 10), 'TOO_LARGE', /Message of \d+ bytes refused/],
  ];
  for (const [data, code, message] of bad) {
    const before = c.got.filter((m) => m.type === 'error').length;
    c.ws.send(data as string);
    const errs = () => c.got.filter((m) => m.type === 'error');
    await c.wait(() => errs().length === before + 1);
    const e = errs().at(-1)!;
    assert.equal(e.type === 'error' && e.code, code, JSON.stringify(e));
    assert.match(e.type === 'error' ? e.message : '', message);
  }

  const start = await c.ask({ verb: 'start' }, ref++);
  assert.deepEqual([start.type, start.type === 'reply' && start.message], ['reply', 'The ring is running: 7 peers']);
  const join = await c.ask({ verb: 'join', peer: '15', via: '77' }, ref++);
  assert.deepEqual([join.type, join.type === 'error' && join.code, join.type === 'error' && join.message], ['error', 'UNKNOWN_PEER', 'Known Peer 77 is not in the ring (2, 4, 5, 8, 9, 14, 19)']);
  const joined = await c.ask({ verb: 'join', peer: '15', via: '4' }, ref++);
  assert.equal(joined.type === 'reply' && joined.message, 'Peer 15 joined through Peer 4');
  const badFile = await c.ask({ verb: 'request', peer: '2', file: '12' }, ref++);
  assert.equal(badFile.type === 'error' && badFile.message, "Invalid file name '12': a file name is exactly four digits, 0000 to 9999");
  await c.ask({ verb: 'store', peer: '8', file: '2067' }, ref++);
  const traces = await c.wait((m) => m.type === 'traces' && m.items.some((t) => t.peer === '19' && t.trace.kind === 'store-accepted'));
  assert.ok(traces.type === 'traces' && traces.items.every((t) => t.lines.every((l) => l.level !== 'ping')), 'no ping traces unless asked');
  const route = await c.ask({ verb: 'routes', key: '2067', peer: '8' }, ref++);
  assert.deepEqual(route.type === 'reply' && route.route?.path.slice(0, 1), ['8']);
  const pings = await c.ask({ verb: 'pings', on: true }, ref++);
  assert.equal(pings.type === 'reply' && pings.message, 'Ping traces on');
  await c.wait((m) => m.type === 'traces' && m.items.some((t) => t.trace.kind === 'ping-sent'));
  const kill = await c.ask({ verb: 'kill', peer: '14' }, ref++);
  assert.equal(kill.type === 'reply' && kill.message, 'Peer 14 killed (abrupt departure)');
  await c.wait((m) => m.type === 'state' && m.peers.some((p) => p.id === '14' && p.state === 'departed' && p.departure === 'abrupt'));

  // a frame over the hard limit closes that socket (1009); the server serves the next client
  const big = new Client(web.url);
  await big.opened;
  big.ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
  await new Promise<void>((resolve) => big.ws.once('close', () => resolve()));
  assert.equal(big.closed?.code, 1009);
  const again = new Client(web.url);
  await again.opened;
  const state = await again.wait((m) => m.type === 'state');
  assert.equal(state.type === 'state' && state.phase, 'running');
  assert.equal(ctl.phase, 'running');
});

test('a socket from another origin or a foreign Host is refused', async () => {
  const { web } = await serve([3, 9]);
  const foreign = new Client(web.url, { origin: 'http://evil.example' });
  await assert.rejects(foreign.opened, /403/);
  const rebound = new Client(web.url, { host: `evil.example:${web.port}` });
  await assert.rejects(rebound.opened, /403/);
  const own = new Client(web.url, { origin: web.url.replace(/\/$/, '') });
  await own.opened;
  assert.equal(web.clientCount(), 1);
});
