// The Node shell's library files: a read opens its file only when a reader starts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { NodeLibraryFiles } from '../src/transport/node/library-files.js';

test('a read nobody starts opens nothing: a file gone meanwhile crashes nothing; one started reads the bytes or fails with ENOENT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-library-files-'));
  try {
    writeFileSync(join(dir, 'a.txt'), 'a bytes');
    const lib = new NodeLibraryFiles({ store: dir, data: dir }, 1n, async () => undefined);
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => void crashes.push(err);
    process.on('uncaughtException', onCrash);
    try {
      // made and never read, as a put refused before its first byte leaves it, then the file goes
      lib.read('store', 'missing.txt');
      lib.read('store', 'a.txt');
      rmSync(join(dir, 'a.txt'));
      // file system round trips queued after the opens an eager stream would have made: by their
      // replies, such an open has failed and its error has gone unheard
      for (let i = 0; i < 8; i++) await access(dir);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(crashes, []);
    } finally {
      process.off('uncaughtException', onCrash);
    }
    writeFileSync(join(dir, 'b.txt'), 'b bytes');
    const parts: Buffer[] = [];
    for await (const c of lib.read('store', 'b.txt')) parts.push(Buffer.from(c));
    assert.equal(Buffer.concat(parts).toString(), 'b bytes');
    await assert.rejects(async () => {
      for await (const _ of lib.read('store', 'missing.txt')) void _;
    }, /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
