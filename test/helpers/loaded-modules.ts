// Preloaded into a `cdht` process (NODE_OPTIONS=--import=<this file's URL>) with
// LOADED_MODULES_FILE set: at exit, writes there the CommonJS files the process loaded, as a JSON
// array of paths. Packages of ES modules do not show; every certificate library does.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const out = process.env.LOADED_MODULES_FILE;
if (out) {
  const cache = createRequire(import.meta.url).cache;
  process.once('exit', () => writeFileSync(out, JSON.stringify(Object.keys(cache))));
}
