// docs/api.md cannot fall behind the package: it names every export and every error code, and
// each code's row gives the exit status the catalog says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as cdht from '../src/index.js';
import { ERROR_CODES } from '../src/core/errors.js';
import { REPO_ROOT } from './helpers/cli.js';

const doc = readFileSync(join(REPO_ROOT, 'docs', 'api.md'), 'utf8');

test('docs/api.md names every export of the package', () => {
  const missing = Object.keys(cdht).filter((name) => !doc.includes(`\`${name}`) && !doc.includes(`${name}(`));
  assert.deepEqual(missing, [], `not in docs/api.md: ${missing.join(', ')}`);
});

test('docs/api.md lists every error code with its kind and exit status', () => {
  for (const [code, info] of Object.entries(ERROR_CODES)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\``));
    assert.ok(row, `no row for ${code}`);
    const cells = row.split('|').map((c) => c.trim());
    assert.equal(cells[2], info.kind, `${code}: kind`);
    assert.equal(cells[3], String(info.exit), `${code}: exit status`);
  }
});

test('docs/api.md lists no error code the catalog lacks', () => {
  const listed = doc.split('\n').flatMap((l) => /^\| `(CDHT_ERR_\w+)`/.exec(l)?.[1] ?? []);
  assert.deepEqual(listed.filter((c) => !Object.hasOwn(ERROR_CODES, c)), []);
  assert.equal(new Set(listed).size, listed.length, 'a code listed twice');
});

test('every error code has a hint, an exit status, and a CdhtError says them', () => {
  for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
    const e = new cdht.CdhtError(code, 'x');
    assert.ok(e.hint.length > 10, code);
    assert.ok(Number.isInteger(e.exitCode) && e.exitCode > 0, code);
    assert.equal(e.remote, ERROR_CODES[code].kind === 'remote');
  }
  assert.equal(cdht.isErrorCode('CDHT_ERR_NOT_FOUND'), true);
  assert.equal(cdht.isErrorCode('ERR_NOT_FOUND'), false);
});
