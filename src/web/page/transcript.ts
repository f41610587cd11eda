// The side panel's transcript: every peer's lines as the server rendered them, newest at the
// bottom, filterable by peer. Bounded: the page keeps MAX_KEPT lines and shows MAX_SHOWN.
import type { TraceView } from '../../control/view-types.js';

const MAX_KEPT = 5_000;
const MAX_SHOWN = 400;

interface Line {
  peer: string;
  text: string;
  level: string;
}

export class Transcript {
  private readonly lines: Line[] = [];
  private filter = '';

  constructor(
    private readonly list: HTMLOListElement,
    private readonly select: HTMLSelectElement,
  ) {
    select.addEventListener('change', () => {
      this.filter = select.value;
      this.rebuild();
    });
  }

  add(items: readonly TraceView[]): void {
    const stick = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 8;
    const frag = document.createDocumentFragment();
    for (const v of items) {
      for (const l of v.lines) {
        // as at the console: debug lines (a depart-ack that could not be delivered to a peer
        // that had already gone, say) are for --debug, not for someone watching the ring
        if (l.level === 'debug') continue;
        const line = { peer: v.peer, text: l.text, level: l.level };
        this.lines.push(line);
        if (!this.filter || this.filter === v.peer) frag.append(this.item(line));
      }
    }
    if (this.lines.length > MAX_KEPT) this.lines.splice(0, this.lines.length - MAX_KEPT);
    this.list.append(frag);
    while (this.list.childElementCount > MAX_SHOWN) this.list.firstElementChild!.remove();
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  /** Keeps the peer filter's options in step with the peers the page knows. */
  peers(ids: readonly string[]): void {
    const have = [...this.select.options].slice(1).map((o) => o.value);
    if (have.length === ids.length && have.every((v, i) => v === ids[i])) return;
    const keep = this.select.value;
    this.select.replaceChildren(new Option('All peers', ''), ...ids.map((id) => new Option(`Peer ${id}`, id)));
    this.select.value = ids.includes(keep) ? keep : '';
    if (this.select.value !== this.filter) {
      this.filter = this.select.value;
      this.rebuild();
    }
  }

  private item(l: Line): HTMLLIElement {
    const li = document.createElement('li');
    li.textContent = `[${l.peer}] ${l.text}`;
    li.dataset['peer'] = l.peer;
    if (l.level !== 'info') li.className = l.level;
    return li;
  }

  private rebuild(): void {
    const shown = this.lines.filter((l) => !this.filter || l.peer === this.filter).slice(-MAX_SHOWN);
    this.list.replaceChildren(...shown.map((l) => this.item(l)));
    this.list.scrollTop = this.list.scrollHeight;
  }
}
