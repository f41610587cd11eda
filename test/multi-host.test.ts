// Peers on several hosts: three loopback addresses with the same port (no root needed on
// Linux), and, as root, three network namespaces joined by veth links through a bridge. Peers
// start with ID@host:port successors, one joins through a bare host:port, and a file moves.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CliProcess } from './helpers/cli.js';
import { makeLan, netnsUnavailable } from './helpers/netns.js';
import { freeBasePort } from './helpers/ports.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Host {
  addr: string;
  wrap?: string[];
}

/** 10 on hosts[0], 20 on hosts[1], 30 on hosts[2], all on `port`; 40 joins from hosts[3] through 20's address. */
async function threeHosts(hosts: Host[], port: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-hosts-'));
  dirs.push(dir);
  const at = (i: number) => `${hosts[i]!.addr}:${port}`;
  const ids = [10, 20, 30];
  const peers: CliProcess[] = [];
  const start = (i: number, args: string[]) => {
    const data = join(dir, `peer-${i}`);
    mkdirSync(data, { recursive: true });
    const p = new CliProcess([...args, '--listen', at(i), '--data-dir', data], { cwd: dir, label: `peer on ${at(i)}`, ...(hosts[i]!.wrap ? { wrap: hosts[i]!.wrap } : {}) });
    peers.push(p);
    return p;
  };
  try {
    for (let i = 0; i < 3; i++) {
      const s1 = (i + 1) % 3;
      const s2 = (i + 2) % 3;
      start(i, ['init', String(ids[i]), `${ids[s1]}@${at(s1)}`, `${ids[s2]}@${at(s2)}`, '0.3']);
    }
    // every first peer is up and answering before the fourth joins
    await Promise.all(peers.map((p, i) => p.waitFor([`Ping response received from Peer ${ids[(i + 1) % 3]}`])));
    const joiner = start(3, ['join', '40', at(1), '0.3']);
    await joiner.waitFor(['Join request has been accepted', 'My first successor is Peer 10', 'My second successor is Peer 20']);
    await peers[2]!.waitFor(['Peer 40 Join request received', 'My new first successor is Peer 40']);
    // a file stored from the joiner's host (key 4103 mod 256 = 7: owned by 10) and fetched from 30's
    const bytes = randomBytes(200_000);
    writeFileSync(join(dir, 'peer-3', '4103.pdf'), bytes);
    joiner.send('Store 4103');
    await peers[0]!.waitFor(['Store 4103 request accepted', 'File 4103 stored here']);
    peers[2]!.send('Request 4103');
    await peers[2]!.waitFor(['Peer 10 had File 4103', 'File 4103 received']);
    assert.deepEqual(readFileSync(join(dir, 'peer-2', 'received_4103.pdf')), bytes);
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
}

test('three loopback hosts, one port: join across them and move a file', { timeout: 300_000 }, async () => {
  const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
  let port = 0;
  for (let tries = 0; tries < 20 && !port; tries++) {
    const base = await freeBasePort([0]);
    // the same port must be free on every address
    if ((await Promise.all(hosts.map((h) => freeBasePort([0], h).then(() => true, () => false)))).every(Boolean)) port = base;
  }
  await threeHosts(hosts.map((addr) => ({ addr })), port);
});

test('three network namespaces joined by veth links', { timeout: 300_000, skip: netnsUnavailable() }, async () => {
  // a /24 that exists only inside the namespaces made for this test
  const lan = makeLan(4, '10.213.6');
  try {
    await threeHosts(lan.hosts, 12000);
  } finally {
    lan.close();
  }
});
