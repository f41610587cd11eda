// The library's data API (put/get/getBuffer/getFile/stat/has/lookup) on the simulator: results,
// coded errors, abort and timeout, progress and typed events, and the 8-bit mode unchanged.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CdhtError } from '../src/core/errors.js';
import type { Progress } from '../src/api/types.js';
import type { Peer, PeerReceived, PeerStored } from '../src/peer.js';
import { createTestnet, type Testnet, type TestnetOptions } from '../src/testnet.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The simulator's seed: SEED=n replays a failing run. */
const SEED = Number(process.env.SEED ?? 7);
const BASE: TestnetOptions = { runtime: 'sim', bits: 16, count: 12, settled: true, replicas: 3, seed: SEED, pingIntervalMs: 5000, perPeerDirs: true, dataDir: '/sim' };

/** Runs the simulator until `p` settles (at most maxMs virtual ms); its value, or its error thrown. */
async function drive<T>(net: Testnet, p: Promise<T>, maxMs = 120_000): Promise<T> {
  let done = false;
  let value: T | undefined;
  let error: unknown;
  p.then(
    (v) => ((done = true), (value = v)),
    (e: unknown) => ((done = true), (error = e)),
  );
  await net.until(() => done, maxMs);
  if (!done) throw new Error(`not settled in ${maxMs} virtual ms`);
  if (error !== undefined) throw error;
  return value as T;
}

async function rejectsWith(net: Testnet, p: Promise<unknown>, code: string): Promise<CdhtError> {
  try {
    await drive(net, p);
  } catch (e) {
    assert.ok(e instanceof CdhtError, `a CdhtError, got ${String(e)} (SEED=${SEED})`);
    assert.equal(e.code, code, `${e.message} (SEED=${SEED})`);
    return e;
  }
  assert.fail(`expected ${code}, but it resolved (SEED=${SEED})`);
}

/** Every file (stored, staged or temporary) on the simulated disk of every peer of `net`. */
function allFiles(net: Testnet): { peer: bigint; dir: string; name: string }[] {
  const out: { peer: bigint; dir: string; name: string }[] = [];
  for (const p of net.peers.values()) for (const dir of [p.storeDir, net.dataDirOf(p.id)]) for (const name of net.sim!.disk.list(dir)) out.push({ peer: p.id, dir, name });
  return out;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function collect(net: Testnet, s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  const done = (async () => {
    for await (const c of s) parts.push(Buffer.from(c as Uint8Array));
  })();
  await drive(net, done);
  return Buffer.concat(parts);
}

test('sim: put then get of 0 B, 1 B and 64 KiB, with getBuffer, getFile, stat, has and lookup', async () => {
  const net = await createTestnet(BASE);
  const out = mkdtempSync(join(tmpdir(), 'cdht-lib-'));
  dirs.push(out);
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const b = net.peer(ids[5]!)!;
    for (const [name, bytes] of [
      ['empty file', new Uint8Array(0)],
      ['one byte', Uint8Array.of(42)],
      ['Quarterly report (final).txt', randomBytes(64 * 1024)],
    ] as const) {
      const r = await drive(net, a.put(name, bytes));
      assert.equal(r.name, name);
      assert.equal(r.size, bytes.length);
      assert.equal(r.sha256, sha(bytes));
      assert.equal(r.key, net.space.keyOf(name));
      assert.equal(r.holders.length, 3, `${name}: k holders`);
      assert.equal(new Set(r.holders.map((h) => h.id)).size, 3);
      assert.ok(r.hops >= 0);

      const got = await drive(net, b.getBuffer(name));
      assert.equal(sha(got), sha(bytes), `${name} from getBuffer`);
      assert.equal(sha(await collect(net, b.get(name))), sha(bytes), `${name} from get`);
      const path = join(out, `${bytes.length}.bin`);
      const f = await drive(net, b.getFile(name, path));
      assert.deepEqual({ size: f.size, sha256: f.sha256 }, { size: bytes.length, sha256: sha(bytes) });
      assert.equal(sha(readFileSync(path)), sha(bytes));
      assert.deepEqual(readdirSync(out).filter((n) => n.includes('.part')), []);

      const st = await drive(net, b.stat(name));
      assert.ok(st);
      assert.equal(st.size, bytes.length);
      assert.equal(st.sha256, sha(bytes));
      assert.equal(st.holders.length, 3);
      assert.equal(st.holders[0]!.id, r.holders[0]!.id, 'owner first');
      assert.equal(await drive(net, b.has(name)), true);

      const lk = await drive(net, b.lookup(r.key));
      assert.equal(lk.owner.id, r.holders[0]!.id);
      assert.ok(lk.hops >= 0);
      assert.ok(lk.successors.length >= 2);
      // the path the lookup took: the asker first, the owner last, one peer per hop in between
      assert.equal(lk.path[0], b.id);
      assert.equal(lk.path.at(-1), lk.owner.id);
      assert.equal(lk.path.length, lk.owner.id === b.id ? 1 : lk.hops + 1);
      assert.equal(new Set(lk.path).size, lk.path.length, 'no peer twice on a settled ring');
      for (const id of lk.path.slice(1, -1)) assert.ok(!b.space.betweenRightClosed(r.key, id, lk.owner.id), 'a relay never lies past the key');
    }
    assert.equal(await drive(net, b.stat('never put')), null);
    assert.equal(await drive(net, b.has('never put')), false);
    // nothing temporary left anywhere
    assert.deepEqual(allFiles(net).filter((f) => f.name.startsWith('.')), []);
  } finally {
    await net.close();
  }
});

