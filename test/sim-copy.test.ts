// The simulator's message copy (codec off) gives what structuredClone gives, for every shape a
// message has, and refuses what structuredClone refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyMessage } from '../src/transport/sim/copy.js';

const contact = (n: number) => ({ id: BigInt(n) * 0x9e3779b97f4a7c15n, host: '127.0.0.1', port: 20_000 + n });

/** The same data, and the same sharing and buffer layout, as structuredClone's copy. */
function sameAsStructuredClone(value: unknown): void {
  const mine = copyMessage(value);
  const theirs = structuredClone(value);
  assert.deepStrictEqual(mine, theirs);
  assert.notEqual(mine, value === null || typeof value !== 'object' ? {} : value);
}

test('messages copy as structuredClone copies them', () => {
  const from = contact(1);
  const sha = Buffer.from('0123456789abcdef0123456789abcdef'); // a pooled Buffer: offset into a shared buffer
  sameAsStructuredClone({ type: 'ping', from, seq: 5, role: 1, loud: false, pred: contact(2) });
  sameAsStructuredClone({ type: 'pong', from, seq: 5, loud: true, successors: [contact(2), contact(3)], pred: undefined });
  sameAsStructuredClone({ type: 'lookup', origin: from, key: 77n, lid: 3, final: false, hops: 2, path: [1n, 2n] });
  sameAsStructuredClone({ type: 'file-begin', from, file: '0042', rid: 1, purpose: 'request', size: 9, sha256: sha });
  sameAsStructuredClone({ type: 'file-data', chunk: new Uint8Array([1, 2, 3]) });
  sameAsStructuredClone({ type: 'key-offer', from, oid: 1, keys: [{ name: 'a', sha256: sha.subarray(0, 8) }, { name: 'b', sha256: sha.subarray(8) }] });
  sameAsStructuredClone(Object.assign(Object.create(null) as object, { a: 1, b: [, 2] }));
  sameAsStructuredClone({ when: new Date(0), seen: new Map([[1, 'x']]) });
});

test('a message copy is a plain Uint8Array over a copy of the whole buffer, at the same offset', () => {
  const sha = Buffer.from('an offset into the Buffer pool');
  const msg = { a: sha, b: sha.subarray(3), c: sha };
  const mine = copyMessage(msg);
  const theirs = structuredClone(msg);
  for (const [m, t] of [
    [mine.a, theirs.a],
    [mine.b, theirs.b],
  ] as const) {
    assert.equal(Object.getPrototypeOf(m), Object.getPrototypeOf(t));
    assert.equal(m.byteOffset, t.byteOffset);
    assert.equal(m.buffer.byteLength, t.buffer.byteLength);
  }
  assert.notEqual(mine.a.buffer, sha.buffer);
  assert.equal(mine.a.buffer, mine.b.buffer);
  assert.equal(mine.a, mine.c);
  sha[0] = 0;
  assert.notEqual(mine.a[0], 0);
});

test('shared objects and cycles stay shared', () => {
  const from = contact(1);
  const msg: Record<string, unknown> = { type: 'pong', from, pred: from, successors: [from] };
  msg['self'] = msg;
  const mine = copyMessage(msg);
  assert.equal(mine['from'], mine['pred']);
  assert.equal((mine['successors'] as unknown[])[0], mine['from']);
  assert.equal(mine['self'], mine);
  assert.notEqual(mine['from'], from);
});

test('what structuredClone refuses, the copy refuses the same way', () => {
  for (const bad of [{ f: () => 1 }, { s: Symbol('x') }]) {
    assert.throws(
      () => copyMessage(bad),
      (err: unknown) => {
        assert.throws(() => structuredClone(bad), { name: (err as Error).name, message: (err as Error).message });
        return true;
      },
    );
  }
});
