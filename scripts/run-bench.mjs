// Compile bench/main.ts (and the library sources it imports from ../src) into
// one ESM file under bench/.out/ (and the serve bench's load client,
// bench/serve-client.ts, into another beside it), then run main.js with node. Packages stay
// external: better-sqlite3 is native, and @noble/* should load as the library
// loads them. Extra node flags (e.g. --cpu-prof) go in BENCH_NODE_ARGS.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'bench', '.out');
const outfile = join(outdir, 'main.js');

mkdirSync(outdir, { recursive: true });
// Build output only: keep it out of git without touching the root .gitignore.
writeFileSync(join(outdir, '.gitignore'), '*\n');

// The serve section's load client runs as a process of its own, from its own bundle beside main.js.
await build({
  entryPoints: [join(root, 'bench', 'main.ts'), join(root, 'bench', 'serve-client.ts')],
  outdir,
  entryNames: '[name]',
  bundle: true,
  packages: 'external',
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
});

const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
const r = spawnSync(process.execPath, [...nodeArgs, outfile], { stdio: 'inherit', cwd: root });
if (r.error) throw r.error;
process.exit(r.status ?? 1);
