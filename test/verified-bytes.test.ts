// The bookkeeping of a streamed get (src/api/verified-bytes.ts): the last bytes held back until the
// source matched the record, and a later source's first bytes checked against those handed on.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CdhtError } from '../src/core/errors.js';
import { VerifiedBytes } from '../src/api/verified-bytes.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** Feeds `bytes` as one source in pieces of `piece` bytes; what came out. */
function feed(v: VerifiedBytes, bytes: Uint8Array, piece: number, upTo = bytes.length): Buffer[] {
  v.restart();
  const out: Buffer[] = [];
  for (let at = 0; at < upTo; at += piece) {
    const o = v.take(bytes.subarray(at, Math.min(upTo, at + piece)));
    if (o) out.push(Buffer.from(o));
  }
  return out;
}

test('verified bytes: the last piece is held back until the whole source matched', () => {
  const file = randomBytes(10_000);
  const v = new VerifiedBytes('f');
  const out = feed(v, file, 3000);
  assert.equal(Buffer.concat(out).length, 9000, 'all but the last piece');
  assert.equal(v.matches(file.length, sha(file)), true);
  out.push(Buffer.from(v.last()!));
  assert.deepEqual(Buffer.concat(out), file);
  // a source that does not hash to the record: not matched, the held piece stays held
  const w = new VerifiedBytes('f');
  const bad = Buffer.from(file);
  bad[9_999]! ^= 1;
  feed(w, bad, 3000);
  assert.equal(w.matches(file.length, sha(file)), false);
  assert.equal(w.handedOn, 9000);
});

test('verified bytes: a second source skips what was handed on, and must agree with it', () => {
  const file = randomBytes(10_000);
  const v = new VerifiedBytes('f');
  // the first source breaks after 4500 bytes: 4000 handed on (the last 500 held back, then dropped)
  const first = feed(v, file, 1000, 4500);
  assert.equal(v.handedOn, 4000);
  // the next source comes in other pieces: only bytes past 4000 come out
  const second = feed(v, file, 700);
  assert.equal(v.matches(file.length, sha(file)), true);
  const all = Buffer.concat([...first, ...second, Buffer.from(v.last()!)]);
  assert.deepEqual(all, file);
  // a source whose first bytes differ from those handed on: INTEGRITY, and no source can mend it
  const u = new VerifiedBytes('f');
  feed(u, file, 1000, 4500);
  const other = Buffer.from(file);
  other[10]! ^= 1;
  assert.throws(() => feed(u, other, 1000), (e: unknown) => e instanceof CdhtError && e.code === 'CDHT_ERR_INTEGRITY');
  assert.equal(u.broken, true);
  // more handed on than the record holds
  const s = new VerifiedBytes('f');
  feed(s, file, 1000, 4500);
  assert.throws(() => s.matches(100, undefined), (e: unknown) => e instanceof CdhtError && e.code === 'CDHT_ERR_INTEGRITY');
});

test('verified bytes: an empty file matches at once', () => {
  const v = new VerifiedBytes('f');
  v.restart();
  assert.equal(v.matches(0, sha(new Uint8Array(0))), true);
  assert.equal(v.last(), undefined);
});
