import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { notShown } from '../error-report.js';
import { wholeNumber, type Context } from '../context.js';

function keyValue(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  if (eq < 1) throw new StoreError('E_USAGE', `--set takes KEY=VALUE${notShown(text)}`);
  return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
}

function collect(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

export function registerMeta(program: Command, ctx: Context): void {
  program
    .command('meta')
    .description('show or change a secret\'s metadata (max versions, custom key=value; not secret)')
    .argument('<name>', 'secret name')
    .option('--max-versions <n>', 'versions kept (0: store default); older ones are pruned', wholeNumber('--max-versions'))
    .option('--set <key=value>', 'set a custom metadata entry (repeatable)', keyValue)
    .option('--unset <key>', 'remove a custom metadata entry (repeatable)', collect)
    .option('--json', 'print as JSON')
    .action(async (name: string, opts: { maxVersions?: number; set?: Record<string, string>; unset?: string[]; json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        let m = await store.getMetadata(name);
        if (opts.maxVersions !== undefined || opts.set || opts.unset) {
          const custom = { ...m.custom, ...opts.set };
          for (const k of opts.unset ?? []) delete custom[k];
          m = await store.setMetadata(name, { maxVersions: opts.maxVersions, custom });
        }
        if (opts.json) return ctx.json(m);
        const lines = [
          `name:            ${m.name}`,
          `current version: ${m.currentVersion}`,
          `oldest version:  ${m.oldestVersion}`,
          `max versions:    ${m.maxVersions === 0 ? 'store default' : m.maxVersions}`,
          `created:         ${m.createdAt.toISOString()}`,
          `updated:         ${m.updatedAt.toISOString()}`,
          ...Object.entries(m.custom).map(([k, v]) => `custom ${k}: ${v}`),
        ];
        return ctx.out(lines.join('\n'));
      });
    });
}
