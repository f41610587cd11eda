// The Node transport on an open ring, on real sockets: one long-lived connection per neighbour,
// delivery acknowledged hop by hop (and refused when it cannot be), idle connections closed
// without losing a message, files beside messages, and the bounds that hold under abuse.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { FileBegin, Message } from '../src/core/messages.js';
import { encodeFrame, encodeLink } from '../src/wire/index.js';
import type { NodeEndpoint } from '../src/transport/node/endpoint.js';
import { closed, eventually, openPeer, rawTcp, until, within, type TestPeer } from './helpers/endpoints.js';
import { freeBasePort } from './helpers/ports.js';

const HOST = '127.0.0.1';
const ATTACKER = '127.0.0.2';
const OTHER_ATTACKER = '127.0.0.3';
const IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];
const BASE = await freeBasePort(IDS);
const T = { timeout: 180_000 };

function contact(id: number): Contact {
  assert.ok(IDS.includes(id), `id ${id} is missing from IDS`);
  return { id: BigInt(id), host: HOST, port: BASE + id };
}

const query = (from: Contact, qid: number): Message => ({ type: 'successor-query', from, qid });
const qids = (p: TestPeer): number[] => p.rec.messages.map((m) => (m.msg.type === 'successor-query' ? m.msg.qid : -1));

/** A server that reads everything and never answers: a peer that hangs without closing. */
async function silentServer(t: TestContext, port: number): Promise<{ server: net.Server; sockets: net.Socket[]; received: () => number }> {
  const sockets: net.Socket[] = [];
  let bytes = 0;
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.on('data', (b) => (bytes += b.length));
  });
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  t.after(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { server, sockets, received: () => bytes };
}

test('every message to a neighbour travels on one connection, and each is acknowledged', T, async (t) => {
  const a = await openPeer(t, contact(1));
  const b = await openPeer(t, contact(2));
  for (let i = 0; i < 50; i++) await within(a.ep.sendMessage(b.me, query(a.me, i)), `message ${i}`);
  await within(Promise.all(Array.from({ length: 150 }, (_, i) => a.ep.sendMessage(b.me, query(a.me, 50 + i)))), '150 at once');
  assert.deepEqual(qids(b), [...Array(200).keys()], 'all delivered, in order');
  assert.equal(b.stats().acceptedTotal, 1, 'one connection accepted for 200 messages');
  assert.equal(a.stats().dialedTotal, 1);
  // Open ring: an inbound connection proves nothing about who opened it, so b dials its own.
  await within(b.ep.sendMessage(a.me, query(b.me, 0)), 'the reply');
  assert.equal(b.stats().dialedTotal, 1);
  assert.equal(a.stats().acceptedTotal, 1);
  for (let i = 1; i < 20; i++) await within(b.ep.sendMessage(a.me, query(b.me, i)), `reply ${i}`);
  assert.equal(a.stats().acceptedTotal, 1, 'and keeps using it');
});

test('no acknowledgement in time: the send is rejected and the connection dropped', T, async (t) => {
  const a = await openPeer(t, contact(3), { limits: { ackTimeoutMs: 300 } });
  const hang = await silentServer(t, contact(4).port);
  const t0 = performance.now();
  await assert.rejects(within(a.ep.sendMessage(contact(4), query(a.me, 1)), 'the send'), (err: { code?: string; message: string }) => {
    assert.equal(err.code, 'CDHT_ERR_UNREACHABLE');
    assert.match(err.message, /no acknowledgement within 300 ms/);
    return true;
  });
  assert.ok(performance.now() - t0 >= 290, 'not before the bound');
  assert.ok(hang.received() > 0, 'the message was written');
  await within(closed(hang.sockets[0]!), 'the connection to be dropped');
});

