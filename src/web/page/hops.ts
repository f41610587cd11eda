// Draws Stores, Requests and Joins hop by hop from the peers' traces: each forward as an arrow
// from the peer that forwarded to the one it chose, the peer that accepted ringed, the file sent
// straight back as a second arrow with its progress; and lists them in words. The route is the
// one the peers reported, never worked out here.
import type { TraceView } from '../../control/view-types.js';
import type { Geometry } from './draw.js';
import { svgEl } from './draw.js';

/** Operations kept drawn and listed; older ones are removed. */
const MAX_OPS = 12;
/** After this long without news an operation's arrows stop moving and fade. */
const FADE_MS = 5_000;

interface Op {
  key: string;
  op: 'store' | 'request' | 'join';
  subject: string;
  origin: string;
  path: string[];
  status: string;
  failed: boolean;
  accepted: boolean;
  /** The file arrived: later news (the sender's own 'sent') does not replace that. */
  done: boolean;
  els: SVGElement[];
  transfer?: { path: SVGPathElement; label: SVGTextElement; from: string; to: string };
  li: HTMLLIElement;
  touched: number;
}

type T = TraceView['trace'];
const str = (t: T, k: string) => String(t[k] ?? '');

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

export class HopDrawing {
  private readonly ops: Op[] = [];
  private seq = 0;

  constructor(
    private readonly layer: SVGGElement,
    private readonly list: HTMLOListElement,
    private readonly geometry: () => Geometry,
    private readonly radius: () => number,
    /** A Store or Request failed: the page says so where it said the command was sent. */
    private readonly onFailed: (sentence: string) => void = () => {},
    /** Progress labels go above the peers, which hid the middle of one ("100% of 29…B"). */
    private readonly labelLayer: SVGGElement = layer,
  ) {
    setInterval(() => this.fade(), 1000);
  }

  handle(items: readonly TraceView[]): void {
    for (const v of items) this.one(v);
  }

  private one(v: TraceView): void {
    const t = v.trace;
    const at = v.peer;
    switch (t.kind) {
      case 'forwarded': {
        const op = str(t, 'op') as Op['op'];
        const subject = op === 'join' ? str(t, 'joiner') : str(t, 'file');
        const prev = this.find(op, subject);
        // a Store or Request typed here starts anew; a join's first forward is at its known peer
        const fresh = t['origin'] === true || !prev || (op === 'join' && prev.accepted);
        const o = fresh ? this.open(op, subject, at) : prev;
        this.hop(o, at, str(t, 'to'));
        return;
      }
      case 'join-received':
        return this.accept(this.find('join', str(t, 'joiner')) ?? this.open('join', str(t, 'joiner'), at), at, `accepted after Peer ${at}`);
      case 'join-refused':
        return this.fail(this.find('join', str(t, 'joiner')), `refused: ${str(t, 'reason')}`);
      case 'store-accepted':
        return this.accept(this.find('store', str(t, 'file')) ?? this.open('store', str(t, 'file'), at), at, `accepted by Peer ${at}`);
      case 'copy': {
        const o = this.find('store', str(t, 'file'));
        if (!o) return;
        if (t['phase'] === 'start') this.transfer(o, at, str(t, 'to'), 'copying');
        else if (t['phase'] === 'sent') this.progress(o, 'copied', `copied to Peer ${str(t, 'to')}`);
        else if (t['phase'] === 'missing') this.status(o, `no ${str(t, 'file')}.pdf at Peer ${at}: nothing copied`);
        else this.fail(o, `copy failed: ${str(t, 'error')}`);
        return;
      }
      case 'serve': {
        const o = this.find('request', str(t, 'file')) ?? this.open('request', str(t, 'file'), str(t, 'to'));
        if (t['phase'] === 'start') {
          this.accept(o, at, `found at Peer ${at}`);
          if (t['local'] !== true) this.transfer(o, at, str(t, 'to'), 'sending');
        } else if (t['phase'] === 'missing') this.fail(o, `Peer ${at} owns it but has no file`);
        else if (t['phase'] === 'failed') this.fail(o, `sending failed: ${str(t, 'error')}`);
        return;
      }
      case 'transfer-progress': {
        const o = this.find('request', str(t, 'file')) ?? this.find('store', str(t, 'file'));
        const bytes = Number(t['bytes']);
        const size = Number(t['size']);
        if (o && size > 0) this.progress(o, `${Math.floor((100 * bytes) / size)}% of ${formatBytes(size)}`);
        return;
      }
      case 'receive': {
        const purpose = str(t, 'purpose') as 'request' | 'store';
        const o = this.find(purpose, str(t, 'file'));
        if (!o) return;
        const size = t['size'] === undefined ? '' : formatBytes(Number(t['size']));
        if (t['phase'] === 'start') this.progress(o, `0% of ${size}`);
        else if (t['phase'] === 'done') {
          this.progress(o, `100% of ${size}`, purpose === 'request' ? `received by Peer ${at} (${size})` : `stored at Peer ${at} (${size})`);
          o.done = true;
        }
        else this.fail(o, `transfer failed: ${str(t, 'error')}`);
        return;
      }
      case 'request-missing':
        return this.fail(this.find('request', str(t, 'file')), `Peer ${str(t, 'from')} does not have it`);
      case 'request-timeout':
        return this.fail(this.find('request', str(t, 'file')), 'no answer in time');
      case 'request-busy':
        return this.fail(this.find('request', str(t, 'file')), 'holder busy; gave up');
    }
  }

  private find(op: Op['op'], subject: string): Op | undefined {
    for (let i = this.ops.length - 1; i >= 0; i--) if (this.ops[i]!.op === op && this.ops[i]!.subject === subject) return this.ops[i];
    return undefined;
  }

