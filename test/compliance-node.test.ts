// The transport compliance suite on the Node runtime: real UDP, TCP and TLS sockets on
// 127.0.0.1 (random free base port), files in temporary directories, certificates from two
// throwaway authorities (the ring's and an outsider's).
import { EventEmitter } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Contact } from '../src/core/contact.js';
import { createThrowawayRing } from '../src/security/tls.js';
import { createNodeRuntime } from '../src/transport/node/endpoint.js';
import type { Endpoint } from '../src/transport/types.js';
import { freeBasePort } from './helpers/ports.js';
import { complianceSuite, Recorder, type ComplianceWorld, type Party } from './transport-compliance.js';

const HOST = '127.0.0.1';
const IDS = [1, 2, 10, 11, 20, 21, 22, 23, 30, 31, 40, 41];
const BASE = await freeBasePort(IDS);
const WAIT_MS = 30_000;
const ring = await createThrowawayRing();
const outsiders = await createThrowawayRing();
const runtime = createNodeRuntime();

async function nodeWorld(): Promise<ComplianceWorld> {
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  const endpoints: Endpoint[] = [];
  const dirs: string[] = [];
  const contact = (id: number): Contact => ({ id: BigInt(id), host: HOST, port: BASE + id });
  return {
    async open(id, o = {}) {
      const dir = await mkdtemp(join(tmpdir(), 'cdht-compliance-'));
      dirs.push(dir);
      const rec = new Recorder(() => changes.emit('change'));
      const role = o.ring ?? 'open';
      const tls = role === 'member' ? await ring.identityFor(BigInt(id)) : role === 'outsider' ? await outsiders.identityFor(BigInt(id)) : undefined;
      const me = contact(id);
      const ep = await runtime.openEndpoint(
        { self: me, dataDir: dir, ...(tls ? { tls } : {}), ...(o.maxFileBytes !== undefined ? { maxFileBytes: o.maxFileBytes } : {}) },
        rec,
      );
      endpoints.push(ep);
      return { contact: me, ep, rec, dir } satisfies Party;
    },
    unbound: contact,
    until(pred, maxMs = WAIT_MS) {
      return new Promise((resolve) => {
        const check = (): void => {
          if (!pred()) return;
          done(true);
        };
        const timer = setTimeout(() => done(pred()), maxMs);
        const done = (v: boolean): void => {
          clearTimeout(timer);
          changes.off('change', check);
          resolve(v);
        };
        changes.on('change', check);
        check();
      });
    },
    async settle(p) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${WAIT_MS} ms`)), WAIT_MS)));
      try {
        return { ok: true as const, value: await Promise.race([p, timeout]) };
      } catch (error) {
        return { ok: false as const, error };
      } finally {
        clearTimeout(timer);
      }
    },
    writeFile: (p, name, bytes) => writeFile(join(p.dir, name), bytes),
    async readFile(p, name) {
      try {
        return new Uint8Array(await readFile(join(p.dir, name)));
      } catch {
        return undefined;
      }
    },
    listFiles: async (p) => (await readdir(p.dir)).sort(),
    async close() {
      await Promise.all(endpoints.map((ep) => ep.close()));
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

complianceSuite('node (real sockets)', nodeWorld);
