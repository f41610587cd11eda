// Link frames (byte-exact fixtures, strict decoding) and the frame splitter the transport reads
// with: partial frames grow with what arrives, file-data streams through as views, release()
// lets go of everything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorCode } from '../src/core/errors.js';
import type { Message } from '../src/core/messages.js';
import { mulberry32 } from '../src/util/prng.js';
import {
  decodeBytes,
  decodeFrame,
  decodeLink,
  decodeSealed,
  encodeFrame,
  encodeLink,
  encodeSealedHeader,
  fileDataHeader,
  FrameDecoder,
  FrameSplitter,
  isLinkCode,
  messageCode,
  type FrameSink,
  type LinkFrame,
} from '../src/wire/index.js';
import { concat, hex } from './helpers/bytes.js';

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

const FIXTURES: Array<{ name: string; frame: LinkFrame; bytes: string }> = [
  { name: 'hello', frame: { type: 'hello' }, bytes: '00000002 02 40' },
  { name: 'ack 5', frame: { type: 'ack', count: 5 }, bytes: '00000006 02 41 00000005' },
  { name: 'ack at the wrap', frame: { type: 'ack', count: 0xffffffff }, bytes: '00000006 02 41 ffffffff' },
  { name: 'goaway', frame: { type: 'goaway' }, bytes: '00000002 02 42' },
  { name: 'refuse', frame: { type: 'refuse', reason: 'too big' }, bytes: '0000000b 02 43 0007 746f6f20626967' },
  { name: 'refuse, empty reason', frame: { type: 'refuse', reason: '' }, bytes: '00000004 02 43 0000' },
];

test('link frames encode to the fixtures byte for byte and decode back', () => {
  for (const f of FIXTURES) {
    assert.equal(toHex(encodeLink(f.frame)), f.bytes.replace(/\s+/g, ''), f.name);
    const d = decodeLink(hex(f.bytes));
    assert.ok(d.ok, f.name);
    assert.deepEqual(d.frame, f.frame, f.name);
  }
});

test('link codes sit in 64..79, apart from every message code', () => {
  const types: Message['type'][] = ['ping', 'pong', 'join', 'join-accept', 'join-reject', 'successor-change', 'depart', 'depart-ack', 'successor-query', 'successor-reply', 'store', 'store-accepted', 'file-request', 'file-missing', 'file-begin', 'file-data', 'file-end'];
  for (const t of types) assert.equal(isLinkCode(messageCode(t)), false, t);
  for (const f of FIXTURES) assert.equal(isLinkCode(encodeLink(f.frame)[5]!), true, f.name);
  // The message codec refuses link frames: they can never reach the core by mistake.
  const d = decodeFrame(encodeLink({ type: 'ack', count: 1 }));
  assert.equal(d.ok, false);
  if (!d.ok) assert.equal(d.error.code, 'CDHT_ERR_UNKNOWN_TYPE');
});

function failsWith(bytes: string, code: ErrorCode): void {
  const d = decodeLink(hex(bytes));
  assert.equal(d.ok, false, bytes);
  if (!d.ok) assert.equal(d.error.code, code, `${bytes}: ${d.error.message}`);
}

test('link decoding is strict: version 2 only, known codes, exact lengths', () => {
  failsWith('00000002 01 40', 'CDHT_ERR_BAD_VERSION');
  failsWith('00000002 02 4f', 'CDHT_ERR_UNKNOWN_TYPE');
  failsWith('00000003 02 40 00', 'CDHT_ERR_BAD_PAYLOAD'); // hello carries nothing
  failsWith('00000005 02 41 000000', 'CDHT_ERR_BAD_PAYLOAD'); // ack needs 4 bytes
  failsWith('00000006 02 41 00000005 00', 'CDHT_ERR_BAD_PAYLOAD'); // a byte after the frame
  failsWith('00000007 02 41 00000005', 'CDHT_ERR_FRAME_TRUNCATED');
  failsWith('00000006 02 43 0005 6162', 'CDHT_ERR_BAD_PAYLOAD'); // reason shorter than its length
  failsWith('0000', 'CDHT_ERR_FRAME_TRUNCATED');
  const sealedOnLink = encodeSealedHeader(new Uint8Array(8), 1, 16);
  assert.equal(decodeLink(new Uint8Array([...sealedOnLink, ...new Uint8Array(16)])).ok, false);
});

