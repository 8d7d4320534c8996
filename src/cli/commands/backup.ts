/** backup, restore, verify: snapshots of the encrypted store file and checks of its soundness. */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { restoreStore } from '../../store/backup/restore.js';
import { gravestCode, VerificationError, type VerifyReport } from '../../store/backup/verify.js';
import type { Context } from '../context.js';
import { sourceForOpen } from '../master.js';
import { stopOnSignals } from '../interrupt.js';
import { copyThenVerifyBars, progressBar } from '../progress.js';
import { forgetStoreInAgent } from '../../crypto/master/agent/client.js';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function counts(r: Pick<VerifyReport, 'secrets' | 'versions' | 'liveVersions' | 'deletedVersions' | 'destroyedVersions'>): string {
  return `${r.secrets} secret(s), ${r.versions} version(s) (${r.liveVersions} live, ${r.deletedVersions} deleted, ${r.destroyedVersions} destroyed)`;
}

function newest(at: Date | null): string {
  return at ? at.toISOString() : 'never (empty store)';
}

function problemLines(r: VerifyReport): string[] {
  const lines = r.problems.map((p) => `problem: ${p.code}: ${p.message}`);
  if (r.moreProblems > 0) lines.push(`problem: … and ${r.moreProblems} more`);
  return lines;
}

/** Print a failed verification's problems (stdout: they are the command's findings), then fail with its code. */
async function reportFailure(ctx: Context, e: unknown, json: boolean | undefined): Promise<never> {
  if (e instanceof VerificationError) {
    if (json) await ctx.report({ ok: false, verified: e.report });
    else await ctx.out(problemLines(e.report).join('\n'));
  }
  throw e;
}

export function registerBackup(program: Command, ctx: Context): void {
  program
    .command('backup')
    .description('write a consistent snapshot of the store (encrypted, mode 0600) to a new file, while others keep writing')
    .argument('<file>', 'the backup file to create (an existing file is never overwritten)')
    .option('--verify', 'open the new backup and decrypt every version before keeping it (always done for a store in PostgreSQL)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
The copy is written under a temp name beside FILE (.NAME.backup-….tmp, mode 0600) and takes its
name once whole. Ctrl-C, SIGTERM or SIGHUP stops the backup at its next step and removes that
file: exit 130 (Ctrl-C), 143 (SIGTERM) or 129 (SIGHUP). A store file of up to 64 MiB is copied
in one step, which a signal does not cut short: unless --verify's steps follow, the backup then
finishes, and says the signal came too late.`)
    .action(async (file: string, opts: { verify?: boolean; json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        // Stopped at the next progress report (between two steps of the copy or of the verification): the
        // backup fails, so its temp file is removed. Undefined: stopped by SIGTERM or SIGHUP, told, the exit status set.
        const r = await stopOnSignals(ctx, 'stopping the backup: nothing will be kept', opts.json ?? false, async (signal) => {
          const bars = copyThenVerifyBars(ctx.io, 'backup');
          const looked = (report: (done: number, total: number) => void) => (done: number, total: number) => {
            if (signal.aborted) {
              throw new StoreError('E_INTERRUPTED', `the backup to ${file} was interrupted: nothing was kept`, ['run it again: it starts from the beginning']);
            }
            report(done, total);
          };
          try {
            return await store.backup(file, { verify: opts.verify ?? false, onProgress: looked(bars.onProgress), onVerifyProgress: looked(bars.onVerifyProgress) });
          } catch (e) {
            return reportFailure(ctx, e, opts.json);
          } finally {
            bars.end();
          }
        }, (sig) => `${sig} came too late to stop the backup: it finished, and ${file} is kept`);
        if (!r) return;
        if (opts.json) return ctx.report(r);
        const verified = r.verified ? `; verified: ${counts(r.verified)} decrypted` : '';
        return ctx.out(`backed up store ${r.storeId} to ${r.file}: ${mib(r.bytes)} in ${seconds(r.durationMs)}${verified}`);
      });
    });

  program
    .command('restore')
    .description('replace the store with a backup, after checking that every version in it decrypts (keeps the old file; a store in PostgreSQL gets its rows replaced)')
    .argument('<file>', 'the backup file (made by store backup)')
    .option('--force', "restore even if the backup is another store's, or the store file cannot be read")
    .option('--wait', 'wait for another exclusive operation to finish')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { force?: boolean; wait?: boolean; json?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const bar = progressBar(ctx.io, 'verify');
      const copyBar = progressBar(ctx.io, 'restore'); // a store in PostgreSQL gets the backup's rows copied in
      let verifying = true;
      const ended = () => {
        if (verifying) bar.end();
        verifying = false;
      };
      let r;
      try {
        r = await restoreStore(g.store, file, sourceForOpen(g, ctx.io), {
          force: opts.force ?? false, wait: opts.wait ?? false, onProgress: bar.update,
          onCopyProgress: (done, total) => {
            ended();
            copyBar.update(done, total);
          },
        });
      } catch (e) {
        ended();
        copyBar.end();
        return reportFailure(ctx, e, opts.json);
      }
      ended();
      copyBar.end();
      // The restored file may be under another master key than the one an agent holds.
      await forgetStoreInAgent(ctx.io.env, r.storeId, (text) => void ctx.note(`warning: ${text}`));
      if (opts.json) return ctx.report(r);
      const kept = r.keptAs ? `; the previous file is kept as ${r.keptAs}` : '';
      const forced = r.forced ? ` (replacing store ${r.replacedStoreId ?? 'of unknown id'}: --force)` : '';
      return ctx.out(`restored store ${r.storeId} to ${r.path}${forced}: ${counts(r)}; newest write ${newest(r.newestWriteAt)}${kept}`);
    });

  program
    .command('verify')
    .description('check the store: SQLite integrity, foreign keys, master key, every version\'s key; --deep decrypts every version')
    .option('--deep', 'decrypt every live and deleted version')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { deep?: boolean; json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const bar = progressBar(ctx.io, 'verify');
        let r: VerifyReport;
        try {
          r = await store.verify({ deep: opts.deep ?? false, onProgress: bar.update });
        } finally {
          bar.end();
        }
        if (opts.json) await ctx.report(r);
        else if (r.ok) {
          const how = r.deep ? `${r.decrypted} version(s) decrypted` : 'keys present (not decrypted: --deep does)';
          await ctx.out(`store ${r.storeId} is sound: ${counts(r)}; ${how}; newest write ${newest(r.newestWriteAt)}; ${seconds(r.durationMs)}`);
        } else await ctx.out(problemLines(r).join('\n'));
        if (!r.ok) {
          const n = r.problems.length + r.moreProblems;
          throw new StoreError(gravestCode(r.problems), `verify found ${n} problem(s) in ${store.path}`, [
            'restore it from a backup (store restore FILE), after checking the backup with store --store FILE verify --deep',
          ]);
        }
      });
    });
}
