// Issue 14's figures, on the simulator: one ring after mass failure and after partitions.
// - 256 peers (32-bit ids, fingers, k = 3) with 10, 20, 30 and 50% killed at once, r = 4 and 8:
//   time until every successor list is true, until every surviving file is back at k copies,
//   lookups answered by a wrong owner (and unanswered) during the repair, files lost against
//   theory (fraction^k of the files: every holder among the dead). Medians of MASS_RUNS seeds.
// - Partitions of six peers (8-bit, successor walk) of 1 minute to an hour, three shapes: time
//   from the heal until one ring, and until every file stored on either side is on its k peers.
import { runMassFailure, type MassResult } from '../src/check/mass.js';
import { runPartition } from '../src/check/partition.js';

const MASS_RUNS = Number(process.env.MASS_RUNS ?? 3);
const FRACTIONS = [0.1, 0.2, 0.3, 0.5];
const LENGTHS_MIN = [1, 10, 30, 60];
const SHAPES: [string, number[]][] = [
  ['every other peer', [0, 2, 4]],
  ['an arc of three', [1, 2, 3]],
  ['one peer alone', [3]],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secs = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`);

export async function oneRingBench(): Promise<void> {
  console.log(`Mass failure: 256 peers, 32-bit ids, fingers, k = 3, 300 files, 20 lookups/s during the repair (medians of ${MASS_RUNS} seeds; a run not repaired within 180 s counts as never):`);
  console.log('  | killed | r | one ring after | copies back after | wrong-owner lookups | unanswered | files lost (theory) |');
  console.log('  |---|---|---|---|---|---|---|');
  for (const r of [4, 8]) {
    for (const fraction of FRACTIONS) {
      const runs: MassResult[] = [];
      for (let seed = 1; seed <= MASS_RUNS; seed++) runs.push(await runMassFailure({ peers: 256, fraction, successors: r, replicas: 3, files: 300, seed }));
      const ms = (xs: (number | undefined)[]) => (xs.some((x) => x === undefined) ? undefined : median(xs as number[]));
      const wrong = runs.reduce((n, x) => n + x.wrongOwner, 0);
      const asked = runs.reduce((n, x) => n + x.lookups, 0);
      const unanswered = runs.reduce((n, x) => n + x.unanswered, 0);
      console.log(
        `  | ${fraction * 100}% | ${r} | ${secs(ms(runs.map((x) => x.reconvergeMs)))} | ${secs(ms(runs.map((x) => x.copiesMs)))} | ${wrong} of ${asked} | ${unanswered} | ${median(runs.map((x) => x.lost))} (${runs[0]!.expectedLost.toFixed(1)}) |`,
      );
      if (wrong > 0 || runs.some((x) => x.reconvergeMs === undefined || x.copiesMs === undefined)) process.exitCode = 1;
    }
  }
  console.log('Partitions of six peers (8-bit ids 10, 50, ..., 210, successor walk, r = 4, k = 3), files stored on both sides while cut off:');
  console.log('  | cut off | length | one ring after the heal | every copy in place after |');
  console.log('  |---|---|---|---|');
  for (const [shape, side] of SHAPES) {
    for (const min of LENGTHS_MIN) {
      const p = await runPartition({ side, lengthMs: min * 60_000 });
      console.log(`  | ${shape} | ${min} min | ${secs(p.oneRingMs)} | ${secs(p.copiesMs)} |`);
      if (p.copiesMs === undefined) process.exitCode = 1;
    }
  }
}
