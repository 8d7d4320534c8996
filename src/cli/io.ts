/**
 * The CLI's window on the process: streams, environment, terminals. Injected
 * so `run()` can be driven in-process; the only layer that touches stdio.
 */
import type { Readable } from 'node:stream';
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

/** Write and wait until the stream has taken it (binary-safe, no newline added). */
export function write(stream: Output, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

export function line(stream: Output, text: string): Promise<void> {
  return write(stream, `${text}\n`);
}
