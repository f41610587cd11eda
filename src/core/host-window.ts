// A budget of answers one host may have per window: what keeps a peer from being turned on a
// third host (a query whose sender is forged) or kept busy by one asker. Hosts are keyed as
// plainHost prints them; once `maxHosts` are tracked, the one tracked longest is forgotten.
import { plainHost } from './contact.js';

export class HostWindow {
  private readonly hosts = new Map<string, { at: number; count: number }>();

  constructor(
    private readonly perWindow: number,
    private readonly windowMs: number,
    private readonly maxHosts: number,
  ) {}

  /** True when `host` may have one more answer at `now` (and counts it). */
  take(host: string, now: number): boolean {
    const key = plainHost(host);
    const w = this.hosts.get(key);
    if (w && now - w.at < this.windowMs) {
      if (w.count >= this.perWindow) return false;
      w.count++;
      return true;
    }
    this.hosts.delete(key);
    if (this.hosts.size >= this.maxHosts) this.hosts.delete(this.hosts.keys().next().value!);
    this.hosts.set(key, { at: now, count: 1 });
    return true;
  }
}
