import type { Command } from 'commander';
import { table, type Context } from '../context.js';

export function registerStatus(program: Command, ctx: Context): void {
  program
    .command('status')
    .description('the store: path, id, master key kind, counts, data keys')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const s = await store.status();
        const keys = s.keys.map((k) => ({ ...k, id: k.id.toString(16).padStart(8, '0') }));
        if (opts.json) return ctx.report({ ...s, keys });
        await ctx.out([
          `store:         ${s.path}`,
          `store id:      ${s.storeId}`,
          `schema:        ${s.schemaVersion}`,
          `created:       ${s.createdAt.toISOString()}`,
          `master key:    ${s.masterKind}`,
          `secrets:       ${s.secrets}`,
          `versions:      ${s.versions} (${s.liveVersions} live)`,
          `max value:     ${s.maxValueBytes} bytes`,
          `max versions:  ${s.defaultMaxVersions === 0 ? 'all' : s.defaultMaxVersions}`,
          ...(s.readOnly ? [`read-only:     ${s.readOnly}`] : []),
          '',
        ].join('\n'));
        return ctx.out(table(
          ['KEY', 'ID', 'STATUS', 'CREATED', 'VERSIONS'],
          keys.map((k) => [String(k.version), k.id, k.status, k.createdAt.toISOString(), String(k.versions)]),
        ));
      });
    });
}
