// Property tests (fast-check): ring arithmetic in every id space, and codec round trips of
// random messages. A failure prints the seed and the shrunk counterexample; replay with SEED=.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Contact } from '../src/core/contact.js';
import type { Id, IdSpace } from '../src/core/id-space.js';
import type { KeyInfo, Message, MessageOf } from '../src/core/messages.js';
import { idSpace } from '../src/space.js';
import { decodeFrame, encodeFrame } from '../src/wire/index.js';

const SEED = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const params = { seed: SEED, numRuns: 300 };
const BITS = [8, 9, 16, 32, 53, 54, 64, 128, 160];

function arbId(space: IdSpace): fc.Arbitrary<Id> {
  return fc.bigInt({ min: 0n, max: space.size - 1n });
}

for (const bits of BITS) {
  const space = idSpace(bits);
  const id = arbId(space);

  test(`${bits}-bit space: distance, add and the intervals agree (seed ${SEED})`, () => {
    fc.assert(
      fc.property(id, id, id, (a, b, x) => {
        const d = space.distance(a, b);
        assert.ok(d >= 0n && d < space.size);
        assert.equal(space.add(a, d), b);
        assert.equal(space.distance(a, a), 0n);
        if (a !== b) assert.equal(d + space.distance(b, a), space.size, 'going round the ring both ways covers it once');
        const dx = space.distance(a, x);
        if (a !== b) {
          assert.equal(space.betweenRightClosed(a, x, b), dx > 0n && dx <= d);
          assert.equal(space.betweenOpen(a, x, b), dx > 0n && dx < d);
          // (a, b] and (b, a] split the ring
          assert.notEqual(space.betweenRightClosed(a, x, b), space.betweenRightClosed(b, x, a));
        } else {
          assert.equal(space.betweenRightClosed(a, x, b), true);
          assert.equal(space.betweenOpen(a, x, b), x !== a);
        }
      }),
      params,
    );
  });

  test(`${bits}-bit space: the owner of a key is the first peer at or after it, wrapping (seed ${SEED})`, () => {
    fc.assert(
      fc.property(fc.uniqueArray(id, { minLength: 1, maxLength: 40 }), id, (ids, key) => {
        const owner = space.ownerOf(key, ids)!;
        const sorted = [...ids].sort((a, b) => (a < b ? -1 : 1));
        const expected = sorted.find((i) => i >= key) ?? sorted[0]!;
        assert.equal(owner, expected);
        // every peer is at least as far clockwise from the key as its owner
        for (const i of ids) assert.ok(space.distance(key, owner) <= space.distance(key, i));
        if (ids.length > 1) {
          const pred = sorted[(sorted.indexOf(owner) - 1 + sorted.length) % sorted.length]!;
          assert.ok(space.betweenRightClosed(pred, key, owner), 'the key lies between the owner\'s predecessor and the owner');
        }
      }),
      params,
    );
  });

  test(`${bits}-bit space: ids print and read back (seed ${SEED})`, () => {
    fc.assert(
      fc.property(id, (x) => {
        assert.equal(space.parse(space.formatFull(x)), x);
        assert.ok(space.format(x).length <= Math.max(8, Math.ceil(bits * 0.31) + 1));
      }),
      params,
    );
  });
}

test(`hashed names land in the space, the same every time (seed ${SEED})`, () => {
  fc.assert(
    fc.property(fc.integer({ min: 9, max: 160 }), fc.string({ minLength: 1, maxLength: 40 }).filter((n) => !/[/\\\u0000-\u001f\u007f]/.test(n) && !n.startsWith('.')), (bits, name) => {
      const space = idSpace(bits);
      const k = space.keyOf(name);
      assert.ok(space.isId(k));
      assert.equal(space.keyOf(name), k);
    }),
    params,
  );
});

// ---- codec ------------------------------------------------------------------------------------

