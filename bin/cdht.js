#!/usr/bin/env node
// The cdht / p2p command: the compiled CLI lives in dist (built by `npm install` through `prepare`).
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2)).then((code) => { if (typeof code === 'number') process.exitCode = code; });
