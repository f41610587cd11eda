// Finger tables in the core alone (issue 16, issue 18's unit tests of the core's routing): one
// PeerCore with 16-bit ids in a ring that a small stand-in answers as a healthy ring would (every
// ping, every lookup, by the true owner). No sockets, no clock but the events' `now`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { Effect } from '../src/core/effects.js';
import { IdSpace, type Id } from '../src/core/id-space.js';
import type { Message } from '../src/core/messages.js';
import { PeerCore } from '../src/core/peer-core.js';
import { MAX_GAP_TICKS } from '../src/core/routing/fingers.js';
import { mulberry32 } from '../src/util/prng.js';

const SPACE = new IdSpace(16);
const at = (id: bigint): Contact => ({ id, host: '10.0.0.2', port: 30000 + Number(id % 20000n) });

/** A ring of `n` random 16-bit ids around Peer 1000, answered by `World`. */
class World {
  readonly ids: Id[];
  readonly core: PeerCore;
  readonly self: Contact;
  now = 0;
  /** Every finger refresh the core sent (a lookup of a key other than its own id + 1). */
  refreshes: number[] = [];
  /** Peers that no longer answer. */
  readonly down = new Set<Id>();

  constructor(n: number, seed: number) {
    const rand = mulberry32(seed);
    const ids = new Set<Id>([1000n]);
    while (ids.size < n) ids.add(BigInt(Math.floor(rand() * 65536)));
    this.ids = IdSpace.sort([...ids]);
    this.self = at(1000n);
    let nonce = 1;
    this.core = new PeerCore({
      self: this.self,
      space: SPACE,
      mode: { kind: 'init', successors: this.succOf(1000n, 4).map(at) },
      pingIntervalMs: 1000,
      pingMisses: 3,
      random32: () => nonce++,
      storeId: 'peer-1000',
      routing: 'fingers',
    });
    this.apply(this.core.handle({ type: 'start', now: 0 }));
  }

  live(): Id[] {
    return this.ids.filter((id) => !this.down.has(id));
  }
  /** The next `k` live peers after `id`, clockwise. */
  succOf(id: Id, k: number): Id[] {
    const live = this.live();
    const i = live.findIndex((x) => x > id);
    const from = i < 0 ? 0 : i;
    return Array.from({ length: Math.min(k, live.length - 1) }, (_, j) => live[(from + j) % live.length]!).filter((x) => x !== id);
  }
  ownerOf(key: Id): Id {
    return SPACE.ownerOf(key, this.live())!;
  }
  predOf(id: Id): Id {
    const live = this.live();
    const i = live.indexOf(id);
    return live[(i - 1 + live.length) % live.length]!;
  }

  /** Answers what the core sent, as the ring would (synchronously, a millisecond later). */
  apply(effects: Effect[]): void {
    for (const e of effects) {
      if (e.kind !== 'send' || e.to.id === undefined || this.down.has(e.to.id)) continue;
      const who = at(e.to.id);
      const m = e.msg;
      let reply: Message | undefined;
      if (m.type === 'ping') {
        const pred = this.predOf(who.id);
        reply = { type: 'pong', from: who, seq: m.seq, loud: m.loud, successors: this.succOf(who.id, 4).map(at), pred: at(pred) };
      } else if (m.type === 'lookup') {
        if (m.key !== SPACE.add(1000n, 1n)) this.refreshes.push(this.now);
        const owner = this.ownerOf(m.key);
        reply = { type: 'lookup-reply', from: at(owner), lid: m.lid, hops: 2, successors: this.succOf(owner, 4).map(at) };
      }
      if (!reply) continue;
      const src = reply.type === 'pong' || reply.type === 'lookup-reply' ? reply.from : who;
      this.apply(this.core.handle({ type: 'receive', msg: reply, origin: { via: 'udp', src: { host: src.host, port: src.port } }, now: this.now + 1 }));
    }
  }

  /** Runs `ms` of probe periods (the core's ping timer, and its liveness deadlines in between). */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 250;
      this.apply(this.core.handle({ type: 'timer', name: 'liveness', now: this.now }));
      if (this.now % 1000 === 0) this.apply(this.core.handle({ type: 'timer', name: 'ping', now: this.now }));
    }
  }

  refreshesIn(fromMs: number, toMs: number): number {
    return this.refreshes.filter((t) => t > fromMs && t <= toMs).length;
  }
}

test('a table that stops changing is refreshed less and less often, down to one refresh per MAX_GAP_TICKS probes', () => {
  const w = new World(64, 3);
  w.run(30_000);
  const early = w.refreshesIn(0, 30_000);
  assert.ok(early >= 20, `the table fills at about one refresh a probe: ${early} in the first 30 s`);
  w.run(1_200_000);
  const late = w.refreshesIn(w.now - 10 * MAX_GAP_TICKS * 1000, w.now);
  assert.ok(late >= 8 && late <= 11, `${late} refreshes in ${10 * MAX_GAP_TICKS} s at rest: one every ${MAX_GAP_TICKS} probes`);
  // the table holds the true fingers: entry i is the first live peer at or after self + 2^i
  const fingers = new Set(w.core.snapshot().fingers);
  const first = w.succOf(1000n, 1)[0]!;
  for (let i = 0; i < 16; i++) {
    const want = w.ownerOf(SPACE.add(1000n, 1n << BigInt(i)));
    if (SPACE.distance(1000n, want) > SPACE.distance(1000n, first)) assert.ok(fingers.has(want), `finger ${i} (Peer ${want}) in ${[...fingers].join(', ')}`);
  }
});

test('a finger that dies is skipped at once and the refreshes come back to one a probe', () => {
  const w = new World(64, 4);
  w.run(1_200_000);
  // the farthest finger: routes to keys just behind us go through it
  const far = [...w.core.snapshot().fingers!].sort((a, b) => (SPACE.distance(1000n, b) > SPACE.distance(1000n, a) ? 1 : -1))[0]!;
  const key = SPACE.add(far, 1n);
  const hopBefore = w.core.nextHop(SPACE.add(far, 0n));
  assert.ok(hopBefore && (hopBefore.to === far || SPACE.betweenRightClosed(1000n, hopBefore.to, far)), `a key at Peer ${far} goes towards it`);
  w.down.add(far);
  // a message to it fails: it is suspect at once, and routing goes round it
  const hop = w.core.nextHop(key);
  assert.ok(hop, 'some hop');
  const sent = w.core.handle({ type: 'send-failed', to: at(far), msg: { type: 'lookup', origin: w.self, key, lid: 99, final: false, hops: 1 }, error: 'ECONNREFUSED', now: w.now + 2 });
  w.apply(sent);
  const round = w.core.nextHop(key);
  assert.ok(round && round.to !== far, `routed round the dead finger (to ${round?.to})`);
  const t = w.now;
  w.run(20_000);
  assert.ok(w.refreshesIn(t, w.now) >= 10, `refreshes at full pace again: ${w.refreshesIn(t, w.now)} in 20 s`);
  w.run(60_000);
  assert.ok(!w.core.snapshot().fingers!.includes(far), 'the dead finger is gone from the table');
});
