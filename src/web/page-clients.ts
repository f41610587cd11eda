// The pages connected to the web server, one WebSocket each: every message checked before a verb
// goes to the ring source, one reply or one error back, and the source's state and traces pushed
// to every page in bounded batches (a page that falls behind loses traces, never the server).
import type { RawData, WebSocket } from 'ws';
import { ControlError } from '../control/ring-controller.js';
import type { ControlResult } from '../control/ring-controller.js';
import type { RingSource } from '../control/ring-source.js';
import type { RingState, TraceView } from '../control/view-types.js';
import { MAX_MESSAGE_BYTES, VERBS } from './protocol.js';
import type { ClientMessage, ErrorCode, HelloMessage, ReplyMessage, ServerMessage, Verb } from './protocol.js';

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

interface Client {
  ws: WebSocket;
  pings: boolean;
  pending: number;
  queue: TraceView[];
  dropped: number;
  /** A state could not be sent while the page was behind; send the latest once it catches up. */
  owesState: boolean;
}

type Ref = string | number | undefined;
/** A message that may go to the source, or the error to answer it with (with its ref when it had one). */
type Checked = { ok: ClientMessage; ref: Ref } | { code: ErrorCode; message: string; ref?: Ref };

function send(c: Client, msg: ServerMessage | string): void {
  if (c.ws.readyState !== c.ws.OPEN) return;
  c.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
}

const behind = (c: Client) => c.ws.bufferedAmount > MAX_BUFFERED_BYTES;

/** A frame's size, JSON, shape, verb and argument types and lengths, before anything is run. */
function checkMessage(data: RawData, isBinary: boolean): Checked {
  const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
  if (size > MAX_MESSAGE_BYTES) return { code: 'TOO_LARGE', message: `Message of ${size} bytes refused: at most ${MAX_MESSAGE_BYTES}` };
  if (isBinary) return { code: 'BAD_MESSAGE', message: 'Send JSON text, not binary frames' };
  let msg: unknown;
  try {
    msg = JSON.parse(data.toString());
  } catch {
    return { code: 'BAD_JSON', message: 'The message is not JSON' };
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return { code: 'BAD_MESSAGE', message: 'The message must be a JSON object with a verb' };
  const m = msg as Record<string, unknown>;
  const ref = (typeof m['ref'] === 'string' && m['ref'].length <= MAX_REF_LENGTH) || (typeof m['ref'] === 'number' && Number.isFinite(m['ref'])) ? (m['ref'] as string | number) : undefined;
  if (typeof m['verb'] !== 'string') return { code: 'BAD_MESSAGE', message: 'The message has no verb', ref };
  if (!(VERBS as readonly string[]).includes(m['verb'])) return { code: 'UNKNOWN_VERB', message: `Unknown verb '${m['verb'].slice(0, 32)}' (verbs: ${VERBS.join(', ')})`, ref };
  for (const k of ['peer', 'via', 'file', 'key'] as const) {
    const v = m[k];
    if (v !== undefined && (typeof v !== 'string' || v.length > MAX_ARG_LENGTH)) return { code: 'BAD_MESSAGE', message: `'${k}' must be a string of at most ${MAX_ARG_LENGTH} characters`, ref };
  }
  if (m['on'] !== undefined && typeof m['on'] !== 'boolean') return { code: 'BAD_MESSAGE', message: "'on' must be true or false", ref };
  return { ok: m as unknown as ClientMessage, ref };
}

export class PageClients {
  private readonly clients = new Set<Client>();
  private readonly flush: NodeJS.Timeout;
  private readonly onState = (s: RingState) => this.pushState(s);
  private readonly onTrace = (t: TraceView) => this.queueTrace(t);

  /** Follows the source from now until close(). */
  constructor(
    private readonly ctl: RingSource,
    private readonly hello: HelloMessage,
  ) {
    this.flush = setInterval(() => this.sendBatches(), TRACE_BATCH_MS);
    ctl.on('state', this.onState);
    ctl.on('trace', this.onTrace);
  }

  get size(): number {
    return this.clients.size;
  }

  /** A page's socket, once the server let it in: hello and the state first. */
  accept(ws: WebSocket): void {
    const c: Client = { ws, pings: false, pending: 0, queue: [], dropped: 0, owesState: false };
    this.clients.add(c);
    ws.on('error', () => ws.terminate());
    ws.on('close', () => this.clients.delete(c));
    ws.on('message', (data: RawData, isBinary: boolean) => void this.onMessage(c, data, isBinary));
    send(c, this.hello);
    send(c, this.ctl.state());
  }

  /** Stops following the source and drops every page. */
  close(): void {
    clearInterval(this.flush);
    this.ctl.off('state', this.onState);
    this.ctl.off('trace', this.onTrace);
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
  }

  private async onMessage(c: Client, data: RawData, isBinary: boolean): Promise<void> {
    const fail = (code: ErrorCode, message: string, ref?: Ref) => send(c, { type: 'error', code, message, ...(ref !== undefined ? { ref } : {}) });
    const checked = checkMessage(data, isBinary);
    if (!('ok' in checked)) return fail(checked.code, checked.message, checked.ref);
    const { ref } = checked;
    if (c.pending >= MAX_PENDING_PER_CLIENT) return fail('TOO_MANY', `At most ${MAX_PENDING_PER_CLIENT} commands at once; wait for a reply`, ref);
    c.pending++;
    try {
      const reply = await this.run(c, checked.ok);
      send(c, { ...reply, ...(ref !== undefined ? { ref } : {}) });
    } catch (err) {
      if (err instanceof ControlError) fail(err.reason, err.message, ref);
      else fail('INTERNAL', `The server could not do this: ${err instanceof Error ? err.message : String(err)}`, ref);
    } finally {
      c.pending--;
    }
  }

  /** One verb, as the console would carry it out. */
  private async run(c: Client, m: ClientMessage): Promise<ReplyMessage> {
    const ctl = this.ctl;
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

  /** Every state at once to the pages keeping up; one that is behind gets the latest when it catches up. */
  private pushState(s: RingState): void {
    const text = JSON.stringify(s);
    for (const c of this.clients) {
      if (behind(c)) c.owesState = true;
      else send(c, text);
    }
  }

  /** Ping traces only to pages that asked for them; a full batch counts the rest as dropped. */
  private queueTrace(t: TraceView): void {
    const ping = t.lines.length > 0 && t.lines.every((l) => l.level === 'ping');
    for (const c of this.clients) {
      if (ping && !c.pings) continue;
      if (c.queue.length >= MAX_TRACES_PER_BATCH) c.dropped++;
      else c.queue.push(t);
    }
  }

  private sendBatches(): void {
    for (const c of this.clients) {
      if (behind(c)) {
        c.dropped += c.queue.length;
        c.queue = [];
        continue;
      }
      if (c.owesState) {
        c.owesState = false;
        send(c, this.ctl.state());
      }
      if (c.queue.length === 0 && c.dropped === 0) continue;
      send(c, { type: 'traces', items: c.queue, ...(c.dropped ? { dropped: c.dropped } : {}) });
      c.queue = [];
      c.dropped = 0;
    }
  }
}
