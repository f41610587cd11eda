// Draws the ring the server sends: each peer at its id's angle, the links it believes in (first
// and second successor, first predecessor), stale links marked, file badges, and any list layer a
// later capability adds. Elements are keyed and only changed attributes are written, so a state
// of 256 peers redraws in a few milliseconds. No ring logic: everything drawn is in the state.
import type { PeerView, RingState } from '../../control/view-types.js';

const SVG = 'http://www.w3.org/2000/svg';
export const RADIUS = 420;
/**
 * Up to this many peers (departed ones not counted) every label sits inside its node; above it
 * labels move outside the ring and only those with room are drawn (every one on focus and hover).
 */
const LABEL_ALL_MAX = 64;
/** The smallest node, in screen units of the 1080-wide view, before crowded peers take inner tracks. */
const MIN_ONE_TRACK_NODE = 9;
/** A crowded ring's labels (outside the nodes), in node radii. */
const SMALL_LABEL_SCALE = 1.8;
/** The view never zooms in further than this share of the whole ring's width. */
const MIN_ZOOM_SIDE = 0.2;

export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function set(el: Element, name: string, value: string | null): void {
  if (value === null) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/** Peers too close to their neighbour's angle move inwards, to at most this many tracks. */
const TRACKS = 3;

/** Where an id sits: 0 at the top, clockwise; a crowded peer keeps its angle on an inner track. */
export class Geometry {
  private readonly track = new Map<string, number>();
  constructor(private readonly bits: number) {}

  /**
   * Chooses each peer's track so that no two nodes of radius `nodeR` overlap (where `tracks`
   * allow); `space` is the room kept between two nodes.
   */
  layout(ids: readonly string[], nodeR: number, tracks = TRACKS, space = 12): void {
    this.track.clear();
    if (tracks === 1) return; // every peer on the ring itself
    const gap = 2 * nodeR + space;
    const last = Array.from({ length: tracks }, () => -Infinity);
    const sorted = ids.map((id) => [id, this.fraction(id)] as const).sort((a, b) => a[1] - b[1]);
    for (const [id, f] of sorted) {
      let t = 0;
      while (t < tracks && (f - last[t]!) * 2 * Math.PI * (RADIUS - t * gap) < gap) t++;
      if (t === tracks) t = last.indexOf(Math.min(...last));
      last[t] = f;
      this.track.set(id, RADIUS - t * gap);
    }
  }
  /** The smallest distance along the ring between two of these ids (the whole ring for one). */
  closest(ids: readonly string[]): number {
    const fs = ids.map((id) => this.fraction(id)).sort((a, b) => a - b);
    let min = 1;
    for (let i = 0; i < fs.length; i++) min = Math.min(min, ((fs[(i + 1) % fs.length]! - fs[i]! + 1) % 1) || 1);
    return min * 2 * Math.PI * RADIUS;
  }
  fraction(id: string): number {
    const size = 1n << BigInt(this.bits);
    const v = this.bits <= 53 ? BigInt(id) : BigInt(`0x${id}`);
    return Number((v * 1_000_000n) / size) / 1_000_000;
  }
  point(id: string, r = this.track.get(id) ?? RADIUS): [number, number] {
    const a = this.fraction(id) * 2 * Math.PI - Math.PI / 2;
    return [r * Math.cos(a), r * Math.sin(a)];
  }
  /** A curve from a to b, bent towards the centre by `bend` times its length (outwards when negative). */
  curve(a: string, b: string, bend: number, inset = 0): string {
    const [x1, y1] = this.point(a);
    const [x2, y2] = this.point(b);
    const [dx, dy] = [x2 - x1, y2 - y1];
    const len = Math.hypot(dx, dy) || 1;
    let [nx, ny] = [-dy / len, dx / len];
    const [hx, hy] = [(x1 + x2) / 2, (y1 + y2) / 2];
    if (nx * -hx + ny * -hy < 0) [nx, ny] = [-nx, -ny];
    const mx = hx + nx * len * bend;
    const my = hy + ny * len * bend;
    // start and end at the node's rim, not its centre
    const trim = (x: number, y: number, tx: number, ty: number): [number, number] => {
      const d = Math.hypot(tx - x, ty - y) || 1;
      return [x + ((tx - x) * inset) / d, y + ((ty - y) * inset) / d];
    };
    const [sx, sy] = trim(x1, y1, mx, my);
    const [ex, ey] = trim(x2, y2, mx, my);
    return `M${sx.toFixed(1)},${sy.toFixed(1)} Q${mx.toFixed(1)},${my.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`;
  }
}

export function nodeRadius(count: number): number {
  return count <= 16 ? 24 : count <= 64 ? 15 : count <= 128 ? 10 : 7;
}

interface PeerEls {
  g: SVGGElement;
  circle: SVGCircleElement;
  label: SVGTextElement;
  title: SVGTitleElement;
  badge: SVGGElement;
  badgeText: SVGTextElement;
}

export class RingDrawing {
  private readonly peers = new Map<string, PeerEls>();
  private readonly links = new Map<string, SVGPathElement>();
  geometry = new Geometry(8);
  radius = 24;

  constructor(
    private readonly svg: SVGSVGElement,
    private readonly peerLayer: SVGGElement,
    private readonly linkLayer: SVGGElement,
    private readonly extraLayer: SVGGElement,
    private readonly onSelect: (id: string) => void,
    private readonly onKey: (id: string, ev: KeyboardEvent) => void,
  ) {}

  element(id: string): SVGGElement | undefined {
    return this.peers.get(id)?.g;
  }

  render(state: RingState, selected: string | null, hiddenLayers: ReadonlySet<string>): void {
    const ids = [...state.peers.map((p) => p.id), ...state.outside];
    const r = (this.radius = this.zoom(state.bits, ids, nodeRadius(state.peers.length)));
    // departed peers are drawn small and grey: they do not make the ring too crowded for labels
    const small = state.peers.filter((p) => p.state !== 'departed').length > LABEL_ALL_MAX;
    const labelled = small ? this.roomForLabels(state.peers.filter((p) => p.state !== 'departed').map((p) => p.id), r) : undefined;
    const seen = new Set<string>();
    const seenLinks = new Set<string>();
    const byId = new Map(state.peers.map((p) => [p.id, p]));
    for (const p of state.peers) {
      seen.add(p.id);
      this.drawPeer(p, r, small, labelled?.has(p.id) ?? true, selected === p.id);
      const drawn = (to: string | undefined) => to !== undefined && (byId.has(to) || state.outside.includes(to));
      if (p.state === 'departed') continue;
      const [s1, s2] = p.successors;
      const stale1 = p.state === 'live' && p.want !== undefined && s1 !== p.want[0];
      const stale2 = p.state === 'live' && p.want !== undefined && s2 !== p.want[1];
      if (drawn(s1)) this.drawLink(seenLinks, `s1:${p.id}`, p.id, s1!, 0.22, `link first${p.state === 'planned' ? ' planned' : ''}${stale1 ? ' stale' : ''}`, stale1 ? 'arrow-stale' : 'arrow');
      if (drawn(s2) && p.state === 'live') this.drawLink(seenLinks, `s2:${p.id}`, p.id, s2!, 0.4, `link second${stale2 ? ' stale' : ''}`, stale2 ? 'arrow-stale' : 'arrow');
      if (p.state === 'live' && drawn(p.pred1)) this.drawLink(seenLinks, `p1:${p.id}`, p.id, p.pred1!, -0.3, 'link pred', null);
      for (const [name, value] of Object.entries(p.layers ?? {})) {
        if (!Array.isArray(value) || hiddenLayers.has(name)) continue;
        const hue = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
        value.filter(drawn).forEach((to, i) => this.drawLink(seenLinks, `L:${name}:${p.id}:${i}`, p.id, to, 0.6, 'link layer', null, `hsl(${hue} 70% 32%)`, this.extraLayer));
      }
    }
    for (const [id, els] of this.peers) if (!seen.has(id)) (els.g.remove(), this.peers.delete(id));
    for (const [k, el] of this.links) if (!seenLinks.has(k)) (el.remove(), this.links.delete(k));
  }

  /**
   * In a crowded ring, the peers whose label (outside the ring) has room: going round clockwise, a
   * label is kept when it is at least a label's width along the ring from the last one kept.
   */
  private roomForLabels(ids: readonly string[], r: number): Set<string> {
    const font = r * SMALL_LABEL_SCALE;
    const around = 2 * Math.PI * (RADIUS + r + font);
    const width = (id: string) => (id.length * 0.62 + 0.8) * font;
    const sorted = ids.map((id) => [id, this.geometry.fraction(id)] as const).sort((a, b) => a[1] - b[1]);
    const kept = new Set<string>();
    let first: readonly [string, number] | undefined;
    let last: readonly [string, number] | undefined;
    for (const e of sorted) {
      const roomy = !last || (e[1] - last[1]) * around >= (width(e[0]) + width(last[0])) / 2;
      const clearOfFirst = !first || (first[1] + 1 - e[1]) * around >= (width(e[0]) + width(first[0])) / 2;
      if (!roomy || !clearOfFirst) continue;
      kept.add(e[0]);
      first ??= e;
      last = e;
    }
    return kept;
  }

  /**
   * Fits the view to where the peers are (the reference ring's ids 2 to 19 sit on a tenth of the
   * circle) and returns the node radius at that zoom; angles stay the ids' own.
   */
  private zoom(bits: number, ids: readonly string[], baseR: number): number {
    const fit = (r: number, tracks = TRACKS) => {
      this.geometry = new Geometry(bits);
      this.geometry.layout(ids, r, tracks);
      const pts = ids.map((id) => this.geometry.point(id));
      const margin = 3.2 * r + 20;
      const xs = pts.map((p) => p[0]);
      const ys = pts.map((p) => p[1]);
      const [x0, x1] = pts.length ? [Math.min(...xs) - margin, Math.max(...xs) + margin] : [-540, 540];
      const [y0, y1] = pts.length ? [Math.min(...ys) - margin, Math.max(...ys) + margin] : [-540, 540];
      const side = Math.min(1080, Math.max(x1 - x0, y1 - y0, 1080 * MIN_ZOOM_SIDE));
      return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, side };
    };
    // Students should see a ring: when the closest two peers leave room for a readable node, every
    // peer stays on the ring itself (smaller nodes) rather than stepping onto inner tracks, which
    // made the arrows of the zoomed reference ring zig-zag.
    let v = fit(baseR, 1);
    const scale = v.side / 1080;
    const oneTrack = Math.min(baseR * scale, (this.geometry.closest(ids) - 4 * scale) / 2);
    if (ids.length > 1 && oneTrack >= MIN_ONE_TRACK_NODE * scale) {
      v = fit(oneTrack, 1);
      set(this.svg, 'data-tracks', '1');
      return this.frame(v, baseR, oneTrack);
    }
    set(this.svg, 'data-tracks', String(TRACKS));
    v = fit(baseR);
    const r = baseR * (v.side / 1080);
    if (v.side < 1080) v = fit(r);
    return this.frame(v, baseR, v.side >= 1080 ? baseR : r);
  }

  /** Sets the view box and the sizes that follow the zoom; returns the node radius. */
  private frame(v: { cx: number; cy: number; side: number }, baseR: number, r: number): number {
    const box = v.side >= 1080 ? '-540 -540 1080 1080' : `${(v.cx - v.side / 2).toFixed(1)} ${(v.cy - v.side / 2).toFixed(1)} ${v.side.toFixed(1)} ${v.side.toFixed(1)}`;
    set(this.svg, 'viewBox', box);
    // arrowheads in a crowded ring shrink with the nodes
    const head = (7 * Math.min(1, baseR / 16)).toFixed(1);
    for (const m of this.svg.querySelectorAll('marker')) (set(m, 'markerWidth', head), set(m, 'markerHeight', head));
    this.svg.style.setProperty('--u', (v.side / 1080).toFixed(4));
    return r;
  }

  private drawPeer(p: PeerView, r: number, small: boolean, labelled: boolean, isSelected: boolean): void {
    let els = this.peers.get(p.id);
    if (!els) {
      const g = svgEl('g', { class: 'peer', role: 'button', tabindex: '0', 'aria-label': `Peer ${p.id}`, 'data-peer-id': p.id });
      const title = svgEl('title');
      const circle = svgEl('circle', { class: 'node' });
      const label = svgEl('text', { class: 'label' });
      label.textContent = p.id;
      const badge = svgEl('g', { class: 'badge-group', 'aria-hidden': 'true' });
      const rect = svgEl('rect', { class: 'badge' });
      const badgeText = svgEl('text', { class: 'badge-text' });
      badge.append(rect, badgeText);
      g.append(title, circle, label, badge);
      g.addEventListener('click', () => this.onSelect(p.id));
      g.addEventListener('keydown', (ev) => this.onKey(p.id, ev));
      this.peerLayer.append(g);
      els = { g, circle, label, title, badge, badgeText };
      this.peers.set(p.id, els);
    }
    const [x, y] = this.geometry.point(p.id);

    set(els.g, 'transform', `translate(${x.toFixed(1)},${y.toFixed(1)})`);
    set(els.g, 'data-state', p.state);
    set(els.g, 'data-successor', p.state === 'departed' ? '' : (p.successors[0] ?? ''));
    set(els.g, 'data-stale', p.stale ? 'true' : null);
    set(els.g, 'data-joining', p.phase === 'joining' ? 'true' : null);
    set(els.g, 'aria-current', isSelected ? 'true' : null);
    set(els.g, 'class', `peer${small ? ' small' : ''}`);
    set(els.circle, 'r', String(r));
    set(els.circle, 'class', `node ${p.state}`);
    // crowded: the label sits just outside the ring on the peer's own radius (outside the outer
    // track even for a peer on an inner one), clear of every node and link
    const font = r * (small ? SMALL_LABEL_SCALE : 0.85);
    const a = this.geometry.fraction(p.id) * 2 * Math.PI - Math.PI / 2;
    const d = small ? RADIUS + r + font * 0.9 - Math.hypot(x, y) : 0;
    set(els.label, 'x', (Math.cos(a) * d).toFixed(1));
    set(els.label, 'y', (Math.sin(a) * d).toFixed(1));
    set(els.label, 'font-size', font.toFixed(1));
    set(els.g, 'data-labelled', small && labelled ? 'true' : null);
    const files = p.files.length;
    const [bw, bh] = [r * 1.2, r * 0.9];
    set(els.badge.firstElementChild!, 'x', (-bw / 2).toFixed(1));
    set(els.badge.firstElementChild!, 'y', (-bh / 2).toFixed(1));
    set(els.badge.firstElementChild!, 'width', bw.toFixed(1));
    set(els.badge.firstElementChild!, 'height', bh.toFixed(1));
    set(els.badge.firstElementChild!, 'rx', (bh / 3).toFixed(1));
    set(els.badgeText, 'font-size', (bh * 0.75).toFixed(1));
    // on the node's upper right rim: the peer's box stays centred on its circle
    set(els.badge, 'transform', `translate(${(r * 0.85).toFixed(1)},${(-r * 0.85).toFixed(1)})`);
    set(els.badge, 'visibility', files > 0 ? 'visible' : 'hidden');
    if (els.badgeText.textContent !== String(files)) els.badgeText.textContent = String(files);
    const preds = `${p.pred2 ?? '?'} > ${p.pred1 ?? '?'}`;
    const succ = p.successors.slice(0, 2).join(' > ') || '?';
    const what = p.state === 'departed' ? `departed${p.departure ? ` (${p.departure})` : ''}` : p.state === 'planned' ? 'planned' : `${preds} > [${p.id}] > ${succ}${p.stale ? ', stale' : ''}`;
    const title = `Peer ${p.id}: ${what}${files ? `, ${files} file${files > 1 ? 's' : ''}` : ''}`;
    if (els.title.textContent !== title) els.title.textContent = title;
  }

  private drawLink(seen: Set<string>, key: string, from: string, to: string, k: number, cls: string, marker: string | null, colour?: string, layer = this.linkLayer): void {
    seen.add(key);
    let el = this.links.get(key);
    if (!el) {
      el = svgEl('path');
      layer.append(el);
      this.links.set(key, el);
    }
    set(el, 'd', this.geometry.curve(from, to, k, this.radius + 2));
    set(el, 'class', cls);
    set(el, 'data-from', from);
    set(el, 'data-to', to);
    set(el, 'marker-end', marker ? `url(#${marker})` : null);
    set(el, 'stroke', colour ?? null);
  }
}
