// Reading peers and addresses as people type them: `14`, `14@127.0.0.3:12014`,
// `127.0.0.3:12014`, `[::1]:12014`, `host.example:12014`. Each mistake becomes one sentence.
import type { Address, Contact, Target } from '../core/contact.js';
import { MAX_PORT } from '../core/config.js';
import { CdhtError } from '../core/errors.js';
import type { Id, IdSpace } from '../core/id-space.js';

/** A contact or address that does not parse; args.ts words it as an ArgumentProblem. */
export class ContactProblem extends CdhtError {
  constructor(message: string) {
    super('CDHT_ERR_BAD_ARGUMENT', message);
  }
}
ContactProblem.prototype.name = 'ContactProblem';

const quoted = (v: string): string => JSON.stringify(v).replace(/^"|"$/g, "'");
/** The wire carries a host in at most 255 bytes. */
const MAX_HOST_BYTES = 255;

/** `host:port` or `[v6]:port`; undefined when the text is not shaped like an address. */
export function parseAddress(text: string): Address | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^\s:@[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  const host = m[1]!;
  if (!(port >= 1 && port <= MAX_PORT) || Buffer.byteLength(host) > MAX_HOST_BYTES) return undefined;
  return { host, port };
}

export function formatAddressOf(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

function parseIdIn(space: IdSpace, name: string, text: string): Id {
  const id = space.parse(text);
  if (id === undefined) {
    const what = space.spec ? 'an integer from 0 to 255' : space.bits <= 53 ? `an integer from 0 to 2^${space.bits} - 1` : `a hex id of at most ${Math.ceil(space.bits / 4)} digits`;
    throw new ContactProblem(`${name} must be ${what} (got ${quoted(text)})`);
  }
  return id;
}

/**
 * A peer as typed: `ID` (placed by `place`, the reference layout), `ID@host:port`, or, when
 * `allowBareAddress`, `host:port` (the peer there, whatever its id).
 */
export function parsePeer(
  space: IdSpace,
  name: string,
  text: string,
  place: ((id: Id) => Contact) | undefined,
  allowBareAddress = false,
): Target {
  const at = text.lastIndexOf('@');
  if (at > 0) {
    const id = parseIdIn(space, name, text.slice(0, at));
    const addr = parseAddress(text.slice(at + 1));
    if (!addr) throw new ContactProblem(`${name} must be ID@host:port; ${quoted(text.slice(at + 1))} is not a host:port address`);
    return { id, ...addr };
  }
  const addr = allowBareAddress ? parseAddress(text) : undefined;
  if (addr) return addr;
  const id = parseIdIn(space, name, text);
  if (!place) {
    throw new ContactProblem(`${name} needs an address in a ${space.bits}-bit space, where ports are not derived from ids: write ID@host:port (got ${quoted(text)})`);
  }
  return place(id);
}
