// The HTTP gateway and its client over loopback, against an in-memory DataApi: bytes round-trip,
// errors keep their codes, aborts reach the api, bounds answer BUSY / TOO_LARGE, mutual TLS admits only the ring.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type RingClient } from '../src/api/client.js';
import { startGateway, type Gateway } from '../src/api/gateway.js';
import { CdhtError } from '../src/core/errors.js';
import { createAuthority, issuePeer, type TlsIdentity } from '../src/security/ca.js';
import { FakeApi, latch } from './helpers/fake-api.js';

const WAIT_MS = 30_000;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const addr = (g: Gateway): string => `${g.address.host}:${g.address.port}`;

/** `p`, or a failure naming `what` after WAIT_MS: no wait in these tests is unbounded. */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), WAIT_MS)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CdhtError, `expected a CdhtError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected the operation to fail');
}

async function* chunksOf(bytes: Buffer, size: number): AsyncIterable<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** A raw request, for what the client never sends (bad paths, bodies without a client's checks). */
function raw(g: Gateway, method: string, path: string, headers: http.OutgoingHttpHeaders = {}, body?: Buffer): Promise<{ status: number; json: { code?: string } }> {
  return within(
    new Promise((resolve, reject) => {
      const req = http.request({ host: g.address.host, port: g.address.port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) as { code?: string } }));
      });
      req.on('error', reject);
      if (body) req.end(body);
      else if (headers['content-length'] === undefined) req.end();
      else req.flushHeaders(); // a body announced and never sent
    }),
    `${method} ${path}`,
  );
}

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'cdht-gw-'));
  dirs.push(d);
  return d;
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('gateway over plain HTTP', () => {
  const api = new FakeApi();
  let gw: Gateway;
  let client: RingClient;
  before(async () => {
    gw = await startGateway(api, { port: 0, maxFileBytes: 8 * 1024 * 1024 });
    client = await connect(addr(gw));
  });
  after(async () => {
    client.close();
    await gw.close();
  });

  for (const size of [0, 1, 64 * 1024]) {
    test(`put and get ${size} bytes`, async () => {
      const bytes = randomBytes(size);
      const r = await client.put(`f${size}`, bytes, { copies: 2 });
      assert.equal(r.size, size);
      assert.equal(r.sha256, sha(bytes));
      assert.equal(typeof r.key, 'bigint');
      assert.equal(r.holders[0]!.id, 2n ** 100n + 7n);
      assert.equal(api.copiesSeen, 2);
      assert.deepEqual(await client.getBuffer(`f${size}`), bytes);
    });
  }

  test('a few MiB streamed both ways, with progress', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const sent: number[] = [];
    const r = await client.put('big', chunksOf(bytes, 100_000), { onProgress: (p) => sent.push(p.bytes) });
    assert.equal(r.sha256, sha(bytes));
    assert.equal(sent.at(-1), bytes.length);
    const got: Array<{ bytes: number; total?: number }> = [];
    const path = join(tempDir(), 'big.bin');
    const f = await client.getFile('big', path, { onProgress: (p) => got.push(p) });
    assert.deepEqual(f, { name: 'big', path, size: bytes.length, sha256: sha(bytes) });
    assert.deepEqual(readFileSync(path), bytes);
    assert.deepEqual(got.at(-1), { phase: 'receiving', bytes: bytes.length, total: bytes.length });
  });

  test('a string and a file on disk as sources', async () => {
    await client.put('text', 'héllo');
    assert.equal((await client.getBuffer('text')).toString('utf8'), 'héllo');
    const path = join(tempDir(), 'src.bin');
    writeFileSync(path, randomBytes(5000));
    await client.put('from-disk', { path });
    assert.deepEqual(await client.getBuffer('from-disk'), readFileSync(path));
    assert.equal(await code(client.put('nope', { path: join(tempDir(), 'missing') })), 'CDHT_ERR_BAD_ARGUMENT');
  });

  test('names with spaces, parentheses and unicode round-trip', async () => {
    for (const name of ['Quarterly report (final).txt', 'naïve ☃ 文件.txt', '100% done?#&=+.txt']) {
      const r = await client.put(name, Buffer.from(name));
      assert.equal(r.name, name);
      assert.equal((await client.getBuffer(name)).toString(), name);
      assert.equal((await client.stat(name))?.name, name);
    }
  });

  test('stat, has and lookup', async () => {
    await client.put('s', Buffer.from('abc'));
    const st = await client.stat('s');
    assert.equal(st?.size, 3);
    assert.equal(st?.sha256, sha(Buffer.from('abc')));
    assert.equal(await client.stat('absent'), null);
    assert.equal(await client.has('s'), true);
    assert.equal(await client.has('absent'), false);
    const key = 2n ** 150n + 1n;
    const l = await client.lookup(key);
    assert.equal(l.key, key);
    assert.equal(l.hops, 3);
    assert.equal(l.successors[0]!.id, 2n ** 100n + 8n);
    assert.equal((await client.lookup(42)).key, 42n);
    assert.equal(await code(client.lookup(-1)), 'CDHT_ERR_BAD_ARGUMENT');
  });

  test('not found and exists keep their codes', async () => {
    assert.equal(await code(client.getBuffer('absent')), 'CDHT_ERR_NOT_FOUND');
    await client.put('once', Buffer.from('x'));
    assert.equal(await code(client.put('once', Buffer.from('y'))), 'CDHT_ERR_EXISTS');
  });

  test('bad paths are answered, never crash the gateway', async () => {
    const badName = await raw(gw, 'GET', '/v1/files/%E0%A4%A');
    assert.deepEqual([badName.status, badName.json.code], [400, 'CDHT_ERR_NAME']);
    const unknown = await raw(gw, 'GET', '/v2/whatever');
    assert.deepEqual([unknown.status, unknown.json.code], [404, 'CDHT_ERR_BAD_ARGUMENT']);
    const badKey = await raw(gw, 'GET', '/v1/lookup/12abc');
    assert.deepEqual([badKey.status, badKey.json.code], [400, 'CDHT_ERR_BAD_ARGUMENT']);
    const badCopies = await raw(gw, 'PUT', '/v1/files/c?copies=0', {}, Buffer.from('x'));
    assert.deepEqual([badCopies.status, badCopies.json.code], [400, 'CDHT_ERR_BAD_ARGUMENT']);
    assert.equal(await client.has('s'), true);
  });

  test('a client that aborts mid-get aborts the api call', async () => {
    await client.put('slow', randomBytes(512 * 1024));
    api.stallGet = true;
    try {
      const ac = new AbortController();
      const s = client.get('slow', { signal: ac.signal });
      await within(once(s, 'data'), 'the first bytes');
      const seen = api.signals.at(-1)!;
      ac.abort();
      const [err] = (await within(once(s, 'error'), 'the stream error')) as [CdhtError];
      assert.equal(err.code, 'CDHT_ERR_ABORTED');
      if (!seen.aborted) await within(once(seen, 'abort'), "the api's signal");
    } finally {
      api.stallGet = false;
    }
  });

  test('a client that aborts mid-put aborts the api call', async () => {
    api.putStarted = latch();
    const hold = latch();
    async function* slowSource(): AsyncIterable<Uint8Array> {
      yield randomBytes(1000);
      await hold.promise;
    }
    const ac = new AbortController();
    const put = client.put('half', slowSource(), { signal: ac.signal });
    await within(api.putStarted.promise, 'the put to start');
    const seen = api.signals.at(-1)!;
    ac.abort();
    assert.equal(await within(code(put), 'the put to fail'), 'CDHT_ERR_ABORTED');
    if (!seen.aborted) await within(once(seen, 'abort'), "the api's signal");
    hold.open();
    assert.equal(api.files.has('half'), false);
  });

  test('bytes unlike their SHA-256 fail the get, and getFile leaves no file', async () => {
    await client.put('bent', randomBytes(200_000));
    api.corrupt = true;
    try {
      assert.equal(await code(client.getBuffer('bent')), 'CDHT_ERR_INTEGRITY');
      const dir = tempDir();
      assert.equal(await code(client.getFile('bent', join(dir, 'bent'))), 'CDHT_ERR_INTEGRITY');
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      api.corrupt = false;
    }
  });

  test('a holder that stops short fails the get, never hangs it', async () => {
    await client.put('short', randomBytes(300_000));
    api.truncate = 1000;
    try {
      assert.equal(await within(code(client.getBuffer('short')), 'the cut-off get'), 'CDHT_ERR_TRANSFER');
    } finally {
      api.truncate = 0;
    }
    assert.equal((await client.getBuffer('short')).length, 300_000);
  });
});

describe('gateway bounds', () => {
  const api = new FakeApi();
  let gw: Gateway;
  let client: RingClient;
  before(async () => {
    gw = await startGateway(api, { port: 0, maxConcurrent: 1, maxFileBytes: 1000 });
    client = await connect(addr(gw));
  });
  after(async () => {
    client.close();
    await gw.close();
  });

  test('past maxConcurrent operations the answer is BUSY at once', async () => {
    // Larger than the fake's first chunk: a response whose bytes had all arrived would free its socket.
    api.files.set('held', randomBytes(512 * 1024));
    api.stallGet = true;
    const ac = new AbortController();
    const s = client.get('held', { signal: ac.signal });
    s.on('error', () => {});
    await within(once(s, 'data'), 'the held get');
    assert.equal(await code(client.stat('held')), 'CDHT_ERR_BUSY');
    ac.abort();
    api.stallGet = false;
    await within(new Promise((r) => s.once('close', r)), 'the held get to close');
    // The slot is free again.
    assert.equal(await client.has('held'), true);
  });

  test('a body over maxFileBytes is TOO_LARGE, declared or chunked', async () => {
    assert.equal(await within(code(client.put('big1', randomBytes(2000))), 'declared'), 'CDHT_ERR_TOO_LARGE');
    assert.equal(await within(code(client.put('big2', chunksOf(randomBytes(2000), 300))), 'chunked'), 'CDHT_ERR_TOO_LARGE');
    assert.equal(api.files.has('big1') || api.files.has('big2'), false);
    // 10 GB announced, not a byte sent: refused before the body is read.
    const r = await raw(gw, 'PUT', '/v1/files/huge', { 'content-length': String(10 * 1024 ** 3) });
    assert.deepEqual([r.status, r.json.code], [413, 'CDHT_ERR_TOO_LARGE']);
    await client.put('small', randomBytes(1000));
  });
});

describe('connect', () => {
  test('nobody there is UNREACHABLE', async () => {
    const srv = http.createServer();
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const { port } = srv.address() as { port: number };
    await new Promise((r) => srv.close(r));
    assert.equal(await code(connect(`127.0.0.1:${port}`)), 'CDHT_ERR_UNREACHABLE');
    assert.equal(await code(connect('not an address')), 'CDHT_ERR_BAD_ARGUMENT');
  });
});

describe('gateway over mutual TLS', () => {
  const api = new FakeApi();
  let gw: Gateway;
  let ring: { gateway: TlsIdentity; member: TlsIdentity; stranger: TlsIdentity };
  before(async () => {
    const ca = await createAuthority();
    const other = await createAuthority();
    const identity = async (auth: typeof ca, id: bigint): Promise<TlsIdentity> => ({ id, ...(await issuePeer(auth, id)), caPem: auth.certPem });
    ring = { gateway: await identity(ca, 1n), member: await identity(ca, 2n), stranger: await identity(other, 3n) };
    gw = await startGateway(api, { port: 0, tls: ring.gateway });
  });
  after(() => gw.close());

  test('a client with a certificate of the ring puts and gets', async () => {
    const client = await connect(addr(gw), { tls: ring.member });
    try {
      const bytes = randomBytes(100_000);
      await client.put('secret', bytes);
      assert.deepEqual(await client.getBuffer('secret'), bytes);
    } finally {
      client.close();
    }
  });

  test('a client without a certificate, or with another authority\'s, is NOT_ADMITTED', async () => {
    assert.equal(await code(connect(addr(gw))), 'CDHT_ERR_NOT_ADMITTED');
    assert.equal(await code(connect(addr(gw), { tls: ring.stranger })), 'CDHT_ERR_NOT_ADMITTED');
  });

  test('the handshake itself refuses a TLS client that trusts the ring but has no certificate', async () => {
    const failed = new Promise<Error>((resolve, reject) => {
      const req = https.request({ host: gw.address.host, port: gw.address.port, path: '/v1/health', ca: ring.gateway.caPem, checkServerIdentity: () => undefined }, (res) => reject(new Error(`answered ${res.statusCode}`)));
      req.on('error', resolve);
      req.end();
    });
    const err = await within(failed, 'the refusal');
    assert.match(String((err as NodeJS.ErrnoException).code ?? err.message), /CERTIFICATE_REQUIRED|ECONNRESET|SSL/i);
  });
});
