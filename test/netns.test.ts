// compose.yaml's five-peer private ring without a container runtime: each service's very
// CDHT_* variables, run as a `cdht node` process in a network namespace of its own (the five
// joined by a bridge, service names resolved by each namespace's /etc/hosts, as a compose network
// resolves them), with certificates made by `cdht ca`. Checked: the image's HEALTHCHECK and
// /readyz in every namespace, /metrics over the bridge, one ring in true order, each file taken by
// its true owner and fetched from a host without a copy, and a SIGTERM that exits 0 with every
// file at k copies among the four left, each served from a peer without one.
// `cdht status --peer` (text and --json, with an operator's certificate) run in one namespace
// against another's peer must print the true ring, before and after the leave; `cdht web --peer`
// in one namespace serves a page whose state is that ring, and the departure.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RING_REPLICAS } from '../src/core/config.js';
import { CliProcess, cleanEnv, runCli } from './helpers/cli.js';
import { DOCKERFILE, dockerInstructions, readCompose, readText, type ComposeService } from './helpers/deploy-files.js';
import { fetchIn, makeLan, netnsUnavailable, runIn, type Lan, type LanHost } from './helpers/netns.js';
import { parsePrometheus, sampleValue } from './helpers/prometheus.js';
import type { RingState } from '../src/control/view-types.js';

/** Generous: five peers with TLS on two busy cores, and joiners back off between seed rounds. */
const WAIT_MS = 120_000;
const POLL_MS = 500;
/** A /24 that exists only inside the namespaces this test makes. */
const SUBNET = '10.213.7';
const FILES = 8;
/** Faster than compose's default 5 s, so deaths and repairs show within the test's bounds. */
const PING_INTERVAL_S = '1';

interface Peer {
  service: ComposeService;
  host: LanHost;
  proc: CliProcess;
  id: bigint;
  dataDir: string;
}

/** Polls `probe` until it returns something other than undefined, or fails naming `what`. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** The authority, then each peer's key and certificate in a folder of its own (its "secrets"). */
async function certificates(root: string, ids: readonly string[]): Promise<string[]> {
  const ca = join(root, 'ca');
  const made = await runCli(['ca', 'create', ca], { cwd: root, timeoutMs: 30_000 });
  assert.equal(made.status.code, 0, made.describe());
  return Promise.all(
    ids.map(async (id) => {
      const out = join(root, `tls-${id}`);
      const p = await runCli(['ca', 'issue', id, '--ca', ca, '--out', out], { cwd: root, timeoutMs: 30_000 });
      assert.equal(p.status.code, 0, p.describe());
      return out;
    }),
  );
}

/**
 * The service's variables as compose gives them; flags (which win over variables) change only
 * what differs off a container: where the data and the certificates are, text logs to read, and
 * the ping interval.
 */
function startPeer(root: string, service: ComposeService, host: LanHost, tls: string): Peer {
  const dataDir = join(root, `data-${service.name}`);
  mkdirSync(dataDir);
  const flags = ['--data-dir', dataDir, '--tls', tls, '--log-format', 'text', '--ping-interval', PING_INTERVAL_S, '--no-ping-lines', ...(process.env['NETNS_DEBUG'] ? ['--debug'] : [])];
  const proc = new CliProcess(['node', ...flags], { cwd: root, label: `${service.name} (${host.addr})`, env: cleanEnv(service.env), wrap: host.wrap });
  return { service, host, proc, id: BigInt(service.env['CDHT_ID']!), dataDir };
}

/** The last first-successor line a peer printed, as an id. */
function lastSuccessor(p: Peer): bigint | undefined {
  const line = [...p.proc.out].reverse().find((l) => /^My (new )?first successor is Peer \d+$/.test(l));
  return line === undefined ? undefined : BigInt(line.slice(line.lastIndexOf(' ') + 1));
}

