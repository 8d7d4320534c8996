/**
 * Ctrl-C for long work that can stop cleanly (rotate-keys' rewrap, an
 * import's checks). The first SIGINT asks the work to stop at its next safe
 * point, through an AbortSignal, and says so on stderr; the command then
 * reports what was done and exits 130. A second SIGINT ends the process at
 * once, as SIGINT does by default: SQLite keeps only committed transactions,
 * so even then nothing is left half-written.
 */
import type { Io } from './io.js';

/** What this module needs of `process` (a fake in tests). */
export interface SignalSource {
  readonly pid: number;
  on(signal: 'SIGINT', listener: () => void): unknown;
  off(signal: 'SIGINT', listener: () => void): unknown;
  kill(pid: number, signal: 'SIGINT'): unknown;
}

export interface Interruptible {
  /** Aborted by the first Ctrl-C. */
  readonly signal: AbortSignal;
  /**
   * Whether a Ctrl-C came, counting one that came during synchronous work
   * just done (a transaction) and has not reached the handler yet.
   */
  settle(): Promise<boolean>;
  /** Give SIGINT its default meaning back. */
  dispose(): void;
}

/**
 * A SIGINT that came while JavaScript was busy waits in libuv until the event
 * loop polls; two turns of the check phase have a poll between them.
 */
export async function letSignalsArrive(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Catch SIGINT until `dispose`. `stopping` says, after "store: ", what the
 * work does now, e.g. "stopping after the current batch".
 */
export function interruptible(io: Io, stopping: string, source: SignalSource = process): Interruptible {
  const controller = new AbortController();
  const onSigint = () => {
    if (!controller.signal.aborted) {
      // On a terminal the line holds a progress bar (and the ^C the terminal echoed): start a new one.
      io.stderr.write(`${io.stderrIsTTY ? '\n' : ''}store: ${stopping} (Ctrl-C again to stop at once)\n`);
      controller.abort();
      return;
    }
    // Without our listener SIGINT kills again; re-raising it lets the parent see a death by SIGINT.
    source.off('SIGINT', onSigint);
    source.kill(source.pid, 'SIGINT');
  };
  source.on('SIGINT', onSigint);
  return {
    signal: controller.signal,
    settle: async () => {
      await letSignalsArrive();
      return controller.signal.aborted;
    },
    dispose: () => void source.off('SIGINT', onSigint),
  };
}
