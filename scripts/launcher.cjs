#!/usr/bin/env node
// The `store` executable (copied to dist/bin/store.js, CommonJS by
// dist/bin/package.json): runs the bundled CLI, store-main.cjs, with V8's code
// cache made at build time by scripts/bundle-cli.mjs. A short command such as
// `store get` is mostly Node start-up and compiling the bundle; the cache skips
// most of the compiling. A cache V8 rejects (another Node version, other
// flags) costs nothing but that saving.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { Module, createRequire } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

const main = join(__dirname, 'store-main.cjs');
const cacheFile = `${main}.cache`;
let cachedData;
try {
  cachedData = readFileSync(cacheFile);
} catch {
  cachedData = undefined;
}
const script = new Script(Module.wrap(readFileSync(main, 'utf8')), { filename: main, cachedData });
const mod = { exports: {} };
if (process.env.STRONGBOX_BUILD_CODE_CACHE === '1') {
  // Build time only: after a representative run, keep what V8 compiled.
  process.on('exit', () => writeFileSync(cacheFile, script.createCachedData()));
}
script.runInThisContext().call(mod.exports, mod.exports, createRequire(main), mod, main, __dirname);
