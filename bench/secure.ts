// Private rings against open ones, same run: a Store routed round the reference ring (per-hop
// cost on kept-open links) on an open ring, a private ring without origin proofs and one with
// them, a join's latency, how many origin proofs one core signs and checks a second, and what a
// 256-peer private ring costs in memory and file descriptors in one process (as `cdht ring
// --secure --random 256` runs it; SECURE_PEERS=0 leaves that part out).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { CLI_SCRIPT as CLI } from '../test/helpers/cli.js';
import type { PeerLine } from '../src/peer.js';
import type { RoutedMessage } from '../src/core/messages.js';
import { createAuthority, issuePeer, type KeyAlgorithm } from '../src/security/ca.js';
import type { TlsIdentity } from '../src/security/identity.js';
import { OriginSigner, OriginVerifier } from '../src/security/origin-proofs.js';
import { createThrowawayRing } from '../src/security/tls.js';
import { createTestnet, REFERENCE_RING, type Testnet } from '../src/testnet.js';
import { encodeFrame } from '../src/wire/index.js';
import { freeBasePort } from '../test/helpers/ports.js';

const STORES = Number(process.env.SECURE_STORES ?? 200);
const JOINS = Number(process.env.SECURE_JOINS ?? 20);
const BIG = Number(process.env.SECURE_PEERS ?? 256);
/** How long each origin-proof rate is measured. */
const PROOF_MS = Number(process.env.SECURE_PROOF_MS ?? 2000);

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const ms = (x: number) => `${x.toFixed(3)} ms`;

async function identities(ids: bigint[]): Promise<(id: bigint) => TlsIdentity> {
  const ring = await createThrowawayRing();
  const map = new Map<bigint, TlsIdentity>();
  for (const id of ids) map.set(id, await ring.identityFor(id));
  return (id) => map.get(id)!;
}

/** Stores from 2 of a key owned by 19 (6 forwards: 2 > 4 > 5 > 8 > 9 > 14 > 19), one at a time. */
async function storeRound(net: Testnet): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < STORES; i++) {
    const name = String(19 + 256 * (i % 39)).padStart(4, '0'); // keys of 19
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const on = (l: PeerLine) => {
        if (l.id === 19n && l.text === `Store ${name} request accepted`) {
          net.off('line', on);
          resolve();
        }
      };
      net.on('line', on);
      net.peer(2)!.store(name);
    });
    times.push(performance.now() - t0);
  }
  return times;
}

/** Joins of new ids through 2 (each leaves again): a first join, as a new peer makes it. */
async function joins(net: Testnet, base: number[]): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < Math.min(JOINS, base.length); i++) {
    const id = base[i]!;
    const t0 = performance.now();
    const p = await net.join(id, 2, 10_000);
    if (p.isInRing) times.push(performance.now() - t0);
    await net.quit(id);
  }
  return times;
}

export async function secureBench(): Promise<void> {
  console.log(`Private ring vs open ring (reference ring on sockets, one process; ${STORES} stores, ${JOINS} joins each):`);
  // new ids every time (a peer that rejoins with its old id on a private ring waits one check for fresh keys)
  const extra = Array.from({ length: JOINS }, (_, i) => 20 + 10 * i).filter((x) => x < 256);
  const idsAll = [...REFERENCE_RING, ...extra.map(BigInt)];
  const kinds = [
    { label: 'open', secure: false, proofs: false },
    { label: 'private, no origin proofs', secure: true, proofs: false },
    { label: 'private, origin proofs', secure: true, proofs: true },
  ];
  for (const { label, secure, proofs } of kinds) {
    const basePort = await freeBasePort([...REFERENCE_RING.map(Number), ...extra]);
    const identityFor = secure ? await identities(idsAll) : undefined;
    const net = await createTestnet({ basePort, pingIntervalMs: 1000, ...(identityFor ? { secure: true, identityFor, originProofs: proofs } : {}) });
    try {
      await net.run(2500);
      await storeRound(net); // the first round opens the links
      const s = await storeRound(net);
      const j = await joins(net, extra);
      console.log(
        `  ${label.padEnd(25)}  Store routed round the ring (6 hops): p50 ${ms(q(s, 0.5))}, p99 ${ms(q(s, 0.99))} (${ms(q(s, 0.5) / 6)} a hop); join p50 ${ms(q(j, 0.5))}, p99 ${ms(q(j, 0.99))}`,
      );
    } finally {
      await net.close();
    }
  }
  await proofRates();
  // `cdht ring --random 256` as its own process, open and private: RSS and descriptors after 20 s
  for (const secure of BIG > 0 ? [false, true] : []) {
    const base = await freeBasePort(Array.from({ length: 256 }, (_, i) => i));
    const args = ['ring', '--random', String(BIG), '--seed', '1', '--base-port', String(base), ...(secure ? ['--secure'] : [])];
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const started = await until(() => /Type help/.test(out), 60_000);
    await new Promise((r) => setTimeout(r, 20_000));
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
    const fds = readdirSync(`/proc/${child.pid}/fd`).length;
    child.stdin!.write('exit\n');
    await new Promise((r) => child.once('exit', r));
    console.log(`  cdht ring --random ${BIG}${secure ? ' --secure' : ''}: ${started ? '' : '(did not start) '}RSS ${(rss / 1024).toFixed(0)} MiB (${(rss / BIG).toFixed(0)} KiB a peer), ${fds} file descriptors (${(fds / BIG).toFixed(1)} a peer) after 20 s`);
  }
}

/** Origin proofs signed and checked a second on one core (this thread), for each key algorithm, and their bytes on the wire. */
async function proofRates(): Promise<void> {
  console.log(`Origin proofs on one core (a Store's proof, ${PROOF_MS} ms each):`);
  for (const algorithm of ['Ed25519', 'P-256'] as KeyAlgorithm[]) {
    const ca = await createAuthority({ algorithm });
    const peer = await issuePeer(ca, 9n);
    let nonce = 1;
    const signer = new OriginSigner(peer, () => nonce++);
    const verifier = new OriginVerifier(ca.certPem);
    const store: RoutedMessage = { type: 'store', origin: { id: 9n, host: '127.0.0.1', port: 40009 }, file: '2067', final: false, hops: 1 };
    const signedOnes: RoutedMessage[] = [];
    const signRate = rate(() => void signedOnes.push(signer.sign(store, Date.now())));
    let i = 0;
    const checkRate = rate(() => {
      const v = verifier.check(signedOnes[i++ % signedOnes.length]!, Date.now());
      if (!v.ok) throw new Error(`a good proof failed: ${v.why}`);
    });
    const extraBytes = encodeFrame(signedOnes[0]!).length - encodeFrame(store).length;
    console.log(`  ${algorithm.padEnd(7)}  signed ${signRate.toFixed(0)}/s, verified ${checkRate.toFixed(0)}/s (certificate remembered; ${(1e6 / checkRate).toFixed(1)} us each); a proof adds ${extraBytes} bytes to a frame`);
  }
}

/** Calls of `fn` a second, over PROOF_MS (after a short warm-up). */
function rate(fn: () => void): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < PROOF_MS) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

async function until(pred: () => boolean, maxMs: number): Promise<boolean> {
  for (let i = 0; i < maxMs / 100; i++) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}
