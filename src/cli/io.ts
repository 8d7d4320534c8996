/**
 * The CLI's window on the process: streams, environment, terminals. Injected
 * so `run()` can be driven in-process; the only layer that touches stdio.
 */
import type { Readable } from 'node:stream';
import { StoreError } from '../errors.js';
import { EXIT, EXIT_FOR } from './exit-codes.js';
import { FdOutput, isTerminal, type Output } from './fd-output.js';

export type { Output } from './fd-output.js';

export interface Io {
  stdin: Readable;
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

/** The process's own io: its stdout, Node's stream or an FdOutput, reports write errors as an 'error' event (bin.ts). */
export type ProcessIo = Io & { stdout: Output & NodeJS.EventEmitter };

export function processIo(): ProcessIo {
  const stdoutIsTTY = isTerminal(1);
  const stderrIsTTY = isTerminal(2);
  return {
    // A getter: making process.stdin costs ~2 ms of start-up, and most commands never read it.
    get stdin() {
      return process.stdin;
    },
    // A terminal gets Node's own stream; a pipe or a file is written directly (fd-output.ts).
    stdout: stdoutIsTTY ? process.stdout : new FdOutput(1, () => process.stdout),
    stderr: stderrIsTTY ? process.stderr : new FdOutput(2, () => process.stderr),
    env: process.env,
    stdinIsTTY: isTerminal(0),
    stdoutIsTTY,
    stderrIsTTY,
  };
}

/** A failed write to the process's `what` (stdout, stderr), as run() tells it: `cannot write to stdout: ENOSPC`. */
export function outputFailed(what: string, e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  return new StoreError('E_IO', `cannot write to ${what}: ${(e as NodeJS.ErrnoException | undefined)?.code ?? 'error'}`);
}

/** `out` whose writes that fail give their callback outputFailed(what, error), not the bare system error. */
function reportingErrors(out: Output, what: string): Output {
  return {
    write: (data, done) => out.write(data, done && ((err) => done(err ? outputFailed(what, err) : err))),
  };
}

/**
 * `io` as run() uses it: a write to stdout or stderr that fails (a full disk:
 * `store get x > /dev/full`) rejects with E_IO naming the stream, which the
 * command's error reporting tells as any other failure. The other members
 * are io's own (stdin stays a getter: see processIo).
 */
export function withWriteErrors(io: Io): Io {
  const wrapped = Object.defineProperties({}, Object.getOwnPropertyDescriptors(io)) as Io;
  return Object.defineProperties(wrapped, {
    stdout: { value: reportingErrors(io.stdout, 'stdout'), enumerable: true, writable: true, configurable: true },
    stderr: { value: reportingErrors(io.stderr, 'stderr'), enumerable: true, writable: true, configurable: true },
  });
}

/**
 * What the process does with its stdout's 'error' events (bin.ts). A reader
 * that went away (EPIPE: `store list | head`) ends the process quietly, with
 * 0: not an error worth a message. Any other error (ENOSPC, EIO) is not
 * thrown, which would end the process with a stack trace: the failed write's
 * callback carries it to run(), which tells it as E_IO. `finish` is for a
 * write that had no callback (commander's help, --version): a run that would
 * otherwise end with 0 says then that stdout failed, and ends with E_IO's status.
 */
export function watchStdoutErrors(stdout: NodeJS.EventEmitter, stderr: Output, exit: (status: number) => void = (status) => process.exit(status)): {
  finish(status: number): number;
} {
  let failed: unknown;
  stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') exit(EXIT.ok);
    else failed ??= e;
  });
  return {
    finish(status) {
      if (failed === undefined || status !== EXIT.ok) return status;
      stderr.write(`store: error: ${outputFailed('stdout', failed).message}\n`);
      return EXIT_FOR.E_IO;
    },
  };
}

/** Write and wait until the stream has taken it (binary-safe, no newline added). */
export function write(stream: Output, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

export function line(stream: Output, text: string): Promise<void> {
  return write(stream, `${text}\n`);
}

/** What `chunked` gathers before it writes: big enough that a write per chunk costs nothing, small enough to keep memory flat. */
export const CHUNK_CHARS = 64 * 1024;

/**
 * Output written as it is made, a chunk of about `size` characters at a
 * time, each awaited as `write` awaits it: a long listing (store audit) is
 * never one string in memory, and a slow reader holds the command back
 * rather than letting its output pile up. `end` writes what is left; what
 * was gathered but not written when the caller fails is dropped, so output
 * shorter than a chunk is all or nothing, as a single write was.
 */
export function chunked(stream: Output, size: number = CHUNK_CHARS): { add(text: string): Promise<void>; end(): Promise<void> } {
  let parts: string[] = [];
  let held = 0;
  const flush = async () => {
    if (parts.length === 0) return;
    const text = parts.join('');
    parts = [];
    held = 0;
    await write(stream, text);
  };
  return {
    async add(text) {
      parts.push(text);
      held += text.length;
      if (held >= size) await flush();
    },
    end: flush,
  };
}