test('a sealed frame: header fixture (the AEAD associated data) and its parts', () => {
  const keyId = hex('0102030405060708');
  const head = encodeSealedHeader(keyId, 1, 20);
  assert.equal(toHex(head), '00000026024401020304050607080000000000000001');
  const body = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);
  const d = decodeSealed(new Uint8Array([...head, ...body]));
  assert.ok(d.ok);
  assert.deepEqual(d.parts.keyId, keyId);
  assert.equal(d.parts.counter, 1);
  assert.deepEqual(d.parts.aad, head);
  assert.deepEqual(d.parts.ciphertext, body.subarray(0, 4));
  assert.deepEqual(d.parts.tag, body.subarray(4));
  assert.equal(decodeSealed(head).ok, false, 'no room for a tag');
  assert.equal(decodeSealed(encodeFrame({ type: 'depart-ack', from: { id: 1n, host: 'h', port: 1 } })).ok, false, 'a plain frame is not sealed');
  assert.throws(() => encodeSealedHeader(new Uint8Array(7), 1, 20), { code: 'CDHT_ERR_BAD_PAYLOAD' });
});

test('fileDataHeader plus the chunk is exactly the encoded file-data frame', () => {
  const chunk = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  assert.deepEqual(new Uint8Array([...fileDataHeader(chunk.length), ...chunk]), encodeFrame({ type: 'file-data', chunk }));
  assert.throws(() => fileDataHeader(0), { code: 'CDHT_ERR_BAD_PAYLOAD' });
});

/** Records what a splitter hands out (copies, so later pushes cannot change them). */
interface Collected extends FrameSink {
  frames: Array<{ bytes: Uint8Array; owned: boolean }>;
  pieces: Array<{ bytes: Uint8Array; last: boolean }>;
  errors: string[];
}
function collector(): Collected {
  const c: Collected = {
    frames: [],
    pieces: [],
    errors: [],
    frame: (bytes, owned) => c.frames.push({ bytes: bytes.slice(), owned }),
    data: (_code, bytes, last) => c.pieces.push({ bytes: bytes.slice(), last }),
    broken: (error) => c.errors.push(error.code),
  };
  return c;
}

const FILE_DATA = messageCode('file-data');

test('a partial frame is held in a buffer that grows with what arrived, not the announced size', () => {
  const s = new FrameSplitter({ maxFrameBytes: 64 * 1024 });
  const frame = encodeFrame({ type: 'join-reject', from: { id: 1n, host: 'h', port: 1 }, reason: 'x'.repeat(500) });
  const c = collector();
  // Announce 60 KiB, send 10 bytes: far less than 60 KiB is held.
  const big = new Uint8Array(60 * 1024);
  new DataView(big.buffer).setUint32(0, big.length - 4);
  big[4] = 2;
  big[5] = 5;
  s.push(big.subarray(0, 10), c);
  assert.ok(s.heldBytes <= 4096 + 6, `held ${s.heldBytes}`);
  s.push(big.subarray(10, 20_000), c);
  assert.ok(s.heldBytes < 2 * 20_000, `held ${s.heldBytes} for 20000 bytes`);
  s.release();
  assert.equal(s.heldBytes, 0);
  assert.equal(s.buffered, 0);
  s.push(frame, c);
  assert.equal(c.frames.length, 0, 'nothing is delivered after release');

  const t = new FrameSplitter({ maxFrameBytes: 64 * 1024 });
  for (let i = 0; i < frame.length; i++) t.push(frame.subarray(i, i + 1), c);
  assert.equal(c.frames.length, 1);
  assert.deepEqual(c.frames[0]!.bytes, frame);
  assert.equal(t.heldBytes, 0);
});

test('a frame over the connection limit fails on its length prefix alone', () => {
  const s = new FrameSplitter({ maxFrameBytes: 64 * 1024 });
  const c = collector();
  s.push(hex('00010000'), c); // 65540 bytes in all: 4 over
  assert.deepEqual(c.errors, ['CDHT_ERR_FRAME_TOO_LARGE']);
  assert.equal(s.failed, true);
  assert.equal(s.heldBytes, 0);
  // Exactly at the limit is fine.
  const ok = new FrameSplitter({ maxFrameBytes: 64 * 1024 });
  ok.push(hex('0000fffc 02 10'), c);
  assert.equal(ok.failed, false);
});

