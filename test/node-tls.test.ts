// The Node transport on a private ring: mutual TLS 1.3 with the ring's authority, one
// connection per pair of peers (either may have opened it), sealed datagrams with a replay
// window, handshake deadlines, and no file byte visible on the wire.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { FileBegin, Message } from '../src/core/messages.js';
import { createThrowawayRing } from '../src/security/tls.js';
import { remoteOf } from '../src/transport/node/guard.js';
import type { Limits } from '../src/transport/node/endpoint.js';
import { encodeFrame } from '../src/wire/index.js';
import { closed, eventually, openPeer, rawTcp, until, within, type TestPeer } from './helpers/endpoints.js';
import { freeBasePort } from './helpers/ports.js';

const HOST = '127.0.0.1';
const IDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
const BASE = await freeBasePort(IDS);
const ring = await createThrowawayRing();
const T = { timeout: 180_000 };

function contact(id: number): Contact {
  assert.ok(IDS.includes(id), `id ${id} is missing from IDS`);
  return { id: BigInt(id), host: HOST, port: BASE + id };
}

async function member(t: TestContext, id: number, limits?: Partial<Limits>): Promise<TestPeer> {
  return openPeer(t, contact(id), { tls: await ring.identityFor(BigInt(id)), ...(limits ? { limits } : {}) });
}

const query = (from: Contact, qid: number): Message => ({ type: 'successor-query', from, qid });
const ping = (from: Contact, seq: number): Message => ({ type: 'ping', from, seq, role: 1, loud: false });
const qids = (p: TestPeer): number[] => p.rec.messages.filter((m) => m.msg.type === 'successor-query').map((m) => (m.msg as { qid: number }).qid);

test('mutual TLS both ways; the link either peer opened carries messages both ways', T, async (t) => {
  const a = await member(t, 1);
  const b = await member(t, 2);
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'a to b');
  assert.equal(b.rec.messages[0]!.origin.authId, a.me.id);
  await within(b.ep.sendMessage(a.me, query(b.me, 2)), 'b to a');
  assert.equal(a.rec.messages[0]!.origin.authId, b.me.id);
  // The certificate proved who opened the connection, so b answered on it: one connection in all.
  assert.equal(b.stats().dialedTotal, 0);
  assert.equal(a.stats().acceptedTotal, 0);
  assert.equal(a.stats().links, 1);
  assert.equal(b.stats().links, 1);
  // Pings are sealed under that connection's keys.
  b.ep.sendDatagram(a.me, ping(b.me, 7));
  const p = await until('the sealed ping', () => a.rec.messages.find((m) => m.origin.via === 'udp'));
  assert.equal(p.origin.authId, b.me.id);
  assert.deepEqual([...a.rec.bad, ...b.rec.bad], []);
});

test('two peers dialing each other at once converge on one connection and lose nothing', T, async (t) => {
  const a = await member(t, 3);
  const b = await member(t, 4);
  const ab = Array.from({ length: 50 }, (_, i) => a.ep.sendMessage(b.me, query(a.me, i)));
  const ba = Array.from({ length: 50 }, (_, i) => b.ep.sendMessage(a.me, query(b.me, i)));
  await within(Promise.all([...ab, ...ba]), 'every send');
  assert.deepEqual(qids(b), [...Array(50).keys()]);
  assert.deepEqual(qids(a), [...Array(50).keys()]);
  assert.equal(a.stats().dialedTotal + b.stats().dialedTotal, 2, 'both dialed');
  await eventually('the duplicate to close at both ends', () => a.stats().links === 1 && b.stats().links === 1);
  for (let i = 50; i < 60; i++) {
    await within(a.ep.sendMessage(b.me, query(a.me, i)), 'after converging');
    await within(b.ep.sendMessage(a.me, query(b.me, i)), 'after converging');
  }
  assert.equal(a.stats().dialedTotal + b.stats().dialedTotal, 2, 'no new connection after converging');
  assert.equal(a.stats().links, 1);
  assert.deepEqual([...a.rec.bad, ...b.rec.bad], []);
});

