// The library's data API on real sockets (127.0.0.1, random base port, temporary directories):
// small and large puts and gets with flat memory, stat/has/lookup, coded errors, abort of a put
// and of a get (nothing left on disk, the holder's transfer closed), and a holder killed mid-get.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CdhtError } from '../src/core/errors.js';
import type { Progress } from '../src/api/types.js';
import type { PeerReceived, PeerStored, PeerTrace } from '../src/peer.js';
import { createTestnet, type Testnet, type TestnetOptions } from '../src/testnet.js';
import { freeBasePort } from './helpers/ports.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const MiB = 1024 * 1024;
/** The large streamed file: 200 MiB (about 11 s here); CDHT_BIG=0 runs 32 MiB on a slow machine. */
const BIG_BYTES = process.env.CDHT_BIG === '0' ? 32 * MiB : 200 * MiB;
/** Large enough to abort or kill a holder mid-transfer. */
const MID_BYTES = 32 * MiB;
const COUNT = 6;

async function ring(opts: Partial<TestnetOptions> = {}): Promise<{ net: Testnet; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdht-lib-'));
  dirs.push(dataDir);
  const offsets = Array.from({ length: COUNT + 4 }, (_, i) => i);
  const net = await createTestnet({ runtime: 'node', bits: 16, count: COUNT, settled: true, replicas: 3, pingIntervalMs: 500, basePort: await freeBasePort(offsets), dataDir, perPeerDirs: true, ...opts });
  return { net, dataDir };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<CdhtError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CdhtError, `a CdhtError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, but it resolved`);
}

/** Every file under `dir`, recursively (relative paths). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...filesUnder(join(dir, e.name)).map((f) => join(e.name, f)));
    else out.push(e.name);
  }
  return out;
}
const leftovers = (dataDir: string) => filesUnder(dataDir).filter((f) => /\.cdht-(put|get)-|\.part/.test(f));

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** `bytes` of generated data in 1 MiB chunks, each made as it is asked for (never held whole), hashed as it goes. */
function generated(bytes: number, onChunk?: (sent: number) => void | Promise<void>): { source: AsyncGenerator<Uint8Array>; digest: () => string } {
  const base = randomBytes(MiB);
  const hash = createHash('sha256');
  const source = (async function* () {
    for (let sent = 0; sent < bytes; ) {
      const n = Math.min(MiB, bytes - sent);
      const chunk = Buffer.from(base.subarray(0, n));
      chunk.writeUInt32BE(sent / MiB, 0);
      hash.update(chunk);
      sent += n;
      yield chunk;
      await onChunk?.(sent);
    }
  })();
  return { source, digest: () => hash.digest('hex') };
}

/** Samples process RSS every 20 ms while `run` runs: the growth over the start, at its peak. */
async function peakRssGrowth<T>(run: () => Promise<T>): Promise<{ value: T; growth: number }> {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const value = await run();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, growth: peak - start };
  } finally {
    clearInterval(timer);
  }
}

/** Polls `pred` every 25 ms for at most `ms`. */
async function eventually(pred: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return pred();
}