/** Every running peer's successor is the next id round the ring of running peers. */
async function oneRing(peers: readonly Peer[]): Promise<void> {
  const ids = peers.map((p) => p.id).sort((a, b) => (a < b ? -1 : 1));
  const next = (id: bigint) => ids[(ids.indexOf(id) + 1) % ids.length]!;
  for (const p of peers) {
    await until(`${p.proc.label}'s first successor ${next(p.id)}\n  ${p.proc.describe()}`, () => (lastSuccessor(p) === next(p.id) ? true : undefined));
  }
}

const httpPort = (p: Peer): string => p.service.env['CDHT_HTTP']!.split(':').pop()!;

async function readyEverywhere(peers: readonly Peer[]): Promise<void> {
  const healthcheck = /CMD (\[.*\])$/.exec(dockerInstructions(readText(DOCKERFILE)).find((i) => i.keyword === 'HEALTHCHECK')!.args)![1]!;
  const [, ...checkArgs] = JSON.parse(healthcheck) as string[];
  await Promise.all(
    peers.map(async (p) => {
      const check = await runIn(p.host, [process.execPath, ...checkArgs], 30_000);
      assert.equal(check.code, 0, `the image's HEALTHCHECK in ${p.service.name}`);
      await until(`${p.service.name}'s /readyz 200`, async () => ((await fetchIn(p.host, `http://127.0.0.1:${httpPort(p)}/readyz`)).status === 200 ? true : undefined));
    }),
  );
}

/** Over the bridge, from the first peer's namespace: each one's metrics say it is in the ring. */
async function metricsInRing(peers: readonly Peer[]): Promise<void> {
  for (const p of peers) {
    const r = await fetchIn(peers[0]!.host, `http://${p.host.addr}:${httpPort(p)}/metrics`);
    assert.equal(r.status, 200, r.body);
    const e = parsePrometheus(r.body);
    assert.equal(sampleValue(e, 'cdht_in_ring'), 1, p.service.name);
    assert.ok(sampleValue(e, 'cdht_successors_alive')! >= 1, p.service.name);
  }
}

const storePath = (p: Peer, name: string) => join(p.dataDir, 'store', name);
const copiesOf = (peers: readonly Peer[], name: string) => peers.filter((p) => existsSync(storePath(p, name))).length;

/** Above 8 bits a name's key is the leading `bits` bits of the SHA-256 of the name. */
function keyOf(name: string, bits: number): bigint {
  return BigInt(`0x${createHash('sha256').update(name).digest('hex')}`) >> BigInt(256 - bits);
}

/** The true owner of a key: the first peer at or after it round the ring. */
function ownerOf(key: bigint, peers: readonly Peer[]): Peer {
  const sorted = [...peers].sort((a, b) => (a.id < b.id ? -1 : 1));
  return sorted.find((p) => p.id >= key) ?? sorted[0]!;
}

/** Names whose copies among `peers` are fewer than `k`. */
const shortOf = (peers: readonly Peer[], names: readonly string[], k: number) => names.filter((n) => copiesOf(peers, n) < k);

async function storeAll(from: Peer, root: string, names: readonly string[]): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const outbox = join(root, 'outbox');
  mkdirSync(outbox);
  names.forEach((name, i) => {
    files.set(name, randomBytes(50_000 + i * 10_000));
    writeFileSync(join(outbox, name), files.get(name)!);
    from.proc.send(`Store ${join(outbox, name)}`);
  });
  await from.proc.waitFor(names.map((n) => new RegExp(`^Store ${n.replace('.', '\\.')} (request accepted|accepted by Peer \\d+)$`)), { timeoutMs: WAIT_MS });
  return files;
}

/**
 * Requests each file at a peer that holds no copy of it (a holder would answer from its own
 * folder) and checks the bytes that land. Requests go out together, as typed.
 */
