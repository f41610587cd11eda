// The web page in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core),
// clicked like a person: plan a ring with Add Node, Start it, Join Node through the form, Store and
// Request a real file, Leave (Graceful) and Leave (Abrupt); after each step the drawn ring must be
// the controller's true ring. Saves screenshots and measures how soon a change reaches the page,
// at 7 and at 256 peers, and the page's weight. A ring watched from outside (`cdht web --peer`)
// is drawn as walked, with no control that would change it.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { RingController } from '../src/control/ring-controller.js';
import { RemoteRing } from '../src/control/remote-ring.js';
import { CLIENT_ID, StatusClient } from '../src/control/status-walk.js';
import { createTestnet, REFERENCE_RING } from '../src/testnet.js';
import { SimNetwork } from '../src/transport/sim/network.js';
import { ringSuccessors } from '../src/core/ring.js';
import { startWebServer } from '../src/web/server.js';
import type { WebServer } from '../src/web/server.js';
import { REPO_ROOT } from './helpers/cli.js';
import { freeBasePort } from './helpers/ports.js';

const CHROMIUM = process.env['CDHT_CHROMIUM'] ?? '/usr/bin/chromium';
const SKIP = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium; .ci/run installs it; CDHT_CHROMIUM=path chooses another)`;
const SHOTS = process.env['CDHT_SCREENSHOTS'] ?? join(REPO_ROOT, 'dist', 'screenshots');
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** A safety net for what the page and the ring show, not a measure of speed (a busy 2-core machine draws late). */
const WAIT_MS = 60_000;

const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function browse(url: string): Promise<{ ctx: BrowserContext; page: Page; bytes: () => number; errors: string[] }> {
  const profile = mkdtempSync(join(tmpdir(), 'cdht-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 900 } });
  cleanups.push(() => rmSync(profile, { recursive: true, force: true }), () => ctx.close());
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(WAIT_MS);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  let bytes = 0;
  const external: string[] = [];
  page.on('request', (r) => !r.url().startsWith(url) && !r.url().startsWith('data:') && external.push(r.url()));
  page.on('response', (r) => void r.body().then((b) => (bytes += b.length), () => undefined));
  await page.goto(url);
  await page.waitForSelector('body[data-seq]');
  assert.deepEqual(external, [], 'the page loads nothing from elsewhere');
  // when each peer's drawn state last changed, for the latency figures
  await page.evaluate(() => {
    const w = window as unknown as { seen: Record<string, number> };
    w.seen = {};
    new MutationObserver((recs) => {
      for (const r of recs) {
        const el = r.target as SVGElement;
        if (el.dataset['peerId']) w.seen[`${el.dataset['peerId']}:${el.dataset['state']}`] = performance.timeOrigin + performance.now();
      }
    }).observe(document.querySelector('#peers')!, { attributes: true, subtree: true, childList: true, attributeFilter: ['data-state'] });
  });
  return { ctx, page, bytes: () => bytes, errors };
}

type Drawn = [id: string, state: string, successor: string][];

/** Waits until the drawn peers are the controller's, and (`settled`) its live peers form the true ring. */
async function assertDrawn(page: Page, ctl: RingController, settled = true): Promise<Drawn> {
  const deadline = Date.now() + WAIT_MS;
  let last = '';
  for (;;) {
    const s = ctl.state();
    const want: Drawn = s.peers.map((p) => [p.id, p.state, p.state === 'departed' ? '' : (p.successors[0] ?? '')]);
    const live = s.peers.filter((p) => p.state === 'live');
    const truth = ringSuccessors(live.map((p) => BigInt(p.id)));
    const isTrue = live.every((p) => p.phase === 'active' && p.successors.slice(0, 2).join() === truth.get(BigInt(p.id))!.join());
    const drawn = await page.$$eval('#peers [data-peer-id]', (els) => els.map((e) => [e.getAttribute('data-peer-id'), e.getAttribute('data-state'), e.getAttribute('data-successor')]));
    const byId = (a: unknown[][]) => JSON.stringify([...a].sort((x, y) => Number(x[0]) - Number(y[0])));
    last = `drawn ${byId(drawn)}\nwant  ${byId(want)}\ntrue ring: ${isTrue}`;
    if (byId(drawn) === byId(want) && (!settled || isTrue)) return want;
    if (Date.now() > deadline) assert.fail(`the page does not show the controller's ring\n${last}`);
    await page.waitForTimeout(50); // poll the page; the ring itself is waited on through this bound
  }
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name) });
}

