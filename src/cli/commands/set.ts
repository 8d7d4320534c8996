import { Option, type Command } from 'commander';
import { StoreError } from '../../errors.js';
import { SecretBytes } from '../../crypto/secret.js';
import type { Store } from '../../store/store.js';
import { readFileAtMost, readStreamAtMost } from '../bounded-read.js';
import { promptHidden } from '../prompt.js';
import { promptsForbidden, stripNewline } from '../secret-input.js';
import { wholeNumber, type Context } from '../context.js';
import { addGenerateOptions, generateBytes, generatePlan, type GenerateOptions } from '../generate-options.js';
import { writtenJson } from '../json-output.js';

interface SetOptions extends GenerateOptions {
  file?: string;
  value?: string;
  cas?: number;
  allowEmpty?: boolean;
  trimNewline?: boolean;
  json?: boolean;
  type?: 'bytes' | 'json';
}

/**
 * The value: --file, else --value (warned), else a prompt on a terminal, else
 * stdin. Also `store rotate`'s. A file or stdin is read only up to the
 * store's value limit (and one byte more, to know it is over).
 * @throws StoreError E_VALUE_TOO_LARGE, E_IO, E_USAGE
 */
export async function readValue(name: string, opts: Pick<SetOptions, 'file' | 'value'>, ctx: Context, store: Store): Promise<Uint8Array> {
  if (opts.file !== undefined) return readFileAtMost(opts.file, await valueLimit(store));
  if (opts.value !== undefined) {
    await ctx.note('warning: --value puts the secret in argv, where ps and shell history can see it; prefer stdin or --file');
    return new TextEncoder().encode(opts.value);
  }
  if (ctx.io.stdinIsTTY) {
    // Reading a terminal stdin would be asking a person too.
    if (promptsForbidden(ctx.io.env)) throw new StoreError('E_USAGE', 'no value given (STORE_NO_PROMPT is set, so none was asked for)', ['give it on stdin or with --file']);
    const typed = await promptHidden(`Value for ${name}: `);
    if (!typed) throw new StoreError('E_USAGE', 'no value given');
    return typed;
  }
  return readStreamAtMost(ctx.io.stdin, await valueLimit(store));
}

/** The store's largest value (from its header). */
async function valueLimit(store: Store): Promise<number> {
  return store.maxValueBytes;
}

export function registerSet(program: Command, ctx: Context): void {
  addGenerateOptions(program
    .command('set')
    .description('write a new version of a secret (value from stdin, --file, or a prompt)')
    .argument('<name>', 'secret name'))
    .option('--file <path>', 'read the value from a file')
    .option('--value <value>', 'the value itself (unsafe: visible in argv)')
    .option('--cas <n>', 'write only if the current version is N (0: only if absent)', wholeNumber('--cas'))
    .option('--allow-empty', 'accept an empty value')
    .option('--trim-newline', 'drop one trailing newline (as `echo` adds)')
    .addOption(new Option('--type <type>', 'what the value is: bytes (any bytes), or json (the UTF-8 text of a JSON object, checked; store get --field reads its fields)')
      .choices(['bytes', 'json']).default('bytes'))
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `
With --generate the value is made here from the OS CSPRNG (32 alnum characters
unless --length and --charset say otherwise) and is not printed; stdin is not
read. --cas 0 makes it only if the secret does not exist yet. With --type json
the value must be one JSON object, such as {"username":"app","password":"…"}:
the version is recorded as JSON (store serve hands it out as a Vault secret's
fields, store get --field prints one of them).`)
    .action(async (name: string, opts: SetOptions, cmd: Command) => {
      const generated = generatePlan(opts, [
        ...(opts.file !== undefined ? ['--file'] : []),
        ...(opts.value !== undefined ? ['--value'] : []),
        ...(opts.trimNewline ? ['--trim-newline'] : []),
        ...(opts.type === 'json' ? ['--type json'] : []),
      ]);
      await ctx.withStore(cmd, async (store) => {
        const raw = generated ? generateBytes(generated) : await readValue(name, opts, ctx, store);
        try {
          const value = opts.trimNewline ? stripNewline(raw) : raw;
          const json = opts.type === 'json';
          const r = await store.put(name, new SecretBytes(value), { cas: opts.cas, allowEmpty: opts.allowEmpty, json });
          if (opts.json) await ctx.json({ ...writtenJson(r), json, ...(generated ? { generated } : {}) });
          else await ctx.out(`${r.name}: version ${r.version}${generated ? ` (generated ${generated.length} ${generated.charset} characters)` : ''}`);
        } finally {
          raw.fill(0);
        }
      });
    });
}