test('file-data payloads stream through as views of the pushed bytes, in any chunking', () => {
  const rand = mulberry32(7);
  const chunks = Array.from({ length: 6 }, (_, i) => Uint8Array.from({ length: 150_000 + i }, () => Math.floor(rand() * 256)));
  const end: Message = { type: 'file-end', sha256: new Uint8Array(32).fill(9) };
  const stream = concat([...chunks.map((chunk) => encodeFrame({ type: 'file-data', chunk })), encodeFrame(end)]);
  for (const step of [1, 7, 4096, 65536, stream.length]) {
    const s = new FrameSplitter({ maxFrameBytes: 64 * 1024, streamCodes: [FILE_DATA], maxStreamedFrameBytes: 1 << 20 });
    const c = collector();
    let maxHeld = 0;
    for (let at = 0; at < stream.length; at += step) {
      s.push(stream.subarray(at, at + step), c);
      maxHeld = Math.max(maxHeld, s.heldBytes);
    }
    assert.ok(maxHeld <= 4096 + 6, `step ${step}: streamed bytes are not held (held ${maxHeld})`);
    const got: Uint8Array[] = [];
    let current: Uint8Array[] = [];
    for (const p of c.pieces) {
      current.push(p.bytes);
      if (p.last) {
        got.push(concat(current));
        current = [];
      }
    }
    assert.deepEqual(got, chunks, `step ${step}`);
    assert.equal(c.frames.length, 1);
    const d = decodeBytes(c.frames[0]!.bytes, true);
    assert.ok(d.ok);
    assert.deepEqual(d.msg, end);
  }
  // A piece is a view into the caller's bytes: nothing was copied on the way.
  const s = new FrameSplitter({ maxFrameBytes: 64 * 1024, streamCodes: [FILE_DATA], maxStreamedFrameBytes: 1 << 20 });
  const input = encodeFrame({ type: 'file-data', chunk: chunks[0]! });
  let view: Uint8Array | undefined;
  s.push(input, { frame() {}, data: (_c, b) => (view = b), broken() {} });
  assert.equal(view?.buffer, input.buffer);
});

test('streaming stops at its own limit; other large frames still fail', () => {
  const s = new FrameSplitter({ maxFrameBytes: 64 * 1024, streamCodes: [FILE_DATA], maxStreamedFrameBytes: 1 << 20 });
  const c = collector();
  s.push(hex('00100000 02 10'), c); // 1 MiB + 4 in all
  assert.deepEqual(c.errors, ['CDHT_ERR_FRAME_TOO_LARGE']);
  const t = new FrameSplitter({ maxFrameBytes: 64 * 1024, streamCodes: [FILE_DATA], maxStreamedFrameBytes: 1 << 20 });
  t.push(hex('00080000 02 03'), c); // a 512 KiB join is not streamed
  assert.deepEqual(c.errors, ['CDHT_ERR_FRAME_TOO_LARGE', 'CDHT_ERR_FRAME_TOO_LARGE']);
});

test('FrameDecoder.release drops a partial frame for good', () => {
  const d = new FrameDecoder();
  const frame = encodeFrame({ type: 'depart-ack', from: { id: 3n, host: '127.0.0.1', port: 12003 } });
  assert.deepEqual(d.push(frame.subarray(0, 5)), []);
  assert.equal(d.buffered, 5);
  d.release();
  assert.equal(d.buffered, 0);
  assert.deepEqual(d.push(frame), []);
});

test('random and mutated bytes never throw from the link decoders or a streaming splitter', () => {
  const rand = mulberry32(Number(process.env.SEED ?? 0x11c));
  const valid = [...FIXTURES.map((f) => hex(f.bytes)), concat([encodeSealedHeader(hex('0102030405060708'), 9, 20), new Uint8Array(20)])];
  const splitter = new FrameSplitter({ maxFrameBytes: 64 * 1024, streamCodes: [FILE_DATA], maxStreamedFrameBytes: 1 << 20 });
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    let b: Uint8Array;
    if (i % 2 === 0) {
      b = Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256));
    } else {
      b = valid[i % valid.length]!.slice();
      b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    }
    const d = decodeLink(b);
    if (d.ok) {
      decoded++;
      assert.equal(toHex(encodeLink(d.frame)), toHex(b), 'an accepted link frame re-encodes to the same bytes');
    }
    assert.doesNotThrow(() => decodeSealed(b));
    assert.doesNotThrow(() => splitter.push(b, { frame() {}, data() {}, broken() {} }));
  }
  assert.ok(decoded > 0, 'some mutations still decode');
});
