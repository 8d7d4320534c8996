/**
 * The man page store(1), in roff (the man macros), made from the program
 * itself: each command's usage, description, arguments and options as
 * commander knows them, the notes the command adds to its --help, and its
 * examples; exit statuses from exit-codes.ts. So the page says what --help
 * says, and cannot drift from it. Written at build time by scripts/build-man.mjs.
 */
import type { Command, Help, Option } from 'commander';
import { ENVIRONMENT, FILES } from './environment.js';
import { EXAMPLES, commandPath, examplesText } from './examples.js';
import { exitStatuses } from './exit-status.js';

export interface ManOptions {
  version: string;
  /** YYYY-MM-DD, for the page's footer. */
  date: string;
}

/**
 * Text for a roff text line: backslashes and hyphens escaped (\- is the minus
 * a command line needs), and anything beyond ASCII named by its code point,
 * which troff reads whatever the page's encoding is taken to be.
 */
export function roffText(text: string): string {
  const escaped = text.replace(/\\/g, '\\e').replace(/-/g, '\\-')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
  // A line starting with . or ' would be read as a request.
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

const bold = (text: string): string => `\\fB${roffText(text)}\\fR`;
const italic = (text: string): string => `\\fI${roffText(text)}\\fR`;

/** The commands a user can run or ask help for, parents first: not hidden ones (__complete), not commander's implicit help. */
export function documentedCommands(program: Command): Command[] {
  const visit = (parent: Command): Command[] => parent.createHelp().visibleCommands(parent)
    .filter((c) => parent.commands.includes(c))
    .flatMap((c) => [c, ...visit(c)]);
  return visit(program);
}

/** `--version <n>` as bold flags and an italic placeholder. */
function optionTag(o: Option): string {
  const at = o.flags.search(/[<[]/);
  return at === -1 ? bold(o.flags) : `${bold(o.flags.slice(0, at).trimEnd())} ${italic(o.flags.slice(at))}`;
}

function options(help: Help, cmd: Command): string[] {
  return help.visibleOptions(cmd)
    .filter((o) => o.long !== '--help')
    .flatMap((o) => ['.TP', optionTag(o), roffText(help.optionDescription(o))]);
}

/**
 * What a command adds to the end of its --help by itself (as `store run`
 * explains its variable names), without the examples, which the page sets
 * apart. Read by printing the help into a string: the program is the page's own.
 */
function notes(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s) });
  cmd.outputHelp();
  const main = cmd.helpInformation();
  let after = text.slice(text.indexOf(main) + main.length);
  const examples = examplesText(commandPath(cmd));
  if (examples && after.endsWith(`${examples}\n`)) after = after.slice(0, -(examples.length + 1));
  return after.trim();
}

/**
 * An indented line of help text that must keep its line and spacing: a
 * command line, JSON, or columns lined up with spaces. Other indented lines
 * are a paragraph's hanging indent, filled with the rest.
 */
function isVerbatim(line: string): boolean {
  const text = line.trim();
  return /^\s{2,}\S/.test(line) && (/^(store |\{)/.test(text) || /\S {2,}\S/.test(text));
}

/** Hand-wrapped help text as roff: its lines filled, blank lines as paragraphs, verbatim lines kept as they are. */
function paragraphs(text: string): string[] {
  const out: string[] = [];
  let verbatim = false;
  for (const line of text.split('\n')) {
    const keep = isVerbatim(line);
    if (keep && !verbatim) out.push('.RS', '.nf');
    if (!keep && verbatim) out.push('.fi', '.RE');
    verbatim = keep;
    if (line.trim() === '') out.push('.PP');
    else out.push(roffText(line.trim()));
  }
  if (verbatim) out.push('.fi', '.RE');
  return out;
}

function examples(path: string): string[] {
  const list = EXAMPLES[path] ?? [];
  if (list.length === 0) return [];
  return ['.PP', 'Examples:', '.RS', '.nf', ...list.flatMap((e) => [roffText(`# ${e.does}`), bold(e.line)]), '.fi', '.RE'];
}

function command(cmd: Command): string[] {
  const help = cmd.createHelp();
  const aliases = cmd.aliases();
  // Not help.commandUsage(): its "list|ls" is no command line; aliases get a line of their own.
  const lines = ['.SS', roffText(`store ${commandPath(cmd)} ${cmd.usage()}`.trimEnd()), roffText(help.commandDescription(cmd))];
  if (aliases.length > 0) lines.push('.br', roffText(`Also: ${aliases.map((a) => `store ${a}`).join(', ')}.`));
  const args = help.visibleArguments(cmd);
  if (args.length > 0) lines.push(...args.flatMap((a) => ['.TP', italic(help.argumentTerm(a)), roffText(help.argumentDescription(a))]));
  lines.push(...options(help, cmd));
  const said = notes(cmd);
  if (said) lines.push('.PP', ...paragraphs(said));
  lines.push(...examples(commandPath(cmd)));
  return lines;
}

/** The whole page. `program` must have every command group registered, and is the page's own (its output is redirected). */
export function manPage(program: Command, { version, date }: ManOptions): string {
  const help = program.createHelp();
  const lines = [
    `.TH STORE 1 ${date} "strongbox ${version}" "User Commands"`,
    // No hyphenation and a ragged right edge: option names and paths must not be split.
    '.nh',
    '.ad l',
    '.SH NAME',
    roffText('store, strongbox - a local encrypted secret store'),
    '.SH SYNOPSIS',
    `${bold('store')} [${italic('global options')}] ${italic('command')} [${italic('options')}] [${italic('arguments')}]`,
    '.br',
    `${bold('store --version')} [${bold('--json')}]`,
    '.SH DESCRIPTION',
    ...paragraphs(`Strongbox keeps versioned secrets in one SQLite file, each value encrypted under a data key that
the store's master key wraps (a passphrase, a key file, a key in the environment, or a key inside an HSM).
store is its command line; it is also installed as strongbox.

Values are bytes. They are read from stdin, a file (--file) or a no-echo prompt, never from the command
line, where ps and the shell history would see them. store get writes a value exactly as stored, and adds
a newline only when stdout is a terminal. Messages name secrets, versions, key ids and paths, never a value.

Every command that prints data takes --json. Under --json a failure is one line on stderr:
  {"error":{"code":"E_NOT_FOUND","message":"...","hints":[...],"exit":3}}
code is the stable error code, exit the exit status. Without --json a failure is told as
store: error: and store: hint: lines.`),
    '.SH GLOBAL OPTIONS',
    'These go before or after the command.',
    ...options(help, program),
    '.SH COMMANDS',
    ...documentedCommands(program).flatMap(command),
    '.SH EXIT STATUS',
    ...exitStatuses().flatMap((row) => [
      '.TP', bold(String(row.status)),
      roffText(row.codes.length > 0 ? `${row.meaning} (${row.codes.join(', ')})` : row.meaning),
    ]),
    '.SH ENVIRONMENT',
    'Flags win over the environment, and the environment over a profile.',
    ...ENVIRONMENT.flatMap((e) => ['.TP', bold(e.name), roffText(e.meaning)]),
    '.SH FILES',
    ...FILES.flatMap((f) => ['.TP', italic(f.name), roffText(f.meaning)]),
    '.SH SEE ALSO',
    `${bold('store')} ${italic('command')} ${bold('--help')}, and the README of the strongbox package.`,
  ];
  return `${lines.join('\n')}\n`;
}
