// The wire layer's small caches and its lazily named errors: a hit gives the very value a decode
// would, a flood of new values cannot grow them, and a refused frame says what it always said.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFrame, encodeFrame } from '../src/wire/index.js';
import { Reader, TextCache } from '../src/wire/primitives.js';
import type { Message } from '../src/core/messages.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

test('TextCache: a hit is the string decoded before; a flood of new strings keeps it at its bound', () => {
  const cache = new TextCache(4);
  const bytes = utf8('127.0.0.1');
  const first = new Reader(bytes, 0, 2, false).text(bytes.length, 'host', undefined, cache);
  assert.equal(first, '127.0.0.1');
  assert.equal(cache.size, 1);
  assert.equal(cache.find(bytes, 0, bytes.length), '127.0.0.1');
  for (let i = 0; i < 10_000; i++) {
    const b = utf8(`10.0.${i >> 8}.${i & 0xff}`);
    assert.equal(new Reader(b, 0, 2, false).text(b.length, 'host', undefined, cache), `10.0.${i >> 8}.${i & 0xff}`);
    assert.ok(cache.size <= 4);
  }
  // same length, other bytes: no false hit
  assert.equal(cache.find(utf8('127.0.0.2'), 0, 9), undefined);
  // malformed UTF-8 is refused with its sentence, cached or not, and is not kept
  const broken = Uint8Array.of(0x61, 0xc3);
  assert.throws(() => new Reader(broken, 0, 2, false).text(2, 'from', ' host', cache), { message: 'from host is not valid UTF-8' });
  assert.equal(cache.find(broken, 0, 2), undefined);
});

test('contacts decoded again and again, and many distinct ones, decode to the values sent', () => {
  for (let i = 0; i < 3000; i++) {
    const host = i % 2 ? `h${i}.example` : '127.0.0.1';
    const from = { id: BigInt(i) * 0x1_0000_0001n, host, port: 1 + (i % 65535) };
    const msg: Message = { type: 'ping', from, seq: i, role: 1, loud: false };
    const d = decodeFrame(encodeFrame(msg));
    assert.ok(d.ok);
    assert.deepEqual(d.msg, msg);
  }
});

test('a truncated or bad contact is refused with the sentence it always had', () => {
  const frame = encodeFrame({ type: 'ping', from: { id: 0x1234n, host: 'ab', port: 7 }, seq: 1, role: 1, loud: false });
  // payload: u8 2 | 12 34 | 00 07 | 02 | 61 62 | seq ...
  const cut = (n: number): string => {
    const f = frame.slice(0, 6 + n);
    new DataView(f.buffer).setUint32(0, f.length - 4);
    const d = decodeFrame(f);
    assert.ok(!d.ok);
    return d.error.message;
  };
  assert.equal(cut(0), 'payload too short: from id length needs 1 bytes, 0 left');
  assert.equal(cut(2), 'payload too short: from id needs 2 bytes, 1 left');
  assert.equal(cut(4), 'payload too short: from port needs 2 bytes, 1 left');
  assert.equal(cut(5), 'payload too short: from host length needs 1 bytes, 0 left');
  assert.equal(cut(7), 'payload too short: from host needs 2 bytes, 1 left');
  const bad = (patch: (f: Uint8Array) => void): string => {
    const f = frame.slice();
    patch(f);
    const d = decodeFrame(f);
    assert.ok(!d.ok);
    return d.error.message;
  };
  assert.equal(bad((f) => (f[7] = 0)), 'from id has a leading zero byte');
  assert.equal(bad((f) => (f[6] = 21)), 'from id of 21 bytes exceeds 20');
  assert.equal(bad((f) => f.set([0, 0], 9)), 'from port must be 1..65535');
  assert.equal(bad((f) => (f[11] = 0)), 'from host must not be empty');
  assert.equal(bad((f) => (f[12] = 0xff)), 'from host is not valid UTF-8');
});

test('frames encoded one after another in the kept buffer are each whole and unchanged by the next', () => {
  const a = encodeFrame({ type: 'ping', from: { id: 1n, host: 'a', port: 1 }, seq: 1, role: 1, loud: false });
  const copy = a.slice();
  const long = { id: 2n ** 150n, host: 'x'.repeat(255), port: 2 };
  const b = encodeFrame({ type: 'pong', from: long, seq: 2, loud: true, successors: Array(8).fill(long) });
  assert.deepEqual(a, copy);
  assert.equal(b.length, new DataView(b.buffer, b.byteOffset).getUint32(0) + 4);
  const big = encodeFrame({ type: 'file-data', chunk: new Uint8Array(100_000).fill(7) });
  assert.equal(big.length, 100_006);
  assert.deepEqual(encodeFrame({ type: 'ping', from: { id: 1n, host: 'a', port: 1 }, seq: 1, role: 1, loud: false }), copy);
});
