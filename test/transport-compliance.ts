// One transport compliance suite, run by compliance-node.test.ts on real sockets and by
// compliance-sim.test.ts on the simulator: what every Endpoint promises, checked the same way.
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Contact } from '../src/core/contact.js';
import type { FileBegin, Message } from '../src/core/messages.js';
import type { Endpoint, EndpointHandlers, Origin } from '../src/transport/types.js';

export type { FileResult } from '../src/transport/types.js';
import type { FileResult } from '../src/transport/types.js';

/** Records every handler call; a world's until() re-checks its condition after each one. */
export class Recorder implements EndpointHandlers {
  readonly messages: Array<{ msg: Message; origin: Origin }> = [];
  readonly bad: Array<{ detail: string; source: string | undefined }> = [];
  readonly offers: Array<{ header: FileBegin; origin: Origin }> = [];
  readonly done: Array<{ header: FileBegin; result: FileResult }> = [];
  readonly progress: number[] = [];
  /** The answer to file offers; refuse by default. */
  saveAs: (header: FileBegin) => string | null = () => null;

  constructor(private readonly changed: () => void = () => {}) {}

  onMessage(msg: Message, origin: Origin): void {
    this.messages.push({ msg, origin });
    this.changed();
  }
  onBadInput(detail: string, source?: string): void {
    this.bad.push({ detail, source });
    this.changed();
  }
  onFileOffer(header: FileBegin, origin: Origin): string | null {
    this.offers.push({ header, origin });
    this.changed();
    return this.saveAs(header);
  }
  onFileProgress(_header: FileBegin, bytes: number): void {
    this.progress.push(bytes);
    this.changed();
  }
  onFileDone(header: FileBegin, result: FileResult): void {
    this.done.push({ header, result });
    this.changed();
  }
}

export interface Party {
  readonly contact: Contact;
  readonly ep: Endpoint;
  readonly rec: Recorder;
  readonly dir: string;
}

/** 'open': no certificate; 'member': one of the ring's; 'outsider': another authority's. */
export type RingRole = 'open' | 'member' | 'outsider';

/** What the suite needs from a runtime: endpoints, time, files. */
export interface ComplianceWorld {
  /** Opens an endpoint for peer `id` at an address of its own. */
  open(id: number, o?: { ring?: RingRole; maxFileBytes?: number }): Promise<Party>;
  /** An address where nobody listens. */
  unbound(id: number): Contact;
  /** Lets (real or virtual) time pass until pred() holds; false after maxMs. */
  until(pred: () => boolean, maxMs?: number): Promise<boolean>;
  /** The promise's outcome, letting (virtual) time run until it settles. */
  settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }>;
  writeFile(p: Party, name: string, bytes: Uint8Array): Promise<void>;
  readFile(p: Party, name: string): Promise<Uint8Array | undefined>;
  listFiles(p: Party): Promise<string[]>;
  /** Closes everything this world opened. */
  close(): Promise<void>;
}

