import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { envLine } from '../../store/transfer/plaintext.js';
import { shellQuote } from '../../platform/shell-quote.js';
import { write } from '../io.js';
import { jsonLine } from '../json-output.js';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { readStreamAtMost } from '../bounded-read.js';
import type { Context } from '../context.js';
import { notShown } from '../error-report.js';
import { childEnv, collect, nameList, resolveEnv, type EnvEntry, type EnvSelection } from '../secret-env.js';
import { MAX_INDENT, parseTemplate, renderTemplate } from '../template.js';

interface SelectionOpts {
  prefix?: string;
  env?: string[];
  only?: string[];
  all?: boolean;
}

const MAPPING_HELP = `
Variable names: a secret's name with the --prefix stripped, uppercased, and every
character other than A-Z and 0-9 turned into _ (app/prod/db-password under
--prefix app/prod/ is DB_PASSWORD). --env VAR=name maps a secret (its full name)
to a variable of your choice, replacing its derived name; it may be repeated.
--only a,b takes just those names (relative to the prefix). --all takes every
live secret in the store; without --prefix, --only, --env or --all nothing is
taken (an error, not a silent whole store), and a selection that finds no live
secret is an error too (exit 3). Two secrets for one variable is an error.
Values must be UTF-8 without NUL bytes.`;

function addSelection(c: Command): Command {
  return c
    .option('--prefix <prefix>', 'take the secrets under this name prefix (stripped from the variable names)')
    .option('--env <VAR=name>', 'map a secret to a variable explicitly (repeatable)', collect)
    .option('--only <names>', 'only these comma-separated names (relative to the prefix)', nameList)
    .option('--all', 'take every live secret in the store (never the default)');
}

function selection(opts: SelectionOpts): EnvSelection {
  return { prefix: opts.prefix, env: opts.env, only: opts.only, all: opts.all };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** A template is a config file, not a data set: more than this on stdin is refused unread. */
const MAX_TEMPLATE_BYTES = 16 * 1024 * 1024;

/** Start `argv` with `env`, forward signals, resolve to its exit status (128+n if a signal ended it). */
function runChild(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    const forward = (sig: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    };
    for (const sig of SIGNALS) process.on(sig, forward);
    const done = () => {
      for (const sig of SIGNALS) process.off(sig, forward);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      done();
      const code = e.code === 'ENOENT' ? 127 : 126;
      reject(Object.assign(new StoreError('E_USAGE', `cannot start ${argv[0]}: ${e.code ?? e.message}`), { exitStatus: code }));
    });
    child.once('exit', (code, signal) => {
      done();
      if (signal) resolve(128 + (osConstants.signals[signal] ?? 0));
      else resolve(code ?? 1);
    });
  });
}

function formatEnv(entries: EnvEntry[], format: string): string {
  if (format === 'json') return jsonLine(Object.fromEntries(entries.map((e) => [e.variable, e.value])));
  if (format === 'shell') {
    const bad = entries.find((e) => !/^[A-Za-z_]/.test(e.variable));
    if (bad) throw new StoreError('E_USAGE', `${bad.name} maps to ${bad.variable}, not a shell variable name`, ['map it with --env VAR=name']);
    return entries.map((e) => `export ${e.variable}=${shellQuote(e.value)}\n`).join('');
  }
  return entries
    .map((e) => {
      const line = envLine(e.variable, e.value);
      if (line === undefined) throw new StoreError('E_INVALID_VALUE', `${e.name} cannot be written so that dotenv reads it back unchanged`, ['use --format json or shell']);
      return line;
    })
    .join('');
}

