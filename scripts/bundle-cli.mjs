// Build the `store` executable for a fast start, since a short command like
// `store get` is mostly Node start-up:
// - dist/bin/store-main.cjs: the whole CLI in one CommonJS file (one module to
//   load; CommonJS loads faster than ESM). Native addons stay external.
// - dist/bin/store.js: scripts/launcher.cjs, which runs it with V8's code cache.
// - dist/bin/store-main.cjs.cache: that cache, made here by running the CLI
//   once on a throwaway store so it holds the functions a real command uses.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * commander requires node:child_process at load time, only to run external
 * subcommands, which `store` has none of; loading it costs ~8 ms of every
 * start. Hand commander a stand-in that loads the real module on first use.
 */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes('node_modules/commander/') ? { path: 'lazy-child-process', namespace: 'strongbox' } : undefined);
    b.onLoad({ filter: /^lazy-child-process$/, namespace: 'strongbox' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', legalComments: 'none', logLevel: 'warning' };

await build({
  ...common,
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/bin/store-main.cjs',
  format: 'cjs',
  plugins: [lazyChildProcess],
  // The launcher runs this file through vm.Script, which has no import(): lazy loads become require().
  supported: { 'dynamic-import': false },
  external: ['better-sqlite3', 'pkcs11js'], // native addons; pkcs11js is loaded only for HSM stores
  // Our ESM sources use import.meta.url for createRequire; in CommonJS that is the file's URL.
  define: { 'import.meta.url': '__sbImportMetaUrl' },
  banner: { js: "const __sbImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
// The launcher is CommonJS too (no ESM loader at start-up): dist/bin says so.
writeFileSync('dist/bin/package.json', '{ "type": "commonjs" }\n');
copyFileSync('scripts/launcher.cjs', 'dist/bin/store.js');
chmodSync('dist/bin/store.js', 0o755);

// The code cache: init, set and get on a throwaway store (no user data involved).
const dir = mkdtempSync(join(tmpdir(), 'strongbox-build-'));
try {
  const cli = (args, input, cache) => execFileSync(process.execPath,
    ['dist/bin/store.js', '--store', join(dir, 's.db'), '--keyfile', join(dir, 'k'), ...args],
    { input, stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, STRONGBOX_BUILD_CODE_CACHE: cache ? '1' : '0' } });
  cli(['init', '--master', 'keyfile'], '', false);
  cli(['set', 'build/probe'], 'probe', false);
  cli(['get', 'build/probe'], '', true);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
