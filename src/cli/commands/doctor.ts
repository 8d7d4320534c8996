/** `store doctor`: the store's health, one finding a line with what to do. */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { checkHealth, DEFAULT_MAX_KEY_AGE_MS, type Finding, type HealthReport } from '../../store/health.js';
import { colorAllowed, palette, type Palette } from '../color.js';
import type { Context } from '../context.js';
import { sourceForOpen } from '../master.js';
import { parseDuration } from '../progress.js';
import { EXIT } from '../exit-codes.js';

function marker(level: Finding['level'], p: Palette): string {
  switch (level) {
    case 'ok':
      return p.green('ok  ');
    case 'warn':
      return p.yellow('warn');
    case 'fail':
      return p.red('FAIL');
    default:
      return p.dim('skip');
  }
}

function render(r: HealthReport, p: Palette): string {
  const width = Math.max(...r.findings.map((f) => f.check.length));
  const lines = r.findings.flatMap((f) => [
    `${marker(f.level, p)}  ${f.check.padEnd(width)}  ${f.message}`,
    ...(f.fix !== undefined ? [`${' '.repeat(6 + width + 2)}fix: ${f.fix}`] : []),
  ]);
  const c = r.counts;
  lines.push(`${c.fail} failed, ${c.warn} warning(s), ${c.ok} ok, ${c.skip} skipped`);
  return lines.join('\n');
}

export function registerDoctor(program: Command, ctx: Context): void {
  program
    .command('doctor')
    .description('check the store: file modes (for PostgreSQL: server, grants, durability settings), integrity, audit chain, key ages, due rotations, the lock; each finding with what to do')
    .option('--deep', 'also decrypt every version (as store verify --deep)')
    .option('--strict', 'exit 10 on warnings too, not only on failures')
    .option('--max-key-age <duration>', 'warn when the primary data key is older than this (default 90d)', parseDuration)
    .option('--json', 'print the findings as JSON')
    .addHelpText('after', `
Exit status: 0 when nothing failed (warnings allowed unless --strict), 10 otherwise;
1 when doctor itself failed.
Checks that need the master key are skipped when none is given; on a terminal a
passphrase is asked for as usual. A key given or recorded that cannot be used
(the key file recorded at init moved away, the HSM token or key gone) fails. For a store in PostgreSQL the file's checks
give way to the server's: reached, schema version, an interrupted migrate's
copy, the role's grants, the exclusive lock, fsync, full_page_writes and
synchronous_commit.`)
    .action(async (opts: { deep?: boolean; strict?: boolean; maxKeyAge?: number; json?: boolean }, cmd: Command) => {
      if (opts.maxKeyAge !== undefined && opts.maxKeyAge <= 0) throw new StoreError('E_USAGE', '--max-key-age must be longer than 0');
      const g = ctx.globals(cmd);
      const report = await checkHealth(g.store, sourceForOpen(g, ctx.io), {
        keyFile: g.keyfile, deep: opts.deep ?? false, maxKeyAgeMs: opts.maxKeyAge ?? DEFAULT_MAX_KEY_AGE_MS,
      });
      if (opts.json) await ctx.report(report);
      else await ctx.out(render(report, palette(colorAllowed(ctx.io.stdoutIsTTY, ctx.io.env))));
      if (!report.ok || (opts.strict && report.counts.warn > 0)) ctx.exitStatus = EXIT.found;
    });
}