  private open(op: Op['op'], subject: string, origin: string): Op {
    // a new operation takes the drawing: what earlier ones drew goes, so old arrows, rings and
    // labels never pile up (news of an earlier one still reaches its line in the list)
    for (const old of this.ops) this.undraw(old);
    const li = document.createElement('li');
    const o: Op = { key: `${op}-${++this.seq}`, op, subject, origin, path: [origin], status: 'on its way', failed: false, accepted: false, done: false, els: [], li, touched: Date.now() };
    this.ops.push(o);
    this.list.prepend(li);
    while (this.ops.length > MAX_OPS) this.drop(this.ops.shift()!);
    this.describe(o);
    return o;
  }

  private drop(o: Op): void {
    this.undraw(o);
    o.li.remove();
  }

  /** Removes what an operation drew on the ring (its line in the list stays). */
  private undraw(o: Op): void {
    o.els.forEach((e) => e.remove());
    o.els = [];
    o.transfer?.path.remove();
    o.transfer?.label.remove();
    delete o.transfer;
  }

  /** The ring stopped: nothing drawn for its operations is true any more. */
  clear(): void {
    for (const o of this.ops) this.undraw(o);
  }

  /** Only the newest operation draws: news of an earlier one goes to its line in the list. */
  private drawing(o: Op): boolean {
    return o === this.ops[this.ops.length - 1];
  }

  private hop(o: Op, from: string, to: string): void {
    if (this.drawing(o)) {
      const g = this.geometry();
      const el = svgEl('path', {
        class: 'hop',
        d: g.curve(from, to, -0.45, this.radius() + 3),
        'marker-end': 'url(#arrow-hop)',
        'data-hop': String(o.path.length),
        'data-op': o.op,
        'data-subject': o.subject,
        'data-from': from,
        'data-to': to,
      });
      this.layer.append(el);
      o.els.push(el);
    }
    if (o.path[o.path.length - 1] !== from) o.path.push(from);
    o.path.push(to);
    o.touched = Date.now();
    this.describe(o);
  }

  private accept(o: Op, at: string, status: string): void {
    if (this.drawing(o)) {
      const [x, y] = this.geometry().point(at);
      const ring = svgEl('circle', { class: 'accepted', cx: x.toFixed(1), cy: y.toFixed(1), r: String(this.radius() + 8), 'data-accepted': at, 'data-op': o.op, 'data-subject': o.subject });
      this.layer.append(ring);
      o.els.push(ring);
    }
    o.accepted = true;
    this.status(o, status);
  }

  private transfer(o: Op, from: string, to: string, what: string): void {
    if (!this.drawing(o)) return;
    const g = this.geometry();
    const path = svgEl('path', { class: 'transfer', d: g.curve(from, to, 0.6, this.radius() + 3), 'marker-end': 'url(#arrow-hop)', 'data-transfer': o.subject, 'data-from': from, 'data-to': to });
    const label = svgEl('text', { class: 'transfer-label', 'text-anchor': 'middle', 'data-progress': o.subject });
    label.textContent = what;
    this.layer.append(path);
    this.labelLayer.append(label);
    const mid = path.getPointAtLength(path.getTotalLength() / 2);
    label.setAttribute('x', mid.x.toFixed(1));
    label.setAttribute('y', mid.y.toFixed(1));
    this.placeLabel(label);
    o.transfer?.path.remove();
    o.transfer?.label.remove();
    o.transfer = { path, label, from, to };
    o.touched = Date.now();
  }

  /**
   * A label near the edge of the zoomed view was cut off ("100% of 29…B"): it is moved back inside
   * the view box by however far its box sticks out.
   */
  private placeLabel(label: SVGTextElement): void {
    const svg = label.ownerSVGElement;
    const view = svg?.viewBox.baseVal;
    if (!view || view.width === 0) return;
    const box = label.getBBox();
    const pad = view.width * 0.01;
    const dx = Math.max(0, view.x + pad - box.x) - Math.max(0, box.x + box.width - (view.x + view.width - pad));
    const dy = Math.max(0, view.y + pad - box.y) - Math.max(0, box.y + box.height - (view.y + view.height - pad));
    if (dx) label.setAttribute('x', (Number(label.getAttribute('x')) + dx).toFixed(1));
    if (dy) label.setAttribute('y', (Number(label.getAttribute('y')) + dy).toFixed(1));
  }

  private progress(o: Op, label: string, status?: string): void {
    if (o.transfer) {
      o.transfer.label.textContent = label;
      this.placeLabel(o.transfer.label);
    }
    o.touched = Date.now();
    if (status) this.status(o, status);
  }

  private status(o: Op, status: string): void {
    if (o.done) return;
    o.status = status;
    o.touched = Date.now();
    this.describe(o);
  }

  private fail(o: Op | undefined, why: string): void {
    if (!o || o.done) return;
    o.failed = true;
    this.status(o, why);
    if (o.op !== 'join') this.onFailed(`${o.op === 'store' ? 'Store' : 'Request'} ${o.subject} from Peer ${o.origin} failed: ${why}`);
  }

  private describe(o: Op): void {
    const name = o.op === 'join' ? `Join of Peer ${o.subject}` : `${o.op === 'store' ? 'Store' : 'Request'} ${o.subject} from Peer ${o.origin}`;
    o.li.textContent = `${name}: ${o.path.join(' → ')}; ${o.status}`;
    o.li.className = o.failed ? 'failed' : '';
    o.li.dataset['op'] = o.op;
    o.li.dataset['subject'] = o.subject;
  }

  private fade(): void {
    const now = Date.now();
    for (const o of this.ops) {
      const old = now - o.touched > FADE_MS;
      for (const el of [...o.els, ...(o.transfer ? [o.transfer.path] : [])]) el.classList.toggle('old', old);
    }
  }
}
