// The merge probe: a slow background check that finds another ring and joins it to ours. After a
// partition heals, each side is a consistent ring of its own, and stabilization (which only asks
// the first successor) keeps them apart for good. So every MERGE_EVERY_MS a peer asks a peer it
// remembers (the ring memory: peers on every side of the ring, kept through death marks) who owns
// the key just after its own id, in that peer's ring. In our own ring the answer is our first
// successor and nothing happens; in another ring it may be a peer between us and our first
// successor, and then we take it (verified by a ping, as any contact). Its predecessor learns of
// us from our pings, the predecessor's predecessor from its pong (Chord's stabilize), and so the
// two rings zip into one, ordered, while every peer on both sides does the same.
//
// Rules it keeps
// - One question per interval at most, to the remembered peers in turn, never to a current
//   successor (it would only confirm what we know), jittered so a whole ring does not ask at once.
// - Only an answer closer than our first successor changes anything, and only after that peer
//   answers a ping of ours: an answer can make us look, never make us believe.
import type { Contact } from '../contact.js';
import type { Ctx } from '../context.js';
import type { Id } from '../id-space.js';
import type { RingMemory } from './memory.js';
import type { Successors } from './successors.js';

/** How often a peer asks a remembered peer where it belongs (on average; ±25%). */
export const MERGE_EVERY_MS = 30_000;

export class MergeProbe {
  private turn = 0;
  private nextAt: number;

  constructor(
    private readonly ctx: Ctx,
    private readonly succ: Successors,
    private readonly memory: RingMemory,
    private readonly ask: (via: Contact, key: Id, done: (owner: Contact | undefined, successors: readonly Contact[]) => void) => void,
  ) {
    this.nextAt = ctx.now + this.gap();
  }

  private gap(): number {
    // jitter from the peer's own nonces: deterministic on the simulator, spread across peers
    return MERGE_EVERY_MS * (0.75 + (this.ctx.nonce() % 1000) / 2000);
  }

  /** Every probe interval: ask, when it is time and there is someone to ask. */
  tick(): void {
    const ctx = this.ctx;
    if (ctx.phase !== 'active' || ctx.now < this.nextAt) return;
    this.nextAt = ctx.now + this.gap();
    // an alone peer asks everyone it knows on its own (Successors.tick)
    const s1 = this.succ.list[0];
    if (!s1) return;
    const others = this.memory.entries().filter((c) => c.id !== ctx.self.id && !this.succ.has(c.id));
    if (others.length === 0) return;
    const via = others[this.turn++ % others.length]!;
    this.ask(via, ctx.space.add(ctx.self.id, 1n), (owner) => {
      const first = this.succ.list[0];
      if (!owner || owner.id === ctx.self.id || !first || owner.id === first.id) return;
      if (!ctx.space.betweenOpen(ctx.self.id, owner.id, first.id)) return;
      ctx.note(`Peer ${ctx.fmt(via.id)}'s ring has Peer ${ctx.fmt(owner.id)} right after this peer: checking it (another ring, merging)`, 'debug');
      this.succ.adopt([owner], 'changed');
    });
  }
}
