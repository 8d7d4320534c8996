/** delete / undelete / destroy / purge / rollback: the version lifecycle. */
import type { Command } from 'commander';
import { versionList, wholeNumber, type Context } from '../context.js';
import { writtenJson } from '../json-output.js';

type Action = 'delete' | 'undelete' | 'destroy';

const DESCRIPTION: Record<Action, string> = {
  delete: 'soft-delete versions (the current one by default); undelete restores',
  undelete: 'restore soft-deleted versions (the current one by default)',
  destroy: 'erase versions for good (their ciphertexts are overwritten)',
};

const PAST: Record<Action, string> = { delete: 'deleted', undelete: 'undeleted', destroy: 'destroyed' };

function registerVersionAction(program: Command, ctx: Context, action: Action): void {
  const cmd = program
    .command(action)
    .description(DESCRIPTION[action])
    .argument('<name>', 'secret name')
    .option('--json', 'print as JSON');
  if (action === 'destroy') cmd.requiredOption('--versions <list>', 'comma-separated versions, e.g. 1,2', versionList);
  else cmd.option('--versions <list>', 'comma-separated versions, e.g. 1,2', versionList);
  cmd.action(async (name: string, opts: { versions?: number[]; json?: boolean }, c: Command) => {
    await ctx.withStore(c, async (store) => {
      const done = action === 'destroy'
        ? await store.destroy(name, opts.versions!)
        : await store[action](name, { versions: opts.versions });
      if (opts.json) await ctx.json({ name, action, versions: done });
      else await ctx.out(`${name}: ${PAST[action]} version ${done.join(', ')}`);
    });
  });
}

export function registerLifecycle(program: Command, ctx: Context): void {
  for (const action of ['delete', 'undelete', 'destroy'] as const) registerVersionAction(program, ctx, action);

  program
    .command('purge')
    .description('remove a secret and all its versions for good')
    .argument('<name>', 'secret name')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        await store.purge(name);
        if (opts.json) await ctx.json({ name, action: 'purge' });
        else await ctx.out(`${name}: purged`);
      });
    });

  program
    .command('rollback')
    .description("write a new version holding an older version's value")
    .argument('<name>', 'secret name')
    .argument('<version>', 'the version to bring back', wholeNumber('VERSION', 1))
    .option('--cas <n>', 'only if the current version is N', wholeNumber('--cas'))
    .option('--json', 'print as JSON')
    .action(async (name: string, version: number, opts: { cas?: number; json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const r = await store.rollback(name, version, { cas: opts.cas });
        if (opts.json) await ctx.json({ ...writtenJson(r), from: version });
        else await ctx.out(`${name}: version ${r.version} (value of version ${version})`);
      });
    });
}
