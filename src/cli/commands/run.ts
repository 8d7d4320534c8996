import { spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { envLine } from '../../store/transfer/plaintext.js';
import { fishQuote, shellQuote } from '../../platform/shell-quote.js';
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
--prefix P takes the secrets whose names start with the segments P: app/prod
(or app/prod/) takes app/prod/db-password, never app/production/key. It is not
a pattern: * ? [ are refused (store list takes patterns).
Variable names: a secret's name with the --prefix stripped, uppercased, and every
character other than A-Z and 0-9 turned into _ (app/prod/db-password under
--prefix app/prod/ is DB_PASSWORD). --env VAR=name maps a secret (its full name)
to a variable of your choice, replacing its derived name; it may be repeated.
The part after = is a secret's name, never a value: a name that is no secret's
is an error naming VAR only.
--only a,b takes just those names (relative to the prefix). --all takes every
live secret in the store; without --prefix, --only, --env or --all nothing is
taken (an error, not a silent whole store), and a selection that finds no live
secret is an error too (exit 3). Two secrets for one variable is an error.
Values must be UTF-8 without NUL bytes.`;

function addSelection(c: Command): Command {
  return c
    .option('--prefix <prefix>', 'take the secrets under this name prefix, whole segments (a/b is a/b/; stripped from the variable names)')
    .option('--env <VAR=name>', 'map a secret to a variable explicitly (repeatable)', collect)
    .option('--only <names>', 'only these comma-separated names (relative to the prefix)', nameList)
    .option('--all', 'take every live secret in the store (never the default)');
}

function selection(opts: SelectionOpts): EnvSelection {
  return { prefix: opts.prefix, env: opts.env, only: opts.only, all: opts.all };
}

/**
 * Signals while the command runs, as env(1) or exec would have them (they are
 * not there at all): the command gets what was sent to it, once.
 * SIGINT and SIGQUIT are what a terminal sends (Ctrl-C, Ctrl-\) to its whole
 * foreground process group, the command included: store lets them by and
 * waits for the command. A second copy from store would be one too many (a
 * program that counts Ctrl-Cs, or stops cleanly at the first and at once at
 * the second, would see two); the price is that one sent to store's pid alone
 * does not reach the command either. SIGTERM and SIGHUP are sent to a pid
 * (kill, a supervisor) and passed on, SIGHUP except after a terminal hangup
 * (hungUp).
 */
const LET_BY = ['SIGINT', 'SIGQUIT'] as const;
const PASSED_ON = ['SIGTERM', 'SIGHUP'] as const;

/**
 * Signals store ends by when the command did, so that the shell sees what it
 * would see of the command itself (bash stops a loop at a command killed by
 * SIGINT, not at one that exited 130): those whose default action ends a
 * process without a core dump and that Node leaves at their default. Not
 * SIGPIPE (Node ignores it) nor SIGUSR1 (it starts Node's inspector); not
 * those that dump core (SIGQUIT, SIGABRT, SIGSEGV, ...), since a core file of
 * store would hold the values it read. For those store exits 128+N, as a shell
 * reports them.
 */
const ENDS_STORE = new Set<string>(['SIGHUP', 'SIGINT', 'SIGKILL', 'SIGTERM', 'SIGALRM', 'SIGUSR2', 'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPOLL', 'SIGPWR', 'SIGSTKFLT']);

/** Whether this process has a controlling terminal: /dev/tty opens (it no longer does once the terminal hung up). */
function hasTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', fsConstants.O_RDONLY | fsConstants.O_NOCTTY | fsConstants.O_NONBLOCK));
    return true;
  } catch {
    return false;
  }
}

/** Whether this process leads its session (Linux: /proc/self/stat); undefined when that cannot be told. */
function leadsSession(): boolean | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // pid (comm) state ppid pgrp session ...: comm may hold spaces and ')', so count from the last ')'.
    const session = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    return Number.isInteger(session) ? session === process.pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a SIGHUP is a terminal hangup that reached the command without us.
 * When a terminal hangs up, the kernel takes it from every process of its
 * session and sends SIGHUP to the session's leader alone. When that leader is
 * a shell and store one of its jobs, the shell sends SIGHUP to each job's
 * whole process group (and, as it exits, the kernel sends the foreground one
 * another): the command has it already. When store is the leader (ssh -t
 * host store run ..., setsid, script -c), it came to store alone: passed on.
 * So: not passed on when store had a terminal, has none now, and does not
 * lead its session. A SIGHUP from kill, the terminal still there, is passed
 * on; so is one where the session's leader cannot be told (no /proc): two
 * SIGHUPs are better than none.
 */
function hungUp(hadTerminal: boolean): boolean {
  return hadTerminal && !hasTerminal() && leadsSession() === false;
}

/** How the command ended: its exit status (128+N if signal N ended it) and that signal. */
interface ChildEnd {
  status: number;
  signal: NodeJS.Signals | null;
}

/** A template is a config file, not a data set: more than this on stdin is refused unread. */
const MAX_TEMPLATE_BYTES = 16 * 1024 * 1024;

/** Start `argv` with `env`, let signals by or pass them on (see LET_BY), resolve to how it ended. */
function runChild(argv: string[], env: NodeJS.ProcessEnv): Promise<ChildEnd> {
  return new Promise((resolve, reject) => {
    const hadTerminal = hasTerminal();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    const running = () => child.exitCode === null && child.signalCode === null;
    // Listening is what keeps store alive through them: without a listener SIGINT and SIGQUIT would end store.
    const letBy = () => {};
    const passOn = (sig: NodeJS.Signals) => {
      if (running() && !(sig === 'SIGHUP' && hungUp(hadTerminal))) child.kill(sig);
    };
    for (const sig of LET_BY) process.on(sig, letBy);
    for (const sig of PASSED_ON) process.on(sig, passOn);
    const done = () => {
      for (const sig of LET_BY) process.off(sig, letBy);
      for (const sig of PASSED_ON) process.off(sig, passOn);
    };
    child.once('error', (e: NodeJS.ErrnoException) => {
      done();
      const code = e.code === 'ENOENT' ? 127 : 126;
      reject(Object.assign(new StoreError('E_USAGE', `cannot start ${argv[0]}: ${e.code ?? e.message}`), { exitStatus: code }));
    });
    child.once('exit', (code, signal) => {
      done();
      if (signal) resolve({ status: 128 + (osConstants.signals[signal] ?? 0), signal });
      else resolve({ status: code ?? 1, signal: null });
    });
  });
}

/** `store env`'s formats. shell is POSIX (sh, bash, zsh); fish quotes differently (shell-quote.ts). */
const FORMATS = ['dotenv', 'json', 'shell', 'fish'];

function formatEnv(entries: EnvEntry[], format: string): string {
  if (format === 'json') return jsonLine(Object.fromEntries(entries.map((e) => [e.variable, e.value])));
  if (format === 'shell' || format === 'fish') {
    const bad = entries.find((e) => !/^[A-Za-z_]/.test(e.variable));
    if (bad) throw new StoreError('E_USAGE', `${bad.name} maps to ${bad.variable}, not a shell variable name`, ['map it with --env VAR=name']);
    if (format === 'fish') return entries.map((e) => `set -gx ${e.variable} ${fishQuote(e.value)}\n`).join('');
    return entries.map((e) => `export ${e.variable}=${shellQuote(e.value)}\n`).join('');
  }
  return entries
    .map((e) => {
      const line = envLine(e.variable, e.value);
      if (line === undefined) throw new StoreError('E_INVALID_VALUE', `${e.name} cannot be written so that dotenv reads it back unchanged`, ['use --format json, shell or fish']);
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
value is kept. stdio passes through. Ctrl-C and Ctrl-\\ (SIGINT, SIGQUIT) reach
the command from the terminal, once: store waits for it, and does not pass on
one sent to store alone. SIGTERM and SIGHUP sent to store are passed on (a
terminal hangup, which the shell sends the command too, is not sent twice).
store exits with the command's status; when a signal ended the command, store
ends by the same signal, as the shell would see of the command itself (one that
dumps core, such as SIGQUIT, gives exit 128+N instead: no core file of store).
Values are never put in argv or on disk.`)
    .action(async (argv: string[], opts: SelectionOpts & { override: boolean }, cmd: Command) => {
      let root: Command = cmd;
      while (root.parent) root = root.parent;
      if (!(root as unknown as { rawArgs: string[] }).rawArgs.includes('--') || argv.length === 0) {
        throw new StoreError('E_USAGE', 'store run needs the command after --, as in: store run --prefix app/ -- node server.js');
      }
      const entries = await ctx.withStore(cmd, (store) => resolveEnv(store, selection(opts)));
      const env = childEnv(ctx.io.env, entries, opts.override);
      entries.length = 0;
      let end: ChildEnd;
      try {
        end = await runChild(argv, env);
      } catch (e) {
        const exitStatus = (e as { exitStatus?: number }).exitStatus;
        if (e instanceof StoreError && exitStatus !== undefined) {
          await ctx.note(`error: ${e.message}`);
          ctx.exitStatus = exitStatus;
          return;
        }
        throw e;
      }
      // The command's status is store's; a signal that ended it ends store too (ENDS_STORE). Only the CLI's own
      // process does that (its io is the process's): run(argv, io) with another io, as the in-process tests
      // call it, must not kill its caller, and gets 128+N. So does a process the signal somehow did not end.
      if (end.signal && ENDS_STORE.has(end.signal) && ctx.io.env === process.env) process.kill(process.pid, end.signal);
      ctx.exitStatus = end.status;
    });

  addSelection(program.command('env'))
    .description('print secrets as environment variable assignments (values in clear text)')
    .option('--format <format>', 'dotenv, json, shell (sh, bash, zsh) or fish', 'dotenv')
    .option('--json', 'the same as --format json')
    .addHelpText('after', `${MAPPING_HELP}

Formats:
  dotenv  KEY='value' lines the dotenv package reads back unchanged, in single
          quotes so that a shell sourcing the file (set -a; . ./.env) takes $
          and \` in a value as text too; a value holding ' or a CR is written
          in double quotes (dotenv's \\n and \\r), where a shell would expand $
  json    {"KEY": "value"}
  shell   export KEY='value' lines for sh, bash and zsh (eval or source)
  fish    set -gx KEY 'value' lines for fish (source): fish reads \\\\ and \\' in
          single quotes, so shell output is not safe for it`)
    .action(async (opts: SelectionOpts & { format: string; json?: boolean }, cmd: Command) => {
      if (opts.json) {
        if (cmd.getOptionValueSource('format') === 'cli' && opts.format !== 'json') throw new StoreError('E_USAGE', '--json and --format exclude each other');
        opts.format = 'json';
      }
      if (!FORMATS.includes(opts.format)) {
        throw new StoreError('E_USAGE', `--format is dotenv, json, shell or fish${notShown(opts.format)}`);
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
