// The reporter: one row per peer, `pred2 > pred1 > [id] > succ1 > succ2`, the peers that are
// referenced but not running here, and how many files each peer holds. Pure rendering:
// the caller gathers the snapshots and decides when to draw.
import type { Id } from '../core/id-space.js';
import type { CoreSnapshot } from '../core/peer-core.js';
import { ringSuccessors, staleSuccessors } from '../core/ring.js';

export interface ReportInput {
  /** Snapshots of the peers running in this process (stopped ones are left out by the caller). */
  peers: readonly CoreSnapshot[];
  /** Files held per peer id. */
  files?: ReadonlyMap<Id, number>;
}

export interface Report {
  rows: string[];
  unmonitored: Id[];
  /** Ids whose first two successors differ from the true ring of running peers. */
  stale: Id[];
}

function cell(id: Id | undefined, width: number): string {
  return (id === undefined ? '?' : String(id)).padStart(width);
}

export function buildReport(input: ReportInput): Report {
  const peers = [...input.peers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const w = Math.max(2, ...peers.map((p) => String(p.id).length));
  const running = new Set(peers.map((p) => p.id));
  // the true ring is made of the peers in it (not those still joining or stopped)
  const inRing = peers.filter((p) => p.phase === 'active' || p.phase === 'leaving');
  const truth = ringSuccessors(inRing.map((p) => p.id));
  const stale = staleSuccessors(inRing);
  const referenced = new Set<Id>();
  const rows = peers.map((p) => {
    const [s1, s2] = p.successors;
    for (const r of [p.pred1, p.pred2, s1, s2]) if (r !== undefined) referenced.add(r);
    const want = truth.get(p.id);
    const isStale = stale.includes(p.id);
    const files = input.files?.get(p.id);
    const tail = [
      files === undefined ? '' : `  files: ${files}`,
      p.phase === 'active' ? '' : `  (${p.phase})`,
      isStale ? `  <- stale, should be ${want!.join(' > ')}` : '',
    ].join('');
    return `Peer ${cell(p.id, w)} - ${cell(p.pred2, w)} > ${cell(p.pred1, w)} > [${cell(p.id, w)}] > ${cell(s1, w)} > ${cell(s2, w)}${tail}`;
  });
  const unmonitored = [...referenced].filter((id) => !running.has(id)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { rows, unmonitored, stale };
}

export function renderReport(input: ReportInput): string {
  const r = buildReport(input);
  const lines = [...r.rows, `Unmonitored Peers (${r.unmonitored.length}): ${r.unmonitored.join(', ')}`.trimEnd()];
  if (r.stale.length) lines.push(`Stale rows (${r.stale.length}): ${r.stale.join(', ')}`);
  return lines.join('\n');
}
