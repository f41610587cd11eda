// The container files, checked without a container runtime: their shape (stages, user, ports,
// probes, volumes, secrets), that they agree with each other and with package.json, and that
// every CDHT_* variable and --option they use is one `cdht node` takes (it prints them back).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CONFIG_SETTING, DEFAULT_LEAVE_TIMEOUT_S, SETTINGS, envName } from '../src/config/settings.js';
import { REPO_ROOT, cleanEnv, runCli } from './helpers/cli.js';
import {
  COMPOSE_FILE, DOCKERFILE, STATEFULSET_FILE, dockerEnv, dockerInstructions, expandK8sEnv, namesUsed, readCompose, readText, statefulSetEnv, statefulSetScript,
  type DockerInstruction,
} from './helpers/deploy-files.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cdht-deploy-'));
  dirs.push(d);
  return d;
}

const VARIABLES = new Set([...SETTINGS, CONFIG_SETTING].flatMap((s) => [envName(s.name), ...(s.aliases ?? [])]));
/** The long options `cdht node` takes: the settings', their --no- forms, and its own. */
const OPTIONS = new Set([...SETTINGS.map((s) => s.name), ...SETTINGS.filter((s) => s.offHelp).map((s) => `no-${s.name}`), CONFIG_SETTING.name, 'print-config']);

function assertKnown(where: string, names: { variables?: readonly string[]; options?: readonly string[] }): void {
  for (const v of names.variables ?? []) assert.ok(VARIABLES.has(v), `${where}: ${v} is no variable cdht node reads`);
  for (const o of names.options ?? []) assert.ok(OPTIONS.has(o), `${where}: --${o} is no option of cdht node`);
}

/** `cdht node --print-config` under these variables: the settings as the node reads them. */
async function printedConfig(env: Record<string, string>, args: string[] = []): Promise<Record<string, unknown>> {
  const p = await runCli(['node', ...args, '--print-config'], { cwd: tempDir(), env: cleanEnv(env), timeoutMs: 30_000 });
  assert.equal(p.status.code, 0, p.describe());
  return JSON.parse(p.out.join('\n')) as Record<string, unknown>;
}

/** Each variable's value as --print-config shows it: a list for seeds, a number for numbers. */
function assertPrinted(config: Record<string, unknown>, env: Record<string, string>, where: string): void {
  for (const s of SETTINGS) {
    const text = env[envName(s.name)];
    if (text === undefined) continue;
    const expected = s.kind === 'list' ? text.split(',') : s.kind === 'integer' || s.kind === 'number' ? Number(text) : text;
    assert.deepEqual(config[s.name], expected, `${where}: ${envName(s.name)} reaches ${s.name}`);
  }
}

const portOf = (hostPort: string): string => hostPort.slice(hostPort.lastIndexOf(':') + 1);

const dockerfile = dockerInstructions(readText(DOCKERFILE));
const imageEnv = dockerEnv(dockerfile);
const compose = readCompose();
const peerPort = portOf(compose.services[0]!.env['CDHT_LISTEN']!);

