// The error catalog: each class keeps its own name whatever its code, and sets a catalog code;
// what the library's shells refuse carries a code too, with the sentence it always had.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CdhtError, ERROR_CODES, LocalProtocolError, ProtocolError, RemoteProtocolError } from '../src/core/errors.js';
import { ConfigError } from '../src/core/config.js';
import { IdSpace } from '../src/core/id-space.js';
import { Peer, startPeer } from '../src/peer.js';
import { createTestnet } from '../src/testnet.js';
import { DEFAULT_LIMITS, resolveLimits } from '../src/transport/node/limits.js';
import { ArgumentProblem } from '../src/cli/args.js';
import { ContactProblem } from '../src/cli/contacts.js';
import { ControlError } from '../src/control/ring-controller.js';
import { UnreachableError } from '../src/control/status-walk.js';
import { TlsSetupError } from '../src/security/identity.js';

test('a CdhtError is named CdhtError whatever the kind of its code', () => {
  for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
    const e = new CdhtError(code, 'x');
    assert.equal(e.name, 'CdhtError', code);
    assert.equal(e.kind, ERROR_CODES[code].kind, code);
    assert.equal(String(e), 'CdhtError: x');
  }
});

test('the thin subclasses set their code and keep their name and message', () => {
  const cases: [CdhtError, string, string][] = [
    [new LocalProtocolError('CDHT_ERR_BAD_PAYLOAD', 'm'), 'LocalProtocolError', 'CDHT_ERR_BAD_PAYLOAD'],
    [new RemoteProtocolError('CDHT_ERR_BAD_VERSION', 'm'), 'RemoteProtocolError', 'CDHT_ERR_BAD_VERSION'],
    [new ArgumentProblem('m'), 'ArgumentProblem', 'CDHT_ERR_BAD_ARGUMENT'],
    [new ContactProblem('m'), 'ContactProblem', 'CDHT_ERR_BAD_ARGUMENT'],
    [new ControlError('BAD_ID', 'm'), 'ControlError', 'CDHT_ERR_CONTROL'],
    [new UnreachableError('m'), 'UnreachableError', 'CDHT_ERR_UNREACHABLE'],
    [new TlsSetupError('m'), 'TlsSetupError', 'CDHT_ERR_TLS_SETUP'],
  ];
  for (const [e, name, code] of cases) {
    assert.ok(e instanceof CdhtError, name);
    assert.equal(e.name, name);
    assert.equal(e.code, code, name);
    assert.equal(e.message, 'm');
  }
  // The same wire code: whose fault it is decides the kind.
  assert.equal(new LocalProtocolError('CDHT_ERR_BAD_PAYLOAD', 'm').kind, 'local');
  assert.equal(new RemoteProtocolError('CDHT_ERR_BAD_PAYLOAD', 'm').remote, true);
  assert.equal(new ControlError('BAD_ID', 'm').reason, 'BAD_ID');
});

test('both protocol errors are one ProtocolError whose side is its kind', () => {
  const local = new LocalProtocolError('CDHT_ERR_BAD_VERSION', 'm', { cause: 'c' });
  const remote = new RemoteProtocolError('CDHT_ERR_BAD_VERSION', 'm');
  for (const e of [local, remote]) assert.ok(e instanceof ProtocolError && e instanceof CdhtError);
  assert.ok(!(local instanceof RemoteProtocolError) && !(remote instanceof LocalProtocolError));
  assert.deepEqual([local.side, local.kind, local.remote, local.cause], ['local', 'local', false, 'c']);
  assert.deepEqual([remote.side, remote.kind, remote.remote], ['remote', 'remote', true]);
  assert.equal(String(new ProtocolError('remote', 'CDHT_ERR_BAD_PAYLOAD', 'x')), 'ProtocolError: x');
});

test('a ConfigError stays a RangeError and carries its catalog code', () => {
  const e = new ConfigError('successors', 'successors must be an integer from 2 to 32', 2, 32);
  assert.ok(e instanceof RangeError);
  assert.equal(e.code, 'CDHT_ERR_CONFIG');
  assert.ok(Object.hasOwn(ERROR_CODES, e.code));
});

test('options out of range are ConfigErrors, RangeErrors still, naming the option, with their sentences', () => {
  const refused = (field: string, message: RegExp) => (e: unknown) => e instanceof ConfigError && e instanceof RangeError && e.name === 'RangeError' && e.field === field && message.test(e.message);
  assert.throws(() => new IdSpace(7), refused('bits', /^an id space has 8 to 160 bits \(got 7\)$/));
  assert.throws(() => resolveLimits({ memberSlots: DEFAULT_LIMITS.maxInboundConnections }), refused('limits', /^memberSlots must leave strangers at least one of maxInboundConnections$/));
  assert.throws(() => resolveLimits({ maxOutboundLinks: 0 }), refused('limits', /^limit maxOutboundLinks must be a positive number \(got 0\)$/));
  assert.throws(() => startPeer({ id: 300, mode: { kind: 'init', successors: [] }, pingIntervalMs: 1000 }), refused('id', /^peer id must be an integer from 0 to 255 \(got 300\)$/));
  assert.throws(() => startPeer({ id: 2, mode: { kind: 'join', known: 999 }, pingIntervalMs: 1000 }), refused('mode', /^the known peer id must be an integer from 0 to 255$/));
});

test('a ring on the simulator: misuse is CDHT_ERR_BAD_ARGUMENT, a peer that cannot listen CDHT_ERR_NOT_STARTED', async () => {
  const net = await createTestnet({ runtime: 'sim', ids: [2, 9] });
  assert.throws(() => net.start({ id: 2, mode: { kind: 'init', successors: [] } }), { name: 'CdhtError', code: 'CDHT_ERR_BAD_ARGUMENT', message: 'Peer 2 is already running here' });
  assert.throws(() => net.kill(77), { code: 'CDHT_ERR_BAD_ARGUMENT', message: 'no Peer 77 in this ring' });
  // a second peer at 2's address: its endpoint cannot listen, so it stops before joining
  const twin = new Peer({ id: 2, mode: { kind: 'init', successors: [] }, runtime: net.runtime, dataDir: 'twin', pingIntervalMs: 1000 });
  await assert.rejects(twin.ready, (e: unknown) => e instanceof CdhtError && e.code === 'CDHT_ERR_NOT_STARTED' && /^Peer 2 stopped before joining a ring: listen EADDRINUSE: address already in use /.test(e.message));
  // the listen error itself is its cause, for a program to look into
  const why = await twin.ready.catch((e: unknown) => (e as Error).cause);
  assert.ok(why instanceof Error && /EADDRINUSE/.test(why.message), `the cause is the listen error (${String(why)})`);
  await net.close();
});
