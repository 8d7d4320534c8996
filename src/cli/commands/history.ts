import type { Command } from 'commander';
import { table, type Context } from '../context.js';

export function registerHistory(program: Command, ctx: Context): void {
  program
    .command('history')
    .description('every version of a secret: number, time, state, data key, type (bytes or json)')
    .argument('<name>', 'secret name')
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const versions = await store.history(name);
        if (opts.json) return ctx.json({ name, versions });
        return ctx.out(table(
          ['VERSION', 'CREATED', 'STATE', 'KEY', 'TYPE'],
          versions.map((v) => [String(v.version), v.createdAt.toISOString(), v.state, v.keyVersion === undefined ? '-' : String(v.keyVersion), v.json ? 'json' : 'bytes']),
        ));
      });
    });
}
