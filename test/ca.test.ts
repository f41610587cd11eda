// The ring authority: certificates created, written, loaded and checked; and Node 20 speaking
// mutual TLS 1.3 with them, refusing anyone another authority (or nobody) vouches for.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createAuthority,
  issuePeer,
  loadTlsIdentity,
  MAX_PEER_ID,
  peerCommonName,
  peerIdFromCommonName,
  readAuthority,
  TlsSetupError,
  writeAuthority,
  writePeer,
} from '../src/security/ca.js';
import type { KeyAlgorithm, RingAuthority, TlsIdentity } from '../src/security/ca.js';
import { authenticatedPeerId, createThrowawayRing, tlsClientOptions, tlsContextOptions } from '../src/security/tls.js';
import { handshake } from './helpers/tls-handshake.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-ca-'));
  dirs.push(d);
  return d;
}

const modeOf = (path: string): number => statSync(path).mode & 0o777;
const DAY_MS = 24 * 60 * 60 * 1000;

/** An authority on disk with peers issued into the same directory. */
async function ringDir(ids: bigint[], opts: { algorithm?: KeyAlgorithm; peerDays?: number } = {}): Promise<{ dir: string; ca: RingAuthority }> {
  const dir = join(tempDir(), 'ring');
  const ca = await createAuthority(opts.algorithm ? { algorithm: opts.algorithm } : {});
  await writeAuthority(dir, ca);
  for (const id of ids) await writePeer(dir, id, await issuePeer(ca, id, opts.peerDays ? { days: opts.peerDays } : {}));
  return { dir, ca };
}

async function identity(ca: RingAuthority, id: bigint): Promise<TlsIdentity> {
  const c = await issuePeer(ca, id);
  return { id, keyPem: c.keyPem, certPem: c.certPem, caPem: ca.certPem };
}

describe('peer names', () => {
  test('an id and its common name map to each other, up to 2^160-1', () => {
    const ids = [0n, 1n, 14n, 255n, 256n, MAX_PEER_ID, ...Array.from({ length: 20 }, () => BigInt(`0x${randomBytes(20).toString('hex')}`))];
    for (const id of ids) {
      const cn = peerCommonName(id);
      assert.equal(cn, `cdht peer ${id.toString(10)}`);
      assert.equal(peerIdFromCommonName(cn), id);
    }
  });

  test('only the canonical name of an id in range names a peer', () => {
    const tooBig = (MAX_PEER_ID + 1n).toString();
    assert.equal(tooBig.length, 49, '2^160 has 49 digits, so the digit limit alone does not bound the id');
    for (const cn of ['cdht peer 007', 'cdht peer -1', 'cdht peer +1', 'cdht peer  1', 'cdht peer 1 ', 'cdht peer 1e3', 'cdht peer 0x10',
      'cdht peer ', 'cdht peer', 'Cdht peer 1', 'cdht peer 1\n', `cdht peer ${tooBig}`, `cdht peer ${'9'.repeat(50)}`, 'cdht peer ١٢', '', undefined]) {
      assert.equal(peerIdFromCommonName(cn), undefined, `rejects ${JSON.stringify(cn)}`);
    }
    assert.throws(() => peerCommonName(-1n), RangeError);
    assert.throws(() => peerCommonName(MAX_PEER_ID + 1n), RangeError);
  });
});

