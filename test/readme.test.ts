// The README's promises about itself: it has library examples (package.test.ts runs them from the
// packed package), the licence it names is there, and it warns about ephemeral base ports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers/cli.js';
import { libraryExamples, README } from './helpers/readme-examples.js';

const readme = README;
const blocks = libraryExamples();

test('the README has library examples to run', () => {
  assert.ok(blocks.length >= 3, `found ${blocks.length} examples`);
});

// The examples themselves run in package.test.ts, from the packed package in an empty folder.

test('the licence package.json names is there, and the README warns about ephemeral base ports', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'MIT');
  const licence = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
  assert.match(licence, /^MIT License\n/);
  assert.match(licence, /THE SOFTWARE IS PROVIDED "AS IS"/);
  assert.match(readme, /out of 32768–60999: Linux gives those ports to outgoing\s+connections/);
});
