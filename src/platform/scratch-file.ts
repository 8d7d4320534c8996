/**
 * A private scratch file for a plaintext value that another program must
 * read and write (the editor of `store edit`): the only place Strongbox puts
 * a value in a file of its own making. It lives in a new directory only this
 * user can enter (mkdtemp, 0700), is created exclusively with mode 0600, and
 * when done every file in that directory — the editor's swap and backup
 * files too — is overwritten with zeros, fsynced and removed, then the
 * directory.
 *
 * Overwriting is best effort: a journaling or copy-on-write file system or
 * an SSD may keep the old blocks. So the directory goes where memory backs
 * it when it can: $XDG_RUNTIME_DIR (a per-user tmpfs under systemd), else
 * /dev/shm (tmpfs on Linux); only without either does it go under the
 * temp directory, and the caller is told so it can warn.
 */
import { closeSync, fstatSync, fsyncSync, lstatSync, mkdtempSync, openSync, readdirSync, rmdirSync, statSync, unlinkSync, writeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { StoreError } from '../errors.js';
import { nodeFileOps } from './durable-file.js';

export type Env = Record<string, string | undefined>;

/** Scratch directories start with this, so an editor's configuration can match them (no swap, no backup, no undo file). */
export const SCRATCH_PREFIX = 'strongbox-edit.';

const ZEROS = new Uint8Array(64 * 1024);

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Where the scratch directory goes, and whether memory backs that place. */
export function scratchParent(env: Env, platform: NodeJS.Platform = process.platform): { dir: string; inMemory: boolean } {
  const runtime = env.XDG_RUNTIME_DIR;
  // The XDG spec says to ignore a relative path.
  if (runtime && isAbsolute(runtime) && isDirectory(runtime)) return { dir: runtime, inMemory: true };
  // Elsewhere /dev/shm, if there is one, need not be memory.
  if (platform === 'linux' && isDirectory('/dev/shm')) return { dir: '/dev/shm', inMemory: true };
  const tmp = env.TMPDIR && isAbsolute(env.TMPDIR) ? env.TMPDIR : tmpdir();
  return { dir: tmp, inMemory: false };
}

export interface ScratchFile {
  /** The file's absolute path. */
  path: string;
  /** Its private directory. */
  dir: string;
  /**
   * The file as created, kept open: an editor that saves by writing a new
   * file and renaming it over this one (vim by default) unlinks the first
   * one, value and all, where no walk of the directory finds it; through
   * this descriptor it is zeroed all the same.
   */
  fd: number;
}

/**
 * Make a private directory under `parent` and in it the file `fileName`
 * holding `data` (0600, never over an existing file). Not fsynced: nothing
 * should push a plaintext to disk sooner than it has to.
 * @throws StoreError E_IO (nothing is left behind)
 */
export function createScratchFile(parent: string, fileName: string, data: Uint8Array): ScratchFile {
  let dir: string;
  try {
    dir = mkdtempSync(join(parent, SCRATCH_PREFIX)); // mode 0700
  } catch (e) {
    throw new StoreError('E_IO', `cannot make a private directory under ${parent}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const path = join(dir, fileName);
  let fd: number | undefined;
  try {
    fd = nodeFileOps.createExclusive(path, 0o600);
    nodeFileOps.writeAll(fd, data);
  } catch (e) {
    const failed: string[] = [];
    if (fd !== undefined) zeroThenClose(fd, path, failed);
    wipeTree(dir, failed);
    throw new StoreError('E_IO', `cannot write the scratch file in ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      failed.length > 0 ? [`remove ${dir} yourself: it may hold the value in clear text`] : []);
  }
  return { path, dir, fd };
}

/** Overwrite an open file's bytes with zeros in place and fsync them. */
function zero(fd: number): void {
  let left = fstatSync(fd).size;
  let offset = 0;
  while (left > 0) {
    const n = writeSync(fd, ZEROS, 0, Math.min(left, ZEROS.length), offset);
    left -= n;
    offset += n;
  }
  fsyncSync(fd);
}

/** zero(fd), then close it whatever happened; `name` goes to `failed` if it could not be zeroed. */
function zeroThenClose(fd: number, name: string, failed: string[]): void {
  try {
    zero(fd);
  } catch {
    failed.push(name);
  } finally {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
  }
}

/** Overwrite a regular file's bytes with zeros in place, by its path. */
function zeroFile(path: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    zero(fd);
  } finally {
    closeSync(fd);
  }
}

/** Zero and remove everything under `dir` (depth first), then `dir`; the paths that could not be. */
function wipeTree(dir: string, failed: string[]): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    failed.push(dir);
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (st.isDirectory()) {
        wipeTree(path, failed);
        continue;
      }
      // A link or another kind of file holds no bytes of ours: only its name goes.
      if (st.isFile()) zeroFile(path);
      unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(path);
    }
  }
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') failed.push(dir);
  }
}

/**
 * Overwrite with zeros the file as created (through its descriptor, wherever
 * its name went) and every file in the scratch directory, remove them, then
 * the directory. Goes on past a file it cannot remove, then reports them all.
 * @throws StoreError E_IO naming what is left (the caller must say so: it may hold the value)
 */
export function removeScratch(scratch: ScratchFile): void {
  const failed: string[] = [];
  zeroThenClose(scratch.fd, `${scratch.path} (as created)`, failed);
  wipeTree(scratch.dir, failed);
  if (failed.length > 0) {
    throw new StoreError('E_IO', `could not overwrite and remove ${failed.join(', ')}`, [`remove ${scratch.dir} yourself: it may hold the value in clear text`]);
  }
}
