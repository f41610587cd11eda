// `cdht put FILE`, `cdht get NAME` and `cdht lookup KEY` through a gateway (--via HOST:PORT): one-shot
// clients that run no peer. The commands are declared here; the HTTP client loads only when one runs.
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { GetFileResult, LookupResult, Progress, PutResult } from '../api/types.js';
import type { RingClient } from '../api/client.js';
import { formatBytes } from '../control/files.js';
import { CdhtError } from '../core/errors.js';
import type { TlsIdentity } from '../security/identity.js';
import { ArgumentProblem, parseIntegerIn } from './args.js';

interface Common {
  via: string;
  json: boolean;
  tls?: TlsIdentity;
  /** Seconds of silence before giving up, as milliseconds. */
  timeoutMs: number;
}

export type OneshotPlan =
  | (Common & { kind: 'put'; file: string; name: string; copies?: number })
  | (Common & { kind: 'get'; name: string; out: string })
  | (Common & { kind: 'lookup'; key: bigint })
  | (Common & { kind: 'delete'; name: string });

interface RawOneshot {
  via?: string;
  json?: boolean;
  tls?: string;
  id?: string;
  timeout?: string;
  name?: string;
  output?: string;
  copies?: string;
}

const MAX_TIMEOUT_S = 86_400;
const DEFAULT_TIMEOUT_S = 30;
const MAX_COPIES = 64;
const MAX_KEY_DIGITS = 49;
const quoted = (v: string): string => JSON.stringify(v);
type TlsLoader = (dir: string, id: string | undefined) => TlsIdentity;

function commonOf(o: RawOneshot, loadTls: TlsLoader): Common {
  if (o.via === undefined) throw new ArgumentProblem('--via HOST:PORT is required (a gateway: a ring member serving HTTP)');
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:@[\]/]+):\d{1,5}$/.test(o.via)) throw new ArgumentProblem(`--via must be host:port or [v6]:port (got ${quoted(o.via)})`);
  if (o.id !== undefined && !o.tls) throw new ArgumentProblem('--id chooses a certificate of --tls DIR: give --tls too');
  const timeoutS = o.timeout === undefined ? DEFAULT_TIMEOUT_S : parseIntegerIn('--timeout', o.timeout, 1, MAX_TIMEOUT_S);
  const tls = o.tls ? loadTls(resolve(o.tls), o.id) : undefined;
  return { via: o.via, json: o.json === true, timeoutMs: timeoutS * 1000, ...(tls ? { tls } : {}) };
}

export function putPlan(file: string, o: RawOneshot, loadTls: TlsLoader): OneshotPlan {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new ArgumentProblem(`cannot read ${quoted(file)}`);
  }
  if (!isFile) throw new ArgumentProblem(`${quoted(file)} is not a file`);
  const name = o.name ?? basename(file);
  if (name.length === 0) throw new ArgumentProblem('--name must not be empty');
  const copies = o.copies === undefined ? undefined : parseIntegerIn('--copies', o.copies, 1, MAX_COPIES);
  return { kind: 'put', file, name, ...(copies !== undefined ? { copies } : {}), ...commonOf(o, loadTls) };
}

export function getPlan(name: string, o: RawOneshot, loadTls: TlsLoader): OneshotPlan {
  if (name.length === 0) throw new ArgumentProblem('NAME must not be empty');
  const plainFileName = !/[/\\]/.test(name) && name !== '.' && name !== '..';
  if (o.output === undefined && !plainFileName) throw new ArgumentProblem(`${quoted(name)} is no file name here: give -o PATH`);
  const out = o.output ?? name;
  if (out === '-' && o.json) throw new ArgumentProblem('--json with -o - would mix the result into the bytes: give -o PATH');
  return { kind: 'get', name, out, ...commonOf(o, loadTls) };
}

export function deletePlan(name: string, o: RawOneshot, loadTls: TlsLoader): OneshotPlan {
  if (name.length === 0) throw new ArgumentProblem('NAME must not be empty');
  return { kind: 'delete', name, ...commonOf(o, loadTls) };
}

