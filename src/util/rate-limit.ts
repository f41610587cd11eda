// At most one event per key per period: one debug line per source per minute, however much bad
// input that source sends. Bounded: beyond `maxKeys` the oldest keys are forgotten.
export class RateLimiter {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly periodMs: number,
    private readonly maxKeys: number,
  ) {}

  /** True when an event for `key` at `now` may go out (and records it). */
  allow(key: string, now: number): boolean {
    const at = this.last.get(key);
    if (at !== undefined && now - at < this.periodMs) return false;
    this.last.delete(key);
    if (this.last.size >= this.maxKeys) this.last.delete(this.last.keys().next().value!);
    this.last.set(key, now);
    return true;
  }
}
