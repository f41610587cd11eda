// The error catalog: each class keeps its own name whatever its code, and sets a catalog code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CdhtError, ERROR_CODES, LocalProtocolError, ProtocolError, RemoteProtocolError } from '../src/core/errors.js';
import { ConfigError } from '../src/core/config.js';
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
