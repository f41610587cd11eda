// Origin proofs on their own: the Node shell's signer and verifier (Ed25519 and P-256, real
// certificates from the ring's authority), the simulator's notary, and the core's rules of
// freshness and replay that both feed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ctx } from '../src/core/context.js';
import { defaultContact } from '../src/space.js';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { RoutedMessage } from '../src/core/messages.js';
import { proven } from '../src/core/origin.js';
import { MAX_SEEN_PROOFS, PROOF_WINDOW_MS } from '../src/core/routed-origins.js';
import { createAuthority, issuePeer, type KeyAlgorithm } from '../src/security/ca.js';
import { OriginSigner, OriginVerifier } from '../src/security/origin-proofs.js';
import { SimNotary } from '../src/transport/sim/origin-proofs.js';
import { decodeFrame, encodeFrame } from '../src/wire/index.js';

const nine = defaultContact(9n, '127.0.0.1', 40009);
const T = Date.now();
let counter = 1;
const random32 = () => counter++;

const messages: RoutedMessage[] = [
  { type: 'store', origin: nine, file: '2012', final: false, hops: 1 },
  { type: 'file-request', requester: nine, file: '2012', rid: 77, final: false, hops: 1, fallback: 1 },
  { type: 'lookup', origin: nine, key: 19n, lid: 5, final: false, hops: 1 },
  { type: 'join', joiner: nine, hops: 0 },
];

/** Changes one field a relay must not change. */
function tamper(m: RoutedMessage): RoutedMessage {
  switch (m.type) {
    case 'store':
      return { ...m, file: '2013' };
    case 'file-request':
      return { ...m, rid: m.rid + 1 };
    case 'lookup':
      return { ...m, key: 20n };
    case 'join':
      return { ...m, joiner: { ...m.joiner, port: m.joiner.port + 1 } };
  }
}

/** What relays change, and the proof survives: hops, final, fallback. */
function relay(m: RoutedMessage): RoutedMessage {
  const hopped = { ...m, hops: m.hops + 3 };
  if (hopped.type === 'join') return hopped;
  return hopped.type === 'file-request' ? { ...hopped, final: true, fallback: 0 } : { ...hopped, final: true };
}

for (const algorithm of ['Ed25519', 'P-256'] as KeyAlgorithm[]) {
  test(`${algorithm}: a proof verifies for its signer through relays, and not when a field, the key or the authority is wrong`, async () => {
    const ca = await createAuthority({ algorithm });
    const other = await createAuthority({ algorithm });
    const p9 = await issuePeer(ca, 9n);
    const p4 = await issuePeer(ca, 4n);
    const stranger9 = await issuePeer(other, 9n);
    const verifier = new OriginVerifier(ca.certPem);
    for (const m of messages) {
      const signed = new OriginSigner(p9, random32).sign(m, T);
      assert.equal(signed.proof?.sig.length, 64, 'r||s or an Ed25519 signature: 64 bytes');
      // through the wire and through relays it still verifies, for 9
      const wired = decodeFrame(encodeFrame(relay(signed)));
      assert.ok(wired.ok);
      const v = verifier.check(wired.msg as RoutedMessage, T);
      assert.deepEqual(v, { ok: true, signed: { by: 9n, at: signed.proof!.at, nonce: signed.proof!.nonce } }, `${m.type} verifies`);
      // a changed field
      const t = verifier.check({ ...tamper(m), proof: signed.proof! }, T);
      assert.equal(t.ok, false, `${m.type}: a changed field fails`);
      // a changed time or nonce (a replay dressed up as new)
      assert.equal(verifier.check({ ...m, proof: { ...signed.proof!, at: signed.proof!.at + 1 } }, T).ok, false);
      assert.equal(verifier.check({ ...m, proof: { ...signed.proof!, nonce: signed.proof!.nonce + 1 } }, T).ok, false);
      // 4's key with 9's certificate: the wrong key
      const by4 = new OriginSigner(p4, random32).sign(m, T);
      const wrongKey = verifier.check({ ...m, proof: { ...by4.proof!, cert: signed.proof!.cert } }, T);
      assert.equal(wrongKey.ok, false);
      if (!wrongKey.ok) assert.match(wrongKey.why, /signature does not match/);
      // 4 signing in its own name verifies, for 4 (the core refuses it as 9's word)
      const as4 = verifier.check(by4, T);
      assert.ok(as4.ok && as4.signed.by === 4n);
      // a certificate of another authority, even naming 9
      const foreign = verifier.check(new OriginSigner(stranger9, random32).sign(m, T), T);
      assert.equal(foreign.ok, false);
      if (!foreign.ok) assert.match(foreign.why, /not signed by the authority/);
      // a certificate out of its validity (here: checked 900 days on)
      const expired = verifier.check(signed, T + 900 * 86_400_000);
      assert.equal(expired.ok, false);
      if (!expired.ok) assert.match(expired.why, /not valid now/);
      // garbage where a certificate or signature belongs
      assert.equal(verifier.check({ ...m, proof: { ...signed.proof!, cert: Uint8Array.of(1, 2, 3) } }, T).ok, false);
      assert.equal(verifier.check({ ...m, proof: { ...signed.proof!, sig: Uint8Array.of(1) } }, T).ok, false);
    }
    assert.ok(verifier.cached <= 6, 'certificates are checked once and remembered by their hash');
  });
}

