// `cdht node --api`: the gateway serves whichever peer the node runs now (a node tries seeds
// with a new peer each time), and says so plainly while it is in no ring.
import { Readable } from 'node:stream';
import type { DataApi } from '../api/types.js';
import { CdhtError } from '../core/errors.js';
import type { Peer } from '../peer.js';

/** The data API of the node's current peer; each call fails with CDHT_ERR_NOT_IN_RING while there is none in a ring. */
export function currentPeerApi(current: () => Peer | undefined): DataApi {
  const peer = (): Peer => {
    const p = current();
    if (!p?.isInRing) throw new CdhtError('CDHT_ERR_NOT_IN_RING', 'this node is not in a ring yet (or is leaving it)');
    return p;
  };
  const later = <T>(f: (p: Peer) => Promise<T>): Promise<T> => {
    try {
      return f(peer());
    } catch (err) {
      return Promise.reject(err);
    }
  };
  return {
    put: (name, source, o) => later((p) => p.put(name, source, o)),
    get: (name, o) => {
      try {
        return peer().get(name, o);
      } catch (err) {
        const r = new Readable({ read() {} });
        r.destroy(err as Error);
        return r;
      }
    },
    getBuffer: (name, o) => later((p) => p.getBuffer(name, o)),
    getFile: (name, path, o) => later((p) => p.getFile(name, path, o)),
    stat: (name, o) => later((p) => p.stat(name, o)),
    has: (name, o) => later((p) => p.has(name, o)),
    lookup: (key, o) => later((p) => p.lookup(key, o)),
    delete: (name, o) => later((p) => p.delete(name, o)),
  };
}
