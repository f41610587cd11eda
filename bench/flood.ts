// BENCH=flood: fair service under floods and busy answers, measured in one run against a
// baseline. (1) Stores from members into peer 8 of the reference ring, without a flood and during
// one of 2000 idle connections from 250 loopback addresses (each dropped one replaced, as an
// attacker would). (2) 30 concurrent Requests of one large file (10 each from 3 peers): how many
// complete, how many busy answers were given, and the most temporary bytes a requester held.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as tcp from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerLine } from '../src/peer.js';
import { createTestnet, type Testnet } from '../src/testnet.js';
import { DEFAULT_LIMITS } from '../src/transport/node/endpoint.js';
import { freeBasePort } from '../test/helpers/ports.js';

const IDS = [2, 4, 5, 8, 9, 14, 19];
const FLOOD_HOSTS = 250;
const FLOOD_PER_HOST = 8;
/** Connections the attacker opens in all (its dropped ones are replaced until then). */
const FLOOD_BUDGET = Number(process.env.FLOOD_BUDGET ?? 100_000);
/** How soon the attacker replaces a connection the victim dropped. */
const FLOOD_AGAIN_MS = 1000;
/** Stores per phase (3 names per key offset: at most 48, so the flood's names stay four digits). */
const FLOOD_STORES = Math.min(48, Number(process.env.FLOOD_STORES ?? 32));
const BUSY_MIB = Number(process.env.FLOOD_MIB ?? 200);
const BUSY_REQUESTERS = [2, 4, 19];
const BUSY_PER_REQUESTER = 10;
/** Every Store gets this long to be confirmed at 8 ("File NAME stored here"). */
const STORE_WAIT_MS = 30_000;

/** A ring of the reference ids in this process, with the per-host cap peers run with. */
async function ring(dir: string, maxFileBytes: number): Promise<{ net: Testnet; lines: PeerLine[] }> {
  const base = await freeBasePort(IDS);
  // the testnet lifts the per-host cap (its peers share one host); members are exempt from it anyway
  const net = await createTestnet({ ids: IDS, basePort: base, pingIntervalMs: 500, dataDir: dir, perPeerDirs: true, maxFileBytes, limits: { maxInboundPerHost: DEFAULT_LIMITS.maxInboundPerHost } });
  const lines: PeerLine[] = [];
  net.on('line', (l: PeerLine) => lines.push(l));
  await net.until(() => IDS.every((id) => net.peer(id)!.snapshot().pred2 !== undefined), 15_000);
  return { net, lines };
}

/** Four-digit names whose key (name mod 256) peer 8 owns: 6, 7, 8 and their kin, from `offset` on. */
function namesOf8(count: number, offset: number): string[] {
  return Array.from({ length: count }, (_, i) => String(6 + (i % 3) + 256 * (offset + Math.floor(i / 3))).padStart(4, '0'));
}
const BASELINE_OFFSET = 0;
/** Past the baseline's names, still below 10000. */
const FLOOD_OFFSET = 16;

/** Stores `names` into 8 from the other members at once; how many 8 confirms within the wait. */
async function stores(net: Testnet, lines: PeerLine[], dir: string, names: string[]): Promise<number> {
  const from = [2, 4, 14, 19];
  const m = lines.length;
  names.forEach((name, i) => {
    const id = from[i % from.length]!;
    writeFileSync(join(dir, `peer-${id}`, `${name}.pdf`), randomBytes(20_000));
    net.peer(id)!.store(name);
  });
  const done = () => names.filter((n) => lines.slice(m).some((l) => l.id === 8n && l.text === `File ${n} stored here`)).length;
  await net.until(() => done() === names.length, STORE_WAIT_MS);
  return done();
}

/** 8 idle connections from each of 250 addresses; each one dropped is replaced, up to the budget. */
function idleFlood(port: number): { opened: () => number; stop: () => void } {
  const open = new Set<tcp.Socket>();
  let opened = 0;
  let stopped = false;
  const connect = (host: string): void => {
    if (stopped || opened >= FLOOD_BUDGET) return;
    opened++;
    const s = tcp.connect({ port, host: '127.0.0.1', localAddress: host });
    open.add(s);
    s.on('error', () => {});
    s.on('close', () => {
      open.delete(s);
      // the attacker's pace: a dropped connection comes back a moment later
      setTimeout(() => connect(host), FLOOD_AGAIN_MS).unref();
    });
  };
  for (let h = 0; h < FLOOD_HOSTS; h++) for (let i = 0; i < FLOOD_PER_HOST; i++) connect(`127.0.0.${h + 2}`);
  return {
    opened: () => opened,
    stop: () => {
      stopped = true;
      for (const s of open) s.destroy();
    },
  };
}

