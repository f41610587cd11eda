// The operations shell without a ring: readiness rules, the HTTP routes, and metrics counted
// from a peer's traces and read from its snapshot (a stand-in peer that only emits and answers).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SPEC_SPACE } from '../src/core/id-space.js';
import type { Trace } from '../src/core/trace.js';
import { SEED_BACKOFF_MAX_MS, seedBackoffMs } from '../src/cli/node.js';
import { readiness, serveOps } from '../src/ops/http.js';
import { PeerMetrics } from '../src/ops/metrics.js';
import type { Peer, PeerSnapshot } from '../src/peer.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';

function snap(over: Partial<PeerSnapshot> = {}): PeerSnapshot {
  return { id: 200n, phase: 'active', successors: [10n], files: [], ...over };
}

function fakePeer(s: PeerSnapshot, inRing = true): Peer & { tell(t: Trace): void } {
  const e = new EventEmitter() as unknown as Peer & { tell(t: Trace): void };
  Object.assign(e, {
    id: s.id,
    space: SPEC_SPACE,
    isInRing: inRing,
    snapshot: () => s,
    transportStats: () => ({ transfersIn: 2 }),
    tell: (trace: Trace) => e.emit('trace', { id: s.id, at: 0, trace }),
  });
  return e;
}

describe('readiness', () => {
  const peer = (s: PeerSnapshot, inRing = true) => ({ isInRing: inRing, snapshot: () => s });

  test('ready in the ring with successors; a ring of one is ready when it was started alone', () => {
    assert.equal(readiness({ stopping: false, seeded: true, peer: peer(snap()) }).ready, true);
    assert.deepEqual(readiness({ stopping: false, seeded: false, peer: peer(snap({ successors: [] })) }), { ready: true, reason: 'a ring of one', phase: 'active', successors: 0 });
  });

  test('not ready while starting, joining, stopping, or alone after joining through seeds', () => {
    const cases = [
      readiness({ stopping: false, seeded: true }),
      readiness({ stopping: false, seeded: true, peer: peer(snap({ phase: 'joining', successors: [] }), false) }),
      readiness({ stopping: false, seeded: true, peer: peer(snap({ phase: 'stopped', successors: [] }), false) }),
      readiness({ stopping: true, seeded: true, peer: peer(snap()) }),
      readiness({ stopping: false, seeded: true, peer: peer(snap({ phase: 'leaving' }), true) }),
      readiness({ stopping: false, seeded: true, peer: peer(snap({ successors: [] })) }),
    ];
    assert.deepEqual(cases.map((r) => r.ready), [false, false, false, false, false, false]);
    assert.deepEqual(cases.map((r) => r.reason), [
      'starting',
      'not in a ring yet: joining through its seeds',
      'not in a ring yet: joining through its seeds',
      'stopping: leaving the ring',
      'not in the ring (leaving)',
      'no successor answers: this peer is alone, cut off from its ring',
    ]);
  });
});

describe('HTTP routes', () => {
  test('/healthz 200, /readyz 200 or 503 with the reason in JSON, /metrics as given, others 404', async () => {
    let ready = false;
    const ops = await serveOps({ host: '127.0.0.1', port: 0 }, { readiness: () => ({ ready, reason: ready ? 'in' : 'out' }), metrics: async () => 'm 1\n', metricsType: 'text/plain; version=0.0.4' });
    try {
      const url = (p: string) => `http://127.0.0.1:${ops.address.port}${p}`;
      assert.equal((await fetch(url('/healthz'))).status, 200);
      const no = await fetch(url('/readyz'));
      assert.equal(no.status, 503);
      assert.deepEqual(await no.json(), { ready: false, reason: 'out' });
      ready = true;
      assert.equal((await fetch(url('/readyz'))).status, 200);
      const m = await fetch(url('/metrics'));
      assert.equal(m.headers.get('content-type'), 'text/plain; version=0.0.4');
      assert.equal(await m.text(), 'm 1\n');
      assert.equal((await fetch(url('/nothing'))).status, 404);
      assert.equal((await fetch(url('/healthz'), { method: 'POST' })).status, 405);
    } finally {
      await ops.close();
    }
  });
});