test('a handshake must finish within its deadline; plain TCP is refused with a line', T, async (t) => {
  const b = await member(t, 5, { tlsHandshakeTimeoutMs: 300 });
  const silent = await rawTcp(b.me.port);
  const from = `${HOST}:${silent.localPort}`;
  await within(closed(silent), 'a connection that never starts its handshake');
  assert.ok(b.rec.bad.some((x) => /handshake failed/.test(x.detail) && x.source === from), JSON.stringify(b.rec.bad));
  const plain = await rawTcp(b.me.port);
  plain.write(encodeFrame(query(contact(6), 1)));
  await within(closed(plain), 'plain TCP');
  assert.equal(b.rec.bad.length, 2);
  assert.deepEqual(b.rec.messages, []);
});

test('the first ping to a peer without a key waits for the connection that makes one', T, async (t) => {
  const a = await member(t, 7);
  const b = await member(t, 8);
  a.ep.sendDatagram(b.me, ping(a.me, 1));
  a.ep.sendDatagram(b.me, ping(a.me, 2));
  await until('both pings', () => b.rec.messages.length === 2);
  assert.deepEqual(b.rec.messages.map((m) => [m.msg.type === 'ping' ? m.msg.seq : -1, m.origin.via, m.origin.authId]), [
    [1, 'udp', a.me.id],
    [2, 'udp', a.me.id],
  ]);
  assert.equal(a.stats().dialedTotal, 1, 'a connection was made for the key');
  assert.ok(a.stats().datagramKeys >= 1 && b.stats().datagramKeys >= 1);
});

/** Receives datagrams at a port of its own: what a sealed ping looks like on the wire. */
async function udpCapture(t: TestContext): Promise<{ port: number; next: () => Promise<Buffer>; send: (bytes: Uint8Array, port: number) => Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  const queue: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  sock.on('message', (b) => {
    const w = waiters.shift();
    if (w) w(b);
    else queue.push(b);
  });
  await new Promise<void>((resolve) => sock.bind(0, HOST, resolve));
  t.after(() => sock.close());
  return {
    port: sock.address().port,
    next: () => within(new Promise<Buffer>((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve))), 'a captured datagram'),
    send: (bytes, port) => new Promise((resolve, reject) => sock.send(bytes, port, HOST, (err) => (err ? reject(err) : resolve()))),
  };
}

