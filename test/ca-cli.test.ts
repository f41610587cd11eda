// `cdht ca create` and `cdht ca issue` as separate processes: what they write, what they print,
// their exit codes (2 for a usage mistake, 1 when the files say no).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTlsIdentity, MAX_PEER_ID } from '../src/security/ca.js';
import { expectUsageErrors, runCli } from './helpers/cli.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-ca-cli-'));
  dirs.push(d);
  return d;
}

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('cdht ca', () => {
  test('create writes the authority into a new directory, then refuses to replace it', async () => {
    const cwd = tempDir();
    const dir = join(cwd, 'ring', 'ca'); // two levels that do not exist yet
    const made = await runCli(['ca', 'create', 'ring/ca'], { cwd });
    assert.equal(made.status.code, 0, made.describe());
    assert.deepEqual(made.out, [`Wrote ${join(dir, 'ca.key')} (0600) and ${join(dir, 'ca.crt')}`]);
    assert.deepEqual(made.err, []);
    assert.equal(modeOf(join(dir, 'ca.key')), 0o600);
    const cert = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
    assert.ok(cert.ca);
    assert.equal(cert.publicKey.asymmetricKeyType, 'ed25519', 'Ed25519 by default');

    const key = readFileSync(join(dir, 'ca.key'), 'utf8');
    const again = await runCli(['ca', 'create', dir], { cwd });
    assert.equal(again.status.code, 1, again.describe());
    assert.deepEqual(again.out, []);
    assert.equal(again.err.length, 1, again.describe());
    assert.match(again.err[0]!, /^cdht: error: .*ca\.key already exists; refusing to overwrite/);
    assert.equal(readFileSync(join(dir, 'ca.key'), 'utf8'), key, 'the key is untouched');
  });

  test('issue writes a peer\'s key and certificate next to the authority, or into --out with ca.crt', async () => {
    const cwd = tempDir();
    const ca = join(cwd, 'ca');
    assert.equal((await runCli(['ca', 'create', ca, '--algorithm', 'p256', '--name', 'lab ring', '--days', '30'], { cwd })).status.code, 0);
    assert.equal(new X509Certificate(readFileSync(join(ca, 'ca.crt'))).subject, 'CN=lab ring');

    const big = MAX_PEER_ID.toString();
    const [p14, pBig, p15] = await Promise.all([
      runCli(['ca', 'issue', '14', '--ca', ca], { cwd }),
      runCli(['ca', 'issue', big, '--ca', ca, '--days', '1'], { cwd }),
      runCli(['ca', 'issue', '15', '--ca', 'ca', '--out', 'peer15'], { cwd }),
    ]);
    for (const p of [p14, pBig, p15]) assert.equal(p.status.code, 0, p.describe());
    assert.match(p14.out[0]!, new RegExp(`^Wrote ${join(ca, 'peer-14.key')} \\(0600\\) and ${join(ca, 'peer-14.crt')} \\(peer 14, valid until \\d{4}-\\d\\d-\\d\\d\\)$`));
    assert.equal(p14.out.length, 1);
    const out = join(cwd, 'peer15');
    assert.deepEqual(p15.out.slice(1), [`Wrote ${join(out, 'ca.crt')}, the ring authority's certificate`]);
    assert.deepEqual(readdirSync(out).sort(), ['ca.crt', 'peer-15.crt', 'peer-15.key'], '--out holds what peer 15 needs, and no authority key');

    for (const [dir, id] of [[ca, 14n], [ca, MAX_PEER_ID], [out, 15n]] as const) {
      const identity = loadTlsIdentity(dir, id);
      assert.equal(modeOf(join(dir, `peer-${id}.key`)), 0o600);
      assert.equal(new X509Certificate(identity.certPem).publicKey.asymmetricKeyType, 'ec', 'P-256 like its authority');
    }
    const caDays = (Date.parse(new X509Certificate(readFileSync(join(ca, 'ca.crt'))).validTo) - Date.now()) / 86_400_000;
    const p14Days = (Date.parse(new X509Certificate(readFileSync(join(ca, 'peer-14.crt'))).validTo) - Date.now()) / 86_400_000;
    assert.ok(caDays > 29 && caDays <= 30, `--days 30 (${caDays})`);
    assert.ok(p14Days <= caDays, 'a peer\'s 825 days end with its 30-day authority');
  });

  test('issue stops with one line when the authority is missing or --out holds another', async () => {
    const cwd = tempDir();
    const none = await runCli(['ca', 'issue', '14', '--ca', join(cwd, 'empty')], { cwd });
    assert.equal(none.status.code, 1, none.describe());
    assert.deepEqual(none.out, []);
    assert.deepEqual(none.err, [`cdht: error: ${join(cwd, 'empty', 'ca.key')} does not exist (create an authority with: cdht ca create ${join(cwd, 'empty')})`]);

    for (const d of ['a', 'b']) assert.equal((await runCli(['ca', 'create', d], { cwd })).status.code, 0);
    assert.equal((await runCli(['ca', 'issue', '3', '--ca', 'a', '--out', 'p'], { cwd })).status.code, 0);
    const foreign = await runCli(['ca', 'issue', '4', '--ca', 'b', '--out', 'p'], { cwd });
    assert.equal(foreign.status.code, 1, foreign.describe());
    assert.match(foreign.err[0] ?? '', /^cdht: error: .*p.ca\.crt holds another authority's certificate/);
    assert.ok(!readdirSync(join(cwd, 'p')).includes('peer-4.key'), 'nothing of peer 4 was written');
  });

  test('bad arguments: one error line naming the argument, the usage, exit code 2', async () => {
    const cwd = tempDir();
    const tooBig = (MAX_PEER_ID + 1n).toString();
    const cases: Array<[string[], RegExp]> = [
      [['ca', 'issue', 'abc', '--ca', cwd], /ID must be a peer id.*'abc'/],
      [['ca', 'issue', '007', '--ca', cwd], /ID .*'007'/],
      [['ca', 'issue', '-1', '--ca', cwd], /ID .*'-1'/],
      [['ca', 'issue', '1.5', '--ca', cwd], /ID .*'1\.5'/],
      [['ca', 'issue', tooBig, '--ca', cwd], new RegExp(`ID .*'${tooBig}'`)],
      [['ca', 'issue', '14'], /--ca/],
      [['ca', 'issue', '14', '--ca', cwd, '--days', '0'], /--days.*'0'/],
      [['ca', 'issue', '14', '15', '--ca', cwd], /'15'/],
      [['ca', 'create'], /DIR/],
      [['ca', 'create', 'x', '--algorithm', 'rsa'], /--algorithm must be ed25519 or p256.*'rsa'/],
      [['ca', 'create', 'x', '--name', ''], /--name/],
      [['ca', 'frobnicate'], /frobnicate/],
    ];
    await expectUsageErrors(cases, cwd, 'Usage: cdht ca');
    assert.deepEqual(readdirSync(cwd), [], 'no usage mistake wrote anything');
    const help = await runCli(['ca', 'issue', '--help'], { cwd });
    assert.equal(help.status.code, 0);
    assert.ok(help.out.some((l) => l.startsWith('Usage: cdht ca issue')));
  });
});