test('sim: coded errors (NOT_FOUND, NAME, EXISTS, TOO_LARGE, NOT_IN_RING)', async () => {
  const net = await createTestnet(BASE);
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[1]!)!;
    await rejectsWith(net, a.getBuffer('no such name'), 'CDHT_ERR_NOT_FOUND');
    await rejectsWith(net, a.put('x'.repeat(256), 'hi'), 'CDHT_ERR_NAME');
    await rejectsWith(net, a.put('é'.repeat(128), 'hi'), 'CDHT_ERR_NAME'); // 256 UTF-8 bytes
    await rejectsWith(net, a.put('a/b', 'hi'), 'CDHT_ERR_NAME');
    await rejectsWith(net, a.getBuffer('a/b'), 'CDHT_ERR_NAME');
    const ok = await drive(net, a.put('é'.repeat(127), 'hi')); // 254 bytes: fine
    assert.equal(ok.size, 2);

    await drive(net, a.put('taken', 'first bytes'));
    await rejectsWith(net, net.peer(ids[7]!)!.put('taken', 'other bytes'), 'CDHT_ERR_EXISTS');
    await rejectsWith(net, a.put('taken', 'other bytes'), 'CDHT_ERR_EXISTS');
    assert.equal((await drive(net, a.getBuffer('taken'))).toString(), 'first bytes', 'the first put stays');
    // the same bytes again: the put is done already, with the same record and holders
    const again = await drive(net, net.peer(ids[3]!)!.put('taken', 'first bytes'));
    assert.equal(again.sha256, sha(Buffer.from('first bytes')));
    assert.ok(again.holders.length >= 1);
  } finally {
    await net.close();
  }
  // a ring whose peers take at most 1000 bytes
  const small = await createTestnet({ ...BASE, maxFileBytes: 1000 });
  try {
    const p = small.peer(small.runningIds()[0]!)!;
    await rejectsWith(small, p.put('big', randomBytes(1001)), 'CDHT_ERR_TOO_LARGE');
    assert.deepEqual(allFiles(small), [], 'nothing staged or stored');
    const r = await drive(small, p.put('fits', randomBytes(1000)));
    assert.equal(r.holders.length, 3);
  } finally {
    await small.close();
  }
});

test('sim: a put to an owner with a smaller maxFileBytes fails TOO_LARGE and leaves no copy', async () => {
  const net = await createTestnet({ ...BASE, maxFileBytes: 1000 });
  try {
    const ids = net.runningIds();
    // a peer that takes bigger files joins; its puts land on owners that do not
    (net.opts as { maxFileBytes?: number }).maxFileBytes = 1_000_000;
    const big = net.start({ id: 1234, mode: { kind: 'join', known: net.contactOf(ids[0]!) } });
    assert.ok(await net.until(() => big.isInRing, 30_000));
    assert.notEqual((await drive(net, big.lookup(net.space.keyOf('too big for the ring')))).owner.id, big.id);
    await rejectsWith(net, big.put('too big for the ring', randomBytes(5000)), 'CDHT_ERR_TOO_LARGE');
    assert.deepEqual(allFiles(net).filter((f) => f.name === 'too big for the ring' || f.name.startsWith('.')), []);
  } finally {
    await net.close();
  }
});

