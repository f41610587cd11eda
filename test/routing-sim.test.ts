// Routing at scale on the simulator, through the real protocol: Chord fingers reach every
// key's true owner in about ½·log2 N hops at 16 to 16384 peers (fixed seed); fix_fingers fills
// the tables by itself; the successor walk and shortcuts stay as the specification has them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScale } from '../src/scale.js';

const SEED = Number(process.env.SEED ?? 1);

for (const peers of [16, 256, 4096, 16384]) {
  test(`fingers at ${peers} peers: every lookup reaches the true owner in at most ½·log2 N + 0.5 hops on average`, async () => {
    const r = await runScale({ peers, bits: 32, routing: 'fingers', lookups: 1000, seed: SEED });
    assert.equal(r.peers, peers);
    assert.equal(r.failures, 0, `${r.failures} of ${r.lookups} lookups missed the owner (seed ${SEED})`);
    assert.ok(r.meanHops <= r.halfLog2N + 0.5, `mean ${r.meanHops.toFixed(2)} hops > ${r.halfLog2N} + 0.5 (seed ${SEED})`);
    assert.ok(r.meanHops > 0);
  });
}

test('fix_fingers builds the tables from nothing: 256 peers after 40 s of virtual time', async () => {
  const r = await runScale({ peers: 256, bits: 32, routing: 'fingers', lookups: 500, seed: SEED, fingers: 'protocol', warmupMs: 40_000 });
  assert.equal(r.failures, 0);
  assert.ok(r.meanHops <= r.halfLog2N + 0.5, `mean ${r.meanHops.toFixed(2)}`);
});

test('on a private ring too: fix_fingers builds the tables with lookups that carry their origin proofs (128 peers)', async () => {
  const r = await runScale({ peers: 128, bits: 32, routing: 'fingers', lookups: 300, seed: SEED, fingers: 'protocol', warmupMs: 40_000, secure: true });
  assert.equal(r.failures, 0);
  assert.ok(r.meanHops <= r.halfLog2N + 0.5, `mean ${r.meanHops.toFixed(2)}`);
});

test('in the 8-bit space the successor walk takes about N/2 hops and shortcuts about half that', async () => {
  const walk = await runScale({ peers: 64, bits: 8, routing: 'successor', lookups: 400, seed: SEED });
  const short = await runScale({ peers: 64, bits: 8, routing: 'shortcuts', lookups: 400, seed: SEED });
  const fingers = await runScale({ peers: 64, bits: 8, routing: 'fingers', lookups: 400, seed: SEED });
  for (const r of [walk, short, fingers]) assert.equal(r.failures, 0, r.routing);
  assert.ok(walk.meanHops > 24 && walk.meanHops < 40, `successor walk: ${walk.meanHops}`);
  assert.ok(short.meanHops < walk.meanHops * 0.65, `shortcuts: ${short.meanHops} vs ${walk.meanHops}`);
  assert.ok(fingers.meanHops <= fingers.halfLog2N + 0.5, `fingers in 8 bits: ${fingers.meanHops}`);
});
