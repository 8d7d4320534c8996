/**
 * What shell completion needs to know, read from the real commander program
 * (every command group registered), so a completion script cannot drift from
 * the commands: the command tree, each command's options and what their
 * values and the positional arguments are (secret names, files, ...).
 */
import type { Argument, Command, Option } from 'commander';

/**
 * What a word is, so the shell knows what to offer: `name` secret names (from
 * the store), `file` paths, `command` programs on PATH, `value` anything (no
 * offer), `choices:a b c` one of those words.
 */
export type ValueKind = 'name' | 'file' | 'command' | 'value' | `choices:${string}`;

export interface OptionSpec {
  /** `--json`, or `-i` and `--input`. */
  flags: string[];
  description: string;
  /** What its value is; absent for a flag without a value. */
  value?: ValueKind;
}

export interface CommandSpec {
  /** Command names from the root, space-separated: '' for the root, 'policy set'. */
  path: string;
  /** Its name then its aliases (none for the root). */
  names: string[];
  description: string;
  /** Its own options; the root's are the global ones, valid after any command too. */
  options: OptionSpec[];
  /** What each positional argument is; the last repeats when `variadic`. */
  args: ValueKind[];
  variadic: boolean;
  subcommands: CommandSpec[];
}

function kindOf(placeholder: string, choices: readonly string[] | undefined): ValueKind {
  if (choices && choices.length > 0) return `choices:${choices.join(' ')}`;
  const p = placeholder.toLowerCase();
  if (/^(name|names|pattern|prefix)\b/.test(p)) return 'name';
  if (/file|path|template|dir/.test(p)) return 'file';
  if (p === 'command') return 'command';
  return 'value';
}

function optionSpec(o: Option): OptionSpec {
  const flags = [o.short, o.long].filter((f): f is string => typeof f === 'string');
  const spec: OptionSpec = { flags, description: o.description ?? '' };
  if (o.required || o.optional) spec.value = kindOf(/[<[]([^>\]]+)/.exec(o.flags)?.[1] ?? '', o.argChoices);
  return spec;
}

function argKind(a: Argument): ValueKind {
  return kindOf(a.name(), a.argChoices);
}

function commandSpec(cmd: Command, parentPath: string, isRoot: boolean): CommandSpec {
  const help = cmd.createHelp();
  const path = isRoot ? '' : `${parentPath} ${cmd.name()}`.trim();
  const subs = help.visibleCommands(cmd);
  const siblingNames = subs.filter((s) => s.name() !== 'help').map((s) => s.name());
  return {
    path,
    names: isRoot ? [] : [cmd.name(), ...cmd.aliases()],
    description: cmd.description(),
    options: help.visibleOptions(cmd).map(optionSpec),
    args: cmd.registeredArguments.map(argKind),
    variadic: cmd.registeredArguments.at(-1)?.variadic ?? false,
    subcommands: subs.map((s) => {
      const spec = commandSpec(s, path, false);
      // commander's own `help [command]`: its argument is one of the commands beside it.
      if (s.name() === 'help' && spec.args.length > 0) spec.args = [`choices:${siblingNames.join(' ')}`];
      return spec;
    }),
  };
}

/**
 * The global options a completion script passes on to `store __complete names`:
 * those that say which store and key to read, and no more. The command line is
 * half typed and not yet the user's word: `--module` would load (run) a library
 * and `--passphrase-file`/`--pin-file` could name a terminal or a FIFO that
 * blocks. A key file is only read, and `__complete` skips one that is not a
 * regular file.
 */
export const NAME_LOOKUP_OPTIONS: readonly string[] = ['--store', '--profile', '--keyfile'];

/** The completion tree of a fully registered program. */
export function completionSpec(program: Command): CommandSpec {
  return commandSpec(program, '', true);
}

/** Every command of the tree, the root first, parents before children. */
export function allCommands(root: CommandSpec): CommandSpec[] {
  return [root, ...root.subcommands.flatMap(allCommands)];
}

/** One line of a description, as short as a completion menu wants it. */
export function oneLine(text: string): string {
  const first = text.split('\n')[0]!.trim();
  return first.length <= 80 ? first : `${first.slice(0, 77)}...`;
}
