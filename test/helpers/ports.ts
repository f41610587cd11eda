// Base ports for tests on 127.0.0.1: endpoint `id` listens on base + id. A base is reserved for
// the whole life of the process that took it: a lock file per block of PORT_SPAN ports in a folder
// every cdht test and bench process on this machine shares, so two test files (or two worktrees'
// suites) never hand out the same ports, even after a peer has closed them for a restart. The
// ports are probed too, for programs that are not ours, and stay below Linux's ephemeral range
// (32768 and up), where client sockets lingering in TIME_WAIT make a listen fail with EADDRINUSE.
import * as dgram from 'node:dgram';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Port offsets (peer ids) a test file may use above its base port; also the size of a block. */
export const PORT_SPAN = 256;
const LOWEST_BASE = 20000;
/** Ports below this are outside Linux's ephemeral range. */
const EPHEMERAL_FROM = 32768;
/** Blocks of PORT_SPAN ports between LOWEST_BASE and EPHEMERAL_FROM. */
const BLOCKS = Math.floor((EPHEMERAL_FROM - LOWEST_BASE) / PORT_SPAN);
/** Free-looking runs of blocks tried before giving up (each taken block is skipped at no cost). */
const PROBE_ATTEMPTS = 40;
/** Where the lock files live: one `<first port>.lock` per reserved block, holding the owner's pid. */
const LOCK_DIR = join(tmpdir(), 'cdht-test-ports');

/** Blocks this process holds; their lock files are removed when it exits. */
const held = new Set<number>();
process.once('exit', () => {
  for (const block of held) {
    try {
      unlinkSync(lockFile(block));
    } catch {
      // gone already: nothing to give back
    }
  }
});

function lockFile(block: number): string {
  return join(LOCK_DIR, `${LOWEST_BASE + block * PORT_SPAN}.lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes one block's lock, or takes it over from a process that died holding it; false if it is held. */
function lock(block: number): boolean {
  const file = lockFile(block);
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(block);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(file, 'utf8'));
    } catch {
      continue; // removed meanwhile: try again
    }
    // an empty file is a lock being written this instant: held
    if (!owner || alive(owner)) return false;
    try {
      unlinkSync(file);
    } catch {
      // another process took it over first; the next openSync says who won
    }
  }
  return false;
}

function unlock(block: number): void {
  held.delete(block);
  try {
    unlinkSync(lockFile(block));
  } catch {
    // not there: nothing to give back
  }
}

/**
 * Reserves `blocks` adjacent blocks for this process's life, starting at a random one, and returns
 * the first port. `usable(base)` probes the ports the caller will bind; a run that fails it is
 * given back and another tried.
 */
async function reserve(blocks: number, usable: (base: number) => Promise<boolean>, what: string): Promise<number> {
  if (blocks > BLOCKS) throw new Error(`no span of ${blocks * PORT_SPAN} ports fits between ${LOWEST_BASE} and ${EPHEMERAL_FROM}`);
  mkdirSync(LOCK_DIR, { recursive: true });
  const starts = BLOCKS - blocks + 1;
  const first = Math.floor(Math.random() * starts);
  let probed = 0;
  for (let i = 0; i < starts && probed < PROBE_ATTEMPTS; i++) {
    const start = (first + i) % starts;
    const taken: number[] = [];
    for (let b = start; b < start + blocks && lock(b); b++) taken.push(b);
    if (taken.length === blocks) {
      const base = LOWEST_BASE + start * PORT_SPAN;
      probed++;
      if (await usable(base)) return base;
    }
    taken.forEach(unlock);
  }
  throw new Error(`no free base port for ${what}: every block in ${LOWEST_BASE}..${EPHEMERAL_FROM - 1} is reserved (see ${LOCK_DIR}) or in use`);
}

/**
 * A base port reserved for this process's life where base + id is free on TCP and UDP for every
 * id: no other test process is handed it, and nothing else held it when probed.
 */
export async function freeBasePort(ids: readonly number[], host = '127.0.0.1'): Promise<number> {
  const blocks = Math.floor(Math.max(0, ...ids) / PORT_SPAN) + 1;
  return reserve(blocks, async (base) => (await Promise.all(ids.map((id) => portFree(host, base + id)))).every(Boolean), `ids ${ids.join(',')}`);
}

/**
 * A base port reserved for this process's life where base .. base + count - 1 are all free on TCP
 * and UDP and all stay below the ephemeral range: for rings larger than PORT_SPAN (bench/versus.ts).
 */
export async function freePortSpan(count: number, host = '127.0.0.1'): Promise<number> {
  const blocks = Math.max(1, Math.ceil(count / PORT_SPAN));
  return reserve(blocks, async (base) => (await Promise.all(Array.from({ length: count }, (_, i) => portFree(host, base + i)))).every(Boolean), `${count} ports`);
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
