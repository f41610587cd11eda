// BENCH=idle: what an idle peer sends, counted on the simulator (so the figure does not depend on
// the machine's load): 256 peers with 32-bit ids and fingers, settled, fingers left to fill
// themselves, then every message sent in a window long after start, by transport and type, a peer
// a second. IDLE_PEERS, IDLE_PING_MS (1000), IDLE_WARMUP_S (600), IDLE_WINDOW_S (120), IDLE_SEED (3).
// Run against an older build by copying dist/bench/idle.js into its dist/bench: the imports are its own.
import type { Message } from '../src/core/messages.js';
import type { Target } from '../src/core/contact.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import { createTestnet } from '../src/testnet.js';

const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);

export interface IdleCounts {
  peers: number;
  pingMs: number;
  /** `${transport} ${type}` -> messages a peer a second. */
  perPeerPerS: Record<string, number>;
  datagrams: number;
  links: number;
}

/** Counts the messages of an idle simulated ring in its window. */
export async function idleCounts(): Promise<IdleCounts> {
  const peers = num('IDLE_PEERS', 256);
  const pingMs = num('IDLE_PING_MS', 1000);
  const warmupMs = num('IDLE_WARMUP_S', 600) * 1000;
  const windowMs = num('IDLE_WINDOW_S', 120) * 1000;
  const counts = new Map<string, number>();
  let counting = false;
  const proto = SimNetwork.prototype as unknown as Record<'sendDatagramFrom' | 'sendMessageFrom', (src: unknown, to: Target, msg: Message) => unknown>;
  const originals = { udp: proto.sendDatagramFrom, tcp: proto.sendMessageFrom };
  proto.sendDatagramFrom = function (this: unknown, src, to, msg) {
    if (counting) counts.set(`udp ${msg.type}`, (counts.get(`udp ${msg.type}`) ?? 0) + 1);
    return originals.udp.call(this, src, to, msg);
  };
  proto.sendMessageFrom = function (this: unknown, src, to, msg) {
    if (counting) counts.set(`tcp ${msg.type}`, (counts.get(`tcp ${msg.type}`) ?? 0) + 1);
    return originals.tcp.call(this, src, to, msg);
  };
  try {
    const net = await createTestnet({ runtime: 'sim', bits: 32, count: peers, routing: 'fingers', settled: true, seedFingers: false, pingIntervalMs: pingMs, seed: num('IDLE_SEED', 3) });
    await net.run(warmupMs);
    counting = true;
    await net.run(windowMs);
    counting = false;
    await net.close();
  } finally {
    proto.sendDatagramFrom = originals.udp;
    proto.sendMessageFrom = originals.tcp;
  }
  const perPeerPerS: Record<string, number> = {};
  let datagrams = 0;
  let links = 0;
  for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1])) {
    const rate = Number((v / peers / (windowMs / 1000)).toFixed(3));
    perPeerPerS[k] = rate;
    if (k.startsWith('udp')) datagrams += rate;
    else links += rate;
  }
  return { peers, pingMs, perPeerPerS, datagrams: Number(datagrams.toFixed(3)), links: Number(links.toFixed(3)) };
}

export async function idleBench(): Promise<void> {
  const r = await idleCounts();
  console.log(`\n== idle peer on the simulator: ${r.peers} peers, 32-bit ids, fingers, a ping every ${r.pingMs} ms`);
  console.log(`   a peer a second: ${r.datagrams} datagrams, ${r.links} messages on links`);
  for (const [k, v] of Object.entries(r.perPeerPerS)) console.log(`   ${k.padEnd(24)} ${v}`);
}

// run on its own: node dist/bench/idle.js
if (process.argv[1]?.endsWith('/idle.js')) await idleBench();
