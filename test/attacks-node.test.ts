// The attacker harness on real sockets: the reference ring on 127.0.0.1, attacked the way the
// issue reproduced it (forged successor changes, pongs, acceptances and file offers, slow
// connections from another address) and, on a private ring, by an outsider with another
// authority's certificate, a member speaking for another, and a tampered TLS record. After each
// attack the ring must still be the true ring and no file may have changed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as tcp from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { Message, RoutedMessage } from '../src/core/messages.js';
import type { PeerLine } from '../src/peer.js';
import { Peer } from '../src/peer.js';
import { OriginSigner } from '../src/security/origin-proofs.js';
import { createThrowawayRing } from '../src/security/tls.js';
import type { TlsIdentity } from '../src/security/identity.js';
import { createNodeRuntime } from '../src/transport/node/endpoint.js';
import { createTestnet, type Testnet } from '../src/testnet.js';
import { encodeFrame, FILE_CHUNK_BYTES } from '../src/wire/index.js';
import { freeBasePort } from './helpers/ports.js';

const IDS = [2, 4, 5, 8, 9, 14, 19];
const T = { timeout: 60_000 };
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function ring(opts: { secure?: boolean; identityFor?: (id: bigint) => TlsIdentity } = {}): Promise<{ net: Testnet; lines: PeerLine[]; dir: string; base: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-attack-'));
  dirs.push(dir);
  const base = await freeBasePort([...IDS, 15, 50, 60, 61]);
  const net = await createTestnet({ ids: IDS, basePort: base, pingIntervalMs: 250, dataDir: dir, perPeerDirs: true, maxFileBytes: 4 * 1024 * 1024, ...opts });
  const lines: PeerLine[] = [];
  net.on('line', (l: PeerLine) => lines.push(l));
  // every peer has heard both successors and both predecessors
  assert.ok(await net.until(() => IDS.every((id) => net.peer(id)!.snapshot().pred2 !== undefined), 10_000), 'the ring settled');
  return { net, lines, dir, base };
}

const of = (lines: PeerLine[], id: number, since = 0) => lines.slice(since).filter((l) => l.id === BigInt(id)).map((l) => l.text);

/** Writes frames on a fresh TCP connection (as a first-release peer would) and waits until they are read. */
function tcpSend(port: number, frames: Uint8Array[], from = '127.0.0.1'): Promise<void> {
  return new Promise((resolve) => {
    const s = tcp.connect({ port, host: '127.0.0.1', localAddress: from }, () => {
      for (const f of frames) s.write(f);
      s.end();
    });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.resume();
  });
}

function fileFrames(from: Contact, file: string, rid: number, purpose: 'request' | 'store', bytes: Buffer): Uint8Array[] {
  const frames: Uint8Array[] = [encodeFrame({ type: 'file-begin', from, file, rid, purpose, size: bytes.length })];
  for (let i = 0; i < bytes.length; i += FILE_CHUNK_BYTES) frames.push(encodeFrame({ type: 'file-data', chunk: bytes.subarray(i, i + FILE_CHUNK_BYTES) }));
  frames.push(encodeFrame({ type: 'file-end', sha256: new Uint8Array(32) }));
  return frames;
}

test('open ring on sockets: forged successor changes and pongs leave the ring whole', T, async () => {
  const { net, lines } = await ring();
  try {
    const silent = { id: 10n, host: '127.0.0.1', port: 1 };
    const forged: Message = { type: 'successor-change', from: net.contactOf(9), successors: [silent] };
    await tcpSend(net.contactOf(8).port, [encodeFrame(forged)]);
    // pongs "from 14" to 9, every 20 ms, while 14 is killed
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    let seq = 0;
    const flood = setInterval(() => {
      for (let i = 0; i < 50; i++, seq++) {
        udp.send(encodeFrame({ type: 'pong', from: net.contactOf(14), seq, loud: false, successors: [net.contactOf(19)] }), net.contactOf(9).port, '127.0.0.1');
      }
    }, 20);
    const m = lines.length;
    const killedAt = Date.now();
    await net.kill(14);
    const seen = await net.until(() => of(lines, 9, m).includes('Peer 14 is no longer alive'), 5000);
    clearInterval(flood);
    udp.close();
    assert.ok(seen, 'forged pongs kept a killed peer alive');
    assert.ok(Date.now() - killedAt < 2 * 250 + 1000, 'seen within two intervals (and a margin for a loaded machine)');
    assert.ok(await net.until(() => net.staleIds().length === 0, 5000), `stale rows: ${net.staleIds()}`);
    assert.deepEqual(net.peer(8)!.snapshot().successors.slice(0, 2), [9n, 19n]);
  } finally {
    await net.close();
  }
});

