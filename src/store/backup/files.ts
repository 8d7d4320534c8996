/** The file steps of backup and restore: private temp files beside the target, durable syncs, names taken only when free. */
import { closeSync, fchmodSync, fchownSync, fstatSync, fsyncSync, linkSync, lstatSync, openSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { createExclusive } from '../../platform/exclusive-file.js';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.js';
import type { FileCapabilities } from '../../storage/storage.js';
import { tempNameBeside, type TempLabel } from '../../platform/leftovers.js';

/** Fail unless nothing at all is at `path` (a dangling symlink counts as something). */
export function refuseExisting(path: string, hint: string): void {
  let exists = true;
  try {
    lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreError('E_IO', `cannot check ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    exists = false;
  }
  if (exists) throw new StoreError('E_STORE_EXISTS', `${path} already exists`, [hint]);
}

/** A new empty file of mode 0600 beside `near`, named so nobody mistakes it for a finished one. */
export function privateTemp(near: string, label: TempLabel): string {
  const dir = dirname(near);
  const tmp = tempNameBeside(near, label);
  let fd: number;
  try {
    fd = createExclusive(tmp, { readable: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError('E_IO', `the directory ${dir} does not exist`);
    throw new StoreError('E_IO', `cannot create a file in ${dir}: ${code ?? 'error'}`);
  }
  closeSync(fd);
  return tmp;
}

/** Remove a temp file and anything SQLite may have left beside it. */
export function removeTemp(tmp: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${tmp}${suffix}`, { force: true });
}

export function syncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Make a rename or link durable. Best effort: some file systems cannot sync a directory. */
export function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // nothing more we can do here
  }
}

/** Give `tmp` the name `path` only if nothing has it: link fails with EEXIST where rename would overwrite. */
export function placeNew(tmp: string, path: string, what = 'the backup'): void {
  try {
    linkSync(tmp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new StoreError('E_STORE_EXISTS', `${path} appeared while ${what} was being written`, ['nothing was overwritten; choose another name']);
    throw new StoreError('E_IO', `cannot create ${path}: ${code ?? 'error'}`);
  }
  unlinkSync(tmp);
}

/** What names a file's inode: taken of a temp file before placeNew, for unplace. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export function identityOf(path: string): FileIdentity {
  const st = statSync(path);
  return { dev: st.dev, ino: st.ino };
}

/**
 * Take back a file placeNew put at `path` when what had to follow failed
 * (the commit recording it): removed only while it is still the file that
 * was placed (`placed`, the temp file's identity), so a file someone put
 * there meanwhile is left alone. Best effort; the caller rethrows its error.
 */
export function unplace(path: string, placed: FileIdentity): void {
  try {
    const st = lstatSync(path);
    if (st.dev !== placed.dev || st.ino !== placed.ino) return;
    unlinkSync(path);
    syncDir(dirname(path));
  } catch {
    // gone already, or cannot be removed: the caller's error is what it reports
  }
}

/**
 * Give the new file `tmp` (made 0600, owned by this process) the owner,
 * group and mode (`old`: its stat) of the file it is about to replace, so whoever could
 * use the store before a restore still can after it (an app user that reads
 * it through its group, a service user that owns it while root restores).
 * The mode is the old file's permission bits, never more. Where the owner or
 * group cannot be given (not root, and the old file is someone else's, or
 * in a group this user is not in), the new file stays this user's, and the
 * group's bits are dropped unless its group is the old one: a mode meant
 * for the old group never goes to another.
 */
export function keepOwnerAndMode(tmp: string, old: { uid: number; gid: number; mode: number }): void {
  const fd = openSync(tmp, 'r');
  try {
    const mine = fstatSync(fd);
    if (mine.uid !== old.uid || mine.gid !== old.gid) {
      try {
        fchownSync(fd, old.uid, old.gid);
      } catch {
        try {
          if (mine.gid !== old.gid) fchownSync(fd, -1, old.gid); // the group alone: a member may give it
        } catch {
          // the new file stays this user's, in its group
        }
      }
    }
    const now = fstatSync(fd);
    let mode = old.mode & 0o777;
    if (now.gid !== old.gid) mode &= ~0o070;
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}

/** Error messages about a temp copy should name the file the user gave. */
export function renamed(e: unknown, from: string, to: string): unknown {
  if (!(e instanceof StoreError) || !e.message.includes(from)) return e;
  return new StoreError(e.code, e.message.split(from).join(to), e.hints);
}

/** Same file (one inode under two names)? */
export function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}
export function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export function fsFail(what: string, e: unknown): StoreError {
  return new StoreError('E_IO', `cannot ${what}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
}

/**
 * The file capabilities of the store behind `c` (an online snapshot, a
 * checkpoint). Only a store kept in one local file has them; a backup of
 * another store is a copy made through its rows, which this module does not do.
 */
export function fileOf(c: { path: string; storage: { file?: FileCapabilities } }): FileCapabilities {
  const file = c.storage.file;
  if (!file) {
    throw new StoreError('E_USAGE', `${c.path} is not kept in a local file: a file backup needs a file store`, [
      'back up a PostgreSQL store with PostgreSQL\'s own tools (pg_dump, or base backups and WAL archiving)',
    ]);
  }
  return file;
}