test('a peer that dies with messages unacknowledged: every pending send is rejected at once', T, async (t) => {
  // an hour to acknowledge: a send rejected at all was rejected by the close, never by the deadline
  const a = await openPeer(t, contact(5), { limits: { ackTimeoutMs: 3_600_000 } });
  const hang = await silentServer(t, contact(6).port);
  const sends = Array.from({ length: 5 }, (_, i) => a.ep.sendMessage(contact(6), query(a.me, i)));
  const outcomes = Promise.allSettled(sends);
  await eventually('the messages to arrive', () => hang.received() > 0 && hang.sockets.length === 1);
  hang.sockets[0]!.destroy(); // the peer's process is gone
  const results = await within(outcomes, 'the sends to settle');
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.equal((r as PromiseRejectedResult).reason.code, 'CDHT_ERR_UNREACHABLE');
  }
  // A real endpoint that closed: the next send fails fast too (nothing listens).
  const b = await openPeer(t, contact(7));
  await within(a.ep.sendMessage(b.me, query(a.me, 9)), 'a first message');
  await b.ep.close();
  await assert.rejects(within(a.ep.sendMessage(b.me, query(a.me, 10)), 'a send to a closed peer'), { code: 'CDHT_ERR_UNREACHABLE' });
});

test('idle connections close from either side with a goaway, and the next message opens a new one', T, async (t) => {
  const a = await openPeer(t, contact(8), { limits: { idleCloseMs: 200 } });
  const b = await openPeer(t, contact(9));
  await within(a.ep.sendMessage(b.me, query(a.me, 0)), 'first');
  await eventually('both ends to close the idle link', () => a.stats().links === 0 && b.stats().links === 0);
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'after the close');
  assert.equal(b.stats().acceptedTotal, 2);
  // Now the receiving side is the one that idles out first.
  const c = await openPeer(t, contact(10), { limits: { idleCloseMs: 200 } });
  await within(a.ep.sendMessage(c.me, query(a.me, 2)), 'to c');
  await eventually('c to close it', () => c.stats().links === 0 && a.stats().links <= 1);
  await within(a.ep.sendMessage(c.me, query(a.me, 3)), 'to c again');
  assert.deepEqual(qids(b), [0, 1]);
  assert.deepEqual(qids(c), [2, 3]);
  assert.deepEqual([...a.rec.bad, ...b.rec.bad, ...c.rec.bad], []);
});

