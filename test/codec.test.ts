// The wire codec: round trips of every message, byte-exact fixtures that pin the layout, the
// stream decoder under any chunking, and untrusted bytes that must never throw.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeFrame, encodeFrame, FrameDecoder, MAX_FRAME_BYTES, WIRE_VERSION, type Decoded } from '../src/wire/index.js';
import type { Message } from '../src/core/messages.js';
import { LocalProtocolError, RemoteProtocolError, type ErrorCode } from '../src/core/errors.js';
import { mulberry32 } from '../src/util/prng.js';
import { concat, hex } from './helpers/bytes.js';

const SEED = Number(process.env.SEED ?? 0xc0dec);


function randomInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = randomInt(rand, 0, 255);
  return b;
}


/** Prepends the u32 length prefix to version + type + payload given in hex. */
function framed(body: string): Uint8Array {
  const b = hex(body);
  const out = new Uint8Array(4 + b.length);
  new DataView(out.buffer).setUint32(0, b.length);
  out.set(b, 4);
  return out;
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}


function ok(d: Decoded): Message {
  if (!d.ok) assert.fail(`expected ok, got ${d.error.code}: ${d.error.message}`);
  return d.msg;
}

function failsWith(d: Decoded, code: ErrorCode): void {
  assert.equal(d.ok, false, 'expected a decode error');
  if (!d.ok) {
    assert.equal(d.error.code, code, d.error.message);
    assert.ok(!d.error.message.includes('\n'), 'error message is one line');
  }
}

const A = { id: 5n, host: '127.0.0.1', port: 12005 };
const B = { id: 255n, host: 'peer-b.example', port: 65535 };
const C = { id: 0n, host: 'ünïcødé-host', port: 1 };
const SHA = Uint8Array.from({ length: 32 }, (_, i) => i);

/** At least one message of every type, with edge values. */
const SAMPLES: Message[] = [
  { type: 'ping', from: A, seq: 0, role: 1, loud: false },
  { type: 'ping', from: B, seq: 0xffffffff, role: 2, loud: true },
  { type: 'ping', from: C, seq: 9, role: 0, loud: false },
  { type: 'pong', from: A, seq: 42, loud: true, successors: [B, C], pred: C },
  { type: 'pong', from: A, seq: 43, loud: false, successors: [] },
  { type: 'join', joiner: C, hops: 0 },
  { type: 'join', joiner: B, hops: 0xffff },
  { type: 'join-accept', from: B, successors: Array.from({ length: 8 }, (_, i) => ({ id: BigInt(i), host: 'h', port: 100 + i })) },
  { type: 'join-reject', from: A, reason: 'ring full: 🙂 try later' },
  { type: 'join-reject', from: A, reason: '' },
  { type: 'successor-change', from: A, successors: [B] },
  { type: 'depart', from: C, successors: [A, B] },
  { type: 'depart-ack', from: B },
  { type: 'successor-query', from: A, qid: 123456789 },
  { type: 'successor-reply', from: B, qid: 7, successors: [C] },
  { type: 'store', origin: A, file: '0000', final: true, hops: 3 },
  { type: 'store-accepted', from: B, file: '2012', storeId: 'data/peer-255/ünï' },
  { type: 'store-accepted', from: B, file: '2013', storeId: '' },
  { type: 'file-request', requester: C, file: '9999', rid: 1, final: false, hops: 300, fallback: 0 },
  { type: 'file-missing', from: A, file: '0420', rid: 99 },
  { type: 'file-begin', from: A, file: '1234', rid: 0, purpose: 'store', size: 0 },
  { type: 'file-begin', from: B, file: '4321', rid: 5, purpose: 'request', size: Number.MAX_SAFE_INTEGER },
  { type: 'file-data', chunk: Uint8Array.of(7) },
  { type: 'file-data', chunk: randomBytes(mulberry32(1), 64 * 1024) },
  { type: 'file-end', sha256: SHA },
  { type: 'file-request', requester: A, file: 'name with spaces.txt', rid: 2, final: true, hops: 1, fallback: 255 },
  { type: 'file-begin', from: B, file: 'photo.jpg', rid: 77, purpose: 'replica', size: 12 },
  { type: 'lookup', origin: A, key: 0n, lid: 1, final: false, hops: 0 },
  { type: 'lookup', origin: A, key: 77n, lid: 2, final: true, hops: 2, path: [5n, 9n] },
  { type: 'lookup-reply', from: C, lid: 2, hops: 2, successors: [A], path: [5n, 9n, 2n ** 160n - 1n] },
  { type: 'lookup', origin: B, key: 2n ** 160n - 1n, lid: 0xffffffff, final: true, hops: 65535 },
  { type: 'lookup-reply', from: C, lid: 3, hops: 7, successors: Array.from({ length: 32 }, (_, i) => ({ id: BigInt(i) << 100n, host: 'h', port: 100 + i })) },
  { type: 'key-offer', from: A, oid: 5, keys: [{ name: '2067', size: 0 }, { name: 'ünï.pdf', size: Number.MAX_SAFE_INTEGER, sha256: SHA }] },
  { type: 'key-offer', from: A, oid: 6, keys: [] },
  { type: 'key-want', from: B, oid: 5, wid: 0xfedcba98, names: ['2067', 'ünï.pdf'], refused: [] },
  { type: 'key-want', from: B, oid: 6, wid: 1, names: [], refused: ['0042', 'notes.txt'] },
  { type: 'file-begin', from: B, file: 'photo.jpg', rid: 78, purpose: 'replica', size: 12, sha256: SHA },
  // routed messages with an origin proof (a private ring's, version 2 only)
  { type: 'join', joiner: B, hops: 2, proof: { at: 1_700_000_000_123, nonce: 0xffffffff, cert: Uint8Array.of(0x30), sig: new Uint8Array(255).fill(9) } },
  { type: 'store', origin: A, file: '0000', final: false, hops: 3, proof: { at: 0, nonce: 0, cert: new Uint8Array(4096).fill(1), sig: Uint8Array.of(1) } },
  { type: 'file-request', requester: C, file: '9999', rid: 1, final: true, hops: 3, fallback: 2, proof: { at: Number.MAX_SAFE_INTEGER, nonce: 7, cert: SHA, sig: SHA } },
  { type: 'lookup', origin: A, key: 9n, lid: 4, final: false, hops: 1, proof: { at: 5, nonce: 6, cert: SHA, sig: new Uint8Array(64).fill(2) } },
  { type: 'file-busy', from: C, file: '2067', rid: 0xffffffff, retryAfterMs: 0 },
  { type: 'status-query', from: { id: 2n ** 160n - 1n, host: '127.0.0.1', port: 40000 }, qid: 0xffffffff },
  { type: 'status-reply', from: A, qid: 1, bits: 8, phase: 'normal', pred: B, successors: [B, C], keys: 3, bytes: Number.MAX_SAFE_INTEGER, shortOfK: 0, handovers: 0 },
  { type: 'status-reply', from: B, qid: 2, bits: 160, phase: 'joining', successors: [], keys: 0, bytes: 0, handovers: 0 },
  { type: 'status-reply', from: C, qid: 3, bits: 32, phase: 'leaving', successors: Array.from({ length: 32 }, (_, i) => ({ id: BigInt(i), host: 'h', port: 1 + i })), keys: 9, bytes: 10, shortOfK: 9, handovers: 7 },
  { type: 'decommission', from: A, qid: 77 },
  { type: 'decommission-reply', from: B, qid: 77, accepted: true, reason: 'leaving: handing its keys over' },
  { type: 'decommission-reply', from: B, qid: 78, accepted: false, reason: '' },
  { type: 'holds-query', from: A, qid: 9, file: 'Quarterly report (final).txt' },
  { type: 'holds-reply', from: B, qid: 9, file: 'notes.txt', record: { name: 'notes.txt', size: 3, sha256: SHA }, successors: [A, C] },
  { type: 'holds-reply', from: B, qid: 10, file: '2067', successors: [] },
  { type: 'delete-request', from: A, qid: 11, file: 'notes.txt', nonce: 0 },
  { type: 'delete-confirm', from: B, qid: 11, file: 'notes.txt', nonce: 0xfffffffe },
  { type: 'holds-reply', from: B, qid: 12, file: 'gone.txt', successors: [A], deleted: SHA },
  { type: 'delete-reply', from: B, qid: 11, file: 'notes.txt', result: 'forbidden' },
  { type: 'key-delete', from: B, file: 'notes.txt', sha256: SHA },
  { type: 'key-offer', from: A, oid: 7, keys: [{ name: 'a.txt', size: 1, sha256: SHA, publisher: C }, { name: 'b.txt', size: 2, publisher: B }] },
  { type: 'key-offer', from: A, oid: 8, keys: [{ name: 'c.txt', size: 3, sha256: SHA }], leaving: true },
];

