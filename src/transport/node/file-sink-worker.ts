// The worker thread behind WorkerSink: for each open transfer it hashes (SHA-256) and writes the
// chunks it is handed, in order, so the socket's thread only cuts frames. Messages in order per
// transfer: open, write..., then finish (digest back) or abort.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, writeSync, writevSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

export type SinkRequest =
  | { op: 'open'; id: number; path: string }
  /** ranges: triples (index into bufs, byte offset, length). */
  | { op: 'write'; id: number; bufs: ArrayBuffer[]; ranges: number[] }
  | { op: 'finish'; id: number }
  | { op: 'abort'; id: number };

export type SinkReply =
  /** bufs: the write's buffers, handed back so they are freed where collection runs often. */
  | { op: 'written'; id: number; bytes: number; bufs: ArrayBuffer[] }
  | { op: 'finished'; id: number; sha256: Uint8Array }
  | { op: 'aborted'; id: number }
  | { op: 'error'; id: number; error: string };

interface Open {
  fd: number;
  hash: Hash;
}

const files = new Map<number, Open>();
const failed = new Set<number>();
const port = parentPort!;

function reply(r: SinkReply): void {
  port.postMessage(r);
}

function fail(id: number, err: unknown): void {
  const f = files.get(id);
  files.delete(id);
  failed.add(id);
  if (f) {
    try {
      closeSync(f.fd);
    } catch {
      // closing a file that failed: nothing more to do
    }
  }
  const e = err as NodeJS.ErrnoException;
  reply({ op: 'error', id, error: e?.code ?? (err instanceof Error ? err.message : String(err)) });
}

/** writev until every byte is down (a regular file takes all at once unless the disk is full). */
function writeAll(fd: number, views: Uint8Array[]): void {
  let done = writevSync(fd, views);
  for (const v of views) {
    if (done >= v.length) {
      done -= v.length;
      continue;
    }
    let at = done;
    done = 0;
    while (at < v.length) at += writeSync(fd, v, at, v.length - at);
  }
}

port.on('message', (m: SinkRequest) => {
  if (failed.has(m.id)) {
    if (m.op === 'abort' || m.op === 'finish') {
      failed.delete(m.id);
      reply(m.op === 'abort' ? { op: 'aborted', id: m.id } : { op: 'error', id: m.id, error: 'an earlier write failed' });
    }
    return;
  }
  try {
    switch (m.op) {
      case 'open':
        files.set(m.id, { fd: openSync(m.path, 'wx'), hash: createHash('sha256') });
        return;
      case 'write': {
        const f = files.get(m.id);
        if (!f) return;
        const views: Uint8Array[] = [];
        let bytes = 0;
        for (let i = 0; i < m.ranges.length; i += 3) {
          const v = new Uint8Array(m.bufs[m.ranges[i]!]!, m.ranges[i + 1]!, m.ranges[i + 2]!);
          f.hash.update(v);
          views.push(v);
          bytes += v.length;
        }
        writeAll(f.fd, views);
        // This thread allocates almost nothing, so its collector would hold on to them for long.
        port.postMessage({ op: 'written', id: m.id, bytes, bufs: m.bufs } satisfies SinkReply, m.bufs);
        return;
      }
      case 'finish': {
        const f = files.get(m.id);
        files.delete(m.id);
        if (!f) return reply({ op: 'error', id: m.id, error: 'not open' });
        closeSync(f.fd);
        const sha256 = new Uint8Array(f.hash.digest());
        reply({ op: 'finished', id: m.id, sha256 });
        return;
      }
      case 'abort': {
        const f = files.get(m.id);
        files.delete(m.id);
        if (f) closeSync(f.fd);
        reply({ op: 'aborted', id: m.id });
        return;
      }
    }
  } catch (err) {
    fail(m.id, err);
  }
});
