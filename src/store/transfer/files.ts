/**
 * The files export and import touch: an output file is created new (never
 * overwritten) with mode 0600 and removed again on failure; an input file
 * must be a regular file, read by position (a bundle, as a ByteSource) or
 * whole within a bound (an age bundle, a plaintext file).
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { StoreError } from '../../errors.js';
import { concat, wipe } from '../../crypto/bytes.js';
import { Bundle } from '../../crypto/bundle/reader.js';
import { createExclusive } from '../../platform/exclusive-file.js';
import { readWhole } from '../../platform/read-whole.js';
import { usage } from './checks.js';

const FLUSH_BYTES = 1024 * 1024;

/** Create `path` for writing: new file only (never overwrite), mode 0600. */
export function createNew(path: string): number {
  try {
    return createExclusive(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw usage(`${path} already exists; export never overwrites a file`, ['remove it, or choose another file name']);
    throw new StoreError('E_IO', `cannot create ${path}: ${code ?? 'error'}`);
  }
}

/** Buffered positional writes to a file we created; `reset` starts it over (after a keyset reload). */
export class Sink {
  #pos = 0;
  #chunks: Uint8Array[] = [];
  #pending = 0;
  constructor(private readonly fd: number, private readonly wipeChunks: boolean) {}

  get bytes(): number {
    return this.#pos + this.#pending;
  }

  write(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#pending += b.length;
    if (this.#pending >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    if (this.#pending === 0) return;
    const chunks = this.#chunks;
    const all = chunks.length === 1 ? chunks[0]! : new Uint8Array(this.#pending);
    if (chunks.length > 1) {
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.length;
      }
    }
    let done = 0;
    try {
      while (done < all.length) done += writeSync(this.fd, all, done, all.length - done, this.#pos + done);
    } catch (e) {
      throw new StoreError('E_IO', `cannot write the export file: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    } finally {
      if (this.wipeChunks) {
        wipe(all);
        for (const c of chunks) wipe(c);
      }
    }
    this.#pos += all.length;
    this.#chunks = [];
    this.#pending = 0;
  }

  reset(): void {
    if (this.wipeChunks) for (const c of this.#chunks) wipe(c);
    this.#chunks = [];
    this.#pending = 0;
    this.#pos = 0;
    ftruncateSync(this.fd, 0);
  }
}

/** Run `fn` on a new 0600 file; on failure the file is removed, on success synced to disk. */
export async function withNewFile<T>(path: string, wipeChunks: boolean, fn: (sink: Sink) => Promise<T>): Promise<T> {
  const fd = createNew(path);
  const sink = new Sink(fd, wipeChunks);
  let ok = false;
  try {
    const out = await fn(sink);
    sink.flush();
    fsyncSync(fd);
    ok = true;
    return out;
  } finally {
    closeSync(fd);
    if (!ok) {
      try {
        unlinkSync(path);
      } catch {
        // already gone: nothing to clean up
      }
    }
  }
}

/**
 * An age bundle's spool: a v1 bundle under a one-time key, in memory. The
 * store is read in one synchronous transaction and typage works
 * asynchronously, so neither side can wait for the other: the records are
 * sealed here first, and opened again one at a time on the other side. Only
 * ciphertext is kept, and nothing is written to disk.
 */
export class MemorySink {
  #chunks: Uint8Array[] = [];
  #bytes = 0;

  get bytes(): number {
    return this.#bytes;
  }

  write(b: Uint8Array): void {
    this.#chunks.push(b);
    this.#bytes += b.length;
  }

  reset(): void {
    this.#chunks = [];
    this.#bytes = 0;
  }

  /** Everything written, as one array; the sink is empty afterwards. */
  take(): Uint8Array {
    const out = concat(...this.#chunks);
    this.reset();
    return out;
  }
}

/** Open `path` read-only; E_IO naming the path when it cannot be. */
export function openForReading(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StoreError('E_IO', `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? 'error'}`);
  }
}

/** `fd`'s stat; E_IO when `path` (what `fd` was opened from) is not a regular file. */
export function regularFileStat(fd: number, path: string): Stats {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new StoreError('E_IO', `${path} is not a regular file`);
  return st;
}

export function readHead(path: string, n: number): Uint8Array {
  const fd = openForReading(path);
  try {
    regularFileStat(fd, path);
    const buf = new Uint8Array(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** The bundle at `path`, read by position; `close()` closes the file. @throws E_IO, E_UNSUPPORTED_FORMAT, E_TAMPERED */
export function openBundleFile(path: string): Bundle {
  const fd = openForReading(path);
  try {
    const st = regularFileStat(fd, path);
    return new Bundle({ size: st.size, read: (into, o, n, pos) => readSync(fd, into, o, n, pos), close: () => closeSync(fd) });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The whole of the file at `path`, refused (E_INVALID_IMPORT) when it is larger than `max`; `what` names the kind of file. */
export function readBounded(path: string, max: number, what: string): Uint8Array {
  const fd = openForReading(path);
  try {
    const st = regularFileStat(fd, path);
    if (st.size > max) throw new StoreError('E_INVALID_IMPORT', `${path} is ${st.size} bytes; ${what} is at most ${max}`);
    return readWhole(fd, st.size);
  } finally {
    closeSync(fd);
  }
}
