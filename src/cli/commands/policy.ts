/** Value rotation: `store rotate`, `store policy set|show`, `store due`. */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { readValue } from './set.js';
import { SecretBytes } from '../../crypto/secret.js';
import { addGenerateOptions, generateBytes, generatePlan, type GenerateOptions } from '../generate-options.js';
import { stripNewline } from '../secret-input.js';
import { parseDuration } from '../progress.js';
import { table, type Context } from '../context.js';
import { notShown } from '../error-report.js';
import { EXIT } from '../exit-codes.js';
import { writtenJson } from '../json-output.js';

interface RotateOptions extends GenerateOptions {
  file?: string;
  allowEmpty?: boolean;
  trimNewline?: boolean;
  json?: boolean;
}

function duration(option: string): (text: string) => number {
  return (text: string) => {
    const n = parseDuration(text);
    if (n <= 0) throw new StoreError('E_USAGE', `${option} must be longer than 0${notShown(text)}`);
    return n;
  };
}

function human(ms: number): string {
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [u, size] of units) if (Math.abs(ms) >= size) return `${Math.floor(ms / size)}${u}`;
  return `${ms}ms`;
}

export function registerPolicy(program: Command, ctx: Context): void {
  addGenerateOptions(program
    .command('rotate')
    .description('write a new value of a secret and record the rotation (value from stdin, --file, a prompt, or --generate)')
    .argument('<name>', 'secret name'))
    .option('--file <path>', 'read the new value from a file')
    .option('--allow-empty', 'accept an empty value')
    .option('--trim-newline', 'drop one trailing newline (as `echo` adds)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: RotateOptions, cmd: Command) => {
      const generated = generatePlan(opts, opts.file !== undefined ? ['--file'] : []);
      await ctx.withStore(cmd, async (store) => {
        const raw = generated ? generateBytes(generated) : await readValue(name, opts, ctx, store);
        try {
          const value = opts.trimNewline ? stripNewline(raw) : raw;
          const r = await store.rotateValue(name, new SecretBytes(value), { allowEmpty: opts.allowEmpty });
          if (opts.json) await ctx.json({ ...writtenJson(r), ...(generated ? { generated } : {}) });
          else await ctx.out(`${r.name}: version ${r.version} (rotated${generated ? `, generated ${generated.length} ${generated.charset} characters` : ''})`);
        } finally {
          raw.fill(0);
        }
      });
    });

  const policy = program.command('policy').description('rotation policy of a secret');
  policy
    .command('set')
    .description('set how often a secret\'s value must be rotated, and when it expires')
    .argument('<name>', 'secret name')
    .requiredOption('--rotate-every <duration>', 'rotation interval, like 90d (units s, m, h, d, w)', duration('--rotate-every'))
    .option('--expires-after <duration>', 'the value expires this long after its last rotation, like 365d', duration('--expires-after'))
    .option('--json', 'print the policy status as JSON')
    .action(async (name: string, opts: { rotateEvery: number; expiresAfter?: number; json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        await store.setPolicy(name, { rotateEveryMs: opts.rotateEvery, ...(opts.expiresAfter !== undefined ? { expiresAfterMs: opts.expiresAfter } : {}) });
        const st = (await store.policyStatus(name))!;
        if (opts.json) return ctx.json(st);
        return ctx.out(`${name}: rotate every ${human(st.policy.rotateEveryMs)}, next due ${st.dueAt.toISOString()}`
          + (st.expiresAt ? `, expires ${st.expiresAt.toISOString()}` : ''));
      });
    });
  policy
    .command('show')
    .description('show a secret\'s rotation policy and whether it is due')
    .argument('<name>', 'secret name')
    .option('--json', 'print as JSON (null: no policy)')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      await ctx.withStore(cmd, async (store) => {
        const st = await store.policyStatus(name);
        if (opts.json) return ctx.json(st ?? null);
        if (!st) return ctx.out(`${name}: no rotation policy`);
        return ctx.out([
          `name:          ${st.name}`,
          `rotate every:  ${human(st.policy.rotateEveryMs)}`,
          `expires after: ${st.policy.expiresAfterMs === undefined ? 'never' : human(st.policy.expiresAfterMs)}`,
          `last rotated:  ${st.base.toISOString()}`,
          `due at:        ${st.dueAt.toISOString()}${st.due ? ' (due)' : ''}`,
          ...(st.expiresAt ? [`expires at:    ${st.expiresAt.toISOString()}${st.expired ? ' (expired)' : ''}`] : []),
        ].join('\n'));
      });
    });

  program
    .command('due')
    .description('list secrets past their rotation date; exit 10 when any')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const due = await ctx.withStore(cmd, (store) => store.dueSecrets());
      if (opts.json) await ctx.json(due);
      else if (due.length > 0) {
        await ctx.out(table(['NAME', 'DUE AT', 'OVERDUE', 'EXPIRED'],
          due.map((d) => [d.name, d.dueAt.toISOString(), d.overdueMs >= 0 ? human(d.overdueMs) : '-', d.expired ? 'yes' : 'no'])));
      }
      // Exit status 10 (found, not failed) for cron and alerting, with a line on stderr saying why.
      if (due.length > 0) {
        await ctx.note(`${due.length} secret(s) due for rotation; rotate with: store rotate NAME [--generate]`);
        ctx.exitStatus = EXIT.found;
      }
    });
}
