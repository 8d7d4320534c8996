/**
 * What a failure of SQLite or of the file system means to the person at the
 * store: a full disk, a read-only file system, a permission, a busy store or
 * a damaged file, each with what to do. Without this every failure to open
 * looked like "not a Strongbox store", and people restored healthy stores
 * from old backups over a full disk.
 *
 * SQLite often says less than it knows: a full disk while it grows the WAL
 * index is SQLITE_IOERR_SHMSIZE ("disk I/O error"), a read-only mount is
 * SQLITE_CANTOPEN. So the cause is also looked for on the file system itself
 * (free space, write access to the file and its directory) before a message
 * is chosen.
 */
import { accessSync, constants, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.js';

/** Below this much free space a write failure is put down to a full disk (SQLite's -shm alone takes 32 KiB). */
const NEARLY_FULL_BYTES = 1024 * 1024;

/** Why the file system refuses, when it can be told. */
export type FsCause = 'full' | 'read-only' | 'denied';

/** The SQLite code (`SQLITE_FULL`, `SQLITE_IOERR_SHMSIZE` …) or Node errno (`ENOSPC` …) of `e`, if it has one. */
function codeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Another connection holds what this one waits for. SQLITE_READONLY_RECOVERY
 * too: a read-only reader (src/storage/sqlite/read-only.ts) found the -shm
 * between a writer opening it and setting it up, which only the writer can do.
 */
export function isBusy(e: unknown): boolean {
  const code = codeOf(e);
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code === 'SQLITE_READONLY_RECOVERY');
}

/** Bytes free to this user on the file system holding `dir`; undefined when it cannot be asked. */
function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** Whether `path` may be written: undefined when yes (or it does not exist), else the errno. */
function writeRefusal(path: string): string | undefined {
  try {
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (e) {
    const code = codeOf(e);
    return code === 'ENOENT' ? undefined : code;
  }
}

/**
 * Whether this user may not write the store at `path`: its file system is
 * read-only, or the file, its -wal or -shm, or its directory (where SQLite
 * makes and removes those two) is not writable to it. Undefined when it may.
 */
export function writeBlocked(path: string): { cause: 'read-only' | 'denied'; where: string } | undefined {
  const dir = dirname(path);
  for (const p of [dir, path, `${path}-wal`, `${path}-shm`]) {
    const refused = writeRefusal(p);
    if (refused === 'EROFS') return { cause: 'read-only', where: dir };
    if (refused === 'EACCES' || refused === 'EPERM') return { cause: 'denied', where: p };
  }
  return undefined;
}

/**
 * Look on the file system for why writing `path` (a file; SQLite also writes
 * its -wal and -shm beside it) fails: the disk is (nearly) full, the file
 * system is read-only, or this user may not write the file, its companions or
 * its directory. Undefined when nothing there explains it.
 */
export function diagnose(path: string): { cause: FsCause; where: string } | undefined {
  const blocked = writeBlocked(path);
  if (blocked) return blocked;
  const dir = dirname(path);
  const free = freeBytes(dir);
  if (free !== undefined && free < NEARLY_FULL_BYTES) return { cause: 'full', where: dir };
  return undefined;
}

function causeFromErrno(code: string | undefined): FsCause | undefined {
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  if (code === 'EROFS') return 'read-only';
  if (code === 'EACCES' || code === 'EPERM') return 'denied';
  return undefined;
}

/** The E_IO for a cause, saying what to do about it. */
export function fsCauseError(cause: FsCause, what: string, where: string, detail?: string): StoreError {
  const tail = detail ? ` (${detail})` : '';
  switch (cause) {
    case 'full':
      return new StoreError('E_IO', `${what}: the disk is full (no space left on the file system holding ${where})${tail}`, [
        `free some space on the file system holding ${where} (df -h ${where}), then run the command again`,
        'the store itself is not damaged: do not restore it from a backup because of this',
      ]);
    case 'read-only':
      return new StoreError('E_IO', `${what}: the file system holding ${where} is read-only${tail}`, [
        'remount it read-write, or copy the store to a writable place and use it there',
      ]);
    case 'denied':
      return new StoreError('E_IO', `${what}: permission denied on ${where}${tail}`, [
        'run as the user who owns the store, or give this user permission on the store file and its directory (read to read it, write to change it)',
      ]);
  }
}

/**
 * The StoreError for a failure of SQLite (a better-sqlite3 SqliteError) or of
 * the file system (a Node errno) while working on the store file `path` (when
 * known); `what` says what was being done ("cannot open /x/store.db").
 * Undefined for anything else (a programming error, already a StoreError).
 *
 * - SQLITE_FULL, ENOSPC, EDQUOT: E_IO, the disk is full
 * - SQLITE_READONLY*, SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_IOERR*, EROFS, EACCES, EPERM:
 *   E_IO, with the cause found on the file system (full, read-only, permission)
 * - SQLITE_BUSY*, SQLITE_LOCKED*: E_LOCKED
 * - SQLITE_CORRUPT*, SQLITE_NOTADB: E_NOT_A_STORE, the file is damaged
 * Messages carry SQLite's code or the errno, never row contents.
 */
export function storeFileError(e: unknown, what: string, path?: string): StoreError | undefined {
  if (e instanceof StoreError) return undefined;
  const code = codeOf(e);
  if (code === undefined) return undefined;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreError('E_LOCKED', `${what}: the store is busy: another process held its write lock too long (${code})`, ['try again']);
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return new StoreError('E_NOT_A_STORE', `${what}: the store file is damaged (${code})`, ['restore it from a backup']);
  }
  // Only now, off the busy path: a few system calls to find the cause.
  const found = path !== undefined ? diagnose(path) : undefined;
  const where = found?.where ?? (path !== undefined ? dirname(path) : 'the store');
  if (code.startsWith('SQLITE_FULL')) return fsCauseError('full', what, where, code);
  if (code.startsWith('SQLITE_')) {
    if (found) return fsCauseError(found.cause, what, found.where, code);
    if (code.startsWith('SQLITE_READONLY')) return fsCauseError('read-only', what, where, code);
    if (code === 'SQLITE_PERM') return fsCauseError('denied', what, path ?? where, code);
    if (code.startsWith('SQLITE_IOERR')) {
      return new StoreError('E_IO', `${what}: disk I/O error (${code})`, [
        `check the disk holding ${where} (free space, kernel log: dmesg), then run the command again`,
      ]);
    }
    return new StoreError('E_IO', `${what}: SQLite failed (${code})`);
  }
  // A Node errno: ENOSPC and friends say the cause themselves.
  const cause = causeFromErrno(code) ?? found?.cause;
  if (cause) return fsCauseError(cause, what, found?.cause === cause ? found.where : cause === 'denied' ? (path ?? where) : where, code);
  if (/^E[A-Z]+$/.test(code)) return new StoreError('E_IO', `${what}: ${code}`);
  return undefined;
}
