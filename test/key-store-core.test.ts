// Unit tests of src/core/storage/key-store.ts: which files are stored names, what a second copy
// of a name may change (bytes, publisher, ring flag), ranges round the ring, and tombstones with
// their bounds, their expiry on the clock handed in, and a put clearing them. No disk, no clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultContact } from '../src/space.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import { idSpace } from '../src/space.js';
import { KeyStore, MAX_HELD_KEYS, MAX_TOMBSTONES, TOMBSTONE_TTL_MS } from '../src/core/storage/key-store.js';

const SHA = new Uint8Array(32).fill(1);
const SHA2 = new Uint8Array(32).fill(2);
const p5 = defaultContact(5n);
const p9 = defaultContact(9n);

test('stored names: the spec\'s NNNN.pdf in 8 bits, any clean name above; received copies and temporary files never', () => {
  const spec = new KeyStore(SPEC_SPACE);
  assert.equal(spec.nameOfFile('2067.pdf'), '2067');
  for (const f of ['2067.txt', '206.pdf', 'received_2067.pdf', '.2067.pdf.part', 'notes.txt']) assert.equal(spec.nameOfFile(f), undefined, f);
  const wide = new KeyStore(idSpace(16));
  assert.equal(wide.nameOfFile('Quarterly report (final).txt'), 'Quarterly report (final).txt');
  for (const f of ['received_notes.txt', '.cdht-get-1.part', '.hidden']) assert.equal(wide.nameOfFile(f), undefined, f);
});

test('a second copy of a name: the same size keeps the known bytes and the first publisher; another size starts over; once a ring copy, always one', () => {
  const s = new KeyStore(SPEC_SPACE);
  s.add({ name: '2067', size: 10, sha256: SHA, publisher: p5 }, true);
  s.add({ name: '2067', size: 10, publisher: p9 });
  assert.deepEqual(s.get('2067'), { name: '2067', size: 10, key: 19n, ring: true, sha256: SHA, publisher: p5 }, 'a later copy cannot change who may delete the name');
  s.add({ name: '2067', size: 11, publisher: p9 });
  assert.deepEqual(s.get('2067'), { name: '2067', size: 11, key: 19n, ring: true, publisher: p9 }, 'new bytes: the old digest and publisher go');
  s.add({ name: '2067', size: 11, sha256: SHA2 });
  assert.deepEqual(s.get('2067')?.sha256, SHA2, 'a digest learned later is kept');
});

test('names in (a, b] clockwise, across zero too', () => {
  const s = new KeyStore(SPEC_SPACE);
  for (const name of ['0001', '0008', '0019', '0250', '2067']) s.add({ name, size: 1 });
  const names = (a: bigint, b: bigint) => s.inRange(a, b).map((h) => h.name).sort();
  assert.deepEqual(names(8n, 19n), ['0019', '2067'], 'key 19 twice, key 8 left out');
  assert.deepEqual(names(240n, 8n), ['0001', '0008', '0250'], 'wrapping past 255');
  assert.deepEqual(names(19n, 19n), ['0001', '0008', '0019', '0250', '2067'], 'the whole ring when a = b');
});

test('at most MAX_HELD_KEYS names are tracked: a new one beyond is not, a known one still changes', () => {
  const s = new KeyStore(idSpace(32));
  for (let i = 0; i < MAX_HELD_KEYS; i++) s.add({ name: `f${i}`, size: 1 });
  s.add({ name: 'one too many', size: 1 });
  assert.equal(s.size, MAX_HELD_KEYS);
  assert.equal(s.has('one too many'), false);
  s.add({ name: 'f0', size: 2 });
  assert.equal(s.get('f0')?.size, 2);
});

test('a tombstone: the name forgotten, its bytes and publisher remembered until TOMBSTONE_TTL_MS past the time given; a put clears it', () => {
  const s = new KeyStore(SPEC_SPACE);
  s.add({ name: '0008', size: 10, sha256: SHA, publisher: p5 });
  s.bury('0008', SHA, 1000, p5);
  assert.equal(s.has('0008'), false);
  assert.deepEqual(s.tombstone('0008', 1000 + TOMBSTONE_TTL_MS), { sha256: SHA, at: 1000, publisher: p5 }, 'still there at the edge');
  assert.equal(s.tombstone('0008', 1001 + TOMBSTONE_TTL_MS), undefined, 'over after the TTL');
  assert.equal(s.tombstone('0008', 1000), undefined, 'and forgotten, not only hidden');
  s.bury('0008', SHA, 2000);
  s.add({ name: '0008', size: 3, sha256: SHA2 });
  assert.equal(s.tombstone('0008', 2000), undefined, 'a new put of the name clears it');
});

test('at most MAX_TOMBSTONES: the oldest goes first', () => {
  const s = new KeyStore(idSpace(32));
  for (let i = 0; i <= MAX_TOMBSTONES; i++) s.bury(`gone ${i}`, SHA, i);
  assert.equal(s.tombstone('gone 0', MAX_TOMBSTONES), undefined, 'the oldest made room');
  assert.ok(s.tombstone('gone 1', MAX_TOMBSTONES));
  assert.ok(s.tombstone(`gone ${MAX_TOMBSTONES}`, MAX_TOMBSTONES));
});
