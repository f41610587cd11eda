// The record log beside a peer's stored files: who published each name, and which names were
// deleted (with their bytes' SHA-256 and when). The core says what to remember; this shell
// appends it as JSON lines, reads it back at start, and rewrites it compacted then.
import type { Contact } from '../core/contact.js';
import type { KeyInfo } from '../core/messages.js';
import type { LibraryFiles } from '../transport/types.js';

export interface Remembered {
  name: string;
  publisher?: Contact;
  deleted?: { sha256: Uint8Array; at: number };
}

/** Lines written at once; more wait for the write under way. */
const MAX_BATCH = 4096;

interface Line {
  n: string;
  p?: { i: string; h: string; o: number };
  d?: string;
  t?: number;
}

function lineOf(r: Remembered): string {
  const l: Line = { n: r.name };
  if (r.publisher) l.p = { i: r.publisher.id.toString(), h: r.publisher.host, o: r.publisher.port };
  if (r.deleted) {
    l.d = Buffer.from(r.deleted.sha256).toString('hex');
    l.t = r.deleted.at;
  }
  return `${JSON.stringify(l)}\n`;
}

/** The log's lines folded into the latest state of each name; lines that do not parse are skipped. */
export function foldRecords(text: string): Map<string, Remembered> {
  const state = new Map<string, Remembered>();
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let l: Line;
    try {
      l = JSON.parse(raw) as Line;
    } catch {
      continue; // a line cut by a crash
    }
    if (typeof l.n !== 'string') continue;
    const r: Remembered = { name: l.n };
    if (l.p && typeof l.p.i === 'string' && /^\d+$/.test(l.p.i) && typeof l.p.h === 'string' && Number.isInteger(l.p.o)) r.publisher = { id: BigInt(l.p.i), host: l.p.h, port: l.p.o };
    if (typeof l.d === 'string' && /^[0-9a-f]{64}$/.test(l.d) && Number.isFinite(l.t)) r.deleted = { sha256: Buffer.from(l.d, 'hex'), at: l.t! };
    // the latest line of a name is its state: a publisher after a deletion is a new put of it
    state.set(l.n, r);
  }
  return state;
}

export class RecordLog {
  private queue: string[] = [];
  private writing: Promise<void> | undefined;

  constructor(private readonly lib: () => LibraryFiles | undefined) {}

  /** Reads the log, applies it to the files found at start, and rewrites it with only what still matters. */
  async load(files: KeyInfo[]): Promise<{ files: KeyInfo[]; deleted: { name: string; sha256: Uint8Array; at: number }[] }> {
    const lib = this.lib();
    if (!lib) return { files, deleted: [] };
    const text = await lib.readRecords().catch(() => '');
    const state = foldRecords(text);
    const present = new Set(files.map((f) => f.name));
    const withPublishers = files.map((f) => {
      const p = state.get(f.name)?.publisher;
      return p && !state.get(f.name)?.deleted ? { ...f, publisher: p } : f;
    });
    const deleted = [...state.values()].flatMap((r) => (r.deleted && !present.has(r.name) ? [{ name: r.name, ...r.deleted }] : []));
    const kept = [...state.values()].filter((r) => (r.deleted ? !present.has(r.name) : present.has(r.name)));
    // rewritten only when it holds something: a peer that never stored anything leaves no file
    const compact = kept.map(lineOf).join('');
    if (text !== '' && compact !== text) await lib.writeRecords(compact, true).catch(() => undefined);
    return { files: withPublishers, deleted };
  }

  /** Appends what the core said to remember (in order; written in batches, one write at a time). */
  remember(r: Remembered): void {
    if (this.queue.length >= MAX_BATCH * 16) return; // the disk cannot keep up: losing a record beats growing for ever
    this.queue.push(lineOf(r));
    this.writing ??= this.flush();
  }

  /** Resolves once everything remembered so far is written. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async flush(): Promise<void> {
    const lib = this.lib();
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH).join('');
      await lib?.writeRecords(batch).catch(() => undefined);
    }
    this.writing = undefined;
  }
}
