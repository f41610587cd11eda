// The README's library examples run as written: each ```ts block of "As a library" becomes a
// module importing the built package, run by node in a fresh folder; it must exit 0.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import { REPO_ROOT, runCli } from './helpers/cli.js';
import { exampleTitle, libraryExamples, README } from './helpers/readme-examples.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const readme = README;
const blocks = libraryExamples();
const lib = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'index.js')).href;

test('the README has library examples to run', () => {
  assert.ok(blocks.length >= 3, `found ${blocks.length} examples`);
});

blocks.forEach((code, i) => {
  test(`README example ${i + 1}: ${exampleTitle(code)}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cdht-readme-'));
    dirs.push(dir);
    const file = join(dir, `example-${i + 1}.mjs`);
    writeFileSync(file, code.replace(/from 'cdht'/g, `from '${lib}'`));
    const p = await runCli([], { cwd: dir, script: file, timeoutMs: 60_000 });
    const why = p.describe();
    if (p.status.code !== 0 && /address already in use/.test(why)) {
      assert.fail(`the example's ports are taken on this machine (is a ring running on port 12000+id?)\n${why}`);
    }
    assert.equal(p.status.code, 0, why);
    // an id printed raw shows as a BigInt literal (`2n`), which no reader wants to see
    assert.ok(!p.out.some((l) => /\b\d+n\b/.test(l)), `no BigInt literal printed:\n${why}`);
  });
});

test('the licence package.json names is there, and the README warns about ephemeral base ports', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'MIT');
  const licence = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
  assert.match(licence, /^MIT License\n/);
  assert.match(licence, /THE SOFTWARE IS PROVIDED "AS IS"/);
  assert.match(readme, /out of 32768–60999: Linux gives those ports to outgoing\s+connections/);
});