test('open ring on sockets: forged acceptances and file offers change no file', T, async () => {
  const { net, lines, dir } = await ring();
  try {
    const original = randomBytes(100_000);
    writeFileSync(join(dir, 'peer-8', '2067.pdf'), original);
    const evil: Contact = { id: 66n, host: '127.0.0.1', port: 9 };
    // an acceptance of a store 8 never started: 8 must not upload
    await tcpSend(net.contactOf(8).port, [encodeFrame({ type: 'store-accepted', from: evil, file: '2067', storeId: 'x' })]);
    let m = lines.length;
    net.peer(8)!.store('2067');
    assert.ok(await net.until(() => of(lines, 19, m).includes('File 2067 stored here'), 10_000), of(lines, 19, m).join('\n'));
    assert.ok(!of(lines, 8).some((l) => l.startsWith('Copying file 2067 to Peer 66')), 'no upload to the forger');
    // the forger's bytes offered as the store's copy, and as an answer to a Request with guessed ids
    const junk = Buffer.alloc(100_000, 0xee);
    await tcpSend(net.contactOf(19).port, fileFrames(evil, '2067', 0, 'store', junk));
    m = lines.length;
    net.peer(2)!.request('2067');
    await Promise.all(Array.from({ length: 30 }, (_, rid) => tcpSend(net.contactOf(2).port, fileFrames(evil, '2067', rid + 1, 'request', junk))));
    assert.ok(await net.until(() => of(lines, 2, m).includes('File 2067 received'), 10_000), of(lines, 2, m).join('\n'));
    assert.deepEqual(readFileSync(join(dir, 'peer-19', '2067.pdf')), original);
    assert.deepEqual(readFileSync(join(dir, 'peer-2', 'received_2067.pdf')), original);
    // an offer over --max-file-size is refused before a byte is written
    await tcpSend(net.contactOf(9).port, [encodeFrame({ type: 'store', origin: evil, file: '0007', final: false, hops: 1 })]);
    await tcpSend(net.contactOf(8).port, fileFrames(evil, '0007', 0, 'store', Buffer.alloc(5 * 1024 * 1024)));
    assert.throws(() => readFileSync(join(dir, 'peer-8', '0007.pdf')), /ENOENT/);
  } finally {
    await net.close();
  }
});

test('open ring on sockets: connections held open by another host do not stop a Request', T, async () => {
  const { net, lines, dir } = await ring();
  const held: tcp.Socket[] = [];
  try {
    writeFileSync(join(dir, 'peer-8', '4103.pdf'), randomBytes(50_000));
    // 256 connections from 127.0.0.2 to 8, each announcing a 1 MiB frame and sending one more byte now and then
    const port = net.contactOf(8).port;
    for (let i = 0; i < 256; i++) {
      const s = tcp.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      s.on('error', () => {});
      s.on('connect', () => s.write(Uint8Array.of(0x00, 0x10, 0x00, 0x00, 2)));
      held.push(s);
    }
    const m = lines.length;
    net.peer(2)!.request('4103');
    assert.ok(await net.until(() => of(lines, 2, m).includes('File 4103 received'), 10_000), of(lines, 2, m).join('\n'));
    assert.ok(net.staleIds().length === 0);
  } finally {
    held.forEach((s) => s.destroy());
    await net.close();
  }
});