test('sockets: put then get of 0 B, 1 B and 64 KiB; getFile, stat, has, lookup; typed events', { timeout: 60_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const stored: PeerStored[] = [];
    a.on('stored', (s) => stored.push(s));
    for (const [name, bytes] of [
      ['empty', new Uint8Array(0)],
      ['one byte', Uint8Array.of(7)],
      ['sixty-four KiB.bin', randomBytes(64 * 1024)],
    ] as const) {
      const r = await a.put(name, bytes);
      assert.deepEqual([r.size, r.sha256, r.holders.length], [bytes.length, sha(bytes), 3], name);
      assert.ok(r.hops >= 0);
      assert.ok(stored.some((s) => s.name === name && s.by === r.holders[0]!.id), `'stored' for ${name}`);
      // each holder's store folder has the bytes
      for (const h of r.holders) assert.equal(sha(readFileSync(join(net.peer(h.id)!.storeDir, name))), sha(bytes));

      const holderIds = new Set(r.holders.map((h) => h.id));
      const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
      const received: PeerReceived[] = [];
      const onReceived = (x: PeerReceived) => received.push(x);
      g.on('received', onReceived);
      assert.equal(sha(await g.getBuffer(name)), sha(bytes));
      g.off('received', onReceived);
      assert.ok(received.some((x) => x.name === name && holderIds.has(x.from) && x.size === bytes.length), `'received' for ${name}`);

      const path = join(dataDir, `out-${bytes.length}.bin`);
      const f = await g.getFile(name, path);
      assert.deepEqual([f.size, f.sha256], [bytes.length, sha(bytes)]);
      assert.equal(sha(readFileSync(path)), sha(bytes));

      const st = await g.stat(name);
      assert.ok(st);
      assert.deepEqual([st.size, st.sha256, st.holders.length, st.holders[0]!.id], [bytes.length, sha(bytes), 3, r.holders[0]!.id]);
      assert.equal(await g.has(name), true);
      const lk = await g.lookup(r.key);
      assert.equal(lk.owner.id, r.holders[0]!.id);
      assert.ok(lk.hops >= 0);
    }
    assert.equal(await a.stat('missing'), null);
    assert.equal(await a.has('missing'), false);
    assert.deepEqual(leftovers(dataDir), []);
  } finally {
    await net.close();
  }
});

test('sockets: coded errors (NOT_FOUND, NAME, EXISTS, TOO_LARGE, NOT_IN_RING)', { timeout: 60_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[1]!)!;
    await rejectsWith(a.getBuffer('no such name'), 'CDHT_ERR_NOT_FOUND');
    await rejectsWith(a.put('n'.repeat(256), 'x'), 'CDHT_ERR_NAME');
    await rejectsWith(a.put('dir/name', 'x'), 'CDHT_ERR_NAME');
    await a.put('kept', 'one');
    await rejectsWith(net.peer(ids[4]!)!.put('kept', 'two'), 'CDHT_ERR_EXISTS');
    assert.equal((await a.getBuffer('kept')).toString(), 'one');

    // a peer whose limit is below the file's size
    (net.opts as { maxFileBytes?: number }).maxFileBytes = 1000;
    const small = net.start({ id: 4242, mode: { kind: 'join', known: net.contactOf(ids[0]!) } });
    await small.ready;
    await rejectsWith(small.put('too big here', randomBytes(5000)), 'CDHT_ERR_TOO_LARGE');

    // killed: not in a ring
    const dead = net.peer(ids[2]!)!;
    await net.kill(ids[2]!);
    await rejectsWith(dead.put('late', 'x'), 'CDHT_ERR_NOT_IN_RING');
    await rejectsWith(dead.getBuffer('kept'), 'CDHT_ERR_NOT_IN_RING');
    // started, not yet in: joining through an address where nobody listens
    const early = net.start({ id: 999, mode: { kind: 'join', known: { id: 998n, host: '127.0.0.1', port: net.contactOf(998).port } } });
    await rejectsWith(early.put('early', 'x'), 'CDHT_ERR_NOT_IN_RING');
    assert.deepEqual(leftovers(dataDir), []);
  } finally {
    await net.close();
  }
});