test('sim: a peer not in a ring (killed, or not started) fails NOT_IN_RING', async () => {
  const net = await createTestnet(BASE);
  try {
    const ids = net.runningIds();
    const p = net.peer(ids[2]!)!;
    await net.kill(ids[2]!);
    await net.until(() => p.isClosed, 10_000);
    await rejectsWith(net, p.put('after death', 'x'), 'CDHT_ERR_NOT_IN_RING');
    await rejectsWith(net, p.getBuffer('after death'), 'CDHT_ERR_NOT_IN_RING');
    await rejectsWith(net, p.stat('after death'), 'CDHT_ERR_NOT_IN_RING');
    await rejectsWith(net, p.lookup(5), 'CDHT_ERR_NOT_IN_RING');
    // started, joining through nobody reachable: not in a ring yet
    const lone = net.start({ id: 777, mode: { kind: 'join', known: { id: 778n, host: '127.0.0.1', port: 1 } } });
    await rejectsWith(net, lone.put('early', 'x'), 'CDHT_ERR_NOT_IN_RING');
  } finally {
    await net.close();
  }
});

/** A source that yields `chunks` chunks of `size` bytes, `signal` aborted after `abortAfter` of them. */
async function* slowSource(net: Testnet, chunks: number, size: number, onChunk?: (i: number) => void): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < chunks; i++) {
    onChunk?.(i);
    await new Promise<void>((r) => net.runtime.setTimer(10, () => r())); // the source takes (virtual) time between chunks
    yield randomBytes(size);
  }
}

test('sim: aborting a put while its source still yields rejects ABORTED and leaves no copy', async () => {
  const net = await createTestnet(BASE);
  try {
    const a = net.peer(net.runningIds()[4]!)!;
    const ac = new AbortController();
    const p = a.put('aborted put', slowSource(net, 100, 1000, (i) => i === 10 && ac.abort(new Error('changed my mind'))), { signal: ac.signal });
    const err = await rejectsWith(net, p, 'CDHT_ERR_ABORTED');
    assert.ok(err);
    await net.run(5000);
    assert.deepEqual(allFiles(net), [], 'no file of the put anywhere');
    assert.equal(await drive(net, a.has('aborted put')), false);
    // an already-aborted signal rejects at once
    await rejectsWith(net, a.put('pre-aborted', 'x', { signal: AbortSignal.abort() }), 'CDHT_ERR_ABORTED');
  } finally {
    await net.close();
  }
});

test('sim: timeoutMs ends a put with TIMEOUT and no copy; onProgress counts up to the total', async () => {
  const net = await createTestnet(BASE);
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[4]!)!;
    // the deadline covers the source too: one that never ends in time
    await rejectsWith(net, a.put('slow source', slowSource(net, 1000, 100), { timeoutMs: 500 }), 'CDHT_ERR_TIMEOUT');
    await net.run(5000);
    assert.deepEqual(allFiles(net).filter((f) => f.name === 'slow source' || f.name.startsWith('.')), []);

    const cut = await drive(net, a.put('cut off', 'bytes'));
    const b = net.peer(ids[9]!)!;
    const prog: Progress[] = [];
    const bytes = randomBytes(300_000);
    await drive(net, b.put('with progress', bytes, { onProgress: (p) => prog.push(p) }));
    assert.ok(prog.length >= 1);
    for (let i = 1; i < prog.length; i++) assert.ok(prog[i]!.phase !== prog[i - 1]!.phase || prog[i]!.bytes >= prog[i - 1]!.bytes, 'bytes never go down within a phase');
    assert.deepEqual(prog.at(-1), { phase: 'sending', bytes: bytes.length, total: bytes.length });

    const gprog: Progress[] = [];
    const got = await drive(net, net.peer(ids[2]!)!.getBuffer('with progress', { onProgress: (p) => gprog.push(p) }));
    assert.equal(sha(got), sha(bytes));
    assert.ok(gprog.length >= 1);
    for (let i = 1; i < gprog.length; i++) assert.ok(gprog[i]!.bytes >= gprog[i - 1]!.bytes);
    assert.deepEqual(gprog.at(-1), { phase: 'receiving', bytes: bytes.length, total: bytes.length });

    // a getter cut off from the ring: no answer in time
    const holders = new Set(cut.holders.map((h) => h.id));
    const lonely = ids.find((x) => !holders.has(x))!;
    const addr = (x: bigint) => `${net.contactOf(x).host}:${net.contactOf(x).port}`;
    net.sim!.partition([addr(lonely)], ids.filter((x) => x !== lonely).map(addr));
    await rejectsWith(net, net.peer(lonely)!.getBuffer('cut off', { timeoutMs: 300 }), 'CDHT_ERR_TIMEOUT');
    net.sim!.heal();
  } finally {
    await net.close();
  }
});