export function registerRun(program: Command, ctx: Context): void {
  addSelection(program.command('run'))
    .description('run a command with secrets as environment variables')
    .argument('[command...]', 'the command and its arguments, after --')
    .option('--no-override', 'keep a variable the environment already sets (default: the secret replaces it)')
    .usage('[--prefix P | --all] [--env VAR=name ...] [--only a,b] [--no-override] -- CMD [ARGS...]')
    .addHelpText('after', `${MAPPING_HELP}

The command is started without a shell, with the variables added to the current
environment minus every STORE_* variable (the master key, passphrase, PIN and
key file that unlock the store are not passed on). By default a secret replaces
a variable of the same name already set; with --no-override the environment's
value is kept. stdio passes through, SIGINT, SIGTERM and SIGHUP are forwarded, and
store exits with the command's status (128+N if signal N ended it). Values are
never put in argv or on disk.`)
    .action(async (argv: string[], opts: SelectionOpts & { override: boolean }, cmd: Command) => {
      let root: Command = cmd;
      while (root.parent) root = root.parent;
      if (!(root as unknown as { rawArgs: string[] }).rawArgs.includes('--') || argv.length === 0) {
        throw new StoreError('E_USAGE', 'store run needs the command after --, as in: store run --prefix app/ -- node server.js');
      }
      const entries = await ctx.withStore(cmd, (store) => resolveEnv(store, selection(opts)));
      const env = childEnv(ctx.io.env, entries, opts.override);
      entries.length = 0;
      let status: number;
      try {
        status = await runChild(argv, env);
      } catch (e) {
        const exitStatus = (e as { exitStatus?: number }).exitStatus;
        if (e instanceof StoreError && exitStatus !== undefined) {
          await ctx.note(`error: ${e.message}`);
          ctx.exitStatus = exitStatus;
          return;
        }
        throw e;
      }
      // The command's status is store's.
      ctx.exitStatus = status;
    });

  addSelection(program.command('env'))
    .description('print secrets as environment variable assignments (values in clear text)')
    .option('--format <format>', 'dotenv, json or shell', 'dotenv')
    .option('--json', 'the same as --format json')
    .addHelpText('after', `${MAPPING_HELP}

dotenv prints KEY="value" lines the dotenv package reads back unchanged; json
prints {"KEY": "value"}; shell prints export KEY='value' for eval or source.`)
    .action(async (opts: SelectionOpts & { format: string; json?: boolean }, cmd: Command) => {
      if (opts.json) {
        if (cmd.getOptionValueSource('format') === 'cli' && opts.format !== 'json') throw new StoreError('E_USAGE', '--json and --format exclude each other');
        opts.format = 'json';
      }
      if (!['dotenv', 'json', 'shell'].includes(opts.format)) {
        throw new StoreError('E_USAGE', `--format is dotenv, json or shell${notShown(opts.format)}`);
      }
      const text = await ctx.withStore(cmd, async (store) => formatEnv(await resolveEnv(store, selection(opts)), opts.format));
      await write(ctx.io.stdout, text);
    });

  program
    .command('inject')
    .description('render a template, replacing {{ store:name }} and {{ store:name@3 }} with secret values')
    .option('-i, --input <template>', 'the template file (default: the template on stdin)')
    .option('-o, --output <file>', 'write here (mode 0600, replaced atomically) instead of stdout')
    .addHelpText('after', `
A reference is {{ store:NAME }} or {{ store:NAME@VERSION }}, optionally followed by
filters, applied left to right: {{ store:app/cert | indent 4 }}, {{ store:k | base64 | json }}.
  json       a JSON string literal with its quotes (the value must be UTF-8)
  base64     standard base64 with padding (any bytes)
  base64url  URL-safe base64 without padding, as in JWTs (any bytes)
  indent N   N spaces (0..${MAX_INDENT}) before every line after the first, empty lines
             excepted: put the reference where the first line goes, e.g. in YAML
               cert: |
                 {{ store:app/cert | indent 4 }}
  trim       spaces, tabs, CR and LF removed from both ends
Other {{ ... }} text passes through untouched; a {{ store: that does not parse
(unclosed on its line, a bad name or version, an unknown filter) is an error
with its line, before the store is opened.

Every reference is resolved before anything is written: a missing, deleted or
destroyed one is an error naming it, and no output is written (an existing -o
file is left as it was).`)
    .action(async (opts: { input?: string; output?: string }, cmd: Command) => {
      let template: Buffer;
      if (opts.input === undefined) {
        if (ctx.io.stdinIsTTY) throw new StoreError('E_USAGE', 'give the template with -i FILE, or on stdin (store inject < app.conf.tmpl)');
        template = Buffer.from(await readStreamAtMost(ctx.io.stdin, MAX_TEMPLATE_BYTES, '(the template) on stdin'));
      } else {
        try {
          template = readFileSync(opts.input);
        } catch (e) {
          throw new StoreError('E_IO', `cannot read the template ${opts.input}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
        }
      }
      const refs = parseTemplate(template);
      const out = await ctx.withStore(cmd, (store) => renderTemplate(store, template, refs));
      try {
        if (opts.output !== undefined) writeFileAtomic(opts.output, out);
        else await write(ctx.io.stdout, out);
      } finally {
        out.fill(0);
      }
    });
}
