// Integration tests of the Node runtime: real UDP and TCP sockets on 127.0.0.1, real files in
// temporary directories. Every wait is on an event or a promise, bounded by a timeout.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { encodeFrame } from '../src/wire/index.js';
import type { Contact } from '../src/core/contact.js';
import type { FileBegin, Message } from '../src/core/messages.js';
import { createNodeRuntime } from '../src/transport/node/endpoint.js';
import type { Endpoint } from '../src/transport/types.js';
import { changes, closed, rawTcp, Recorder, tempDir, until, within as withinMs } from './helpers/endpoints.js';
import { freeBasePort } from './helpers/ports.js';

const HOST = '127.0.0.1';
/** Every peer id a test below uses; each test has its own, so no test meets another's sockets. */
const IDS = [1, 2, 5, 6, 10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 54, 55, 60, 61, 70, 71, 80, 81, 90, 91, 100, 101, 150];
const BASE_PORT = await freeBasePort(IDS);
const WAIT_MS = 30_000;
const TEST_TIMEOUT_MS = 120_000;
const runtime = createNodeRuntime();

function contact(id: number): Contact {
  assert.ok(IDS.includes(id), `id ${id} is missing from IDS`);
  return { id: BigInt(id), host: HOST, port: BASE_PORT + id };
}

/** The shared recorder, with the waits these tests use (each re-checks after every handler call). */
class Rec extends Recorder {
  constructor() {
    super(() => changes.emit('change'));
  }
  until<T>(what: string, probe: () => T | undefined | null | false): Promise<T> {
    return until(what, probe, WAIT_MS);
  }
  message<T extends Message['type']>(type: T, via: 'udp' | 'tcp'): Promise<Extract<Message, { type: T }>> {
    return this.until(`a ${type} over ${via}`, () => {
      const hit = this.messages.find((m) => m.msg.type === type && m.origin.via === via);
      return hit?.msg as Extract<Message, { type: T }> | undefined;
    });
  }
  badInput(pattern: RegExp): Promise<string> {
    return this.until(`bad input matching ${pattern}`, () => this.bad.find((b) => pattern.test(b.detail))?.detail);
  }
}

const within = <T>(p: Promise<T>, what: string): Promise<T> => withinMs(p, what, WAIT_MS);

interface Peer {
  readonly me: Contact;
  readonly dir: string;
  readonly rec: Rec;
  readonly ep: Endpoint;
}

async function openPeer(t: TestContext, id: number): Promise<Peer> {
  const dir = await tempDir(t);
  const rec = new Rec();
  const me = contact(id);
  const ep = await runtime.openEndpoint({ self: me, dataDir: dir }, rec);
  t.after(() => ep.close());
  return { me, dir, rec, ep };
}

function rawUdp(port: number, bytes: Uint8Array): Promise<void> {
  const sock = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    sock.send(bytes, port, HOST, (err) => {
      sock.close();
      if (err) reject(err);
      else resolve();
    });
  });
}

function fileBegin(from: Contact, size: number): FileBegin {
  return { type: 'file-begin', from, file: '4103', rid: 7, purpose: 'request', size };
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

function concat(...frames: Message[]): Buffer {
  return Buffer.concat(frames.map((m) => encodeFrame(m)));
}

test('a message over TCP and a ping over UDP arrive decoded', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 1);
  const b = await openPeer(t, 2);

  const join: Message = { type: 'join', joiner: a.me, hops: 3 };
  await within(a.ep.sendMessage(b.me, join), 'sendMessage');
  assert.deepEqual(await b.rec.message('join', 'tcp'), join);

  const ping: Message = { type: 'ping', from: a.me, seq: 42, role: 1, loud: true };
  a.ep.sendDatagram(b.me, ping);
  assert.deepEqual(await b.rec.message('ping', 'udp'), ping);

  const pong: Message = { type: 'pong', from: b.me, seq: 42, loud: true, successors: [{ id: 3n, host: HOST, port: 1003 }, { id: 4n, host: 'localhost', port: 65535 }] };
  b.ep.sendDatagram(a.me, pong);
  assert.deepEqual(await a.rec.message('pong', 'udp'), pong);
  assert.deepEqual(b.rec.bad, []);
  assert.deepEqual(a.rec.bad, []);
});

test('many messages sent at once all arrive', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 5);
  const b = await openPeer(t, 6);
  const count = 200; // beyond MAX_OUTGOING_CONNECTIONS, so some wait for a slot
  const sends = [];
  for (let qid = 0; qid < count; qid++) sends.push(a.ep.sendMessage(b.me, { type: 'successor-query', from: a.me, qid }));
  await within(Promise.all(sends), `${count} sends`);
  await b.rec.until(`${count} messages`, () => b.rec.messages.length === count);
  const qids = b.rec.messages.map((m) => (m.msg.type === 'successor-query' ? m.msg.qid : -1)).sort((x, y) => x - y);
  assert.deepEqual(qids, [...Array(count).keys()]);
});

