// Memory of a ring of N peers on sockets in this process, measured in a fresh process so that one
// routing's garbage does not count against the other: RSS, the live heap and V8's reserved heap
// added per peer, after a garbage collection (run with --expose-gc), and the open descriptors.
import { readdirSync } from 'node:fs';
import type { RoutingName } from '../src/core/context.js';
import { createTestnet } from '../src/testnet.js';

const routing = (process.argv[2] ?? 'fingers') as RoutingName;
const peers = Number(process.argv[3] ?? 1000);
const basePort = Number(process.argv[4] ?? 20_000);

global.gc?.();
const before = process.memoryUsage();
const net = await createTestnet({ bits: 32, count: peers, routing, basePort, pingIntervalMs: 1000, settled: true, seedFingers: false });
// as the latency bench: fix_fingers fills the tables, then the ring runs on
await net.run(routing === 'fingers' ? 20_000 : 8_000);
global.gc?.();
const after = process.memoryUsage();
const kib = (x: number) => Number((x / 1024 / peers).toFixed(1));
const result = {
  routing,
  peers,
  gc: typeof global.gc === 'function',
  rssKiB: kib(after.rss - before.rss),
  heapUsedKiB: kib(after.heapUsed - before.heapUsed),
  heapTotalKiB: kib(after.heapTotal - before.heapTotal),
  fds: readdirSync('/proc/self/fd').length,
};
await net.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