describe('Dockerfile', () => {
  const stages: DockerInstruction[][] = [];
  for (const i of dockerfile) (i.keyword === 'FROM' ? stages.push([i]) : stages.at(-1)?.push(i));
  const [build, runtime] = stages;
  const one = (keyword: string): string => {
    const found = runtime!.filter((i) => i.keyword === keyword);
    assert.equal(found.length, 1, `one ${keyword} in the runtime stage`);
    return found[0]!.args;
  };

  test('two stages from Node 20: the first installs and builds, the second runs', () => {
    assert.equal(stages.length, 2);
    assert.match(build![0]!.args, /^node:20\S* AS build$/);
    assert.match(runtime![0]!.args, /^node:20\S*$/);
    const runs = build!.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' && ');
    for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev']) assert.ok(runs.includes(step), `the build stage runs ${step}`);
  });

  test('the runtime stage copies package.json\'s "files", package.json and production node_modules, nothing else', () => {
    const { files } = JSON.parse(readText(join(REPO_ROOT, 'package.json'))) as { files: string[] };
    const copied = runtime!.filter((i) => i.keyword === 'COPY').map((i) => {
      const m = /^--from=build \/src\/(\S+) (\S+)$/.exec(i.args);
      assert.ok(m, `every runtime COPY takes from the build stage: ${i.args}`);
      return m[1]!;
    });
    assert.deepEqual(copied.sort(), ['package.json', 'node_modules', ...files].sort());
  });

  test('runs as a user other than root, with the data directory its own', () => {
    assert.ok(!['root', '0'].includes(one('USER')), 'not root');
    assert.equal(imageEnv['CDHT_DATA_DIR'], one('VOLUME'));
    assert.ok(runtime!.some((i) => i.keyword === 'RUN' && i.args.includes(`chown ${one('USER')}`) && i.args.includes(one('VOLUME'))));
  });

  test('exposes the peer port for UDP and TCP, and HTTP; the health check fetches /healthz on CDHT_HTTP', () => {
    const exposed = one('EXPOSE').split(' ');
    for (const p of [`${peerPort}/tcp`, `${peerPort}/udp`, `${portOf(imageEnv['CDHT_HTTP']!)}/tcp`]) assert.ok(exposed.includes(p), `EXPOSE ${p}`);
    const check = /^(?:--\S+ )*CMD (\[.*\])$/.exec(one('HEALTHCHECK'));
    assert.ok(check, 'HEALTHCHECK CMD in exec form');
    const argv = JSON.parse(check[1]!) as string[];
    assert.equal(argv[0], 'node');
    assert.ok(!/curl|wget/.test(argv.join(' ')), 'no curl or wget: the slim image has none');
    assert.match(argv.join(' '), new RegExp(`fetch\\('http://127\\.0\\.0\\.1:${portOf(imageEnv['CDHT_HTTP']!)}/healthz'\\)`));
  });

  test('the entry point is cdht node, and every variable it sets is one cdht node reads', async () => {
    assert.deepEqual(JSON.parse(one('ENTRYPOINT')), ['node', 'bin/cdht.js', 'node']);
    assert.ok(existsSync(join(REPO_ROOT, 'bin', 'cdht.js')));
    assertKnown('Dockerfile', { variables: Object.keys(imageEnv).filter((k) => k.startsWith('CDHT_')) });
    assertPrinted(await printedConfig(imageEnv), imageEnv, 'Dockerfile');
  });
});

describe('compose.yaml', () => {
  const { services } = compose;
  const ids = services.map((s) => s.env['CDHT_ID']!);

  test('five peers with distinct ids, each advertising its own service name on the peer port', () => {
    assert.equal(services.length, 5);
    assert.equal(new Set(ids).size, 5);
    for (const s of services) assert.equal(s.env['CDHT_ADVERTISE'], `${s.name}:${peerPort}`);
  });

  test('one starts the ring; the others seed through every other service by name', () => {
    const seeded = services.filter((s) => s.env['CDHT_SEEDS'] !== undefined);
    assert.equal(seeded.length, services.length - 1);
    for (const s of seeded) {
      const expected = services.filter((o) => o !== s).map((o) => `${o.name}:${peerPort}`);
      assert.deepEqual(s.env['CDHT_SEEDS']!.split(',').sort(), expected.sort(), s.name);
    }
  });

  test('a volume each, at the image\'s data directory, declared at the top level', () => {
    const used = services.map((s) => {
      assert.equal(s.volumes.length, 1, s.name);
      const [volume, path] = s.volumes[0]!.split(':');
      assert.equal(path, s.env['CDHT_DATA_DIR'] ?? imageEnv['CDHT_DATA_DIR'], s.name);
      return volume!;
    });
    assert.equal(new Set(used).size, services.length, 'no two peers share a volume');
    assert.deepEqual([...used].sort(), [...compose.volumes].sort());
  });

  test('a private ring: each peer gets the authority\'s certificate and only its own key and certificate', () => {
    for (const s of services) {
      const id = s.env['CDHT_ID']!;
      assert.equal(s.env['CDHT_TLS'], '/run/secrets', `${s.name}: secrets land in /run/secrets`);
      assert.deepEqual([...s.secrets.keys()].sort(), ['ca.crt', `peer-${id}.crt`, `peer-${id}.key`], s.name);
      for (const [target, secret] of s.secrets) assert.equal(compose.secrets.get(secret), `./tls/${target}`, `${s.name}: ${secret} is tls/${target}, as cdht ca issue names it`);
    }
  });

  test('every variable is one cdht node reads, and reaches its setting', async () => {
    for (const s of services) assertKnown(s.name, { variables: Object.keys(s.env) });
    await Promise.all(services.map(async (s) => assertPrinted(await printedConfig(s.env), s.env, s.name)));
  });
});