test("sim: typed events: 'stored' on the putting peer, 'received' on a get from a remote holder", async () => {
  const net = await createTestnet(BASE);
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const stored: PeerStored[] = [];
    a.on('stored', (s) => stored.push(s));
    const r = await drive(net, a.put('evented', 'some bytes'));
    assert.ok(stored.some((s) => s.name === 'evented' && s.by === r.holders[0]!.id), JSON.stringify(stored, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
    // a getter that holds no copy
    const holderIds = new Set(r.holders.map((h) => h.id));
    const g: Peer = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    const received: PeerReceived[] = [];
    g.on('received', (x) => received.push(x));
    assert.equal((await drive(net, g.getBuffer('evented'))).toString(), 'some bytes');
    assert.ok(received.some((x) => x.name === 'evented' && holderIds.has(x.from) && x.size === 10), JSON.stringify(received, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
  } finally {
    await net.close();
  }
});

test('sim: sources (string, strings, { path }), copies: 1, and two puts of one name at once', async () => {
  const net = await createTestnet(BASE);
  const dir = mkdtempSync(join(tmpdir(), 'cdht-lib-'));
  dirs.push(dir);
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[6]!)!;
    const text = 'naïve café ☕';
    assert.equal((await drive(net, a.put('a string', text))).size, Buffer.byteLength(text));
    assert.equal((await drive(net, a.getBuffer('a string'))).toString('utf8'), text);
    const parts = (async function* () {
      yield 'one, ';
      yield Buffer.from('two, ');
      yield 'three';
    })();
    await drive(net, a.put('strings', parts));
    assert.equal((await drive(net, net.peer(ids[0]!)!.getBuffer('strings'))).toString(), 'one, two, three');
    const path = join(dir, 'on disk.bin');
    const bytes = randomBytes(10_000);
    (await import('node:fs')).writeFileSync(path, bytes);
    assert.equal((await drive(net, a.put('from a path', { path }))).sha256, sha(bytes));

    const one = await drive(net, a.put('one copy is enough', 'x', { copies: 1 }));
    assert.equal(one.holders.length, 1);
    // the replicas still come, in the ring's own time
    assert.ok(await net.until(() => [...net.peers.values()].filter((p) => net.sim!.disk.size(p.storeDir, 'one copy is enough') !== undefined).length === 3, 30_000));

    // two puts of one name from one peer at once: one stores, the other is told (BUSY or EXISTS)
    const results = await drive(net, Promise.allSettled([a.put('twice', 'same'), a.put('twice', 'other')]));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as CdhtError).code] : []));
    assert.equal(ok.length, 1, JSON.stringify(codes));
    assert.ok(['CDHT_ERR_BUSY', 'CDHT_ERR_EXISTS'].includes(codes[0]!), codes[0]);
    assert.deepEqual(allFiles(net).filter((f) => f.name.startsWith('.')), []);
  } finally {
    await net.close();
  }
});