test('sendMessage and sendFile to a port with nobody listening reject with CDHT_ERR_UNREACHABLE', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 10);
  const nobody = contact(11);
  await assert.rejects(within(a.ep.sendMessage(nobody, { type: 'depart-ack', from: a.me }), 'sendMessage'), {
    code: 'CDHT_ERR_UNREACHABLE',
  });
  await writeFile(join(a.dir, '4103.pdf'), randomBytes(1000));
  await assert.rejects(within(a.ep.sendFile(nobody, fileBegin(a.me, 1000), '4103.pdf'), 'sendFile'), {
    code: 'CDHT_ERR_UNREACHABLE',
  });
});

test('garbage on the UDP and TCP ports is reported and the endpoint keeps answering', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 20);
  const b = await openPeer(t, 21);

  await rawUdp(b.me.port, Buffer.from('definitely not a frame'));
  await b.rec.badInput(/^udp from 127\.0\.0\.1:\d+: /);
  // A well-formed frame of a type that must not travel over UDP is bad input too.
  await rawUdp(b.me.port, encodeFrame({ type: 'join', joiner: a.me, hops: 0 }));
  await b.rec.badInput(/join is not allowed over udp/);
  a.ep.sendDatagram(b.me, { type: 'ping', from: a.me, seq: 1, role: 2, loud: false });
  await b.rec.message('ping', 'udp');
  // a lookup's answer may come by datagram (its id is the asker's unguessable nonce)
  a.ep.sendDatagram(b.me, { type: 'lookup-reply', from: a.me, lid: 5, hops: 3, successors: [] });
  await b.rec.message('lookup-reply', 'udp');

  // A frame with a bad version is reported, and the same connection still carries the next one.
  const sock = await rawTcp(b.me.port);
  sock.write(Buffer.from([0, 0, 0, 2, 9, 1]));
  await b.rec.badInput(/^tcp from .*wire version 9/);
  sock.write(encodeFrame({ type: 'depart-ack', from: a.me }));
  await b.rec.message('depart-ack', 'tcp');
  // A frame cut short by the end of the connection is reported.
  sock.end(Buffer.from([0, 0, 0]));
  await b.rec.badInput(/closed inside a frame/);
  await within(closed(sock), 'the raw socket to close');

  // Text on the TCP port reads as an impossible length prefix.
  const text = await rawTcp(b.me.port);
  text.write('hello, is this the DHT?\n');
  await b.rec.badInput(/^tcp from .*exceeds/);
  await within(closed(text), 'the endpoint to drop the text connection');

  await within(a.ep.sendMessage(b.me, { type: 'join', joiner: a.me, hops: 1 }), 'sendMessage');
  await b.rec.message('join', 'tcp');
  assert.deepEqual(b.rec.done, []);
});

test('a huge length prefix on TCP closes that connection only', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 30);
  const b = await openPeer(t, 31);
  const bystander = await rawTcp(b.me.port);
  const liar = await rawTcp(b.me.port);
  liar.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 1]));
  await within(closed(liar), 'the endpoint to close the connection');
  await b.rec.badInput(/exceeds/);

  bystander.end(encodeFrame({ type: 'successor-query', from: a.me, qid: 9 }));
  assert.equal((await b.rec.message('successor-query', 'tcp')).qid, 9);
  await within(closed(bystander), 'the bystander connection to close');
  await within(a.ep.sendMessage(b.me, { type: 'depart-ack', from: a.me }), 'sendMessage');
  await b.rec.message('depart-ack', 'tcp');
});

test('a 3 MiB file sent with sendFile arrives byte-identical, with no .part left', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 40);
  const b = await openPeer(t, 41);
  const content = randomBytes(3 * 1024 * 1024 + 123);
  await writeFile(join(a.dir, '4103.pdf'), content);
  assert.deepEqual(await a.ep.statFile('4103.pdf'), { size: content.length });
  b.rec.saveAs = (h) => `received_${h.file}.pdf`;

  const header = fileBegin(a.me, content.length);
  await within(a.ep.sendFile(b.me, header, '4103.pdf'), 'sendFile');
  const done = await b.rec.until('onFileDone', () => b.rec.done[0]);
  assert.deepEqual(done.result, { ok: true, sha256: createHash('sha256').update(content).digest() });
  assert.deepEqual(done.header, header);
  assert.deepEqual(b.rec.offers.map((o) => o.header), [header]);
  assert.ok((await readFile(join(b.dir, 'received_4103.pdf'))).equals(content));
  assert.deepEqual(await readdir(b.dir), ['received_4103.pdf']);
  assert.deepEqual(b.rec.bad, []);
});