describe('deploy/kubernetes/statefulset.yaml', () => {
  const text = readText(STATEFULSET_FILE);
  const envList = statefulSetEnv(text);
  const script = statefulSetScript(text);
  const serviceName = /^ {2}serviceName: (\S+)$/m.exec(text)?.[1];
  const given = { POD_IP: '10.1.2.3', POD_NAMESPACE: 'ring' };

  test('a headless Service and a StatefulSet with one volume per pod', () => {
    assert.match(text, /^kind: Service\n(?:.*\n)*? {2}clusterIP: None$/m);
    assert.match(text, /^kind: StatefulSet$/m);
    assert.equal(serviceName, /^kind: Service\nmetadata:\n {2}name: (\S+)$/m.exec(text)?.[1], 'the StatefulSet is governed by the headless Service');
    const claim = /^ {2}volumeClaimTemplates:\n {4}- metadata:\n {8}name: (\S+)$/m.exec(text)?.[1];
    assert.ok(claim, 'a volume claim template');
    assert.ok(text.includes(`- {name: ${claim}, mountPath: /var/lib/cdht}`), 'each pod mounts its claim at the data directory');
    assert.equal(expandK8sEnv(envList, given)['CDHT_DATA_DIR'], '/var/lib/cdht');
  });

  test('probes on /readyz and /healthz; 30 s to leave on SIGTERM, above --leave-timeout; no preStop', () => {
    assert.match(text, /readinessProbe:\n\s+httpGet: \{path: \/readyz, port: http\}/);
    assert.match(text, /livenessProbe:\n\s+httpGet: \{path: \/healthz, port: http\}/);
    const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(text)?.[1]);
    assert.equal(grace, 30);
    assert.ok(grace > DEFAULT_LEAVE_TIMEOUT_S);
    assert.ok(!/preStop/.test(text.replace(/#.*$/gm, '')), 'no preStop hook');
    assert.match(text, /- \{name: peer-udp, containerPort: 7000, protocol: UDP\}/);
  });

  test('CDHT_SEEDS names the headless service; every variable and option is cdht node\'s', async () => {
    const env = expandK8sEnv(envList, given);
    assert.equal(env['CDHT_SEEDS'], `${serviceName}.ring.svc.cluster.local:${peerPort}`);
    assertKnown('statefulset.yaml', { variables: envList.map((e) => e.name).filter((n) => n.startsWith('CDHT_')), options: namesUsed(script).options });
    const cdhtEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('CDHT_')));
    assertPrinted(await printedConfig(cdhtEnv, ['--id', '1']), cdhtEnv, 'statefulset.yaml');
  });

  test('the container\'s script gives each ordinal its own id, and only pod 0 of an empty service starts a ring', () => {
    // a stand-in for node that prints what it was asked to run
    const bin = tempDir();
    writeFileSync(join(bin, 'node'), '#!/bin/sh\necho "$* seeds=${CDHT_SEEDS-none}"\n');
    chmodSync(join(bin, 'node'), 0o755);
    const run = (ordinal: number, service: string) =>
      execFileSync('sh', ['-c', script], { env: { ...expandK8sEnv(envList, given), PATH: `${bin}:${process.env['PATH']}`, HOSTNAME: `cdht-${ordinal}`, SERVICE_NAME: service }, encoding: 'utf8', timeout: 10_000 }).trim();
    const env = expandK8sEnv(envList, given);
    // .invalid never resolves: no pod is ready
    const ids = [0, 1, 2, 3, 4, 5, 6, 7].map((ordinal) => {
      const m = /^bin\/cdht\.js node --id (\d+) seeds=(\S+)$/.exec(run(ordinal, 'cdht.invalid'));
      assert.ok(m, `ordinal ${ordinal}`);
      assert.equal(m[2], ordinal === 0 ? 'none' : env['CDHT_SEEDS'], `ordinal ${ordinal}'s seeds with no pod ready`);
      return BigInt(m[1]!);
    });
    assert.equal(new Set(ids).size, ids.length, 'distinct ids');
    assert.ok(ids.every((id) => id < 2n ** BigInt(env['CDHT_BITS']!)), 'within the id space');
    assert.ok(run(0, 'localhost').endsWith(`seeds=${env['CDHT_SEEDS']}`), 'pod 0 joins when the service has a ready pod');
  });
});