test('replayed, tampered, unknown-key and unsealed datagrams are dropped with a line', T, async (t) => {
  const a = await member(t, 9);
  const b = await member(t, 10);
  await within(a.ep.sendMessage(b.me, query(a.me, 0)), 'a link, so keys');
  const cap = await udpCapture(t);
  // Sealed for b (to.id names b) but sent to the capture socket.
  const toB = { host: HOST, port: cap.port, id: b.me.id };
  a.ep.sendDatagram(toB, ping(a.me, 1));
  a.ep.sendDatagram(toB, ping(a.me, 2));
  a.ep.sendDatagram(toB, ping(a.me, 3));
  a.ep.sendDatagram(toB, ping(a.me, 4));
  const [c1, c2, c3, c4] = [await cap.next(), await cap.next(), await cap.next(), await cap.next()];
  assert.ok(!c1.includes(Buffer.from('127.0.0.1')), 'the sealed ping does not show its contents');

  const seqs = (): number[] => b.rec.messages.filter((m) => m.origin.via === 'udp').map((m) => (m.msg as { seq: number }).seq);
  const bad = (pattern: RegExp, n = 1): Promise<unknown> =>
    until(`${n} lines matching ${pattern}`, () => b.rec.bad.filter((x) => pattern.test(x.detail)).length === n);
  // Out of order within the window is fine.
  await cap.send(c3, b.me.port);
  await cap.send(c1, b.me.port);
  await cap.send(c2, b.me.port);
  await until('three pings', () => seqs().length === 3);
  assert.deepEqual(seqs(), [3, 1, 2]);
  assert.ok(b.rec.messages.filter((m) => m.origin.via === 'udp').every((m) => m.origin.authId === a.me.id));

  await cap.send(c1, b.me.port);
  await bad(/replayed \(counter already seen\)/);
  const tampered = Buffer.from(c4);
  tampered[tampered.length - 20] ^= 1; // a ciphertext byte
  await cap.send(tampered, b.me.port);
  await bad(/does not open/);
  const recounted = Buffer.from(c4);
  recounted[21] ^= 0x40; // the counter, part of the associated data
  await cap.send(recounted, b.me.port);
  await bad(/does not open/, 2);
  const unknown = Buffer.from(c4);
  unknown[8] ^= 0xff; // the key id
  await cap.send(unknown, b.me.port);
  await bad(/unknown or expired key/);
  await cap.send(encodeFrame(ping(a.me, 5)), b.me.port);
  await bad(/not a sealed frame/);
  assert.deepEqual(seqs(), [3, 1, 2], 'none of them reached the handler');
  // The forgeries did not spend counter 4: the genuine datagram still opens, once.
  await cap.send(c4, b.me.port);
  await until('the genuine fourth ping', () => seqs().length === 4);
  await cap.send(c4, b.me.port);
  await bad(/replayed/, 2);
  assert.ok(b.rec.bad.every((x) => x.source === `${HOST}:${cap.port}`), 'each line names the sender');
});

test('pings keep a neighbour connection open; keys outlive a closed one for a while', T, async (t) => {
  // an idle bound thirty pings long: a ping late by a busy machine's second is still in time
  const a = await member(t, 11, { idleCloseMs: 3000 });
  const b = await member(t, 12, { idleCloseMs: 3000 });
  await within(a.ep.sendMessage(b.me, query(a.me, 0)), 'a link');
  // A ping every 100 ms for a second: the link never idles out.
  for (let seq = 1; seq <= 10; seq++) {
    a.ep.sendDatagram(b.me, ping(a.me, seq));
    await until(`ping ${seq}`, () => b.rec.messages.length === seq + 1);
    await new Promise((r) => setTimeout(r, 100)); // the ping interval, not a wait for anything
  }
  assert.equal(a.stats().dialedTotal, 1);
  assert.equal(b.stats().links, 1, 'still the first link');
  // Silence: the link closes, and the old key still seals the next ping.
  await eventually('the idle link to close', () => a.stats().links === 0 && b.stats().links === 0);
  a.ep.sendDatagram(b.me, ping(a.me, 11));
  const late = await until('a ping after the link closed', () => b.rec.messages.find((m) => m.msg.type === 'ping' && m.msg.seq === 11));
  assert.equal(late.origin.authId, a.me.id);
  await eventually('a fresh link for fresh keys', () => a.stats().dialedTotal === 2);
});

/** A TCP relay that records every byte both ways: a capture of loopback traffic, in process. */
async function recordingRelay(t: TestContext, port: number): Promise<{ port: number; recorded: () => Buffer }> {
  const chunks: Buffer[] = [];
  const pipe = (from: net.Socket, to: net.Socket): void => {
    from.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      if (!to.write(d)) from.pause();
    });
    to.on('drain', () => from.resume());
    from.on('end', () => to.end());
    from.on('error', () => to.destroy());
    from.on('close', () => to.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(port, HOST);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, recorded: () => Buffer.concat(chunks) };
}

/** How many of the file's 64-byte windows (every 64th offset) appear anywhere in the recording. */
function windowsFound(recording: Buffer, file: Buffer, size = 64): number {
  const starts = new Map<number, number[]>();
  for (let i = 0; i + size <= file.length; i += size) {
    const k = file.readUInt32BE(i);
    const list = starts.get(k);
    if (list) list.push(i);
    else starts.set(k, [i]);
  }
  let found = 0;
  for (let j = 0; j + size <= recording.length; j++) {
    const list = starts.get(recording.readUInt32BE(j));
    if (list?.some((i) => recording.compare(file, i, i + size, j, j + size) === 0)) found++;
  }
  return found;
}

