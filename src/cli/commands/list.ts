import type { Command } from 'commander';
import { table, type Context } from '../context.js';
import { quotedIfSafe } from '../../store/names.js';

export function registerList(program: Command, ctx: Context): void {
  program
    .command('list')
    .alias('ls')
    .description('list secret names and metadata (never values)')
    .argument('[pattern]', 'a name prefix, or a glob with * ? [')
    .option('--json', 'print as JSON')
    .action(async (pattern: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const all = await store.list({ pattern });
        if (opts.json) return ctx.json(all);
        if (all.length === 0) return ctx.note(pattern ? `no secrets match the pattern${quotedIfSafe(pattern, 256)}` : 'the store is empty');
        return ctx.out(table(
          ['NAME', 'VERSION', 'VERSIONS', 'STATE', 'UPDATED'],
          all.map((s) => [s.name, String(s.currentVersion), String(s.versions), s.state, s.updatedAt.toISOString()]),
        ));
      });
    });
}
