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
    // the new event rises through a hole: each parent it passes moves down once
    const h = this.items;
    let i = h.length;
    h.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!before(ev, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = ev;
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
    // the event at `start` sinks through a hole: each child it passes moves up once
    const h = this.items;
    const n = h.length;
    const ev = h[start]!;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!before(child, ev)) break;
      h[i] = child;
      i = c;
    }
    h[i] = ev;
  }
}

