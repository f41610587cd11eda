// Merges a peer's settings from four places, first found wins: flags, CDHT_* environment
// variables, a config file (TOML or JSON), the defaults. Only shapes are checked here (a number
// where a number belongs, no unknown key); what a value means (a port in range, a directory that
// exists) is args.ts's, as for typed flags, so the two can never disagree.
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ArgumentProblem } from '../cli/args.js';
import { CONFIG_SETTING, SETTINGS, envName, type Setting, type SettingValue } from './settings.js';

/** Where a value came from: shown by --print-config's callers and named in error messages. */
export type Source = { kind: 'flag' } | { kind: 'env'; variable: string } | { kind: 'file'; path: string } | { kind: 'default' };

export interface MergedConfig {
  values: Record<string, SettingValue>;
  sources: Record<string, Source>;
}

/** A config file, an environment variable or a flag that cannot be used: one line, exit 2. */
export class ConfigProblem extends ArgumentProblem {}

const quoted = (v: unknown): string => JSON.stringify(v);
/** Text read as a boolean from a variable (a flag is a boolean already, a file has true/false). */
const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/**
 * Checks one value's shape and brings it to the setting's type; `where` names its source in
 * errors. Flags and variables are text (`typed`): a list is comma-separated there, a boolean a
 * word; a file has real lists and booleans.
 */
function shaped(s: Setting, value: unknown, where: string, typed = false): SettingValue {
  const bad = (wanted: string): never => {
    throw new ConfigProblem(`${where} must be ${wanted} (got ${quoted(value)})`);
  };
  switch (s.kind) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typed && typeof value === 'string' && TRUE_WORDS.has(value.toLowerCase())) return true;
      if (typed && typeof value === 'string' && FALSE_WORDS.has(value.toLowerCase())) return false;
      return bad('true or false');
    case 'list':
      if (typed && typeof value === 'string') return value.split(',').map((w) => w.trim()).filter(Boolean);
      if (Array.isArray(value) && value.every((w) => typeof w === 'string')) return value.map((w) => w.trim());
      return bad('a list of strings');
    case 'integer':
    case 'number':
      // a number in a file, its digits in a variable or a flag: args.ts checks the range
      if (typeof value === 'number' && (s.kind === 'number' || Number.isInteger(value))) return value;
      // text that is exactly a number becomes one (--print-config then prints what a file would
      // hold); any other text stays as typed, so args.ts's message quotes it back unchanged
      if (typeof value === 'string') return String(Number(value)) === value && (s.kind === 'number' || Number.isInteger(Number(value))) ? Number(value) : value;
      return bad(s.kind === 'integer' ? 'an integer' : 'a number');
    case 'string':
      if (typeof value === 'string') return value;
      return bad('a string');
  }
}

/** A config file's settings, by name; its format is its extension's (.toml or .json). */
export function readConfigFile(path: string): Record<string, unknown> {
  const ext = extname(path).toLowerCase();
  if (ext !== '.toml' && ext !== '.json') throw new ConfigProblem(`--config ${path}: the file must end in .toml or .json`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigProblem(`--config ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const parsed: unknown = ext === '.toml' ? parseToml(text) : JSON.parse(text);
    // plain: caught below and said as a ConfigProblem, like the parsers' own errors
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('the file must hold a table of settings');
    return parsed as Record<string, unknown>;
  } catch (err) {
    // the parsers' messages span lines (TOML shows the offending line): the first says what is wrong
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new ConfigProblem(`--config ${path}: not valid ${ext === '.toml' ? 'TOML' : 'JSON'}: ${first}`);
  }
}

/** The file's settings, each checked; an unknown key is a mistake, never ignored (a typo would silently keep a default). */
function fromFile(path: string, table: Record<string, unknown>): Map<string, SettingValue> {
  const known = new Map(SETTINGS.map((s) => [s.name, s]));
  const out = new Map<string, SettingValue>();
  for (const [key, value] of Object.entries(table)) {
    const s = known.get(key);
    if (!s) throw new ConfigProblem(`${path}: unknown setting ${quoted(key)} (settings are the long options' names, such as data-dir)`);
    out.set(key, shaped(s, value, `${path}: ${key}`));
  }
  return out;
}

/** The first variable set for `s` (its canonical name, then older aliases) and its value. */
function fromEnv(s: Setting, env: NodeJS.ProcessEnv): { variable: string; value: string } | undefined {
  for (const variable of [envName(s.name), ...(s.aliases ?? [])]) {
    const value = env[variable];
    // an empty variable is an unset one: `CDHT_TLS= cdht node` must not mean a directory named ''
    if (value !== undefined && value !== '') return { variable, value };
  }
  return undefined;
}

/** Where the config file is: --config, else CDHT_CONFIG; none when neither is given. */
export function configPath(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string | undefined {
  const flag = flags[CONFIG_SETTING.name];
  if (typeof flag === 'string' && flag !== '') return flag;
  const variable = env[envName(CONFIG_SETTING.name)];
  return variable === undefined || variable === '' ? undefined : variable;
}

/**
 * The merged settings. `flags`: what was typed, by long name (absent when not typed); `file`:
 * the config file's path and parsed table, when there is one.
 */
export function mergeConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, file?: { path: string; table: Record<string, unknown> }): MergedConfig {
  const fileValues = file ? fromFile(file.path, file.table) : new Map<string, SettingValue>();
  const merged: MergedConfig = { values: {}, sources: {} };
  const set = (name: string, value: SettingValue, source: Source) => {
    merged.values[name] = value;
    merged.sources[name] = source;
  };
  for (const s of SETTINGS) {
    const variable = fromEnv(s, env);
    if (flags[s.name] !== undefined) set(s.name, shaped(s, flags[s.name], `--${s.name}`, true), { kind: 'flag' });
    else if (variable) set(s.name, shaped(s, variable.value, variable.variable, true), { kind: 'env', variable: variable.variable });
    else if (fileValues.has(s.name)) set(s.name, fileValues.get(s.name)!, { kind: 'file', path: file!.path });
    else if (s.default !== undefined) set(s.name, s.default, { kind: 'default' });
  }
  return merged;
}

/** Reads the config file the flags or the environment name, and merges everything. */
export function loadConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): MergedConfig {
  const path = configPath(flags, env);
  return mergeConfig(flags, env, path === undefined ? undefined : { path, table: readConfigFile(path) });
}

/** How an error message names a setting's source: `--bits`, `CDHT_BITS`, or `cdht.toml: bits`. */
export function describeSource(name: string, source: Source | undefined): string {
  switch (source?.kind) {
    case 'env':
      return source.variable;
    case 'file':
      return `${source.path}: ${name}`;
    default:
      return `--${name}`;
  }
}