/** A TCP relay to `port` that passes at most `bytesPerMs` on: a slow link for one connection only. */
async function slowRelay(t: TestContext, port: number, bytesPerMs: number): Promise<number> {
  const server = net.createServer((client) => {
    const upstream = net.connect(port, HOST);
    const t0 = performance.now();
    let passed = 0;
    client.on('data', (d: Buffer) => {
      passed += d.length;
      upstream.write(d);
      const ahead = passed / bytesPerMs - (performance.now() - t0);
      if (ahead > 0) {
        client.pause();
        setTimeout(() => client.resume(), ahead);
      }
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on('end', () => b.end());
      a.on('error', () => b.destroy());
      a.on('close', () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

test('a file transfer beside messages does not delay them', T, async (t) => {
  const a = await openPeer(t, contact(11));
  const b = await openPeer(t, contact(12));
  const size = 48 * 1024 * 1024;
  const block = randomBytes(1024 * 1024);
  const big = Buffer.concat(Array.from({ length: size / block.length }, () => block));
  await writeFile(join(a.dir, 'big.pdf'), big);
  b.rec.saveAs = () => 'big.pdf';
  await within(a.ep.sendMessage(b.me, query(a.me, 0)), 'the link'); // the neighbour link exists already
  // The file crosses a 64 MB/s link of its own (about 0.8 s); the messages go straight to b.
  const relay = await slowRelay(t, b.me.port, 64_000);
  const header: FileBegin = { type: 'file-begin', from: a.me, file: '4103', rid: 1, purpose: 'request', size };
  const t0 = performance.now();
  const sending = a.ep.sendFile({ host: HOST, port: relay, id: b.me.id }, header, 'big.pdf');
  await until('the transfer to start', () => b.rec.progress.length > 0);
  const latencies: number[] = [];
  for (let i = 1; i <= 20; i++) {
    const m0 = performance.now();
    await within(a.ep.sendMessage(b.me, query(a.me, i)), `message ${i}`);
    latencies.push(performance.now() - m0);
  }
  const doneBeforeMessages = b.rec.done.length;
  await within(sending, 'the file', 60_000);
  const fileMs = performance.now() - t0;
  assert.equal(doneBeforeMessages, 0, 'the messages were acknowledged while the file was still on its way');
  assert.ok(Math.max(...latencies) < Math.min(500, fileMs / 2), `message latencies during a ${fileMs.toFixed(0)} ms transfer: ${latencies.map((x) => x.toFixed(1)).join(', ')} ms`);
  assert.equal(b.stats().acceptedTotal, 2, 'one link for messages, one connection for the file');
  assert.deepEqual(b.rec.done.map((d) => d.result), [{ ok: true, sha256: createHash('sha256').update(big).digest() }]);
  assert.ok(b.rec.progress.length <= 1 + Math.ceil(fileMs / 250) + 1, `progress is reported at most four times a second (${b.rec.progress.length} in ${fileMs.toFixed(0)} ms)`);
});

/**
 * A connection from `localAddress` that announces a `total`-byte frame, sends `first` bytes of it,
 * then one byte every `everyMs`; with `hello`, a well-behaved first frame comes before.
 */
async function trickle(port: number, localAddress: string, total: number, first: number, everyMs: number, hello = false): Promise<net.Socket> {
  const sock = await rawTcp(port, { localAddress });
  if (hello) sock.write(encodeLink({ type: 'hello' }));
  const frame = Buffer.alloc(total);
  frame.writeUInt32BE(total - 4, 0);
  frame[4] = 2;
  frame[5] = 3; // a join, which is never this long
  sock.write(frame.subarray(0, first));
  let at = first;
  const timer = setInterval(() => {
    if (sock.destroyed || at >= total - 1) return clearInterval(timer);
    sock.write(frame.subarray(at, ++at));
  }, everyMs);
  sock.once('close', () => clearInterval(timer));
  return sock;
}

test('slow partial frames from many connections: dropped at the frame deadline, memory capped, neighbours served', T, async (t) => {
  const limits = { frameDeadlineMs: 600, firstFrameTimeoutMs: 600, maxInboundPerHost: 16, maxBufferedBytesPerHost: 256 * 1024 };
  const b = await openPeer(t, contact(13), { limits });
  const a = await openPeer(t, contact(14));
  // Half open with a hello, so their trickle meets the per-frame deadline rather than the first-frame one.
  const attackers = await Promise.all(Array.from({ length: 64 }, (_, i) => trickle(b.me.port, ATTACKER, 60 * 1024, 1000, 100, i % 2 === 0)));
  t.after(() => attackers.forEach((s) => s.destroy()));
  let maxBuffered = 0;
  const latencies: number[] = [];
  for (let i = 0; i < 20; i++) {
    maxBuffered = Math.max(maxBuffered, b.stats().bufferedBytes);
    const t0 = performance.now();
    await within(a.ep.sendMessage(b.me, query(a.me, i)), `message ${i} during the attack`);
    latencies.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 25)); // spread the messages over the attack
  }
  assert.ok(Math.max(...latencies) < 500, `a neighbour's messages stay prompt: ${latencies.map((x) => x.toFixed(1)).join(', ')} ms`);
  assert.deepEqual(qids(b), [...Array(20).keys()]);
  assert.ok(maxBuffered <= limits.maxBufferedBytesPerHost, `buffered ${maxBuffered} bytes`);
  // Every attacker connection is gone within the deadlines, none held for the trickle's length.
  await Promise.all(attackers.map((s) => within(closed(s), 'an attacker connection to be dropped', 5000)));
  assert.ok(b.rec.bad.some((x) => /did not arrive whole within 600 ms/.test(x.detail) && x.source?.startsWith(ATTACKER)), 'frame deadline lines name the attacker');
  assert.ok(b.rec.bad.some((x) => /no whole frame within 600 ms/.test(x.detail) && x.source?.startsWith(ATTACKER)), 'first-frame deadline lines too');
  assert.ok(b.rec.bad.some((x) => /closed to make room \(127\.0\.0\.2 holds 16 connections\)/.test(x.detail)), 'connections beyond the per-host cap made room within their own host');
  await eventually('memory held for partial frames to be freed', () => b.stats().bufferedBytes === 0);

  // Announcing a 1 MiB frame on a message connection fails on the length prefix alone.
  const huge = await trickle(b.me.port, ATTACKER, 1024 * 1024, 6, 1000);
  await within(closed(huge), 'the 1 MiB announcement to be refused');
  assert.ok(b.rec.bad.some((x) => /exceeds/.test(x.detail)));
});

test('partial frames have a per-host memory cap, freed when the connections end', T, async (t) => {
  const cap = 256 * 1024;
  const b = await openPeer(t, contact(15), { limits: { maxBufferedBytesPerHost: cap, frameDeadlineMs: 30_000 } });
  const a = await openPeer(t, contact(16));
  const socks = await Promise.all(Array.from({ length: 16 }, () => rawTcp(b.me.port, { localAddress: ATTACKER })));
  t.after(() => socks.forEach((s) => s.destroy()));
  const frame = Buffer.alloc(64 * 1024 - 4);
  frame.writeUInt32BE(frame.length - 4, 0);
  frame[4] = 2;
  frame[5] = 3;
  for (const s of socks) s.write(frame.subarray(0, 60 * 1024));
  await until('connections over the cap to be dropped', () => b.rec.bad.some((x) => /partial frames would hold more than 262144 bytes for 127\.0\.0\.2/.test(x.detail)));
  await eventually('the rest of the burst to be read', () => b.stats().bufferedBytes > 0 && socks.some((s) => s.destroyed) && socks.filter((s) => !s.destroyed).length * 60 * 1024 <= cap + 64 * 1024);
  assert.ok(b.stats().bufferedBytes <= cap, `held ${b.stats().bufferedBytes} bytes`);
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'a neighbour gets through meanwhile', 1000);
  for (const s of socks) s.destroy();
  await eventually('every partial frame to be released', () => b.stats().bufferedBytes === 0);
});

test('one host cannot take every slot: strangers capped per host and in their share, evicted from the busiest host; a member keeps its slot', T, async (t) => {
  const limits = { maxInboundConnections: 24, memberSlots: 8, maxInboundPerHost: 16, firstFrameTimeoutMs: 30_000 };
  const b = await openPeer(t, contact(17), { limits });
  const a = await openPeer(t, contact(18));
  (b.ep as NodeEndpoint).setMembers([a.me]);
  const first = await Promise.all(Array.from({ length: 40 }, () => rawTcp(b.me.port, { localAddress: ATTACKER })));
  t.after(() => first.forEach((s) => s.destroy()));
  // each connection over the per-host cap closes that host's oldest: the host keeps 16
  await eventually('the per-host cap to hold', () => first.filter((s) => s.destroyed).length === 24 && b.stats().inbound === 16);
  assert.ok(b.rec.bad.some((x) => /closed to make room \(127\.0\.0\.2 holds 16 connections\)/.test(x.detail)));
  // the strangers' share is 24 - 8 = 16: a second host takes half of it from the busiest
  const second = await Promise.all(Array.from({ length: 8 }, () => rawTcp(b.me.port, { localAddress: OTHER_ATTACKER })));
  t.after(() => second.forEach((s) => s.destroy()));
  await eventually('the strangers\' slots to be shared', () => first.filter((s) => !s.destroyed).length === 8 && b.stats().inbound === 16);
  assert.ok(second.every((s) => !s.destroyed), 'the newcomers from the other host stay');
  // a member (its first message names it, at its own host) gets a slot of the members' share
  // no stranger lets go of a slot here, so a member made to wait for one would never be answered
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'a member while the strangers\' share is full');
  await eventually('the member\'s connection to count as a member\'s', () => b.stats().memberInbound === 1);
  // more strangers never evict it: its link carries the next message, no new connection is made
  const third = await Promise.all(Array.from({ length: 24 }, () => rawTcp(b.me.port, { localAddress: OTHER_ATTACKER })));
  t.after(() => third.forEach((s) => s.destroy()));
  await eventually('the strangers to churn among themselves', () => b.stats().inbound === 17 && second.every((s) => s.destroyed));
  await within(a.ep.sendMessage(b.me, query(a.me, 2)), 'the member again', 2000);
  assert.equal(a.stats().dialedTotal, 1, 'one connection all along');
  assert.equal(b.stats().memberInbound, 1);
  assert.ok(b.rec.bad.filter((x) => /closed to make room/.test(x.detail)).every((x) => x.source !== HOST), 'never the member');
});

test('slow openers, oversized and misplaced frames are dropped with a line naming the source', T, async (t) => {
  const b = await openPeer(t, contact(19), { limits: { firstFrameTimeoutMs: 300 } });
  const silent = await rawTcp(b.me.port);
  const from = `${HOST}:${silent.localPort}`;
  await within(closed(silent), 'a connection that never sends a frame');
  assert.ok(b.rec.bad.some((x) => /no whole frame within 300 ms/.test(x.detail) && x.source === from), JSON.stringify(b.rec.bad));

  const link = await rawTcp(b.me.port);
  link.write(encodeLink({ type: 'hello' }));
  link.write(encodeFrame({ type: 'file-data', chunk: new Uint8Array(10) }));
  await until('file-data outside a transfer', () => b.rec.bad.find((x) => /file-data outside a file transfer/.test(x.detail)));
  const big = Buffer.alloc(6);
  big.writeUInt32BE(100 * 1024, 0);
  link.write(big);
  await within(closed(link), 'a 100 KiB frame on a message connection');
  assert.ok(b.rec.bad.some((x) => /exceeds/.test(x.detail)));
});

test('a handler that throws is reported; the message still counts as delivered', T, async (t) => {
  const b = await openPeer(t, contact(20));
  const a = await openPeer(t, contact(21));
  const original = b.rec.onMessage.bind(b.rec);
  let throws = 1;
  b.rec.onMessage = (msg, origin) => {
    original(msg, origin);
    if (throws-- > 0) throw new Error('handler bug');
  };
  await within(a.ep.sendMessage(b.me, query(a.me, 0)), 'the first message');
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'the next one');
  assert.deepEqual(qids(b), [0, 1]);
  assert.ok(b.rec.bad.some((x) => /onMessage handler threw: handler bug/.test(x.detail)));
});

test('maxFileBytes: an offer over it is refused before anything is written', T, async (t) => {
  const a = await openPeer(t, contact(22));
  const b = await openPeer(t, contact(23), { maxFileBytes: 64 * 1024 });
  await writeFile(join(a.dir, 'big.pdf'), randomBytes(8 * 1024 * 1024));
  b.rec.saveAs = () => 'big.pdf';
  const header: FileBegin = { type: 'file-begin', from: a.me, file: '4103', rid: 1, purpose: 'request', size: 8 * 1024 * 1024 };
  // The directory is watched throughout: not even a .part file may appear and vanish.
  const seen = new Set<string>();
  const watcher = watch(b.dir, (_event, name) => name && seen.add(String(name)));
  t.after(() => watcher.close());
  await assert.rejects(within(a.ep.sendFile(b.me, header, 'big.pdf'), 'sendFile'), /exceeds the limit of 65536 bytes/);
  assert.deepEqual(b.rec.done.map((d) => d.result), [{ ok: false, error: 'file of 8388608 bytes exceeds the limit of 65536 bytes' }]);
  assert.deepEqual(await readdir(b.dir), []);
  assert.deepEqual([...seen], []);
});

test('listen and advertise may differ: the endpoint binds where it is told', T, async (t) => {
  const a = await openPeer(t, contact(24));
  const advertised = contact(25);
  const listen = { host: HOST, port: contact(26).port };
  const b = await openPeer(t, advertised, { listen });
  await within(a.ep.sendMessage({ ...listen, id: advertised.id }, query(a.me, 1)), 'to the listening address');
  assert.deepEqual(qids(b), [1]);
  await assert.rejects(within(a.ep.sendMessage(advertised, query(a.me, 2)), 'to the advertised one'), { code: 'CDHT_ERR_UNREACHABLE' });
});

test('IPv6: datagrams, messages and files over ::1', T, async (t) => {
  const ok = await new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, '::1', () => s.close(() => resolve(true)));
  });
  if (!ok) return t.skip('::1 is not configured here');
  const base = await freeBasePort([1, 2], '::1');
  const a = await openPeer(t, { id: 1n, host: '::1', port: base + 1 });
  const b = await openPeer(t, { id: 2n, host: '::1', port: base + 2 });
  a.ep.sendDatagram(b.me, { type: 'ping', from: a.me, seq: 1, role: 1, loud: false });
  const ping = await until('the ping', () => b.rec.messages.find((m) => m.origin.via === 'udp'));
  assert.deepEqual(ping.origin.src, { host: '::1', port: a.me.port });
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'a message');
  assert.equal(b.rec.messages.find((m) => m.origin.via === 'tcp')?.origin.src.host, '::1');
  const bytes = randomBytes(200_000);
  await writeFile(join(a.dir, 'f.pdf'), bytes);
  b.rec.saveAs = () => 'f.pdf';
  await within(a.ep.sendFile(b.me, { type: 'file-begin', from: a.me, file: '0001', rid: 0, purpose: 'store', size: bytes.length }, 'f.pdf'), 'the file');
  assert.deepEqual(b.rec.done.map((d) => d.result), [{ ok: true, sha256: createHash('sha256').update(bytes).digest() }]);
});

