/**
 * Running the user's editor on a file, as git and pass do: $VISUAL, then
 * $EDITOR, else vi, through `sh -c '<editor> "$@"'` so an editor set with
 * arguments ("code --wait", "emacsclient -t") works, and the file's path is
 * its only argument. The editor shares our terminal: stdio is inherited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
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

/** How the editor ended. */
export interface EditorExit {
  /** Its exit status; null when a signal ended it. */
  status: number | null;
  signal: NodeJS.Signals | null;
}

/** The exit status of a process a signal ended, as a shell reports it: 128+N. */
export function signalExitStatus(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/**
 * Run `editor` on `path` and wait for it to exit.
 * @throws StoreError E_IO when /bin/sh itself cannot be started
 */
export function runEditor(editor: string, path: string, env: NodeJS.ProcessEnv, signals: EditSignals): Promise<EditorExit> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', `${editor} "$@"`, editor, path], { stdio: 'inherit', env });
    signals.forwardTo(child);
    child.once('error', (e: NodeJS.ErrnoException) => reject(new StoreError('E_IO', `cannot start /bin/sh to run the editor: ${e.code ?? e.message}`)));
    child.once('exit', (status, signal) => resolve({ status, signal }));
  });
}
