// `cdht ca create DIR` and `cdht ca issue ID --ca DIR`: the words checked into a plan here, the
// plan run against the files. The certificate code is loaded only when a ca command runs.
import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { KeyAlgorithm } from '../security/checks.js';
import { DEFAULT_AUTHORITY_DAYS, DEFAULT_PEER_DAYS, MAX_DAYS, MAX_NAME_CHARS, parseDecimalPeerId, PEER_ID_BITS, TlsSetupError } from '../security/identity.js';
import { ArgumentProblem, parseIntegerIn } from './args.js';

export interface CaCreatePlan {
  kind: 'create';
  dir: string;
  algorithm: KeyAlgorithm;
  name?: string;
  days: number;
}

export interface CaIssuePlan {
  kind: 'issue';
  id: bigint;
  caDir: string;
  outDir: string;
  days: number;
}

export type CaPlan = CaCreatePlan | CaIssuePlan;

const quoted = (v: string): string => JSON.stringify(v).replace(/^"|"$/g, "'");

const ALGORITHMS: Record<string, KeyAlgorithm> = { ed25519: 'Ed25519', p256: 'P-256', 'p-256': 'P-256' };

function nonEmptyDir(name: string, value: string): string {
  if (value.trim() === '') throw new ArgumentProblem(`${name} must be a directory name (got ${quoted(value)})`);
  return resolve(value);
}

export function caCreatePlan(dir: string, o: { algorithm?: string; name?: string; days?: string }): CaCreatePlan {
  const algorithm = ALGORITHMS[(o.algorithm ?? 'ed25519').toLowerCase()];
  if (!algorithm) throw new ArgumentProblem(`--algorithm must be ed25519 or p256 (got ${quoted(o.algorithm ?? '')})`);
  if (o.name !== undefined && (o.name.length === 0 || o.name.length > MAX_NAME_CHARS)) {
    throw new ArgumentProblem(`--name must be 1 to ${MAX_NAME_CHARS} characters (got ${quoted(o.name)})`);
  }
  return {
    kind: 'create',
    dir: nonEmptyDir('DIR', dir),
    algorithm,
    ...(o.name !== undefined ? { name: o.name } : {}),
    days: o.days === undefined ? DEFAULT_AUTHORITY_DAYS : parseIntegerIn('--days', o.days, 1, MAX_DAYS),
  };
}

export function caIssuePlan(id: string, o: { ca?: string; out?: string; days?: string }): CaIssuePlan {
  const peer = parseDecimalPeerId(id);
  if (peer === undefined) {
    throw new ArgumentProblem(`ID must be a peer id, a decimal integer from 0 to 2^${PEER_ID_BITS}-1 without leading zeros (got ${quoted(id)})`);
  }
  if (o.ca === undefined) throw new ArgumentProblem('--ca DIR is required: the directory of the ring authority');
  const caDir = nonEmptyDir('--ca', o.ca);
  return {
    kind: 'issue',
    id: peer,
    caDir,
    outDir: o.out === undefined ? caDir : nonEmptyDir('--out', o.out),
    days: o.days === undefined ? DEFAULT_PEER_DAYS : parseIntegerIn('--days', o.days, 1, MAX_DAYS),
  };
}

export interface CaOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

const STD_OUTPUT: CaOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Runs a plan; resolves with the exit code: 0 done, 1 when the files say no (one error line). */
export async function runCa(plan: CaPlan, name: string, io: CaOutput = STD_OUTPUT): Promise<number> {
  try {
    if (plan.kind === 'create') await create(plan, io);
    else await issue(plan, name, io);
    return 0;
  } catch (err) {
    if (!(err instanceof TlsSetupError)) throw err;
    io.err(`${name}: error: ${err.message}`);
    return 1;
  }
}

async function create(plan: CaCreatePlan, io: CaOutput): Promise<void> {
  const { createAuthority, writeAuthority, CA_CERT_FILE, CA_KEY_FILE } = await import('../security/ca.js');
  const ca = await createAuthority({ algorithm: plan.algorithm, days: plan.days, ...(plan.name !== undefined ? { name: plan.name } : {}) });
  await writeAuthority(plan.dir, ca);
  io.out(`Wrote ${join(plan.dir, CA_KEY_FILE)} (0600) and ${join(plan.dir, CA_CERT_FILE)}`);
}

async function issue(plan: CaIssuePlan, name: string, io: CaOutput): Promise<void> {
  const sec = await import('../security/ca.js');
  const ca = await sec.readAuthority(plan.caDir);
  const caKeyWarning = sec.keyFileWarning(resolve(plan.caDir, sec.CA_KEY_FILE));
  if (caKeyWarning) io.err(`${name}: warning: ${caKeyWarning}`);
  const credentials = await sec.issuePeer(ca, plan.id, { days: plan.days });
  // Before the peer's files: a foreign ca.crt in --out must stop the run with nothing written.
  const copied = plan.outDir === plan.caDir ? undefined : await sec.writeAuthorityCertificate(plan.outDir, ca.certPem);
  const { keyPath, certPath } = await sec.writePeer(plan.outDir, plan.id, credentials);
  // The directory now holds all a peer loads at start-up; check it as the peer will.
  const identity = sec.loadTlsIdentity(plan.outDir, plan.id);
  for (const w of identity.warnings) io.err(`${name}: warning: ${w}`);
  const until = new Date(new X509Certificate(identity.certPem).validTo).toISOString().slice(0, 10);
  io.out(`Wrote ${keyPath} (0600) and ${certPath} (peer ${plan.id}, valid until ${until})`);
  if (copied) io.out(`Wrote ${copied}, the ring authority's certificate`);
}
