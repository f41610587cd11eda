// The package as a user gets it: `npm pack`, installed into an empty folder, where every README
// library example runs as written (importing 'cdht'), its CLI answers, and a TypeScript program
// type-checks against its typed entry points.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT, runCli } from './helpers/cli.js';
import { freeBasePort } from './helpers/ports.js';
import { exampleTitle, libraryExamples, onBasePort } from './helpers/readme-examples.js';

const root = mkdtempSync(join(tmpdir(), 'cdht-package-'));
const app = join(root, 'app');
after(() => rmSync(root, { recursive: true, force: true }));

const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });

before(() => {
  // the build is there already (npm test builds first): pack it as it is
  const out = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', root], REPO_ROOT);
  const tarball = (JSON.parse(out) as { filename: string }[])[0]!.filename;
  execFileSync('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'cdht-user', private: true, type: 'module' }));
  // the dependencies come from npm's cache where it has them (CI installed them moments ago)
  npm(['install', join(root, tarball), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app);
});

test('the packed package holds no tests, benchmarks or sources, and its bin runs', async () => {
  const files = (JSON.parse(npm(['pack', '--dry-run', '--ignore-scripts', '--json'], REPO_ROOT)) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  assert.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts'), 'the entry point and its types');
  assert.deepEqual(files.filter((f) => /^(src|test|bench)\/|^dist\/(test|bench)\//.test(f)), []);
  const p = await runCli(['--version'], { cwd: app, script: join(app, 'node_modules', '.bin', 'cdht'), timeoutMs: 30_000 });
  assert.equal(p.status.code, 0, p.describe());
  assert.match(p.out.join('\n'), /^\d+\.\d+\.\d+/);
});

// The examples as written but for their base port: one reserved for this file's life, not the
// README's 12000, which a reader's own ring (or another test run) may hold.
const basePort = await freeBasePort([0, 1, 2, 3, 4, 5]);

libraryExamples().forEach((code, i) => {
  test(`README example ${i + 1}, from the installed package: ${exampleTitle(code)}`, async () => {
    const file = join(app, `example-${i + 1}.mjs`);
    writeFileSync(file, onBasePort(code, basePort));
    const p = await runCli([], { cwd: app, script: file, timeoutMs: 180_000 });
    const why = p.describe();
    assert.equal(p.status.code, 0, why);
    // an id printed raw shows as a BigInt literal (`2n`), which no reader wants to see
    assert.ok(!p.out.some((l) => /\b\d+n\b/.test(l)), `no BigInt literal printed:\n${why}`);
  });
});

test('a TypeScript program type-checks against the installed package (exports with types)', () => {
  writeFileSync(
    join(app, 'typed.ts'),
    [
      "import { startPeer, CdhtError, type PutResult, type PeerStored } from 'cdht';",
      "import { createThrowawayRing } from 'cdht/security';",
      "const peer = startPeer({ id: 2, mode: { kind: 'init', successors: [4, 5] }, pingIntervalMs: 1000 });",
      "peer.on('stored', (s: PeerStored) => s.name.length);",
      "// @ts-expect-error an event the peer does not have takes no typed listener",
      "peer.on('stored', (s: number) => s);",
      "const done: Promise<PutResult> = peer.put('2067', new Uint8Array(4));",
      "const code: string = new CdhtError('CDHT_ERR_NOT_FOUND', 'x').code;",
      'void done; void code; void createThrowawayRing;',
    ].join('\n'),
  );
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const types = join(REPO_ROOT, 'node_modules', '@types');
  try {
    execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', '--typeRoots', types, '--types', 'node', 'typed.ts'], { cwd: app, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    assert.fail(`tsc found problems:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
  }
});