test(`sockets: a large streamed put and get (${BIG_BYTES / MiB} MiB) keep memory flat`, { timeout: 300_000 }, async () => {
  console.log(`# large file: ${BIG_BYTES / MiB} MiB${process.env.CDHT_BIG === '0' ? ' (CDHT_BIG=0)' : ''}`);
  const { net, dataDir } = await ring({ replicas: 2 });
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const gen = generated(BIG_BYTES);
    const t0 = Date.now();
    const prog: Progress[] = [];
    const put = await peakRssGrowth(() => a.put('big.bin', gen.source, { onProgress: (p) => prog.push(p) }));
    const t1 = Date.now();
    assert.equal(put.value.size, BIG_BYTES);
    assert.equal(put.value.sha256, gen.digest());
    assert.equal(put.value.holders.length, 2);
    // two phases, one after the other: the source's bytes as they are read in (no total yet), then
    // the copy to the owner (with the total), each going up
    const staging = prog.filter((p) => p.phase === 'reading');
    const sending = prog.filter((p) => p.phase === 'sending');
    assert.ok(staging.every((p) => p.total === undefined) && sending.every((p) => p.total === BIG_BYTES));
    assert.deepEqual(prog, [...staging, ...sending], 'staging reports come first');
    for (const meter of [staging, sending]) for (let i = 1; i < meter.length; i++) assert.ok(meter[i]!.bytes >= meter[i - 1]!.bytes, 'bytes go up');
    assert.ok(staging.length >= 2 && sending.length >= 1, `${staging.length} staging and ${sending.length} sending reports`);
    assert.deepEqual(prog.at(-1), { phase: 'sending', bytes: BIG_BYTES, total: BIG_BYTES });

    const holderIds = new Set(put.value.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    const gprog: Progress[] = [];
    const get = await peakRssGrowth(async () => {
      const hash = createHash('sha256');
      let size = 0;
      for await (const c of g.get('big.bin', { onProgress: (p) => gprog.push(p) })) {
        hash.update(c as Buffer);
        size += (c as Buffer).length;
      }
      return { size, sha256: hash.digest('hex') };
    });
    const t2 = Date.now();
    assert.deepEqual(get.value, { size: BIG_BYTES, sha256: put.value.sha256 });
    assert.ok(gprog.length >= 2);
    for (let i = 1; i < gprog.length; i++) assert.ok(gprog[i]!.bytes >= gprog[i - 1]!.bytes);
    assert.equal(gprog.at(-1)!.bytes, BIG_BYTES);
    assert.equal(gprog.at(-1)!.total, BIG_BYTES);
    console.log(`# put ${t1 - t0} ms (RSS +${(put.growth / MiB).toFixed(1)} MiB), get ${t2 - t1} ms (RSS +${(get.growth / MiB).toFixed(1)} MiB)`);
    assert.ok(put.growth < 100 * MiB, `put RSS growth ${put.growth}`);
    assert.ok(get.growth < 100 * MiB, `get RSS growth ${get.growth}`);
    // the get's own temporary file is gone; a replica copy still under way (the get streams, so it
    // can end first) leaves its .part soon after
    assert.deepEqual(leftovers(dataDir).filter((f) => f.includes('.cdht-get-')), []);
    assert.ok(await eventually(() => leftovers(dataDir).length === 0, 30_000), `left: ${leftovers(dataDir).join(', ')}`);
  } finally {
    await net.close();
  }
});

test('sockets: aborting a put while its source yields leaves no copy and no temporary file', { timeout: 60_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const a = net.peer(net.runningIds()[3]!)!;
    const ac = new AbortController();
    const gen = generated(64 * MiB, (sent) => {
      if (sent === 8 * MiB) ac.abort(new Error('enough'));
    });
    await rejectsWith(a.put('half a put', gen.source, { signal: ac.signal }), 'CDHT_ERR_ABORTED');
    assert.deepEqual(leftovers(dataDir), []);
    assert.deepEqual(filesUnder(dataDir).filter((f) => f.includes('half a put')), []);
    assert.equal(await a.has('half a put'), false);
  } finally {
    await net.close();
  }
});