async function floodStores(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-flood-'));
  try {
    const { net, lines } = await ring(dir, 1 << 20);
    try {
      const baseline = await stores(net, lines, dir, namesOf8(FLOOD_STORES, BASELINE_OFFSET));
      const attack = idleFlood(net.contactOf(8).port);
      try {
        await net.until(() => (net.peer(8)!.transportStats()?.inbound ?? 0) >= DEFAULT_LIMITS.maxInboundConnections - DEFAULT_LIMITS.memberSlots, 20_000);
        const held = net.peer(8)!.transportStats()!.inbound;
        const t0 = performance.now();
        const during = await stores(net, lines, dir, namesOf8(FLOOD_STORES, FLOOD_OFFSET));
        const secs = (performance.now() - t0) / 1000;
        console.log(`Stores between members into Peer 8, ${FLOOD_STORES} at once, reference ring in one process:`);
        console.log(`  no flood: ${baseline} / ${FLOOD_STORES} succeeded`);
        console.log(`  during ${FLOOD_HOSTS * FLOOD_PER_HOST} idle connections from ${FLOOD_HOSTS} addresses (${held} of ${DEFAULT_LIMITS.maxInboundConnections} slots held by them, ${attack.opened()} opened by the end): ${during} / ${FLOOD_STORES} succeeded in ${secs.toFixed(1)} s`);
      } finally {
        attack.stop();
      }
    } finally {
      await net.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function busyRequests(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-busy-'));
  try {
    const maxFileBytes = (BUSY_MIB + 56) * 1024 * 1024;
    const { net, lines } = await ring(dir, maxFileBytes);
    try {
      const fd = openSync(join(dir, 'peer-8', '4103.pdf'), 'w');
      const block = randomBytes(1 << 20);
      for (let i = 0; i < BUSY_MIB; i++) {
        block.writeUInt32BE(i, 0);
        writeSync(fd, block);
      }
      closeSync(fd);
      const m = lines.length;
      const t0 = performance.now();
      for (const id of BUSY_REQUESTERS) for (let i = 0; i < BUSY_PER_REQUESTER; i++) net.peer(id)!.request('4103');
      const texts = () => lines.slice(m);
      const count = (re: RegExp) => texts().filter((l) => re.test(l.text)).length;
      const ended = () => count(/^File 4103 received$|^Gave up the request for File 4103|^No answer to the request for File 4103|^File 4103 could not be received/);
      const total = BUSY_REQUESTERS.length * BUSY_PER_REQUESTER;
      await net.until(() => ended() >= total, 180_000);
      const secs = (performance.now() - t0) / 1000;
      const peak = Math.max(...BUSY_REQUESTERS.map((id) => net.peer(id)!.transportStats()!.peakTempBytes));
      const cap = net.peer(2)!.transportStats()!.tempCap;
      console.log(`${total} concurrent Requests of one ${BUSY_MIB} MiB file (${BUSY_PER_REQUESTER} each from Peers ${BUSY_REQUESTERS.join(', ')}), --max-file-size ${maxFileBytes / 2 ** 20} MiB:`);
      console.log(`  completed ${count(/^File 4103 received$/)}, gave up (busy) ${count(/^Gave up the request for File 4103/)}, timed out ${count(/^No answer to the request for File 4103/)}, failed ${count(/^File 4103 could not be received/)}; ${ended()} of ${total} ended in ${secs.toFixed(1)} s`);
      console.log(`  busy answers retried ${count(/is busy; asking for File 4103 again/)}, offers turned away for temporary space ${count(/refused the file: busy/)}`);
      console.log(`  peak temporary bytes at one requester ${(peak / 2 ** 20).toFixed(0)} MiB (cap ${(cap / 2 ** 20).toFixed(0)} MiB = 2 x --max-file-size)`);
    } finally {
      await net.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function floodBench(): Promise<void> {
  await floodStores();
  await busyRequests();
}
