// What the command line loads before it knows the command, read from the import statements (no
// clock): --help, --version and a one-shot must not pay for the ring, the simulator, the
// certificates or the web server; no module of src/cli imports itself back, types included; and
// `cdht ca issue` loads the ASN.1 layer it writes certificates with, not all of @peculiar/x509.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { cleanEnv, REPO_ROOT, runCli } from './helpers/cli.js';

/** `import ... from '...'`, `import type ...` and `export ... from '...'` at the start of a line. */
const IMPORT = /^\s*(?:import|export)\s+(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;

/** The relative modules and the packages a compiled module reaches through static imports. */
function staticGraph(entry: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return { modules, packages };
}

test('the command line starts with commander alone: each command loads its own modules when it runs', () => {
  const dist = join(REPO_ROOT, 'dist', 'src');
  const { modules, packages } = staticGraph(join(dist, 'cli', 'main.js'));
  assert.deepEqual([...packages], ['commander']);
  const loaded = [...modules].map((f) => relative(dist, f).split('\\').join('/'));
  for (const heavy of ['peer.js', 'testnet.js', 'transport/sim/network.js', 'control/ring-controller.js', 'security/ca.js', 'web/server.js', 'cli/ring.js', 'cli/run.js', 'check/run.js']) {
    assert.ok(!loaded.includes(heavy), `main.js loads ${heavy} at start: import it where its command runs`);
  }
});

test('no import circle in src/cli, type-only imports included', () => {
  const dir = join(REPO_ROOT, 'src', 'cli');
  const edges = new Map<string, string[]>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const targets = [...readFileSync(join(dir, name), 'utf8').matchAll(IMPORT)]
      .map((m) => m[1]!)
      .filter((s) => s.startsWith('./'))
      .map((s) => s.slice(2).replace(/\.js$/, '.ts'));
    edges.set(name, targets);
  }
  // depth-first search; a module met again while still on the path closes a circle
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'open') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'open');
    path.push(name);
    for (const next of edges.get(name) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of edges.keys()) {
    const circle = visit(name);
    assert.equal(circle, undefined, `import circle: ${circle?.join(' -> ')}`);
  }
});

/** The packages (npm names) of the CommonJS files `cdht args...` loaded, seen by helpers/loaded-modules. */
async function packagesLoadedBy(args: string[], cwd: string): Promise<Set<string>> {
  const list = join(cwd, `loaded-${args[1] ?? args[0]}.json`);
  const hook = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'helpers', 'loaded-modules.js')).href;
  const nodeOptions = [process.env.NODE_OPTIONS, `--import=${hook}`].filter(Boolean).join(' ');
  const p = await runCli(args, { cwd, env: cleanEnv({ NODE_OPTIONS: nodeOptions, LOADED_MODULES_FILE: list }) });
  assert.equal(p.status.code, 0, p.describe());
  const files = JSON.parse(readFileSync(list, 'utf8')) as string[];
  return new Set(files.flatMap((f) => /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(f)?.[1]?.replace('\\', '/') ?? []));
}

const caDir = mkdtempSync(join(tmpdir(), 'cdht-cli-start-'));
after(() => rmSync(caDir, { recursive: true, force: true }));

test('cdht ca create and ca issue load @peculiar/asn1-x509 and its helpers, not @peculiar/x509\'s dependency injection, CMS or PKCS#12', async () => {
  // @peculiar/asn1-x509, @peculiar/asn1-schema and what they require; nothing else of a ca command is CommonJS
  const allowed = new Set(['commander', '@peculiar/asn1-x509', '@peculiar/asn1-schema', '@peculiar/utils', 'asn1js', 'pvtsutils', 'pvutils', 'tslib']);
  for (const args of [['ca', 'create', join(caDir, 'ring')], ['ca', 'issue', '7', '--ca', join(caDir, 'ring')]]) {
    const packages = await packagesLoadedBy(args, caDir);
    assert.ok(packages.has('@peculiar/asn1-x509'), `cdht ${args.slice(0, 2).join(' ')} loads the ASN.1 layer (the hook sees it): ${[...packages].join(', ')}`);
    for (const heavy of ['@peculiar/x509', 'reflect-metadata', 'tsyringe', '@peculiar/asn1-pfx', '@peculiar/asn1-cms', '@peculiar/asn1-csr']) {
      assert.ok(!packages.has(heavy), `cdht ${args.slice(0, 2).join(' ')} loads ${heavy}`);
    }
    assert.deepEqual([...packages].filter((p) => !allowed.has(p)), [], `cdht ${args.slice(0, 2).join(' ')} loads only what writing a certificate needs`);
  }
});
