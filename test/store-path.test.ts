// `Store PATH` above 8 bits, as the README promises it: any file, spaces and all, at a single
// peer and in the ring console; a refused Store leaves the data folder exactly as it was.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCommand } from '../src/cli/console.js';
import type { ConsoleHost } from '../src/cli/console.js';
import { storeDirOf } from '../src/store-dir.js';
import { publishPath, publishTyped } from '../src/control/publish.js';
import { RingController } from '../src/control/ring-controller.js';
import type { TraceView } from '../src/control/view-types.js';
import { unquoteName } from '../src/core/id-space.js';
import { idSpace } from '../src/space.js';
import { freeBasePort } from './helpers/ports.js';

const dirs: string[] = [];
const ctls: RingController[] = [];
after(async () => {
  await Promise.all(ctls.map((c) => c.close()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'cdht-store-path-'));
  dirs.push(d);
  return d;
};
const SPACE = idSpace(32);

/** What a folder holds: names, sizes and link counts (a hard link left behind shows in both). */
const snapshot = (dir: string) => readdirSync(dir).sort().map((n) => `${n}:${statSync(join(dir, n)).size}:${statSync(join(dir, n)).nlink}`);

test('a quoted name is one name; quotes only come off in matching pairs', () => {
  assert.equal(unquoteName('"my report (v2).pdf"'), 'my report (v2).pdf');
  assert.equal(unquoteName("' padded '"), ' padded ');
  assert.equal(unquoteName('"half'), '"half');
  assert.equal(unquoteName('plain.txt'), 'plain.txt');
});

test('publishPath: every refusal leaves the data folder and the source as they were', () => {
  const root = tempDir();
  const data = join(root, 'data');
  const src = join(root, 'src');
  mkdirSync(data);
  mkdirSync(src);
  writeFileSync(join(src, 'my report (v2).pdf'), 'v2');
  writeFileSync(join(src, '.hidden'), 'h');
  writeFileSync(join(data, 'taken.txt'), 'old');
  writeFileSync(join(src, 'taken.txt'), 'new');
  const before = [snapshot(data), snapshot(src)];
  const refusals: [string, boolean, RegExp][] = [
    [join(src, 'my report (v2).pdf'), false, /^Not in a ring yet: Store my report \(v2\)\.pdf ignored$/],
    [join(src, '.hidden'), true, /must not start with a dot/],
    [join(src, 'absent.txt'), true, /^There is no file .*absent\.txt to store$/],
    [src, true, /is not a regular file$/],
    [join(src, 'taken.txt'), true, /^taken\.txt is already in the store folder/],
    ['""', true, /^Store takes a file/],
  ];
  for (const [typed, inRing, why] of refusals) {
    const r = publishPath(typed, SPACE, data, inRing);
    assert.ok('error' in r, `${typed} is refused`);
    assert.match(r.error, why);
    assert.deepEqual([snapshot(data), snapshot(src)], before, `refusing ${typed} changed nothing`);
  }
  // accepted: a hard link under the base name, and the line the core reads keeps the spaces
  const typed = publishTyped(`Store ${join(src, 'my report (v2).pdf')}`, SPACE, data, true);
  assert.deepEqual(typed, { line: 'Store "my report (v2).pdf"' });
  assert.equal(statSync(join(data, 'my report (v2).pdf')).nlink, 2);
  // the spec space is never touched
  assert.deepEqual(publishTyped('Store /x/y', idSpace(8), data, true), { line: 'Store /x/y' });
});

test('ring console above 8 bits: <id> store PATH publishes any file, spaces and all; a refused one leaves nothing', async () => {
  const root = tempDir();
  const src = join(root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'plain.txt'), 'plain bytes');
  writeFileSync(join(src, 'my report (v2).pdf'), 'report bytes');
  writeFileSync(join(src, '.hidden'), 'h');
  const basePort = await freeBasePort([0, 1, 2]);
  const ctl = new RingController({ runtime: 'node', bits: 32, count: 3, basePort, dataDir: join(root, 'ring'), perPeerDirs: true, pingIntervalMs: 500 });
  ctls.push(ctl);
  await ctl.start();
  const lines: string[] = [];
  ctl.on('trace', (t: TraceView) => t.lines.forEach((l) => lines.push(l.text)));
  const said: string[] = [];
  const host: ConsoleHost = { ctl, say: (l) => void said.push(l), showRing: () => {}, toggleWatch: () => {}, setPings: () => false, pings: () => false, exit: () => {}, random: () => 0.5 };
  const id = ctl.liveIds()[0]!;
  const dir = ctl.testnet!.dataDirOf(id);
  const accepted = (name: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${name}' accepted; lines: ${lines.slice(-5).join(' | ')}; said: ${said.join(' | ')}`)), 15_000);
      const check = () => lines.includes(`Store ${name} request accepted`) && (clearTimeout(timer), ctl.off('trace', check), resolve());
      ctl.on('trace', check);
      check();
    });

  const before = snapshot(dir);
  await runCommand(host, `${id} store ${join(src, '.hidden')}`);
  assert.match(said.at(-1)!, /must not start with a dot/);
  assert.deepEqual(snapshot(dir), before, 'a refused store leaves the folder as it was');

  // an accepted store says nothing at the console (the peers' lines tell its route); no refusal, no warning
  const quiet = said.length;
  await runCommand(host, `${id} store ${join(src, 'plain.txt')}`);
  await accepted('plain.txt');
  await runCommand(host, `${id} store ${join(src, 'my report (v2).pdf')}`);
  await accepted('my report (v2).pdf');
  assert.deepEqual(said.slice(quiet), []);
  // above 8 bits a peer's stored names live in its store folder under its data folder
  const store = storeDirOf(dir, ctl.testnet!.space);
  assert.ok(snapshot(store).includes('my report (v2).pdf:12:2'), snapshot(store).join(', '));
  // a quoted bare name of a file in the folder stores too
  await runCommand(host, `${id} store "plain.txt"`);
  assert.deepEqual(said.slice(quiet), []);
});
