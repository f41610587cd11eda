// Files the benchmarks move: random bytes written a MiB at a time, no two MiB alike.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

export function writeRandomFile(path: string, mibs: number): void {
  const fd = openSync(path, 'w');
  const block = randomBytes(1 << 20);
  for (let i = 0; i < mibs; i++) {
    block.writeUInt32BE(i, 0); // no two MiB alike
    writeSync(fd, block);
  }
  closeSync(fd);
}
