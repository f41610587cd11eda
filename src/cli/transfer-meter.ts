// Size, rate and progress of file transfers, as extra console lines rendered from a peer's
// traces (the spec's lines stay as they are): the size when a file starts arriving, progress at
// most once per PROGRESS_EVERY_MS while it does, and the time and rate once it has arrived.
import type { Id } from '../core/id-space.js';
import type { Trace } from '../core/trace.js';
import { formatBytes } from '../control/files.js';

const PROGRESS_EVERY_MS = 1_000;
/** Transfers followed at once per meter; more are simply not metered. */
const MAX_TRACKED = 64;

interface Tracked {
  size: number;
  startedAt: number;
  lastShownAt: number;
}

export class TransferMeter {
  private readonly transfers = new Map<string, Tracked>();

  /** The extra lines this trace of peer `id` at time `at` (ms) prints as; usually none. */
  lines(id: Id, at: number, t: Trace): string[] {
    const key = (file: string, from: Id) => `${id}:${file}:${from}`;
    if (t.kind === 'receive' && t.phase === 'start') {
      if (this.transfers.size < MAX_TRACKED) this.transfers.set(key(t.file, t.from), { size: t.size ?? 0, startedAt: at, lastShownAt: at });
      return t.size !== undefined ? [`File ${t.file} is ${formatBytes(t.size)}`] : [];
    }
    if (t.kind === 'transfer-progress' && t.direction === 'in') {
      const tr = this.transfers.get(key(t.file, t.peer));
      if (!tr || at - tr.lastShownAt < PROGRESS_EVERY_MS || t.size <= 0) return [];
      tr.lastShownAt = at;
      const pct = Math.floor((100 * t.bytes) / t.size);
      return [`File ${t.file}: ${pct}% (${formatBytes(t.bytes)} of ${formatBytes(t.size)}, ${rate(t.bytes, at - tr.startedAt)})`];
    }
    if (t.kind === 'receive' && t.phase !== 'start') {
      const k = key(t.file, t.from);
      const tr = this.transfers.get(k);
      this.transfers.delete(k);
      if (!tr || t.phase !== 'done') return [];
      const ms = at - tr.startedAt;
      const size = t.size ?? tr.size;
      return [`File ${t.file}: ${formatBytes(size)} in ${(ms / 1000).toFixed(2)} s (${rate(size, ms)})`];
    }
    return [];
  }
}

function rate(bytes: number, ms: number): string {
  if (ms <= 0) return 'at once';
  return `${formatBytes(Math.round((bytes * 1000) / ms))}/s`;
}