export function lookupPlan(key: string, o: RawOneshot, loadTls: TlsLoader): OneshotPlan {
  if (!/^\d+$/.test(key) || key.length > MAX_KEY_DIGITS) throw new ArgumentProblem(`KEY must be a decimal integer of at most ${MAX_KEY_DIGITS} digits (got ${quoted(key)})`);
  return { kind: 'lookup', key: BigInt(key), ...commonOf(o, loadTls) };
}

const ONESHOT_HELP = `
A one-shot client: it joins no ring, it asks a gateway (a member that serves HTTP, or HTTPS with
mutual TLS on a private ring) to do the work. Exit 0 on success, 2 for a usage mistake, 3 for a
name not found (or stored already, or too large), 4 when the gateway cannot be reached or is busy,
5 when the bytes failed their SHA-256 check, 130 when interrupted.

Examples:
  cdht put report.pdf --via 127.0.0.1:8080
  cdht get report.pdf --via 127.0.0.1:8080 -o /tmp/report.pdf
  cdht get notes.txt --via 127.0.0.1:8080 -o - | less
  cdht lookup 1234 --via 10.0.0.1:8443 --tls ring-ca --id 1000 --json`;

type Checked = <T>(cmd: Command, extra: string[], make: () => T) => T;

function withCommon(cmd: Command): Command {
  return cmd
    .option('--via <HOST:PORT>', 'the gateway to go through (required)')
    .option('--json', 'print the result as one JSON line (ids and keys as decimal strings)')
    .option('--timeout <S>', `seconds without an answer or progress before giving up (1..${MAX_TIMEOUT_S})`, String(DEFAULT_TIMEOUT_S))
    .addOption(new Option('--tls <DIR>', 'a private ring: DIR/ca.crt and a certificate its authority issued (made by cdht ca)').env('CDHT_TLS_DIR'))
    .option('--id <ID>', 'with --tls: which peer-ID certificate of DIR to use')
    .addHelpText('after', ONESHOT_HELP)
    .showHelpAfterError(false)
    .allowExcessArguments();
}

/** Registers put, get, delete and lookup; `checked` is main's turn of an ArgumentProblem into a usage error. */
export function addOneshotCommands(program: Command, checked: Checked, onPlan: (plan: OneshotPlan) => void): void {
  const tlsLoader = async (): Promise<TlsLoader> => (await import('./status.js')).tlsOf;
  withCommon(program.command('put').description('store a file in a ring through a gateway').argument('<FILE>', 'the file to store'))
    .option('--name <NAME>', 'the name to store it under (default: the file\'s base name)')
    .option('--copies <N>', `return once N copies are confirmed (1..${MAX_COPIES}; default: the ring's replica count)`)
    .action(async (file: string, _o: unknown, c: Command) => {
      const loadTls = await tlsLoader();
      onPlan(checked(c, c.args.slice(1), () => putPlan(file, c.opts<RawOneshot>(), loadTls)));
    });
  withCommon(program.command('get').description('fetch a stored file through a gateway').argument('<NAME>', 'the stored name'))
    .option('-o, --output <PATH>', 'where to save it (default: ./NAME; - writes the bytes to standard output)')
    .action(async (name: string, _o: unknown, c: Command) => {
      const loadTls = await tlsLoader();
      onPlan(checked(c, c.args.slice(1), () => getPlan(name, c.opts<RawOneshot>(), loadTls)));
    });
  withCommon(program.command('delete').description('remove every copy of a stored name, through the gateway that stored it').argument('<NAME>', 'the stored name'))
    .action(async (name: string, _o: unknown, c: Command) => {
      const loadTls = await tlsLoader();
      onPlan(checked(c, c.args.slice(1), () => deletePlan(name, c.opts<RawOneshot>(), loadTls)));
    });
  withCommon(program.command('lookup').description('which peer owns a key, through a gateway').argument('<KEY>', 'a key of the ring, decimal'))
    .action(async (key: string, _o: unknown, c: Command) => {
      const loadTls = await tlsLoader();
      onPlan(checked(c, c.args.slice(1), () => lookupPlan(key, c.opts<RawOneshot>(), loadTls)));
    });
}

// ---- running ----------------------------------------------------------------------------------

