// `cdht node`'s settings turned into what it runs: the peer (checked by args.ts, as init and join
// are), its seeds, its HTTP address, its log format and leave bound, and the identity kept in its
// data directory. A mistake is one line naming where the value came from (flag, variable, file).
import { resolve } from 'node:path';
import type { Address, Target } from '../core/contact.js';
import { ArgumentProblem, nodePlan, OPEN_RING_NOTICE, parseHttpAddress, parseInterval, parseSeeds, type RawOptions, type RunPlan } from './args.js';
import { formatAddressOf } from './contacts.js';
import { ConfigProblem, describeSource, loadConfig, type MergedConfig } from '../config/merge.js';
import { LOG_FORMATS, SETTINGS, camelName, type LogFormat } from '../config/settings.js';
import { identityPath, keptTlsPath as keptTlsDir, readIdentity, readKeptTls, type NodeIdentity } from './node-identity.js';

export interface NodePlan {
  run: RunPlan;
  /** Tried in turn until one answers; none: a ring of one. */
  seeds: Target[];
  http?: Address;
  /** Where the gateway serves the data API to clients. */
  api?: Address;
  logFormat: LogFormat;
  leaveTimeoutMs: number;
  dataDir: string;
  /** Kept in the data directory once the node starts. */
  identity: NodeIdentity;
  /** The TLS files are to be kept in the data directory (given by --tls), or were read from there. */
  tlsKept?: 'save' | 'loaded';
}

/** What `cdht node` was asked: print its merged settings, or run. */
export type NodeChoice = { kind: 'print'; config: MergedConfig } | { kind: 'run'; plan: NodePlan };

/** `flags`: the options typed, by long name (only those typed). */
export function nodeChoice(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): NodeChoice {
  const config = loadConfig(flags, env);
  if (flags['print-config'] === true) return { kind: 'print', config };
  try {
    return { kind: 'run', plan: planOf(config) };
  } catch (err) {
    throw blamed(err, config);
  }
}

/** The settings as init and join's options hold them: text, booleans as they are (seeds aside). */
function rawOptionsOf(config: MergedConfig): RawOptions {
  const raw: Record<string, string | boolean> = {};
  for (const s of SETTINGS) {
    const v = config.values[s.name];
    if (v === undefined || Array.isArray(v)) continue;
    raw[camelName(s.name)] = typeof v === 'boolean' ? v : String(v);
  }
  return raw as unknown as RawOptions;
}

function planOf(config: MergedConfig): NodePlan {
  const v = config.values;
  const raw = rawOptionsOf(config);
  const dataDir = resolve(raw.dataDir ?? process.cwd());
  const kept = readIdentity(dataDir);
  const run = withKeptTls(nodePlan({ ...withIdentity(raw, kept), pingInterval: String(v['ping-interval']) }), dataDir);
  const { space, id, host, port } = run.peer;
  const identity: NodeIdentity = { id: space.format(BigInt(id)), bits: space.bits, advertise: formatAddressOf({ host: host!, port: port! }) };
  checkIdentity(identity, kept, dataDir);
  const logFormat = String(v['log-format']);
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) throw new ArgumentProblem(`--log-format must be ${LOG_FORMATS.join(' or ')} (got ${JSON.stringify(logFormat)})`);
  return {
    run,
    seeds: parseSeeds((v['seeds'] as string[] | undefined) ?? [], run),
    ...(v['http'] !== undefined ? { http: parseHttpAddress(String(v['http'])) } : {}),
    ...(v['api'] !== undefined ? { api: parseHttpAddress(String(v['api']), '--api') } : {}),
    logFormat: logFormat as LogFormat,
    leaveTimeoutMs: parseInterval(String(v['leave-timeout']), '--leave-timeout'),
    dataDir,
    identity,
    ...(run.peer.tls ? { tlsKept: raw.tls ? ('save' as const) : ('loaded' as const) } : {}),
  };
}

/**
 * Without --tls (nor CDHT_TLS_DIR, nor tls in the file), the TLS files kept in the data directory
 * from an earlier run: the peer comes back to its private ring as itself.
 */
function withKeptTls(run: RunPlan, dataDir: string): RunPlan {
  if (run.peer.tls) return run;
  const kept = readKeptTls(dataDir, BigInt(run.peer.id));
  if (!kept) return run;
  const notices = [...run.notices.filter((n) => n !== OPEN_RING_NOTICE), `Private ring: the TLS files kept in ${keptTlsDir(dataDir)} from an earlier --tls`, ...kept.notices];
  return { ...run, peer: { ...run.peer, tls: kept.tls }, notices };
}

/**
 * The kept id when none is given; above 8 bits the kept address too when neither --advertise nor
 * --listen is given (at 8 bits the address follows from --host, --base-port and the id, so a
 * changed layout is taken as meant).
 */
function withIdentity(raw: RawOptions, kept: NodeIdentity | undefined): RawOptions {
  if (!kept || Number(raw.bits) !== kept.bits) return raw;
  const keepAddress = kept.bits > 8 && raw.advertise === undefined && raw.listen === undefined;
  return { ...raw, id: raw.id ?? kept.id, ...(keepAddress ? { advertise: kept.advertise } : {}) };
}

/** A data directory belongs to one peer: another id or space there would serve its files as someone else's. */
function checkIdentity(now: NodeIdentity, kept: NodeIdentity | undefined, dataDir: string): void {
  if (!kept) return;
  const where = `${identityPath(dataDir)} belongs to Peer ${kept.id} of the ${kept.bits}-bit space`;
  if (now.bits !== kept.bits) throw new ArgumentProblem(`--bits ${now.bits}: ${where}; use --bits ${kept.bits}, or another --data-dir`);
  if (now.id !== kept.id) throw new ArgumentProblem(`--id ${now.id}: ${where}; use that id, or another --data-dir`);
}

/** An error about `--name` names the variable or the file the value came from instead. */
function blamed(err: unknown, config: MergedConfig): unknown {
  if (!(err instanceof ArgumentProblem) || err instanceof ConfigProblem) return err;
  const name = /^--([a-z-]+)/.exec(err.message)?.[1];
  const source = name === undefined ? undefined : config.sources[name];
  if (!source || source.kind === 'flag' || source.kind === 'default') return err;
  return new ArgumentProblem(`${describeSource(name!, source)}${err.message.slice(name!.length + 2)}`);
}
