// Unit tests of src/core/storage/deletes.ts through one PeerCore driven by hand: who may delete a
// name at its owner, the open ring's confirmation by the publisher's own address, what the owner
// tells its replica holders, and the tombstone that turns an old copy away (across a restart too).
// An in-memory disk, a clock moved by hand, no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HandCore, over, peer } from './helpers/hand-core.js';

const RING = [2, 4, 5, 8, 9, 14, 19];
const SHA = new Uint8Array(32).fill(7);
const OTHER_SHA = new Uint8Array(32).fill(9);
/** 0008 (key 8) at its owner, Peer 8, published by Peer 5; 0007 (key 7) is also Peer 8's to hold, but not held. */
const FILE = { name: '0008', size: 10, sha256: SHA, publisher: peer(5) };

const owner = () => new HandCore({ id: 8, ring: RING, files: [FILE], config: { replicas: 3 } });

function replies(c: HandCore, since = 0): string[] {
  return c.sentOf('delete-reply', since).map((s) => `${s.msg.file} ${s.msg.result}`);
}

test('at the owner: a delete by anyone but the publisher is forbidden; one for a key it does not own, or a name it does not hold, says so', () => {
  const c = owner();
  c.receive({ type: 'delete-request', from: peer(9), qid: 1, file: '0008', nonce: 0 });
  // the publisher's id and port, but from another host
  c.receive({ type: 'delete-request', from: peer(5), qid: 2, file: '0008', nonce: 0 }, over(peer(5), '10.0.0.9'));
  c.receive({ type: 'delete-request', from: peer(5), qid: 3, file: '0019', nonce: 0 });
  c.receive({ type: 'delete-request', from: peer(5), qid: 4, file: '0007', nonce: 0 });
  assert.deepEqual(replies(c), ['0008 forbidden', '0008 forbidden', '0019 not-owner', '0007 missing']);
  assert.ok(c.disk.has('0008'), 'the file stays');
  assert.deepEqual(c.sentOf('delete-confirm'), [], 'nobody was asked to confirm');
});

test('on an open ring the publisher\'s own address confirms: a wrong nonce deletes nothing, the right one deletes, buries and tells k - 1 holders', () => {
  const c = owner();
  c.receive({ type: 'delete-request', from: peer(5), qid: 7, file: '0008', nonce: 0 });
  const [confirm] = c.sentOf('delete-confirm');
  assert.ok(confirm, 'the owner asks the publisher to confirm');
  assert.equal((confirm.to as { port: number }).port, peer(5).port, 'at the publisher\'s recorded address');
  assert.notEqual(confirm.msg.nonce, 0);
  assert.ok(c.disk.has('0008'), 'nothing is deleted before the confirmation');

  const mark = c.sent.length;
  c.receive({ type: 'delete-request', from: peer(5), qid: 7, file: '0008', nonce: confirm.msg.nonce + 1 });
  c.receive({ type: 'delete-request', from: peer(5), qid: 8, file: '0008', nonce: confirm.msg.nonce }); // another request's id
  assert.ok(c.disk.has('0008'), 'a guessed nonce, or one of another request, deletes nothing');
  assert.deepEqual(replies(c, mark), []);

  c.receive({ type: 'delete-request', from: peer(5), qid: 7, file: '0008', nonce: confirm.msg.nonce });
  assert.ok(!c.disk.has('0008'), 'deleted');
  assert.deepEqual(replies(c, mark), ['0008 deleted']);
  assert.deepEqual(c.remembered.map((r) => [r.name, r.deleted?.sha256]), [['0008', SHA]], 'the bytes deleted are remembered across a restart');
  const told = c.sentOf('key-delete', mark).map((s) => Number((s.to as { id: bigint }).id));
  assert.deepEqual(told, [9, 14], 'both replica holders (k = 3) are told');
  // the same confirmation again finds nothing to delete and tells no holder twice
  const again = c.sent.length;
  c.receive({ type: 'delete-request', from: peer(5), qid: 7, file: '0008', nonce: confirm.msg.nonce });
  assert.deepEqual(replies(c, again), ['0008 missing']);
  assert.deepEqual(c.sentOf('key-delete', again), []);
  assert.equal(c.remembered.length, 1);
});

