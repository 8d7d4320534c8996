// Build the `store` executable for a fast start, since a short command like
// `store get` is mostly Node start-up:
// - dist/bin/store-main.cjs: the whole CLI in one CommonJS file (one module to
//   load; CommonJS loads faster than ESM). Native addons stay external.
// - dist/bin/store.js: scripts/launcher.cjs, which runs it with V8's code cache.
// - dist/bin/store-main.cjs.cache: that cache, made here by running the CLI
//   once on a throwaway store so it holds the functions a real command uses.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Module } from 'node:module';
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

/**
 * better-sqlite3's JavaScript (thirteen small files) goes into the bundle, to
 * be compiled from the code cache with ours: required from node_modules, each
 * file is resolved, read and compiled at every start, ~5 ms in all. Its native
 * addon stays a file of its own, loaded from the path nativeBinding() resolves
 * (src/storage/sqlite/native.ts). native.ts loads the package through
 * createRequire, which the ESM library needs and esbuild cannot follow: here
 * that one call becomes a plain require.
 */
const NATIVE_TS = /src[\\/]storage[\\/]sqlite[\\/]native\.ts$/;
const bundledSqlite = {
  name: 'bundled-better-sqlite3',
  setup(b) {
    b.onLoad({ filter: NATIVE_TS }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const contents = source.replace("load('better-sqlite3')", "require('better-sqlite3')");
      if (contents === source) throw new Error(`${args.path} no longer loads better-sqlite3 as load('better-sqlite3'): update bundle-cli.mjs`);
      return { contents, loader: 'ts' };
    });
  },
};

// Whitespace and syntax minified, names kept: a third less to read and decode
// at every start (~2 ms of `store get`), and a --debug trace still names each
// function. No source map: it would point at sources the package does not
// ship. preserveSymlinks: a linked node_modules (a worktree's) would otherwise
// name its real location in the bundle.
const common = {
  bundle: true, platform: 'node', target: 'node20', preserveSymlinks: true, legalComments: 'none', logLevel: 'warning',
  minifyWhitespace: true, minifySyntax: true,
};

/**
 * The CLI bundle must be ASCII: one character that is not (esbuild escapes
 * them in strings, not in regular expressions) makes V8 hold the whole source
 * as two bytes a character, ~1 ms more of every start.
 */
function checkAscii(file) {
  const text = readFileSync(file, 'latin1');
  const at = text.search(/[^\x00-\x7f]/);
  if (at >= 0) throw new Error(`${file} is not ASCII at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}; escape the character in the source`);
}

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
  plugins: [lazyChildProcess, ageApart, bundledSqlite],
  // The launcher runs this file through vm.Script, which has no import(): lazy loads become require().
  supported: { 'dynamic-import': false },
  // Native addons (pkcs11js is loaded only for HSM stores); bindings, better-sqlite3's search for
  // its addon, used only when nativeBinding() finds none; and pg: a dependency installed beside
  // the CLI, required only when a store is a postgres:// URL (src/storage/open.ts), so a command
  // on a store file never reads it, and its optional native binding (pg-native) is never bundled.
  external: ['bindings', 'pkcs11js', 'pg', '*.node'],
  // Our ESM sources use import.meta.url for createRequire; in CommonJS that is the file's URL.
  define: { 'import.meta.url': '__sbImportMetaUrl' },
  banner: { js: "const __sbImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
checkAscii('dist/bin/store-main.cjs');
// The bundle is stored inside the function wrapper Node would put around it (Module.wrap), so the launcher hands
// V8 the string it read as it is. Wrapping at run time made a second string of the whole bundle (~0.8 MB) when V8
// flattened the concatenation: young garbage enough to bring on a scavenge during `store get` (~1 ms).
// The file is therefore not a module to require() itself: only the launcher runs it.
writeFileSync('dist/bin/store-main.cjs', Module.wrap(readFileSync('dist/bin/store-main.cjs', 'latin1')), 'latin1');
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
