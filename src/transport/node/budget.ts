// Shared bounds across connections: memory held in partial frames (per remote host and in
// total) and accepted connections per remote host. A connection that would go over is dropped.

/** One connection's share of a MemoryBudget. */
export interface BudgetAccount {
  /** Sets what this connection holds now; false if that puts its host or the total over a cap. */
  set(bytes: number): boolean;
  /** Gives everything back (the connection ended). */
  release(): void;
}

export class MemoryBudget {
  private readonly perHost = new Map<string, number>();
  private held = 0;

  constructor(
    private readonly maxPerHost: number,
    private readonly maxTotal: number,
  ) {}

  /** Bytes held by every connection together. */
  get total(): number {
    return this.held;
  }

  hostTotal(host: string): number {
    return this.perHost.get(host) ?? 0;
  }

  account(host: string): BudgetAccount {
    let mine = 0;
    const change = (bytes: number): void => {
      const delta = bytes - mine;
      if (delta === 0) return;
      mine = bytes;
      this.held += delta;
      const next = (this.perHost.get(host) ?? 0) + delta;
      if (next > 0) this.perHost.set(host, next);
      else this.perHost.delete(host);
    };
    return {
      set: (bytes) => {
        change(bytes);
        return (this.perHost.get(host) ?? 0) <= this.maxPerHost && this.held <= this.maxTotal;
      },
      release: () => change(0),
    };
  }
}

/** Counts open accepted connections per remote host, against a per-host and a total cap. */
export class ConnectionCounter {
  private readonly perHost = new Map<string, number>();
  private open = 0;

  constructor(
    private readonly maxPerHost: number,
    private readonly maxTotal: number,
  ) {}

  get total(): number {
    return this.open;
  }

  count(host: string): number {
    return this.perHost.get(host) ?? 0;
  }

  /** Why a new connection from `host` is refused, or undefined when it may be accepted. */
  refusal(host: string): string | undefined {
    if (this.count(host) >= this.maxPerHost) return `refused, ${this.maxPerHost} connections already open from ${host}`;
    if (this.open >= this.maxTotal) return `refused, ${this.maxTotal} connections already open`;
    return undefined;
  }

  /** The host holding the most connections (the one to evict from when every slot is taken). */
  busiestHost(): string | undefined {
    let best: string | undefined;
    let most = 0;
    for (const [host, n] of this.perHost) if (n > most) [best, most] = [host, n];
    return best;
  }

  /** Counts one connection in; returns the function that counts it out (idempotent). */
  add(host: string): () => void {
    this.open++;
    this.perHost.set(host, this.count(host) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.open--;
      const n = this.count(host) - 1;
      if (n > 0) this.perHost.set(host, n);
      else this.perHost.delete(host);
    };
  }
}
