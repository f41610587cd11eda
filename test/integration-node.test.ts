// Layer 3: whole rings on real UDP and TCP sockets on 127.0.0.1 (random base port), through
// the same createTestnet the simulator tests use; files on disk in per-peer folders.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { PeerLine } from '../src/peer.js';
import { createTestnet } from '../src/testnet.js';
import { freeBasePort } from './helpers/ports.js';

/** How long a wait on real sockets may take: a safety net for a busy machine, not a measure of speed. */
const WAIT_MS = 30_000;

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('reference ring on real sockets: store copies, request streams, a kill is repaired', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdht-int-'));
  dirs.push(dataDir);
  const ids = [2, 4, 5, 8, 9, 14, 19];
  const net = await createTestnet({ ids, basePort: await freeBasePort(ids), pingIntervalMs: 200, dataDir, perPeerDirs: true });
  const lines: PeerLine[] = [];
  net.on('line', (l: PeerLine) => lines.push(l));
  const saw = (id: number, text: string) => lines.some((l) => l.id === BigInt(id) && l.text === text);
  try {
    assert.ok(await net.until(() => saw(2, 'Ping response received from Peer 5') && saw(19, 'Ping response received from Peer 4'), WAIT_MS));

    // store at 8 with the file in 8's folder: 19 (key 19's owner) ends with an identical copy
    const doc = randomBytes(700_000);
    writeFileSync(join(dataDir, 'peer-8', '2067.pdf'), doc);
    net.peer(8)!.store('2067');
    assert.ok(await net.until(() => saw(19, 'File 2067 stored here'), WAIT_MS), 'copy stored at 19');
    assert.deepEqual(readFileSync(join(dataDir, 'peer-19', '2067.pdf')), doc);
    assert.ok(saw(14, 'Store 2067 request forwarded to my successor'));

    // request it from 4: streamed from 19's folder into 4's, verified, nothing partial left
    net.peer(4)!.request('2067');
    assert.ok(await net.until(() => saw(4, 'File 2067 received'), WAIT_MS));
    assert.deepEqual(readFileSync(join(dataDir, 'peer-4', 'received_2067.pdf')), doc);
    assert.deepEqual(readdirSync(join(dataDir, 'peer-4')).filter((f) => f.endsWith('.part')), []);

    // kill 14: 9 and 8 repair within a few intervals
    await net.kill(14);
    assert.ok(
      await net.until(() => saw(9, 'My new second successor is Peer 2') && saw(8, 'My new second successor is Peer 19'), WAIT_MS),
      'repaired',
    );
    assert.deepEqual(net.staleIds().map(Number), []);

    // a request for a file nobody has: both sides say so
    net.peer(2)!.request('4103');
    assert.ok(await net.until(() => saw(2, 'Peer 8 does not have File 4103'), WAIT_MS));
    assert.ok(!existsSync(join(dataDir, 'peer-2', 'received_4103.pdf')));
  } finally {
    await net.close();
  }
});

test('two peers on real sockets: join, graceful quit and ready/closed promises', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'cdht-int-'));
  dirs.push(dataDir);
  const net = await createTestnet({ ids: [10, 200], basePort: await freeBasePort([10, 200, 0, 255]), pingIntervalMs: 200, dataDir });
  try {
    const low = await net.join(0, 200);
    const high = await net.join(255, 10);
    assert.ok(low.isInRing && high.isInRing);
    assert.ok(await net.until(() => net.staleIds().length === 0, WAIT_MS), `stale: ${net.staleIds()}`);
    assert.deepEqual(await net.quit(255), { code: 0, reason: 'quit' });
    assert.ok(await net.until(() => net.staleIds().length === 0, WAIT_MS), `stale after quit: ${net.staleIds()}`);
    assert.deepEqual(net.runningIds().map(Number), [0, 10, 200]);
  } finally {
    await net.close();
  }
});
