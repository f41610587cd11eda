// The reporter: one row per live peer, `pred2 > pred1 > [id] > succ1 > succ2`, the peers that
// are referenced but not running here, and how many files each peer holds. Pure rendering of
// the controller's RingState (which decides what is stale); the caller decides when to draw.
import type { RingState } from '../control/view-types.js';

export interface Report {
  rows: string[];
  unmonitored: string[];
  /** Ids whose first two successors differ from the true ring. */
  stale: string[];
}

const byNumber = (a: string, b: string) => (a.length - b.length) || (a < b ? -1 : a > b ? 1 : 0);

export function buildReport(state: RingState): Report {
  const live = state.peers.filter((p) => p.state === 'live');
  const w = Math.max(2, ...live.map((p) => p.id.length));
  const cell = (id: string | undefined) => (id ?? '?').padStart(w);
  const running = new Set(live.map((p) => p.id));
  const referenced = new Set<string>();
  const rows = live.map((p) => {
    const [s1, s2] = p.successors;
    for (const r of [p.pred1, p.pred2, s1, s2]) if (r !== undefined) referenced.add(r);
    const tail = [
      `  files: ${p.files.length}`,
      p.phase === 'active' ? '' : `  (${p.phase})`,
      p.stale ? `  <- stale, should be ${(p.want ?? []).join(' > ')}` : '',
    ].join('');
    return `Peer ${cell(p.id)} - ${cell(p.pred2)} > ${cell(p.pred1)} > [${cell(p.id)}] > ${cell(s1)} > ${cell(s2)}${tail}`;
  });
  const unmonitored = [...referenced].filter((id) => !running.has(id)).sort(byNumber);
  return { rows, unmonitored, stale: state.stale };
}

export function renderReport(state: RingState): string {
  const r = buildReport(state);
  const lines = [...r.rows, `Unmonitored Peers (${r.unmonitored.length}): ${r.unmonitored.join(', ')}`.trimEnd()];
  if (r.stale.length) lines.push(`Stale rows (${r.stale.length}): ${r.stale.join(', ')}`);
  const short = state.keys.filter((k) => k.holders.length < k.want);
  if (short.length) {
    const shown = short.slice(0, 20).map((k) => `${k.name} (${k.holders.length} of ${k.want}: ${k.holders.join(', ') || 'nobody'})`);
    lines.push(`Keys short of their ${short[0]!.want} copies (${short.length}): ${shown.join(', ')}${short.length > 20 ? ', ...' : ''}`);
  }
  return lines.join('\n');
}
