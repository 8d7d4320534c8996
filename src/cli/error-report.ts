/**
 * How a failed command is told on stderr: `store: error: …` and
 * `store: hint: …` lines for people or, when the command line asks for
 * --json and the command takes it, one JSON line for programs:
 *
 *   {"error":{"code":"E_NOT_FOUND","message":"…","hints":["…"],"exit":3}}
 *
 * Messages are safe to print as they are: the library never puts a value
 * into one, and commander's own messages have option values cut out here.
 */
import type { Command, CommanderError } from 'commander';
import type { Io } from './io.js';

export interface Failure {
  /** A StoreError code; E_INTERNAL for a bug (an error that is not a StoreError). */
  code: string;
  message: string;
  hints: readonly string[];
  exit: number;
}

/**
 * commander quotes an unknown option whole: in --password=hunter2 the part
 * after '=' is a value, so it is cut from anything commander says. It quotes
 * an option's or argument's refused value too (`argument 'x=hunter2' is
 * invalid`, for --master's choices): one that holds '=' is cut whole.
 */
export function withoutOptionValues(text: string): string {
  return text.replace(/('-[^'=\s]*=)[^']*'/g, "$1…'").replace(/((?:argument|value) )'[^'\n]*=[^'\n]*'/g, "$1'…'");
}

/**
 * `, not "TEXT"`: how a message tells the option value it refuses, when it
 * may be shown: short, printable, and without '=' (README: no error quotes a
 * name, pattern or option that holds '=', since what follows '=' may be a
 * value: --cas abc=hunter2). Otherwise nothing: the message names the option only.
 */
export function notShown(text: unknown, max = 80): string {
  if (typeof text !== 'string' || text.length > max || !/^[\x20-\x7e]*$/.test(text) || text.includes('=')) return '';
  return `, not "${text}"`;
}

/** The command's path from the root, as typed: `store audit prune`. */
function commandLine(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export class ErrorReport {
  /** --json among the words before `--` (after it they are another program's, as in store run). */
  readonly #asked: boolean;
  /** Whether a failure is told as JSON: follows the command commander has reached. */
  #json: boolean;
  #command = 'store';

  constructor(argv: readonly string[]) {
    const end = argv.indexOf('--');
    this.#asked = (end === -1 ? argv : argv.slice(0, end)).includes('--json');
    // No command reached yet (an unknown command, a bad global option): the caller asked for JSON.
    this.#json = this.#asked;
  }

  get json(): boolean {
    return this.#json;
  }

  /** commander is about to parse `cmd`'s part of the command line: JSON if --json was given and `cmd` takes it. */
  reached(cmd: Command): void {
    this.#command = commandLine(cmd);
    this.#json = this.#asked && cmd.options.some((o) => o.long === '--json');
  }

  /** Tell a failure; `stack` only under --debug. */
  fail(io: Io, failure: Failure, stack?: string): void {
    if (this.#json) {
      const error = { code: failure.code, message: failure.message, hints: [...failure.hints], exit: failure.exit, ...(stack ? { stack } : {}) };
      io.stderr.write(`${JSON.stringify({ error })}\n`);
      return;
    }
    let text = `store: error: ${failure.message}\n`;
    for (const hint of failure.hints) text += `store: hint: ${hint}\n`;
    if (stack) text += `${stack}\n`;
    io.stderr.write(text);
  }

  /**
   * A command line commander refused. As text commander has printed it
   * already; as JSON it was held back, and is told here: its first line is
   * the message, further lines ("(Did you mean --json?)") are hints.
   */
  failUsage(io: Io, e: CommanderError, exit: number): void {
    if (!this.#json) return;
    const [first = '', ...more] = withoutOptionValues(e.message).replace(/^error: /, '').split('\n').filter((l) => l.trim() !== '');
    const message = e.code === 'commander.help' ? `${this.#command} needs a command` : first;
    const hints = [...more.map((l) => l.replace(/^\((.*)\)$/, '$1')), `run ${this.#command} --help for usage`];
    this.fail(io, { code: 'E_USAGE', message, hints, exit });
  }
}
