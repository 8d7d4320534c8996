/** store audit [filters] / store audit verify / store config get|set|list. */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { CONFIG_KEYS, type ConfigKey } from '../../store/header.js';
import { columnWidths, tableLine, widenColumns, type Context } from '../context.js';
import { chunked } from '../io.js';
import type { Store } from '../../store/store.js';
import type { AuditQuery, AuditRecord } from '../../store/types.js';
import { notShown } from '../error-report.js';
import { quotedIfSafe } from '../../store/names.js';
import { parseDuration } from '../progress.js';

interface AuditOptions {
  name?: string;
  action?: string;
  since?: string;
  until?: string;
  json?: boolean;
}

function checkTime(option: string, text: string | undefined): void {
  if (text !== undefined && !Number.isFinite(Date.parse(text))) {
    throw new StoreError('E_USAGE', `${option} takes an ISO 8601 time such as 2026-01-31T12:00:00Z${notShown(text)}`);
  }
}

export function registerAudit(program: Command, ctx: Context): void {
  const audit = program
    .command('audit')
    .description('the audit log: who did what to which secret, and how it ended (never values)')
    .option('--name <name>', 'only entries about this secret')
    .option('--action <action>', 'only this action (put, get, delete, rotate-keys, …)')
    .option('--since <time>', 'only entries at or after this ISO 8601 time')
    .option('--until <time>', 'only entries at or before this ISO 8601 time')
    .option('--json', 'print as JSON')
    .action(async (opts: AuditOptions, cmd: Command) => {
      checkTime('--since', opts.since);
      checkTime('--until', opts.until);
      const filter: AuditQuery = { name: opts.name, action: opts.action, since: opts.since, until: opts.until };
      await ctx.withStore(cmd, (store) => (opts.json ? auditJson(ctx, store, filter) : auditTable(ctx, store, filter)));
    });

  audit
    .command('verify')
    .description('check the hash chain: report the first entry that was edited, removed, moved or inserted')
    .option('--json', 'print as JSON')
    .action(async (_opts: object, cmd: Command) => {
      // `audit` has a --json too, and commander gives a flag to the first command that knows it.
      const opts = cmd.optsWithGlobals() as { json?: boolean };
      await ctx.withStore(cmd, async (store) => {
        const r = await store.verifyAudit();
        if (opts.json) await ctx.report(r);
        if (!r.ok) {
          throw new StoreError('E_TAMPERED', `audit log broken at entry ${r.firstProblem!.seq}: ${r.firstProblem!.problem}`, [
            `the ${r.entries} entries before it are intact`,
          ]);
        }
        if (!opts.json) await ctx.out(`audit log intact: ${r.entries} entries${r.keptAfter ? ` (kept from entry ${r.keptAfter + 1}; older ones were pruned)` : ''}`);
      });
    });

  audit
    .command('prune')
    .description('remove the oldest entries (retention), keeping the rest verifiable')
    .requiredOption('--before <time>', 'remove entries older than this ISO 8601 time, or than an age such as 90d')
    .option('--json', 'print as JSON')
    .addHelpText('after', `
The log is verified first (a damaged log is not pruned). The last removed
entry's MAC becomes the start of the kept chain, kept in the store's
authenticated header, so store audit verify still finds any edit of what
remains, and entries removed without prune. The newest entry is always kept.
For cron: store audit prune --before 180d`)
    .action(async (_opts: object, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as { before: string; json?: boolean };
      const before = cutoff(opts.before);
      await ctx.withStore(cmd, async (store) => {
        const r = await store.pruneAudit({ before });
        if (opts.json) return ctx.report(r);
        return ctx.out(`removed ${r.removed} audit entries before ${new Date(before).toISOString()}`);
      });
    });
}

/*
 * A log may hold millions of entries: both forms are written as the entries
 * are read, a page at a time (store.auditEntries), in chunks that wait for
 * stdout to take them (io.ts chunked), never as one array or one string, so
 * memory stays flat however long the log. The output is byte for byte what
 * printing the whole list at once gave.
 */