test('the simulator notary: only the origin endpoint can make a proof; a changed field or another ring fails', () => {
  const notary = new SimNotary();
  for (const m of messages) {
    const signed = notary.sign(m, 9n, 'ring A', 1000);
    const wired = decodeFrame(encodeFrame(relay(signed)));
    assert.ok(wired.ok);
    assert.deepEqual(notary.check(wired.msg as RoutedMessage, 'ring A'), { ok: true, signed: { by: 9n, at: 1000, nonce: signed.proof!.nonce } });
    assert.equal(notary.check({ ...tamper(m), proof: signed.proof! }, 'ring A').ok, false, 'a changed field');
    assert.equal(notary.check(signed, 'ring B').ok, false, 'another authority');
    // a made-up proof (what a forging member can write) does not check
    assert.equal(notary.check({ ...m, proof: { at: 1000, nonce: 1, cert: Uint8Array.of(1), sig: Uint8Array.of(1, 2) } }, 'ring A').ok, false);
  }
});

test('the core refuses stale, future, foreign and replayed proofs, and keeps its replay ledger bounded', () => {
  const ctx = new Ctx({ self: defaultContact(19n, '127.0.0.1', 40019), space: SPEC_SPACE, mode: { kind: 'init', successors: [] }, pingIntervalMs: 1000, pingMisses: 3, random32, storeId: 'x', secure: true });
  const o = ctx.origins;
  const via = { via: 'tcp' as const, src: defaultContact(4n, '127.0.0.1', 40004), authId: 4n };
  const store = (at: number): RoutedMessage => ({ type: 'store', origin: nine, file: '2012', final: true, hops: 4, proof: { at, nonce: 1, cert: Uint8Array.of(1), sig: Uint8Array.of(1) } });
  ctx.begin(T);
  const origin = (at: number, nonce: number, by = 9n) => ({ ...via, proof: proven({ by, at, nonce }) });
  assert.equal(o.problem(store(T - 1000), origin(T - 1000, 1)), undefined);
  assert.match(o.problem(store(T - PROOF_WINDOW_MS - 1), origin(T - PROOF_WINDOW_MS - 1, 1)) ?? '', /stale/);
  assert.match(o.problem(store(T + PROOF_WINDOW_MS + 1), origin(T + PROOF_WINDOW_MS + 1, 1)) ?? '', /ahead/);
  assert.match(o.problem(store(T), via) ?? '', /no origin proof/);
  assert.match(o.refuseToAct(store(T), origin(T, 1, 4n)) ?? '', /signed by Peer 4/);
  assert.match(o.refuseToAct(store(T), { ...via, proof: () => ({ ok: false, why: 'bad' }) }) ?? '', /refused \(bad\)/);
  const s = store(T - 1000);
  assert.equal(o.refuseToAct(s, origin(T - 1000, 1)), undefined, 'acted on once');
  assert.match(o.refuseToAct(s, origin(T - 1000, 1)) ?? '', /replay/, 'and not twice');
  assert.equal(o.refuseToAct(s, origin(T - 1000, 2)), undefined, 'another nonce is another message');
  // full: the oldest are forgotten, and anything no newer than them is refused as a possible replay
  for (let i = 0; i < MAX_SEEN_PROOFS + 10; i++) assert.equal(o.refuseToAct(s, origin(T - 500 + (i >> 8), 1000 + i)), undefined);
  assert.ok(o.size <= MAX_SEEN_PROOFS);
  assert.match(o.refuseToAct(s, origin(T - 1000, 3)) ?? '', /replay/, 'older than what was forgotten');
  // a later clock: stale entries go first
  ctx.begin(T + 2 * PROOF_WINDOW_MS);
  assert.equal(o.refuseToAct(s, origin(T + 2 * PROOF_WINDOW_MS, 1)), undefined);
  assert.equal(o.size, 1);
});
