// Byte strings compared by value (records, proofs, the checker's copies); the core's and the
// simulator's one definition.

/** Two byte strings are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
