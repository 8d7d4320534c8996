/**
 * The CLI's direct writes to standard output and error (src/cli/fd-output.ts),
 * on real descriptors: a file, a FIFO (a pipe with a name, so a test can open
 * both ends, blocking or not), /dev/null and a pseudo-terminal.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FdOutput, isTerminal } from '../../src/cli/fd-output.js';
import { tempDir } from '../helpers/tmp.js';

function opened(path: string, flags: number): number {
  const fd = openSync(path, flags);
  onTestFinished(() => {
    try {
      closeSync(fd);
    } catch {
      // closed by the test
    }
  });
  return fd;
}

function fifo(): string {
  const path = join(tempDir(), 'fifo');
  execFileSync('mkfifo', [path]);
  return path;
}

/** A Writable keeping what it is given, standing in for process.stdout. */
function collector(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

const written = (out: FdOutput, data: Uint8Array | string) => new Promise<void>((resolve, reject) => {
  out.write(data, (err) => (err ? reject(err) : resolve()));
});

describe('isTerminal', () => {
  it('is false for a file, a pipe, /dev/null and a closed descriptor, without asking node:tty', () => {
    const file = opened(join(tempDir(), 'f'), constants.O_RDWR | constants.O_CREAT);
    const pipe = opened(fifo(), constants.O_RDWR);
    const devNull = opened('/dev/null', constants.O_RDWR);
    const closed = openSync('/dev/null', constants.O_RDONLY);
    closeSync(closed);
    expect([isTerminal(file), isTerminal(pipe), isTerminal(devNull), isTerminal(closed)]).toEqual([false, false, false, false]);
  });

  it('is true for a terminal (a pseudo-terminal\'s master)', () => {
    expect(existsSync('/dev/ptmx')).toBe(true);
    const pty = opened('/dev/ptmx', constants.O_RDWR | constants.O_NOCTTY);
    expect(isTerminal(pty)).toBe(true);
  });
});

describe('FdOutput', () => {
  it('writes bytes and text in order, each write\'s callback after its bytes are written', async () => {
    const path = join(tempDir(), 'out');
    const out = new FdOutput(opened(path, constants.O_WRONLY | constants.O_CREAT), () => {
      throw new Error('a blocking file never needs the stream');
    });
    await written(out, new Uint8Array([0, 1, 2, 255]));
    await written(out, 'π and text\n');
    expect(readFileSync(path)).toEqual(Buffer.concat([Buffer.from([0, 1, 2, 255]), Buffer.from('π and text\n', 'utf8')]));
  });

  it('hands over to the stream, in order, when the descriptor is not blocking and its pipe is full', async () => {
    const path = fifo();
    const reader = opened(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = opened(path, constants.O_WRONLY | constants.O_NONBLOCK);
    const fallback = collector();
    const out = new FdOutput(writer, () => fallback.stream);
    const data = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 251;
    await written(out, data.subarray(0, 512 * 1024));
    await written(out, data.subarray(512 * 1024));
    const inPipe: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    for (;;) {
      let n = 0;
      try {
        n = readSync(reader, buf);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw e;
      }
      if (n === 0) break;
      inPipe.push(Buffer.from(buf.subarray(0, n)));
    }
    const direct = Buffer.concat(inPipe);
    expect(direct.length).toBeGreaterThan(0); // the pipe took what it had room for …
    expect(fallback.bytes().length).toBeGreaterThan(0); // … and the stream the rest
    expect(Buffer.concat([direct, fallback.bytes()])).toEqual(data);
  });

  it('gives a write error to the callback and to an error listener: EPIPE once the reader has gone', async () => {
    const path = fifo();
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const out = new FdOutput(opened(path, constants.O_WRONLY | constants.O_NONBLOCK), () => {
      throw new Error('not for EPIPE');
    });
    closeSync(reader);
    const emitted = new Promise<NodeJS.ErrnoException>((resolve) => out.once('error', resolve));
    await expect(written(out, 'nobody reads this')).rejects.toMatchObject({ code: 'EPIPE' });
    expect((await emitted).code).toBe('EPIPE');
  });
});
