/**
 * Ctrl-C for long work that can stop cleanly (rotate-keys' rewrap, an
 * import's checks, an export, a backup). The first SIGINT asks the work to
 * stop at its next safe point, through an AbortSignal, and says so on
 * stderr; the command then reports what was done and exits 130. A second
 * SIGINT ends the process at once, as SIGINT does by default: SQLite keeps
 * only committed transactions, so even then nothing is left half-written.
 *
 * Work that leaves a temp file when the process is killed (an export, a
 * backup) takes SIGTERM and SIGHUP the same way (`termination`): they stop
 * it at its next safe point too, so the temp file goes with it, and the
 * command exits 128+N (143, 129) as a process those signals end would, and
 * as `store edit` does (stopOnSignals). Elsewhere they keep their default:
 * the process ends at once.
 */
import { constants as osConstants } from 'node:os';
import { StoreError } from '../errors.js';
import type { Context } from './context.js';
import { ErrorReport } from './error-report.js';
import type { Io } from './io.js';

/** The signals that stop work at a safe point. */
export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';

/** What this module needs of `process` (a fake in tests). */
export interface SignalSource {
  readonly pid: number;
  on(signal: StopSignal, listener: () => void): unknown;
  off(signal: StopSignal, listener: () => void): unknown;
  kill(pid: number, signal: StopSignal): unknown;
}

export interface Interruptible {
  /** Aborted by the first Ctrl-C (or, with `termination`, SIGTERM or SIGHUP). */
  readonly signal: AbortSignal;
  /** The signal that aborted `signal`, once one has. */
  readonly received: StopSignal | undefined;
  /**
   * Whether a Ctrl-C came, counting one that came during synchronous work
   * just done (a transaction) and has not reached the handler yet.
   */
  settle(): Promise<boolean>;
  /** Give the signals their default meaning back. */
  dispose(): void;
}

export interface InterruptOptions {
  /** SIGTERM and SIGHUP stop the work as Ctrl-C does (see the module comment); by default they are left alone. */
  termination?: boolean;
}

/** The exit status of a process a signal ended, as a shell reports it: 128+N. */
export function signalExitStatus(signal: NodeJS.Signals): number {
  return 128 + (osConstants.signals[signal] ?? 0);
}

/**
 * A SIGINT that came while JavaScript was busy waits in libuv until the event
 * loop polls; two turns of the check phase have a poll between them.
 */
export async function letSignalsArrive(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Catch SIGINT (and with `termination` SIGTERM and SIGHUP) until `dispose`.
 * `stopping` says, after "store: ", what the work does now, e.g. "stopping
 * after the current batch". A second signal, of any of these, ends the
 * process at once by that signal.
 */
export function interruptible(io: Io, stopping: string, source: SignalSource = process, options: InterruptOptions = {}): Interruptible {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const signals: StopSignal[] = options.termination ? ['SIGINT', 'SIGTERM', 'SIGHUP'] : ['SIGINT'];
  const listeners = signals.map((sig) => [sig, () => {
    if (!controller.signal.aborted) {
      received = sig;
      // On a terminal the line holds a progress bar (and the ^C the terminal echoed): start a new one.
      const told = sig === 'SIGINT' ? `${stopping} (Ctrl-C again to stop at once)` : `${sig}: ${stopping}`;
      io.stderr.write(`${io.stderrIsTTY ? '\n' : ''}store: ${told}\n`);
      controller.abort();
      return;
    }
    // Without our listeners the signal kills again; re-raising it lets the parent see a death by it.
    dispose();
    source.kill(source.pid, sig);
  }] as const);
  const dispose = () => {
    for (const [sig, listener] of listeners) source.off(sig, listener);
  };
  for (const [sig, listener] of listeners) source.on(sig, listener);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    settle: async () => {
      await letSignalsArrive();
      return controller.signal.aborted;
    },
    dispose,
  };
}

/**
 * Run `work` with an abort signal that Ctrl-C, SIGTERM and SIGHUP abort
 * (`interruptible` with `termination`), for work that leaves a temp file if
 * the process is killed: stopped, it removes the file and fails with
 * E_INTERRUPTED. After Ctrl-C that error is thrown on (exit 130); after
 * SIGTERM or SIGHUP it is told here as any error is (text, or one JSON line
 * with `json`), `ctx.exitStatus` is set to 128+N, and the result is
 * undefined: the caller has nothing more to say. A signal the work did not
 * look at before it finished is too late to stop it: the result is kept,
 * with the note `tooLate` makes of the signal's name.
 */
export async function stopOnSignals<T>(
  ctx: Context, stopping: string, json: boolean, work: (signal: AbortSignal) => Promise<T>, tooLate: (signal: string) => string,
): Promise<T | undefined> {
  const interrupt = interruptible(ctx.io, stopping, process, { termination: true });
  try {
    const result = await work(interrupt.signal);
    if (await interrupt.settle()) await ctx.note(tooLate(interrupt.received === 'SIGINT' ? 'Ctrl-C' : interrupt.received!));
    return result;
  } catch (e) {
    const sig = interrupt.received;
    if (!(e instanceof StoreError) || e.code !== 'E_INTERRUPTED' || sig === undefined || sig === 'SIGINT') throw e;
    const exit = signalExitStatus(sig);
    new ErrorReport(json ? ['--json'] : []).fail(ctx.io, { code: e.code, message: e.message, hints: e.hints, exit });
    ctx.exitStatus = exit;
    return undefined;
  } finally {
    interrupt.dispose();
  }
}
