// A message's private copy when the simulator runs without the codec: what structuredClone
// gives, made by hand for the shapes messages have (structuredClone costs about ten times more).
//
// Rules it keeps (structuredClone's, for these shapes):
// - Plain objects (and null-prototype ones) become plain objects with the same own enumerable
//   keys in the same order, undefined values kept; arrays keep their length and their holes.
// - A Uint8Array (a Buffer too) becomes a Uint8Array over a copy of its whole backing buffer, at
//   the same offset; views over one buffer share one copy.
// - An object met twice is copied once (shared, or a cycle, stays so).
// - Anything else (a Map, a Date, a function, a symbol...) goes to structuredClone itself, so it
//   is copied, or refused with a DataCloneError, as before.

/** A deep copy of `value`, as structuredClone(value) makes it. */
export function copyMessage<T>(value: T): T {
  return copyOf(value, new Map()) as T;
}

function copyOf(v: unknown, seen: Map<object, unknown>): unknown {
  if (typeof v !== 'object' || v === null) return typeof v === 'function' || typeof v === 'symbol' ? structuredClone(v) : v;
  const known = seen.get(v);
  if (known !== undefined) return known;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    seen.set(v, out);
    for (let i = 0; i < v.length; i++) if (i in v) out[i] = copyOf(v[i], seen);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    seen.set(v, out);
    for (const k of Object.keys(v)) out[k] = copyOf((v as Record<string, unknown>)[k], seen);
    return out;
  }
  if (v instanceof Uint8Array && v.buffer instanceof ArrayBuffer) {
    const out = new Uint8Array(copyOf(v.buffer, seen) as ArrayBuffer, v.byteOffset, v.length);
    seen.set(v, out);
    return out;
  }
  if (v instanceof ArrayBuffer) {
    const out = v.slice(0);
    seen.set(v, out);
    return out;
  }
  const out: unknown = structuredClone(v);
  seen.set(v, out);
  return out;
}
