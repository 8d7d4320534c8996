// Bundle the CLI into one file so `store get` loads one module instead of
// dozens: Node start-up dominates a short command. better-sqlite3 is native
// and stays external, as does pkcs11js.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

const outfile = 'dist/bin/store.js';
await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['better-sqlite3', 'pkcs11js'], // native addons; pkcs11js is loaded only for HSM stores
  // Bundled CommonJS dependencies (commander, proper-lockfile) call require().
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __sbCreateRequire } from 'node:module';\nconst require = __sbCreateRequire(import.meta.url);",
  },
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(outfile, 0o755);