test('private ring on sockets: outsiders and forgers are refused, a tampered record breaks only its connection', T, async () => {
  const authority = await createThrowawayRing();
  const ids = new Map<bigint, TlsIdentity>();
  for (const id of [...IDS, 15]) ids.set(BigInt(id), await authority.identityFor(BigInt(id)));
  const { net, lines, dir, base } = await ring({ secure: true, identityFor: (id) => ids.get(id)! });
  try {
    // an outsider with a certificate from another authority cannot join
    const other = await createThrowawayRing();
    const outsider = new Peer({ id: 50, basePort: base, pingIntervalMs: 250, dataDir: dir, mode: { kind: 'join', known: net.contactOf(2) }, tls: await other.identityFor(50n) });
    assert.equal((await outsider.closed).code, 1, 'the outsider never got in');
    // member 4 speaks for 9: the forged successor change is delivered and ignored
    const m = lines.length;
    const ep = await createNodeRuntime().openEndpoint({ self: { id: 4n, host: '127.0.0.1', port: base + 60 }, dataDir: dir, tls: ids.get(4n)! }, {
      onMessage: () => {},
      onBadInput: () => {},
      onFileOffer: () => null,
      onFileDone: () => {},
    });
    await ep.sendMessage(net.contactOf(8), { type: 'successor-change', from: net.contactOf(9), successors: [net.contactOf(4)] });
    await ep.sendMessage(net.contactOf(19), { type: 'depart', from: net.contactOf(2), successors: [net.contactOf(4)] });
    await ep.close();
    await net.run(1000);
    assert.ok(!of(lines, 8, m).includes('Successor Change request received'));
    assert.ok(!of(lines, 19, m).includes('Peer 2 will depart from the network'));
    // a relay that flips one byte of the TLS stream after the handshake: that connection fails, nothing forged arrives
    const relayed = await tamperingRelay(net.contactOf(14).port);
    const forger = await createNodeRuntime().openEndpoint({ self: { id: 5n, host: '127.0.0.1', port: base + 61 }, dataDir: dir, tls: ids.get(5n)! }, {
      onMessage: () => {},
      onBadInput: () => {},
      onFileOffer: () => null,
      onFileDone: () => {},
    });
    const sent = forger.sendMessage({ id: 14n, host: '127.0.0.1', port: relayed.port }, { type: 'store', origin: net.contactOf(5), file: '0014', final: true, hops: 1 });
    await assert.rejects(sent, (e: unknown) => (e as { code?: string }).code === 'CDHT_ERR_UNREACHABLE' && /bad record mac|closed|reset/i.test(String((e as Error).message)));
    await forger.close();
    relayed.close();
    assert.ok(!of(lines, 14, m).includes('Store 0014 request accepted'));
    // the ring is whole and works
    assert.ok(await net.until(() => net.staleIds().length === 0, 5000));
    writeFileSync(join(dir, 'peer-8', '4103.pdf'), Buffer.from('private'));
    const m2 = lines.length;
    net.peer(2)!.request('4103');
    assert.ok(await net.until(() => of(lines, 2, m2).includes('File 4103 received'), 10_000), of(lines, 2, m2).join('\n'));
  } finally {
    await net.close();
  }
});

