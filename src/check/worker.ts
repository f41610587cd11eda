// A sweep worker: checks the seeds it was given, posting one report per seed.
import { parentPort, workerData } from 'node:worker_threads';
import { checkSeed, type SeedOptions } from './sweep.js';

const { seeds, opts } = workerData as { seeds: number[]; opts: SeedOptions };
for (const seed of seeds) parentPort!.postMessage(await checkSeed(seed, opts));
