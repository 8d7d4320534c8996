/** rotate-keys, keys, keys destroy: the data-key lifecycle. */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import type { RotateReport } from '../../store/rotation.js';
import { table, wholeNumber, type Context } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { interruptible } from '../interrupt.js';
import { parseDuration, progressBar } from '../progress.js';

function days(ms: number): string {
  return `${(ms / 86_400_000).toFixed(1)} days`;
}

/** What an interrupted run did, what is left, and how to finish it. */
function interruptedSummary(r: RotateReport): string {
  if (!r.rotated && r.rewrapped === 0 && r.toRewrap === 0) return 'interrupted before anything was done: run the same command again';
  const left = r.toRewrap - r.rewrapped;
  const made = r.rotated ? `made primary data key ${r.primaryVersion}, ` : '';
  return `interrupted: ${made}rewrapped ${r.rewrapped} of ${r.toRewrap} version(s) to primary data key ${r.primaryVersion}` +
    `${left > 0 ? `; the other ${left} stay under older keys, which still open them` : ''}; run store rotate-keys --resume to finish`;
}

export function registerKeys(program: Command, ctx: Context): void {
  program
    .command('rotate-keys')
    .description('make a new primary data key, then re-encrypt old versions under it (resumable; for cron)')
    .option('--if-older-than <duration>', 'only make a new key if the primary is this old (e.g. 30d); still finishes an interrupted rewrap', parseDuration)
    .option('--no-rewrap', 'only make the new key; leave old versions under their keys')
    .option('--resume', 'only finish an interrupted rewrap: never make a new key')
    .option('--batch <n>', 'versions per transaction (default 200)', wholeNumber('--batch', 1))
    .option('--wait', 'wait for another exclusive operation to finish')
    .option('--no-wait', 'exit 75 at once if the store is locked (default)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
Ctrl-C stops the rewrap between two batches: what was rewrapped stays so, the
rest stays readable under the older keys, and the command says how far it got
and exits 130; store rotate-keys --resume finishes it. A second Ctrl-C stops at once.`)
    .action(async (opts: { ifOlderThan?: number; rewrap: boolean; resume?: boolean; batch?: number; wait?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.resume && (opts.ifOlderThan !== undefined || !opts.rewrap)) {
        throw new StoreError('E_USAGE', '--resume only finishes a rewrap: it takes neither --if-older-than nor --no-rewrap');
      }
      await ctx.withStore(cmd, async (store) => {
        const bar = progressBar(ctx.io, 'rewrap');
        const interrupt = interruptible(ctx.io, 'stopping after the current batch');
        let r;
        try {
          r = await store.rotateKeys({
            // --resume: no primary is ever old enough to be replaced.
            ifOlderThanMs: opts.resume ? Infinity : opts.ifOlderThan, rewrap: opts.rewrap, batchSize: opts.batch, wait: opts.wait ?? false,
            onProgress: bar.update, signal: interrupt.signal,
          });
        } finally {
          interrupt.dispose();
          bar.end();
        }
        if (r.interrupted) {
          ctx.exitStatus = EXIT.interrupted;
          await ctx.note(interruptedSummary(r));
          if (opts.json) await ctx.report(r);
          return;
        }
        if (opts.json) return ctx.report(r);
        const head = r.rotated
          ? `new primary data key ${r.primaryVersion}`
          : opts.resume
            ? `primary data key ${r.primaryVersion} (no new key: --resume)`
            : `primary data key ${r.primaryVersion} is ${days(r.previousPrimaryAgeMs)} old, younger than asked: no new key`;
        const retired = r.retired.length ? `; retired key ${r.retired.join(', ')}` : '';
        return ctx.out(`${head}; rewrapped ${r.rewrapped} version(s) in ${r.batches} batch(es), longest ${r.longestBatchMs.toFixed(1)} ms${retired}; ${(r.durationMs / 1000).toFixed(2)} s`);
      });
    });

  const keys = program
    .command('keys')
    .description('list data keys: id, version, status, created, versions each encrypts')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const list = (await store.keys()).map((k) => ({ ...k, id: k.id.toString(16).padStart(8, '0') }));
        if (opts.json) return ctx.json(list);
        return ctx.out(table(
          ['KEY', 'ID', 'STATUS', 'CREATED', 'VERSIONS'],
          list.map((k) => [String(k.version), k.id, k.status, k.createdAt.toISOString(), String(k.versions)]),
        ));
      });
    });

  keys
    .command('destroy')
    .description('erase a retired data key for good (refused while anything uses it)')
    .argument('<key-version>', 'the key version (see store keys)', wholeNumber('KEY_VERSION', 1))
    .option('--wait', 'wait for another exclusive operation to finish')
    .option('--json', 'print as JSON')
    .action(async (version: number, _opts: object, cmd: Command) => {
      // `keys` has a --json too, and commander gives a flag to the first command that knows it.
      const opts = cmd.optsWithGlobals() as { wait?: boolean; json?: boolean };
      await ctx.withStore(cmd, async (store) => {
        await store.destroyKey(version, { wait: opts.wait ?? false });
        if (opts.json) return ctx.json({ keyVersion: version, status: 'destroyed' });
        return ctx.out(`data key ${version}: destroyed`);
      });
    });
}