async function requestAll(peers: readonly Peer[], files: ReadonlyMap<string, Buffer>): Promise<void> {
  const asks = [...files.keys()].map((name) => {
    const at = peers.find((p) => !existsSync(storePath(p, name)));
    assert.ok(at, `some peer holds no copy of ${name}`);
    return { name, at };
  });
  peers.forEach((p) => p.proc.mark());
  for (const { name, at } of asks) at.proc.send(`Request ${name}`);
  for (const { name, at } of asks) {
    // above 8 bits a typed Request is a get: its outcome line comes once the copy is in place
    await at.proc.waitFor([`File ${name} received`, new RegExp(`^Received ${name.replace('.', '\\.')}: \\d+ bytes, sha256 `)], { ordered: true, timeoutMs: WAIT_MS });
    assert.deepEqual(readFileSync(join(at.dataDir, `received_${name}`)), files.get(name), `${name} at ${at.service.name}`);
    rmSync(join(at.dataDir, `received_${name}`)); // a later request lands afresh
  }
}

/** One peer as `cdht status --json` prints it. */
interface StatusRow {
  id: string;
  address: string;
  state: string;
  keys: number;
  share: number;
  pred: string | null;
  successors: string[];
}

/**
 * `cdht status --peer` run in `from`'s namespace, asking `at` (by its advertised name, resolved
 * there as a container's would be) with the operator's certificate: the text table and the JSON
 * both list the running peers clockwise from `at`, each at its advertised address, in state
 * normal, with its true predecessor and successor. Returns the JSON rows.
 */
async function statusMatches(root: string, from: Peer, at: Peer, running: readonly Peer[], operator: string): Promise<StatusRow[]> {
  const sorted = [...running].sort((a, b) => (a.id < b.id ? -1 : 1));
  const i = sorted.indexOf(at);
  const order = [...sorted.slice(i), ...sorted.slice(0, i)];
  const advertised = (p: Peer) => p.service.env['CDHT_ADVERTISE']!;
  const args = ['status', '--peer', advertised(at), '--tls', operator, '--timeout', '20'];
  const opts = { cwd: root, env: cleanEnv(), wrap: from.host.wrap, timeoutMs: WAIT_MS };

  const text = await runCli(args, opts);
  assert.equal(text.status.code, 0, text.describe());
  assert.match(text.out[0]!, new RegExp(`^Ring of ${running.length} peers \\(32-bit ids\\) walked from ${advertised(at)}$`), text.describe());
  const rows = text.out.filter((l) => /^\d+\s/.test(l)).map((l) => l.split(/\s{2,}/));
  assert.deepEqual(rows.map((r) => [r[0], r[1], r[2]]), order.map((p) => [String(p.id), advertised(p), 'normal']), text.describe());
  assert.ok(text.out.some((l) => l.startsWith('Shares add up to 100.00%')), text.describe());

  const json = await runCli([...args, '--json'], opts);
  assert.equal(json.status.code, 0, json.describe());
  const peers = JSON.parse(json.out.join('\n')) as StatusRow[];
  assert.deepEqual(peers.map((p) => [p.id, p.address, p.state]), order.map((p) => [String(p.id), advertised(p), 'normal']));
  peers.forEach((p, j) => {
    assert.equal(p.pred, String(order[(j + order.length - 1) % order.length]!.id), `${p.id}'s predecessor`);
    assert.equal(p.successors[0], String(order[(j + 1) % order.length]!.id), `${p.id}'s first successor`);
  });
  assert.ok(Math.abs(peers.reduce((s, p) => s + p.share, 0) - 1) < 1e-9, 'the shares cover the id space');
  return peers;
}

/**
 * A page's socket opened inside `host`'s namespace (the page listens on its loopback): waits for a
 * state whose live peers are `ids` in a walk that came round, and resolves with it.
 */
const PAGE_SCRIPT = `const WebSocket = require(process.argv[1]); const want = process.argv[3]; let last;
const ws = new WebSocket(process.argv[2].replace(/^http/, 'ws') + 'ws');
const stop = setTimeout(() => { process.stdout.write(JSON.stringify({ timedOut: true, last })); process.exit(1); }, Number(process.argv[4]));
ws.on('message', (d) => { const m = JSON.parse(String(d)); if (m.type !== 'state') return; last = m;
  const live = m.peers.filter((p) => p.state === 'live').map((p) => p.id).join();
  if (live === want && m.remote && m.remote.complete && m.stale.length === 0) { clearTimeout(stop); process.stdout.write(JSON.stringify(m)); ws.terminate(); } });
ws.on('error', (e) => { process.stdout.write(JSON.stringify({ error: String(e) })); process.exit(1); });`;