describe('creating and issuing', () => {
  test('create, write, issue, load: the certificates say what the ring needs, keys are 0600', async () => {
    const { dir, ca } = await ringDir([14n, MAX_PEER_ID]);
    assert.equal(modeOf(join(dir, 'ca.key')), 0o600);
    assert.equal(modeOf(join(dir, 'peer-14.key')), 0o600);
    for (const crt of ['ca.crt', 'peer-14.crt']) {
      const mode = modeOf(join(dir, crt));
      assert.equal(mode & 0o622, 0o600, `${crt} (mode 0${mode.toString(8)}) is the owner's to write and no one else's`);
    }
    assert.deepEqual(await readAuthority(dir), ca, 'what was written reads back');

    const caCert = new X509Certificate(ca.certPem);
    assert.equal(caCert.subject, 'CN=cdht ring authority');
    assert.equal(caCert.ca, true);
    assert.ok(caCert.verify(caCert.publicKey), 'self-signed');
    const caX = new x509.X509Certificate(ca.certPem);
    const bc = caX.getExtension(x509.BasicConstraintsExtension);
    assert.ok(bc?.ca && bc.critical, 'basicConstraints CA:true, critical');
    assert.equal(caX.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const caDays = (caX.notAfter.getTime() - Date.now()) / DAY_MS;
    assert.ok(caDays > 3649 && caDays <= 3650, `the authority is valid for 3650 days (${caDays})`);

    for (const id of [14n, MAX_PEER_ID]) {
      const loaded = loadTlsIdentity(dir, id);
      assert.equal(loaded.id, id);
      assert.equal(loaded.caPem, ca.certPem);
      assert.deepEqual(loaded.warnings, []);
      const cert = new X509Certificate(loaded.certPem);
      assert.equal(cert.subject, `CN=cdht peer ${id}`);
      assert.equal(cert.issuer, caCert.subject);
      assert.equal(cert.ca, false);
      assert.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey), 'signed by the authority');
      assert.deepEqual([...(cert.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'serverAuth and clientAuth');
      const px = new x509.X509Certificate(loaded.certPem);
      assert.equal(px.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.digitalSignature);
      assert.equal(px.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, caX.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
      const peerDays = (px.notAfter.getTime() - Date.now()) / DAY_MS;
      assert.ok(peerDays > 824 && peerDays <= 825, `a peer is valid for 825 days (${peerDays})`);
    }
  });

  test('serial numbers and keys are fresh each time; P-256 on request; a name of one\'s own', async () => {
    const [a, b] = await Promise.all([createAuthority(), createAuthority({ algorithm: 'P-256', name: 'lab, "ring" 7', days: 10 })]);
    const [ca, cb] = [new X509Certificate(a.certPem), new X509Certificate(b.certPem)];
    assert.notEqual(ca.serialNumber, cb.serialNumber);
    assert.equal(ca.publicKey.asymmetricKeyType, 'ed25519');
    assert.equal(cb.publicKey.asymmetricKeyType, 'ec');
    assert.equal(new x509.X509Certificate(b.certPem).subjectName.getField('CN')[0], 'lab, "ring" 7', 'the name stays literal');
    const peer = new X509Certificate((await issuePeer(b, 3n)).certPem);
    assert.equal(peer.publicKey.asymmetricKeyType, 'ec', 'a peer gets the authority\'s key type');
    assert.ok(Date.parse(peer.validTo) <= Date.parse(cb.validTo), 'a peer certificate does not outlive its authority');
  });

  test('writeAuthority refuses to replace a ring\'s key; writePeer replaces a peer\'s with a fresh 0600 file', async () => {
    const { dir, ca } = await ringDir([14n]);
    const before = readFileSync(join(dir, 'ca.key'), 'utf8');
    await assert.rejects(writeAuthority(dir, await createAuthority()), (err: Error) => {
      assert.ok(err instanceof TlsSetupError);
      assert.equal(err.code, 'CDHT_ERR_TLS_SETUP');
      assert.match(err.message, /ca\.key already exists; refusing to overwrite/);
      return true;
    });
    assert.equal(readFileSync(join(dir, 'ca.key'), 'utf8'), before, 'the key is untouched');
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), ca.certPem, 'so is the certificate');

    const keyPath = join(dir, 'peer-14.key');
    chmodSync(keyPath, 0o644);
    const old = readFileSync(keyPath, 'utf8');
    await writePeer(dir, 14n, await issuePeer(ca, 14n));
    assert.notEqual(readFileSync(keyPath, 'utf8'), old);
    assert.equal(modeOf(keyPath), 0o600, 'the new key does not inherit the old file\'s mode');
    loadTlsIdentity(dir, 14n);
  });

  test('a key open to group or others loads, with a warning naming it', async () => {
    const { dir } = await ringDir([14n]);
    chmodSync(join(dir, 'peer-14.key'), 0o640);
    const { warnings } = loadTlsIdentity(dir, 14n);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /peer-14\.key is open to group or others \(mode 0640\)/);
  });
});