/** Registers the suite; `makeWorld` gives each test a fresh world. */
export function complianceSuite(name: string, makeWorld: () => Promise<ComplianceWorld>): void {
  const within = async (body: (w: ComplianceWorld) => Promise<void>): Promise<void> => {
    const w = await makeWorld();
    try {
      await body(w);
    } finally {
      await w.close();
    }
  };

  const rejectsWith = (r: { ok: boolean; error?: unknown }, code: string, what: string): void => {
    assert.equal(r.ok, false, `${what} should reject`);
    assert.equal((r as { error: { code?: string } }).error?.code, code, `${what}: ${String((r as { error: unknown }).error)}`);
  };

  const header = (from: Contact, size: number, file = '4103'): FileBegin => ({ type: 'file-begin', from, file, rid: 7, purpose: 'request', size });

  const content = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + (i >> 8)) & 0xff);

  describe(`transport compliance: ${name}`, () => {
    test('messages and datagrams arrive decoded, with the sender as origin', () =>
      within(async (w) => {
        const a = await w.open(1);
        const b = await w.open(2);
        const join: Message = { type: 'join', joiner: a.contact, hops: 3 };
        const sent = await w.settle(a.ep.sendMessage(b.contact, join));
        assert.ok(sent.ok, 'sendMessage resolves once delivered');
        // Delivery means handed over: the message is there when the promise resolves.
        assert.deepEqual(b.rec.messages.map((m) => m.msg), [join]);
        const tcp = b.rec.messages[0]!.origin;
        assert.equal(tcp.via, 'tcp');
        assert.equal(tcp.src.host, a.contact.host);
        assert.equal(tcp.authId, undefined, 'nothing is proven on an open ring');

        const ping: Message = { type: 'ping', from: a.contact, seq: 42, role: 1, loud: true };
        a.ep.sendDatagram(b.contact, ping);
        assert.ok(await w.until(() => b.rec.messages.length === 2), 'the ping arrives');
        assert.deepEqual(b.rec.messages[1], { msg: ping, origin: { via: 'udp', src: { host: a.contact.host, port: a.contact.port } } });

        // Both ways, in order.
        const replies = [0, 1, 2].map((qid) => b.ep.sendMessage(a.contact, { type: 'successor-query', from: b.contact, qid }));
        assert.ok((await w.settle(Promise.all(replies))).ok);
        assert.deepEqual(
          a.rec.messages.map((m) => (m.msg.type === 'successor-query' ? m.msg.qid : -1)),
          [0, 1, 2],
        );
        assert.deepEqual([...a.rec.bad, ...b.rec.bad], []);
      }));

    test('delivery rejects with CDHT_ERR_UNREACHABLE for an address where nobody listens', () =>
      within(async (w) => {
        const a = await w.open(10);
        const nobody = w.unbound(11);
        rejectsWith(await w.settle(a.ep.sendMessage(nobody, { type: 'depart-ack', from: a.contact })), 'CDHT_ERR_UNREACHABLE', 'sendMessage');
        await w.writeFile(a, '4103.pdf', content(1000, 1));
        rejectsWith(await w.settle(a.ep.sendFile(nobody, header(a.contact, 1000), '4103.pdf')), 'CDHT_ERR_UNREACHABLE', 'sendFile');
      }));

    test('private endpoints report the sender\'s certificate id and refuse outsiders', () =>
      within(async (w) => {
        const a = await w.open(20, { ring: 'member' });
        const b = await w.open(21, { ring: 'member' });
        const outsider = await w.open(22, { ring: 'outsider' });
        const open = await w.open(23);

        assert.ok((await w.settle(a.ep.sendMessage(b.contact, { type: 'depart-ack', from: a.contact }))).ok);
        assert.equal(b.rec.messages[0]?.origin.authId, a.contact.id);
        const ping: Message = { type: 'ping', from: a.contact, seq: 1, role: 1, loud: false };
        a.ep.sendDatagram(b.contact, ping);
        assert.ok(await w.until(() => b.rec.messages.length === 2), 'the sealed ping arrives');
        assert.equal(b.rec.messages[1]!.origin.via, 'udp');
        assert.equal(b.rec.messages[1]!.origin.authId, a.contact.id);
        const pong: Message = { type: 'pong', from: b.contact, seq: 1, loud: false, successors: [] };
        b.ep.sendDatagram(a.contact, pong);
        assert.ok(await w.until(() => a.rec.messages.length === 1), 'the sealed pong comes back');
        assert.equal(a.rec.messages[0]!.origin.authId, b.contact.id);

        const badBefore = b.rec.bad.length;
        // a definite refusal, not silence: the peer there is of another authority, or this ring is private
        rejectsWith(await w.settle(outsider.ep.sendMessage(b.contact, { type: 'depart-ack', from: outsider.contact })), 'CDHT_ERR_NOT_ADMITTED', 'outsider to member');
        rejectsWith(await w.settle(open.ep.sendMessage(b.contact, { type: 'depart-ack', from: open.contact })), 'CDHT_ERR_NOT_ADMITTED', 'open to member');
        rejectsWith(await w.settle(a.ep.sendMessage(outsider.contact, { type: 'depart-ack', from: a.contact })), 'CDHT_ERR_NOT_ADMITTED', 'member to outsider');
        // The certificate at b's address names 21, not 99: a member that meant 99 is refused.
        rejectsWith(await w.settle(a.ep.sendMessage({ ...b.contact, id: 99n }, { type: 'depart-ack', from: a.contact })), 'CDHT_ERR_UNREACHABLE', 'wrong id');
        open.ep.sendDatagram(b.contact, { type: 'ping', from: open.contact, seq: 2, role: 1, loud: false });
        assert.ok(await w.until(() => b.rec.bad.length >= badBefore + 3), 'b says why, once per refusal');
        assert.equal(b.rec.messages.length, 2, 'no outsider message reached b');
        assert.ok(b.rec.bad.every((x) => typeof x.source === 'string' && x.source.length > 0), 'every line names its source');
        assert.deepEqual(outsider.rec.messages, []);
      }));

    for (const ring of ['open', 'member'] as const) {
      test(`a file arrives byte-identical (${ring} ring), and the offer names its sender`, () =>
        within(async (w) => {
          const a = await w.open(30, { ring });
          const b = await w.open(31, { ring });
          const bytes = content(3 * 1024 * 1024 + 123, 2);
          await w.writeFile(a, '4103.pdf', bytes);
          assert.deepEqual(await a.ep.statFile('4103.pdf'), { size: bytes.length });
          b.rec.saveAs = (h) => `received_${h.file}.pdf`;
          const h = header(a.contact, bytes.length);
          const sent = await w.settle(a.ep.sendFile(b.contact, h, '4103.pdf'));
          assert.ok(sent.ok, `sendFile: ${sent.ok ? '' : String(sent.error)}`);
          assert.ok(await w.until(() => b.rec.done.length === 1));
          assert.deepEqual(b.rec.done[0], { header: h, result: { ok: true, sha256: createHash('sha256').update(bytes).digest() } });
          assert.deepEqual(b.rec.offers.map((o) => o.header), [h]);
          assert.equal(b.rec.offers[0]!.origin.authId, ring === 'member' ? a.contact.id : undefined);
          assert.deepEqual(await w.readFile(b, 'received_4103.pdf'), bytes);
          assert.deepEqual(await w.listFiles(b), ['received_4103.pdf']);
        }));
    }

    test('a refused offer, and one over maxFileBytes, leave nothing behind', () =>
      within(async (w) => {
        const a = await w.open(40);
        const b = await w.open(41, { maxFileBytes: 1000 });
        await w.writeFile(a, 'small.pdf', content(500, 3));
        await w.writeFile(a, 'big.pdf', content(5000, 4));

        b.rec.saveAs = () => null;
        rejectsWith(await w.settle(a.ep.sendFile(b.contact, header(a.contact, 500), 'small.pdf')), 'CDHT_ERR_TRANSFER', 'a refused offer');
        assert.equal(b.rec.offers.length, 1);
        assert.equal(b.rec.done.length, 0, 'no onFileDone for an offer the handler refused');

        b.rec.saveAs = (h) => `${h.file}.pdf`;
        rejectsWith(await w.settle(a.ep.sendFile(b.contact, header(a.contact, 5000), 'big.pdf')), 'CDHT_ERR_TRANSFER', 'an offer over maxFileBytes');
        assert.ok(await w.until(() => b.rec.done.length === 1));
        assert.equal(b.rec.done[0]!.result.ok, false);
        assert.match((b.rec.done[0]!.result as { error: string }).error, /exceeds the limit of 1000 bytes/);
        assert.deepEqual(await w.listFiles(b), [], 'nothing written, not even a partial file');

        // Within the limit it goes through.
        const ok = await w.settle(a.ep.sendFile(b.contact, header(a.contact, 500), 'small.pdf'));
        assert.ok(ok.ok);
        assert.deepEqual(await w.listFiles(b), ['4103.pdf']);
      }));
  });
}
