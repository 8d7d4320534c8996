/**
 * Strongbox benchmarks: `npm run bench` (BENCH_QUICK=1 for a smoke run;
 * BENCH_ONLY=cli,crypto,put,get,serve to run some sections). Prints one table and
 * writes bench/results/latest.json. See bench/README.md.
 *
 * The CLI runs first, while this process is still small: spawning a child
 * from a process with a large heap costs more, and would flatter the ratio.
 */
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCli } from './cli.js';
import { benchCrypto } from './crypto.js';
import { benchGet } from './get.js';
import { benchPut } from './put.js';
import { benchExport } from './export.js';
import { benchRewrap } from './rewrap.js';
import { benchBackup } from './backup.js';
import { benchPostgres } from './postgres.js';
import { HOST_FLAG, runHost } from './pg-hosts.js';
import { benchServe } from './serve.js';
import { BenchCheckError, environment, now, QUICK, renderTable, writeResults, type Row } from './harness.js';

/** The repository root: the nearest directory up whose package.json is ours. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'strongbox') return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

const SECTIONS = ['cli', 'crypto', 'put', 'get', 'rewrap', 'backup', 'export', 'postgres', 'serve'] as const;
type Section = (typeof SECTIONS)[number];

function chosen(): Section[] {
  const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!only || only.length === 0) return [...SECTIONS];
  const unknown = only.filter((s) => !(SECTIONS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown section ${unknown.join(', ')}; choose from ${SECTIONS.join(', ')}`);
  return SECTIONS.filter((s) => only.includes(s));
}

async function main(): Promise<number> {
  const root = repoRoot();
  const started = now();
  const rows: Row[] = [];
  const notes: string[] = [];
  let failed = false;
  const env = environment();
  console.log(`strongbox bench${QUICK ? ' (BENCH_QUICK=1: sizes /10)' : ''}: node ${env.node}, ${env.cpus.count}× ${env.cpus.model}, temp dir ${tmpdir()}`);

  const run: Record<Section, () => Promise<Row[]>> = {
    cli: () => benchCli(root, notes),
    crypto: () => benchCrypto(),
    put: () => benchPut(),
    get: () => benchGet(notes),
    rewrap: () => benchRewrap(),
    backup: () => benchBackup(),
    export: () => benchExport(notes),
    postgres: () => benchPostgres(notes),
    serve: () => benchServe(root, notes),
  };
  for (const section of chosen()) {
    const t0 = now();
    process.stdout.write(`  ${section} … `);
    try {
      const got = await run[section]();
      rows.push(...got);
      console.log(`${((now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      failed = true;
      const message = e instanceof BenchCheckError ? e.message : (e as Error).stack ?? String(e);
      console.log('error');
      console.error(`bench ${section}: ${message}`);
      rows.push({ name: section, opsPerSec: null, ratio: null, target: '—', mark: 'error', detail: message.split('\n')[0]! });
    }
  }

  console.log(`\n${renderTable(rows)}\n`);
  for (const n of notes) console.log(`note: ${n}`);
  const durationMs = now() - started;
  const out = join(root, 'bench', 'results', 'latest.json');
  writeResults(out, { ...env, tmpdir: tmpdir(), durationMs, rows, notes });
  console.log(`${rows.filter((r) => r.mark === 'FAIL').length} below target, ${rows.filter((r) => r.mark === 'pass').length} on target; ${(durationMs / 1000).toFixed(1)} s; results in ${out}`);
  return failed ? 1 : 0;
}

// The PostgreSQL section's "hosts" are this same bundle, run as children (bench/pg-hosts.ts).
if (process.argv[2] === HOST_FLAG) await runHost();
else process.exitCode = await main();
