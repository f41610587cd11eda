// Node endpoints for the transport tests: a recorder whose conditions are waited on by event,
// temporary data directories, raw sockets for playing a misbehaving peer, bounded waits.
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Contact } from '../../src/core/contact.js';
import { createNodeRuntime, type EndpointStats, type Limits, type NodeEndpoint } from '../../src/transport/node/endpoint.js';
import type { Endpoint, EndpointOptions } from '../../src/transport/types.js';
import { Recorder } from '../transport-compliance.js';

export { Recorder };
/** A safety net for waits on sockets, not a measure of speed: generous for a busy 2-core machine. */
export const WAIT_MS = 30_000;

/** Fires whenever any recorder saw something: waits re-check their condition then. */
export const changes = new EventEmitter();
changes.setMaxListeners(0);

export interface TestPeer {
  readonly me: Contact;
  readonly dir: string;
  readonly rec: Recorder;
  readonly ep: Endpoint;
  stats(): EndpointStats;
}

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cdht-transport-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An endpoint at `me`, closed when the test ends; `limits` shortens the transport's bounds. */
export async function openPeer(t: TestContext, me: Contact, o: Partial<EndpointOptions> & { limits?: Partial<Limits> } = {}): Promise<TestPeer> {
  const dir = await tempDir(t);
  const rec = new Recorder(() => changes.emit('change'));
  const { limits, ...opts } = o;
  const ep = await createNodeRuntime(limits ? { limits } : {}).openEndpoint({ self: me, dataDir: dir, ...opts }, rec);
  t.after(() => ep.close());
  return { me, dir, rec, ep, stats: () => (ep as NodeEndpoint).stats() };
}

/** Resolves with probe()'s first truthy value, checked now and after every recorded event. */
export function until<T>(what: string, probe: () => T | undefined | null | false, maxMs = WAIT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const v = probe();
      if (!v) return;
      stop();
      resolve(v);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out after ${maxMs} ms waiting for ${what}`));
    }, maxMs);
    const stop = (): void => {
      clearTimeout(timer);
      changes.off('change', check);
    };
    changes.on('change', check);
    check();
  });
}

/**
 * For states no handler reports (a connection closed, memory freed): re-checks every `stepMs`,
 * at most maxMs / stepMs times. Each check is of the state itself, never a guess at timing.
 */
export async function eventually<T>(what: string, probe: () => T | undefined | null | false, maxMs = WAIT_MS, stepMs = 10): Promise<T> {
  for (let i = 0; i <= maxMs / stepMs; i++) {
    const v = probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${maxMs} ms waiting for ${what}`);
}

/** Rejects if `p` does not settle within maxMs. */
export function within<T>(p: Promise<T>, what: string, maxMs = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${maxMs} ms waiting for ${what}`)), maxMs);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A raw TCP connection (from `localAddress` if given), connected; errors ignored, input discarded. */
export function rawTcp(port: number, o: { host?: string; localAddress?: string } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: o.host ?? '127.0.0.1', port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      sock.on('error', () => {});
      sock.resume();
      resolve(sock);
    });
  });
}

export function closed(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => (sock.destroyed ? resolve() : sock.once('close', () => resolve())));
}
