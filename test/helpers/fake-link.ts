// Layer 1 of the tests: protocol cores wired to each other by hand, with a clock the test
// moves. No runtime, no sockets, no promises: every step is synchronous and visible.
import { defaultContact } from '../../src/space.js';
import type { CoreEvent, Effect } from '../../src/core/effects.js';
import { SPEC_SPACE } from '../../src/core/id-space.js';
import type { Message } from '../../src/core/messages.js';
import { renderTrace } from '../../src/core/trace.js';
import { parseCommand } from '../../src/cli/commands.js';
import { PeerCore } from '../../src/core/peer-core.js';
import type { CoreConfig, CoreSnapshot } from '../../src/core/peer-core.js';

/** Modes with plain-number ids, placed by the reference layout. */
export type FakeMode = { kind: 'init'; successors: number[] } | { kind: 'join'; known: number };

/** A snapshot with plain-number ids, easy to compare in tests. */
export interface NumSnapshot {
  phase: CoreSnapshot['phase'];
  pred1?: number;
  pred2?: number;
  successors: number[];
}

const contact = (id: number) => defaultContact(BigInt(id), '127.0.0.1', BASE);

export const BASE = 40000;
const MAX_STEPS = 100_000;

export class FakeLink {
  now = 0;
  readonly cores = new Map<number, PeerCore>();
  readonly lines: { id: number; line: string; at: number }[] = [];
  readonly exits = new Map<number, number>();
  readonly down = new Set<number>();
  /** A seeded sequence for the cores' random numbers (replayable). */
  private seq = 1;
  /** Datagrams to drop: return true to lose it. */
  lose: (from: number, to: number, msg: Message) => boolean = () => false;
  private readonly timers = new Map<string, { id: number; name: string; at: number }>();
  private readonly queue: { from: number; to: number; msg: Message; tcp: boolean }[] = [];

  add(id: number, mode: FakeMode, extra: Partial<CoreConfig> = {}): PeerCore {
    const core = new PeerCore({
      self: contact(id),
      space: SPEC_SPACE,
      mode: mode.kind === 'init' ? { kind: 'init', successors: mode.successors.map(contact) } : { kind: 'join', known: contact(mode.known) },
      pingIntervalMs: 1000,
      pingMisses: 3,
      storeId: 'shared',
      random32: () => (this.seq = (this.seq * 1103515245 + 12345) >>> 0),
      ...extra,
    });
    this.cores.set(id, core);
    this.feed(id, { type: 'start', now: this.now });
    return core;
  }

  feed(id: number, ev: CoreEvent): Effect[] {
    const core = this.cores.get(id);
    if (!core || this.down.has(id)) return [];
    const effects = core.handle(ev);
    for (const e of effects) this.apply(id, e);
    return effects;
  }

  /** A console line, read by the CLI's parser (as a console reads it) and fed as its typed event. */
  command(id: number, line: string): void {
    const c = parseCommand(line, SPEC_SPACE);
    if (c.kind === 'refused') this.lines.push({ id, line: c.text, at: this.now });
    else if (c.kind === 'quit') this.feed(id, { type: 'quit', now: this.now });
    else if (c.kind !== 'none') this.feed(id, { type: c.kind, name: c.name, now: this.now });
    this.flush();
  }

  private apply(id: number, e: Effect): void {
    if (e.kind === 'trace') for (const l of renderTrace(e.trace, SPEC_SPACE)) this.lines.push({ id, line: l.text, at: this.now });
    else if (e.kind === 'send') this.queue.push({ from: id, to: e.to.port - BASE, msg: e.msg, tcp: e.transport === 'tcp' });
    else if (e.kind === 'set-timer') this.timers.set(`${id}:${e.name}`, { id, name: e.name, at: e.at });
    else if (e.kind === 'cancel-timer') this.timers.delete(`${id}:${e.name}`);
    else if (e.kind === 'exit') this.exits.set(id, e.code);
  }

  /** Delivers every queued message (and what they cause) at the current time. */
  flush(): void {
    for (let steps = 0; this.queue.length; steps++) {
      if (steps > MAX_STEPS) throw new Error('message storm: over MAX_STEPS deliveries');
      const m = this.queue.shift()!;
      if (this.down.has(m.to) || !this.cores.has(m.to) || this.exits.has(m.to)) {
        if (m.tcp) this.feed(m.from, { type: 'send-failed', to: contact(m.to), msg: m.msg, error: 'refused', now: this.now });
        continue;
      }
      if (!m.tcp && this.lose(m.from, m.to, m.msg)) continue;
      this.feed(m.to, { type: 'receive', msg: m.msg, origin: { via: m.tcp ? 'tcp' : 'udp', src: contact(m.from) }, now: this.now });
    }
  }

  /** Moves the clock forward by ms, firing timers in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    this.flush();
    for (let steps = 0; ; steps++) {
      if (steps > MAX_STEPS) throw new Error('timer storm: over MAX_STEPS timers');
      const next = [...this.timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!next) break;
      this.timers.delete(`${next.id}:${next.name}`);
      this.now = Math.max(this.now, next.at);
      this.feed(next.id, { type: 'timer', name: next.name, now: this.now });
      this.flush();
    }
    this.now = end;
  }

  snapshot(id: number): NumSnapshot {
    const s = this.cores.get(id)!.snapshot();
    return {
      phase: s.phase,
      ...(s.pred1 !== undefined ? { pred1: Number(s.pred1) } : {}),
      ...(s.pred2 !== undefined ? { pred2: Number(s.pred2) } : {}),
      successors: s.successors.map(Number),
    };
  }

  linesOf(id: number, since = 0): string[] {
    return this.lines.slice(since).filter((l) => l.id === id).map((l) => l.line);
  }
}