test('an empty file arrives, and a file whose size differs from the header is refused by both sides', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 100);
  const b = await openPeer(t, 101);
  b.rec.saveAs = (h) => `${h.file}.pdf`;
  await writeFile(join(a.dir, '4103.pdf'), '');
  await within(a.ep.sendFile(b.me, fileBegin(a.me, 0), '4103.pdf'), 'sendFile of an empty file');
  assert.deepEqual((await b.rec.until('onFileDone', () => b.rec.done[0])).result, { ok: true, sha256: createHash('sha256').digest() });
  assert.equal((await readFile(join(b.dir, '4103.pdf'))).length, 0);

  await writeFile(join(a.dir, '2067.pdf'), randomBytes(200 * 1024));
  await assert.rejects(within(a.ep.sendFile(b.me, { ...fileBegin(a.me, 100 * 1024), file: '2067' }, '2067.pdf'), 'sendFile'), /grew past/);
  const done = await b.rec.until('the second onFileDone', () => b.rec.done[1]);
  assert.equal(done.result.ok, false);
  assert.deepEqual(await readdir(b.dir), ['4103.pdf']);
});

test('a refused offer leaves nothing in the directory', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 50);
  const b = await openPeer(t, 51);
  const content = randomBytes(256 * 1024);
  await writeFile(join(a.dir, '4103.pdf'), content);
  b.rec.saveAs = () => null;

  // The sender may see a reset or a clean close, depending on how much the kernel buffered.
  await within(Promise.allSettled([a.ep.sendFile(b.me, fileBegin(a.me, content.length), '4103.pdf')]), 'sendFile');
  await b.rec.until('the offer', () => b.rec.offers.length === 1);
  assert.deepEqual(await readdir(b.dir), []);
  assert.deepEqual(b.rec.done, []);
});

test('an offer accepted under a name with a path in it fails without writing', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const b = await openPeer(t, 55);
  const escape = await tempDir(t);
  for (const saveAs of [join(escape, 'x.pdf'), '../x.pdf', '.hidden', 'a\\b']) {
    b.rec.saveAs = () => saveAs;
    const sock = await rawTcp(b.me.port);
    sock.end(concat(fileBegin(contact(54), 3), { type: 'file-data', chunk: Buffer.from('abc') }, { type: 'file-end', sha256: sha256(Buffer.from('abc')) }));
    const before = b.rec.done.length;
    const done = await b.rec.until(`onFileDone for ${saveAs}`, () => b.rec.done[before]);
    assert.equal(done.result.ok, false);
    await within(closed(sock), 'the connection to close');
  }
  assert.deepEqual(await readdir(b.dir), []);
  assert.deepEqual(await readdir(escape), []);
});

test('a sender that breaks the transfer yields ok:false and leaves no file', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const b = await openPeer(t, 60);
  const from = contact(61);
  const half = randomBytes(50);
  const full = randomBytes(100);
  const cases: Array<{ name: string; bytes: Buffer; error: RegExp }> = [
    {
      name: 'fewer bytes than announced, then close',
      bytes: concat(fileBegin(from, 100), { type: 'file-data', chunk: half }),
      error: /closed before file-end/,
    },
    {
      name: 'file-end after fewer bytes than announced',
      bytes: concat(fileBegin(from, 100), { type: 'file-data', chunk: half }, { type: 'file-end', sha256: sha256(half) }),
      error: /got 50 of 100 bytes/,
    },
    {
      name: 'more bytes than announced',
      bytes: concat(fileBegin(from, 100), { type: 'file-data', chunk: full }, { type: 'file-data', chunk: half }),
      error: /more than the announced 100 bytes/,
    },
    {
      name: 'a wrong sha256',
      bytes: concat(fileBegin(from, 100), { type: 'file-data', chunk: full }, { type: 'file-end', sha256: sha256(half) }),
      error: /sha256 mismatch/,
    },
    {
      name: 'a message inside the transfer',
      bytes: concat(fileBegin(from, 100), { type: 'file-data', chunk: half }, { type: 'depart-ack', from }),
      error: /unexpected depart-ack/,
    },
    {
      name: 'an undecodable frame inside the transfer',
      bytes: Buffer.concat([concat(fileBegin(from, 100), { type: 'file-data', chunk: half }), Buffer.from([0, 0, 0, 2, 1, 99])]),
      error: /bad frame: unknown message type/,
    },
  ];
  b.rec.saveAs = (h) => `received_${h.file}.pdf`;
  for (const c of cases) {
    const before = b.rec.done.length;
    const sock = await rawTcp(b.me.port);
    sock.end(c.bytes);
    const done = await b.rec.until(`onFileDone for ${c.name}`, () => b.rec.done[before]);
    assert.equal(done.result.ok, false, c.name);
    assert.match(done.result.ok ? '' : done.result.error, c.error, c.name);
    await within(closed(sock), `the connection to close (${c.name})`);
    assert.deepEqual(await readdir(b.dir), [], c.name);
  }
  assert.equal(b.rec.done.length, cases.length, 'exactly one onFileDone per offer');
  assert.equal(b.rec.messages.length, 0);
});

