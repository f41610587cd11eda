// The simulated runtime: virtual time, delivery through the codec, faults, files, and
// determinism (same seed, same trace). Every network test runs with the codec on and off.
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SimNetwork, type SimNetworkOptions } from '../src/transport/sim/network.js';
import type { Contact } from '../src/core/contact.js';
import { defaultContact } from '../src/space.js';
import { CdhtError } from '../src/core/errors.js';
import type { FileBegin, Message } from '../src/core/messages.js';
import type { Endpoint } from '../src/transport/types.js';
import { encodeFrame } from '../src/wire/index.js';

interface Received {
  msg: Message;
  via: 'udp' | 'tcp';
  at: number;
}

interface TestPeer {
  contact: Contact;
  ep: Endpoint;
  dir: string;
  inbox: Received[];
  bad: string[];
  offers: FileBegin[];
  done: { header: FileBegin; result: { ok: true; sha256?: Uint8Array } | { ok: false; error: string } }[];
  /** What onFileOffer answers. */
  saveAs: (header: FileBegin) => string | null;
}

/** log, when given, gets one line per delivery across all peers, in delivery order. */
async function peer(net: SimNetwork, id: number, host = '127.0.0.1', log?: string[]): Promise<TestPeer> {
  const rt = net.runtime();
  const contact = defaultContact(BigInt(id), host);
  const p: Partial<TestPeer> & Pick<TestPeer, 'inbox' | 'bad' | 'offers' | 'done'> = {
    contact,
    dir: `data-${host}-${id}`,
    inbox: [],
    bad: [],
    offers: [],
    done: [],
    saveAs: (h) => h.file,
  };
  const t = p as TestPeer;
  t.ep = await rt.openEndpoint({ self: contact, dataDir: t.dir }, {
    onMessage: (msg, { via }) => {
      t.inbox.push({ msg, via, at: rt.now() });
      const n = msg.type === 'ping' ? msg.seq : msg.type === 'successor-query' ? msg.qid : -1;
      log?.push(`${rt.now()} ${id} ${via} ${n}`);
    },
    onBadInput: (detail) => t.bad.push(detail),
    onFileOffer: (header) => {
      t.offers.push(header);
      return t.saveAs(header);
    },
    onFileDone: (header, result) => t.done.push({ header, result }),
  });
  return t;
}

function ping(from: Contact, seq: number): Message {
  return { type: 'ping', from, seq, role: 1, loud: false };
}

/** Settles a promise into a value so a rejection during a run is never unhandled. */
function settle(p: Promise<void>): Promise<'ok' | CdhtError> {
  return p.then(
    () => 'ok' as const,
    (err: unknown) => {
      assert.ok(err instanceof CdhtError, `expected a CdhtError, got ${String(err)}`);
      return err;
    },
  );
}

function bytesOf(net: SimNetwork, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(net.random() * 256);
  return out;
}

test('timers fire in virtual time order and runFor ends on the exact time', async () => {
  const net = new SimNetwork();
  const rt = net.runtime();
  assert.equal(rt.kind, 'sim');
  assert.equal(rt.now(), 0);
  const fired: string[] = [];
  rt.setTimer(30, () => fired.push(`c@${rt.now()}`));
  rt.setTimer(10, () => fired.push(`a1@${rt.now()}`));
  rt.setTimer(20, () => {
    fired.push(`b@${rt.now()}`);
    rt.setTimer(0, () => fired.push(`b0@${rt.now()}`));
  });
  rt.setTimer(10, () => fired.push(`a2@${rt.now()}`));
  const cancelled = rt.setTimer(15, () => fired.push('never'));
  rt.clearTimer(cancelled);
  rt.clearTimer(cancelled);
  rt.clearTimer(undefined);

  await net.runFor(25);
  assert.deepEqual(fired, ['a1@10', 'a2@10', 'b@20', 'b0@20']);
  assert.equal(rt.now(), 25);
  assert.equal(net.now(), 25);

  await net.runFor(10);
  assert.deepEqual(fired, ['a1@10', 'a2@10', 'b@20', 'b0@20', 'c@30']);
  assert.equal(rt.now(), 35);
  await net.runFor(0);
  assert.equal(rt.now(), 35);

  // A second runtime of the same network shares the clock.
  assert.equal(net.runtime().now(), 35);
  assert.equal(net.stats().eventsProcessed, 5);
});

