// Unit tests of the decisions in src/core/storage/transfers.ts (with replication.ts's wants), through
// one PeerCore driven by hand: which incoming copies a peer takes, and what it checks them against.
// A replica comes only under the id of a want this peer sent, from the peer it asked, with the size
// and bytes offered; a stored name never changes; a store or a request nobody accepted is refused.
// An in-memory disk, a clock moved by hand, no sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FileBegin } from '../src/core/messages.js';
import { HandCore, over, peer } from './helpers/hand-core.js';

const RING = [2, 4, 5, 8, 9, 14, 19];
const SHA = new Uint8Array(32).fill(3);
const BAD = new Uint8Array(32).fill(4);
/** Key 5 is Peer 5's; with k = 3 its copies are kept by 5, 8 and 9. */
const RECORD = { name: '0005', size: 100, sha256: SHA };

/** Peer 8 (k = 3) after Peer 5 offered it 0005: the want id it answered with. */
function offered(): { c: HandCore; wid: number } {
  const c = new HandCore({ id: 8, ring: RING, config: { replicas: 3 } });
  c.receive({ type: 'key-offer', from: peer(5), oid: 1, keys: [RECORD] });
  const [want] = c.sentOf('key-want');
  assert.deepEqual([want?.msg.names, want?.msg.refused], [['0005'], []], 'Peer 8 wants the replica');
  return { c, wid: want!.msg.wid };
}

const replica = (over: Partial<FileBegin> & { rid: number }): FileBegin => ({ type: 'file-begin', from: peer(5), file: '0005', purpose: 'replica', size: 100, ...over });

test('a replica under the want\'s id, from the peer asked, is taken and checked against the offered bytes; then it is held, and a second copy is refused', () => {
  const { c, wid } = offered();
  assert.equal(c.fileArrives(replica({ rid: wid + 1 }), SHA), undefined, 'an id nobody was given');
  assert.equal(c.fileArrives(replica({ rid: wid, from: peer(9) }), SHA), undefined, 'another peer under the id');
  assert.equal(c.fileArrives(replica({ rid: wid, size: 101 }), SHA), undefined, 'another size than offered');
  assert.equal(c.fileArrives(replica({ rid: wid, sha256: BAD }), SHA), undefined, 'a header naming other bytes');
  const taken = c.fileArrives(replica({ rid: wid }), SHA);
  assert.deepEqual([taken?.saveAs, taken?.sha256, taken?.keep], ['0005.pdf', SHA, true], 'saved under the name, checked against the offer');
  assert.ok(c.disk.has('0005'));
  // held now: the same name again, even offered anew, is no copy to take
  const mark = c.sent.length;
  c.receive({ type: 'key-offer', from: peer(5), oid: 2, keys: [RECORD] });
  assert.deepEqual(c.sentOf('key-want', mark).map((s) => s.msg.names), [[]], 'not wanted again');
  assert.equal(c.fileArrives(replica({ rid: wid }), SHA), undefined, 'a stored name never changes');
});

test('a replica whose bytes did not match goes back into its want: the offerer\'s retry under the same id is taken', () => {
  const { c, wid } = offered();
  const first = c.fileArrives(replica({ rid: wid }), BAD);
  assert.ok(first, 'taken at its header');
  assert.ok(!c.disk.has('0005'), 'the wrong bytes are not kept');
  const again = c.fileArrives(replica({ rid: wid }), SHA);
  assert.ok(again, 'the retry is taken');
  assert.ok(c.disk.has('0005'));
});

/** Peer 14 (k = 3) offered 0005 by Peer 5, upstream of its second predecessor (8): its question to 8. */
function upstreamOffer(): { c: HandCore; query: { qid: number; to: number } } {
  const c = new HandCore({ id: 14, ring: RING, config: { replicas: 3 } });
  c.receive({ type: 'key-offer', from: peer(5), oid: 1, keys: [RECORD] });
  assert.deepEqual(c.sentOf('key-want'), [], 'nothing wanted on the offerer\'s word');
  const [q] = c.sentOf('holds-query');
  assert.equal(q?.msg.file, '0005');
  return { c, query: { qid: q!.msg.qid, to: Number((q!.to as { id: bigint }).id) } };
}

test('a copy offered from beyond the second predecessor is taken only if that predecessor holds the very bytes', () => {
  const no = upstreamOffer();
  assert.equal(no.query.to, 8, 'the second predecessor is asked');
  no.c.receive({ type: 'holds-reply', from: peer(8), qid: no.query.qid, file: '0005', record: { ...RECORD, sha256: BAD }, successors: [peer(9), peer(14)] });
  assert.deepEqual(no.c.sentOf('key-want').map((s) => [s.msg.names, s.msg.refused]), [[[], ['0005']]], 'other bytes at 8: refused');
  const yes = upstreamOffer();
  yes.c.receive({ type: 'holds-reply', from: peer(8), qid: yes.query.qid, file: '0005', record: RECORD, successors: [peer(9), peer(14)] });
  assert.deepEqual(yes.c.sentOf('key-want').map((s) => [s.msg.names, s.msg.refused]), [[['0005'], []]], 'the same bytes at 8: wanted');
});

test('a stored copy nobody accepted a store for, and a requested copy nobody requested, are refused', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { replicas: 3 } });
  assert.equal(c.fileArrives({ type: 'file-begin', from: peer(5), file: '0007', purpose: 'store', rid: 1, size: 10 }, SHA), undefined);
  assert.equal(c.fileArrives({ type: 'file-begin', from: peer(9), file: '0009', purpose: 'request', rid: 1, size: 10 }, SHA), undefined);
  assert.equal(c.disk.size, 0);
});

test('a forged sender is refused on a private ring: the header names Peer 5, the certificate Peer 9', () => {
  const c = new HandCore({ id: 8, ring: RING, config: { replicas: 3, secure: true } });
  c.receive({ type: 'key-offer', from: peer(5), oid: 1, keys: [RECORD] }, { ...over(peer(5)), authId: 5n });
  const wid = c.sentOf('key-want')[0]!.msg.wid;
  assert.equal(c.fileArrives(replica({ rid: wid }), SHA, { ...over(peer(5)), authId: 9n }), undefined);
  assert.ok(c.fileArrives(replica({ rid: wid }), SHA, { ...over(peer(5)), authId: 5n }), 'Peer 5 itself');
});
