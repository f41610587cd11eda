// Whose word a routed message (join, store, request, lookup) is, on a private ring. The shell
// checks the cryptography (the origin proof's signature, and its certificate against the ring's
// authority) and says what it proved in Origin.signed; the rules are kept here, for every hop:
// - the proof must be signed by the peer the message speaks for, and be fresh (its time within
//   PROOF_WINDOW_MS of ours), or the message is dropped wherever it is, relay or owner;
// - a peer acts on one proof once (accepts a store, serves a file, answers a lookup, takes a
//   join): a replay is dropped, whatever its hop count.
// An open ring proves nothing about anyone and none of this applies.
import type { Ctx } from './context.js';
import { speakerOf, type OriginProof, type RoutedMessage } from './messages.js';
import type { Origin, Signed } from './origin.js';

/** A proof whose time is further than this from ours (either way) is refused: clocks may drift this much. */
export const PROOF_WINDOW_MS = 5 * 60_000;
/** Proofs acted on that are remembered to refuse their replays; a full ledger forgets its oldest and refuses anything older. */
export const MAX_SEEN_PROOFS = 16_384;

export class RoutedOrigins {
  /** `${signer}:${at}:${nonce}` -> at, in the order they were acted on. */
  private readonly seen = new Map<string, number>();
  /** Proofs no later than this were forgotten to keep the ledger bounded: refused as possible replays. */
  private floor = -Infinity;
  /**
   * What each proof this peer let through proved, so a message rerouted here (its next hop was
   * unreachable) is judged as it was when it arrived. Weak: it lives as long as the message.
   */
  private readonly vouched = new WeakMap<OriginProof, Signed>();

  constructor(private readonly ctx: Ctx) {}

  /** Why `msg` does not speak for its origin, checked at every hop; undefined when it does, and on an open ring. */
  problem(msg: RoutedMessage, origin: Origin): string | undefined {
    const ctx = this.ctx;
    if (!ctx.cfg.secure) return undefined;
    const s = origin.signed;
    if (!s) return origin.proofError ? `its origin proof is refused (${origin.proofError})` : 'it carries no origin proof';
    const speaker = speakerOf(msg);
    if (s.by !== speaker.id) return `its origin proof is signed by Peer ${ctx.fmt(s.by)}`;
    const age = ctx.now - s.at;
    if (age > PROOF_WINDOW_MS) return `its origin proof is stale (${Math.round(age / 1000)} s old)`;
    if (-age > PROOF_WINDOW_MS) return `its origin proof is dated ${Math.round(-age / 1000)} s ahead`;
    if (msg.proof) this.vouched.set(msg.proof, s);
    return undefined;
  }

  /**
   * Records that this peer acts on `msg` now; a reason to refuse when it acted on the same proof
   * before (a replay). Call after `problem` found none.
   */
  replayed(msg: RoutedMessage, origin: Origin): string | undefined {
    const ctx = this.ctx;
    const s = origin.signed;
    // our own messages come back only by rerouting; a replay of our own proof to us gains nothing
    if (!ctx.cfg.secure || !s || s.by === ctx.self.id) return undefined;
    const key = `${s.by}:${s.at}:${s.nonce}`;
    if (s.at <= this.floor || this.seen.has(key)) return 'a replay of an origin proof already acted on';
    // stale entries go first: the window refuses their replays anyway
    for (const [k, at] of this.seen) {
      if (ctx.now - at <= PROOF_WINDOW_MS) break;
      this.seen.delete(k);
    }
    if (this.seen.size >= MAX_SEEN_PROOFS) {
      const [k, at] = this.seen.entries().next().value!;
      this.seen.delete(k);
      this.floor = Math.max(this.floor, at);
    }
    this.seen.set(key, s.at);
    return undefined;
  }

  /** The origin of a routed message handled here again (rerouted): what its proof proved when it arrived. */
  here(msg: RoutedMessage): Origin {
    const self = this.ctx.self;
    const base = { via: 'tcp', src: self, authId: self.id } as const;
    const vouched = msg.proof && this.vouched.get(msg.proof);
    if (vouched) return { ...base, signed: vouched };
    // a message of our own: the shell signs it as it leaves, so it has no proof here yet
    if (speakerOf(msg).id === self.id) return { ...base, signed: { by: self.id, at: this.ctx.now, nonce: 0 } };
    return base;
  }

  /** Proofs remembered against replays (tests, memory figures). */
  get size(): number {
    return this.seen.size;
  }
}
