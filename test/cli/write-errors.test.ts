/**
 * A write to stdout that fails with anything but EPIPE (`store get x >
 * /dev/full`: ENOSPC) is a clean `store: error: cannot write to stdout:
 * ENOSPC`, exit 1 (E_IO), not a crash with a stack trace. In-process through
 * run(argv, io), with stdout an FdOutput on /dev/full as bin.ts makes it.
 */
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { FdOutput } from '../../src/cli/fd-output.js';
import { watchStdoutErrors, type Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { runInProcess } from '../helpers/in-process.js';
import { sink } from '../helpers/sink.js';
import { tempDir } from '../helpers/tmp.js';
import { cleanEnv } from './run-cli.js';

let base: string[];

beforeEach(async () => {
  const dir = tempDir();
  base = ['--store', join(dir, 's.db'), '--keyfile', join(dir, 'k.key')];
  expect((await runInProcess([...base, 'init', '--master', 'keyfile'])).status).toBe(0);
  expect((await runInProcess([...base, 'set', 'x'], { input: 'value-SECRET' })).status).toBe(0);
});

/** run(argv) with stdout the FdOutput of a descriptor on /dev/full (ENOSPC on every write), bin.ts's listener on it. */
async function toDevFull(argv: string[]) {
  const fd = openSync('/dev/full', constants.O_WRONLY);
  onTestFinished(() => closeSync(fd));
  const stdout = new FdOutput(fd, () => new Writable({ write: (_c, _e, done) => done(new Error('not used')) }));
  const err = sink();
  const exits: number[] = [];
  const watch = watchStdoutErrors(stdout, err.stream, (status) => exits.push(status));
  const io: Io = {
    stdin: Readable.from([]), stdout, stderr: err.stream, env: cleanEnv(),
    stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
  };
  const status = watch.finish(await run(argv, io));
  await new Promise((r) => setImmediate(r)); // the 'error' event comes on the next tick
  return { status, err: err.text(), exits };
}

describe('a failed write to stdout', () => {
  it.runIf(existsSync('/dev/full'))('get > /dev/full: store: error: cannot write to stdout: ENOSPC, exit 1', async () => {
    const r = await toDevFull([...base, 'get', 'x']);
    expect(r.status).toBe(1);
    expect(r.err).toBe('store: error: cannot write to stdout: ENOSPC\n');
    expect(r.exits).toEqual([]);
  });

  it.runIf(existsSync('/dev/full'))('--json: the error is told as JSON, code E_IO', async () => {
    const r = await toDevFull([...base, 'get', 'x', '--json']);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.err)).toMatchObject({ error: { code: 'E_IO', message: 'cannot write to stdout: ENOSPC', exit: 1 } });
  });

  it('any Output whose write fails (EIO) gives E_IO naming stdout', async () => {
    const err = sink();
    const failing = { write: (_d: unknown, done?: (e?: Error | null) => void) => {
      process.nextTick(() => done?.(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })));
      return false;
    } };
    const io: Io = {
      stdin: Readable.from([]), stdout: failing, stderr: err.stream, env: cleanEnv(),
      stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
    };
    expect(await run([...base, 'list'], io)).toBe(1);
    expect(err.text()).toBe('store: error: cannot write to stdout: EIO\n');
  });
});

describe("bin.ts's handling of stdout's 'error' events", () => {
  const errno = (code: string) => Object.assign(new Error(code), { code });

  it('a write error other than EPIPE is not thrown; a run that would end with 0 says so and ends with 1', () => {
    const stdout = new EventEmitter();
    const err = sink();
    const exits: number[] = [];
    const watch = watchStdoutErrors(stdout, err.stream, (s) => exits.push(s));
    expect(() => stdout.emit('error', errno('ENOSPC'))).not.toThrow();
    expect(exits).toEqual([]);
    expect(watch.finish(0)).toBe(1);
    expect(err.text()).toBe('store: error: cannot write to stdout: ENOSPC\n');
  });

  it('a run that failed already (and said why) keeps its status and says nothing more', () => {
    const stdout = new EventEmitter();
    const err = sink();
    const watch = watchStdoutErrors(stdout, err.stream, () => undefined);
    stdout.emit('error', errno('ENOSPC'));
    expect(watch.finish(1)).toBe(1);
    expect(err.text()).toBe('');
  });

  it('EPIPE (a reader that went away) ends the process quietly with 0; no error leaves the status as it is', () => {
    const stdout = new EventEmitter();
    const err = sink();
    const exits: number[] = [];
    const watch = watchStdoutErrors(stdout, err.stream, (s) => exits.push(s));
    expect(watch.finish(0)).toBe(0);
    stdout.emit('error', errno('EPIPE'));
    expect(exits).toEqual([0]);
    expect(err.text()).toBe('');
  });
});