/** Joins `id`; resolves with the moment it was in the ring (epoch ms), the change the page must show. */
async function joinedAt(ctl: RingController, id: string, via: string): Promise<number> {
  const done = ctl.join(id, via);
  await ctl.testnet!.peer(BigInt(id))!.ready;
  const t0 = Date.now();
  await done;
  return t0;
}

/** Kills `id`; resolves with the moment it had stopped (epoch ms). */
async function killedAt(ctl: RingController, id: string): Promise<number> {
  const peer = ctl.testnet!.peer(BigInt(id))!;
  const done = ctl.kill(id);
  await peer.closed;
  const t0 = Date.now();
  await done;
  return t0;
}

/** ms from `t0` (epoch ms) until the page drew `id` in `state`. */
async function drawnAfter(page: Page, t0: number, id: string, state: string): Promise<number> {
  const t1 = await page.waitForFunction((k) => (window as unknown as { seen: Record<string, number> }).seen[k], `${id}:${state}`);
  return (await t1.jsonValue()) - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const figures: Record<string, unknown> = {};
after(() => {
  if (Object.keys(figures).length === 0) return;
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, 'figures.json'), JSON.stringify(figures, null, 2) + '\n');
  console.log(`# web figures (${join(SHOTS, 'figures.json')}): ${JSON.stringify(figures)}`);
});

