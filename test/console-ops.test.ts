// The console's Store and Request above the 8-bit space are thin callers of the library's put and
// get: a typed Store leaves the owner and its k − 1 replicas holding the bytes and prints one
// outcome line; a typed Request saves the checked copy as received_NAME and says so; a failure is
// one line and the peer runs on. (The specification's mode keeps its exact lines: spec-sim.test.)
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { runTyped } from '../src/cli/commands.js';
import type { PeerLine } from '../src/peer.js';
import { createTestnet, type Testnet, type TestnetOptions } from '../src/testnet.js';

const SEED = Number(process.env.SEED ?? 11);
const BASE: TestnetOptions = { runtime: 'sim', bits: 16, count: 8, settled: true, replicas: 3, seed: SEED, pingIntervalMs: 5000, perPeerDirs: true, dataDir: '/sim' };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The lines of peer `id` from now on. */
function linesOf(net: Testnet, id: bigint): string[] {
  const out: string[] = [];
  net.on('line', (l: PeerLine) => {
    if (l.id === id) out.push(l.text);
  });
  return out;
}

/** Runs the simulator until a line of `lines` starts with `prefix` (at most 2 virtual minutes); that line. */
async function lineStarting(net: Testnet, lines: string[], prefix: string): Promise<string> {
  const found = () => lines.find((l) => l.startsWith(prefix));
  await net.until(() => found() !== undefined, 120_000);
  const line = found();
  assert.ok(line, `no line starting '${prefix}' (SEED=${SEED}); lines: ${lines.join(' | ')}`);
  return line;
}

/** Peers whose store folder holds `name` with exactly `bytes`. */
function holdersOf(net: Testnet, name: string, bytes: Uint8Array): bigint[] {
  return [...net.peers.values()].filter((p) => p.isRunning && Buffer.from(net.sim!.disk.read(p.storeDir, name) ?? []).equals(Buffer.from(bytes)) && (bytes.length > 0 || net.sim!.disk.read(p.storeDir, name) !== undefined)).map((p) => p.id);
}

test('sim, 16 bits: a typed Store is a put (owner and 2 replicas hold the bytes, one outcome line); a typed Request is a get saved as received_NAME', async () => {
  const net = await createTestnet(BASE);
  try {
    const ids = net.runningIds();
    const name = 'quarterly report (v2).txt';
    const bytes = randomBytes(40_000);
    // an origin that is not among the name's three holders, so every copy counted is the ring's
    let origin = net.peer(ids[0]!)!;
    const owner = await net.settle(origin.lookup(origin.space.keyOf(name)));
    const holderIds = [owner.owner.id, ...owner.successors.slice(0, 2).map((c) => c.id)];
    origin = net.peer(ids.find((id) => !holderIds.includes(id))!)!;
    net.sim!.disk.write(origin.storeDir, name, bytes);
    const atOrigin = linesOf(net, origin.id);
    const all: string[] = [];
    net.on('line', (l: PeerLine) => all.push(l.text));

    origin.store(name);
    const stored = await lineStarting(net, atOrigin, `Stored ${name}:`);
    assert.equal(stored, `Stored ${name}: ${bytes.length} bytes at Peer ${origin.space.format(owner.owner.id)} and 2 more copies (sha256 ${sha(bytes).slice(0, 12)}…)`);
    // the core's trace lines are there as before: forwarded at the origin, accepted at the owner
    assert.ok(atOrigin.some((l) => l === `Store ${name} request forwarded to my successor`), atOrigin.join(' | '));
    assert.ok(all.includes(`Store ${name} request accepted`), 'the owner accepts the store');
    const holders = holdersOf(net, name, bytes);
    for (const h of holderIds) assert.ok(holders.includes(h), `Peer ${h} holds the bytes (holders: ${holders.join(', ')}; SEED=${SEED})`);
    assert.equal(atOrigin.filter((l) => l.startsWith(`Stored ${name}`) || l.startsWith(`Store ${name} failed`)).length, 1, 'one outcome line');

    // a Request at another peer: the outcome line, and received_NAME with the very bytes
    const asker = net.peer(ids.find((id) => id !== origin.id && !holderIds.includes(id))!)!;
    const atAsker = linesOf(net, asker.id);
    asker.request(name);
    const received = await lineStarting(net, atAsker, `Received ${name}:`);
    const saved = join(net.dataDirOf(asker.id), `received_${name}`);
    assert.equal(received, `Received ${name}: ${bytes.length} bytes, sha256 ${sha(bytes).slice(0, 12)}…, saved as ${saved}`);
    assert.ok(Buffer.from(net.sim!.disk.read(net.dataDirOf(asker.id), `received_${name}`) ?? []).equals(bytes), 'the saved copy has the stored bytes');
    // no temporary file is left behind
    assert.deepEqual(net.sim!.disk.list(net.dataDirOf(asker.id)).filter((f) => f.startsWith('.cdht-')), []);

    // peer.store() is the same caller
    const other = 'second.bin';
    const more = randomBytes(3_000);
    net.sim!.disk.write(asker.storeDir, other, more);
    asker.store(other);
    const line = await lineStarting(net, atAsker, `Stored ${other}:`);
    assert.match(line, new RegExp(`^Stored second\\.bin: 3000 bytes at Peer \\S+ and 2 more copies \\(sha256 ${sha(more).slice(0, 12)}…\\)$`));
  } finally {
    await net.close();
  }
});

test('sim, 16 bits: a typed Store of a missing file, or a Request of an unknown name, is one error line; the peer runs on', async () => {
  const net = await createTestnet({ ...BASE, count: 5, replicas: 2 });
  try {
    const peer = net.peer(net.runningIds()[1]!)!;
    const lines = linesOf(net, peer.id);
    peer.store('nothing-here.txt');
    const failed = await lineStarting(net, lines, 'Store nothing-here.txt failed:');
    assert.match(failed, /there is no file nothing-here\.txt in this peer's store folder to store — Fix the argument/);
    assert.equal(lines.filter((l) => l.includes('nothing-here.txt')).length, 1, `one line: ${lines.join(' | ')}`);

    peer.request('never-stored.txt');
    const missing = await lineStarting(net, lines, 'Request never-stored.txt failed:');
    assert.match(missing, /CDHT_ERR|does not have it|No holder in the ring has this name/);
    assert.equal(net.sim!.disk.read(net.dataDirOf(peer.id), 'received_never-stored.txt'), undefined, 'nothing saved');

    // the console parser's refusals read as before, and the peer is still in its ring and takes the next line
    const say = (text: string) => lines.push(text);
    runTyped('Store', peer.space, peer, say);
    await lineStarting(net, lines, 'Store takes one file name, e.g. Store notes.txt');
    runTyped('Fetch x', peer.space, peer, say);
    await lineStarting(net, lines, "Unknown command 'Fetch': type Store NAME, Request NAME or Quit");
    assert.ok(peer.isInRing);
    net.sim!.disk.write(peer.storeDir, 'later.txt', Buffer.from('still here'));
    peer.store('later.txt');
    assert.equal(await lineStarting(net, lines, 'Stored later.txt:'), `Stored later.txt: 10 bytes at Peer ${(await lineStarting(net, lines, 'Stored later.txt:')).split('at Peer ')[1]!.split(' ')[0]} and 1 more copy (sha256 ${sha(Buffer.from('still here')).slice(0, 12)}…)`);
  } finally {
    await net.close();
  }
});
