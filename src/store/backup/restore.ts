/**
 * Restore (docs/design.md §4): verifies a copy of the backup (structure,
 * master key, every value decrypts), then swaps it in for the live file
 * under the store's exclusive lock, keeping the previous file as
 * `<store>.pre-restore-<time>`.
 */
import { chmodSync, existsSync, linkSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { StoreError } from '../../errors.js';
import { storeIdHex } from '../header.js';
import { withExclusiveLock } from '../../platform/lock.js';
import { openContext, type MasterKeyChoice } from '../open.js';
import { closeContext, type StoreContext } from '../context.js';
import { removeLeftovers } from '../../platform/leftovers.js';
import { copyFileInto, setJournalMode, settle, storeIdOf, whileQuiesced } from '../../storage/sqlite/files.js';
import { exists, fsFail, keepOwnerAndMode, privateTemp, removeTemp, renamed, sameFile, syncDir, syncFile } from './files.js';
import { sizeOf } from '../../platform/file-size.js';
import { VerificationError, inspect, type VerifyReport } from './verify.js';
import { isPostgresLocator } from '../../storage/locator.js';
import { restoreIntoDatabase } from './restore-database.js';

export interface RestoreOptions {
  /** Replace a store whose id differs from the backup's, or a file that is not a readable store (default false). */
  force?: boolean;
  /** Wait for the store's exclusive lock instead of failing at once with E_LOCKED. */
  wait?: boolean;
  /** Versions of the backup verified so far, of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Rows copied into a store in PostgreSQL so far, of the total (a file is swapped in whole). */
  onCopyProgress?: (done: number, total: number) => void;
  /** Clock for the name the previous file is kept under (tests). */
  now?: () => number;
}

export interface RestoreReport {
  path: string;
  backup: string;
  /** The restored store's id. */
  storeId: string;
  /** The id of the store that was at the path, or null when there was none or it could not be read. */
  replacedStoreId: string | null;
  /** Where the previous file now is (with its -wal and -shm, if it had them), or null when there was none. */
  keptAs: string | null;
  /** True when --force let a different or unreadable store be replaced. */
  forced: boolean;
  secrets: number;
  versions: number;
  liveVersions: number;
  deletedVersions: number;
  destroyedVersions: number;
  newestWriteAt: Date | null;
  durationMs: number;
}

/** A backup must be one regular file holding all its data: refuse a live store with a -wal beside it. */
function checkBackupFile(backup: string): void {
  let st;
  try {
    st = statSync(backup);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError('E_NO_STORE', `no backup at ${backup}`);
    throw new StoreError('E_IO', `cannot read ${backup}: ${code ?? 'error'}`);
  }
  if (!st.isFile()) throw new StoreError('E_NOT_A_STORE', `${backup} is not a file`);
  let wal = 0;
  try {
    wal = statSync(`${backup}-wal`).size;
  } catch {
    // no -wal: a single-file backup, as `store backup` writes
  }
  if (wal > 0) {
    throw new StoreError('E_USAGE', `${backup} has a write-ahead log beside it (${basename(backup)}-wal): it is a live store, not a single-file backup`, [
      `take a backup of it first: store --store ${backup} backup NEW_FILE`,
    ]);
  }
}

function stampOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `<store>.pre-restore-<time>`, with a counter when that name is taken. */
function keepName(path: string, ms: number): string {
  const base = `${path}.pre-restore-${stampOf(ms)}`;
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    if (!['', ...SIDE_FILES].some((s) => exists(`${name}${s}`))) return name;
  }
}

/** A SQLite file's companions: its write-ahead log, WAL index and rollback journal. */
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/**
 * Put the verified file `tmp` (WAL mode, no side files of its own) at
 * `path`, keeping what was there. Returns the name the previous file is kept
 * under, or null when there was nothing to keep.
 *
 * The order matters. A -wal or -journal left at the path would be replayed
 * into the new file by the next process that opens it, and a -shm would lend
 * it the old file's WAL index. So first the old WAL is folded into its file
 * and truncated while a write transaction holds every writer off
 * (`whileQuiesced`); then the old file and all its side files get their kept names
 * as hard links (the path never goes missing, and the family stays whole:
 * whoever opens the kept file shares the WAL and WAL index of a process
 * still holding the old one open, so they never write past each other); the
 * rename swaps the new file in atomically; and only then are the old side
 * files unlinked from the path. A process that still has the old store open
 * goes on reading and writing the kept file (SQLite sees that its file moved
 * and never checkpoints into, or deletes, the files now at the path); it must
 * reopen to see the restored store.
 */