test('the storyboard in Chromium: plan, Start, Join Node, Store, Request, Leave (Graceful), Leave (Abrupt), Stop', { skip: SKIP }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdht-web-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const ids = [2, 4, 5, 8, 9, 14, 19];
  const ctl = new RingController({ basePort: await freeBasePort([...ids, 15, 40, 41, 42]), dataDir: dir, perPeerDirs: true, pingIntervalMs: 250, stateEveryMs: 50 });
  const web: WebServer = await startWebServer({ controller: ctl, port: 0 });
  cleanups.push(() => ctl.close(), () => web.close());
  const { page, bytes, errors } = await browse(web.url);
  const error = page.locator('#error');
  const peerId = page.getByLabel('Peer ID', { exact: true });
  const known = page.getByLabel('Known Peer', { exact: true });
  const file = page.getByLabel('File', { exact: true });

  // plan: Add Node, with the CLI's errors for a taken id and a bad one
  assert.equal(await page.getByRole('button', { name: 'Join Node' }).count(), 0, 'no Join Node before Start');
  for (const id of ids) {
    await peerId.fill(String(id));
    await page.getByRole('button', { name: 'Add Node' }).click();
    await page.locator(`[data-peer-id="${id}"][data-state="planned"]`).waitFor();
  }
  await peerId.fill('14');
  await peerId.press('Enter'); // the keyboard submits the form
  await assert.doesNotReject(error.filter({ hasText: 'Peer 14 is already planned' }).waitFor());
  assert.equal(await peerId.getAttribute('aria-invalid'), 'true');
  await peerId.fill('300');
  await page.getByRole('button', { name: 'Add Node' }).click();
  await error.filter({ hasText: "Peer ID must be a peer id, an integer from 0 to 255 (got '300')" }).waitFor();
  const planned = await assertDrawn(page, ctl, false);
  assert.deepEqual(planned, [['2', 'planned', '4'], ['4', 'planned', '5'], ['5', 'planned', '8'], ['8', 'planned', '9'], ['9', 'planned', '14'], ['14', 'planned', '19'], ['19', 'planned', '2']]);
  assert.equal(await page.getByRole('button', { name: 'Peer 14' }).getAttribute('tabindex'), '0');
  await shot(page, '1-planned.png');

  await page.getByRole('button', { name: 'Start' }).click();
  await assertDrawn(page, ctl);
  // the zoomed reference ring is a ring: every peer on one track, none stepped inwards
  assert.equal(await page.locator('#ring').getAttribute('data-tracks'), '1');
  const radii = await page.$$eval('#peers [data-peer-id]', (els) =>
    els.map((e) => {
      const m = /translate\(([-\d.]+),([-\d.]+)\)/.exec(e.getAttribute('transform') ?? '')!;
      return Math.round(Math.hypot(Number(m[1]), Number(m[2])));
    }),
  );
  assert.deepEqual([...new Set(radii)], [420], `every peer at the ring's radius: ${radii.join(', ')}`);
  // the buttons follow the reply to Start, which may come a moment after the ring is drawn
  await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Add Node' }).waitFor({ state: 'hidden' });

  // Join Node: an unknown known peer, a taken id, then a good join
  await peerId.fill('15');
  await known.fill('77');
  await page.getByRole('button', { name: 'Join Node' }).click();
  await error.filter({ hasText: 'Known Peer 77 is not in the ring (2, 4, 5, 8, 9, 14, 19)' }).waitFor();
  assert.equal(await known.getAttribute('aria-invalid'), 'true');
  await peerId.fill('14');
  await known.fill('4');
  await page.getByRole('button', { name: 'Join Node' }).click();
  await error.filter({ hasText: 'Peer 14 is already in the ring' }).waitFor();
  await peerId.fill('15');
  await page.getByRole('button', { name: 'Join Node' }).click();
  await page.locator('#message').filter({ hasText: 'Peer 15 joined through Peer 4' }).waitFor();
  await assertDrawn(page, ctl);
  assert.equal(await page.locator('[data-peer-id="14"]').getAttribute('data-successor'), '15');

  // Store a real file at 8 (key 19), chosen with the keyboard; a bad name first
  const bytesOf2067 = Buffer.alloc(300_000, 7);
  writeFileSync(join(dir, 'peer-8', '2067.pdf'), bytesOf2067);
  await page.getByRole('button', { name: 'Peer 8' }).focus();
  await page.keyboard.press('Enter');
  await page.locator('#peer-title').filter({ hasText: 'Peer 8' }).waitFor();
  await file.fill('12');
  await page.getByRole('button', { name: 'Store' }).click();
  await error.filter({ hasText: "Invalid file name '12': a file name is exactly four digits, 0000 to 9999" }).waitFor();
  assert.equal(await file.getAttribute('aria-invalid'), 'true');
  await file.fill('2067');
  await page.getByRole('button', { name: 'Store' }).click();
  const route = ctl.routes('2067', '8').path;
  const hops = route.slice(1).map((to, i) => [route[i], to]);
  await page.waitForFunction((n) => document.querySelectorAll('[data-hop][data-op="store"][data-subject="2067"]').length >= n, hops.length);
  const drawnHops = await page.$$eval('[data-hop][data-op="store"][data-subject="2067"]', (els) => els.map((e) => [e.getAttribute('data-from'), e.getAttribute('data-to')]));
  assert.deepEqual(drawnHops, hops, 'the Store is drawn hop by hop along the real route');
  await page.locator('[data-accepted="19"][data-op="store"]').waitFor();
  await page.locator('#op-list li').filter({ hasText: /Store 2067 from Peer 8: 8 → 9 → 14 → 15 → 19; stored at Peer 19/ }).waitFor();
  assert.deepEqual(readFileSync(join(dir, 'peer-19', '2067.pdf')), bytesOf2067);
  await shot(page, '2-store.png');

  // Request it from 2: the owner sends it straight back
  await page.getByRole('button', { name: 'Peer 2' }).click();
  await file.fill('2067');
  await page.getByRole('button', { name: 'Request' }).click();
  await page.locator('[data-transfer="2067"][data-from="19"][data-to="2"]').waitFor();
  await page.locator('#op-list li').filter({ hasText: 'received by Peer 2 (293.0 KiB)' }).waitFor();
  assert.deepEqual(readFileSync(join(dir, 'peer-2', 'received_2067.pdf')), bytesOf2067);
  await page.locator('#peer-files li').filter({ hasText: 'received_2067.pdf (293.0 KiB), received' }).waitFor();
  // a later operation takes the drawing: the Store's hops and ring are gone
  assert.equal(await page.locator('#hops [data-op="store"]').count(), 0, 'the finished Store is no longer drawn');
  // the progress label is whole, above the peers and inside the view
  const label = page.locator('[data-progress="2067"]');
  await label.filter({ hasText: '100% of 293.0 KiB' }).waitFor();
  assert.equal(await page.locator('#hop-labels [data-progress="2067"]').count(), 1, 'drawn above the peers');
  const [lb, view] = await Promise.all([label.boundingBox(), page.locator('#ring').boundingBox()]);
  assert.ok(lb && view && lb.x >= view.x && lb.y >= view.y && lb.x + lb.width <= view.x + view.width && lb.y + lb.height <= view.y + view.height, `label ${JSON.stringify(lb)} inside ${JSON.stringify(view)}`);
  await shot(page, '3-request.png');

  // a Request that fails is said in the error box, not left in the green one
  await file.fill('4103');
  await page.getByRole('button', { name: 'Request' }).click();
  await error.filter({ hasText: /^Request 4103 from Peer 2 failed: / }).waitFor();
  assert.equal(await page.locator('#message').textContent(), '', 'no green box for a failed Request');
  assert.equal(await page.locator('#hops [data-op="request"][data-subject="2067"]').count(), 0, 'the earlier Request is no longer drawn');

  // Leave (Graceful) at 9, Leave (Abrupt) at 14: drawn departed, the rest repaired
  await page.getByRole('button', { name: 'Peer 9' }).click();
  await page.getByRole('button', { name: 'Leave (Graceful)' }).click();
  await page.locator('[data-peer-id="9"][data-state="departed"]').waitFor();
  await assertDrawn(page, ctl);
  // a departed peer's panel offers nothing it cannot do
  await page.locator('#peer-neighbours').filter({ hasText: /^Departed \(graceful/ }).waitFor();
  for (const name of ['Store', 'Request', 'Leave (Graceful)', 'Leave (Abrupt)']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).isVisible(), false, `${name} is not offered to a departed peer`);
  }
  // the transcript shows what the console shows: no debug lines of the departure
  await page.locator('#transcript li').filter({ hasText: 'Peer 9 will depart from the network' }).first().waitFor();
  assert.equal(await page.locator('#transcript li').filter({ hasText: 'Could not deliver' }).count(), 0);
  await page.getByRole('button', { name: 'Peer 14' }).click();
  await page.getByRole('button', { name: 'Leave (Abrupt)' }).click();
  await page.locator('[data-peer-id="14"][data-state="departed"]').waitFor();
  const repaired = await assertDrawn(page, ctl);
  assert.deepEqual(repaired.find((r) => r[0] === '8'), ['8', 'live', '15']);
  assert.deepEqual(ctl.state().peers.filter((p) => p.state === 'departed').map((p) => [p.id, p.departure]), [['9', 'graceful'], ['14', 'abrupt']]);
  await shot(page, '4-departed.png');

  // the transcript, filtered by peer; the help overlay by keyboard
  await page.getByLabel('Peer', { exact: true }).selectOption('8');
  const peersShown = await page.$$eval('#transcript li', (els) => [...new Set(els.map((e) => e.getAttribute('data-peer')))]);
  assert.deepEqual(peersShown, ['8']);
  await page.locator('body').press('?');
  await page.getByRole('dialog', { name: 'What the symbols mean' }).waitFor();
  await page.keyboard.press('Escape');
  await page.getByRole('dialog').waitFor({ state: 'hidden' });

  // how soon a change made through the controller reaches the page (7 peers)
  const latency: number[] = [];
  // a peer is drawn live as soon as it runs here (joining), so the figure is from kills: stopped -> drawn departed
  for (const id of ['40', '41', '42']) await joinedAt(ctl, id, '2');
  for (const id of ['40', '41', '42']) latency.push(await drawnAfter(page, await killedAt(ctl, id), id, 'departed'));
  figures['latency7'] = { medianMs: Math.round(median(latency)), maxMs: Math.round(Math.max(...latency)), samples: latency.map(Math.round) };
  figures['pageWeightBytes'] = bytes();

  await page.getByRole('button', { name: 'Stop' }).click();
  await page.locator('body[data-phase="planned"]').waitFor();
  assert.ok((await assertDrawn(page, ctl, false)).every((r) => r[1] === 'planned'));
  assert.equal(await page.locator('#hops > *, #hop-labels > *').count(), 0, 'no arrows, rings or labels after Stop');
  await shot(page, '6-stopped.png');

  // the server goes away: the page does not go on saying the ring is running
  await web.close();
  await page.locator('#connection').filter({ hasText: 'Disconnected' }).waitFor();
  await page.locator('#summary').filter({ hasText: /^Not connected to the ring/ }).waitFor();
  assert.deepEqual(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), [], 'no errors in the page');
});

