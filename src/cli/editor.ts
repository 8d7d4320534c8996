/**
 * Running the user's editor on a file, as git and pass do: $VISUAL, then
 * $EDITOR, else vi, through `sh -c 'exec <editor> "$@"'` so an editor set
 * with arguments ("code --wait", "emacsclient -t") works, and the file's path
 * is its only argument. `exec`: the shell becomes the editor, so the child
 * we signal is the editor itself (dash, unlike bash, does not exec the last
 * command of `sh -c` on its own: a signal would end the shell and leave the
 * editor running with the value). The editor shares our terminal: stdio is
 * inherited, and it stays in our process group, the terminal's foreground
 * one, as an interactive editor must.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { StoreError } from '../errors.js';

export type Env = Record<string, string | undefined>;

/** The editor command line, from the environment (an empty variable counts as unset). */
export function editorCommand(env: Env): string {
  return env.VISUAL?.trim() || env.EDITOR?.trim() || 'vi';
}

/**
 * What happens to signals while the value is in a file: SIGINT and SIGQUIT
 * are left to the editor (git does the same: a terminal's Ctrl-C reaches the
 * editor too, and the editor decides; if it dies of one, the edit is
 * aborted), while SIGTERM and SIGHUP are passed on to the editor and abort
 * the edit once it exits. Either way this process lives on until the file is
 * overwritten and removed: without listeners those signals would end it with
 * the file still there. Made before the file is, released after it is gone.
 *
 * Only the editor's own process is signalled, not a process group: the
 * editor is in ours (never detached, so it keeps the terminal), and
 * signalling that group would reach this process and, when store was started
 * without job control (from a script), whatever started it. An editor that
 * is a wrapper script running the real editor without exec can still leave
 * it behind; the scratch directory goes either way.
 */
export class EditSignals {
  /** The SIGTERM or SIGHUP that arrived, if one did. */
  received: NodeJS.Signals | undefined;
  #child: ChildProcess | undefined;
  readonly #ignore = (): void => {};
  readonly #abort = (sig: NodeJS.Signals): void => {
    this.received ??= sig;
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(sig);
  };

  constructor() {
    process.on('SIGINT', this.#ignore);
    process.on('SIGQUIT', this.#ignore);
    process.on('SIGTERM', this.#abort);
    process.on('SIGHUP', this.#abort);
  }

  /** Pass SIGTERM and SIGHUP on to this child from now on (and one that came already). */
  forwardTo(child: ChildProcess): void {
    this.#child = child;
    if (this.received) child.kill(this.received);
  }

  release(): void {
    process.off('SIGINT', this.#ignore);
    process.off('SIGQUIT', this.#ignore);
    process.off('SIGTERM', this.#abort);
    process.off('SIGHUP', this.#abort);
    this.#child = undefined;
  }
}

/**
 * The wrapper's script: `exec <editor> "$@"`, with variable assignments the
 * editor command starts with ("LANG=C vim") kept before `exec`, where the
 * shell takes them as assignments (after it, `exec` would look for a program
 * named "LANG=C"). Only unquoted ones are recognised.
 */
export function editorScript(editor: string): string {
  const [, assignments = '', command = ''] = /^((?:[A-Za-z_][A-Za-z0-9_]*=[^\s'"\\`;&|<>()]*\s+)*)([\s\S]*)$/.exec(editor)!;
  return `${assignments}exec ${command} "$@"`;
}

/** How the editor ended. */
export interface EditorExit {
  /** Its exit status; null when a signal ended it. */
  status: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Run `editor` on `path` and wait for it to exit.
 * @throws StoreError E_IO when /bin/sh itself cannot be started
 */
export function runEditor(editor: string, path: string, env: NodeJS.ProcessEnv, signals: EditSignals): Promise<EditorExit> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', editorScript(editor), editor, path], { stdio: 'inherit', env });
    signals.forwardTo(child);
    child.once('error', (e: NodeJS.ErrnoException) => reject(new StoreError('E_IO', `cannot start /bin/sh to run the editor: ${e.code ?? e.message}`)));
    child.once('exit', (status, signal) => resolve({ status, signal }));
  });
}
