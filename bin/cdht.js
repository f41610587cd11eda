#!/usr/bin/env node
// The cdht / p2p command. The CLI itself is compiled into dist (`npm install` builds it through
// `prepare`, or run `npm run build`). Exits once output is flushed, even with stdin still open.
let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist')) {
    process.stderr.write('cdht: error: the CLI is not built yet; run `npm run build` in the cdht directory\n');
    process.exit(1);
  }
  throw err;
}

// A write callback runs once everything written before it has gone out; a closed stream must
// not hold the exit up, hence the bound.
const flushed = (stream) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, 1000);
    try {
      stream.write('', () => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
let code = 1;
try {
  code = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`cdht: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
}
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