describe('metrics', () => {
  test('counted from traces and read from the snapshot, in a registry of the peer\'s own', async () => {
    const s = snap({ pred1: 10n, successors: [10n, 40n], fingers: [40n, 90n], files: [{ name: '0150', key: 150n, size: 100 }, { name: '0005', key: 5n, size: 7 }] });
    const peer = fakePeer(s);
    const m = new PeerMetrics();
    m.follow(peer);
    peer.tell({ kind: 'lookup-result', key: 3n, owner: 10n, hops: 3 });
    peer.tell({ kind: 'lookup-result', key: 4n, hops: 0 });
    peer.tell({ kind: 'store-accepted', file: '0150', origin: 10n });
    // 1000 bytes arrive in two sampled reports and a completion; 500 go out, the last 200 unreported
    peer.tell({ kind: 'transfer-progress', file: '0150', peer: 10n, direction: 'in', bytes: 300, size: 1000 });
    peer.tell({ kind: 'transfer-progress', file: '0150', peer: 10n, direction: 'in', bytes: 800, size: 1000 });
    peer.tell({ kind: 'receive', file: '0150', from: 10n, purpose: 'store', phase: 'done', size: 1000 });
    peer.tell({ kind: 'transfer-progress', file: '0005', peer: 40n, direction: 'out', bytes: 300, size: 500 });
    peer.tell({ kind: 'serve', file: '0005', to: 40n, local: false, phase: 'sent' });
    peer.tell({ kind: 'leaving', told: [10n] });
    const e = parsePrometheus(await m.text());
    assert.equal(sampleValue(e, 'cdht_lookups_total', { result: 'found' }), 1);
    assert.equal(sampleValue(e, 'cdht_lookups_total', { result: 'failed' }), 1);
    assert.equal(sampleValue(e, 'cdht_lookup_hops_sum'), 3);
    assert.equal(sampleValue(e, 'cdht_stores_total', { role: 'owner' }), 1);
    assert.equal(sampleValue(e, 'cdht_transfer_bytes_total', { direction: 'in' }), 1000);
    assert.equal(sampleValue(e, 'cdht_transfer_bytes_total', { direction: 'out' }), 500);
    assert.equal(sampleValue(e, 'cdht_requests_total', { role: 'holder', result: 'sent' }), 1);
    assert.equal(sampleValue(e, 'cdht_handovers_total', { direction: 'out' }), 1);
    assert.equal(sampleValue(e, 'cdht_handovers_total', { direction: 'in' }), 0, 'labelled series start at 0');
    assert.equal(sampleValue(e, 'cdht_peers_known'), 3, '10, 40 and 90');
    assert.equal(sampleValue(e, 'cdht_successors_alive'), 2);
    assert.equal(sampleValue(e, 'cdht_keys_held'), 2);
    assert.equal(sampleValue(e, 'cdht_keys_owned'), 1, 'only 150 lies in (10, 200]');
    assert.equal(sampleValue(e, 'cdht_bytes_held'), 107);
    assert.equal(sampleValue(e, 'cdht_transfers_in_progress'), 2);
    assert.equal(sampleValue(e, 'cdht_in_ring'), 1);
    assert.equal(e.types.get('cdht_lookup_hops'), 'histogram');
    assert.ok((sampleValue(e, 'nodejs_eventloop_lag_seconds') ?? -1) >= 0, 'event-loop delay is measured');
    // a second peer's registry starts from nothing
    const other = parsePrometheus(await new PeerMetrics().text());
    assert.equal(sampleValue(other, 'cdht_lookups_total', { result: 'found' }), 0);
  });
});

test('seed rounds back off 1 s, 2 s, 4 s ... up to the cap', () => {
  assert.deepEqual([0, 1, 2, 3].map(seedBackoffMs), [1000, 2000, 4000, 8000]);
  assert.equal(seedBackoffMs(5), SEED_BACKOFF_MAX_MS);
  assert.equal(seedBackoffMs(10_000), SEED_BACKOFF_MAX_MS);
});

