// The web page's WebSocket as a test holds it: every message the server sends is kept, and a
// test waits for one that matches, with one listener and one deadline per wait, both removed when
// it ends (a listener added on every check piled up past ten on a busy socket).
import { WebSocket } from 'ws';
import type { ServerMessage } from '../../src/web/protocol.js';

export class PageSocket {
  readonly got: ServerMessage[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  closed: { code: number } | undefined;

  /** `url`: the page's http:// address (ending in /); `cleanups` gets the socket's end. */
  constructor(url: string, cleanups: (() => Promise<unknown>)[], headers: Record<string, string> = {}) {
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}ws`, { headers });
    this.ws.on('message', (d) => this.got.push(JSON.parse(String(d)) as ServerMessage));
    this.ws.on('close', (code) => (this.closed = { code }));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    cleanups.push(async () => this.ws.terminate());
  }

  /**
   * The first message kept that matches (`latest`: the newest), now or once it comes; rejects
   * after `ms` naming `what` and the last messages.
   */
  waitFor<T extends ServerMessage>(pred: (m: ServerMessage) => boolean, o: { ms?: number; what?: string; latest?: boolean } = {}): Promise<T> {
    const ms = o.ms ?? 30_000;
    return new Promise((resolve, reject) => {
      const finish = (err?: Error, hit?: ServerMessage) => {
        clearTimeout(timer);
        this.ws.off('message', check);
        if (err) reject(err);
        else resolve(hit as T);
      };
      const check = () => {
        const hit = o.latest ? [...this.got].reverse().find(pred) : this.got.find(pred);
        if (hit) finish(undefined, hit);
      };
      const last = JSON.stringify(this.got.slice(-3).map((m) => ({ ...(m as object), peers: undefined }))).slice(0, 600);
      const timer = setTimeout(() => finish(new Error(`${o.what ?? 'no such message'}: not within ${ms} ms; last: ${last}`)), ms);
      // the socket's own 'message' listener (added first) has stored the message by the time this runs
      this.ws.on('message', check);
      check();
    });
  }

  /** Sends `msg` with `ref` and waits for the reply or error carrying it. */
  askWith(msg: Record<string, unknown>, ref: number, ms?: number): Promise<ServerMessage & { type: 'reply' | 'error' }> {
    this.ws.send(JSON.stringify({ ...msg, ref }));
    return this.waitFor((m) => (m.type === 'reply' || m.type === 'error') && m.ref === ref, { what: `the answer to ${JSON.stringify(msg)}`, ...(ms ? { ms } : {}) });
  }
}
