// Build the library's CommonJS entry, for `require('strongbox')` (the
// package's "require" condition). tsc emits the ESM build (dist/index.js and
// its modules); this bundles the same sources into one CommonJS file,
// dist/cjs/index.js, with the declarations beside it.
//
// It must load on every Node 20, not only on those that can require() an ES
// module, so the ESM-only packages (@noble/*) are bundled in. The CommonJS
// dependencies stay external: they are installed with the package anyway, and
// better-sqlite3 and pkcs11js are native addons. pg (node-postgres) stays external
// too, which also keeps its optional pg-native out: it is loaded only for a
// PostgreSQL store.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeThirdPartyLicenses } from './third-party-licenses.mjs';

const result = await build({
  entryPoints: ['src/index.ts'],
  outfile: 'dist/cjs/index.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['better-sqlite3', 'pkcs11js', 'proper-lockfile', 'dotenv', 'pg'],
  // A linked node_modules (a worktree's) would otherwise name its real location in the bundle's comments.
  preserveSymlinks: true,
  legalComments: 'none', // the licences of what is bundled are in THIRD-PARTY-LICENSES.txt beside it
  logLevel: 'warning',
  metafile: true,
  // Our ESM sources use import.meta.url for createRequire; in CommonJS that is the file's URL.
  define: { 'import.meta.url': '__sbImportMetaUrl' },
  banner: { js: "const __sbImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
});
writeThirdPartyLicenses(result.metafile, 'dist/cjs/index.js', 'dist/cjs/THIRD-PARTY-LICENSES.txt');
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');

// The CommonJS types: the library's declarations again, under dist/cjs. In
// this "type": "module" package a .d.ts beside the ESM build declares an ES
// module, and TypeScript (node16/nodenext) refuses to let CommonJS code
// import one (TS1479), so a require() user needs declarations that are
// CommonJS by their package.json. The text is the same; only where it sits
// differs.
for (const file of readdirSync('dist', { recursive: true })) {
  if (!file.endsWith('.d.ts') || /^(cli|bin|cjs)\//.test(file)) continue; // the CLI's are not library types
  mkdirSync(dirname(join('dist/cjs', file)), { recursive: true });
  copyFileSync(join('dist', file), join('dist/cjs', file));
}