/** Whether a message can be written in wire version 1 (the first release's types and fields). */
function inV1(m: Message): boolean {
  if (['lookup', 'lookup-reply', 'key-offer', 'key-want', 'file-busy', 'status-query', 'status-reply', 'decommission', 'decommission-reply', 'holds-query', 'holds-reply', 'delete-request', 'delete-reply', 'key-delete', 'delete-confirm'].includes(m.type)) return false;
  if ('proof' in m && m.proof) return false;
  if (m.type === 'ping' && m.role === 0) return false;
  if (m.type === 'file-request' && (m.fallback !== 0 || !/^\d{4}$/.test(m.file))) return false;
  if (m.type === 'file-begin' && (m.purpose === 'replica' || m.sha256 || !/^\d{4}$/.test(m.file))) return false;
  if ('successors' in m && m.successors.length > 8) return false;
  return true;
}

const ALL_TYPES = [
  'ping', 'pong', 'join', 'join-accept', 'join-reject', 'successor-change', 'depart', 'depart-ack',
  'successor-query', 'successor-reply', 'store', 'store-accepted', 'file-request', 'file-missing',
  'file-begin', 'file-data', 'file-end', 'lookup', 'lookup-reply', 'key-offer', 'key-want', 'file-busy',
  'status-query', 'status-reply', 'decommission', 'decommission-reply',
  'holds-query', 'holds-reply', 'delete-request', 'delete-reply', 'key-delete', 'delete-confirm',
];