test('the worker-thread file sink: a good file lands, every broken one leaves nothing', T, async (t) => {
  // Every file goes through the worker here, however small.
  const b = await openPeer(t, contact(27), { limits: { fileWorkerMinBytes: 1 } });
  const a = await openPeer(t, contact(28));
  b.rec.saveAs = (h) => `received_${h.file}.pdf`;
  const bytes = randomBytes(5 * 1024 * 1024 + 7);
  await writeFile(join(a.dir, 'f.pdf'), bytes);
  const header: FileBegin = { type: 'file-begin', from: a.me, file: '0001', rid: 1, purpose: 'request', size: bytes.length };
  await within(a.ep.sendFile(b.me, header, 'f.pdf'), 'a good file');
  assert.deepEqual(b.rec.done.map((d) => d.result), [{ ok: true, sha256: createHash('sha256').update(bytes).digest() }]);
  assert.deepEqual(await readdir(b.dir), ['received_0001.pdf']);
  const sha = (x: Uint8Array): Uint8Array => createHash('sha256').update(x).digest();
  const frames = (...m: Message[]): Buffer => Buffer.concat(m.map((x) => encodeFrame(x)));
  const half = randomBytes(50);
  const full = randomBytes(100);
  const h = (file: string): FileBegin => ({ type: 'file-begin', from: a.me, file, rid: 2, purpose: 'request', size: 100 });
  const cases: Array<[string, Buffer, RegExp]> = [
    ['0002', frames(h('0002'), { type: 'file-data', chunk: full }, { type: 'file-end', sha256: sha(half) }), /sha256 mismatch/],
    ['0003', frames(h('0003'), { type: 'file-data', chunk: half }), /closed before file-end/],
    ['0004', frames(h('0004'), { type: 'file-data', chunk: full }, { type: 'file-data', chunk: half }), /more than the announced/],
  ];
  for (const [file, wire, error] of cases) {
    const before = b.rec.done.length;
    const sock = await rawTcp(b.me.port);
    sock.end(wire);
    const done = await until(`onFileDone for ${file}`, () => b.rec.done[before]);
    assert.match(done.result.ok ? 'ok' : done.result.error, error, file);
    await within(closed(sock), `the connection for ${file} to close`);
  }
  // Closing the endpoint mid-transfer: the partial file goes too.
  const sock = await rawTcp(b.me.port);
  sock.write(frames({ ...h('0005'), size: 1000 }, { type: 'file-data', chunk: randomBytes(10) }));
  await until('the offer', () => b.rec.offers.length === 5);
  await within(b.ep.close(), 'close');
  assert.equal(b.rec.done.length, 5);
  assert.equal(b.rec.done[4]!.result.ok, false);
  assert.deepEqual(await readdir(b.dir), ['received_0001.pdf']);
});

