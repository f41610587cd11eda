// Delta debugging (Zeller's ddmin) over a schedule's steps: removes groups of units (a unit is a
// step, or a fault with its end) while the run still fails the same way, down to a schedule
// from which no single unit can be removed. Generic: the caller says what "still fails" means.

export interface ShrinkResult {
  /** Indices of the steps kept, ascending. */
  kept: number[];
  /** Runs the shrinking took. */
  runs: number;
}

/** Runs allowed for one shrink: each is a whole simulated run. */
export const MAX_SHRINK_RUNS = 300;

/**
 * `units` are lists of step indices that go together; `fails(kept)` replays only the steps kept
 * and says whether the failure is still there. The empty schedule is tried first.
 */
export async function shrink(units: readonly (readonly number[])[], fails: (kept: number[]) => Promise<boolean>, maxRuns = MAX_SHRINK_RUNS): Promise<ShrinkResult> {
  let runs = 0;
  const flat = (us: readonly (readonly number[])[]) => us.flat().sort((a, b) => a - b);
  const test = async (us: readonly (readonly number[])[]): Promise<boolean> => {
    runs++;
    return fails(flat(us));
  };
  let cur = [...units];
  if (cur.length > 0 && (await test([]))) return { kept: [], runs };
  let n = 2;
  while (cur.length >= 2 && runs < maxRuns) {
    const chunks = split(cur, n);
    let next: (readonly number[])[] | undefined;
    for (const c of chunks) {
      if (runs >= maxRuns) break;
      if (await test(c)) {
        next = c;
        n = 2;
        break;
      }
    }
    if (!next && n > 2) {
      for (let i = 0; i < chunks.length && runs < maxRuns; i++) {
        const rest = chunks.filter((_, j) => j !== i).flat();
        if (await test(rest)) {
          next = rest;
          n = Math.max(n - 1, 2);
          break;
        }
      }
    }
    if (next) {
      cur = next;
      continue;
    }
    if (n >= cur.length) break;
    n = Math.min(cur.length, 2 * n);
  }
  return { kept: flat(cur), runs };
}

/** `xs` in n nearly equal consecutive chunks (each a list of units). */
function split<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const size = Math.floor((xs.length - at) / (n - i));
    out.push(xs.slice(at, at + size));
    at += size;
  }
  return out.filter((c) => c.length > 0);
}
