#!/usr/bin/env node
// Entry point installed as `mailroom`: runs the compiled CLI (built by `npm ci` through `prepare`).
import { main } from '../dist/main.js';
main(process.argv.slice(2)).then((code) => { if (typeof code === 'number') process.exitCode = code; });
