/**
 * The process's standard output and error without node:net. Making
 * process.stdout for a pipe loads node:net and the stream machinery behind
 * it, ~2 ms of a short command's start, and node:tty (for isatty) loads the
 * same. A pipe or a file, what `$(store get …)`, a cron job or a test sees,
 * is written with fs.writeSync, as Node itself writes a file it was given;
 * only a terminal, or a descriptor fstat cannot tell apart from one, loads
 * them. Blocking writes are what process.stdout does on Linux for pipes and
 * files too.
 */
import { EventEmitter } from 'node:events';
import { fstatSync, statSync, writeSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';

/** What the CLI writes its output through: the one method of a Writable it uses. */
export interface Output {
  write(data: Uint8Array | string, done?: (err?: Error | null) => void): boolean;
}

/**
 * Whether `fd` is a terminal. A pipe, file or socket never is, nor is
 * /dev/null (a cron job's stdin), which fstat tells without node:tty; any
 * other character device may be, and isatty tells. A closed descriptor is not one.
 */
export function isTerminal(fd: number): boolean {
  let stats: Stats;
  try {
    stats = fstatSync(fd);
  } catch {
    return false;
  }
  if (!stats.isCharacterDevice() || isDevNull(stats)) return false;
  return (createRequire(import.meta.url)('node:tty') as typeof import('node:tty')).isatty(fd);
}

/** /dev/null's device number, looked up once (a cron job has it on all three descriptors); null where there is none. */
let devNullRdev: number | null | undefined;

/** Whether `stats` are /dev/null's (a system without one leaves the question to isatty). */
function isDevNull(stats: Stats): boolean {
  if (devNullRdev === undefined) {
    try {
      devNullRdev = statSync('/dev/null').rdev;
    } catch {
      devNullRdev = null;
    }
  }
  return stats.rdev === devNullRdev;
}

/**
 * Standard output or error (`fd` 1 or 2; any descriptor in tests) written
 * directly. `stream()` is the process's own stream for it, taken over for
 * good when the descriptor is not blocking (EAGAIN: someone set O_NONBLOCK on
 * a pipe we share), so what was written stays in order. A write error goes
 * to the write's callback, and is emitted as 'error' when someone listens,
 * as a stream's is (bin.ts ends quietly on EPIPE, a reader that went away).
 */
export class FdOutput extends EventEmitter implements Output {
  #stream: Writable | undefined;

  constructor(private readonly fd: number, private readonly stream: () => Writable) {
    super();
  }

  write(data: Uint8Array | string, done?: (err?: Error | null) => void): boolean {
    if (this.#stream) return this.#stream.write(data, done);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let at = 0;
    try {
      while (at < bytes.length) at += writeSync(this.fd, bytes, at, bytes.length - at);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        this.#stream = this.stream();
        this.#stream.on('error', (err) => this.#failed(err));
        return this.#stream.write(bytes.subarray(at), done);
      }
      process.nextTick(() => {
        done?.(e as Error);
        this.#failed(e as Error);
      });
      return false;
    }
    if (done) process.nextTick(done);
    return true;
  }

  #failed(e: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}
