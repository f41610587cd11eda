// Who holds the accepted-connection slots: members of the ring and strangers, counted apart so
// that a flood of strangers never takes what the ring's own connections need. No sockets here:
// the acceptor closes what this table evicts.

/** new: no whole frame yet; stranger: one arrived, but it named no member; member: proven. */
export type Standing = 'new' | 'stranger' | 'member';

export class Slot<T> {
  standing: Standing = 'new';
  gone = false;
  constructor(
    readonly item: T,
    readonly host: string,
  ) {}
}

export type Admission<T> = { slot: Slot<T>; evicted?: { slot: Slot<T>; why: string } } | { refused: string };

export class SlotTable<T> {
  /** Strangers' slots (new ones included) by remote host, oldest first; hosts at zero are forgotten. */
  private readonly strangersByHost = new Map<string, Set<Slot<T>>>();
  /** Slots that have sent no whole frame yet, by host: evicted before any that has. */
  private readonly unprovenByHost = new Map<string, number>();
  private strangers = 0;
  private members = 0;

  constructor(
    private readonly maxTotal: number,
    /** Slots strangers may never hold. */
    private readonly memberSlots: number,
    private readonly maxStrangersPerHost: number,
  ) {}

  get total(): number {
    return this.strangers + this.members;
  }

  get memberCount(): number {
    return this.members;
  }

  strangersFrom(host: string): number {
    return this.strangersByHost.get(host)?.size ?? 0;
  }

  /** A newcomer (a stranger until it proves otherwise): its slot, after evicting a stranger if there was no room. */
  admit(item: T, host: string): Admission<T> {
    let evicted: { slot: Slot<T>; why: string } | undefined;
    const mine = this.strangersByHost.get(host);
    if (mine && mine.size >= this.maxStrangersPerHost) {
      evicted = { slot: pick(mine), why: `${host} holds ${this.maxStrangersPerHost} connections` };
    } else if (this.strangers >= this.maxTotal - this.memberSlots || this.total >= this.maxTotal) {
      const busiest = this.busiestUnprovenHost() ?? this.busiestStrangerHost();
      if (!busiest) return { refused: `refused, all ${this.maxTotal} connections are members'` };
      evicted = { slot: pick(busiest[1]), why: `${busiest[0]} holds the most connections of strangers` };
    }
    if (evicted) this.remove(evicted.slot);
    const slot = new Slot(item, host);
    this.addStranger(slot);
    this.countUnproven(host, 1);
    this.strangers++;
    return evicted ? { slot, evicted } : { slot };
  }

  /** A whole first frame arrived: the slot is a member's, or a known stranger's. */
  promote(slot: Slot<T>, to: 'stranger' | 'member'): void {
    if (slot.gone || slot.standing === 'member' || slot.standing === to) return;
    this.countUnproven(slot.host, -1); // it was new: either way it has sent a whole frame now
    if (to === 'stranger') {
      slot.standing = 'stranger';
      return;
    }
    this.dropStranger(slot);
    this.strangers--;
    this.members++;
    slot.standing = 'member';
  }

  /** The connection ended (or was evicted): its slot is free. Idempotent. */
  remove(slot: Slot<T>): void {
    if (slot.gone) return;
    slot.gone = true;
    if (slot.standing === 'member') {
      this.members--;
      return;
    }
    if (slot.standing === 'new') this.countUnproven(slot.host, -1);
    this.dropStranger(slot);
    this.strangers--;
  }

  private addStranger(slot: Slot<T>): void {
    let set = this.strangersByHost.get(slot.host);
    if (!set) this.strangersByHost.set(slot.host, (set = new Set()));
    set.add(slot);
  }

  private dropStranger(slot: Slot<T>): void {
    const set = this.strangersByHost.get(slot.host);
    if (!set) return;
    set.delete(slot);
    if (set.size === 0) this.strangersByHost.delete(slot.host);
  }

  private countUnproven(host: string, delta: number): void {
    const n = (this.unprovenByHost.get(host) ?? 0) + delta;
    if (n > 0) this.unprovenByHost.set(host, n);
    else this.unprovenByHost.delete(host);
  }

  /** The host with the most connections that have sent no whole frame, if any has one. */
  private busiestUnprovenHost(): [string, Set<Slot<T>>] | undefined {
    let best: string | undefined;
    let most = 0;
    for (const [host, n] of this.unprovenByHost) if (n > most) [best, most] = [host, n];
    const set = best === undefined ? undefined : this.strangersByHost.get(best);
    return set ? [best!, set] : undefined;
  }

  /** Bounded by the slots: at most maxTotal hosts. */
  private busiestStrangerHost(): [string, Set<Slot<T>>] | undefined {
    let best: [string, Set<Slot<T>>] | undefined;
    for (const entry of this.strangersByHost) if (!best || entry[1].size > best[1].size) best = entry;
    return best;
  }
}

/** Within a host: the oldest that has sent no whole frame (most likely idle or slow), else the oldest. */
function pick<T>(set: Set<Slot<T>>): Slot<T> {
  let oldest: Slot<T> | undefined;
  for (const s of set) {
    if (s.standing === 'new') return s;
    oldest ??= s;
  }
  return oldest!;
}
