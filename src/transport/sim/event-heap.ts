// The simulator's queue: a binary min-heap of events ordered by (time, insertion sequence), so
// two events at one instant fire in the order they were scheduled.

export interface SimEvent {
  /** When it fires; a parked event gets the time of its owner's resume. */
  time: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
  fired: boolean;
  /** The address of the endpoint (process) it runs in: it waits while that one is paused. */
  readonly owner?: string | undefined;
  /** Taken out of the queue because its owner is paused; back in on resume. */
  parked?: boolean;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/** Binary min-heap of events ordered by (time, seq). */
export class EventHeap {
  items: SimEvent[] = [];

  get length(): number {
    return this.items.length;
  }

  peek(): SimEvent | undefined {
    return this.items[0];
  }

  push(ev: SimEvent): void {
    const h = this.items;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Drop cancelled events and restore the heap order. */
  compact(): void {
    this.items = this.items.filter((ev) => !ev.cancelled);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(start: number): void {
    const h = this.items;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < h.length && before(h[l]!, h[min]!)) min = l;
      if (r < h.length && before(h[r]!, h[min]!)) min = r;
      if (min === i) return;
      [h[i], h[min]] = [h[min]!, h[i]!];
      i = min;
    }
  }
}