test('promise continuations triggered by an event run before the next event', async () => {
  const net = new SimNetwork();
  const rt = net.runtime();
  const log: string[] = [];
  rt.setTimer(5, () => {
    void (async () => {
      await Promise.resolve();
      await Promise.resolve();
      log.push('continuation');
    })();
  });
  rt.setTimer(5, () => log.push('next event'));
  await net.runFor(5);
  assert.deepEqual(log, ['continuation', 'next event']);
});

test('runUntil returns false after maxMs and true as soon as the predicate holds', async () => {
  const net = new SimNetwork();
  const rt = net.runtime();
  let n = 0;
  const tick = () => {
    n++;
    rt.setTimer(10, tick);
  };
  rt.setTimer(10, tick);
  assert.equal(await net.runUntil(() => false, 95), false);
  assert.equal(net.now(), 95);
  assert.equal(n, 9);
  assert.equal(await net.runUntil(() => n >= 12, 1000), true);
  assert.equal(net.now(), 120);
  assert.equal(await net.runUntil(() => true, 1000), true);
  assert.equal(net.now(), 120);
  // With nothing queued, time still advances to the deadline.
  const empty = new SimNetwork();
  assert.equal(await empty.runUntil(() => false, 500), false);
  assert.equal(empty.now(), 500);
});

test('runs cannot nest', async () => {
  const net = new SimNetwork();
  const first = net.runFor(10);
  await assert.rejects(net.runFor(10), /in progress/);
  await first;
});

test('a zero-delay timer loop is reported as a livelock', async () => {
  const net = new SimNetwork();
  const rt = net.runtime();
  let loops = 0;
  // Stop after a while anyway so the test stays bounded if the guard were missing.
  const again = () => {
    if (++loops < 1_000_000) rt.setTimer(0, again);
  };
  rt.setTimer(0, again);
  await assert.rejects(net.runFor(1), /without time advancing/);
  await assert.rejects(new SimNetwork().runFor(Number.NaN), CdhtError);
});

test('the constructor refuses bad options', () => {
  assert.throws(() => new SimNetwork({ latencyMs: [5, 1] }), CdhtError);
  assert.throws(() => new SimNetwork({ lossRate: 1.5 }), CdhtError);
  assert.throws(() => new SimNetwork().setLoss(-0.1), CdhtError);
  assert.equal(new SimNetwork().seed, 1);
  assert.equal(new SimNetwork({ seed: 42 }).seed, 42);
});

