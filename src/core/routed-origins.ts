// Whose word a routed message (join, store, request, lookup) is, on a private ring. The shell
// holds the cryptography (the origin proof's signature, its certificate against the ring's
// authority) and offers it as Origin.proof; the rules are kept here:
// - every hop: a message without a proof, or whose proof is dated more than PROOF_WINDOW_MS
//   from our clock, is dropped (both are free to see: relays stop them early);
// - the peer that acts on it (accepts a store, serves a file, answers a lookup, takes a join)
//   first has the proof checked: it must verify, be signed by the peer the message speaks for,
//   and not have been acted on before (a replay), whatever the hop count.
// Relays do not check signatures: a member can make any number of valid messages in its own
// name, so verifying at every hop would cost honest traffic a verification a hop and stop no
// flood; one check where the message takes effect is what keeps it from speaking for another.
// An open ring proves nothing about anyone and none of this applies.
import type { Ctx } from './context.js';
import { speakerOf, type OriginProof, type RoutedMessage } from './messages.js';
import { proven, type Origin, type ProofCheck } from './origin.js';

/** A proof dated further than this from our clock (either way) is refused: clocks may drift this much. */
export const PROOF_WINDOW_MS = 5 * 60_000;
/** Proofs acted on that are remembered to refuse their replays; a full ledger forgets its oldest and refuses anything older. */
export const MAX_SEEN_PROOFS = 16_384;

export class RoutedOrigins {
  /** `${signer}:${at}:${nonce}` -> at, in the order they were acted on. */
  private readonly seen = new Map<string, number>();
  /** Proofs no later than this were forgotten to keep the ledger bounded: refused as possible replays. */
  private floor = -Infinity;
  /**
   * The check each proof that passed here came with, so that a message rerouted here (its next
   * hop was unreachable) is judged as it would have been when it arrived. Weak: it lives as long
   * as the message.
   */
  private readonly checks = new WeakMap<OriginProof, () => ProofCheck>();

  constructor(private readonly ctx: Ctx) {}

  private get on(): boolean {
    return this.ctx.cfg.secure && this.ctx.cfg.originProofs;
  }

  /** Why `msg` is dropped at any hop (no proof, or one dated out of the window); undefined when it goes on. */
  problem(msg: RoutedMessage, origin: Origin): string | undefined {
    const ctx = this.ctx;
    if (!this.on) return undefined;
    if (!origin.proof) return 'it carries no origin proof';
    // a message of our own handled here again has no proof yet (the shell signs it as it leaves)
    if (!msg.proof) return speakerOf(msg).id === ctx.self.id ? undefined : 'it carries no origin proof';
    const age = ctx.now - msg.proof.at;
    if (age > PROOF_WINDOW_MS) return `its origin proof is stale (${Math.round(age / 1000)} s old)`;
    if (-age > PROOF_WINDOW_MS) return `its origin proof is dated ${Math.round(-age / 1000)} s ahead`;
    this.checks.set(msg.proof, origin.proof);
    return undefined;
  }

  /**
   * Why this peer must not act on `msg` (call after `problem` found nothing): its proof does not
   * verify, is not its origin's, or was acted on before. Undefined when it may, and then the proof
   * is remembered as acted on.
   */
  refuseToAct(msg: RoutedMessage, origin: Origin): string | undefined {
    const ctx = this.ctx;
    if (!this.on) return undefined;
    const check = origin.proof?.();
    if (!check) return 'it carries no origin proof';
    if (!check.ok) return `its origin proof is refused (${check.why})`;
    const s = check.signed;
    if (s.by !== speakerOf(msg).id) return `its origin proof is signed by Peer ${ctx.fmt(s.by)}`;
    // our own messages come back only by rerouting; a replay of our own proof to us gains nothing
    if (s.by === ctx.self.id) return undefined;
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

  /** The origin of a routed message handled here again (rerouted): the proof check it arrived with. */
  here(msg: RoutedMessage): Origin {
    const self = this.ctx.self;
    const base = { via: 'tcp', src: self, authId: self.id } as const;
    const check = msg.proof && this.checks.get(msg.proof);
    if (check) return { ...base, proof: check };
    if (speakerOf(msg).id === self.id && !msg.proof) return { ...base, proof: proven({ by: self.id, at: this.ctx.now, nonce: 0 }) };
    return base;
  }

  /** Proofs remembered against replays (tests, memory figures). */
  get size(): number {
    return this.seen.size;
  }
}
