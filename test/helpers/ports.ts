// Base ports for tests on 127.0.0.1: endpoint `id` listens on base + id. Bases are random so
// that test files running side by side rarely meet, and they stay below Linux's ephemeral range
// (32768 and up), where client sockets lingering in TIME_WAIT make a listen fail with EADDRINUSE.
import * as dgram from 'node:dgram';
import * as net from 'node:net';

/** Port offsets (peer ids) a test file may use above its base port. */
export const PORT_SPAN = 256;
const LOWEST_BASE = 20000;
/** Below Linux's ephemeral range, with room for PORT_SPAN ports above the base. */
const HIGHEST_BASE = 32768 - PORT_SPAN;
const PROBE_ATTEMPTS = 20;

/**
 * A random base port in [20000, 32512]. Any base, not slots: two test files running side by side
 * meet only if they pick ports whose ids collide, about 12,000 choices apart.
 */
export function randomBasePort(): number {
  return LOWEST_BASE + Math.floor(Math.random() * (HIGHEST_BASE - LOWEST_BASE + 1));
}

/** A random base port where base + id is free on TCP and UDP for every id (checked, then released). */
export async function freeBasePort(ids: readonly number[], host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < PROBE_ATTEMPTS; attempt++) {
    const base = randomBasePort();
    const free = await Promise.all(ids.map((id) => portFree(host, base + id)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no base port with ids ${ids.join(',')} free after ${PROBE_ATTEMPTS} attempts`);
}

/**
 * A random base port where base .. base + count - 1 are all free on TCP and UDP and all stay
 * below the ephemeral range: for rings larger than PORT_SPAN (e.g. 1000 peers in bench/versus.ts).
 */
export async function freePortSpan(count: number, host = '127.0.0.1'): Promise<number> {
  const highest = 32768 - count;
  if (highest < LOWEST_BASE) throw new Error(`no span of ${count} ports fits between ${LOWEST_BASE} and 32768`);
  for (let attempt = 0; attempt < PROBE_ATTEMPTS; attempt++) {
    const base = LOWEST_BASE + Math.floor(Math.random() * (highest - LOWEST_BASE + 1));
    const free = await Promise.all(Array.from({ length: count }, (_, i) => portFree(host, base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no span of ${count} free ports after ${PROBE_ATTEMPTS} attempts`);
}

async function portFree(host: string, port: number): Promise<boolean> {
  const [tcp, udp] = await Promise.all([tcpFree(host, port), udpFree(host, port)]);
  return tcp && udp;
}

function tcpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port }, () => server.close(() => resolve(true)));
  });
}

function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind(port, host, () => sock.close(() => resolve(true)));
  });
}