/** Records with ordinary prototypes, as decoded messages have (strict deepEqual compares them). */
function rec<T>(shape: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(shape, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

/** The same, where the fields named in `optional` are there or left out (never present as undefined). */
function recWith<T>(shape: { [K in keyof T]-?: fc.Arbitrary<Exclude<T[K], undefined>> }, optional: readonly (keyof T)[]): fc.Arbitrary<T> {
  const requiredKeys = (Object.keys(shape) as (keyof T)[]).filter((k) => !optional.includes(k));
  return fc.record(shape, { requiredKeys, noNullPrototype: true } as never) as unknown as fc.Arbitrary<T>;
}

const arbHost = fc.oneof(fc.constantFrom('127.0.0.1', '::1', 'peer.example'), fc.string({ minLength: 1, maxLength: 20 }).filter((h) => !/[\uD800-\uDFFF]/.test(h)));
const arbContact: fc.Arbitrary<Contact> = rec({ id: fc.bigInt({ min: 0n, max: 2n ** 160n - 1n }), host: arbHost, port: fc.integer({ min: 1, max: 65535 }) });
const arbName = fc.oneof(
  fc.stringMatching(/^\d{4}$/),
  fc.string({ minLength: 1, maxLength: 60 }).filter((n) => !/[/\\\u0000-\u001f\u007f\uD800-\uDFFF]/.test(n) && !n.startsWith('.')),
);
const u32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const hops = fc.integer({ min: 0, max: 0xffff });
const list = fc.array(arbContact, { maxLength: 32 });
const sha = fc.uint8Array({ minLength: 32, maxLength: 32 });
const keyInfo: fc.Arbitrary<KeyInfo> = recWith<KeyInfo>({ name: arbName, size: fc.integer({ min: 0, max: 2 ** 40 }), sha256: sha, publisher: arbContact }, ['sha256', 'publisher']);

const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  rec({ type: fc.constant('ping' as const), from: arbContact, seq: u32, role: fc.constantFrom(0 as const, 1 as const, 2 as const), loud: fc.boolean() }),
  fc.oneof(
    rec({ type: fc.constant('pong' as const), from: arbContact, seq: u32, loud: fc.boolean(), successors: list }),
    rec({ type: fc.constant('pong' as const), from: arbContact, seq: u32, loud: fc.boolean(), successors: list, pred: arbContact }),
  ),
  rec({ type: fc.constant('join' as const), joiner: arbContact, hops }),
  rec({ type: fc.constant('join-accept' as const), from: arbContact, successors: list }),
  rec({ type: fc.constant('join-reject' as const), from: arbContact, reason: fc.string({ maxLength: 100 }).filter((r) => !/[\uD800-\uDFFF]/.test(r)) }),
  rec({ type: fc.constant('successor-change' as const), from: arbContact, successors: list }),
  rec({ type: fc.constant('depart' as const), from: arbContact, successors: list }),
  rec({ type: fc.constant('successor-query' as const), from: arbContact, qid: u32 }),
  rec({ type: fc.constant('successor-reply' as const), from: arbContact, qid: u32, successors: list }),
  rec({ type: fc.constant('store' as const), origin: arbContact, file: arbName, final: fc.boolean(), hops }),
  rec({ type: fc.constant('store-accepted' as const), from: arbContact, file: arbName, storeId: fc.string({ maxLength: 60 }).filter((r) => !/[\uD800-\uDFFF]/.test(r)) }),
  rec({ type: fc.constant('file-request' as const), requester: arbContact, file: arbName, rid: u32, final: fc.boolean(), hops, fallback: fc.integer({ min: 0, max: 255 }) }),
  rec({ type: fc.constant('file-missing' as const), from: arbContact, file: arbName, rid: u32 }),
  rec({ type: fc.constant('file-begin' as const), from: arbContact, file: arbName, rid: u32, purpose: fc.constantFrom('request' as const, 'store' as const, 'replica' as const), size: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }) }),
  rec({ type: fc.constant('file-begin' as const), from: arbContact, file: arbName, rid: u32, purpose: fc.constantFrom('request' as const, 'store' as const, 'replica' as const), size: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), sha256: sha }),
  rec({ type: fc.constant('file-data' as const), chunk: fc.uint8Array({ minLength: 1, maxLength: 2000 }) }),
  rec({ type: fc.constant('file-end' as const), sha256: sha }),
  rec({ type: fc.constant('lookup' as const), origin: arbContact, key: fc.bigInt({ min: 0n, max: 2n ** 160n - 1n }), lid: u32, final: fc.boolean(), hops }),
  rec({ type: fc.constant('lookup' as const), origin: arbContact, key: fc.bigInt({ min: 0n, max: 2n ** 160n - 1n }), lid: u32, final: fc.boolean(), hops, path: fc.array(fc.bigInt({ min: 0n, max: 2n ** 160n - 1n }), { maxLength: 64 }) }),
  rec({ type: fc.constant('lookup-reply' as const), from: arbContact, lid: u32, hops, successors: list, path: fc.array(fc.bigInt({ min: 0n, max: 2n ** 160n - 1n }), { maxLength: 64 }) }),
  rec({ type: fc.constant('lookup-reply' as const), from: arbContact, lid: u32, hops, successors: list }),
  recWith<MessageOf<'key-offer'>>({ type: fc.constant('key-offer' as const), from: arbContact, oid: u32, keys: fc.array(keyInfo, { maxLength: 20 }), leaving: fc.constant(true as const) }, ['leaving']),
  rec({ type: fc.constant('key-want' as const), from: arbContact, oid: u32, wid: u32, names: fc.array(arbName, { maxLength: 20 }), refused: fc.array(arbName, { maxLength: 20 }) }),
  rec({ type: fc.constant('file-busy' as const), from: arbContact, file: arbName, rid: u32, retryAfterMs: u32 }),
  fc.oneof(
    rec({ type: fc.constant('status-query' as const), from: arbContact, qid: u32 }),
    rec({ type: fc.constant('holds-query' as const), from: arbContact, qid: u32, file: arbName }),
    rec({ type: fc.constant('delete-request' as const), from: arbContact, qid: u32, file: arbName, nonce: u32 }),
    rec({ type: fc.constant('delete-confirm' as const), from: arbContact, qid: u32, file: arbName, nonce: u32 }),
    rec({ type: fc.constant('delete-reply' as const), from: arbContact, qid: u32, file: arbName, result: fc.constantFrom('deleted' as const, 'forbidden' as const, 'missing' as const, 'not-owner' as const) }),
    rec({ type: fc.constant('key-delete' as const), from: arbContact, file: arbName, sha256: sha }),
    arbName.chain((file) =>
      recWith<MessageOf<'holds-reply'>>(
        {
          type: fc.constant('holds-reply' as const),
          from: arbContact,
          qid: u32,
          file: fc.constant(file),
          record: recWith<Omit<KeyInfo, 'publisher'>>({ name: fc.constant(file), size: fc.integer({ min: 0, max: 2 ** 40 }), sha256: sha }, ['sha256']),
          successors: list,
          deleted: sha,
        },
        ['record', 'deleted'],
      ),
    ),
    rec({ type: fc.constant('decommission' as const), from: arbContact, qid: u32 }),
    rec({ type: fc.constant('decommission-reply' as const), from: arbContact, qid: u32, accepted: fc.boolean(), reason: fc.string({ maxLength: 100 }).filter((r) => !/[\uD800-\uDFFF]/.test(r)) }),
    recWith<MessageOf<'status-reply'>>(
      {
        type: fc.constant('status-reply' as const),
        from: arbContact,
        qid: u32,
        bits: fc.integer({ min: 8, max: 160 }),
        phase: fc.constantFrom('joining' as const, 'normal' as const, 'leaving' as const),
        pred: arbContact,
        successors: list,
        keys: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        bytes: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        shortOfK: fc.integer({ min: 0, max: 2 ** 32 }),
        handovers: fc.integer({ min: 0, max: 2 ** 32 }),
      },
      ['pred', 'shortOfK'],
    ),
  ),
);

test(`random messages of every type survive encode and decode (seed ${SEED})`, () => {
  fc.assert(
    fc.property(arbMessage, (m) => {
      const frame = encodeFrame(m);
      const d = decodeFrame(frame);
      assert.ok(d.ok, d.ok ? '' : d.error.message);
      assert.deepEqual(d.msg, m);
      // a frame decodes to the same bytes again: one encoding per message
      assert.deepEqual(encodeFrame(d.msg), frame);
    }),
    { ...params, numRuns: 2000 },
  );
});

test(`cut anywhere, a frame never decodes and never throws (seed ${SEED})`, () => {
  fc.assert(
    fc.property(arbMessage, fc.nat(), (m, at) => {
      const frame = encodeFrame(m);
      const cut = frame.subarray(0, at % frame.length);
      assert.equal(decodeFrame(cut).ok, false);
    }),
    params,
  );
});