async function swapIn(tmp: string, path: string, now: number): Promise<string | null> {
  const present = () => SIDE_FILES.filter((s) => exists(`${path}${s}`));
  if (!exists(path)) {
    let kept: string | null = null;
    const left = present().filter((s) => s !== '-shm' && sizeOf(`${path}${s}`, { noFollow: true }) > 0);
    if (left.length > 0) {
      // Left by a store that is gone: keep them, but away from the new file.
      kept = keepName(path, now);
      for (const s of left) renameSync(`${path}${s}`, `${kept}${s}`);
    }
    for (const s of SIDE_FILES) rmSync(`${path}${s}`, { force: true });
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError('E_STORE_EXISTS', `${path} appeared while the backup was being restored`, ['run restore again']);
      throw fsFail(`create ${path}`, e);
    }
    return kept;
  }

  const kept = await whileQuiesced(path, () => {
    const name = keepName(path, now);
    const links: string[] = [];
    try {
      // Taken first: the kept links below are made 0600, and they are the old file's inode.
      const old = statSync(path);
      for (const s of ['', ...present()]) {
        linkSync(`${path}${s}`, `${name}${s}`);
        links.push(`${name}${s}`);
        chmodSync(`${name}${s}`, 0o600);
      }
      // The restored store is used by whoever used the one it replaces: its owner, group and mode stay.
      keepOwnerAndMode(tmp, old);
      renameSync(tmp, path);
    } catch (e) {
      for (const l of links) rmSync(l, { force: true }); // the store at the path is untouched
      throw fsFail(`replace ${path}`, e);
    }
    // The old side files live on under the kept name: off the new file's path at once.
    for (const s of SIDE_FILES) rmSync(`${path}${s}`, { force: true });
    return name;
  });
  settle(kept); // drops the kept file's emptied -wal and its -shm, unless a process still has it open
  return kept;
}

/** The live file at `path`: absent, a store whose id we could read, or something unreadable. */
function liveStoreId(path: string): { present: boolean; id: string | undefined } {
  if (!exists(path)) return { present: false, id: undefined };
  return { present: true, id: storeIdOf(path) };
}

/**
 * Replace the store at `path` with the backup `backupFile`. The backup is
 * copied beside the store (0600) and that copy is verified first: the
 * master key `master` opens it, SQLite's checks pass, every version decrypts.
 * Then, under the store's exclusive lock, the copy is given the replaced
 * file's owner, group and mode (keepOwnerAndMode) and renamed over the store;
 * the previous file is kept as `<path>.pre-restore-<time>` (0600). A backup
 * of another store (another store id) is refused unless `force`; with no
 * store at `path`, the backup is simply installed. Nothing at `path` changes
 * unless every check passed. A `postgres://` URL's store gets its rows
 * replaced by the backup's instead (restore-database.ts).
 * @throws E_NO_STORE (no backup), E_STORE_EXISTS (another store's backup), E_NOT_A_STORE, E_WRONG_MASTER_KEY,
 *   E_TAMPERED (VerificationError), E_LOCKED, E_USAGE, E_IO
 */
export async function restoreStore(path: string, backupFile: string, master: MasterKeyChoice, options: RestoreOptions = {}): Promise<RestoreReport> {
  if (isPostgresLocator(path)) {
    checkBackupFile(backupFile);
    return restoreIntoDatabase(path, backupFile, master, options);
  }
  const started = performance.now();
  const now = options.now ?? Date.now;
  checkBackupFile(backupFile);
  if (sameFile(path, backupFile)) throw new StoreError('E_USAGE', `${backupFile} is the store itself`);
  const dir = dirname(path);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw fsFail(`create directory ${dir}`, e);
  }

  return withExclusiveLock(path, async (lock) => {
    removeLeftovers(dir, 'restore');
    const tmp = privateTemp(path, 'restore');
    try {
      copyFileInto(backupFile, tmp, { sync: true });
      // The copy is opened as a bare context: it is checked and recorded in, never served through a Store.
      let c: StoreContext;
      try {
        c = await openContext(tmp, master);
      } catch (e) {
        throw renamed(e, tmp, backupFile);
      }
      let report: VerifyReport;
      let live: { present: boolean; id: string | undefined };
      try {
        const storeId = storeIdHex(c.header);
        live = liveStoreId(path);
        if (live.present && !options.force) {
          if (live.id === undefined) {
            throw new StoreError('E_NOT_A_STORE', `${path} is not a store this program can read, so it cannot tell whether ${backupFile} is its backup`, [
              'pass --force to replace it anyway (the current file is kept as <store>.pre-restore-<time>)',
            ]);
          }
          if (live.id !== storeId) {
            throw new StoreError('E_STORE_EXISTS', `${path} holds store ${live.id}, but ${backupFile} is a backup of store ${storeId}`, [
              'pass --force to replace it anyway (the current file is kept as <store>.pre-restore-<time>)',
            ]);
          }
        }
        lock.check();
        report = await inspect(c, { deep: true, onProgress: options.onProgress });
        // The restored store's own log says where it came from.
        if (report.ok) await c.storage.write((tx) => c.audit.append(tx, { action: 'restore', outcome: 'ok', detail: `from ${backupFile}` }));
      } finally {
        await closeContext(c);
      }
      report.problems = report.problems.map((p) => ({ ...p, message: p.message.split(tmp).join(backupFile) }));
      if (!report.ok) {
        throw new VerificationError(`the backup ${backupFile} failed verification: ${report.problems.length + report.moreProblems} problem(s); nothing was restored`, report);
      }
      setJournalMode(tmp, 'wal');
      syncFile(tmp);
      lock.check();
      const keptAs = await swapIn(tmp, path, now());
      syncDir(dir);
      return {
        path,
        backup: backupFile,
        storeId: report.storeId,
        replacedStoreId: live.id ?? null,
        keptAs,
        forced: Boolean(options.force) && live.present && live.id !== report.storeId,
        secrets: report.secrets,
        versions: report.versions,
        liveVersions: report.liveVersions,
        deletedVersions: report.deletedVersions,
        destroyedVersions: report.destroyedVersions,
        newestWriteAt: report.newestWriteAt,
        durationMs: performance.now() - started,
      };
    } finally {
      removeTemp(tmp);
    }
  }, { wait: options.wait });
}
