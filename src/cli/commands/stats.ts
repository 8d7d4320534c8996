/** `store stats`: counts, key ages and rotation debt, as text, JSON or Prometheus metrics. */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import type { AuditSummary } from '../../store/audit-summary.js';
import type { StoreStats } from '../../store/stats.js';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import type { Context } from '../context.js';
import { notShown } from '../error-report.js';
import { EXIT } from '../exit-codes.js';
import { write } from '../io.js';
import { jsonLine, stamped } from '../json-output.js';
import { prometheusText } from '../prometheus.js';

const FORMATS = ['text', 'json', 'prometheus'] as const;
type Format = (typeof FORMATS)[number];

/** An age in days to a tenth (`0.4 days`): stats shows a young key's age too. */
function daysToTenth(ms: number): string {
  return `${(ms / 86_400_000).toFixed(1)} days`;
}

/** A time and how long ago it was, or what stands in for none. */
function when(at: Date | null, now: Date, none: string): string {
  return at ? `${at.toISOString()} (${daysToTenth(now.getTime() - at.getTime())} ago)` : none;
}

function auditLine(a: AuditSummary): string {
  if (a.lastSeq === 0) return 'empty';
  const kept = a.prunedThrough !== null ? `; 1..${a.prunedThrough} pruned` : '';
  const chain = a.chain === 'unverified'
    ? 'chain not verified (--verify-audit walks it)'
    : a.chain === 'intact' ? 'chain intact' : `chain BROKEN at entry ${a.firstProblem!.seq}: ${a.firstProblem!.problem}`;
  return `entries ${a.firstSeq}..${a.lastSeq} (${a.entries}${kept}), last ${a.lastAt ? a.lastAt.toISOString() : 'unknown'}; ${chain}`;
}

function text(s: StoreStats): string {
  const states = (c: Record<string, number>) => Object.entries(c).map(([k, n]) => `${n} ${k}`).join(', ');
  return [
    `store:             ${s.path}`,
    `secrets:           ${states(s.secrets)}`,
    `versions:          ${states(s.versions)}`,
    `data keys:         ${states(s.dataKeys)}`,
    `primary key:       ${s.primaryKey.version}, made ${s.primaryKey.createdAt.toISOString()} (${daysToTenth(s.primaryKey.ageMs)} old)`,
    `oldest key:        ${s.oldestKey.version} (${daysToTenth(s.oldestKey.ageMs)} old)`,
    `needing rewrap:    ${s.versionsNeedingRewrap} version(s)`,
    `with a policy:     ${s.secretsWithPolicy} secret(s)`,
    `rotation overdue:  ${s.rotationOverdueSecrets} secret(s), ${s.expiredSecrets} expired`,
    `value rotated:     ${s.lastValueRotationAt ? s.lastValueRotationAt.toISOString() : 'none recorded'}`,
    `keys rotated:      ${when(s.lastKeyRotationAt, s.at, `never (key ${s.primaryKey.version} is the store's first)`)}`,
    `master rotated:    ${when(s.lastMasterRotationAt, s.at, 'none recorded')}`,
    `backed up:         ${when(s.lastBackupAt, s.at, 'none recorded')}`,
    `audit log:         ${auditLine(s.audit)}`,
  ].join('\n') + '\n';
}

export function registerStats(program: Command, ctx: Context): void {
  program
    .command('stats')
    .description('counts, data key ages and rotation debt (no names, no values); prometheus: for node_exporter\'s textfile collector')
    .option('--format <format>', `${FORMATS.join(', ')} (default text)`)
    .option('--json', 'the same as --format json')
    .option('-o, --output <file>', 'write to this file (mode 0644, replaced atomically) instead of stdout')
    .option('--verify-audit', 'also check the whole audit chain (reads every entry); exit 10 when it is broken')
    .addHelpText('after', `
For node_exporter, write a .prom file into its --collector.textfile.directory from cron:
  store stats --format prometheus -o /var/lib/node_exporter/textfile/strongbox.prom
The file holds counts and times only, never a secret's name or value.`)
    .action(async (opts: { format?: string; json?: boolean; output?: string; verifyAudit?: boolean }, cmd: Command) => {
      if (opts.json && opts.format !== undefined && opts.format !== 'json') throw new StoreError('E_USAGE', '--json and --format exclude each other');
      const format = (opts.json ? 'json' : opts.format ?? 'text') as Format;
      if (!FORMATS.includes(format)) throw new StoreError('E_USAGE', `--format is ${FORMATS.join(', ')}${notShown(format)}`);
      const stats = await ctx.withStore(cmd, (store) => store.stats({ verifyAudit: opts.verifyAudit }));
      const out = format === 'json' ? jsonLine(stamped(stats)) : format === 'prometheus' ? prometheusText(stats) : text(stats);
      // 0644: node_exporter runs as its own user, and the file holds no secret.
      if (opts.output !== undefined) writeFileAtomic(opts.output, out, 0o644);
      else await write(ctx.io.stdout, out);
      if (stats.audit.chain === 'broken') {
        await ctx.note(`the audit log is broken at entry ${stats.audit.firstProblem!.seq}: run store audit verify`);
        ctx.exitStatus = EXIT.found;
      }
    });
}
