/**
 * The CLI run in-process through run(argv, io), as its behaviour tests do:
 * stdin given as bytes or a stream, stdout and stderr collected as text, the
 * exit status returned. No child process is started (unless the command starts one).
 */
import { Readable } from 'node:stream';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { cleanEnv } from '../cli/run-cli.js';
import { sink } from './sink.js';

export interface InProcessOptions {
  /** stdin: bytes or text, or a stream (default: empty). */
  input?: string | Buffer | Readable;
  /** Added to the clean test environment. */
  env?: Record<string, string>;
  stdoutIsTTY?: boolean;
}

export async function runInProcess(argv: string[], options: InProcessOptions = {}): Promise<{ status: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const input = options.input ?? '';
  const stdin = input instanceof Readable ? input : Readable.from([Buffer.from(input)]);
  const io: Io = {
    stdin, stdout: out.stream, stderr: err.stream, env: { ...cleanEnv(), ...options.env },
    stdinIsTTY: false, stdoutIsTTY: options.stdoutIsTTY ?? false, stderrIsTTY: false,
  };
  const status = await run(argv, io);
  return { status, out: out.text(), err: err.text() };
}
