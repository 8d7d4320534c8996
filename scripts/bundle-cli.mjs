// Build the `store` executable for a fast start, since a short command like
// `store get` is mostly Node start-up:
// - dist/bin/store-main.cjs: the whole CLI in one CommonJS file (one module to
//   load; CommonJS loads faster than ESM). Native addons stay external.
// - dist/bin/store.js: scripts/launcher.cjs, which runs it with V8's code cache.
// - dist/bin/store-main.cjs.cache: that cache, made here by running the CLI
//   once on a throwaway store so it holds the functions a real command uses.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeThirdPartyLicenses } from './third-party-licenses.mjs';

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

// No source map: the bundle is not minified, and a map would point at
// sources the package does not ship. preserveSymlinks: a linked node_modules
// (a worktree's) would otherwise name its real location in the bundle's comments.
const common = { bundle: true, platform: 'node', target: 'node20', preserveSymlinks: true, legalComments: 'none', logLevel: 'warning' };

/**
 * typage (age-encryption) and the curve code it brings are 400 KiB that only
 * age bundles use: a file of their own beside the CLI, required on first use,
 * so every other command's start does not read and hash them.
 */
const AGE_CHUNK = 'dist/bin/age-encryption.cjs';
const ageApart = {
  name: 'age-apart',
  setup(b) {
    b.onResolve({ filter: /^age-encryption$/ }, () => ({ path: './age-encryption.cjs', external: true }));
  },
};
const ageResult = await build({
  ...common,
  metafile: true,
  stdin: { contents: "module.exports = require('age-encryption');", resolveDir: '.', loader: 'js' },
  outfile: AGE_CHUNK,
  format: 'cjs',
});

const result = await build({
  ...common,
  metafile: true,
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/bin/store-main.cjs',
  format: 'cjs',
  plugins: [lazyChildProcess, ageApart],
  // The launcher runs this file through vm.Script, which has no import(): lazy loads become require().
  supported: { 'dynamic-import': false },
  // Native addons (pkcs11js is loaded only for HSM stores), and pg: a dependency installed beside
  // the CLI, required only when a store is a postgres:// URL (src/storage/open.ts), so a command
  // on a store file never reads it, and its optional native binding (pg-native) is never bundled.
  external: ['better-sqlite3', 'pkcs11js', 'pg'],
  // Our ESM sources use import.meta.url for createRequire; in CommonJS that is the file's URL.
  define: { 'import.meta.url': '__sbImportMetaUrl' },
  banner: { js: "const __sbImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
writeThirdPartyLicenses(result.metafile, 'dist/bin/store-main.cjs', 'dist/bin/THIRD-PARTY-LICENSES.txt', [{ metafile: ageResult.metafile, bundle: AGE_CHUNK }]);
// The launcher is CommonJS too (no ESM loader at start-up): dist/bin says so.
writeFileSync('dist/bin/package.json', '{ "type": "commonjs" }\n');
copyFileSync('scripts/launcher.cjs', 'dist/bin/store.js');
chmodSync('dist/bin/store.js', 0o755);

// The code cache: init, set and get on a throwaway store (no user data involved).
const dir = mkdtempSync(join(tmpdir(), 'strongbox-build-'));
try {
  const cli = (args, input, mode) => {
    const r = spawnSync(process.execPath,
      ['dist/bin/store.js', '--store', join(dir, 's.db'), '--keyfile', join(dir, 'k'), ...args],
      { input, stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, STRONGBOX_BUILD_CODE_CACHE: mode } });
    if (r.status !== 0) throw new Error(`store ${args.join(' ')} failed while making the code cache: ${r.stderr}`);
    return r.stderr.toString();
  };
  cli(['init', '--master', 'keyfile'], '', '0');
  cli(['set', 'build/probe'], 'probe', '0');
  cli(['get', 'build/probe'], '', '1');
  // A cache V8 would not take is only dead weight: make sure this one is taken.
  const verdict = cli(['get', 'build/probe'], '', 'check');
  if (!verdict.includes('code cache accepted')) throw new Error(`the code cache just made is not used: ${verdict.trim()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
