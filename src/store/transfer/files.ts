/**
 * The files export and import touch: an output file is written under a
 * private temp name beside its own (mode 0600) and takes its name, which
 * nothing may hold, only once it is whole; an input file
 * must be a regular file, read by position (a bundle, as a ByteSource) or
 * whole within a bound (an age bundle, a plaintext file).
 */
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readSync, rmSync, writeSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.js';
import { concat, wipe } from '../../crypto/bytes.js';
import { Bundle } from '../../crypto/bundle/reader.js';
import { createExclusive } from '../../platform/exclusive-file.js';
import { readWhole } from '../../platform/read-whole.js';
import { usage } from './checks.js';
import { removeLeftovers, tempNameBeside } from '../../platform/leftovers.js';
import { placeNew, syncDir } from '../backup/files.js';

const FLUSH_BYTES = 1024 * 1024;

const exists = (path: string) => usage(`${path} already exists; export never overwrites a file`, ['remove it, or choose another file name']);

/** Fail unless nothing at all is at `path` (a dangling symlink counts as something). */
function refuseExisting(path: string): void {
  try {
    lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StoreError('E_IO', `cannot check ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  throw exists(path);
}

/** Create the temp file `tmp` for the output `path`: new file only, mode 0600. */
function createTemp(tmp: string, path: string): number {
  try {
    return createExclusive(tmp);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError('E_IO', `cannot create ${path}: the directory ${dirname(path)} does not exist`);
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

/**
 * Run `fn` on a new 0600 file that gets the name `path` only once it is
 * whole: it is written as `.<name>.export-<host>-<pid>-<random>.tmp` beside
 * `path`, synced, and linked into place (never over a file that appeared
 * meanwhile). On failure the temp file is removed; a run killed outright
 * leaves it, and the next export into that directory removes it
 * (src/platform/leftovers.ts). So `path` never holds part of an export.
 */
export async function withNewFile<T>(path: string, wipeChunks: boolean, fn: (sink: Sink) => Promise<T>): Promise<T> {
  refuseExisting(path);
  // A killed earlier export left its temp file here (a plaintext one holds values in clear): remove it first.
  removeLeftovers(dirname(path), 'export');
  const tmp = tempNameBeside(path, 'export');
  let fd: number | undefined = createTemp(tmp, path);
  try {
    const sink = new Sink(fd, wipeChunks);
    const out = await fn(sink);
    sink.flush();
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    try {
      placeNew(tmp, path, 'the export');
    } catch (e) {
      throw e instanceof StoreError && e.code === 'E_STORE_EXISTS' ? exists(path) : e;
    }
    syncDir(dirname(path));
    return out;
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
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
