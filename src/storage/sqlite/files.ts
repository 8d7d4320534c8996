/**
 * SQLite work on whole files, for backup and restore: the online copy, the
 * journal mode a file carries, a store's id read without any key, and holding
 * a live store still while its file is copied or swapped. SQL stays in this
 * directory; src/store/backup/ decides when each runs.
 */
import { closeSync, copyFileSync, fsyncSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { StoreError } from '../../errors.js';
import { Database, nativeBinding } from './native.js';
import { sizeOf } from '../../platform/file-size.js';
import { isBusy } from './errors.js';

/** Pages per backup step while nobody else writes, so a terminal sees progress. */
const MIN_STEP_PAGES = 1024;
/** Steps a quiet copy is cut into. */
const STEPS = 16;
/** better-sqlite3 clamps the step to 0..2^31-1; this many pages is "all that remain". */
const ALL_PAGES = 0x7fffffff;
/**
 * Files up to this size are copied whole while writers are held off: a
 * page-cache copy of 64 MiB takes some 30–60 ms here, about one write
 * transaction on a slow disk. Larger files go through the backup API, which
 * never holds writers.
 */
const HELD_COPY_MAX_BYTES = 64 * 1024 * 1024;
/** How long the held copy waits for the write lock or for readers, per attempt, before it lets the backup API do it. */
const HELD_COPY_BUSY_MS = 250;
const HELD_COPY_TRIES = 2;

export interface OnlineBackupOptions {
  /** Largest file copied whole under the write lock (default 64 MiB; 0: always the backup API). */
  heldCopyMaxBytes?: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A consistent copy of `db`'s database file into `destination` (an existing
 * empty file of mode 0600), while other connections and processes keep
 * reading and writing. Two ways, fastest first:
 *
 * 1. Held copy (files up to 64 MiB): take the write lock, fold every
 *    committed WAL frame into the file, and copy the file as a file
 *    (copy_file_range): see `copyWhileWritersHeld`. Readers never wait;
 *    writers wait for the copy only (its fsync comes after). Measured here
 *    on a 29 MiB store (bench/backup.ts), the whole backup took 2.1× a bare
 *    `fs.copyFileSync` (1.1× a copy plus fsync); through SQLite's
 *    page-by-page backup API it took about 8× (4–5× a copy plus fsync).
 * 2. Otherwise (larger files, or a reader whose older snapshot keeps WAL
 *    frames out of the file):
 *    SQLite's online backup API, which never holds writers. SQLite restarts
 *    it from page 1 whenever another connection writes between two steps;
 *    with writers in other processes committing every few milliseconds,
 *    fixed steps of 1000 pages restarted thousands of times and never
 *    finished on a 70 MB store (measured: 2,740 restarts in 20 s on tmpfs).
 *    One step of every page holds one read transaction for the whole copy
 *    instead (WAL: writers never wait for it), so it cannot restart. So the
 *    copy goes in sixteenths while that works (progress on a quiet store),
 *    and as soon as a step makes no headway (a restart) the rest goes in one
 *    step. VACUUM INTO was also tried: one read transaction too, but it
 *    rebuilds every b-tree (1.3× slower than the backup API, before an fsync
 *    it does not do).
 *
 * Either way the copy carries the source's journal mode in its header (WAL):
 * see `setJournalMode`.
 */
export async function onlineBackup(
  db: Database, destination: string, onProgress?: (done: number, total: number) => void, options: OnlineBackupOptions = {},
): Promise<void> {
  const path = db.name;
  if (sizeOf(path) <= (options.heldCopyMaxBytes ?? HELD_COPY_MAX_BYTES)) {
    for (let attempt = 0; attempt < HELD_COPY_TRIES; attempt++) {
      if (attempt > 0) await sleep(HELD_COPY_BUSY_MS);
      const r = copyWhileWritersHeld(db, destination);
      if (r === 'done') {
        const pages = db.pragma('page_count', { simple: true }) as number;
        onProgress?.(pages, pages);
        return;
      }
      if (r === 'unusable') break;
    }
  }
  let lastRemaining = Number.POSITIVE_INFINITY;
  let allAtOnce = false;
  const done = await db.backup(destination, {
    progress: ({ totalPages, remainingPages }) => {
      onProgress?.(totalPages - remainingPages, totalPages);
      // Each step copies at least one page; a step that left as much to do as before was restarted.
      if (remainingPages >= lastRemaining) allAtOnce = true;
      lastRemaining = remainingPages;
      return allAtOnce ? ALL_PAGES : Math.max(MIN_STEP_PAGES, Math.ceil(totalPages / STEPS));
    },
  });
  onProgress?.(done.totalPages, done.totalPages); // better-sqlite3 reports only steps with pages left
}

/**
 * The held copy: take the write lock through a connection of our own, so
 * nobody can commit; fold every committed WAL frame into the file (a
 * passive checkpoint through `db`); if that left none behind, copy the file.
 * Nothing writes the file meanwhile: in WAL mode only a checkpoint does, and
 * there is nothing left to checkpoint. `busy` when the lock did not come, or
 * a reader's older snapshot kept frames out of the file; `unusable` when the
 * file cannot be opened. Synchronous from lock to release on purpose: no
 * other code of this process runs while writers are held (a write through
 * another connection of this process would wait for us while blocking us).
 */
function copyWhileWritersHeld(db: Database, destination: string): 'done' | 'busy' | 'unusable' {
  let writer: Database;
  try {
    writer = openFile(db.name);
    writer.pragma(`busy_timeout = ${HELD_COPY_BUSY_MS}`);
  } catch {
    return 'unusable';
  }
  try {
    try {
      writer.exec('BEGIN IMMEDIATE');
    } catch (e) {
      return isBusy(e) ? 'busy' : 'unusable';
    }
    // log and checkpointed are -1 when the file is not in WAL mode: then the lock alone keeps it still.
    const [r] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    if (!r || r.busy !== 0 || r.log !== r.checkpointed) return 'busy';
    copyWhole(db.name, destination);
    return 'done';
  } finally {
    try {
      if (writer.inTransaction) writer.exec('ROLLBACK');
    } finally {
      writer.close();
    }
  }
}

/** Copy the file `from` over the empty file `to`, which stays 0600. */
function copyWhole(from: string, to: string): void {
  // copyFileSync gives the copy the source's mode: fine when that is 0600, as a store's is.
  if ((statSync(from).mode & 0o777) === 0o600) {
    copyFileSync(from, to);
    return;
  }
  copyFileInto(from, to);
}

/**
 * Copy the file `from` into the existing file `to` (which keeps its mode), in
 * 1 MiB chunks; with `sync`, fsync `to` afterwards. Returns the bytes copied.
 */
export function copyFileInto(from: string, to: string, options: { sync?: boolean } = {}): number {
  const src = openSync(from, 'r');
  const dst = openSync(to, 'r+');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  let total = 0;
  try {
    for (;;) {
      const n = readSync(src, buf, 0, buf.length, null);
      if (n === 0) break;
      let off = 0;
      while (off < n) off += writeSync(dst, buf, off, n - off);
      total += n;
    }
    if (options.sync) fsyncSync(dst);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
  return total;
}

function openFile(path: string): Database {
  return new Database(path, { fileMustExist: true, nativeBinding: nativeBinding() });
}

/**
 * Set the journal mode recorded in a closed file's header: `delete` makes a
 * self-contained single file (a backup: no -wal to lose when it is copied
 * around), `wal` what a live store runs in. Closing the only connection
 * folds and removes any -wal and -shm, so the file stands alone either way.
 * @throws StoreError E_IO when SQLite refuses
 */
export function setJournalMode(path: string, mode: 'delete' | 'wal'): void {
  let db: Database | undefined;
  try {
    db = openFile(path);
    const now = db.pragma(`journal_mode = ${mode === 'wal' ? 'WAL' : 'DELETE'}`, { simple: true }) as string;
    if (now.toLowerCase() !== mode) throw new StoreError('E_IO', `cannot put ${path} in ${mode} journal mode (it stays in ${now})`);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw new StoreError('E_IO', `cannot set the journal mode of ${path} (${(e as { code?: string }).code ?? 'error'})`);
  } finally {
    db?.close();
  }
}

/** The store id (hex) in the header of the store file at `path`, read without any key; undefined when it cannot be read. */
export function storeIdOf(path: string): string | undefined {
  let db: Database | undefined;
  try {
    db = openFile(path);
    db.pragma('busy_timeout = 2000');
    const id = db.prepare("SELECT value FROM meta WHERE key = 'store_id'").pluck().get();
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  } finally {
    try {
      db?.close();
    } catch {
      // nothing to keep from a file we could not read
    }
  }
}

/**
 * Open and close the file at `path` once: if no other connection uses it,
 * SQLite folds its -wal in and removes the -wal and -shm, as at any last
 * close; if one does, they stay, shared. Best effort, silent.
 */
export function settle(path: string): void {
  let db: Database | undefined;
  try {
    db = openFile(path);
    db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
  } catch {
    // a damaged file keeps its side files: nothing here may lose them
  } finally {
    try {
      db?.close();
    } catch {
      // as above
    }
  }
}

type Still<T> = { state: 'done'; value: T } | { state: 'busy' } | { state: 'unusable' };

/**
 * One attempt to hold the store at `path` still and run `fn` meanwhile: fold
 * its WAL into the file and truncate it, take the write lock (BEGIN
 * IMMEDIATE) through a connection of our own, and if the WAL is then empty
 * run `fn`, then roll back and close. While held, every committed page is in
 * the file itself and no writer can add one.
 *
 * All of it is synchronous on purpose: no other code of this process runs
 * while the lock is held (a write through another connection of this
 * process would wait for the lock while keeping us from releasing it).
 * Closing after `fn` renamed the file away neither checkpoints into nor
 * removes the side files now at the path: SQLite sees that its file moved.
 * `busy`: readers or writers kept the WAL from emptying within `busyMs`;
 * `unusable`: the file is not one SQLite can open (damaged).
 */
function whileStill<T>(path: string, busyMs: number, fn: () => T): Still<T> {
  let db: Database;
  try {
    db = openFile(path);
    db.pragma(`busy_timeout = ${busyMs}`);
  } catch {
    return { state: 'unusable' };
  }
  try {
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      return isBusy(e) ? { state: 'busy' } : { state: 'unusable' };
    }
    // Not empty: a writer got in between the checkpoint and BEGIN, or a reader kept it from truncating.
    if (sizeOf(`${path}-wal`) > 0) return { state: 'busy' };
    return { state: 'done', value: fn() };
  } finally {
    try {
      if (db.inTransaction) db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  }
}

const QUIESCE_TRIES = 20;
const QUIESCE_PAUSE_MS = 100;
const QUIESCE_BUSY_MS = 1000;

/**
 * Run `fn` (synchronous) while the live store at `path` is held still (see
 * `whileStill`): how restore swaps a file out without leaving committed
 * pages in a -wal behind or letting a writer in. `fn` gets false when the
 * file cannot be opened by SQLite at all (damaged), so nothing could be held.
 * @throws StoreError E_LOCKED when other connections keep the WAL busy throughout
 */
export async function whileQuiesced<T>(path: string, fn: (held: boolean) => T): Promise<T> {
  for (let attempt = 0; attempt < QUIESCE_TRIES; attempt++) {
    if (attempt > 0) await sleep(QUIESCE_PAUSE_MS);
    const r = whileStill(path, QUIESCE_BUSY_MS, () => fn(true));
    if (r.state === 'done') return r.value;
    if (r.state === 'unusable') return fn(false);
  }
  throw new StoreError('E_LOCKED', `other processes keep the store ${path} busy: its write-ahead log never emptied`, [
    'stop the programs using the store, then run restore again',
  ]);
}
