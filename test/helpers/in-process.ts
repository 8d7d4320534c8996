/**
 * The CLI run in-process through run(argv, io), as its behaviour tests do:
 * stdin given as bytes or a stream, stdout and stderr collected, the exit
 * status returned. No child process is started (unless the command starts one).
 */
import { Readable } from 'node:stream';
import { expect } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { cleanEnv } from '../cli/run-cli.js';
import { sink } from './sink.js';

export interface InProcessOptions {
  /** stdin: bytes or text, or a stream (default: empty). */
  input?: string | Uint8Array | Readable;
  /** Added to the clean test environment; a variable set to undefined is removed from it. */
  env?: Record<string, string | undefined>;
  stdoutIsTTY?: boolean;
}

export interface InProcessResult {
  status: number;
  /** stdout as text. */
  out: string;
  /** stdout byte for byte (for binary values). */
  bytes: Buffer;
  err: string;
}

export async function runInProcess(argv: string[], options: InProcessOptions = {}): Promise<InProcessResult> {
  const out = sink();
  const err = sink();
  const input = options.input ?? '';
  const stdin = input instanceof Readable ? input : Readable.from([Buffer.from(input)]);
  const io: Io = {
    stdin, stdout: out.stream, stderr: err.stream, env: cleanEnv(options.env),
    stdinIsTTY: false, stdoutIsTTY: options.stdoutIsTTY ?? false, stderrIsTTY: false,
  };
  const status = await run(argv, io);
  return { status, out: out.text(), bytes: out.bytes(), err: err.text() };
}

/** runInProcess, failing the test unless the command exits 0 (showing its stderr). */
export async function runInProcessOk(argv: string[], options: InProcessOptions = {}): Promise<InProcessResult> {
  const r = await runInProcess(argv, options);
  expect(r.status, r.err).toBe(0);
  return r;
}