test('status and decommission fixtures: byte-exact, version 2 only, strict about phase and bits', () => {
  const from = { id: 1n, host: 'h', port: 2 };
  const query = { type: 'status-query', from, qid: 7 } as Message;
  // len 12 | v2 | type 23 | contact: id len 1, 01, port 2, host len 1, "h" | qid 7
  const queryBytes = '0000000c 02 17 01 01 0002 01 68 00000007';
  assert.equal(toHex(encodeFrame(query)), toHex(hex(queryBytes)));
  assert.deepEqual(ok(decodeFrame(hex(queryBytes))), query);
  const reply = { type: 'status-reply', from, qid: 7, bits: 8, phase: 'leaving', pred: { id: 0n, host: 'p', port: 3 }, successors: [], keys: 2, bytes: 300, shortOfK: 1, handovers: 2 } as Message;
  // contact | qid | bits 8 | phase 3 | pred 1, contact (id len 0, port 3, "p") | successors 0 | keys u64 | bytes u64 | shortOfK 1, u64 | handovers u64
  const replyBytes = '00000036 02 18 01 01 0002 01 68 00000007 08 03 01 00 0003 01 70 00 0000000000000002 000000000000012c 01 0000000000000001 0000000000000002';
  assert.equal(toHex(encodeFrame(reply)), toHex(hex(replyBytes)));
  assert.deepEqual(ok(decodeFrame(hex(replyBytes))), reply);
  // phase 4, bits 7 and bits 161 do not exist
  failsWith(decodeFrame(hex(replyBytes.replace('08 03 01', '08 04 01'))), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(hex(replyBytes.replace('08 03 01', '07 03 01'))), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(hex(replyBytes.replace('08 03 01', 'a1 03 01'))), 'CDHT_ERR_BAD_PAYLOAD');
  const answer = { type: 'decommission-reply', from, qid: 7, accepted: false, reason: 'no' } as Message;
  const answerBytes = '00000011 02 1a 01 01 0002 01 68 00000007 00 0002 6e6f';
  assert.equal(toHex(encodeFrame(answer)), toHex(hex(answerBytes)));
  assert.deepEqual(ok(decodeFrame(hex(answerBytes))), answer);
  // unknown in version 1
  failsWith(decodeFrame(hex(queryBytes.replace('0000000c 02 17', '0000000c 01 17'))), 'CDHT_ERR_UNKNOWN_TYPE');
  assert.throws(() => encodeFrame({ type: 'status-reply', from, qid: 1, bits: 8, phase: 'gone', successors: [], keys: 0, bytes: 0, handovers: 0 } as unknown as Message), /phase/);
});

test('key records: a record without a publisher keeps its first bytes; parts above 3 are refused', () => {
  const from = { id: 1n, host: 'h', port: 2 };
  const plain = { type: 'key-offer', from, oid: 1, keys: [{ name: 'a', size: 5 }] } as Message;
  // len | v2 | type 20 | contact | oid 1 | count 1 | "a" | size u64 5 | parts 0
  const plainBytes = '00000018 02 14 01 01 0002 01 68 00000001 01 01 61 0000000000000005 00';
  assert.equal(toHex(encodeFrame(plain)), toHex(hex(plainBytes)));
  const withPublisher = { type: 'key-offer', from, oid: 1, keys: [{ name: 'a', size: 5, publisher: { id: 3n, host: 'p', port: 4 } }] } as Message;
  // parts 2, then the publisher's contact (id len 1, 03, port 4, host len 1, "p")
  const publisherBytes = '0000001e 02 14 01 01 0002 01 68 00000001 01 01 61 0000000000000005 02 01 03 0004 01 70';
  assert.equal(toHex(encodeFrame(withPublisher)), toHex(hex(publisherBytes)));
  assert.deepEqual(ok(decodeFrame(hex(publisherBytes))), withPublisher);
  failsWith(decodeFrame(hex(plainBytes.replace(/00$/, '04'))), 'CDHT_ERR_BAD_PAYLOAD');
  // a delete-reply's result is 1..4
  const reply = encodeFrame({ type: 'delete-reply', from, qid: 1, file: 'a', result: 'not-owner' } as Message);
  assert.equal(reply[reply.length - 1], 4);
  const bad = Uint8Array.from(reply);
  bad[bad.length - 1] = 5;
  failsWith(decodeFrame(bad), 'CDHT_ERR_BAD_PAYLOAD');
});

test('the samples cover every message type', () => {
  assert.deepEqual(new Set(SAMPLES.map((m) => m.type)), new Set(ALL_TYPES));
});

test('decodeFrame(encodeFrame(m)) deep-equals m for every message type, in both wire versions', () => {
  for (const m of SAMPLES) {
    const frame = encodeFrame(m);
    assert.deepEqual(ok(decodeFrame(frame)), m, m.type);
    assert.equal(frame[4], WIRE_VERSION);
    if (!inV1(m)) {
      assert.throws(() => encodeFrame(m, 1), /version 1|version 2|wire version|4 ASCII digits|at most 8/, `${m.type} must not encode in version 1`);
      continue;
    }
    const v1 = encodeFrame(m, 1);
    assert.equal(v1[4], 1);
    assert.deepEqual(ok(decodeFrame(v1)), m, `${m.type} in version 1`);
  }
});

