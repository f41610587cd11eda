// Holds queries and deletes in the core alone (no sockets, no clock): who is answered, what the
// answer tells, and who may delete a name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import { defaultContact } from '../src/space.js';
import type { Effect } from '../src/core/effects.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { Message, MessageOf } from '../src/core/messages.js';
import type { Origin } from '../src/core/origin.js';
import { PeerCore } from '../src/core/peer-core.js';
import { HOLDS_BURST } from '../src/core/storage/holds.js';

const SHA = new Uint8Array(32).fill(7);
const publisher: Contact = { id: 2n, host: '127.0.0.1', port: 12002 };

/** Peer 8 with successors 9 and 14, holding 2056 (key 8: its own id, so it owns it) published by Peer 2, and 2312 (key 8 too) with no publisher. */
function core(secure = false): PeerCore {
  const c = new PeerCore({
    self: defaultContact(8n),
    space: SPEC_SPACE,
    mode: { kind: 'init', successors: [defaultContact(9n), defaultContact(14n)] },
    pingIntervalMs: 1000,
    pingMisses: 3,
    random32: () => 7,
    storeId: 'peer-8',
    secure,
    replicas: 3,
  });
  c.handle({ type: 'start', now: 0, files: [{ name: '2056', size: 5, sha256: SHA, publisher }, { name: '2312', size: 6 }] });
  return c;
}

const at = (host: string, authId?: bigint): Origin => ({ via: 'tcp', src: { host, port: 51234 }, ...(authId !== undefined ? { authId } : {}) });
const sends = (effects: Effect[]) => effects.filter((e): e is Extract<Effect, { kind: 'send' }> => e.kind === 'send');
const receive = (c: PeerCore, msg: Message, origin: Origin, now = 10) => c.handle({ type: 'receive', msg, origin, now });

test('a holds reply names the record and the successors, only to the host the query came from (a DNS name too), at most HOLDS_BURST a second', () => {
  const c = core();
  const asker: Contact = { id: 20n, host: '10.1.2.3', port: 40000 };
  const out = sends(receive(c, { type: 'holds-query', from: asker, qid: 5, file: '2056' }, at('10.1.2.3')));
  assert.equal(out.length, 1);
  const reply = out[0]!.msg as MessageOf<'holds-reply'>;
  assert.equal(reply.type, 'holds-reply');
  assert.deepEqual({ size: reply.record?.size, sha: reply.record?.sha256 }, { size: 5, sha: SHA });
  assert.equal(reply.record?.publisher, undefined, 'who published a name is not told');
  assert.deepEqual(reply.successors.map((s) => s.id), [9n, 14n]);
  assert.equal((sends(receive(c, { type: 'holds-query', from: asker, qid: 6, file: '9999' }, at('10.1.2.3')))[0]!.msg as MessageOf<'holds-reply'>).record, undefined);
  // another host than the connection's (a DNS name, or a lie): answered where the connection came
  // from, at the port named, never at the host named (no reflection to a third host)
  const moved = sends(receive(c, { type: 'holds-query', from: asker, qid: 7, file: '2056' }, at('10.9.9.9')));
  assert.deepEqual(moved.map((e) => [e.to.host, e.to.port]), [['10.9.9.9', 40000]]);
  const named = sends(receive(c, { type: 'holds-query', from: { id: 21n, host: 'cdht-4', port: 7000 }, qid: 8, file: '2056' }, at('10.213.7.4')));
  assert.deepEqual(named.map((e) => [e.to.host, e.to.port, (e.msg as MessageOf<'holds-reply'>).qid]), [['10.213.7.4', 7000, 8]]);
  let answered = 0;
  for (let q = 0; q < HOLDS_BURST + 50; q++) answered += sends(receive(c, { type: 'holds-query', from: asker, qid: q, file: '2056' }, at('10.1.2.3'), 5_000)).length;
  assert.equal(answered, HOLDS_BURST);
});

test('a private ring answers a holds query only over a certificate', () => {
  const c = core(true);
  const asker: Contact = { id: 20n, host: '10.1.2.3', port: 40000 };
  assert.deepEqual(sends(receive(c, { type: 'holds-query', from: asker, qid: 5, file: '2056' }, at('10.1.2.3'))), []);
  assert.equal(sends(receive(c, { type: 'holds-query', from: asker, qid: 5, file: '2056' }, at('10.1.2.3', 20n))).length, 1);
});

test('open ring: a delete by the publisher is confirmed at its own address first; anyone else is forbidden', () => {
  const c = core();
  const other: Contact = { id: 4n, host: '127.0.0.1', port: 12004 };
  const refused = sends(receive(c, { type: 'delete-request', from: other, qid: 1, file: '2056', nonce: 0 }, at('127.0.0.1')));
  assert.equal((refused[0]!.msg as MessageOf<'delete-reply'>).result, 'forbidden');
  // no publisher recorded (a file found in the folder): nobody may delete it
  assert.equal((sends(receive(c, { type: 'delete-request', from: publisher, qid: 2, file: '2312', nonce: 0 }, at('127.0.0.1')))[0]!.msg as MessageOf<'delete-reply'>).result, 'forbidden');
  // the publisher's own request: the owner asks the recorded address to confirm, and deletes nothing yet
  const asked = receive(c, { type: 'delete-request', from: publisher, qid: 3, file: '2056', nonce: 0 }, at('127.0.0.1'));
  const confirm = sends(asked).find((s) => s.msg.type === 'delete-confirm')!;
  assert.deepEqual(confirm.to, publisher);
  assert.ok(!asked.some((e) => e.kind === 'delete-file'));
  const nonce = (confirm.msg as MessageOf<'delete-confirm'>).nonce;
  // a guessed nonce deletes nothing; the one sent does
  assert.ok(!receive(c, { type: 'delete-request', from: publisher, qid: 3, file: '2056', nonce: nonce + 1 }, at('127.0.0.1')).some((e) => e.kind === 'delete-file'));
  const done = receive(c, { type: 'delete-request', from: publisher, qid: 3, file: '2056', nonce }, at('127.0.0.1'));
  assert.ok(done.some((e) => e.kind === 'delete-file' && e.name === '2056'));
  assert.ok(done.some((e) => e.kind === 'remember' && e.name === '2056' && e.deleted));
  assert.equal(sends(done).filter((s) => s.msg.type === 'key-delete').length, 2, 'both replica holders are told');
  // now the name is buried: its holds reply says so, with the bytes' hash
  const reply = sends(receive(c, { type: 'holds-query', from: other, qid: 9, file: '2056' }, at('127.0.0.1')))[0]!.msg as MessageOf<'holds-reply'>;
  assert.deepEqual(reply.deleted, SHA);
  assert.equal(reply.record, undefined);
});

test('private ring: only the publisher\'s certificate deletes, at once', () => {
  const c = core(true);
  const forged = receive(c, { type: 'delete-request', from: publisher, qid: 1, file: '2056', nonce: 0 }, at('127.0.0.1', 4n));
  assert.equal((sends(forged)[0]!.msg as MessageOf<'delete-reply'>).result, 'forbidden', 'naming the publisher is not enough');
  const done = receive(c, { type: 'delete-request', from: publisher, qid: 2, file: '2056', nonce: 0 }, at('127.0.0.1', 2n));
  assert.ok(done.some((e) => e.kind === 'delete-file'));
  assert.equal((sends(done).find((s) => s.msg.type === 'delete-reply')!.msg as MessageOf<'delete-reply'>).result, 'deleted');
});
