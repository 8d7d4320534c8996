#!/usr/bin/env node
// The `store` executable (copied to dist/bin/store.js, CommonJS by
// dist/bin/package.json): runs the bundled CLI, store-main.cjs, with V8's code
// cache made at build time by scripts/bundle-cli.mjs. A short command such as
// `store get` is mostly Node start-up and compiling the bundle; the cache skips
// most of the compiling. A cache V8 rejects (another Node version, other
// flags) costs nothing but that saving.
//
// V8 keeps the script's name inside the cache, and a script compiled from the
// cache reports that name in stack traces, not the one given at run time. So
// the name is the same package-relative one at build and at run time: traces
// from `store --debug` never show the build machine's path, and always the
// same name wherever the package is installed. V8 checks a cache against the
// source, its own version and flags, not the name, so it stays valid when the
// package moves. The real path is still what require() resolves from.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const main = join(__dirname, 'store-main.cjs');
const scriptName = 'strongbox/dist/bin/store-main.cjs';
const cacheFile = `${main}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
// latin1: the bundle is ASCII (the build checks), and reading it so skips UTF-8 decoding (~0.5 ms). The build
// stored it wrapped as Module.wrap would (scripts/bundle-cli.mjs): this string goes to V8 as it is, never copied.
const script = new Script(readFileSync(main, 'latin1'), { filename: scriptName, cachedData });
const mod = { exports: {} };
const buildMode = process.env.STRONGBOX_BUILD_CODE_CACHE;
if (buildMode === '1') {
  // Build time only: after a representative run, keep what V8 compiled.
  process.on('exit', () => writeFileSync(cacheFile, script.createCachedData()));
} else if (buildMode === 'check') {
  // Build and tests: say whether V8 took the cache (it does not when the bundle and cache disagree).
  const verdict = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
  process.on('exit', () => process.stderr.write(`strongbox: code cache ${verdict}\n`));
}
script.runInThisContext().call(mod.exports, mod.exports, createRequire(main), mod, main, __dirname);
