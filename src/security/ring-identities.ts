// Credentials for the peers of a whole ring run in one process: loaded from a directory made by
// `cdht ca`, or issued on the spot by a throwaway authority (`cdht ring --secure`). Issuing is
// asynchronous, so peers are prepared before they start; looking one up is then synchronous.
import { loadTlsIdentity } from './ca-files.js';
import type { TlsIdentity } from './identity.js';

export interface RingIdentities {
  /** Makes sure `id` has credentials (issues them for a throwaway authority). */
  prepare(id: bigint): Promise<void>;
  /** The credentials of a prepared id; throws a one-line error when there are none. */
  identityFor(id: bigint): TlsIdentity;
  /** Said once at start. */
  readonly description: string;
}

/** Identities from DIR/ca.crt and DIR/peer-ID.key / .crt (each checked when first used). */
export function identitiesFromDir(dir: string): RingIdentities {
  const cache = new Map<bigint, TlsIdentity>();
  return {
    description: `a private ring with the certificates in ${dir}`,
    prepare: async (id) => {
      if (!cache.has(id)) cache.set(id, loadTlsIdentity(dir, id));
    },
    identityFor: (id) => {
      let t = cache.get(id);
      if (!t) cache.set(id, (t = loadTlsIdentity(dir, id)));
      return t;
    },
  };
}

/** A throwaway authority in memory, issuing a certificate to each peer as it is prepared. */
export async function throwawayIdentities(): Promise<RingIdentities> {
  // loaded only here: the certificate library costs start-up time every other command can skip
  const { createThrowawayRing } = await import('./tls.js');
  const ring = await createThrowawayRing();
  const cache = new Map<bigint, TlsIdentity>();
  return {
    description: 'a private ring (a throwaway authority in memory: mutual TLS, sealed pings)',
    prepare: async (id) => {
      if (!cache.has(id)) cache.set(id, await ring.identityFor(id));
    },
    identityFor: (id) => {
      const t = cache.get(id);
      // a programmer error: the testnet prepares every id before it starts that peer
      if (!t) throw new Error(`Peer ${id} has no certificate of this ring yet`);
      return t;
    },
  };
}