test('more than 64 peers in Chromium: departed peers do not hide the labels, and labels that fit are drawn', { skip: SKIP }, async () => {
  // 70 peers, 8 killed: 62 live, 70 drawn; then 20 more join: 82 live, labels outside the ring
  const ids = Array.from({ length: 70 }, (_, i) => i * 3);
  const ctl = new RingController({ runtime: 'sim', seed: 31, speed: 20, pingIntervalMs: 1000, stateEveryMs: 100, ids });
  await ctl.start();
  const web = await startWebServer({ controller: ctl, port: 0 });
  cleanups.push(() => ctl.close(), () => web.close());
  const { page, errors } = await browse(web.url);
  await assertDrawn(page, ctl);
  for (const id of ['3', '30', '60', '90', '120', '150', '180', '201']) await ctl.kill(id);
  await assertDrawn(page, ctl);
  const visible = () => page.$$eval('#peers text.label', (els) => els.filter((e) => getComputedStyle(e).display !== 'none').map((e) => e.textContent));
  assert.equal((await visible()).length >= 62, true, 'every live peer keeps its label with 70 drawn');
  for (let i = 0; i < 20; i++) await ctl.join(String(i * 3 + 1), '0');
  await assertDrawn(page, ctl);
  const shown = await visible();
  assert.ok(shown.length >= 40, `labels with room are drawn past 64 peers (${shown.length})`);
  // no two drawn labels overlap, and each is inside the ring's view
  const boxes = await page.$$eval('#peers text.label', (els) =>
    els.filter((e) => getComputedStyle(e).display !== 'none').map((e) => {
      const b = e.getBoundingClientRect();
      return [b.left, b.top, b.right, b.bottom];
    }),
  );
  const view = (await page.locator('#ring').boundingBox())!;
  for (const [i, a] of boxes.entries()) {
    assert.ok(a[0]! >= view.x - 1 && a[2]! <= view.x + view.width + 1 && a[1]! >= view.y - 1 && a[3]! <= view.y + view.height + 1, `label ${shown[i]} inside the view`);
    for (const b of boxes.slice(i + 1)) assert.ok(a[2]! <= b[0]! || b[2]! <= a[0]! || a[3]! <= b[1]! || b[3]! <= a[1]!, `labels ${JSON.stringify(a)} and ${JSON.stringify(b)} overlap`);
  }
  // the screenshot shows them: hiding the labels changes the picture
  mkdirSync(SHOTS, { recursive: true });
  const withLabels = await page.locator('#ring').screenshot({ path: join(SHOTS, '7-past-64-peers.png') });
  await page.$$eval('#peers text.label', (els) => els.forEach((e) => ((e as SVGTextElement).style.visibility = 'hidden')));
  const without = await page.locator('#ring').screenshot();
  assert.ok(!withLabels.equals(without), 'the labels are painted in the screenshot');
  assert.deepEqual(errors, []);
});