test('sockets: aborting a get after its first progress closes the transfer and leaves nothing', { timeout: 120_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const r = await a.put('to abort.bin', generated(MID_BYTES).source);
    const holderIds = new Set(r.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    const owner = net.peer(r.holders[0]!.id)!;
    const serves: PeerTrace[] = [];
    owner.on('trace', (t) => t.trace.kind === 'serve' && serves.push(t));
    const ac = new AbortController();
    let progressed = 0;
    await rejectsWith(
      g.getBuffer('to abort.bin', {
        signal: ac.signal,
        onProgress: (p) => {
          progressed = p.bytes;
          ac.abort();
        },
      }),
      'CDHT_ERR_ABORTED',
    );
    assert.ok(progressed > 0 && progressed < MID_BYTES, `aborted mid-transfer (${progressed} bytes)`);
    // the holder's send ends (failed: the receiver closed it), and the getter keeps no transfer
    assert.ok(await eventually(() => serves.some((s) => (s.trace as { phase?: string }).phase === 'failed'), 10_000), `holder's serve: ${serves.map((s) => (s.trace as { phase?: string }).phase).join(',')}`);
    assert.ok(await eventually(() => g.transportStats()!.transfersIn === 0 && g.transportStats()!.tempBytes === 0, 10_000));
    assert.ok(await eventually(() => leftovers(dataDir).length === 0, 5_000), `left: ${leftovers(dataDir).join(', ')}`);
    // the ring still serves it afterwards
    assert.equal(sha(await g.getBuffer('to abort.bin')), r.sha256);
  } finally {
    await net.close();
  }
});

test('sockets: a holder killed mid-get', { timeout: 120_000 }, async () => {
  const { net, dataDir } = await ring({ replicas: 3 });
  try {
    const ids = net.runningIds();
    const a = net.peer(ids[0]!)!;
    const r = await a.put('survivor.bin', generated(MID_BYTES).source);
    const holderIds = new Set(r.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    // the owner serves gets: kill it once bytes flow
    const owner = r.holders[0]!.id;
    let killed = false;
    const received: PeerReceived[] = [];
    g.on('received', (x) => received.push(x));
    const got = await g
      .getBuffer('survivor.bin', {
        onProgress: () => {
          if (killed) return;
          killed = true;
          void net.kill(owner);
        },
      })
      .then(
        (b) => ({ ok: true as const, sha256: sha(b) }),
        (e: unknown) => ({ ok: false as const, code: (e as CdhtError).code, message: (e as Error).message }),
      );
    assert.ok(killed, 'the owner was killed mid-transfer');
    console.log(`# holder killed mid-get: ${JSON.stringify(got)}`);
    // the ring routes round the dead owner and a replica serves the get's next try
    assert.ok(got.ok, `the get failed: ${JSON.stringify(got)}`);
    assert.equal(got.sha256, r.sha256);
    assert.ok(received.some((x) => x.name === 'survivor.bin' && x.from !== owner && holderIds.has(x.from)), 'received from a replica');
    assert.ok(await eventually(() => leftovers(dataDir).length === 0, 5_000), `left: ${leftovers(dataDir).join(', ')}`);
  } finally {
    await net.close();
  }
});

test('sockets: aborting a put while its bytes go to the owner leaves no copy anywhere', { timeout: 60_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const ids = net.runningIds();
    // a putting peer that is not the owner, so its bytes travel
    const name = 'cut short.bin';
    const key = net.space.keyOf(name);
    const owner = (await net.peer(ids[0]!)!.lookup(key)).owner.id;
    const a = net.peer(ids.find((x) => x !== owner)!)!;
    const ac = new AbortController();
    // aborted once the owner has begun to receive the bytes
    let receiving = false;
    net.peer(owner)!.on('trace', (t) => {
      const tr = t.trace as { kind: string; file?: string; phase?: string; purpose?: string };
      if (tr.kind === 'receive' && tr.file === name && tr.purpose === 'store' && tr.phase === 'start' && !receiving) {
        receiving = true;
        ac.abort();
      }
    });
    await rejectsWith(a.put(name, generated(MID_BYTES).source, { signal: ac.signal }), 'CDHT_ERR_ABORTED');
    assert.ok(receiving, 'aborted while the owner received');
    // bounded: the owner's receiver ends once the sender closes
    assert.ok(await eventually(() => leftovers(dataDir).length === 0 && filesUnder(dataDir).every((f) => !f.includes(name)), 10_000), `left: ${filesUnder(dataDir).filter((f) => f.includes(name) || /\.cdht-|\.part/.test(f)).join(', ')}`);
    assert.equal(await a.has(name), false);
  } finally {
    await net.close();
  }
});