test('a private ring takes the connection\'s certificate as the proof: the publisher\'s deletes, no confirmation asked', () => {
  const c = new HandCore({ id: 8, ring: RING, files: [FILE], config: { replicas: 3, secure: true } });
  c.receive({ type: 'delete-request', from: peer(5), qid: 1, file: '0008', nonce: 0 }, { ...over(peer(5)), authId: 9n });
  assert.deepEqual(replies(c), ['0008 forbidden'], 'Peer 9\'s certificate naming Peer 5 is not Peer 5');
  c.receive({ type: 'delete-request', from: peer(5), qid: 2, file: '0008', nonce: 0 }, { ...over(peer(5), '10.0.0.9'), authId: 5n });
  assert.deepEqual(replies(c), ['0008 forbidden', '0008 deleted'], 'Peer 5\'s certificate, from any host');
  assert.deepEqual(c.sentOf('delete-confirm'), []);
  assert.ok(!c.disk.has('0008'));
});

test('a deleted name\'s old bytes offered again are refused and their holder told to drop them; other bytes are a new name', () => {
  const c = owner();
  c.receive({ type: 'delete-request', from: peer(5), qid: 7, file: '0008', nonce: 0 });
  c.receive({ type: 'delete-request', from: peer(5), qid: 7, file: '0008', nonce: c.sentOf('delete-confirm')[0]!.msg.nonce });
  assert.ok(!c.disk.has('0008'));
  const mark = c.sent.length;
  // Peer 9 was away during the delete and hands its copy back
  c.receive({ type: 'key-offer', from: peer(9), oid: 1, keys: [{ name: '0008', size: 10, sha256: SHA }] });
  const [want] = c.sentOf('key-want', mark);
  assert.deepEqual([want?.msg.names, want?.msg.refused], [[], ['0008']], 'the old bytes are refused');
  assert.deepEqual(c.sentOf('key-delete', mark).map((s) => [Number((s.to as { id: bigint }).id), s.msg.file, s.msg.sha256]), [[9, '0008', SHA]], 'and their holder told to drop them');
  const next = c.sent.length;
  c.receive({ type: 'key-offer', from: peer(9), oid: 2, keys: [{ name: '0008', size: 12, sha256: OTHER_SHA }] });
  const [fresh] = c.sentOf('key-want', next);
  assert.deepEqual(fresh?.msg.refused, [], 'other bytes under the name are not the deleted copy');
  assert.deepEqual(c.sentOf('key-delete', next), []);
});

test('the tombstone outlives a restart (start\'s deleted names) and ends after TOMBSTONE_TTL_MS of the peer\'s own clock', async () => {
  const { TOMBSTONE_TTL_MS } = await import('../src/core/storage/key-store.js');
  const c = new HandCore({ id: 8, ring: RING, deleted: [{ name: '0008', sha256: SHA, at: 0 }], config: { replicas: 3 } });
  c.receive({ type: 'key-offer', from: peer(9), oid: 1, keys: [{ name: '0008', size: 10, sha256: SHA }] });
  assert.deepEqual(c.sentOf('key-want').map((s) => s.msg.refused), [['0008']], 'refused after the restart');
  // a week of virtual time, every timer of it fired: the ring stays in place, and the name is free again
  c.run(TOMBSTONE_TTL_MS + 1);
  const mark = c.sent.length;
  c.receive({ type: 'key-offer', from: peer(9), oid: 2, keys: [{ name: '0008', size: 10, sha256: SHA }] });
  const [want] = c.sentOf('key-want', mark);
  assert.deepEqual([want?.msg.names, want?.msg.refused], [['0008'], []], 'wanted once the tombstone is over');
});

test('at a replica holder: a key-delete is no order; other bytes are ignored, the same bytes are checked with the owner before anything goes', () => {
  const holder = new HandCore({ id: 9, ring: RING, files: [FILE], config: { replicas: 3 } });
  const mark = holder.sent.length;
  holder.receive({ type: 'key-delete', from: peer(8), file: '0008', sha256: OTHER_SHA });
  assert.equal(holder.sent.length, mark, 'other bytes: nothing asked, nothing dropped');
  holder.receive({ type: 'key-delete', from: peer(8), file: '0008', sha256: SHA });
  assert.ok(holder.disk.has('0008'), 'not dropped on the sender\'s word');
  assert.ok(holder.sent.length > mark, 'the holder asks the ring who owns the key');
  assert.ok(!holder.effects.some((e) => e.kind === 'delete-file'));
});