test('private ring on sockets: a member cannot speak for another at any hop (unsigned, stale, replayed, tampered, foreign proofs)', T, async () => {
  const authority = await createThrowawayRing();
  const ids = new Map<bigint, TlsIdentity>();
  for (const id of IDS) ids.set(BigInt(id), await authority.identityFor(BigInt(id)));
  const { net, lines, dir, base } = await ring({ secure: true, identityFor: (id) => ids.get(id)! });
  try {
    writeFileSync(join(dir, 'peer-8', '4103.pdf'), randomBytes(1024 * 1024));
    // member 4, on its own endpoint (its certificate names 4): it can sign only as 4
    const member = await createNodeRuntime().openEndpoint({ self: { id: 4n, host: '127.0.0.1', port: base + 60 }, dataDir: dir, tls: ids.get(4n)! }, {
      onMessage: () => {},
      onBadInput: () => {},
      onFileOffer: () => null,
      onFileDone: () => {},
    });
    let nonce = 1;
    const as = (identity: TlsIdentity, msg: RoutedMessage, at = Date.now()) => new OriginSigner(identity, () => nonce++).sign(msg, at);
    const nine = net.contactOf(9);
    // a store "from 9" for a name 2 owns, and a request "from 9" for the file 8 holds, three hops in
    const store: RoutedMessage = { type: 'store', origin: nine, file: '0159', final: true, hops: 3 };
    const request = (rid: number): RoutedMessage => ({ type: 'file-request', requester: nine, file: '4103', rid, final: true, hops: 3, fallback: 0 });
    const foreign = await (await createThrowawayRing()).identityFor(9n);
    const dropped = async (id: number, since: number, why: RegExp) => {
      const seen = await net.until(() => of(lines, id, since).some((l) => /^Dropped/.test(l)), 10_000);
      const drops = of(lines, id, since).filter((l) => /^Dropped/.test(l));
      assert.ok(seen && drops.length === 1, `one debug line at ${id}: ${drops.join(' | ')}`);
      assert.match(drops[0]!, why);
    };
    const attempts: [string, (rid: number) => [RoutedMessage, RoutedMessage], RegExp][] = [
      ['unsigned', (rid) => [store, request(rid)], /claiming to come from Peer 9: it carries no origin proof/],
      ["signed with member 4's key", (rid) => [as(ids.get(4n)!, store), as(ids.get(4n)!, request(rid))], /signed by Peer 4/],
      ['a stale proof of 9 (10 minutes old)', (rid) => [as(ids.get(9n)!, store, Date.now() - 600_000), as(ids.get(9n)!, request(rid), Date.now() - 600_000)], /stale/],
      ["9's proof for another name", (rid) => [{ ...as(ids.get(9n)!, store), file: '2012' }, { ...as(ids.get(9n)!, request(rid)), rid: rid + 1 }], /refused \(the signature does not match/],
      ['a certificate of another authority naming 9', (rid) => [as(foreign, store), as(foreign, request(rid))], /refused \(.*not signed by the authority/],
    ];
    for (const [what, make, why] of attempts) {
      const [s, r] = make(1000 + nonce);
      let m = lines.length;
      await member.sendMessage(net.contactOf(2), s);
      await dropped(2, m, why);
      m = lines.length;
      await member.sendMessage(net.contactOf(8), r);
      await dropped(8, m, why);
      assert.ok(!of(lines, 2).includes(`Store ${s.type === 'store' ? s.file : ''} request accepted`), `${what}: no store in 9's name`);
    }
    // a relay drops it too: an unsigned store "from 9" to 5, on its way to 19
    let m = lines.length;
    await member.sendMessage(net.contactOf(5), { type: 'store', origin: nine, file: '2067', final: false, hops: 3 });
    await dropped(5, m, /it carries no origin proof/);
    // a proof of 9's acted on once; the same proof again (other hop counts) is a replay
    const genuine = as(ids.get(9n)!, store);
    m = lines.length;
    await member.sendMessage(net.contactOf(2), genuine);
    assert.ok(await net.until(() => of(lines, 2, m).includes('Store 0159 request accepted'), 10_000));
    for (const hops of [4, 5, 6]) {
      const r = lines.length;
      await member.sendMessage(net.contactOf(2), { ...genuine, hops });
      await dropped(2, r, /a replay of an origin proof already acted on/);
    }
    assert.equal(of(lines, 2, m).filter((l) => l === 'Store 0159 request accepted').length, 1);
    await member.close();
    // no file went to 9, and 9 was offered none
    assert.ok(!of(lines, 8).some((l) => l.startsWith('Sending file 4103 to Peer 9')), 'no file sent to 9');
    assert.ok(!of(lines, 9).some((l) => l.startsWith('Refused File')), '9 was offered no file');
    // the honest ring works: a Store and a Request between honest peers, many hops each
    writeFileSync(join(dir, 'peer-4', '2067.pdf'), Buffer.from('honest'));
    m = lines.length;
    net.peer(4)!.store('2067');
    assert.ok(await net.until(() => of(lines, 19, m).includes('File 2067 stored here'), 10_000), of(lines, 19, m).join('\n'));
    m = lines.length;
    net.peer(9)!.request('4103');
    assert.ok(await net.until(() => of(lines, 9, m).includes('File 4103 received'), 10_000), of(lines, 9, m).join('\n'));
    assert.ok(net.staleIds().length === 0);
  } finally {
    await net.close();
  }
});

/**
 * A TCP relay to `port` that flips one byte in every encrypted TLS record the client sends
 * (record type 23: in TLS 1.3 the client's certificate, its Finished and all its data).
 */
async function tamperingRelay(port: number): Promise<{ port: number; close(): void }> {
  const server = tcp.createServer((client) => {
    const upstream = tcp.connect(port, '127.0.0.1');
    let pending = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      // forward whole records only, each encrypted one with a byte of its payload flipped
      while (pending.length >= 5) {
        const length = pending.readUInt16BE(3);
        if (pending.length < 5 + length) break;
        const record = Buffer.from(pending.subarray(0, 5 + length));
        if (record[0] === 23 && length > 0) record[5 + (length >> 1)] ^= 0x01;
        upstream.write(record);
        pending = pending.subarray(5 + length);
      }
    });
    upstream.on('data', (d) => client.write(d));
    for (const s of [client, upstream]) {
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as tcp.AddressInfo).port, close: () => server.close() };
}