/** A progress line on stderr, only for a person watching a terminal. */
function progressLine(label: string): { onProgress?: (p: Progress) => void; done(): void } {
  if (!process.stderr.isTTY) return { done: () => {} };
  let shown = false;
  return {
    onProgress: (p) => {
      shown = true;
      const pct = p.total ? ` ${Math.floor((100 * p.bytes) / p.total)}%` : '';
      process.stderr.write(`\r${label}${pct} ${formatBytes(p.bytes)}${p.total !== undefined ? ` of ${formatBytes(p.total)}` : ''}\x1b[K`);
    },
    done: () => {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

const contactText = (c: { id: bigint; host: string; port: number }): string => `${c.id} at ${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}`;

/** What a delete prints. */
interface Deleted {
  deleted: string;
}

function describe(plan: OneshotPlan, r: PutResult | GetFileResult | LookupResult | Deleted): string {
  if (plan.kind === 'delete') return `Deleted ${(r as Deleted).deleted}: every copy is gone`;
  if (plan.kind === 'put') {
    const p = r as PutResult;
    const more = p.holders.length > 1 ? ` (+${p.holders.length - 1} cop${p.holders.length === 2 ? 'y' : 'ies'})` : '';
    return `Stored ${p.name}: ${formatBytes(p.size)}, key ${p.key}, sha256 ${p.sha256}, on peer ${p.holders[0] ? contactText(p.holders[0]) : '?'}${more}, ${p.hops} hops`;
  }
  if (plan.kind === 'get') {
    const g = r as GetFileResult;
    return `Saved ${g.name} to ${g.path}: ${formatBytes(g.size)}, sha256 ${g.sha256}`;
  }
  const l = r as LookupResult;
  const succ = l.successors.map(contactText).join(', ');
  const path = l.path.length > 1 ? `, path ${l.path.join(' > ')}` : '';
  return `Key ${l.key} is owned by peer ${contactText(l.owner)} (${l.hops} hops${path})${succ ? `; successors: ${succ}` : ''}`;
}

async function toStdout(client: RingClient, name: string, options: { signal: AbortSignal; onProgress?: (p: Progress) => void }): Promise<void> {
  for await (const chunk of client.get(name, options) as AsyncIterable<Buffer>) {
    if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
  }
}

async function perform(client: RingClient, plan: OneshotPlan, signal: AbortSignal, onProgress?: (p: Progress) => void): Promise<PutResult | GetFileResult | LookupResult | Deleted | undefined> {
  const options = { signal, ...(onProgress ? { onProgress } : {}) };
  switch (plan.kind) {
    case 'put':
      return client.put(plan.name, { path: plan.file }, { ...options, ...(plan.copies !== undefined ? { copies: plan.copies } : {}) });
    case 'get':
      if (plan.out === '-') return void (await toStdout(client, plan.name, options));
      return client.getFile(plan.name, resolve(plan.out), options);
    case 'lookup':
      return client.lookup(plan.key, { signal });
    case 'delete':
      await client.delete(plan.name, { signal });
      return { deleted: plan.name };
  }
}

/** Runs a one-shot; resolves with its exit status (a failure is one line on stderr). */
export async function runOneshot(plan: OneshotPlan, program: string): Promise<number> {
  const { connect } = await import('../api/client.js');
  const { toJson } = await import('../api/gateway-protocol.js');
  const ac = new AbortController();
  const interrupt = () => ac.abort();
  process.once('SIGINT', interrupt);
  const progress = progressLine(plan.kind === 'lookup' || plan.kind === 'delete' ? '' : plan.name);
  let client: RingClient | undefined;
  try {
    client = await connect(plan.via, { timeoutMs: plan.timeoutMs, ...(plan.tls ? { tls: plan.tls } : {}) });
    const result = await perform(client, plan, ac.signal, progress.onProgress);
    progress.done();
    if (result) process.stdout.write(`${plan.json ? toJson(result) : describe(plan, result)}\n`);
    return 0;
  } catch (err) {
    progress.done();
    process.stderr.write(`${program} ${plan.kind}: ${err instanceof Error ? err.message : String(err)}\n`);
    return err instanceof CdhtError ? err.exitCode : 1;
  } finally {
    process.off('SIGINT', interrupt);
    client?.close();
  }
}
