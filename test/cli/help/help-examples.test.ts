/**
 * Examples in every command's --help (issue 11): every command has some,
 * none is for a command that does not exist, and every `store` invocation
 * in them parses with the real program's commands, options, choices and
 * argument parsers (stopped just before the action runs), reaching the
 * command it is listed under.
 */
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { Context } from '../../../src/cli/context.js';
import { EXAMPLES, commandPath, examplesText } from '../../../src/cli/help/examples.js';
import type { Io } from '../../../src/cli/io.js';
import { fullProgram } from '../../../src/cli/main.js';
import { runInProcess } from '../../helpers/in-process.js';
import { sink } from '../../helpers/sink.js';

function quietContext(): Context {
  const io: Io = {
    stdin: Readable.from([]), stdout: sink().stream, stderr: sink().stream, env: {},
    stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
  };
  return new Context(io);
}

/** Every command a user can run or ask help for: not hidden ones (__complete), not commander's implicit help. */
function userCommands(program: Command): Command[] {
  const visit = (parent: Command): Command[] => parent.createHelp().visibleCommands(parent)
    .filter((c) => parent.commands.includes(c))
    .flatMap((c) => [c, ...visit(c)]);
  return visit(program);
}

type Token = { word: string } | { op: string };
const OPERATORS = ['&&', '||', '$(', '<(', '|', ';', '(', ')', '<', '>', '&'];

/** A small shell lexer: words (with '…' and "…" quoting) and the operators that end a command. */
function lex(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    if (/\s/.test(line[i]!)) {
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => line.startsWith(o, i));
    if (op) {
      tokens.push({ op });
      i += op.length;
      continue;
    }
    let word = '';
    while (i < line.length && !/\s/.test(line[i]!) && !OPERATORS.some((o) => line.startsWith(o, i))) {
      const quote = line[i];
      if (quote === "'" || quote === '"') {
        const end = line.indexOf(quote, i + 1);
        if (end === -1) throw new Error(`unclosed ${quote} in: ${line}`);
        word += line.slice(i + 1, end);
        i = end + 1;
      } else word += line[i++];
    }
    tokens.push({ word });
  }
  return tokens;
}

/** The arguments of each `store` invocation in a shell line, in order. */
function storeInvocations(line: string): string[][] {
  const found: string[][] = [];
  let current: string[] | undefined;
  let commandStart = true;
  for (const t of lex(line)) {
    if ('op' in t) {
      current = undefined;
      // After a redirection comes a file name, not a command.
      commandStart = t.op !== '<' && t.op !== '>';
      continue;
    }
    if (current) current.push(t.word);
    else if (commandStart && t.word === 'store') found.push((current = []));
    else if (!(commandStart && /^[A-Za-z_][A-Za-z0-9_]*=/.test(t.word))) commandStart = false;
  }
  return found;
}

class Parsed extends Error {
  constructor(readonly path: string) {
    super(`parsed: ${path}`);
  }
}

/** Parse `argv` with the real program, stopping before any action: the path of the command that would run. */
async function parseOnly(argv: string[]): Promise<string> {
  const program = await fullProgram(quietContext());
  program.hook('preAction', (_root, action) => {
    throw new Parsed(commandPath(action));
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof Parsed) return e.path;
    throw new Error(`store ${argv.join(' ')}: ${(e as Error).message}`);
  }
  throw new Error(`store ${argv.join(' ')}: no command ran`);
}

describe('examples in --help', () => {
  it('every command has examples, and every example is of a command that exists', async () => {
    const paths = userCommands(await fullProgram(quietContext())).map(commandPath);
    expect(paths.length).toBeGreaterThan(40);
    expect(paths.filter((p) => !EXAMPLES[p]?.length), 'commands without examples').toEqual([]);
    expect(Object.keys(EXAMPLES).filter((p) => !paths.includes(p)), 'examples of no command').toEqual([]);
  });

  it('every store invocation in an example parses, the first reaching the command it is listed under', async () => {
    for (const [path, examples] of Object.entries(EXAMPLES)) {
      for (const { line, does } of examples) {
        expect(does.trim(), line).not.toBe('');
        const invocations = storeInvocations(line);
        expect(invocations.length, `no store invocation in: ${line}`).toBeGreaterThan(0);
        const reached = await Promise.all(invocations.map(parseOnly));
        // A group without an action of its own (config, policy) is shown through its subcommands.
        expect(reached[0] === path || reached[0]!.startsWith(`${path} `), `${line} reaches "${reached[0]}", listed under "${path}"`).toBe(true);
      }
    }
  });

  it('the parse check refuses what does not exist (it can fail)', async () => {
    await expect(parseOnly(['get', 'a', '--no-such-option'])).rejects.toThrow(/unknown option/);
    await expect(parseOnly(['get', 'a', '--version', 'two'])).rejects.toThrow(/--version takes a whole number/);
    await expect(parseOnly(['import', 'f', '--on-conflict', 'update-all'])).rejects.toThrow(/Allowed choices/);
    await expect(parseOnly(['nosuch'])).rejects.toThrow(/unknown command/);
    expect(await parseOnly(['--profile', 'p', 'audit', 'prune', '--before', '90d'])).toBe('audit prune');
    expect(storeInvocations("A=$(store get x) B=1 store list 'a b' > out | store env --all")).toEqual([['get', 'x'], ['list', 'a b'], ['env', '--all']]);
  });

  it('each command\'s --help ends with its examples', async () => {
    for (const path of Object.keys(EXAMPLES)) {
      const r = await runInProcess([...path.split(' '), '--help']);
      expect(r.status, path).toBe(0);
      expect(r.out.trimEnd().endsWith(examplesText(path).trimEnd()), path).toBe(true);
      for (const { line } of EXAMPLES[path]!) expect(r.out, path).toContain(`\n  ${line}\n`);
    }
  });
});
