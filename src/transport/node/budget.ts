// Shared bounds across connections: memory held in partial frames, per remote host and in
// total. A connection that would go over is dropped. (Accepted-connection slots: slots.ts.)

/** One connection's share of a MemoryBudget. */
export interface BudgetAccount {
  /** Sets what this connection holds now; false if that puts its host or the total over a cap. */
  set(bytes: number): boolean;
  /** Gives everything back (the connection ended). */
  release(): void;
}

/** A count per remote host and their sum; hosts at zero are forgotten. */
class HostTally {
  private readonly perHost = new Map<string, number>();
  total = 0;

  of(host: string): number {
    return this.perHost.get(host) ?? 0;
  }

  adjust(host: string, delta: number): void {
    this.total += delta;
    const next = this.of(host) + delta;
    if (next > 0) this.perHost.set(host, next);
    else this.perHost.delete(host);
  }

  /** The host with the highest count. */
  largest(): string | undefined {
    let best: string | undefined;
    let most = 0;
    for (const [host, n] of this.perHost) if (n > most) [best, most] = [host, n];
    return best;
  }
}

export class MemoryBudget {
  private readonly bytes = new HostTally();

  constructor(
    private readonly maxPerHost: number,
    private readonly maxTotal: number,
  ) {}

  /** Bytes held by every connection together. */
  get total(): number {
    return this.bytes.total;
  }

  hostTotal(host: string): number {
    return this.bytes.of(host);
  }

  account(host: string): BudgetAccount {
    return new Account(this.bytes, host, this.maxPerHost, this.maxTotal);
  }
}

/** One object per connection (no closures): every open connection has one. */
class Account implements BudgetAccount {
  private mine = 0;

  constructor(
    private readonly bytes: HostTally,
    private readonly host: string,
    private readonly maxPerHost: number,
    private readonly maxTotal: number,
  ) {}

  set(bytes: number): boolean {
    this.bytes.adjust(this.host, bytes - this.mine);
    this.mine = bytes;
    return this.bytes.of(this.host) <= this.maxPerHost && this.bytes.total <= this.maxTotal;
  }

  release(): void {
    this.set(0);
  }
}
