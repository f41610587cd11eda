// The simulated network's faults: what it does to a datagram, a TCP message or a file transfer
// on purpose. SimNetwork asks here at each point where it decides one's fate; the queue is its own.
//
// Rules it keeps:
// - All randomness comes from the network's one seeded PRNG, passed in; a rate of 0 draws
//   nothing, so runs without a fault replay exactly as before it existed. Each question draws
//   at most what it says, in the order it says, so the event order of a seed never moves.
// - Faults: datagram loss; delay (the latency range can change mid-run) and reordering
//   (datagrams always reorder within the range; with `reorderRate` a TCP message may overtake
//   earlier ones on its pair, as on a fresh connection); duplicates (`duplicateRate`: a datagram
//   or TCP message arrives twice, the copy one more latency later: delivery is at least once);
//   partitions; pauses; and transfers that break midway. Crashes (kill) are the network's unbind.
// - Partitions are given as address strings: either a host ('10.0.0.1') which covers every
//   port on it, or 'host:port' for one endpoint, since simulated peers usually share a host.
// - A pause is a process stopped and resumed (SIGSTOP/SIGCONT, a VM migrating): while paused an
//   endpoint runs nothing. Its timers, and the settling of its own sends, wait in a parked list
//   kept here (the network parks and replays them); datagrams sent to it are lost; a TCP message
//   to it waits in its (kernel) buffer and is read on resume, and its sender, with no
//   acknowledgement, fails after the connect timeout if the pause lasts longer (the message still
//   arrives on resume: at least once); a file transfer to or from it breaks.
import type { Address } from '../../core/contact.js';
import { CdhtError } from '../../core/errors.js';
import type { SimEvent } from './event-heap.js';

/** Sender/receiver pairs remembered for in-order TCP delivery before stale ones are pruned. */
export const MAX_FIFO_PAIRS = 100_000;

export const DEFAULT_LATENCY_MS: readonly [number, number] = [1, 5];

export interface FaultOptions {
  /** Inclusive range of one-way delay, drawn per datagram / message / transfer. */
  latencyMs?: readonly [number, number] | undefined;
  /** Probability that a UDP datagram is lost (TCP messages are reliable). */
  lossRate?: number | undefined;
  /** Probability that a datagram or TCP message is delivered twice. */
  duplicateRate?: number | undefined;
  /** Probability that a TCP message ignores the order of earlier ones on its pair. */
  reorderRate?: number | undefined;
}

function addressOf(c: Address): string {
  return `${c.host}:${c.port}`;
}

/** Whether a partition's side names `c` (whose address is `addr`): by its host (every port) or by its host:port. */
function matches(entries: Set<string>, c: Address, addr: string): boolean {
  return entries.has(c.host) || entries.has(addr);
}

function checkRate(name: string, rate: number): void {
  if (!(rate >= 0 && rate <= 1)) throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `${name} must be in [0, 1], got ${rate}`);
}

export class Faults {
  private latency: readonly [number, number] = DEFAULT_LATENCY_MS;
  private lossRate = 0;
  private duplicateRate = 0;
  private reorderRate = 0;
  /** Partitions in force: each cuts every address matching `a` off from every one matching `b`. */
  private cuts: { a: Set<string>; b: Set<string> }[] = [];
  /** Last scheduled TCP delivery per (sender, receiver), so messages on a pair stay in order. */
  private readonly fifo = new Map<string, number>();
  private failTransfers = 0;
  /** Paused endpoints (by address) and the events of theirs that wait for the resume. */
  private readonly paused = new Map<string, SimEvent[]>();

  constructor(
    private readonly rand: () => number,
    opts: FaultOptions = {},
  ) {
    this.setLatency(opts.latencyMs ?? DEFAULT_LATENCY_MS);
    this.setLoss(opts.lossRate ?? 0);
    this.setDuplicates(opts.duplicateRate ?? 0);
    this.setReorder(opts.reorderRate ?? 0);
  }

  // ---- settings -------------------------------------------------------------------------

  setLoss(rate: number): void {
    checkRate('lossRate', rate);
    this.lossRate = rate;
  }

