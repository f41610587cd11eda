// Id spaces for the shells: the core's IdSpace with Node's SHA-256 handed in (the core imports
// nothing from Node). One instance per size, shared.
import { createHash } from 'node:crypto';
import type { RoutingName } from './core/context.js';
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

/**
 * How a peer routes when not told: the specification's successor walk in its 8-bit space (the
 * lines it prints are the spec's), Chord's fingers above, where a walk round a large ring is slow.
 */
export function defaultRouting(space: IdSpace): RoutingName {
  return space.spec ? 'successor' : 'fingers';
}
