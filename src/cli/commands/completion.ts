/**
 * `store completion bash|zsh|fish` prints a completion script; the hidden
 * `store __complete names [PREFIX]` gives the scripts secret names. The
 * latter never asks for anything and never fails loudly: a TAB press must
 * not hang on a prompt or print errors into the command line.
 */
import { statSync } from 'node:fs';
import { Argument, type Command } from 'commander';
import { StoreError } from '../../errors.js';
import { notShown } from '../error-report.js';
import { nameProblem } from '../../store/names.js';
import { Context } from '../context.js';
import { write, type Io } from '../io.js';
import { completionSpec } from '../completion/spec.js';
import { bashScript } from '../completion/bash.js';
import { zshScript } from '../completion/zsh.js';
import { fishScript } from '../completion/fish.js';
import { quickLocator } from '../completion/quick-store.js';
import { isPostgresLocator } from '../../storage/locator.js';
import { openStore } from '../../store/open.js';
import { sourceForOpen } from '../master.js';

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // absent or not to be looked at: no store to open either way
  }
}

const SHELLS = { bash: bashScript, zsh: zshScript, fish: fishScript } as const;

/** `build(ctx)`: the whole program with every command group, to read the command tree from. */
export function registerCompletion(program: Command, ctx: Context, build: (ctx: Context) => Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish); secret names are completed from the store when it opens without a prompt')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(Object.keys(SHELLS)))
    .addHelpText('after', `
Load it with:
  bash:  source <(store completion bash)         (in ~/.bashrc)
  zsh:   source <(store completion zsh)          (in ~/.zshrc, after compinit)
  fish:  store completion fish | source          (in ~/.config/fish/config.fish)
Secret names come from the store the command line (or STORE_PATH, or a
profile) names, a file or a PostgreSQL URL (given up after 2 s when the server
does not answer), and only when it opens without a prompt: a key file, STORE_MASTER_KEY,
STORE_PASSPHRASE(_FILE) or an HSM PIN given the same way. Of the command line
only --store, --profile and --keyfile are used (never --module or a
passphrase or PIN file: set those in the environment or a profile).`)
    .action(async (shell: string) => {
      const render = SHELLS[shell as keyof typeof SHELLS];
      await write(ctx.io.stdout, render(completionSpec(build(new Context(ctx.io)))));
    });

  program
    .command('__complete', { hidden: true })
    .description('for completion scripts: print secret names starting with PREFIX, one a line; nothing when the store does not open without a prompt')
    .argument('<what>', 'names')
    .argument('[prefix]', 'the start of the name', '')
    .action(async (what: string, prefix: string, _opts: unknown, cmd: Command) => {
      if (what !== 'names') throw new StoreError('E_USAGE', `__complete takes names${notShown(what)}`);
      // Names hold none of * ? [, so anything else typed cannot start one (and must not become a glob).
      if (prefix !== '' && nameProblem(prefix) !== undefined && nameProblem(`${prefix}x`) !== undefined) return;
      // A key, passphrase or PIN file that is a terminal or a FIFO would block the TAB press (a store URL is no file).
      const g = ctx.globals(cmd);
      const files = [isPostgresLocator(g.store) ? undefined : g.store, g.keyfile, g.passphraseFile, g.pinFile].filter((f): f is string => f !== undefined);
      if (!files.every(isRegularFile)) return;
      const quiet: Io = Object.create(ctx.io, { env: { value: { ...ctx.io.env, STORE_NO_PROMPT: '1' } } }) as Io;
      let names: string[];
      try {
        const store = await openStore(quickLocator(g.store, process.env), sourceForOpen(g, quiet));
        try {
          names = (await store.list({ pattern: prefix })).map((s) => s.name);
        } finally {
          await store.close();
        }
      } catch (e) {
        if (e instanceof StoreError) return; // no store, no key without a prompt, locked...: nothing to offer
        throw e;
      }
      if (names.length > 0) await write(ctx.io.stdout, `${names.join('\n')}\n`);
    });
}
