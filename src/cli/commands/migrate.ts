/** migrate: a whole store copied to a new file or an empty PostgreSQL database, verified before it is called done. */
import type { Command } from 'commander';
import { migrateStore, type MigrateReport } from '../../store/migrate/migrate.js';
import { VerificationError } from '../../store/backup/verify.js';
import type { Context } from '../context.js';
import { sourceForOpen } from '../master.js';
import { copyThenVerifyBars } from '../progress.js';

function summary(r: MigrateReport): string {
  const v = r.verified;
  return `migrated store ${r.storeId} from ${r.from} to ${r.to}: ${r.rows.secrets} secret(s), ${r.rows.versions} version(s), `
    + `${r.rows.keys} data key(s), ${r.rows.audit} audit entries, ${r.rows.records} record(s); `
    + `verified: ${v.decrypted} version(s) decrypted, rows and audit chain sound; ${(r.durationMs / 1000).toFixed(2)} s`;
}

export function registerMigrate(program: Command, ctx: Context): void {
  program
    .command('migrate')
    .description('copy the whole store (same rows: keys, versions, audit log) to a new store file or an empty PostgreSQL database, verified --deep before it reports success')
    .requiredOption('--to <path|url>', 'the target: a store file that does not exist yet, or a postgres:// URL of a database without a store')
    .option('--from <path|url>', 'the store to copy (default: the store --store, STORE_PATH or the profile names)')
    .option('--wait', 'wait for another exclusive operation on the source (rotation, restore, migrate) to finish')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { to: string; from?: string; wait?: boolean; json?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const bars = copyThenVerifyBars(ctx.io, 'migrate');
      let r: MigrateReport;
      try {
        r = await migrateStore(opts.from ?? g.store, opts.to, sourceForOpen(g, ctx.io), {
          wait: opts.wait ?? false,
          onProgress: bars.onProgress,
          onVerifyProgress: bars.onVerifyProgress,
        });
      } catch (e) {
        bars.end();
        // The copy's findings are the command's output (stdout), as for a backup that fails verification.
        if (e instanceof VerificationError) {
          if (opts.json) await ctx.report({ ok: false, verified: e.report });
          else await ctx.out([...e.report.problems.map((p) => `problem: ${p.code}: ${p.message}`), ...(e.report.moreProblems > 0 ? [`problem: … and ${e.report.moreProblems} more`] : [])].join('\n'));
        }
        throw e;
      }
      bars.end();
      if (r.sourceChangedSince) {
        await ctx.note(`warning: ${r.from} was written to while it was being copied: those writes are not in ${r.to}; stop its writers and migrate again into a new target before switching to it`);
      }
      if (opts.json) return ctx.report(r);
      return ctx.out(summary(r));
    });
}