test('256 peers in Chromium: the drawn ring follows kills and joins, and stays smooth', { skip: SKIP }, async () => {
  // 253 peers; 3 fresh ids join to make 256, then 3 others are killed
  const fresh = ['10', '100', '200'];
  const ids = Array.from({ length: 256 }, (_, i) => i).filter((i) => !fresh.includes(String(i)));
  const ctl = new RingController({ runtime: 'sim', seed: 21, speed: 20, pingIntervalMs: 1000, stateEveryMs: 100, ids });
  await ctl.start();
  const web = await startWebServer({ controller: ctl, port: 0 });
  cleanups.push(() => ctl.close(), () => web.close());
  const { page, errors } = await browse(web.url);
  await assertDrawn(page, ctl);
  const firstState = JSON.stringify(ctl.state()).length;
  // frames during churn: kills and joins while the page redraws
  await page.evaluate(() => {
    const w = window as unknown as { gaps: number[]; stop: boolean };
    w.gaps = [];
    w.stop = false;
    let last = performance.now();
    const tick = (t: number) => {
      w.gaps.push(t - last);
      last = t;
      if (!w.stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const latency: number[] = [];
  for (const id of fresh) await joinedAt(ctl, id, '3');
  await assertDrawn(page, ctl);
  assert.equal(await page.locator('#peers [data-state="live"]').count(), 256);
  for (const id of ['50', '150', '250']) latency.push(await drawnAfter(page, await killedAt(ctl, id), id, 'departed'));
  await assertDrawn(page, ctl);
  const { gaps, renderMs } = await page.evaluate(() => {
    const w = window as unknown as { gaps: number[]; stop: boolean; cdhtRendered: { ms: number } };
    w.stop = true;
    return { gaps: w.gaps.slice(1), renderMs: w.cdhtRendered.ms };
  });
  const sorted = [...gaps].sort((a, b) => a - b);
  const p95 = sorted[Math.floor(sorted.length * 0.95)]!;
  figures['latency256'] = { medianMs: Math.round(median(latency)), maxMs: Math.round(Math.max(...latency)), samples: latency.map(Math.round) };
  figures['frames256'] = { frames: gaps.length, p95FrameMs: Math.round(p95), maxFrameMs: Math.round(sorted.at(-1)!), lastRenderMs: Math.round(renderMs * 10) / 10 };
  figures['stateBytes256'] = firstState;
  assert.equal(await page.locator('#peers [data-state="live"]').count(), 253);
  assert.equal(await page.locator('#peers [data-state="departed"]').count(), 3);
  // a loose bound (CI runs two test files at once on two cores); the figures tell the real story
  assert.ok(p95 < 250, `95% of frames within 250 ms during churn (p95 ${p95.toFixed(0)} ms)`);
  await shot(page, '5-256-peers.png');
  assert.deepEqual(errors, []);
});

test('a ring watched from outside, read-only: drawn as walked, its panel lists the address, no control would change it', { skip: SKIP }, async () => {
  const net = await createTestnet({ runtime: 'sim', pingIntervalMs: 1000, perPeerDirs: true, sim: new SimNetwork({ seed: 5 }) });
  await net.run(3000);
  const client = await StatusClient.open(net.runtime, { id: CLIENT_ID, host: '127.0.0.1', port: 40003 }, 'watcher');
  // a long refresh: the simulator stands still once the first walk is done
  const watcher = new RemoteRing({ runtime: net.runtime, client, peer: net.contactOf(8), refreshMs: 3_600_000 });
  const begun = watcher.begin();
  let walked = false;
  void begun.then(() => (walked = true), () => (walked = true));
  await net.until(() => walked, 20_000);
  await begun;
  const web = await startWebServer({ controller: watcher, host: '127.0.0.1', port: 0 });
  cleanups.push(() => net.close(), () => client.close(), () => watcher.close(), () => web.close());
  const { page, errors } = await browse(web.url);
  const drawn = await page.$$eval('#peers [data-peer-id]', (els) => els.map((e) => [e.getAttribute('data-peer-id'), e.getAttribute('data-state'), e.getAttribute('data-successor')]));
  const n = REFERENCE_RING.length;
  assert.deepEqual(drawn, REFERENCE_RING.map((id, i) => [String(id), 'live', String(REFERENCE_RING[(i + 1) % n])]));
  await page.waitForFunction(() => /^The ring at 127\.0\.0\.1:\d+, walked at .*: 7 peers; stale: none\. Read-only\./.test(document.querySelector('#summary')!.textContent ?? ''));
  for (const id of ['#start', '#stop', '#node-form']) assert.equal(await page.locator(id).isVisible(), false, `${id} is not offered`);
  await page.locator('#peers [data-peer-id="14"]').click();
  await page.waitForSelector('#peer-panel:not([hidden])');
  assert.equal(await page.locator('#peer-title').textContent(), 'Peer 14');
  assert.match((await page.locator('#peer-layers').textContent()) ?? '', new RegExp(`address127\\.0\\.0\\.1:${net.contactOf(14).port}`));
  assert.equal(await page.locator('#peer-files').textContent(), 'names are not told outside the ring');
  for (const id of ['#file-form', '#peer-leave']) assert.equal(await page.locator(id).isVisible(), false, `${id} is not offered`);
  await shot(page, '6-remote-read-only.png');
  assert.deepEqual(errors, []);
});