test('closing an endpoint mid-transfer removes the partial file and reports the failure', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await tempDir(t);
  const rec = new Rec();
  const me = contact(70);
  const ep = await runtime.openEndpoint({ self: me, dataDir: dir }, rec);
  rec.saveAs = () => '4103.pdf';
  const sock = await rawTcp(me.port);
  sock.write(concat(fileBegin(contact(71), 1000), { type: 'file-data', chunk: randomBytes(10) }));
  await rec.until('the offer', () => rec.offers.length === 1);

  await within(ep.close(), 'close');
  await within(ep.close(), 'a second close');
  assert.equal(rec.done.length, 1);
  assert.equal(rec.done[0]!.result.ok, false);
  assert.deepEqual(await readdir(dir), []);
  await within(closed(sock), 'the raw socket to close');
  await assert.rejects(ep.sendMessage(contact(71), { type: 'depart-ack', from: me }), { code: 'CDHT_ERR_UNREACHABLE' });
});

test('statFile reports regular files only, and sendFile refuses what is not one', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 80);
  await writeFile(join(a.dir, '2067.pdf'), 'twelve bytes');
  await mkdir(join(a.dir, 'sub.pdf'));
  assert.deepEqual(await a.ep.statFile('2067.pdf'), { size: 12 });
  assert.equal(await a.ep.statFile('missing.pdf'), null);
  assert.equal(await a.ep.statFile('sub.pdf'), null);
  assert.equal(await a.ep.statFile('../2067.pdf'), null);
  await assert.rejects(a.ep.sendFile(contact(81), fileBegin(a.me, 1), 'missing.pdf'), { code: 'CDHT_ERR_BAD_ARGUMENT' });
  await assert.rejects(a.ep.sendFile(contact(81), fileBegin(a.me, 1), '../2067.pdf'), { code: 'CDHT_ERR_BAD_ARGUMENT' });
});

test('opening an endpoint on an address in use rejects and releases what it bound', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const a = await openPeer(t, 90);
  const dir = await tempDir(t);
  await assert.rejects(runtime.openEndpoint({ self: a.me, dataDir: dir }, new Recorder()), {
    code: 'CDHT_ERR_LISTEN',
    message: `cannot listen on ${HOST}:${a.me.port}: address already in use`,
  });

  // Only TCP taken: UDP binds first and must be released when TCP fails.
  const blocked = contact(91);
  const blocker = net.createServer();
  await new Promise<void>((resolve, reject) => {
    blocker.once('error', reject);
    blocker.listen({ host: HOST, port: blocked.port }, resolve);
  });
  await assert.rejects(runtime.openEndpoint({ self: blocked, dataDir: dir }, new Recorder()), /address already in use/);
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  const ep = await runtime.openEndpoint({ self: blocked, dataDir: dir }, new Recorder());
  await ep.close();
});

test('a temporary file left by a transfer cut short is removed when the endpoint opens; a fresh one and other files stay', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await tempDir(t);
  const store = join(dir, 'store');
  await mkdir(store);
  const stale = ['.0001.pdf.0123456789abcdef.part', '.notes.txt.fedcba9876543210.part'];
  await writeFile(join(dir, stale[0]!), 'half');
  await writeFile(join(store, stale[1]!), 'half');
  await writeFile(join(dir, '.0002.pdf.00112233445566aa.part'), 'being written now');
  await writeFile(join(dir, '.hidden'), 'not ours');
  await writeFile(join(dir, 'x.part'), 'not ours either');
  // untouched for an hour: older than any live transfer can be
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(join(dir, stale[0]!), hourAgo, hourAgo);
  await utimes(join(store, stale[1]!), hourAgo, hourAgo);
  await utimes(join(dir, 'x.part'), hourAgo, hourAgo);
  const ep = await runtime.openEndpoint({ self: contact(150), dataDir: dir, storeDir: store }, new Rec());
  t.after(() => ep.close());
  assert.deepEqual((await readdir(dir)).sort(), ['.0002.pdf.00112233445566aa.part', '.hidden', 'store', 'x.part']);
  assert.deepEqual(await readdir(store), []);
});