/** `--json`: one JSON array on one line, as ctx.json(entries) printed it. An error part way leaves it without its `]`. */
async function auditJson(ctx: Context, store: Store, filter: AuditQuery): Promise<void> {
  const out = chunked(ctx.io.stdout);
  let sep = '[';
  for await (const e of store.auditEntries(filter)) {
    await out.add(sep + JSON.stringify(e));
    sep = ',';
  }
  await out.add(sep === '[' ? '[]\n' : ']\n');
  await out.end();
}

const AUDIT_COLUMNS = ['SEQ', 'TIME', 'ACTOR', 'PID', 'ACTION', 'NAME', 'VERSIONS', 'OUTCOME', 'DETAIL'];

function auditRow(e: AuditRecord): string[] {
  return [String(e.seq), e.at.toISOString(), e.actor, String(e.pid), e.action, e.name ?? '-', e.versions?.join(',') ?? '-', e.outcome, e.detail ?? ''];
}

/**
 * The table, in two passes over the log: the first finds each column's
 * width, the second writes the rows. Entries appended in between are left
 * out (the second pass stops at the first pass's last entry), so every row
 * printed was measured; entries pruned in between are simply not printed.
 */
async function auditTable(ctx: Context, store: Store, filter: AuditQuery): Promise<void> {
  const widths = columnWidths(AUDIT_COLUMNS);
  let last: number | undefined;
  for await (const e of store.auditEntries(filter)) {
    widenColumns(widths, auditRow(e));
    last = e.seq;
  }
  if (last === undefined) return ctx.note('no audit entries match');
  const out = chunked(ctx.io.stdout);
  await out.add(tableLine(AUDIT_COLUMNS, widths));
  for await (const e of store.auditEntries(filter)) {
    if (e.seq > last) break;
    await out.add(`\n${tableLine(auditRow(e), widths)}`);
  }
  await out.add('\n');
  await out.end();
}

/** `--before`: an ISO 8601 time, or an age such as 90d (entries older than that). */
function cutoff(text: string): number {
  if (/^\d+[smhdw]$/.test(text.trim())) return Date.now() - parseDuration(text);
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new StoreError('E_USAGE', `--before takes an ISO 8601 time such as 2026-01-31T00:00:00Z or an age such as 90d${notShown(text)}`);
  return t;
}

export function registerConfig(program: Command, ctx: Context): void {
  const config = program.command('config').description(`store settings (${CONFIG_KEYS.join(', ')})`);
  const known = (key: string): ConfigKey => {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new StoreError('E_USAGE', `unknown setting${quotedIfSafe(key)}; known: ${CONFIG_KEYS.join(', ')}`);
    }
    return key as ConfigKey;
  };
  config
    .command('get')
    .description('print a store setting (audit.reads: whether reads are audited)')
    .argument('<key>', 'the setting')
    .option('--json', 'print {"key": "value"}')
    .action(async (key: string, opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const value = await store.getConfig(known(key));
        return opts.json ? ctx.json({ [key]: value }) : ctx.out(value);
      });
    });
  config
    .command('set')
    .description('change a store setting; audited (store config set audit.reads false)')
    .argument('<key>', 'the setting')
    .argument('<value>', 'its new value')
    .option('--json', 'print {"key": "value"}')
    .action(async (key: string, value: string, opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        await store.setConfig(known(key), value);
        await (opts.json ? ctx.json({ [key]: value }) : ctx.out(`${key} = ${value}`));
      });
    });
  config
    .command('list')
    .description('print every store setting with its value')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const all: Record<string, string> = {};
        for (const k of CONFIG_KEYS) all[k] = await store.getConfig(k);
        if (opts.json) return ctx.json(all);
        return ctx.out(Object.entries(all).map(([k, v]) => `${k} = ${v}`).join('\n'));
      });
    });
}