test('version 2 carries ids up to 160 bits and any plain file name', () => {
  const big = { id: 2n ** 160n - 1n, host: '::1', port: 4000 };
  const zero = { id: 0n, host: 'h', port: 1 };
  const msgs: Message[] = [
    { type: 'store', origin: big, file: 'holiday photo ☀.jpg', final: false, hops: 1 },
    { type: 'pong', from: zero, seq: 1, loud: false, successors: [big, zero], pred: big },
    { type: 'file-request', requester: big, file: 'x'.repeat(255), rid: 9, final: true, hops: 2, fallback: 2 },
  ];
  for (const m of msgs) assert.deepEqual(ok(decodeFrame(encodeFrame(m))), m);
  const throws = (m: unknown, version?: 1 | 2) =>
    assert.throws(() => encodeFrame(m as Message, version), (e: unknown) => (e as { code?: string }).code === 'CDHT_ERR_BAD_PAYLOAD', JSON.stringify(m, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  throws({ type: 'join', joiner: { ...big, id: 2n ** 160n }, hops: 0 });
  throws({ type: 'join', joiner: { ...big, id: -1n }, hops: 0 });
  throws({ type: 'join', joiner: { ...big, id: 5 }, hops: 0 });
  throws({ type: 'join', joiner: { ...zero, id: 256n }, hops: 0 }, 1);
  for (const file of ['', 'a/b', 'a\\b', '.hidden', 'nul\u0000', 'x'.repeat(256)]) throws({ type: 'store', origin: zero, file, final: false, hops: 0 });
  throws({ type: 'store', origin: zero, file: 'name.pdf', final: false, hops: 0 }, 1);
});

test('version 2 fixtures: ids are length-prefixed and minimal, names length-prefixed', () => {
  const join = { type: 'join', joiner: { id: 0x1234n, host: 'a', port: 1 }, hops: 300 } as Message;
  // len 10 | v2 | type 3 | id len 2, 12 34, port 1, host len 1, "a" | hops 300
  const joinBytes = '0000000b 02 03 02 1234 0001 01 61 012c';
  assert.equal(toHex(encodeFrame(join)), toHex(hex(joinBytes)));
  assert.deepEqual(ok(decodeFrame(hex(joinBytes))), join);
  // id 0 is the empty byte string
  assert.deepEqual(ok(decodeFrame(hex('00000009 02 03 00 0001 01 61 012c'))), { type: 'join', joiner: { id: 0n, host: 'a', port: 1 }, hops: 300 });
  // a leading zero byte, or more than 20 id bytes, is refused (one encoding per id)
  failsWith(decodeFrame(hex('0000000b 02 03 02 0034 0001 01 61 012c')), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(framed(`02 03 15 ${'11'.repeat(21)} 0001 01 61 012c`)), 'CDHT_ERR_BAD_PAYLOAD');
  // store of "a.b" from id 1: origin, name len 3 "a.b", final 0, hops 1
  const store = { type: 'store', origin: { id: 1n, host: 'h', port: 2 }, file: 'a.b', final: false, hops: 1 } as Message;
  const storeBytes = '0000000f 02 0b 01 01 0002 01 68 03 612e62 00 0001';
  assert.equal(toHex(encodeFrame(store)), toHex(hex(storeBytes)));
  assert.deepEqual(ok(decodeFrame(hex(storeBytes))), store);
  failsWith(decodeFrame(hex('0000000f 02 0b 01 01 0002 01 68 03 612f62 00 0001')), 'CDHT_ERR_BAD_PAYLOAD'); // "a/b"
});

test('version 2 origin proofs: an optional trailing field on routed messages, byte-exact; unsigned frames keep their bytes', () => {
  const proof = { at: 0x0102030405, nonce: 0x0a0b0c0d, cert: Uint8Array.of(0x30, 0x82), sig: Uint8Array.of(0xaa, 0xbb, 0xcc) };
  // at u64 | nonce u32 | cert len u16, cert | sig len u8, sig
  const proofBytes = '0000000102030405 0a0b0c0d 0002 3082 03 aabbcc';
  const cases: { msg: Message; unsigned: string; signed: string }[] = [
    {
      msg: { type: 'join', joiner: { id: 0x1234n, host: 'a', port: 1 }, hops: 300 },
      unsigned: '0000000b 02 03 02 1234 0001 01 61 012c',
      signed: `0000001f 02 03 02 1234 0001 01 61 012c ${proofBytes}`,
    },
    {
      msg: { type: 'store', origin: { id: 1n, host: 'h', port: 2 }, file: 'a.b', final: false, hops: 1 },
      unsigned: '0000000f 02 0b 01 01 0002 01 68 03 612e62 00 0001',
      signed: `00000023 02 0b 01 01 0002 01 68 03 612e62 00 0001 ${proofBytes}`,
    },
    {
      // requester | name len 4 "0042" | rid | final 1 | hops 2 | fallback 1 | proof
      msg: { type: 'file-request', requester: { id: 1n, host: 'h', port: 65535 }, file: '0042', rid: 0x01020304, final: true, hops: 2, fallback: 1 },
      unsigned: '00000015 02 0d 01 01 ffff 01 68 04 30303432 01020304 01 0002 01',
      signed: `00000029 02 0d 01 01 ffff 01 68 04 30303432 01020304 01 0002 01 ${proofBytes}`,
    },
    {
      // origin | key: id len 2, 1234 | lid 7 | final 1 | hops 3 | proof
      msg: { type: 'lookup', origin: { id: 1n, host: 'h', port: 2 }, key: 0x1234n, lid: 7, final: true, hops: 3 },
      unsigned: '00000012 02 12 01 01 0002 01 68 02 1234 00000007 01 0003',
      signed: `00000026 02 12 01 01 0002 01 68 02 1234 00000007 01 0003 ${proofBytes}`,
    },
  ];
  for (const { msg, unsigned, signed } of cases) {
    assert.equal(toHex(encodeFrame(msg)), toHex(hex(unsigned)), `${msg.type} without a proof`);
    assert.deepEqual(ok(decodeFrame(hex(unsigned))), msg);
    const withProof = { ...msg, proof } as Message;
    assert.equal(toHex(encodeFrame(withProof)), toHex(hex(signed)), `${msg.type} with a proof`);
    assert.deepEqual(ok(decodeFrame(hex(signed))), withProof);
    // every cut inside the proof, a byte after it, and empty cert or sig are refused
    const full = hex(signed);
    for (let cut = hex(unsigned).length + 1; cut < full.length; cut++) {
      const b = full.slice(0, cut);
      new DataView(b.buffer, b.byteOffset).setUint32(0, cut - 4);
      assert.equal(decodeFrame(b).ok, false, `${msg.type} cut to ${cut} bytes`);
    }
    failsWith(decodeFrame(framed(`${signed.slice(9)} 00`)), 'CDHT_ERR_BAD_PAYLOAD');
    failsWith(decodeFrame(framed(`${unsigned.slice(9)} 0000000102030405 0a0b0c0d 0000 03 aabbcc`)), 'CDHT_ERR_BAD_PAYLOAD');
    failsWith(decodeFrame(framed(`${unsigned.slice(9)} 0000000102030405 0a0b0c0d 0002 3082 00`)), 'CDHT_ERR_BAD_PAYLOAD');
    failsWith(decodeFrame(framed(`${unsigned.slice(9)} 0000000102030405 0a0b0c0d 1001 ${'30'.repeat(4097)} 01 aa`)), 'CDHT_ERR_BAD_PAYLOAD');
  }
  // version 1 has no room for one: it does not encode, and trailing bytes stay an error there
  const v1Join = { type: 'join', joiner: { id: 200n, host: 'a', port: 1 }, hops: 300 } as const;
  assert.equal(toHex(encodeFrame(v1Join, 1)), toHex(hex('00000009 01 03 c8 0001 01 61 012c')));
  assert.throws(() => encodeFrame({ ...v1Join, proof }, 1), /needs wire version 2/);
  failsWith(decodeFrame(hex(`0000001d 01 03 c8 0001 01 61 012c ${proofBytes}`)), 'CDHT_ERR_BAD_PAYLOAD');
  // bad proof fields do not encode
  const store = cases[1]!.msg;
  for (const bad of [{ ...proof, cert: new Uint8Array(0) }, { ...proof, sig: new Uint8Array(256) }, { ...proof, at: -1 }, { ...proof, nonce: 2 ** 32 }, { ...proof, cert: new Uint8Array(4097) }]) {
    assert.throws(() => encodeFrame({ ...store, proof: bad } as Message), (e: unknown) => (e as { code?: string }).code === 'CDHT_ERR_BAD_PAYLOAD');
  }
});

test('file-busy (type 22, version 2 only): byte-exact fixture, strict decoding', () => {
  const busy = { type: 'file-busy', from: { id: 9n, host: 'h', port: 2 }, file: 'a.b', rid: 0x01020304, retryAfterMs: 1000 } as Message;
  // len 20 | v2 | type 22 | id len 1, 09, port 2, host len 1, "h" | name len 3 "a.b" | rid | retryAfterMs 1000
  const bytes = '00000014 02 16 01 09 0002 01 68 03 612e62 01020304 000003e8';
  assert.equal(toHex(encodeFrame(busy)), toHex(hex(bytes)));
  assert.deepEqual(ok(decodeFrame(hex(bytes))), busy);
  // a byte short, a byte over, and the same bytes under version 1 are all refused
  failsWith(decodeFrame(hex('00000013 02 16 01 09 0002 01 68 03 612e62 01020304 0003e8')), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(hex('00000015 02 16 01 09 0002 01 68 03 612e62 01020304 000003e8 00')), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(hex('00000014 01 16 01 09 0002 01 68 03 612e62 01020304 000003e8')), 'CDHT_ERR_UNKNOWN_TYPE');
  assert.throws(() => encodeFrame(busy, 1), /version 1/);
});

test('a decoded chunk is a plain copy, not a view into the caller\'s bytes', () => {
  const frame = encodeFrame({ type: 'file-data', chunk: Uint8Array.of(1, 2, 3) });
  const msg = ok(decodeFrame(frame));
  frame[6] = 99;
  assert.deepEqual(msg, { type: 'file-data', chunk: Uint8Array.of(1, 2, 3) });
});

// Fixtures worked out by hand from the layout table in codec.ts.
const FIXTURES: { name: string; msg: Message; bytes: string }[] = [
  {
    name: 'ping',
    msg: { type: 'ping', from: { id: 5n, host: '127.0.0.1', port: 12005 }, seq: 7, role: 1, loud: true },
    // len 21 | v1 | type 1 | id 5, port 0x2ee5, host len 9, "127.0.0.1" | seq 7 | role 1 | loud 1
    bytes: '00000015 01 01 05 2ee5 09 3132372e302e302e31 00000007 01 01',
  },
  {
    name: 'join',
    msg: { type: 'join', joiner: { id: 200n, host: 'a', port: 1 }, hops: 300 },
    // len 9 | v1 | type 3 | id 200, port 1, host len 1, "a" | hops 300
    bytes: '00000009 01 03 c8 0001 01 61 012c',
  },
  {
    name: 'file-request',
    msg: { type: 'file-request', requester: { id: 1n, host: 'h', port: 65535 }, file: '0042', rid: 0x01020304, final: false, hops: 2, fallback: 0 },
    // len 18 | v1 | type 13 | id 1, port 65535, host len 1, "h" | "0042" | rid | final 0 | hops 2
    bytes: '00000012 01 0d 01 ffff 01 68 30303432 01020304 00 0002',
  },
  {
    name: 'file-begin',
    msg: { type: 'file-begin', from: { id: 0n, host: 'x', port: 80 }, file: '9999', rid: 0, purpose: 'store', size: 2 ** 40 + 5 },
    // len 24 | v1 | type 15 | id 0, port 80, host len 1, "x" | "9999" | rid 0 | purpose 2 | size u64
    bytes: '00000018 01 0f 00 0050 01 78 39393939 00000000 02 0000010000000005',
  },
  {
    name: 'join-reject',
    msg: { type: 'join-reject', from: { id: 9n, host: 'h', port: 2 }, reason: 'no' },
    // len 11 | v1 | type 5 | id 9, port 2, host len 1, "h" | reason len 2, "no"
    bytes: '0000000b 01 05 09 0002 01 68 0002 6e6f',
  },
  {
    name: 'pong',
    msg: { type: 'pong', from: { id: 1n, host: 'h', port: 2 }, seq: 3, loud: false, successors: [{ id: 4n, host: 'i', port: 5 }] },
    // len 19 | v1 | type 2 | contact | seq 3 | loud 0 | count 1, contact | no pred
    bytes: '00000013 01 02 01 0002 01 68 00000003 00 01 04 0005 01 69 00',
  },
  {
    name: 'file-end',
    msg: { type: 'file-end', sha256: SHA },
    // len 34 | v1 | type 17 | 32 bytes 00..1f
    bytes: '00000022 01 11 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  },
];

test('byte-exact version 1 fixtures: encode gives the first release\'s bytes, decode gives the message', () => {
  for (const f of FIXTURES) {
    const expected = hex(f.bytes);
    assert.equal(toHex(encodeFrame(f.msg, 1)), toHex(expected), f.name);
    assert.deepEqual(ok(decodeFrame(expected)), f.msg, f.name);
  }
});

test('FrameDecoder: all frames pushed at once, one byte at a time, and in random chunks', () => {
  const frames = SAMPLES.map((m) => encodeFrame(m));
  const stream = concat(frames);

  const whole = new FrameDecoder();
  assert.deepEqual(whole.push(stream).map(ok), SAMPLES);
  assert.equal(whole.buffered, 0);

  const bytewise = new FrameDecoder();
  const got: Message[] = [];
  for (let i = 0; i < stream.length; i++) got.push(...bytewise.push(stream.subarray(i, i + 1)).map(ok));
  assert.deepEqual(got, SAMPLES);
  assert.equal(bytewise.buffered, 0);

  const rand = mulberry32(SEED);
  for (let round = 0; round < 20; round++) {
    const d = new FrameDecoder();
    const out: Message[] = [];
    for (let at = 0; at < stream.length; ) {
      const n = randomInt(rand, 0, round % 2 ? 40 : 70000);
      out.push(...d.push(stream.subarray(at, at + n)).map(ok));
      at += n;
    }
    assert.deepEqual(out, SAMPLES, `seed ${SEED} round ${round}`);
    assert.equal(d.buffered, 0);
    assert.equal(d.failed, false);
  }
});

test('FrameDecoder keeps a partial frame and reports how much it holds', () => {
  const frame = encodeFrame(SAMPLES[0]!);
  const d = new FrameDecoder();
  assert.deepEqual(d.push(frame.subarray(0, 2)), []);
  assert.equal(d.buffered, 2);
  assert.deepEqual(d.push(frame.subarray(2, 10)), []);
  assert.equal(d.buffered, 10);
  assert.deepEqual(d.push(frame.subarray(10)).map(ok), [SAMPLES[0]]);
  assert.equal(d.buffered, 0);
});

test('FrameDecoder streams many 64 KiB file-data frames split across chunk boundaries', () => {
  const rand = mulberry32(SEED ^ 0x5eed);
  const chunks = Array.from({ length: 64 }, () => randomBytes(rand, 64 * 1024));
  const stream = concat(chunks.map((chunk) => encodeFrame({ type: 'file-data', chunk })));
  const d = new FrameDecoder();
  const out: Decoded[] = [];
  for (let at = 0; at < stream.length; at += 65536) {
    out.push(...d.push(stream.subarray(at, at + 65536)));
    assert.ok(d.buffered <= MAX_FRAME_BYTES);
  }
  assert.deepEqual(out.map(ok), chunks.map((chunk) => ({ type: 'file-data', chunk })));
});

test('every truncated prefix of a valid frame is ok:false and never throws', () => {
  for (const m of SAMPLES.filter((s) => s.type !== 'file-data' || s.chunk.length < 100)) {
    const frame = encodeFrame(m);
    for (let n = 0; n < frame.length; n++) {
      failsWith(decodeFrame(frame.subarray(0, n)), 'CDHT_ERR_FRAME_TRUNCATED');
    }
  }
});

test(`random bytes never throw from decodeFrame or FrameDecoder (seed ${SEED})`, () => {
  const rand = mulberry32(SEED);
  const stream = new FrameDecoder();
  for (let i = 0; i < 20_000; i++) {
    let b: Uint8Array;
    if (i % 2 === 0) {
      b = randomBytes(rand, randomInt(rand, 0, 64));
    } else {
      // A plausible header so that the payload readers get exercised too.
      const body = concat([Uint8Array.of(1, randomInt(rand, 0, 18)), randomBytes(rand, randomInt(rand, 0, 80))]);
      b = framed(toHex(body));
    }
    let d: Decoded;
    try {
      d = decodeFrame(b);
    } catch (e) {
      assert.fail(`decodeFrame threw on ${toHex(b)} (seed ${SEED}, i ${i}): ${String(e)}`);
    }
    // Strict decoding means whatever is accepted re-encodes to the very same bytes.
    if (d.ok) assert.equal(toHex(encodeFrame(d.msg, b[4] as 1 | 2)), toHex(b), `seed ${SEED}, i ${i}`);
    assert.doesNotThrow(() => stream.push(b), `FrameDecoder threw (seed ${SEED}, i ${i})`);
    assert.doesNotThrow(() => new FrameDecoder().push(b), `FrameDecoder threw (seed ${SEED}, i ${i})`);
  }
});

test(`mutated valid frames never throw and re-encode exactly when accepted (seed ${SEED})`, () => {
  const rand = mulberry32(SEED + 1);
  const frames = SAMPLES.filter((s) => s.type !== 'file-data').map((m) => encodeFrame(m));
  for (let i = 0; i < 5000; i++) {
    const b = frames[i % frames.length]!.slice();
    for (let k = randomInt(rand, 1, 3); k > 0; k--) b[randomInt(rand, 4, b.length - 1)] = randomInt(rand, 0, 255);
    const d = decodeFrame(b);
    if (d.ok) assert.equal(toHex(encodeFrame(d.msg, b[4] as 1 | 2)), toHex(b), `seed ${SEED}, i ${i}`);
  }
});

test('an impossible length prefix fails the stream once and ignores everything after', () => {
  const huge = new FrameDecoder();
  const first = huge.push(hex('7fffffff 01 01'));
  assert.equal(first.length, 1);
  failsWith(first[0]!, 'CDHT_ERR_FRAME_TOO_LARGE');
  assert.equal(huge.failed, true);
  assert.deepEqual(huge.push(encodeFrame(SAMPLES[0]!)), []);
  assert.equal(huge.buffered, 0);

  const tiny = new FrameDecoder();
  const out = tiny.push(concat([encodeFrame(SAMPLES[0]!), hex('00000001 01'), encodeFrame(SAMPLES[1]!)]));
  assert.equal(out.length, 2);
  assert.deepEqual(ok(out[0]!), SAMPLES[0]);
  failsWith(out[1]!, 'CDHT_ERR_BAD_PAYLOAD');
  assert.equal(tiny.failed, true);

  // The largest legal length is accepted and buffered; one more is refused.
  const edge = new FrameDecoder();
  assert.deepEqual(edge.push(hex('000ffffc 01')), []);
  assert.equal(edge.failed, false);
  failsWith(decodeFrame(hex('000ffffd 01 10')), 'CDHT_ERR_FRAME_TOO_LARGE');
  failsWith(new FrameDecoder().push(hex('000ffffd'))[0]!, 'CDHT_ERR_FRAME_TOO_LARGE');
});

test('a bad frame with a readable length is reported and skipped; decoding goes on', () => {
  const bad = encodeFrame(SAMPLES[0]!);
  bad[4] = 3;
  const d = new FrameDecoder();
  const out = d.push(concat([encodeFrame(SAMPLES[2]!), bad, encodeFrame(SAMPLES[3]!)]));
  assert.equal(out.length, 3);
  assert.deepEqual(ok(out[0]!), SAMPLES[2]);
  failsWith(out[1]!, 'CDHT_ERR_BAD_VERSION');
  assert.deepEqual(ok(out[2]!), SAMPLES[3]);
  assert.equal(d.failed, false);
});

/** The ping fixture with some bytes replaced: offsets are into the whole frame. */
function pingWith(patch: Record<number, number>): Uint8Array {
  const b = hex(FIXTURES[0]!.bytes);
  for (const [at, v] of Object.entries(patch)) b[Number(at)] = v;
  return b;
}

test('bad field values give the right error codes', () => {
  // ping: 0-3 length, 4 version, 5 type, 6-18 contact, 19-22 seq, 23 role, 24 loud.
  failsWith(decodeFrame(pingWith({ 4: 0 })), 'CDHT_ERR_BAD_VERSION');
  failsWith(decodeFrame(pingWith({ 4: 3 })), 'CDHT_ERR_BAD_VERSION');
  failsWith(decodeFrame(pingWith({ 5: 0 })), 'CDHT_ERR_UNKNOWN_TYPE');
  failsWith(decodeFrame(pingWith({ 5: 18 })), 'CDHT_ERR_UNKNOWN_TYPE');
  failsWith(decodeFrame(pingWith({ 5: 255 })), 'CDHT_ERR_UNKNOWN_TYPE');
  failsWith(decodeFrame(pingWith({ 24: 2 })), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(pingWith({ 23: 0 })), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(pingWith({ 23: 3 })), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(pingWith({ 7: 0, 8: 0 })), 'CDHT_ERR_BAD_PAYLOAD'); // port 0
  failsWith(decodeFrame(pingWith({ 10: 0xff })), 'CDHT_ERR_BAD_PAYLOAD'); // invalid UTF-8 in host

  // file-request with file name "12a4".
  failsWith(decodeFrame(hex('00000012 01 0d 01 ffff 01 68 31326134 01020304 00 0002')), 'CDHT_ERR_BAD_PAYLOAD');
  // ... and with final = 7.
  failsWith(decodeFrame(hex('00000012 01 0d 01 ffff 01 68 30303432 01020304 07 0002')), 'CDHT_ERR_BAD_PAYLOAD');
  // file-begin with purpose 3, and with a size above Number.MAX_SAFE_INTEGER.
  failsWith(decodeFrame(hex('00000018 01 0f 00 0050 01 78 39393939 00000000 03 0000010000000005')), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(hex('00000018 01 0f 00 0050 01 78 39393939 00000000 02 0020000000000000')), 'CDHT_ERR_BAD_PAYLOAD');
  // join with an empty host.
  failsWith(decodeFrame(hex('00000008 01 03 c8 0001 00 012c')), 'CDHT_ERR_BAD_PAYLOAD');
  // file-data with an empty chunk, file-end with 31 bytes.
  failsWith(decodeFrame(hex('00000002 01 10')), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(hex('00000021 01 11' + '00'.repeat(31))), 'CDHT_ERR_BAD_PAYLOAD');
  // join-reject with a 513-byte reason.
  failsWith(decodeFrame(concat([hex('00000209 01 05 09 0002 01 68 0201'), new Uint8Array(513).fill(0x61)])), 'CDHT_ERR_BAD_PAYLOAD');
});

test('trailing bytes are refused, inside the frame and after it', () => {
  // join fixture with one extra payload byte (length 9 -> 10).
  failsWith(decodeFrame(hex('0000000a 01 03 c8 0001 01 61 012c 00')), 'CDHT_ERR_BAD_PAYLOAD');
  // A whole frame followed by a stray byte.
  failsWith(decodeFrame(hex('00000009 01 03 c8 0001 01 61 012c 00')), 'CDHT_ERR_BAD_PAYLOAD');
});

test('a successor count above MAX_SUCCESSORS is refused even when the contacts are there', () => {
  const contact = '04 0005 01 69';
  // successor-change from contact 1/h:2, then the count and that many contacts.
  failsWith(decodeFrame(framed(`01 06 01 0002 01 68 09 ${contact.repeat(9)}`)), 'CDHT_ERR_BAD_PAYLOAD');
  assert.equal(ok(decodeFrame(framed(`01 06 01 0002 01 68 08 ${contact.repeat(8)}`))).type, 'successor-change');
});

test('frames of every length round-trip (the writer grows its buffer mid-field)', () => {
  // a u8 written just as the buffer grew once landed in the old buffer: every length is tried
  for (let n = 0; n <= 600; n++) {
    const m: Message = { type: 'join-reject', from: { id: 7n, host: 'h'.repeat(1 + (n % 200)), port: 9 }, reason: 'r'.repeat(n % 512) };
    assert.deepEqual(ok(decodeFrame(encodeFrame(m))), m, `n=${n}`);
    const list: Message = { type: 'successor-reply', from: A, qid: n, successors: Array.from({ length: n % 33 }, (_, i) => ({ id: BigInt(n * 33 + i) << 64n, host: 'x'.repeat(1 + (i % 7)), port: 1 + i })) };
    assert.deepEqual(ok(decodeFrame(encodeFrame(list))), list, `list n=${n}`);
  }
});

test('a reason longer than 512 bytes is truncated on a character boundary', () => {
  const reason = 'a' + 'é'.repeat(300); // 601 bytes; byte 512 is inside an é
  const msg = ok(decodeFrame(encodeFrame({ type: 'join-reject', from: A, reason })));
  assert.equal(msg.type === 'join-reject' && msg.reason, 'a' + 'é'.repeat(255));
  const plain = ok(decodeFrame(encodeFrame({ type: 'join-reject', from: A, reason: 'x'.repeat(600) })));
  assert.equal(plain.type === 'join-reject' && plain.reason, 'x'.repeat(512));
});

test('a frame we refuse to encode is a LocalProtocolError; one a peer sent, a RemoteProtocolError', () => {
  let local: unknown;
  try {
    encodeFrame({ type: 'ping', from: A, seq: 1, role: 3, loud: true } as unknown as Message);
  } catch (e) {
    local = e;
  }
  assert.ok(local instanceof LocalProtocolError, String(local));
  assert.equal(local.code, 'CDHT_ERR_BAD_PAYLOAD');
  assert.equal(local.kind, 'local');
  assert.equal(local.name, 'LocalProtocolError');
  const d = decodeFrame(hex('00000002 01 10'));
  assert.ok(!d.ok && d.error instanceof RemoteProtocolError);
  assert.equal(!d.ok && d.error.kind, 'remote');
  assert.equal(!d.ok && d.error.name, 'RemoteProtocolError');
});

test('encoding invalid fields throws CDHT_ERR_BAD_PAYLOAD', () => {
  const throwsBad = (m: unknown, version?: 1 | 2) =>
    assert.throws(() => encodeFrame(m as Message, version), (e: unknown) => (e as { code?: string }).code === 'CDHT_ERR_BAD_PAYLOAD', String((m as { type?: string }).type));
  throwsBad({ type: 'store', origin: A, file: '123', final: true, hops: 0 }, 1);
  throwsBad({ type: 'store', origin: A, file: '12a4', final: true, hops: 0 }, 1);
  throwsBad({ type: 'store', origin: A, file: '١٢٣٤', final: true, hops: 0 }, 1);
  throwsBad({ type: 'ping', from: A, seq: 1, role: 3, loud: true });
  throwsBad({ type: 'ping', from: A, seq: -1, role: 1, loud: true });
  throwsBad({ type: 'ping', from: A, seq: 1, role: 1, loud: 1 });
  throwsBad({ type: 'ping', from: { ...A, port: 0 }, seq: 1, role: 1, loud: true });
  throwsBad({ type: 'ping', from: { ...A, id: 256n }, seq: 1, role: 1, loud: true }, 1);
  throwsBad({ type: 'ping', from: { ...A, host: '' }, seq: 1, role: 1, loud: true });
  throwsBad({ type: 'ping', from: { ...A, host: 'h'.repeat(256) }, seq: 1, role: 1, loud: true });
  throwsBad({ type: 'join', joiner: A, hops: 65536 });
  throwsBad({ type: 'pong', from: A, seq: 1, loud: true, successors: Array(9).fill(B) }, 1);
  throwsBad({ type: 'pong', from: A, seq: 1, loud: true, successors: Array(33).fill(B) });
  throwsBad({ type: 'store-accepted', from: A, file: '0001', storeId: 'x'.repeat(1025) });
  throwsBad({ type: 'file-begin', from: A, file: '0001', rid: 0, purpose: 'store', size: 2 ** 53 });
  throwsBad({ type: 'file-begin', from: A, file: '0001', rid: 0, purpose: 'copy', size: 1 });
  throwsBad({ type: 'file-data', chunk: new Uint8Array(0) });
  throwsBad({ type: 'file-data', chunk: new Uint8Array(MAX_FRAME_BYTES - 5) });
  throwsBad({ type: 'file-end', sha256: new Uint8Array(31) });
  throwsBad({ type: 'nope' });
  // The largest chunk fits exactly in MAX_FRAME_BYTES.
  assert.equal(encodeFrame({ type: 'file-data', chunk: new Uint8Array(MAX_FRAME_BYTES - 6) }).length, MAX_FRAME_BYTES);
});

test('key-offer\'s leaving flag: one trailing byte 1 when set, nothing otherwise; any other byte refused', () => {
  const offer = { type: 'key-offer', from: { id: 9n, host: 'h', port: 2 }, oid: 0x01020304, keys: [] } as Message;
  // len 13 | v2 | type 20 | id len 1, 09, port 2, host len 1, "h" | oid | 0 keys
  const plain = '0000000d 02 14 01 09 0002 01 68 01020304 00';
  assert.equal(toHex(encodeFrame(offer)), toHex(hex(plain)));
  const leaving = '0000000e 02 14 01 09 0002 01 68 01020304 00 01';
  assert.equal(toHex(encodeFrame({ ...offer, leaving: true } as Message)), toHex(hex(leaving)));
  assert.deepEqual(ok(decodeFrame(hex(leaving))), { ...offer, leaving: true });
  failsWith(decodeFrame(hex('0000000e 02 14 01 09 0002 01 68 01020304 00 02')), 'CDHT_ERR_BAD_PAYLOAD');
  failsWith(decodeFrame(hex('0000000f 02 14 01 09 0002 01 68 01020304 00 01 01')), 'CDHT_ERR_BAD_PAYLOAD');
});