test('sockets: aborting a put whose source is stalled rejects at once', { timeout: 30_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const a = net.peer(net.runningIds()[1]!)!;
    const ac = new AbortController();
    let stalled!: () => void;
    const reached = new Promise<void>((r) => (stalled = r));
    const source = (async function* () {
      yield randomBytes(1000);
      stalled();
      await new Promise(() => undefined); // never yields again
    })();
    const put = a.put('stalled', source, { signal: ac.signal });
    await reached;
    ac.abort();
    // the source never yields again, so a put that waited for it would never settle: that it
    // rejects at all is the proof (the test's bound is the safety net), no wall time compared
    await rejectsWith(put, 'CDHT_ERR_ABORTED');
    assert.deepEqual(leftovers(dataDir), []);
    // and a deadline ends it the same way
    const never = (async function* () {
      yield randomBytes(10);
      await new Promise(() => undefined);
    })();
    await rejectsWith(a.put('stalled too', never, { timeoutMs: 300 }), 'CDHT_ERR_TIMEOUT');
    assert.deepEqual(leftovers(dataDir), []);
  } finally {
    await net.close();
  }
});

test('sockets: getFile aborted mid-transfer and a get past its deadline leave nothing behind', { timeout: 60_000 }, async () => {
  const { net, dataDir } = await ring();
  const out = mkdtempSync(join(tmpdir(), 'cdht-lib-out-'));
  dirs.push(out);
  try {
    const ids = net.runningIds();
    const r = await net.peer(ids[0]!)!.put('for getFile.bin', generated(MID_BYTES).source);
    const holderIds = new Set(r.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    const ac = new AbortController();
    const path = join(out, 'saved.bin');
    await rejectsWith(g.getFile('for getFile.bin', path, { signal: ac.signal, onProgress: () => ac.abort() }), 'CDHT_ERR_ABORTED');
    assert.deepEqual(readdirSync(out), [], 'no file and no .part at the target');
    await rejectsWith(g.getBuffer('for getFile.bin', { timeoutMs: 1 }), 'CDHT_ERR_TIMEOUT');
    assert.ok(await eventually(() => leftovers(dataDir).length === 0 && g.transportStats()!.transfersIn === 0, 10_000), `left: ${leftovers(dataDir).join(', ')}`);
    // and whole when let be
    const f = await g.getFile('for getFile.bin', path);
    assert.deepEqual([f.size, f.sha256], [MID_BYTES, r.sha256]);
    assert.equal(statSync(path).size, MID_BYTES);
    assert.deepEqual(readdirSync(out), ['saved.bin']);
  } finally {
    await net.close();
  }
});

test('sockets: a get yields its first bytes while the transfer still runs, its last once the whole file matched', { timeout: 120_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const ids = net.runningIds();
    const r = await net.peer(ids[0]!)!.put('streamed.bin', generated(MID_BYTES).source);
    const holderIds = new Set(r.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    const received: PeerReceived[] = [];
    g.on('received', (x) => x.name === 'streamed.bin' && received.push(x));
    const prog: Progress[] = [];
    let receivedAtFirst: number | undefined;
    let receivedAtLast = 0;
    const hash = createHash('sha256');
    let size = 0;
    for await (const c of g.get('streamed.bin', { onProgress: (p) => prog.push(p) })) {
      receivedAtFirst ??= received.length;
      receivedAtLast = received.length;
      hash.update(c as Buffer);
      size += (c as Buffer).length;
    }
    assert.equal(receivedAtFirst, 0, 'the first bytes came before the transfer was received whole');
    assert.equal(receivedAtLast, 1, 'the last bytes came after it was received and checked');
    assert.deepEqual({ size, sha256: hash.digest('hex') }, { size: MID_BYTES, sha256: r.sha256 });
    for (let i = 1; i < prog.length; i++) assert.ok(prog[i]!.bytes >= prog[i - 1]!.bytes, 'progress goes up');
    assert.deepEqual(prog.at(-1), { phase: 'receiving', bytes: MID_BYTES, total: MID_BYTES });
    assert.ok(await eventually(() => leftovers(dataDir).length === 0, 5_000), `left: ${leftovers(dataDir).join(', ')}`);
  } finally {
    await net.close();
  }
});

test('sockets: a holder killed after a get streamed its first bytes: the rest from a replica, the bytes right', { timeout: 120_000 }, async () => {
  const { net, dataDir } = await ring({ replicas: 3 });
  try {
    const ids = net.runningIds();
    const r = await net.peer(ids[0]!)!.put('half streamed.bin', generated(MID_BYTES).source);
    const holderIds = new Set(r.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    // the owner serves gets: killed once the stream has handed bytes on
    const owner = r.holders[0]!.id;
    const received: PeerReceived[] = [];
    g.on('received', (x) => x.name === 'half streamed.bin' && received.push(x));
    let streamedAtKill: number | undefined;
    const hash = createHash('sha256');
    let size = 0;
    for await (const c of g.get('half streamed.bin')) {
      hash.update(c as Buffer);
      size += (c as Buffer).length;
      if (streamedAtKill === undefined) {
        streamedAtKill = size;
        void net.kill(owner);
      }
    }
    assert.ok(streamedAtKill! > 0 && streamedAtKill! < MID_BYTES, `killed after ${streamedAtKill} bytes went out`);
    assert.deepEqual({ size, sha256: hash.digest('hex') }, { size: MID_BYTES, sha256: r.sha256 });
    assert.ok(received.length === 1 && received[0]!.from !== owner && holderIds.has(received[0]!.from), `received from a replica: ${JSON.stringify(received.map((x) => String(x.from)))}`);
    assert.ok(await eventually(() => leftovers(dataDir).length === 0, 5_000), `left: ${leftovers(dataDir).join(', ')}`);
  } finally {
    await net.close();
  }
});

test('sockets: a holder whose copy went bad: the right bytes from a replica or CDHT_ERR_INTEGRITY, never an end on bad bytes', { timeout: 120_000 }, async () => {
  const { net, dataDir } = await ring({ replicas: 3 });
  try {
    const ids = net.runningIds();
    for (const [name, at] of [['bad at the end.bin', -1], ['bad at the start.bin', 0]] as const) {
      const gen = generated(8 * MiB);
      const r = await net.peer(ids[0]!)!.put(name, gen.source);
      const holderIds = new Set(r.holders.map((h) => h.id));
      const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
      // the owner serves the get: its copy changes on disk behind its back
      const owner = net.peer(r.holders[0]!.id)!;
      const path = join(owner.storeDir, owner.space.fileOf(name));
      const bad = readFileSync(path);
      bad[at < 0 ? bad.length + at : at]! ^= 0xff;
      writeFileSync(path, bad);
      const hash = createHash('sha256');
      const outcome = await (async () => {
        for await (const c of g.get(name)) hash.update(c as Buffer);
      })().then(
        () => 'end',
        (e: unknown) => (e instanceof CdhtError ? e.code : String(e)),
      );
      console.log(`# ${name}: ${outcome}`);
      if (outcome === 'end') assert.equal(hash.digest('hex'), r.sha256, `${name}: ended on the right bytes`);
      else assert.equal(outcome, 'CDHT_ERR_INTEGRITY', name);
      // the last bytes are held back until the whole file matched: a bad end never goes out
      if (at < 0) assert.equal(outcome, 'end', `${name}: the replica's bytes`);
    }
    assert.ok(await eventually(() => leftovers(dataDir).length === 0, 5_000), `left: ${leftovers(dataDir).join(', ')}`);
  } finally {
    await net.close();
  }
});

test('sockets: a get stream destroyed mid-transfer closes the transfer and leaves nothing', { timeout: 120_000 }, async () => {
  const { net, dataDir } = await ring();
  try {
    const ids = net.runningIds();
    const r = await net.peer(ids[0]!)!.put('to destroy.bin', generated(MID_BYTES).source);
    const holderIds = new Set(r.holders.map((h) => h.id));
    const g = net.peer(ids.find((x) => !holderIds.has(x))!)!;
    const owner = net.peer(r.holders[0]!.id)!;
    const serves: PeerTrace[] = [];
    owner.on('trace', (t) => t.trace.kind === 'serve' && serves.push(t));
    const s = g.get('to destroy.bin');
    const closed = new Promise<void>((res) => s.once('close', () => res()));
    let got = 0;
    s.on('data', (c: Buffer) => {
      got += c.length;
      s.destroy();
    });
    await closed;
    assert.ok(got > 0 && got < MID_BYTES, `destroyed mid-transfer (${got} bytes)`);
    assert.ok(await eventually(() => serves.some((x) => (x.trace as { phase?: string }).phase === 'failed'), 10_000), `holder's serve: ${serves.map((x) => (x.trace as { phase?: string }).phase).join(',')}`);
    assert.ok(await eventually(() => g.transportStats()!.transfersIn === 0 && g.transportStats()!.tempBytes === 0, 10_000));
    assert.ok(await eventually(() => leftovers(dataDir).length === 0, 5_000), `left: ${leftovers(dataDir).join(', ')}`);
    assert.equal(sha(await g.getBuffer('to destroy.bin')), r.sha256);
  } finally {
    await net.close();
  }
});

test('sockets: a put just after a replica holder died is confirmed with k copies once the ring repairs', { timeout: 60_000 }, async () => {
  const { net } = await ring({ replicas: 3 });
  try {
    const ids = net.runningIds();
    const first = await net.peer(ids[0]!)!.put('before', 'hello');
    const holders = first.holders.map((h) => h.id);
    const other = ids.find((x) => !holders.includes(x))!;
    await net.kill(holders[2]!);
    // the owner and its first successor answer at once; the dead one is left out
    const st = await net.peer(other)!.stat('before');
    assert.equal(st?.holders.length, 2);
    // a put whose replica set still names the dead peer: it looks the holders up again as it waits
    const t0 = Date.now();
    const sorted = [...ids].sort((a, b) => (a < b ? -1 : 1));
    const ownerOf = (k: bigint) => sorted.find((x) => x >= k) ?? sorted[0]!;
    let name = '';
    for (let i = 0; i < 1000 && !name; i++) if (ownerOf(net.space.keyOf(`after ${i}`)) === holders[0]) name = `after ${i}`;
    assert.ok(name, 'a name the same owner keeps');
    const r = await net.peer(other)!.put(name, 'x', { timeoutMs: 30_000 });
    assert.equal(r.holders.length, 3);
    assert.ok(!r.holders.some((h) => h.id === holders[2]), 'not the dead peer');
    console.log(`# put confirmed with 3 copies ${Date.now() - t0} ms after a holder died`);
  } finally {
    await net.close();
  }
});

test('sockets: spec mode unchanged: the reference 8-bit ring puts and gets a four-digit name', { timeout: 30_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdht-lib-spec-'));
  dirs.push(dataDir);
  const ids = [2, 4, 5, 8, 9, 14, 19];
  const net = await createTestnet({ basePort: await freeBasePort(ids), pingIntervalMs: 200, dataDir, perPeerDirs: true });
  try {
    const bytes = randomBytes(70_000);
    const r = await net.peer(8)!.put('2067', bytes);
    assert.deepEqual([r.key, r.holders[0]!.id], [19n, 19n]);
    assert.deepEqual(readFileSync(join(dataDir, 'peer-19', '2067.pdf')), bytes);
    assert.equal(sha(await net.peer(4)!.getBuffer('2067')), sha(bytes));
    await rejectsWith(net.peer(4)!.put('report.txt', 'x'), 'CDHT_ERR_NAME');
    assert.deepEqual(leftovers(dataDir), []);
  } finally {
    await net.close();
  }
});
