// Reads the container files (Dockerfile, compose.yaml, deploy/kubernetes/statefulset.yaml) the
// way their tests need, without a YAML package: each file is written in a fixed shape, and these
// readers fail loudly when the shape changes, so a test never checks less than it claims.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cli.js';

export const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');
export const COMPOSE_FILE = join(REPO_ROOT, 'compose.yaml');
export const STATEFULSET_FILE = join(REPO_ROOT, 'deploy', 'kubernetes', 'statefulset.yaml');

export const readText = (path: string): string => readFileSync(path, 'utf8');

// ---- Dockerfile ---------------------------------------------------------------------------

export interface DockerInstruction {
  keyword: string;
  args: string;
}

/** Instructions in order, continuation lines joined and comments dropped. */
export function dockerInstructions(text: string): DockerInstruction[] {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return logical.map((l) => {
    const m = /^([A-Z]+)\s+(.*)$/.exec(l);
    assert.ok(m, `not a Dockerfile instruction: ${l}`);
    return { keyword: m[1]!, args: m[2]!.replace(/\s+/g, ' ') };
  });
}

/** ENV's KEY=value pairs (quotes off). */
export function dockerEnv(instructions: readonly DockerInstruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions.filter((x) => x.keyword === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return env;
}

// ---- compose.yaml ---------------------------------------------------------------------------

export interface ComposeService {
  name: string;
  /** Its own variables over the shared `x-env` block it merges in. */
  env: Record<string, string>;
  /** `volume:path` as written. */
  volumes: string[];
  /** target file name → secret name. */
  secrets: Map<string, string>;
}

export interface ComposeFile {
  services: ComposeService[];
  /** Top-level volume names. */
  volumes: string[];
  /** Top-level secret name → its file. */
  secrets: Map<string, string>;
}

const unquote = (v: string): string => v.trim().replace(/^"(.*)"$/, '$1');

/** `KEY: value` lines indented exactly `indent` spaces, up to the first line indented less. */
function mapAt(lines: readonly string[], from: number, indent: number): Record<string, string> {
  const out: Record<string, string> = {};
  const pad = ' '.repeat(indent);
  for (let i = from; i < lines.length && (lines[i]!.startsWith(pad) || lines[i]!.trim() === ''); i++) {
    const m = new RegExp(`^${pad}([A-Za-z0-9_.-]+):\\s*(.*)$`).exec(lines[i]!);
    if (m && m[1] !== '<<') out[m[1]!] = unquote(m[2]!);
  }
  return out;
}

/** The lines of the top-level block `name:` (without it), up to the next top-level key. */
function topBlock(lines: readonly string[], name: string): string[] {
  const start = lines.findIndex((l) => l.startsWith(`${name}:`));
  assert.ok(start >= 0, `compose.yaml has no top-level ${name}`);
  const end = lines.findIndex((l, i) => i > start && /^\S/.test(l) && !l.startsWith('#'));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

function composeService(name: string, body: readonly string[], shared: Record<string, string>): ComposeService {
  const envAt = body.findIndex((l) => l === '    environment:');
  assert.ok(envAt >= 0, `${name} has no environment block`);
  assert.ok(body[envAt + 1] === '      <<: *env', `${name}'s environment merges the shared x-env first`);
  const volumes = /^ {4}volumes: \[(.*)\]$/m.exec(body.join('\n'))?.[1]?.split(',').map(unquote) ?? [];
  const secrets = new Map<string, string>();
  for (const m of body.join('\n').matchAll(/- source: (\S+)\n\s+target: (\S+)/g)) secrets.set(m[2]!, m[1]!);
  return { name, env: { ...shared, ...mapAt(body, envAt + 1, 6) }, volumes, secrets };
}

export function readCompose(text: string = readText(COMPOSE_FILE)): ComposeFile {
  assert.ok(!text.includes('\t'), 'YAML is indented with spaces');
  const lines = text.split('\n');
  const sharedAt = lines.indexOf('x-env: &env');
  assert.ok(sharedAt >= 0, 'compose.yaml has the shared x-env block');
  const shared = mapAt(lines, sharedAt + 1, 2);
  const body = topBlock(lines, 'services');
  const starts = body.flatMap((l, i) => (/^ {2}[a-z0-9-]+:$/.test(l) ? [i] : []));
  const services = starts.map((s, j) => composeService(body[s]!.trim().slice(0, -1), body.slice(s + 1, starts[j + 1]), shared));
  const secrets = new Map<string, string>();
  for (const m of topBlock(lines, 'secrets').join('\n').matchAll(/^ {2}(\S+):\n {4}file: (\S+)$/gm)) secrets.set(m[1]!, m[2]!);
  const volumes = topBlock(lines, 'volumes').flatMap((l) => /^ {2}([a-z0-9-]+):$/.exec(l)?.[1] ?? []);
  return { services, volumes, secrets };
}

// ---- statefulset.yaml --------------------------------------------------------------------------

export interface K8sEnv {
  name: string;
  /** As written, `$(VAR)` references unexpanded; undefined for a valueFrom. */
  value?: string;
}

/** The container's env list, in order (Kubernetes expands `$(VAR)` only from earlier entries). */
export function statefulSetEnv(text: string): K8sEnv[] {
  const out: K8sEnv[] = [];
  for (const m of text.matchAll(/^ {12}- name: (\S+)\n {14}(value|valueFrom): (.*)$/gm)) {
    out.push(m[2] === 'value' ? { name: m[1]!, value: unquote(m[3]!) } : { name: m[1]! });
  }
  return out;
}

/** Kubernetes' `$(VAR)` expansion: from earlier entries, then from `given` (the downward API's). */
export function expandK8sEnv(list: readonly K8sEnv[], given: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...given };
  for (const e of list) {
    if (e.value === undefined) continue;
    env[e.name] = e.value.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (whole, v: string) => env[v] ?? whole);
  }
  return env;
}

/** The shell script of the container's `args: - |` block. */
export function statefulSetScript(text: string): string {
  const m = /^ {10}args:\n {12}- \|\n((?: {14}.*\n)+)/m.exec(text);
  assert.ok(m, 'the StatefulSet container runs a script block');
  return m[1]!.split('\n').map((l) => l.slice(14)).join('\n');
}

// ---- names ------------------------------------------------------------------------------------

/** Every `CDHT_*` variable and `--option` a text names. */
export function namesUsed(text: string): { variables: string[]; options: string[] } {
  const uniq = (xs: Iterable<string>) => [...new Set(xs)].sort();
  return {
    variables: uniq([...text.matchAll(/\bCDHT_[A-Z0-9_]+/g)].map((m) => m[0])),
    options: uniq([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!)),
  };
}