test('sim: put, get and stat through 5% datagram loss and 5-50 ms latency (lost lookup answers are asked again)', async () => {
  for (const seed of process.env.SEED ? [SEED] : [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
    const net = await createTestnet({ ...BASE, seed, pingIntervalMs: 1000 });
    try {
      net.sim!.setLatency([5, 50]);
      net.sim!.setLoss(0.05);
      const ids = net.runningIds();
      const bytes = randomBytes(100_000);
      const name = `lossy ${seed}`;
      const r = await drive(net, net.peer(ids[seed % ids.length]!)!.put(name, bytes, { timeoutMs: 20_000 }));
      assert.equal(r.holders.length, 3, `SEED=${seed}`);
      assert.equal(sha(await drive(net, net.peer(ids[(seed + 5) % ids.length]!)!.getBuffer(name, { timeoutMs: 20_000 }))), sha(bytes), `SEED=${seed}`);
      assert.equal((await drive(net, net.peer(ids[(seed + 7) % ids.length]!)!.stat(name, { timeoutMs: 20_000 })))?.holders.length, 3, `SEED=${seed}`);
    } finally {
      net.sim!.setLoss(0);
      await net.close();
    }
  }
});

test('sim: a get streams bytes before the transfer is over; a transfer that breaks after bytes went out goes on with the same bytes', async () => {
  const net = await createTestnet(BASE);
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const bytes = randomBytes(1024 * 1024);
    const r = await drive(net, a.put('streamed.bin', bytes));
    const holders = new Set(r.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holders.has(x))!)!;
    for (const breaks of [false, true]) {
      const log: string[] = [];
      let streamed = 0;
      let streamedAtBreak: number | undefined;
      const onReceived = (x: PeerReceived) => x.name === 'streamed.bin' && log.push('received');
      const onTrace = (t: { trace: { kind: string; phase?: string; file?: string } }) => {
        if (t.trace.kind === 'receive' && t.trace.file === 'streamed.bin' && t.trace.phase === 'failed') streamedAtBreak ??= streamed;
      };
      g.on('received', onReceived);
      g.on('trace', onTrace);
      if (breaks) net.sim!.failNextTransfer();
      const parts: Buffer[] = [];
      const s = g.get('streamed.bin');
      await drive(
        net,
        (async () => {
          for await (const c of s) {
            log.push('chunk');
            streamed += (c as Buffer).length;
            parts.push(c as Buffer);
          }
        })(),
      );
      g.off('received', onReceived);
      g.off('trace', onTrace);
      assert.equal(sha(Buffer.concat(parts)), r.sha256, `the bytes (SEED=${SEED})`);
      // bytes went out while the transfer still ran; the last only once the whole file had matched
      assert.ok(log.indexOf('chunk') < log.indexOf('received'), `streamed before it was received: ${log.slice(0, 5).join(',')} (SEED=${SEED})`);
      assert.equal(log.at(-1), 'chunk');
      if (breaks) assert.ok(streamedAtBreak !== undefined && streamedAtBreak > 0, `the transfer broke after ${streamedAtBreak} bytes went out (SEED=${SEED})`);
    }
    assert.deepEqual(allFiles(net).filter((f) => /\.cdht-get-/.test(f.name)), []);
  } finally {
    await net.close();
  }
});

test('sim: a holder whose copy went bad gives the right bytes from a replica or CDHT_ERR_INTEGRITY, never an end on bad bytes', async () => {
  const net = await createTestnet(BASE);
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    for (const [name, at] of [['bad at the end.bin', -1], ['bad at the start.bin', 0]] as const) {
      const bytes = randomBytes(1024 * 1024);
      const r = await drive(net, a.put(name, bytes));
      const holders = new Set(r.holders.map((h) => h.id));
      const g = net.peer(ids.find((x) => !holders.has(x))!)!;
      // the owner serves the get: its copy changes on disk behind its back
      const owner = net.peer(r.holders[0]!.id)!;
      const bad = Buffer.from(bytes);
      bad[at < 0 ? bad.length + at : at]! ^= 0xff;
      net.sim!.disk.write(owner.storeDir, owner.space.fileOf(name), bad);
      const parts: Buffer[] = [];
      const s = g.get(name);
      const outcome = await drive(
        net,
        (async () => {
          for await (const c of s) parts.push(c as Buffer);
        })().then(
          () => 'end',
          (e: unknown) => (e instanceof CdhtError ? e.code : String(e)),
        ),
      );
      if (outcome === 'end') assert.equal(sha(Buffer.concat(parts)), r.sha256, `${name}: ended on the right bytes (SEED=${SEED})`);
      else assert.equal(outcome, 'CDHT_ERR_INTEGRITY', `${name} (SEED=${SEED})`);
      // the last bytes are held back until the whole file matched: a bad end never goes out
      if (at < 0) assert.equal(outcome, 'end', `${name}: the replica's bytes (SEED=${SEED})`);
    }
  } finally {
    await net.close();
  }
});

test('spec mode unchanged: the reference 8-bit ring puts and gets a four-digit name', async () => {
  const net = await createTestnet({ runtime: 'sim', seed: 3, pingIntervalMs: 1000, perPeerDirs: true, dataDir: '/spec' });
  try {
    const p = net.peer(8)!;
    const bytes = randomBytes(5000);
    const r = await drive(net, p.put('2067', bytes));
    assert.equal(r.key, 2067n % 256n);
    assert.equal(r.holders[0]!.id, 19n, 'key 19 is owned by 19');
    assert.deepEqual(net.sim!.disk.read(net.peer(19)!.storeDir, '2067.pdf'), new Uint8Array(bytes));
    assert.equal(sha(await drive(net, net.peer(4)!.getBuffer('2067'))), sha(bytes));
    await rejectsWith(net, p.put('report.txt', 'x'), 'CDHT_ERR_NAME');
    await rejectsWith(net, p.getBuffer('4103'), 'CDHT_ERR_NOT_FOUND');
  } finally {
    await net.close();
  }
});