async function pageShows(host: LanHost, url: string, running: readonly Peer[]): Promise<RingState> {
  const ids = [...running].sort((a, b) => (a.id < b.id ? -1 : 1)).map((p) => String(p.id));
  const wsPath = createRequire(import.meta.url).resolve('ws');
  const r = await runIn(host, [process.execPath, '-e', PAGE_SCRIPT, wsPath, url, ids.join(), String(WAIT_MS - 10_000)], WAIT_MS);
  assert.equal(r.code, 0, `the page in ${host.ns} shows the ring ${ids.join()}: ${r.out.slice(0, 2000)}`);
  return JSON.parse(r.out) as RingState;
}

/** NETNS_LOGS=DIR keeps each peer's whole output there, and the names in its store (NETNS_DEBUG=1 adds --debug lines): the failure message shows only a tail. */
function keepLogs(peers: readonly Peer[]): void {
  const dir = process.env['NETNS_LOGS'];
  if (dir) for (const p of peers) writeFileSync(join(dir, `${p.service.name}.log`), [...p.proc.out, '--- stderr', ...p.proc.err, '--- stored files', ...(existsSync(join(p.dataDir, 'store')) ? readdirSync(join(p.dataDir, 'store')) : [])].join('\n'));
}

test('compose.yaml\'s private ring in five network namespaces: ready, one ring, files across hosts, a SIGTERM loses no copy', { timeout: 600_000, skip: netnsUnavailable() }, async (t) => {
  const services = readCompose().services;
  const root = mkdtempSync(join(tmpdir(), 'cdht-netns-'));
  let lan: Lan | undefined;
  const peers: Peer[] = [];
  let web: CliProcess | undefined;
  const started = Date.now();
  const lap = (what: string) => t.diagnostic(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  try {
    const tls = await certificates(root, services.map((s) => s.env['CDHT_ID']!));
    // an operator's certificate from the same authority (an id no peer has): status on a private ring needs one
    const operator = join(root, 'operator');
    const issued = await runCli(['ca', 'issue', '4000000000', '--ca', join(root, 'ca'), '--out', operator], { cwd: root, timeoutMs: 30_000 });
    assert.equal(issued.status.code, 0, issued.describe());
    lan = makeLan(services.length, SUBNET, services.map((s) => s.name));
    // all at once, as `docker compose up` starts them
    services.forEach((s, i) => peers.push(startPeer(root, s, lan!.hosts[i]!, tls[i]!)));
    await oneRing(peers);
    lap('one ring');
    await readyEverywhere(peers);
    await metricsInRing(peers);
    lap('every /readyz 200');

    // the walk from another host: cdht-1's namespace asks cdht-3, which it reaches over the bridge
    await statusMatches(root, peers[0]!, peers[2]!, peers, operator);
    const anonymous = await runCli(['status', '--peer', peers[2]!.service.env['CDHT_ADVERTISE']!], { cwd: root, env: cleanEnv(), wrap: peers[0]!.host.wrap, timeoutMs: WAIT_MS });
    assert.equal(anonymous.status.code, 1, anonymous.describe());
    assert.match(anonymous.err.join('\n'), /is private: give --tls DIR/);
    lap('cdht status across the namespaces');

    // the page for the ring, served in cdht-1's namespace, walking from cdht-2 with a certificate of
    // its own (a private ring's peers keep one connection per id: not the status runs' id)
    const webCert = join(root, 'operator-web');
    const webIssued = await runCli(['ca', 'issue', '4000000001', '--ca', join(root, 'ca'), '--out', webCert], { cwd: root, timeoutMs: 30_000 });
    assert.equal(webIssued.status.code, 0, webIssued.describe());
    web = new CliProcess(['web', '--peer', peers[1]!.service.env['CDHT_ADVERTISE']!, '--tls', webCert, '--web-port', '0', '--refresh', '1', '--timeout', '20'], { cwd: root, label: 'cdht web', env: cleanEnv(), wrap: peers[0]!.host.wrap });
    await web.waitFor([/^Watching the ring at cdht-2:7000: 5 peers \(32-bit ids\); a peer may be asked to leave/, /^Web page: http:\/\/127\.0\.0\.1:\d+\/$/], { timeoutMs: WAIT_MS });
    const pageUrl = web.out.find((l) => l.startsWith('Web page: '))!.slice('Web page: '.length);
    const shown = await pageShows(peers[0]!.host, pageUrl, peers);
    for (const p of peers) {
      const v = shown.peers.find((x) => x.id === String(p.id));
      assert.equal(v?.layers?.['address'], p.service.env['CDHT_ADVERTISE'], `${p.service.name} on the page`);
      assert.equal(v?.phase, 'active');
    }
    lap('cdht web --peer across the namespaces');

    // compose sets no CDHT_REPLICAS: the default above 8 bits
    assert.ok(services.every((s) => s.env['CDHT_REPLICAS'] === undefined && Number(s.env['CDHT_BITS']) > 8));
    const k = RING_REPLICAS;
    const names = Array.from({ length: FILES }, (_, i) => `file-${i}.bin`);
    const owner = new Map(names.map((n) => [n, ownerOf(keyOf(n, Number(services[0]!.env['CDHT_BITS'])), peers)]));
    // The owner of the most files stores them all, and later leaves: its hand-over has the most
    // to do, and the copies it keeps as their publisher (beyond the ring's k) go with it, so
    // afterwards each file has a peer without a copy to request it from.
    const leaver = peers.reduce((a, b) => (names.filter((n) => owner.get(n) === b).length > names.filter((n) => owner.get(n) === a).length ? b : a));
    const files = await storeAll(leaver, root, names);
    for (const n of names) assert.ok(owner.get(n)!.proc.out.includes(`Store ${n} request accepted`), `${n} taken by its true owner, ${owner.get(n)!.service.name}`);
    await until(`every file at ${k} peers`, () => (shortOf(peers, names, k).length === 0 ? true : undefined));
    const held = await statusMatches(root, peers[4]!, peers[1]!, peers, operator);
    assert.ok(held.reduce((s, p) => s + p.keys, 0) >= FILES * k, `status counts at least ${FILES * k} keys held: ${JSON.stringify(held.map((p) => p.keys))}`);
    await requestAll(peers, files);
    lap('stored and fetched');

    const rest = peers.filter((p) => p !== leaver);
    const leftAt = Date.now();
    leaver.proc.signal('SIGTERM');
    assert.deepEqual(await leaver.proc.waitForExit(WAIT_MS), { code: 0, signal: null }, leaver.proc.describe());
    const exitMs = Date.now() - leftAt;
    assert.ok(leaver.proc.out.some((l) => l.startsWith('Leaving the ring; telling Peer')), leaver.proc.describe());
    // Its hand-over gives its successor what that one lacks, then each key to the peers that hold
    // it once the leaver is gone (the third, for a key it owned, once its second predecessor has
    // vouched for the bytes): checked the moment it has exited, before any repair could run.
    assert.deepEqual(shortOf(rest, names, k), [], `every file at ${k} copies among the four as the leaver exits`);
    t.diagnostic(`${leaver.service.name} owned ${names.filter((n) => owner.get(n) === leaver).length} of ${FILES} files; SIGTERM to exit 0 in ${exitMs} ms`);
    lap('left');
    await oneRing(rest);
    // the walk no longer meets the leaver
    await statusMatches(root, rest[0]!, rest.at(-1)!, rest, operator);
    const shownAfter = await pageShows(peers[0]!.host, pageUrl, rest);
    assert.equal(shownAfter.peers.find((p) => p.id === String(leaver.id))?.state, 'departed', 'the leaver is drawn as departed');
    await requestAll(rest, files);
    lap('after the leave');
  } finally {
    await Promise.all([...peers.map((p) => p.proc.stop()), web?.stop()]);
    keepLogs(peers);
    lan?.close();
    rmSync(root, { recursive: true, force: true });
  }
});
