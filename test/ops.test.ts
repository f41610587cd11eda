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
import type { Peer, PeerSnapshot, ReplicationStatus } from '../src/peer.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import * as dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { createTestnet } from '../src/testnet.js';
import { createThrowawayRing } from '../src/security/tls.js';
import type { PeerRefused } from '../src/peer.js';
import { closed, rawTcp, within } from './helpers/endpoints.js';
import { freeBasePort } from './helpers/ports.js';
import { encodeLink } from '../src/wire/index.js';

function snap(over: Partial<PeerSnapshot> = {}): PeerSnapshot {
  return { id: 200n, phase: 'active', successors: [10n], files: [], ...over };
}

const REPLICATED: ReplicationStatus = { k: 3, replicaHolders: 2, owned: 1, shortOfK: 0, handovers: 0, unanswered: [] };

function fakePeer(s: PeerSnapshot, inRing = true, repl: ReplicationStatus = REPLICATED): Peer & { tell(t: Trace): void; refuse(reason: string): void } {
  const e = new EventEmitter() as unknown as Peer & { tell(t: Trace): void; refuse(reason: string): void };
  Object.assign(e, {
    id: s.id,
    space: SPEC_SPACE,
    isInRing: inRing,
    snapshot: () => s,
    replicationStatus: () => repl,
    transportStats: () => ({ transfersIn: 2 }),
    tell: (trace: Trace) => e.emit('trace', { id: s.id, at: 0, trace }),
    refuse: (reason: string) => e.emit('refused', { id: s.id, reason, source: '127.0.0.1:9' }),
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

describe('readiness: keys short of k', () => {
  const peer = (r: ReplicationStatus, s = snap()) => ({ isInRing: true, snapshot: () => s, replicationStatus: () => r });

  test('every owned key at k copies: ready, with the counts', () => {
    const r = readiness({ stopping: false, seeded: true, peer: peer({ k: 3, replicaHolders: 2, owned: 4, shortOfK: 0, handovers: 0, unanswered: [] }) });
    assert.deepEqual(r, { ready: true, reason: 'in the ring, successors answering, every key it owns at k=3 copies', phase: 'active', successors: 1, k: 3, keysOwned: 4, keysShortOfK: 0, repairing: false });
  });

  test('keys short while copies are on their way to live replica holders: repair under way, ready', () => {
    const r = readiness({ stopping: false, seeded: true, peer: peer({ k: 3, replicaHolders: 2, owned: 4, shortOfK: 3, handovers: 0, unanswered: [] }) });
    assert.equal(r.ready, true);
    assert.equal(r.repairing, true);
    assert.equal(r.keysShortOfK, 3);
    assert.match(r.reason, /repair under way: 3 keys being copied to reach k=3$/);
  });

  test('a successor it pings leaves pings unanswered: 503 naming it (its copies may be gone)', () => {
    const r = readiness({ stopping: false, seeded: true, peer: peer({ k: 3, replicaHolders: 2, owned: 5, shortOfK: 0, handovers: 0, unanswered: [{ peer: 10n, misses: 2 }] }) });
    assert.equal(r.ready, false);
    assert.equal(r.reason, 'successor Peer 10 does not answer (2 pings missed): the copies it holds may be gone until it is declared dead and replaced');
    // a peer no longer in the list (declared dead, replaced) no longer counts
    assert.equal(readiness({ stopping: false, seeded: true, peer: peer({ k: 3, replicaHolders: 2, owned: 5, shortOfK: 0, handovers: 0, unanswered: [{ peer: 77n, misses: 2 }] }) }).ready, true);
  });

  test('keys short with too few live successors for k - 1 copies: ready (a small ring must be able to grow), the shortage said', () => {
    const r = readiness({ stopping: false, seeded: true, peer: peer({ k: 3, replicaHolders: 1, owned: 5, shortOfK: 5, handovers: 0, unanswered: [] }) });
    assert.equal(r.ready, true);
    assert.equal(r.repairing, false);
    assert.deepEqual([r.keysOwned, r.keysShortOfK], [5, 5]);
    assert.equal(r.reason, 'in the ring, successors answering; 5 keys it owns short of k=3 copies: only 1 live successor to hold the other 2 (the ring is smaller than k, or refilling its successors); copied once peers join');
    const alone = readiness({ stopping: false, seeded: false, peer: peer({ k: 2, replicaHolders: 0, owned: 1, shortOfK: 1, handovers: 0, unanswered: [] }, snap({ successors: [] })) });
    assert.equal(alone.ready, true);
    assert.match(alone.reason, /^a ring of one; 1 key it owns short of k=2 copies: no live successor to hold the other 1/);
  });

  test('no keys of its own, or k = 1: nothing can be short', () => {
    assert.equal(readiness({ stopping: false, seeded: false, peer: peer({ k: 3, replicaHolders: 0, owned: 0, shortOfK: 0, handovers: 0, unanswered: [] }, snap({ successors: [] })) }).reason, 'a ring of one');
    assert.equal(readiness({ stopping: false, seeded: true, peer: peer({ k: 1, replicaHolders: 0, owned: 9, shortOfK: 0, handovers: 0, unanswered: [] }) }).ready, true);
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
    peer.tell({ kind: 'lookup-result', key: 3n, owner: 10n, hops: 3, ms: 4 });
    peer.tell({ kind: 'lookup-result', key: 4n, hops: 0, ms: 5000 });
    peer.refuse('undecodable');
    peer.refuse('undecodable');
    peer.refuse('tls-handshake');
    peer.tell({ kind: 'store-accepted', file: '0150', origin: 10n });
    // 1000 bytes arrive in two sampled reports and a completion; 500 go out, the last 200 unreported
    peer.tell({ kind: 'transfer-progress', file: '0150', peer: 10n, direction: 'in', bytes: 300, size: 1000 });
    peer.tell({ kind: 'transfer-progress', file: '0150', peer: 10n, direction: 'in', bytes: 800, size: 1000 });
    peer.tell({ kind: 'receive', file: '0150', from: 10n, purpose: 'store', phase: 'done', size: 1000 });
    peer.tell({ kind: 'transfer-progress', file: '0005', peer: 40n, direction: 'out', bytes: 300, size: 500 });
    peer.tell({ kind: 'serve', file: '0005', to: 40n, local: false, phase: 'sent' });
    peer.tell({ kind: 'leaving', told: [10n] });
    peer.tell({ kind: 'dropped', message: 'ping', from: 66n, reason: 'not the peer that sent it' });
    peer.tell({ kind: 'dropped', message: 'ping', from: 67n, reason: 'not the peer that sent it' });
    peer.tell({ kind: 'dropped', message: 'store', file: '0150', from: 66n, reason: 'not the peer that sent it' });
    const e = parsePrometheus(await m.text());
    assert.equal(sampleValue(e, 'cdht_dropped_total', { message: 'ping' }), 2);
    assert.equal(sampleValue(e, 'cdht_dropped_total', { message: 'store' }), 1);
    assert.equal(sampleValue(e, 'cdht_dropped_total', { message: 'depart' }), 0, 'every message type shows from the start');
    assert.equal(sampleValue(e, 'cdht_lookups_total', { result: 'found' }), 1);
    assert.equal(sampleValue(e, 'cdht_lookups_total', { result: 'failed' }), 1);
    assert.equal(sampleValue(e, 'cdht_lookup_hops_sum'), 3);
    assert.equal(e.types.get('cdht_lookup_duration_seconds'), 'histogram');
    assert.equal(sampleValue(e, 'cdht_lookup_duration_seconds_sum', { result: 'found' }), 0.004);
    assert.equal(sampleValue(e, 'cdht_lookup_duration_seconds_bucket', { result: 'found', le: '0.005' }), 1);
    assert.equal(sampleValue(e, 'cdht_lookup_duration_seconds_bucket', { result: 'found', le: '0.0025' }), 0);
    assert.equal(sampleValue(e, 'cdht_lookup_duration_seconds_count', { result: 'failed' }), 1);
    assert.equal(sampleValue(e, 'cdht_refused_total', { reason: 'undecodable' }), 2);
    assert.equal(sampleValue(e, 'cdht_refused_total', { reason: 'tls-handshake' }), 1);
    assert.equal(sampleValue(e, 'cdht_refused_total', { reason: 'oversize' }), 0, 'every reason shows from the start');
    assert.equal(sampleValue(e, 'cdht_tls_handshake_failures_total', { reason: 'handshake' }), 1);
    assert.equal(sampleValue(e, 'cdht_tls_handshake_failures_total', { reason: 'certificate' }), 0);
    assert.equal(sampleValue(e, 'cdht_keys_short_of_k'), 0);
    assert.equal(sampleValue(e, 'cdht_handovers_pending'), 0);
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

describe('metrics on real sockets (127.0.0.1)', () => {
  /** The next refusal `peer` reports (the transport's typed reason), bounded. */
  const refusal = (peer: Peer) => within(once(peer, 'refused') as Promise<[PeerRefused]>, 'a refusal').then(([r]) => r);

  test('a lookup moves the lookup counters, hops and latency; an undecodable datagram and a bad first frame move cdht_refused_total', { timeout: 60_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cdht-ops-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const net = await createTestnet({ runtime: 'node', ids: [10, 200], pingIntervalMs: 500, basePort: await freeBasePort([10, 200]), dataDir, perPeerDirs: true });
    t.after(() => net.close());
    const peer = net.peer(10)!;
    const m = new PeerMetrics();
    m.follow(peer);
    const before = parsePrometheus(await m.text());
    assert.equal(sampleValue(before, 'cdht_lookup_duration_seconds_count', { result: 'found' }), undefined, 'no lookup yet');
    const found = await within(peer.lookup(150), 'the lookup of key 150');
    assert.equal(found.owner.id, 200n);
    // the trace is counted as the answer comes: read the scrape after the promise settles
    const e = parsePrometheus(await m.text());
    assert.equal(sampleValue(e, 'cdht_lookups_total', { result: 'found' }), 1);
    assert.equal(sampleValue(e, 'cdht_lookup_duration_seconds_count', { result: 'found' }), 1);
    assert.ok(sampleValue(e, 'cdht_lookup_duration_seconds_sum', { result: 'found' })! < 30);
    assert.equal(sampleValue(e, 'cdht_lookup_hops_count'), 1);
    assert.equal(sampleValue(e, 'cdht_lookup_hops_sum'), found.hops);
    assert.equal(sampleValue(e, 'cdht_refused_total', { reason: 'undecodable' }), 0);

    // three bytes that are no frame, as a datagram to its UDP port
    const udp = dgram.createSocket('udp4');
    t.after(() => udp.close());
    const r1 = refusal(peer);
    udp.send(Buffer.from([1, 2, 3]), net.contactOf(10).port, '127.0.0.1');
    assert.equal((await r1).reason, 'undecodable');
    // a connection whose first frame is a link frame other than hello: not allowed to open one
    const tcp = await rawTcp(net.contactOf(10).port);
    const r2 = refusal(peer);
    tcp.write(encodeLink({ type: 'ack', count: 1 }));
    const second = await r2;
    await within(closed(tcp), 'the refused connection to close');
    const after = parsePrometheus(await m.text());
    assert.equal(sampleValue(after, 'cdht_refused_total', { reason: 'undecodable' }), 1);
    assert.equal(second.reason, 'not-allowed');
    assert.equal(sampleValue(after, 'cdht_refused_total', { reason: 'not-allowed' }), 1);
  });

  test('a plain TCP client at a private ring\'s peer, and a peer dialing a server that is no TLS: TLS handshake failures, counted', { timeout: 60_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'cdht-ops-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const ring = await createThrowawayRing();
    const ids = [30n];
    const identities = new Map(await Promise.all([30n, 31n].map(async (id) => [id, await ring.identityFor(id)] as const)));
    const net = await createTestnet({ runtime: 'node', ids, secure: true, identityFor: (id) => identities.get(id)!, pingIntervalMs: 500, basePort: await freeBasePort([30, 31]), dataDir, perPeerDirs: true });
    t.after(() => net.close());
    const peer = net.peer(30)!;
    const m = new PeerMetrics();
    m.follow(peer);
    assert.equal(sampleValue(parsePrometheus(await m.text()), 'cdht_tls_handshake_failures_total', { reason: 'handshake' }), 0);
    const plain = await rawTcp(net.contactOf(30).port);
    const r = refusal(peer);
    plain.write('GET / HTTP/1.0\r\n\r\n');
    assert.equal((await r).reason, 'tls-handshake');
    await within(closed(plain), 'the plain connection to close');
    const e = parsePrometheus(await m.text());
    assert.equal(sampleValue(e, 'cdht_tls_handshake_failures_total', { reason: 'handshake' }), 1);
    assert.equal(sampleValue(e, 'cdht_refused_total', { reason: 'tls-handshake' }), 1);

    // the other way: this peer dials something that answers TCP but speaks no TLS
    const fake = createServer((sock) => sock.end('not TLS at all\r\n'));
    await new Promise<void>((res) => fake.listen(0, '127.0.0.1', res));
    t.after(() => fake.close());
    const port = (fake.address() as AddressInfo).port;
    // a join through the fake address: the joiner's first message dials it over TLS
    const joiner = net.start({ id: 31n, mode: { kind: 'join', known: { host: '127.0.0.1', port } } });
    const jm = new PeerMetrics();
    jm.follow(joiner);
    const r2 = await within(once(joiner, 'refused') as Promise<[PeerRefused]>, 'the joiner\'s failed handshake').then(([x]) => x);
    assert.equal(r2.reason, 'tls-dial');
    const je = parsePrometheus(await jm.text());
    assert.equal(sampleValue(je, 'cdht_tls_handshake_failures_total', { reason: 'dial' }), 1);
    assert.equal(je.samples.filter((s) => s.name === 'cdht_refused_total').reduce((n, s) => n + s.value, 0), 0, 'a dial of its own is no refused input');
  });
});

test('seed rounds back off 1 s, 2 s, 4 s ... up to the cap', () => {
  assert.deepEqual([0, 1, 2, 3].map(seedBackoffMs), [1000, 2000, 4000, 8000]);
  assert.equal(seedBackoffMs(5), SEED_BACKOFF_MAX_MS);
  assert.equal(seedBackoffMs(10_000), SEED_BACKOFF_MAX_MS);
});

