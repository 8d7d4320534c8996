/**
 * The CLI's window on the process: streams, environment, terminals. Injected
 * so `run()` can be driven in-process; the only layer that touches stdio.
 */
import type { Readable, Writable } from 'node:stream';
import { isatty } from 'node:tty';

export interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

export function processIo(): Io {
  return {
    // A getter: making process.stdin costs ~2 ms of start-up, and most commands never read it.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    stdinIsTTY: isatty(0),
    stdoutIsTTY: isatty(1),
    stderrIsTTY: isatty(2),
  };
}

/** Write and wait until the stream has taken it (binary-safe, no newline added). */
export function write(stream: Writable, data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

export function line(stream: Writable, text: string): Promise<void> {
  return write(stream, `${text}\n`);
}