test('at the outbound cap an idle link makes room; busy ones make a send wait, within a bound', T, async (t) => {
  const a = await openPeer(t, contact(29), { limits: { maxOutboundLinks: 1, connectTimeoutMs: 400 } });
  const b = await openPeer(t, contact(30));
  const c = await openPeer(t, contact(31));
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'to b');
  await within(a.ep.sendMessage(c.me, query(a.me, 2)), 'to c, after the idle link to b made room');
  await eventually('the link to b to close', () => b.stats().links === 0);
  assert.deepEqual([qids(b), qids(c)], [[1], [2]]);
  // The one link is busy (its peer never acknowledges): a send elsewhere waits, then gives up.
  const hang = await silentServer(t, contact(32).port);
  const stuck = a.ep.sendMessage(contact(32), query(a.me, 3));
  stuck.catch(() => {});
  await eventually('the message to reach the silent peer', () => hang.received() > 0);
  const t0 = performance.now();
  await assert.rejects(within(a.ep.sendMessage(b.me, query(a.me, 4)), 'a send with no slot'), /no free connection slot within 400 ms/);
  assert.ok(performance.now() - t0 >= 390);
});

test('temporary space: offers beyond 2 x maxFileBytes in flight are refused "busy" before a byte is written', T, async (t) => {
  const b = await openPeer(t, contact(20), { maxFileBytes: 1024 * 1024 });
  b.rec.saveAs = (h) => `got-${h.rid}`;
  const offer = (rid: number, size: number): Uint8Array => encodeFrame({ type: 'file-begin', from: contact(21), file: '4103', rid, purpose: 'request', size });
  // two offers of 1 MiB take the whole 2 MiB; they stay open, waiting for their bytes
  const held = await Promise.all([1, 2].map(() => rawTcp(b.me.port)));
  t.after(() => held.forEach((s) => s.destroy()));
  held.forEach((s, i) => s.write(offer(i + 1, 1024 * 1024)));
  await until('both offers accepted', () => b.rec.offers.length === 2 && b.stats().tempBytes === 2 * 1024 * 1024);
  // a third is turned away at once, without being shown to the handler
  const third = await rawTcp(b.me.port);
  third.write(offer(3, 1));
  await until('the third to be refused busy', () => b.rec.done.some((d) => d.header.rid === 3));
  const r = b.rec.done.find((d) => d.header.rid === 3)!.result;
  assert.ok(!r.ok && r.busy === true && /^busy: 2097152 of 2097152 bytes of temporary space/.test(r.error), JSON.stringify(r));
  assert.equal(b.rec.offers.length, 2);
  await within(closed(third), 'the refused connection to close');
  // one ending gives its space back, and the next offer is taken
  held[0]!.destroy();
  await until('the first transfer to end', () => b.rec.done.some((d) => d.header.rid === 1));
  assert.equal(b.stats().tempBytes, 1024 * 1024);
  const fourth = await rawTcp(b.me.port);
  t.after(() => fourth.destroy());
  fourth.write(offer(4, 1024 * 1024));
  await until('the fourth to be accepted', () => b.rec.offers.length === 3);
  assert.equal(b.stats().peakTempBytes, 2 * 1024 * 1024);
  assert.ok((await readdir(b.dir)).every((n) => !n.startsWith('got-')), 'nothing renamed into place');
});

