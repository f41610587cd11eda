// Id spaces for the shells: the core's IdSpace with Node's SHA-256 handed in (the core imports
// nothing from Node). One instance per size, shared.
import { createHash } from 'node:crypto';
import { IdSpace, SPEC_BITS, SPEC_SPACE } from './core/id-space.js';

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
