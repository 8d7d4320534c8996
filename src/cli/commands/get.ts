import type { Command } from 'commander';
import { tryUtf8, toBase64 } from '../../crypto/bytes.js';
import { StoreError } from '../../errors.js';
import { write } from '../io.js';
import { wholeNumber, type Context } from '../context.js';
import { notShown } from '../error-report.js';
import { SecretBytes } from '../../crypto/secret.js';
import { fieldOf } from '../get-field.js';

/** clipboard.ts's DEFAULT_CLIP_SECONDS, repeated: that module starts processes and is loaded only for --clip. */
const DEFAULT_CLIP_SECONDS = 45;

interface GetOptions {
  version?: number;
  at?: string;
  newline?: boolean;
  json?: boolean;
  strict?: boolean;
  clip?: boolean;
  clipSeconds?: number;
  field?: string;
}

const CLIP_HELP = `
With --clip the value goes to the clipboard (wl-copy, xclip, xsel, pbcopy or clip.exe,
whichever this session has; exit 2 when none) on the tool's stdin, and nothing is
printed but a note on stderr (--json: the metadata, never the value). A process
left behind clears the clipboard after the delay if it still holds the value; it
is handed a SHA-256 digest of the value, not the value.`;

export function registerGet(program: Command, ctx: Context): void {
  program
    .command('get')
    .description('print a secret value, byte for byte')
    .argument('<name>', 'secret name')
    .option('--version <n>', 'a given version', wholeNumber('--version', 1))
    .option('--at <time>', 'the version current at an ISO 8601 time')
    .option('-n, --newline', 'end the output with a newline (added by itself when stdout is a terminal)')
    .option('--json', 'print {name, version, createdAt, json, value} (value as UTF-8, else valueBase64; json: written with --type json)')
    .option('--field <key>', 'print one top-level field of a JSON secret (written with store set --type json): a string as is, else as JSON')
    .option('--strict', 'fail (exit 3) instead of warning when the secret has expired under its rotation policy')
    .option('-c, --clip', 'copy the value to the clipboard instead of printing it, and clear it after a while')
    .option('--clip-seconds <n>', `with --clip: clear after N seconds (env STORE_CLIP_SECONDS; default ${DEFAULT_CLIP_SECONDS})`, wholeNumber('--clip-seconds', 1))
    .addHelpText('after', CLIP_HELP)
    .action(async (name: string, opts: GetOptions, cmd: Command) => {
      if (opts.at !== undefined && !Number.isFinite(Date.parse(opts.at))) {
        throw new StoreError('E_USAGE', `--at takes an ISO 8601 time such as 2026-01-31T12:00:00Z${notShown(opts.at)}`);
      }
      // Checked before the store is opened: no passphrase asked for nothing.
      const clip = opts.clip ? await import('../get-clip.js').then((m) => m.clipPlan(opts, ctx.io.env)) : undefined;
      await ctx.withStore(cmd, async (store) => {
        // No such secret: the get below fails with it, and is audited as a failed read.
        const expiry = await store.expiryOf(name).catch((e: unknown) => {
          if (e instanceof StoreError && e.code === 'E_NOT_FOUND') return undefined;
          throw e;
        });
        if (expiry !== undefined && Date.now() >= expiry.getTime()) {
          const what = `${name} expired at ${expiry.toISOString()} (rotation policy)`;
          if (opts.strict) throw new StoreError('E_NOT_FOUND', what, [`rotate it: store rotate ${name}`]);
          await ctx.note(`warning: ${what}; rotate it: store rotate ${name}`);
        }
        const s = await store.get(name, { version: opts.version, at: opts.at });
        const field = opts.field === undefined ? undefined : fieldOf(s, opts.field);
        const bytes = field ? field.bytes : s.value.expose();
        try {
          if (clip) {
            await clip.copy(ctx, field ? { ...s, value: new SecretBytes(bytes) } : s);
          } else if (opts.json && field) {
            await ctx.json({ name: s.name, version: s.version, createdAt: s.createdAt, json: s.json, field: opts.field, value: field.value });
          } else if (opts.json) {
            const text = tryUtf8(bytes);
            const value = text !== undefined ? { value: text } : { valueBase64: toBase64(bytes) };
            await ctx.json({ name: s.name, version: s.version, createdAt: s.createdAt, json: s.json, ...value });
          } else {
            await write(ctx.io.stdout, bytes);
            // On a terminal the prompt must not run into the value; in a pipe or $(…) the bytes stay exact.
            if (opts.newline || ctx.io.stdoutIsTTY) await write(ctx.io.stdout, '\n');
          }
        } finally {
          s.value.wipe();
          bytes.fill(0);
        }
      });
    });
}
