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

/**
 * The `strongbox.*` keys hold a secret's rotation policy and last rotation
 * (src/store/policy.ts), set by `store policy set` and `store rotate`, which
 * check them. Set by hand they could hide an expired value (a rotated-at in
 * the future) or, malformed, stop `store due` for every secret; so --set
 * refuses them. --unset may remove them (that is how a policy is removed).
 */
function refuseReserved(keys: string[]): void {
  const reserved = keys.find((k) => k.toLowerCase().startsWith('strongbox.'));
  if (reserved !== undefined) {
    throw new StoreError('E_USAGE', `${JSON.stringify(reserved)} is reserved: the strongbox.* keys are set by store policy set and store rotate`, [
      'store policy set NAME --rotate-every 90d [--expires-after 365d]; store rotate NAME',
      'to remove a policy: store meta NAME --unset strongbox.rotate-every --unset strongbox.expires-after',
    ]);
  }
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
          refuseReserved(Object.keys(opts.set ?? {}));
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
