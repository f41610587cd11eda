// The transport compliance suite on the simulator: virtual time, the in-memory disk, and
// certificates modelled by their id and authority (the simulator checks both, as TLS would).
import type { Contact } from '../src/core/contact.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import type { TlsIdentity } from '../src/transport/types.js';
import { complianceSuite, Recorder, type ComplianceWorld, type Party } from './transport-compliance.js';

const SEED = Number(process.env.SEED ?? 1);
const VIRTUAL_WAIT_MS = 60_000;

function simIdentity(id: number, authority: string): TlsIdentity {
  return { id: BigInt(id), keyPem: `key of ${id}`, certPem: `certificate of ${id}`, caPem: authority };
}

async function simWorld(): Promise<ComplianceWorld> {
  const net = new SimNetwork({ seed: SEED });
  const rt = net.runtime();
  const contact = (id: number): Contact => ({ id: BigInt(id), host: '10.0.0.1', port: 1000 + id });
  return {
    async open(id, o = {}) {
      const role = o.ring ?? 'open';
      const tls = role === 'member' ? simIdentity(id, 'ring authority') : role === 'outsider' ? simIdentity(id, 'another authority') : undefined;
      const rec = new Recorder();
      const me = contact(id);
      const dir = `dir-${id}`;
      const ep = await rt.openEndpoint({ self: me, dataDir: dir, ...(tls ? { tls } : {}), ...(o.maxFileBytes !== undefined ? { maxFileBytes: o.maxFileBytes } : {}) }, rec);
      return { contact: me, ep, rec, dir } satisfies Party;
    },
    unbound: contact,
    until: (pred, maxMs = VIRTUAL_WAIT_MS) => net.runUntil(pred, maxMs),
    async settle<T>(p: Promise<T>) {
      let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
      p.then(
        (value) => (outcome = { ok: true, value }),
        (error: unknown) => (outcome = { ok: false, error }),
      );
      await net.runUntil(() => outcome !== undefined, VIRTUAL_WAIT_MS);
      return outcome ?? { ok: false, error: new Error(`not settled within ${VIRTUAL_WAIT_MS} virtual ms`) };
    },
    writeFile: async (p, name, bytes) => net.disk.write(p.dir, name, bytes),
    readFile: async (p, name) => net.disk.read(p.dir, name),
    listFiles: async (p) => net.disk.list(p.dir),
    close: async () => {},
  };
}

complianceSuite(`simulator (seed ${SEED})`, simWorld);
