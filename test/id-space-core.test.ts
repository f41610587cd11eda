// The id space's intervals compare ids in place instead of computing modular distances: the
// answers must be those of the modular formulas, for every id (edges of the space included, and
// values outside it, as a remote peer of a larger space may send). Replay a failure with SEED=.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Id, IdSpace } from '../src/core/id-space.js';
import { bitLength } from '../src/core/routing/fingers.js';
import { idSpace } from '../src/space.js';

const SEED = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const params = { seed: SEED, numRuns: 3000 };

/** The formulas as they were: clockwise distances, mod the space's size. */
function modular(space: IdSpace) {
  const distance = (a: Id, b: Id) => {
    const d = (b - a) % space.size;
    return d < 0n ? d + space.size : d;
  };
  return {
    betweenOpen(a: Id, x: Id, b: Id): boolean {
      if (a === b) return x !== a;
      const d = distance(a, x);
      return d > 0n && d < distance(a, b);
    },
    betweenRightClosed(a: Id, x: Id, b: Id): boolean {
      if (a === b) return true;
      const d = distance(a, x);
      return d > 0n && d <= distance(a, b);
    },
    fartherFrom: (a: Id, x: Id, y: Id) => distance(a, x) > distance(a, y),
  };
}

/** Ids of the space, its edges often, a few shared values (so equal ids come up), and values outside it. */
function arbId(space: IdSpace): fc.Arbitrary<Id> {
  const n = space.size;
  const edges = [0n, 1n, 2n, n / 2n - 1n, n / 2n, n - 2n, n - 1n];
  const outside = [n, n + 1n, 2n * n - 1n, 2n * n, (1n << 160n) - 1n];
  return fc.oneof(
    { arbitrary: fc.bigInt({ min: 0n, max: n - 1n }), weight: 4 },
    { arbitrary: fc.constantFrom(...edges), weight: 3 },
    { arbitrary: fc.constantFrom(3n, 7n, n - 3n), weight: 1 },
    { arbitrary: fc.oneof(fc.constantFrom(...outside), fc.bigInt({ min: n, max: 1n << 161n })), weight: 1 },
  );
}

for (const bits of [8, 32, 160]) {
  const space = idSpace(bits);
  const old = modular(space);
  const id = arbId(space);

  test(`${bits}-bit space: the intervals compared in place answer as the modular formulas (seed ${SEED})`, () => {
    fc.assert(
      fc.property(id, id, id, (a, x, b) => {
        assert.equal(space.betweenOpen(a, x, b), old.betweenOpen(a, x, b), `betweenOpen(${a}, ${x}, ${b})`);
        assert.equal(space.betweenRightClosed(a, x, b), old.betweenRightClosed(a, x, b), `betweenRightClosed(${a}, ${x}, ${b})`);
        assert.equal(space.fartherFrom(a, x, b), old.fartherFrom(a, x, b), `fartherFrom(${a}, ${x}, ${b})`);
      }),
      params,
    );
  });

  test(`${bits}-bit space: every ordering of three edge ids answers as the modular formulas`, () => {
    const n = space.size;
    const ids = [0n, 1n, n / 2n, n - 2n, n - 1n];
    for (const a of ids) {
      for (const x of ids) {
        for (const b of ids) {
          assert.equal(space.betweenOpen(a, x, b), old.betweenOpen(a, x, b), `betweenOpen(${a}, ${x}, ${b})`);
          assert.equal(space.betweenRightClosed(a, x, b), old.betweenRightClosed(a, x, b), `betweenRightClosed(${a}, ${x}, ${b})`);
          assert.equal(space.fartherFrom(a, x, b), old.fartherFrom(a, x, b), `fartherFrom(${a}, ${x}, ${b})`);
        }
      }
    }
  });
}

test(`a finger's bit length is the length of the id in binary (seed ${SEED})`, () => {
  const edges = [0n, 1n, 2n, 3n, 0xffffffffn, 0x100000000n, 0x1ffffffffn, (1n << 159n) - 1n, 1n << 159n, (1n << 160n) - 1n];
  for (const n of edges) assert.equal(bitLength(n), n === 0n ? 0 : n.toString(2).length, `bitLength(${n})`);
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 160n) - 1n }), fc.integer({ min: 0, max: 160 }), (n, shift) => {
      const v = n >> BigInt(shift);
      assert.equal(bitLength(v), v === 0n ? 0 : v.toString(2).length, `bitLength(${v})`);
    }),
    params,
  );
});