describe('mutual TLS 1.3 between peers of a ring', () => {
  for (const algorithm of ['Ed25519', 'P-256'] as const) {
    test(`${algorithm}: both ends prove their ids and share the session`, async () => {
      const { dir } = await ringDir([14n, 15n], { algorithm });
      const [p14, p15] = [loadTlsIdentity(dir, 14n), loadTlsIdentity(dir, 15n)];
      const h = await handshake(tlsContextOptions(p14), tlsClientOptions(p15, 14n));
      assert.ok(h.server.ok && h.client.ok, `both accept: ${h.server.error?.message ?? ''} ${h.client.error?.message ?? ''}`);
      assert.equal(h.server.protocol, 'TLSv1.3');
      assert.equal(h.server.peerCN, 'cdht peer 15');
      assert.equal(h.client.peerCN, 'cdht peer 14');
      assert.equal(peerIdFromCommonName(h.server.peerCN as string), 15n);
      assert.equal(h.server.peerId, 15n, 'authenticatedPeerId on the server');
      assert.equal(h.client.peerId, 14n, 'authenticatedPeerId on the client');
      assert.match(h.server.ekm ?? '', /^[0-9a-f]{64}$/);
      assert.equal(h.client.ekm, h.server.ekm, 'the same exported keying material on both ends');
    });
  }

  test('a client of another authority is refused, and so is a server of another', async () => {
    const [ringA, ringB] = await Promise.all([createAuthority(), createAuthority()]);
    const [a14, a15, b15, b14] = await Promise.all([identity(ringA, 14n), identity(ringA, 15n), identity(ringB, 15n), identity(ringB, 14n)]);
    const control = await handshake(tlsContextOptions(a14), tlsClientOptions(a15, 14n));
    assert.ok(control.server.ok && control.client.ok, 'the same server takes a peer of its own ring');
    const intruder = { ...b15, caPem: ringA.certPem }; // trusts ring A's servers, but ring B vouches for it
    const h1 = await handshake(tlsContextOptions(a14), tlsClientOptions(intruder, 14n));
    assert.equal(h1.server.ok, false, 'the server refuses the client');
    assert.equal(h1.client.ok, false, 'and the client is never served');
    const impostor = { ...b14, caPem: ringA.certPem }; // a server ring B vouches for
    const h2 = await handshake(tlsContextOptions(impostor), tlsClientOptions(a15, 14n));
    assert.equal(h2.client.ok, false, 'the client refuses the server');
    assert.equal((h2.client.error as NodeJS.ErrnoException | undefined)?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.equal(h2.server.ok, false);
  });

  test('a self-signed peer certificate and a client without one are refused', async () => {
    const ring = await createAuthority();
    const a14 = await identity(ring, 14n);
    const alg = { name: 'Ed25519' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const selfSigned = await x509.X509CertificateGenerator.createSelfSigned({
      name: [{ CN: ['cdht peer 15'] }],
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth])],
    });
    const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
    const forger = { id: 15n, keyPem, certPem: selfSigned.toString('pem'), caPem: ring.certPem };
    const h1 = await handshake(tlsContextOptions(a14), tlsClientOptions(forger, 14n));
    assert.equal(h1.server.ok, false, 'a self-signed client is refused');
    assert.equal(h1.client.ok, false);
    const h2 = await handshake(tlsContextOptions(forger), tlsClientOptions(a14, 15n));
    assert.equal(h2.client.ok, false, 'a self-signed server is refused');
    assert.equal((h2.client.error as NodeJS.ErrnoException | undefined)?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');

    const { key: _k, cert: _c, ...noCertificate } = tlsClientOptions(a14, 14n);
    const h3 = await handshake(tlsContextOptions(a14), noCertificate);
    assert.equal(h3.server.ok, false, 'a client without a certificate is refused');
    assert.equal((h3.server.error as NodeJS.ErrnoException | undefined)?.code, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
    const control = await handshake(tlsContextOptions(a14), tlsClientOptions(await identity(ring, 15n), 14n));
    assert.ok(control.server.ok && control.client.ok, 'the same server takes a peer of its own ring');
  });

  test('a client holds the server to the id it meant to reach', async () => {
    const ring = await createAuthority();
    const [a14, a15] = await Promise.all([identity(ring, 14n), identity(ring, 15n)]);
    const h = await handshake(tlsContextOptions(a14), tlsClientOptions(a15, 19n));
    assert.equal(h.client.ok, false);
    assert.match(h.client.error?.message ?? '', /expected peer 19, but the server's certificate names peer 14/);
    const any = await handshake(tlsContextOptions(a14), tlsClientOptions(a15));
    assert.ok(any.client.ok && any.client.peerId === 14n, 'without an expected id, any peer of the ring will do');
  });

  test('authenticatedPeerId is undefined for a certificate the server did not verify', async () => {
    const [ringA, ringB] = await Promise.all([createAuthority(), createAuthority()]);
    const [a14, b15] = await Promise.all([identity(ringA, 14n), identity(ringB, 15n)]);
    const lax = { ...tlsContextOptions(a14), rejectUnauthorized: false };
    const h = await handshake(lax, tlsClientOptions({ ...b15, caPem: ringA.certPem }, 14n));
    assert.ok(h.server.ok, 'a lax server lets it in');
    assert.equal(h.server.authorized, false);
    assert.equal(h.server.peerCN, 'cdht peer 15', 'the certificate names peer 15');
    assert.equal(h.server.peerId, undefined, 'but nothing vouches for that');
  });

  test('a throwaway ring issues each id once, and its peers connect', async () => {
    const ring = await createThrowawayRing();
    const [x, y, again] = await Promise.all([ring.identityFor(5n), ring.identityFor(6n), ring.identityFor(5n)]);
    assert.equal(again, x, 'one identity per id, even when asked concurrently');
    assert.equal(await ring.identityFor(5n), x);
    assert.equal(x.caPem, ring.ca.certPem);
    const h = await handshake(tlsContextOptions(x), tlsClientOptions(y, 5n));
    assert.ok(h.server.ok && h.client.ok);
    assert.deepEqual([h.server.peerId, h.client.peerId], [6n, 5n]);
    assert.throws(() => ring.identityFor(-1n), RangeError);
  });
});

describe('loadTlsIdentity refuses a broken set with one line naming the file', () => {
  /** Runs `load` and checks it throws one TlsSetupError line matching `expected`. */
  function refuses(load: () => unknown, expected: RegExp): void {
    assert.throws(load, (err: unknown) => {
      assert.ok(err instanceof TlsSetupError, `a TlsSetupError, got ${String(err)}`);
      assert.equal(err.code, 'CDHT_ERR_TLS_SETUP');
      assert.doesNotMatch(err.message, /\n/, 'one line');
      assert.match(err.message, expected);
      return true;
    });
  }
  const GARBAGE = 'this is not PEM at all\n';
  const BAD_BASE64 = '-----BEGIN CERTIFICATE-----\nAAAA!!!!notbase64\n-----END CERTIFICATE-----\n';

  test('a missing file, or a missing directory', async () => {
    for (const name of ['ca.crt', 'peer-14.crt', 'peer-14.key']) {
      const { dir } = await ringDir([14n]);
      rmSync(join(dir, name));
      refuses(() => loadTlsIdentity(dir, 14n), new RegExp(`${join(dir, name).replace(/[.\\]/g, '\\$&')} does not exist`));
    }
    refuses(() => loadTlsIdentity(join(tempDir(), 'nowhere'), 14n), /nowhere.ca\.crt does not exist/);
  });

  test('the peer certificate of another authority', async () => {
    const { dir } = await ringDir([14n]);
    writeFileSync(join(dir, 'ca.crt'), (await createAuthority()).certPem);
    refuses(() => loadTlsIdentity(dir, 14n), /peer-14\.crt is not signed by the authority in .*ca\.crt$/);
  });

  test('a certificate naming another peer', async () => {
    const { dir } = await ringDir([15n]);
    copyFileSync(join(dir, 'peer-15.crt'), join(dir, 'peer-14.crt'));
    copyFileSync(join(dir, 'peer-15.key'), join(dir, 'peer-14.key'));
    refuses(() => loadTlsIdentity(dir, 14n), /peer-14\.crt names peer 15, not 14$/);
    writeFileSync(join(dir, 'peer-14.crt'), (await createAuthority({ name: 'cdht peer 014' })).certPem);
    refuses(() => loadTlsIdentity(dir, 14n), /peer-14\.crt does not name a cdht peer \(its subject is "CN=cdht peer 014"\)/);
  });

  test('a key that is not the certificate\'s', async () => {
    const { dir } = await ringDir([14n, 15n]);
    copyFileSync(join(dir, 'peer-15.key'), join(dir, 'peer-14.key'));
    refuses(() => loadTlsIdentity(dir, 14n), /peer-14\.key does not match the public key in .*peer-14\.crt$/);
  });

  test('garbage, a broken PEM, or the wrong kind of PEM in each file', async () => {
    const { dir, ca } = await ringDir([14n]);
    const good = { ca: ca.certPem, crt: readFileSync(join(dir, 'peer-14.crt'), 'utf8'), key: readFileSync(join(dir, 'peer-14.key'), 'utf8') };
    const cases: Array<[string, string, RegExp]> = [
      ['ca.crt', GARBAGE, /ca\.crt is not a PEM certificate/],
      ['ca.crt', BAD_BASE64, /ca\.crt holds a certificate that cannot be parsed/],
      ['ca.crt', ca.keyPem, /ca\.crt holds a private key, not a certificate/],
      ['ca.crt', ca.certPem + ca.certPem, /ca\.crt holds 2 certificates/],
      ['ca.crt', good.crt, /ca\.crt is not a CA certificate/],
      ['peer-14.crt', GARBAGE, /peer-14\.crt is not a PEM certificate/],
      ['peer-14.crt', BAD_BASE64, /peer-14\.crt holds a certificate that cannot be parsed/],
      ['peer-14.key', GARBAGE, /peer-14\.key is not a PEM private key/],
      ['peer-14.key', good.crt, /peer-14\.key holds a certificate, not a private key/],
      ['peer-14.key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', /peer-14\.key holds a private key that cannot be parsed/],
    ];
    for (const [name, text, expected] of cases) {
      writeFileSync(join(dir, name), text);
      refuses(() => loadTlsIdentity(dir, 14n), expected);
      writeFileSync(join(dir, name), good[name === 'ca.crt' ? 'ca' : name.endsWith('.crt') ? 'crt' : 'key']);
    }
    loadTlsIdentity(dir, 14n); // each case put its file back
  });

  test('expired or not yet valid, judged at the time given', async () => {
    const { dir } = await ringDir([14n], { peerDays: 2 });
    const now = Date.now();
    loadTlsIdentity(dir, 14n, { now: now + 1 * DAY_MS });
    refuses(() => loadTlsIdentity(dir, 14n, { now: now + 3 * DAY_MS }), /peer-14\.crt has expired: its validity ended \d{4}-/);
    refuses(() => loadTlsIdentity(dir, 14n, { now: now + 3651 * DAY_MS }), /ca\.crt has expired/);
    refuses(() => loadTlsIdentity(dir, 14n, { now: now - 1 * DAY_MS }), /ca\.crt is not valid yet: its validity starts \d{4}-/);
  });

  test('a directory where a file should be', async () => {
    const { dir } = await ringDir([14n]);
    rmSync(join(dir, 'peer-14.key'));
    mkdirSync(join(dir, 'peer-14.key'));
    refuses(() => loadTlsIdentity(dir, 14n), /peer-14\.key is a directory, not a file$/);
  });

  test('an unreadable file', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async () => {
    const { dir } = await ringDir([14n]);
    chmodSync(join(dir, 'peer-14.key'), 0o000);
    refuses(() => loadTlsIdentity(dir, 14n), /peer-14\.key cannot be read \(permission denied\)/);
  });

  test('readAuthority: a key that is not the certificate\'s', async () => {
    const { dir } = await ringDir([]);
    writeFileSync(join(dir, 'ca.crt'), (await createAuthority()).certPem);
    await assert.rejects(readAuthority(dir), (err: Error) => err instanceof TlsSetupError && /ca\.key does not match the public key in .*ca\.crt$/.test(err.message));
  });
});
