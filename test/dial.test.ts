// Dialing: every failed dial rejects with CDHT_ERR_UNREACHABLE and leaves the set that tracks
// sockets in progress once its socket has closed; a successful one keeps no dial listener.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { test, type TestContext } from 'node:test';
import { createThrowawayRing } from '../src/security/tls.js';
import { dialSocket } from '../src/transport/node/tls.js';

/** A loopback server, closed (with its sockets) when the test ends, pass or fail. */
async function server(t: TestContext, onSocket: (s: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  const open = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    open.add(s);
    s.on('error', () => {});
    onSocket(s);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const close = (): void => {
    for (const s of open) s.destroy();
    if (srv.listening) srv.close();
  };
  t.after(close);
  return { port: (srv.address() as net.AddressInfo).port, close };
}

/**
 * Lets the destroyed sockets' close events run (they come a turn or two after `destroy`; a
 * socket's `closed` flag is set before its event, so it cannot be awaited by itself).
 */
async function untracked(track: Set<net.Socket>): Promise<void> {
  for (let turn = 0; turn < 1000 && track.size > 0; turn++) await new Promise((r) => setImmediate(r));
}

test('a refused dial, a dial whose peer hangs up before TLS and a timed-out one all leave the tracking set', { timeout: 10_000 }, async (t) => {
  const ring = await createThrowawayRing();
  const identity = await ring.identityFor(2n);
  const track = new Set<net.Socket>();

  const nobody = await server(t, () => {});
  nobody.close(); // the port is free again: nothing listens there
  await assert.rejects(dialSocket({ host: '127.0.0.1', port: nobody.port }, undefined, 2_000, track), { code: 'CDHT_ERR_UNREACHABLE' });

  const hangUp = await server(t, (s) => s.destroy());
  await assert.rejects(dialSocket({ host: '127.0.0.1', port: hangUp.port, id: 4n }, identity, 2_000, track), { code: 'CDHT_ERR_UNREACHABLE' });

  const silent = await server(t, () => {}); // accepts TCP, never speaks TLS
  await assert.rejects(dialSocket({ host: '127.0.0.1', port: silent.port, id: 4n }, identity, 200, track), /within 200 ms/);

  await untracked(track);
  assert.equal(track.size, 0);
});

test('a dialed socket keeps one error listener and no dial listener once connected, and leaves the set when it closes', { timeout: 10_000 }, async (t) => {
  const peer = await server(t, () => {});
  const track = new Set<net.Socket>();
  const { sock } = await dialSocket({ host: '127.0.0.1', port: peer.port }, undefined, 2_000, track);
  t.after(() => sock.destroy());
  assert.equal(sock.listenerCount('error'), 1);
  assert.equal(sock.listenerCount('connect'), 0);
  assert.ok(track.has(sock));
  sock.destroy();
  await once(sock, 'close');
  await untracked(track);
  assert.equal(track.size, 0);
});
