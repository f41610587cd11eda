// The checker: a seeded fault simulator, the invariants of a ring, the seed sweep and the
// shrinker. Used by `cdht check`, the tests and the benchmarks.
export * from './invariants.js';
export * from './scenario.js';
export * from './run.js';
export * from './shrink.js';
export * from './sweep.js';