  /** The range of one-way delays from now on (a delay spike, and its end). */
  setLatency([min, max]: readonly [number, number]): void {
    if (!(Number.isFinite(min) && Number.isFinite(max) && min >= 0 && min <= max)) {
      throw new CdhtError('CDHT_ERR_BAD_ARGUMENT', `latencyMs must be [min, max] with 0 <= min <= max, got [${min}, ${max}]`);
    }
    this.latency = [min, max];
  }

  setDuplicates(rate: number): void {
    checkRate('duplicateRate', rate);
    this.duplicateRate = rate;
  }

  setReorder(rate: number): void {
    checkRate('reorderRate', rate);
    this.reorderRate = rate;
  }

  /** The next file transfer accepted by a receiver breaks midway (calls accumulate). */
  failNextTransfer(): void {
    this.failTransfers++;
  }

  // ---- partitions -----------------------------------------------------------------------

  /** Cut every address in `a` off from every address in `b` (both directions); cuts accumulate. */
  partition(a: string[], b: string[]): void {
    this.cuts.push({ a: new Set(a), b: new Set(b) });
  }

  heal(): void {
    this.cuts = [];
  }

  partitioned(x: Address, y: Address): boolean {
    if (this.cuts.length === 0) return false;
    const ax = addressOf(x);
    const ay = addressOf(y);
    return this.cuts.some(({ a, b }) => (matches(a, x, ax) && matches(b, y, ay)) || (matches(b, x, ax) && matches(a, y, ay)));
  }

  // ---- pauses ---------------------------------------------------------------------------

  /** Mark `addr` paused with an empty parked list; false when it is paused already. */
  pause(addr: string): boolean {
    if (this.paused.has(addr)) return false;
    this.paused.set(addr, []);
    return true;
  }

  /** Unpause `addr`; its parked events (for the network to replay), or undefined when it was not paused. */
  resume(addr: string): SimEvent[] | undefined {
    const parked = this.paused.get(addr);
    if (parked) this.paused.delete(addr);
    return parked;
  }

  isPaused(addr: string): boolean {
    return this.paused.has(addr);
  }

  /** The parked list of a paused `addr` (events of its own wait there), or undefined when it runs. */
  parkedAt(addr: string): SimEvent[] | undefined {
    return this.paused.get(addr);
  }

  // ---- each datagram, message and transfer ----------------------------------------------

  /** A one-way delay drawn from the current range (one draw). */
  drawLatency(): number {
    const [min, max] = this.latency;
    if (Number.isInteger(min) && Number.isInteger(max)) return min + Math.floor(this.rand() * (max - min + 1));
    return min + this.rand() * (max - min);
  }

  /** Whether a datagram leaving `from` for `to` is lost at once: cut off, or lost (a draw only when not cut off). */
  dropsDatagram(from: Address, to: Address): boolean {
    return this.partitioned(from, to) || (this.lossRate > 0 && this.rand() < this.lossRate);
  }

  /** How many copies of a datagram that left are sent (the second one more latency later). */
  datagramCopies(): 1 | 2 {
    return this.duplicateDraw() ? 2 : 1;
  }

  /** Whether a TCP message just scheduled gets a second copy (a retransmission). */
  duplicatesMessage(): boolean {
    return this.duplicateDraw();
  }

  /**
   * The delay of the next TCP message from `from` to `to` at time `now`: never earlier than the
   * previous one on the pair, unless it is drawn to reorder.
   */
  messageDelay(from: string, to: string, now: number): number {
    const reorder = this.reorderRate > 0 && this.rand() < this.reorderRate;
    return reorder ? this.drawLatency() : this.fifoDelay(from, to, now);
  }

  /** Whether the transfer a receiver just accepted breaks midway (it uses up one failNextTransfer). */
  takeTransferBreak(): boolean {
    const breakMidway = this.failTransfers > 0;
    if (breakMidway) this.failTransfers--;
    return breakMidway;
  }

  private duplicateDraw(): boolean {
    return this.duplicateRate > 0 && this.rand() < this.duplicateRate;
  }

  private fifoDelay(from: string, to: string, now: number): number {
    const key = `${from}>${to}`;
    const at = Math.max(now + this.drawLatency(), this.fifo.get(key) ?? 0);
    if (this.fifo.size >= MAX_FIFO_PAIRS && !this.fifo.has(key)) {
      for (const [k, t] of this.fifo) if (t <= now) this.fifo.delete(k);
    }
    this.fifo.set(key, at);
    return at - now;
  }
}