test('a file send still waiting for a sending slot when its signal fires is not sent at all', T, async (t) => {
  const a = await openPeer(t, contact(22), { limits: { maxOutboundFiles: 1, transferIdleMs: 20_000 } });
  const b = await openPeer(t, contact(23));
  await writeFile(join(a.dir, '4103.pdf'), randomBytes(1000));
  // the only slot is held by a send to a server that never answers
  const mute = net.createServer((s) => s.on('error', () => {}));
  await new Promise<void>((r) => mute.listen(0, HOST, r));
  t.after(() => mute.close());
  const reached = new Promise<void>((r) => mute.once('connection', () => r()));
  const header: FileBegin = { type: 'file-begin', from: a.me, file: '4103', rid: 1, purpose: 'request', size: 1000 };
  const stuck = a.ep.sendFile({ host: HOST, port: (mute.address() as net.AddressInfo).port }, header, '4103.pdf');
  stuck.catch(() => {});
  // the stuck send holds the slot once it has connected (both sends look the file up first, in either order)
  await within(reached, 'the stuck send to connect');
  const waited = a.ep.sendFile(b.me, { ...header, rid: 2 }, '4103.pdf', undefined, AbortSignal.timeout(200));
  await assert.rejects(waited, (e: unknown) => (e as { code?: string }).code === 'CDHT_ERR_TRANSFER' && /not sent: .* while waiting for a sending slot/.test((e as Error).message));
  assert.equal(b.stats().acceptedTotal, 0, 'nothing reached the receiver');
  // an already fired signal is refused before queueing, too
  const controller = new AbortController();
  controller.abort(new Error('the request timed out'));
  await assert.rejects(a.ep.sendFile(b.me, { ...header, rid: 3 }, '4103.pdf', undefined, controller.signal), /not sent: the request timed out/);
  assert.deepEqual(b.rec.offers, []);
});
