// One side of the transport benchmarks, as a process of its own, driven over IPC by run.ts:
// a cdht endpoint (open or private ring), and the plain Node TCP and TLS 1.3 copies it is
// measured against (createReadStream(file).pipe(socket) into socket.pipe(createWriteStream)).
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import type { Contact } from '../src/core/contact.js';
import type { FileBegin } from '../src/core/messages.js';
import { tlsClientOptions, tlsContextOptions } from '../src/security/tls.js';
import { createNodeRuntime } from '../src/transport/node/endpoint.js';
import type { Endpoint, TlsIdentity } from '../src/transport/types.js';

/** Sent by the parent. Ids travel as strings (IPC has no bigint). */
export type ChildCommand =
  | { kind: 'open'; id: string; host: string; port: number; plainPort: number; dataDir: string; tls?: Omit<TlsIdentity, 'id'> }
  | { kind: 'clean' }
  | { kind: 'send-file'; to: { id: string; host: string; port: number }; name: string; size: number }
  | { kind: 'plain-copy'; port: number; path: string }
  | { kind: 'exit' };

/** cpuMs: CPU time (all threads) this process used since the previous report. */
export type ChildReport =
  | { kind: 'ready' }
  | { kind: 'cleaned' }
  | { kind: 'received'; how: 'cdht' | 'plain'; ok: boolean; error?: string; cpuMs: number }
  | { kind: 'sent'; ok: boolean; error?: string; cpuMs: number };

const RECEIVED = 'received.bin';
const PLAIN_COPY = 'plain-copy.bin';

let endpoint: Endpoint | undefined;
let plainServer: net.Server | undefined;
let identity: TlsIdentity | undefined;
let self: Contact | undefined;
let dataDir = '';

let cpuMark = process.cpuUsage();
function cpuMs(): number {
  const d = process.cpuUsage(cpuMark);
  cpuMark = process.cpuUsage();
  return Math.round((d.user + d.system) / 1000);
}

const report = (r: ChildReport): void => {
  process.send?.(r);
};

async function open(c: Extract<ChildCommand, { kind: 'open' }>): Promise<void> {
  dataDir = c.dataDir;
  self = { id: BigInt(c.id), host: c.host, port: c.port };
  identity = c.tls ? { id: self.id, ...c.tls } : undefined;
  endpoint = await createNodeRuntime().openEndpoint(
    { self, dataDir, ...(identity ? { tls: identity } : {}) },
    {
      onMessage() {},
      onBadInput(detail) {
        process.stderr.write(`bench child: ${detail}\n`);
      },
      onFileOffer: () => RECEIVED,
      onFileDone: (_h, r) => report({ kind: 'received', how: 'cdht', ok: r.ok, ...(r.ok ? {} : { error: r.error }), cpuMs: cpuMs() }),
    },
  );
  // The baseline: whatever arrives is piped to a file, over TCP or mutual TLS 1.3 like ours.
  const sink = (sock: net.Socket): void => {
    const out = createWriteStream(join(dataDir, PLAIN_COPY));
    sock.pipe(out);
    out.on('close', () => report({ kind: 'received', how: 'plain', ok: true, cpuMs: cpuMs() }));
    sock.on('error', () => {});
  };
  plainServer = identity ? tls.createServer(tlsContextOptions(identity), sink) : net.createServer(sink);
  await new Promise<void>((resolve) => plainServer!.listen(c.plainPort, c.host, resolve));
  report({ kind: 'ready' });
}

async function sendFile(c: Extract<ChildCommand, { kind: 'send-file' }>): Promise<void> {
  const header: FileBegin = { type: 'file-begin', from: self!, file: '4103', rid: 1, purpose: 'request', size: c.size };
  try {
    await endpoint!.sendFile({ id: BigInt(c.to.id), host: c.to.host, port: c.to.port }, header, c.name);
    report({ kind: 'sent', ok: true, cpuMs: cpuMs() });
  } catch (err) {
    report({ kind: 'sent', ok: false, error: String(err), cpuMs: cpuMs() });
  }
}

function plainCopy(c: Extract<ChildCommand, { kind: 'plain-copy' }>): void {
  const sock = identity ? tls.connect({ host: self!.host, port: c.port, ...tlsClientOptions(identity) }) : net.connect({ host: self!.host, port: c.port });
  sock.once(identity ? 'secureConnect' : 'connect', () => createReadStream(c.path).pipe(sock));
  let failed: string | undefined;
  sock.on('error', (err) => (failed = String(err)));
  sock.on('close', () => report({ kind: 'sent', ok: failed === undefined, ...(failed ? { error: failed } : {}), cpuMs: cpuMs() }));
}

process.on('message', (c: ChildCommand) => {
  switch (c.kind) {
    case 'open':
      void open(c);
      break;
    case 'clean':
      for (const f of [RECEIVED, PLAIN_COPY]) rmSync(join(dataDir, f), { force: true });
      cpuMs(); // the next report counts from here
      report({ kind: 'cleaned' });
      break;
    case 'send-file':
      void sendFile(c);
      break;
    case 'plain-copy':
      plainCopy(c);
      break;
    case 'exit':
      void Promise.resolve(endpoint?.close()).finally(() => plainServer?.close(() => process.exit(0)) ?? process.exit(0));
      break;
  }
});
