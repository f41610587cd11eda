// A private LAN of network namespaces for tests run as root: one namespace per host, each with
// a veth link to a bridge that lives in a namespace of its own, so no address, route or packet
// ever reaches the machine's own network. Names carry a random tag: runs never collide.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** `ip netns exec` bind-mounts files found here over /etc: a namespace's own /etc/hosts. */
const NETNS_ETC = '/etc/netns';

/** Why namespaces cannot be made here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'the ip command (iproute2) is missing or cannot list namespaces';
  }
  return undefined;
}

export interface LanHost {
  /** The namespace's name. */
  ns: string;
  addr: string;
  /** Runs a command inside the namespace (ip netns exec execs it: signals reach it directly). */
  wrap: string[];
}

export interface Lan {
  hosts: LanHost[];
  /** Deletes every namespace, link and hosts file it made; safe to call twice. */
  close(): void;
}

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe' });
const inNs = (ns: string, ...args: string[]): void => ip('netns', 'exec', ns, 'ip', ...args);

/**
 * `count` hosts at `${prefix}.1`, `${prefix}.2`, ... (a /24 that exists only inside them). With
 * `names`, each host's /etc/hosts maps names[i] to host i, so names resolve as a container
 * network's do. On failure half-way, what was made is removed before the error is thrown.
 */
export function makeLan(count: number, prefix: string, names: readonly string[] = []): Lan {
  const tag = randomBytes(3).toString('hex');
  const bridgeNs = `cdht-br-${tag}`;
  const made: string[] = [];
  const close = (): void => {
    for (const ns of made.splice(0).reverse()) {
      try {
        ip('netns', 'del', ns); // its veth ends, and the bridge, go with it
      } catch {
        // already gone
      }
      rmSync(join(NETNS_ETC, ns), { recursive: true, force: true });
    }
  };
  try {
    ip('netns', 'add', bridgeNs);
    made.push(bridgeNs);
    inNs(bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    inNs(bridgeNs, 'link', 'set', 'br0', 'up');
    const hosts = Array.from({ length: count }, (_, i) => addHost(`cdht-${tag}-${i}`, `${prefix}.${i + 1}`, `${tag}${i}`, bridgeNs, made));
    if (names.length > 0) writeHostsFiles(hosts, names);
    return { hosts, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** A namespace with one veth link to the bridge (link names stay within 15 characters). */
function addHost(ns: string, addr: string, link: string, bridgeNs: string, made: string[]): LanHost {
  ip('netns', 'add', ns);
  made.push(ns);
  ip('link', 'add', `h${link}`, 'type', 'veth', 'peer', 'name', `b${link}`);
  ip('link', 'set', `h${link}`, 'netns', ns);
  ip('link', 'set', `b${link}`, 'netns', bridgeNs);
  inNs(ns, 'addr', 'add', `${addr}/24`, 'dev', `h${link}`);
  inNs(ns, 'link', 'set', `h${link}`, 'up');
  inNs(ns, 'link', 'set', 'lo', 'up');
  inNs(bridgeNs, 'link', 'set', `b${link}`, 'master', 'br0');
  inNs(bridgeNs, 'link', 'set', `b${link}`, 'up');
  return { ns, addr, wrap: ['ip', 'netns', 'exec', ns] };
}

function writeHostsFiles(hosts: readonly LanHost[], names: readonly string[]): void {
  const text = ['127.0.0.1 localhost', ...hosts.map((h, i) => `${h.addr} ${names[i]}`), ''].join('\n');
  for (const h of hosts) {
    mkdirSync(join(NETNS_ETC, h.ns), { recursive: true });
    writeFileSync(join(NETNS_ETC, h.ns, 'hosts'), text);
  }
}

/** Runs argv inside the namespace; resolves with its exit code and stdout, bounded by timeoutMs. */
export function runIn(host: LanHost, argv: readonly string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  const [cmd, ...rest] = [...host.wrap, ...argv];
  return new Promise((resolve) => {
    execFile(cmd!, rest, { timeout: timeoutMs, encoding: 'utf8' }, (err, out) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out });
    });
  });
}

/** Node's own fetch, run inside the namespace (the test's process is outside every one). */
const FETCH_SCRIPT = `fetch(process.argv[1], { signal: AbortSignal.timeout(10000) }).then(
  async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })),
  (e) => process.stdout.write(JSON.stringify({ status: 0, body: String(e) })))`;

export async function fetchIn(host: LanHost, url: string): Promise<{ status: number; body: string }> {
  const r = await runIn(host, [process.execPath, '-e', FETCH_SCRIPT, url], 20_000);
  try {
    return JSON.parse(r.out) as { status: number; body: string };
  } catch {
    return { status: 0, body: `the fetch process exited ${r.code}: ${r.out}` };
  }
}