test('random() is seeded', () => {
  const a = new SimNetwork({ seed: 7 });
  const b = new SimNetwork({ seed: 7 });
  const c = new SimNetwork({ seed: 8 });
  const xs = Array.from({ length: 10 }, () => a.random());
  assert.deepEqual(xs, Array.from({ length: 10 }, () => b.random()));
  assert.notDeepEqual(xs, Array.from({ length: 10 }, () => c.random()));
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

for (const codec of [true, false]) {
  const opts = (o: SimNetworkOptions = {}): SimNetworkOptions => ({ codec, ...o });

  describe(`sim network, codec ${codec ? 'on' : 'off'}`, () => {
    test('a datagram ping and a TCP join are delivered and decoded', async () => {
      const net = new SimNetwork(opts());
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      const p = ping(a.contact, 7);
      const join: Message = { type: 'join', joiner: a.contact, hops: 3 };
      a.ep.sendDatagram(b.contact, p);
      const sent = settle(a.ep.sendMessage(b.contact, join));
      await net.runFor(10);
      assert.equal(await sent, 'ok');
      assert.equal(b.inbox.length, 2);
      const byType = new Map(b.inbox.map((r) => [r.msg.type, r]));
      assert.deepEqual(byType.get('ping')?.msg, p);
      assert.equal(byType.get('ping')?.via, 'udp');
      assert.deepEqual(byType.get('join')?.msg, join);
      assert.equal(byType.get('join')?.via, 'tcp');
      for (const r of b.inbox) assert.ok(r.at >= 1 && r.at <= 5, `latency ${r.at} outside [1, 5]`);
      assert.notEqual(byType.get('join')?.msg, join, 'the receiver gets its own copy');
      assert.equal(b.bad.length, 0);
      assert.equal(a.inbox.length, 0);
      const s = net.stats();
      assert.equal(s.datagramsSent, 1);
      assert.equal(s.datagramsDelivered, 1);
      assert.equal(s.messagesSent, 1);
      assert.equal(s.messagesDelivered, 1);
    });

    test('the sendMessage promise resolves on delivery, not before', async () => {
      const net = new SimNetwork(opts({ latencyMs: [4, 4] }));
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      let resolvedAt = -1;
      const sent = a.ep.sendMessage(b.contact, { type: 'depart-ack', from: a.contact }).then(() => {
        resolvedAt = net.now();
        assert.equal(b.inbox.length, 1);
      });
      await net.runFor(3);
      assert.equal(resolvedAt, -1);
      await net.runFor(5);
      await sent;
      assert.equal(resolvedAt, 4);
    });

    test('TCP messages between one pair arrive in order', async () => {
      const net = new SimNetwork(opts({ latencyMs: [1, 50] }));
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      const sends: Promise<unknown>[] = [];
      for (let qid = 0; qid < 50; qid++) {
        sends.push(settle(a.ep.sendMessage(b.contact, { type: 'successor-query', from: a.contact, qid })));
      }
      await net.runFor(100);
      assert.deepEqual(await Promise.all(sends), new Array(50).fill('ok'));
      assert.deepEqual(
        b.inbox.map((r) => (r.msg.type === 'successor-query' ? r.msg.qid : -1)),
        Array.from({ length: 50 }, (_, i) => i),
      );
    });

    test('sendMessage to an unbound address rejects with CDHT_ERR_UNREACHABLE after the latency', async () => {
      const net = new SimNetwork(opts({ latencyMs: [3, 3] }));
      const a = await peer(net, 1);
      let failedAt = -1;
      const sent = settle(a.ep.sendMessage(defaultContact(9n), ping(a.contact, 1))).then((r) => {
        failedAt = net.now();
        return r;
      });
      await net.runFor(10);
      const r = await sent;
      assert.ok(r instanceof CdhtError);
      assert.equal(r.code, 'CDHT_ERR_UNREACHABLE');
      assert.equal(failedAt, 3);
      // A datagram to nowhere is silently dropped.
      a.ep.sendDatagram(defaultContact(9n), ping(a.contact, 2));
      await net.runFor(10);
      assert.equal(net.stats().datagramsDropped, 1);
    });

    test('an address can be bound once; kill frees it and later messages reject', async () => {
      const net = new SimNetwork(opts());
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      await assert.rejects(peer(net, 2), { code: 'CDHT_ERR_LISTEN', message: /address already in use/ });
      assert.equal(net.isBound(b.contact), true);

      const before = settle(a.ep.sendMessage(b.contact, ping(a.contact, 1)));
      await net.runFor(10);
      assert.equal(await before, 'ok');

      assert.equal(net.kill(b.contact), true);
      assert.equal(net.kill(b.contact), false);
      assert.equal(net.isBound(b.contact), false);
      const after = settle(a.ep.sendMessage(b.contact, ping(a.contact, 2)));
      a.ep.sendDatagram(b.contact, ping(a.contact, 3));
      await net.runFor(10);
      const r = await after;
      assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_UNREACHABLE');
      assert.equal(b.inbox.length, 1);

      // The killed peer's own endpoint can no longer send.
      const fromDead = settle(b.ep.sendMessage(a.contact, ping(b.contact, 4)));
      await net.runFor(10);
      assert.ok((await fromDead) instanceof CdhtError);

      // A restarted peer can bind the same address again and receives new messages.
      const b2 = await peer(net, 2);
      const again = settle(a.ep.sendMessage(b2.contact, ping(a.contact, 5)));
      await net.runFor(10);
      assert.equal(await again, 'ok');
      assert.equal(b2.inbox.length, 1);
      assert.equal(b.inbox.length, 1);
    });

    test('close drops datagrams and rejects messages in flight', async () => {
      const net = new SimNetwork(opts({ latencyMs: [5, 5] }));
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      a.ep.sendDatagram(b.contact, ping(a.contact, 1));
      const msg = settle(a.ep.sendMessage(b.contact, ping(a.contact, 2)));
      await net.runFor(2);
      await b.ep.close();
      await b.ep.close();
      await net.runFor(10);
      const r = await msg;
      assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_UNREACHABLE');
      assert.equal(b.inbox.length, 0);
      assert.equal(net.stats().datagramsDropped, 1);
    });

    test('loss 1.0 drops every datagram but no message', async () => {
      const net = new SimNetwork(opts({ lossRate: 1 }));
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 20; i++) {
        a.ep.sendDatagram(b.contact, ping(a.contact, i));
        sends.push(settle(a.ep.sendMessage(b.contact, ping(a.contact, 100 + i))));
      }
      await net.runFor(20);
      assert.deepEqual(await Promise.all(sends), new Array(20).fill('ok'));
      assert.ok(b.inbox.every((r) => r.via === 'tcp'));
      assert.equal(b.inbox.length, 20);
      assert.equal(net.stats().datagramsDropped, 20);

      net.setLoss(0);
      a.ep.sendDatagram(b.contact, ping(a.contact, 999));
      await net.runFor(10);
      assert.equal(b.inbox.at(-1)?.via, 'udp');
    });

    test('a partition by host:port cuts both directions until heal', async () => {
      const net = new SimNetwork(opts({ connectTimeoutMs: 3000 }));
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      const c = await peer(net, 3);
      net.partition(['127.0.0.1:12001'], ['127.0.0.1:12002']);

      a.ep.sendDatagram(b.contact, ping(a.contact, 1));
      b.ep.sendDatagram(a.contact, ping(b.contact, 2));
      a.ep.sendDatagram(c.contact, ping(a.contact, 3));
      let failedAt = -1;
      const cut = settle(a.ep.sendMessage(b.contact, ping(a.contact, 4))).then((r) => {
        failedAt = net.now();
        return r;
      });
      await net.runFor(5000);
      const r = await cut;
      assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_UNREACHABLE');
      assert.equal(failedAt, 3000, 'a partitioned connect fails after connectTimeoutMs');
      assert.equal(a.inbox.length, 0);
      assert.equal(b.inbox.length, 0);
      assert.equal(c.inbox.length, 1);

      net.heal();
      a.ep.sendDatagram(b.contact, ping(a.contact, 5));
      const healed = settle(a.ep.sendMessage(b.contact, ping(a.contact, 6)));
      await net.runFor(10);
      assert.equal(await healed, 'ok');
      assert.equal(b.inbox.length, 2);
    });

    test('a partition by host covers every port on it, and catches messages in flight', async () => {
      const net = new SimNetwork(opts({ latencyMs: [5, 5], connectTimeoutMs: 100 }));
      const a = await peer(net, 1, '10.0.0.1');
      const a2 = await peer(net, 2, '10.0.0.1');
      const b = await peer(net, 3, '10.0.0.2');
      const inFlight = settle(a.ep.sendMessage(b.contact, ping(a.contact, 1)));
      a2.ep.sendDatagram(b.contact, ping(a2.contact, 2));
      await net.runFor(1);
      net.partition(['10.0.0.1'], ['10.0.0.2']);
      await net.runFor(200);
      const r = await inFlight;
      assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_UNREACHABLE');
      assert.equal(b.inbox.length, 0);
      // Same host on both ends is not cut.
      a.ep.sendDatagram(a2.contact, ping(a.contact, 3));
      await net.runFor(10);
      assert.equal(a2.inbox.length, 1);
    });

    test('same seed gives the same trace of 200 random sends; another seed does not', async () => {
      const trace = async (seed: number): Promise<string[]> => {
        const net = new SimNetwork(opts({ seed, latencyMs: [1, 20], lossRate: 0.2 }));
        const log: string[] = [];
        const peers: TestPeer[] = [];
        for (let id = 0; id < 5; id++) peers.push(await peer(net, id, '127.0.0.1', log));
        for (let i = 0; i < 200; i++) {
          const from = peers[Math.floor(net.random() * peers.length)]!;
          const to = peers[Math.floor(net.random() * peers.length)]!;
          if (net.random() < 0.3) {
            void settle(from.ep.sendMessage(to.contact, { type: 'successor-query', from: from.contact, qid: i }));
          } else {
            from.ep.sendDatagram(to.contact, ping(from.contact, i));
          }
          if (i % 20 === 19) await net.runFor(net.random() * 10);
        }
        await net.runFor(100);
        return log;
      };
      const one = await trace(1234);
      const two = await trace(1234);
      const other = await trace(1235);
      assert.ok(one.length > 100, `only ${one.length} deliveries`);
      assert.deepEqual(one, two);
      assert.notDeepEqual(one, other);
    });

    test('sendFile of 100 KiB arrives identical', async () => {
      const net = new SimNetwork(opts({ latencyMs: [2, 2], bytesPerMs: 100_000 }));
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      const content = bytesOf(net, 100 * 1024);
      net.disk.write(a.dir, '4321.pdf', content);
      assert.deepEqual(await a.ep.statFile('4321.pdf'), { size: content.length });
      assert.equal(await a.ep.statFile('nope.pdf'), null);
      b.saveAs = () => 'got-4321.pdf';
      const header: FileBegin = { type: 'file-begin', from: a.contact, file: '4321', rid: 9, purpose: 'request', size: content.length };
      let doneAt = -1;
      const sent = settle(a.ep.sendFile(b.contact, header, '4321.pdf')).then((r) => {
        doneAt = net.now();
        return r;
      });
      assert.equal(await net.runUntil(() => b.done.length > 0, 1000), true);
      assert.equal(await sent, 'ok');
      assert.deepEqual(b.offers, [header]);
      assert.deepEqual(b.done.map((d) => d.result), [{ ok: true, sha256: createHash('sha256').update(content).digest() }]);
      assert.deepEqual(net.disk.read(b.dir, 'got-4321.pdf'), content);
      assert.deepEqual(net.disk.list(b.dir), ['got-4321.pdf']);
      assert.equal(doneAt, 2 + Math.ceil((100 * 1024) / 100_000));
      assert.deepEqual(await b.ep.statFile('got-4321.pdf'), { size: content.length });
      assert.equal(net.stats().filesDelivered, 1);
      assert.equal(net.stats().fileBytesDelivered, content.length);
    });

    test('failNextTransfer breaks one transfer midway and leaves nothing behind', async () => {
      const net = new SimNetwork(opts());
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      net.disk.write(a.dir, '77.txt', bytesOf(net, 300_000));
      const header: FileBegin = { type: 'file-begin', from: a.contact, file: '0077', rid: 0, purpose: 'store', size: 300_000 };
      net.failNextTransfer();
      const broken = settle(a.ep.sendFile(b.contact, header, '77.txt'));
      await net.runFor(50);
      const r = await broken;
      assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_TRANSFER');
      assert.equal(b.done.length, 1);
      assert.equal(b.done[0]!.result.ok, false);
      assert.deepEqual(net.disk.list(b.dir), []);
      // Only one transfer breaks.
      const fine = settle(a.ep.sendFile(b.contact, header, '77.txt'));
      await net.runFor(50);
      assert.equal(await fine, 'ok');
      assert.deepEqual(net.disk.list(b.dir), ['0077']);
    });

    test('a refused, misnamed, missing or unreachable transfer writes nothing', async () => {
      const net = new SimNetwork(opts());
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      net.disk.write(a.dir, '5.bin', new Uint8Array([1, 2, 3]));
      const header: FileBegin = { type: 'file-begin', from: a.contact, file: '0005', rid: 1, purpose: 'request', size: 3 };

      b.saveAs = () => null;
      const refused = settle(a.ep.sendFile(b.contact, header, '5.bin'));
      await net.runFor(20);
      const r0 = await refused;
      assert.ok(r0 instanceof CdhtError && r0.code === 'CDHT_ERR_TRANSFER', 'a refused offer rejects the send');
      assert.equal(b.offers.length, 1);
      assert.equal(b.done.length, 0);

      for (const bad of ['../5.bin', 'a\\b', '.hidden', '']) {
        b.saveAs = () => bad;
        const r = await (async () => {
          const p = settle(a.ep.sendFile(b.contact, header, '5.bin'));
          await net.runFor(20);
          return p;
        })();
        assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_TRANSFER', `name ${JSON.stringify(bad)}`);
      }
      assert.equal(b.done.length, 4);
      assert.ok(b.done.every((d) => !d.result.ok));
      assert.deepEqual(net.disk.list(b.dir), []);

      const missing = await settle(a.ep.sendFile(b.contact, header, 'missing.bin'));
      assert.ok(missing instanceof CdhtError && missing.code === 'CDHT_ERR_BAD_ARGUMENT');

      const nowhere = settle(a.ep.sendFile(defaultContact(50n), header, '5.bin'));
      await net.runFor(20);
      const r = await nowhere;
      assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_UNREACHABLE');
    });

    test('a receiver killed during a transfer gets no callback and keeps no file', async () => {
      const net = new SimNetwork(opts({ latencyMs: [1, 1], bytesPerMs: 1000 }));
      const a = await peer(net, 1);
      const b = await peer(net, 2);
      net.disk.write(a.dir, '8.bin', new Uint8Array(10_000));
      const header: FileBegin = { type: 'file-begin', from: a.contact, file: '0008', rid: 2, purpose: 'request', size: 10_000 };
      const sent = settle(a.ep.sendFile(b.contact, header, '8.bin'));
      await net.runFor(5);
      assert.equal(b.offers.length, 1);
      net.kill(b.contact);
      await net.runFor(20);
      const r = await sent;
      assert.ok(r instanceof CdhtError && r.code === 'CDHT_ERR_TRANSFER');
      assert.equal(b.done.length, 0);
      assert.deepEqual(net.disk.list(b.dir), []);
    });

    test('deliverRaw: garbage goes to onBadInput, a good frame to onMessage', async () => {
      const net = new SimNetwork(opts());
      const a = await peer(net, 1);
      assert.equal(net.deliverRaw(a.contact, new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0, 1, 2]), 'udp'), true);
      assert.equal(net.deliverRaw(a.contact, new Uint8Array(0), 'tcp'), true);
      assert.equal(a.bad.length, 2);
      assert.match(a.bad[0]!, /^udp /);
      assert.match(a.bad[1]!, /^tcp /);
      assert.equal(a.inbox.length, 0);
      assert.equal(net.deliverRaw(defaultContact(77n), new Uint8Array([1]), 'udp'), false);

      const p = ping(a.contact, 5);
      assert.equal(net.deliverRaw(a.contact, encodeFrame(p), 'udp'), true);
      assert.deepEqual(a.inbox.map((r) => r.msg), [p]);
      assert.equal(net.stats().badInputs, 2);
    });
  });
}

test('the disk copies on write and read, and lists names sorted', () => {
  const net = new SimNetwork();
  const bytes = new Uint8Array([1, 2, 3]);
  net.disk.write('d', 'b', bytes);
  net.disk.write('d', 'a', bytes);
  bytes[0] = 9;
  const read = net.disk.read('d', 'b');
  assert.deepEqual(read, new Uint8Array([1, 2, 3]));
  read![1] = 9;
  assert.deepEqual(net.disk.read('d', 'b'), new Uint8Array([1, 2, 3]));
  assert.deepEqual(net.disk.list('d'), ['a', 'b']);
  assert.deepEqual(net.disk.list('other'), []);
  assert.equal(net.disk.read('d', 'zzz'), undefined);
  assert.equal(net.disk.remove('d', 'a'), true);
  assert.equal(net.disk.remove('d', 'a'), false);
  assert.deepEqual(net.disk.list('d'), ['b']);
});
