import type { Command } from 'commander';
import { tryUtf8, toBase64 } from '../../crypto/bytes.js';
import { StoreError } from '../../errors.js';
import { write } from '../io.js';
import { wholeNumber, type Context } from '../context.js';
import { expiryOf } from '../../store/policy.js';

export function registerGet(program: Command, ctx: Context): void {
  program
    .command('get')
    .description('print a secret value, byte for byte')
    .argument('<name>', 'secret name')
    .option('--version <n>', 'a given version', wholeNumber('--version', 1))
    .option('--at <time>', 'the version current at an ISO 8601 time')
    .option('-n, --newline', 'end the output with a newline (added by itself when stdout is a terminal)')
    .option('--json', 'print {name, version, createdAt, value} (value as UTF-8, else valueBase64)')
    .option('--strict', 'fail (exit 3) instead of warning when the secret has expired under its rotation policy')
    .action(async (name: string, opts: { version?: number; at?: string; newline?: boolean; json?: boolean; strict?: boolean }, cmd: Command) => {
      if (opts.at !== undefined && !Number.isFinite(Date.parse(opts.at))) {
        throw new StoreError('E_USAGE', `--at takes an ISO 8601 time such as 2026-01-31T12:00:00Z, not "${opts.at}"`);
      }
      await ctx.withStore(cmd, async (store) => {
        const expiry = await expiryOf(store, name);
        if (expiry !== undefined && Date.now() >= expiry.getTime()) {
          const what = `${name} expired at ${expiry.toISOString()} (rotation policy)`;
          if (opts.strict) throw new StoreError('E_NOT_FOUND', what, [`rotate it: store rotate ${name}`]);
          await ctx.note(`warning: ${what}; rotate it: store rotate ${name}`);
        }
        const s = await store.get(name, { version: opts.version, at: opts.at });
        const bytes = s.value.expose();
        try {
          if (opts.json) {
            const text = tryUtf8(bytes);
            const value = text !== undefined ? { value: text } : { valueBase64: toBase64(bytes) };
            await ctx.json({ name: s.name, version: s.version, createdAt: s.createdAt, ...value });
          } else {
            await write(ctx.io.stdout, bytes);
            // On a terminal the prompt must not run into the value; in a pipe or $(…) the bytes stay exact.
            if (opts.newline || ctx.io.stdoutIsTTY) await write(ctx.io.stdout, '\n');
          }
        } finally {
          s.value.wipe();
        }
      });
    });
}
