// The README's promises about itself: it has library examples (package.test.ts runs them from the
// packed package), the licence it names is there, and it warns about ephemeral base ports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers/cli.js';
import { libraryExamples, onBasePort, README } from './helpers/readme-examples.js';

const readme = README;
const blocks = libraryExamples();

test('the README has library examples to run', () => {
  assert.ok(blocks.length >= 3, `found ${blocks.length} examples`);
});

// The examples themselves run in package.test.ts, from the packed package in an empty folder.

test('every ring and peer an example starts takes the test\'s base port, never the README\'s fixed 12000', () => {
  for (const code of blocks) {
    const starts = code.match(/\b(createTestnet|startPeer)\(/g)?.length ?? 0;
    assert.equal(onBasePort(code, 23456).match(/\b(createTestnet|startPeer)\(\{ basePort: 23456,/g)?.length ?? 0, starts, code);
  }
});

test('the licence package.json names is there, and the README warns about ephemeral base ports', () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'MIT');
  const licence = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8');
  assert.match(licence, /^MIT License\n/);
  assert.match(licence, /THE SOFTWARE IS PROVIDED "AS IS"/);
  assert.match(readme, /out of 32768–60999: Linux gives those ports to outgoing\s+connections/);
});