test('a capture of loopback traffic during a secured transfer contains none of the file\'s bytes', T, async (t) => {
  const file = randomBytes(2 * 1024 * 1024);
  const send = async (a: TestPeer, b: TestPeer): Promise<Buffer> => {
    await writeFile(join(a.dir, 'secret.pdf'), file);
    b.rec.saveAs = () => 'secret.pdf';
    const relay = await recordingRelay(t, b.me.port);
    const header: FileBegin = { type: 'file-begin', from: a.me, file: '4103', rid: 1, purpose: 'request', size: file.length };
    await within(a.ep.sendFile({ host: HOST, port: relay.port, id: b.me.id }, header, 'secret.pdf'), 'the transfer through the relay');
    await until('the file saved', () => b.rec.done.find((d) => d.result.ok));
    return relay.recorded();
  };
  // The check can fail: on an open ring the same capture is full of the file.
  const plainCapture = await send(await openPeer(t, contact(13)), await openPeer(t, contact(14)));
  assert.ok(windowsFound(plainCapture, file) >= file.length / 64 - 1, 'the open-ring capture shows the file');
  const secureCapture = await send(await member(t, 15), await member(t, 16));
  assert.ok(secureCapture.length > file.length, 'the whole transfer was captured');
  assert.equal(windowsFound(secureCapture, file), 0, 'not one 64-byte window of the file in the secured capture');
});

test('private ring: a certificate makes a member; strangers from the same host, however many, never take its slot', T, async (t) => {
  // 24 slots, 8 of them members'; strangers (no handshake finished) from this very host fill theirs
  const limits = { maxInboundConnections: 24, memberSlots: 8, maxInboundPerHost: 16, tlsHandshakeTimeoutMs: 30_000 };
  const b = await member(t, 15, limits);
  const a = await member(t, 16);
  const strangers = await Promise.all(Array.from({ length: 16 }, () => rawTcp(b.me.port)));
  t.after(() => strangers.forEach((s) => s.destroy()));
  await eventually('the strangers to hold their share', () => b.stats().inbound === 16);
  await within(a.ep.sendMessage(b.me, query(a.me, 1)), 'a member while the strangers\' share is full', 2000);
  await eventually('its connection to count as a member\'s', () => b.stats().memberInbound === 1);
  // 32 more strangers churn among themselves: the member's link carries on, not one reconnection
  const more = await Promise.all(Array.from({ length: 32 }, () => rawTcp(b.me.port)));
  t.after(() => more.forEach((s) => s.destroy()));
  await eventually('the first strangers to be evicted', () => strangers.every((s) => s.destroyed));
  await within(a.ep.sendMessage(b.me, query(a.me, 2)), 'the member again', 2000);
  assert.equal(a.stats().dialedTotal, 1, 'one connection all along');
  assert.equal(b.stats().memberInbound, 1);
  assert.deepEqual(qids(b), [1, 2]);
});

test('a refused handshake names its real source even once the TLS socket has closed (not ?:0)', () => {
  // a TLS socket closed before it read its peer's address, over the TCP socket that read it on accept
  const closedTls = { remoteAddress: undefined, remotePort: undefined, _parent: { remoteAddress: '127.0.0.9', remotePort: 40_001 } };
  assert.deepEqual(remoteOf(closedTls), { host: '127.0.0.9', port: 40_001 });
  assert.deepEqual(remoteOf({ remoteAddress: '::1', remotePort: 7 }), { host: '::1', port: 7 });
  assert.deepEqual(remoteOf({}), { host: '?', port: 0 }, 'nothing known at all');
});
