// Id spaces for the shells: the core's IdSpace with Node's SHA-256 handed in (the core imports
// nothing from Node), one instance per size, shared; and the reference layout's addresses.
import { createHash } from 'node:crypto';
import { DEFAULT_BASE_PORT, DEFAULT_HOST } from './core/config.js';
import type { Contact } from './core/contact.js';
import { IdSpace, SPEC_BITS, SPEC_SPACE, type Id } from './core/id-space.js';

const sha256 = (bytes: Uint8Array): Uint8Array => createHash('sha256').update(bytes).digest();
const spaces = new Map<number, IdSpace>([[SPEC_BITS, SPEC_SPACE]]);

/** The space of `bits`-bit ids (8 is the specification's). Throws a RangeError outside 8..160. */
export function idSpace(bits: number = SPEC_BITS): IdSpace {
  let s = spaces.get(bits);
  if (!s) {
    s = new IdSpace(bits, sha256);
    spaces.set(bits, s);
  }
  return s;
}

/**
 * The reference layout: peer `id` listens on TCP and UDP port `basePort + id` (8-bit ids). Built
 * here, in the shell: the core is handed contacts and never makes an address.
 */
export function defaultContact(id: Id, host: string = DEFAULT_HOST, basePort: number = DEFAULT_BASE_PORT): Contact {
  return { id, host, port: basePort + Number(id) };
}
