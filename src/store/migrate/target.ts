/**
 * Where a whole store's rows are copied to (src/storage/copy.ts) by
 * `store migrate` and by a restore into a database: a new store file, or a
 * store in a PostgreSQL database. Each kind knows how to be filled without
 * anyone else seeing half of it, how to be put in place once verified, and
 * how to be taken away again when anything failed, leaving the place as it
 * was found.
 *
 * - A file is written under a private temporary name beside its path and
 *   linked into place only at the end (never over an existing file).
 * - A database gets the store's tables (or an empty set of them left by an
 *   interrupted run) and is filled in one transaction under the store's
 *   exclusive lock; on failure the tables this run made are dropped again.
 */
import { existsSync, linkSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.js';
import { isPostgresLocator, shownLocator } from '../../storage/locator.js';
import { createStorage, type OpenedStorage } from '../../storage/open.js';
import { holdsNoRows } from '../../storage/copy.js';
import type { HeldLock } from '../../storage/storage.js';
import { removeLeftovers, tempNameBeside } from '../../platform/leftovers.js';
import { fsFail, refuseExisting, removeTemp, renamed, syncDir, syncFile } from '../backup/files.js';
import { setJournalMode } from '../../storage/sqlite/files.js';
import type { CopyMark } from '../../storage/postgres/copy-target.js';

/**
 * What a target held when it was claimed: no row, the rows of an interrupted
 * migrate's unverified copy (marked, and not written to since), or a store
 * (among them a marked copy that was written to: its writes are kept).
 */
export type TargetState = 'empty' | 'leftover' | 'store';

export interface CopyTarget {
  /** The target's rows, open. */
  readonly storage: OpenedStorage;
  /** The target as messages show it (a file's path, a URL without its password). */
  readonly shown: string;
  /** Run `fn` holding what keeps every other process off the target while it is filled and checked. */
  exclusive<T>(fn: (lock: HeldLock) => Promise<T>, options?: { wait?: boolean }): Promise<T>;
  /**
   * What the target holds, decided while holding `exclusive`. A migrate's
   * target that holds a store is refused (E_STORE_EXISTS); a migrate's
   * database is marked as holding an unverified copy until `keep`.
   */
  claim(): Promise<TargetState>;
  /** Make the filled, verified target the store at its place. */
  keep(): Promise<void>;
  /** Take away what this run made or filled (called while holding `exclusive`); a store that was there stays. */
  discard(): Promise<void>;
  /** An error about the target as the user named it (a temp file's name replaced by the path). */
  named(e: unknown): unknown;
  /** Always, once done (kept, discarded or failed). */
  close(): Promise<void>;
}

export type CopyPurpose = 'migrate' | 'restore';

/** A new store file at `path`, filled under a temporary name beside it. @throws E_STORE_EXISTS, E_IO */
async function fileTarget(path: string): Promise<CopyTarget> {
  refuseExisting(path, 'nothing is ever written over an existing file: choose a new path');
  const dir = dirname(path);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw fsFail(`create directory ${dir}`, e);
  }
  removeLeftovers(dir, 'migrate');
  const tmp = tempNameBeside(path, 'migrate');
  let storage: OpenedStorage;
  try {
    storage = await createStorage(tmp); // exclusive create, 0600, at this program's schema
  } catch (e) {
    removeTemp(tmp);
    throw renamed(e, tmp, path);
  }
  const close = () => storage.close();
  return {
    storage,
    shown: path,
    // Nobody else knows the temporary name: nothing to hold, and nothing in it.
    exclusive: (fn) => fn({ check: () => undefined }),
    claim: async () => 'empty',
    async keep() {
      await close();
      setJournalMode(tmp, 'wal'); // as a live store runs; opened and closed again, with no -wal or -shm left beside it
      syncFile(tmp);
      try {
        linkSync(tmp, path); // fails where a rename would overwrite
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError('E_STORE_EXISTS', `${path} appeared while the store was being copied to it`, ['nothing was overwritten; choose another path']);
        throw fsFail(`create ${path}`, e);
      }
      unlinkSync(tmp);
      syncDir(dir);
    },
    async discard() {
      await close();
      removeTemp(tmp);
    },
    named: (e) => renamed(e, tmp, path),
    close: async () => {
      await close();
      removeTemp(tmp); // kept files were linked to their name already
    },
  };
}

function storeThere(shown: string): StoreError {
  return new StoreError('E_STORE_EXISTS', `${shown} already holds a store: a store is only ever migrated into a database without one`, [
    'choose a database without a store, or remove that one first',
  ]);
}

/** A marked copy someone wrote to after it was copied (a program that did not heed the mark): not replaced unasked. */
function writtenCopyThere(shown: string): StoreError {
  return new StoreError('E_STORE_EXISTS', `${shown} holds an interrupted store migrate's unverified copy that was written to after it was copied: it is not replaced, so those writes are not lost`, [
    "if its writes are not wanted, drop it as the tables' owner (DROP SCHEMA strongbox CASCADE) and run the migrate again",
    "to keep it as a store instead, take the mark off as the tables' owner (COMMENT ON TABLE strongbox.meta IS NULL) and check it with store verify --deep",
  ]);
}

/**
 * The store in the PostgreSQL database `locator` names: its tables made
 * when there are none, else opened (an unverified copy's too: opened only
 * here, to be replaced or checked). A migrate takes a database whose tables
 * hold no row, or only an interrupted migrate's unverified copy (marked as
 * such, and written to by nobody since: incompleteCopy), and marks the
 * tables until its own copy verified; a restore takes any, and replaces
 * what is there (and takes any mark off once it verified).
 * @throws E_STORE_EXISTS (a migrate's database holds a store); E_NOT_A_STORE, E_LOCKED, E_IO, E_NO_STORE
 */
async function databaseTarget(locator: string, purpose: CopyPurpose): Promise<CopyTarget> {
  const shown = shownLocator(locator);
  const pg = await import('../../storage/postgres/copy-target.js');
  const hadSchema = await pg.postgresSchemaExists(locator);
  let storage: OpenedStorage;
  let made = true;
  try {
    storage = await createStorage(locator);
  } catch (e) {
    if (!(e instanceof StoreError) || e.code !== 'E_STORE_EXISTS') throw e;
    const { openPostgresStore } = await import('../../storage/postgres/open.js');
    storage = await openPostgresStore(locator, undefined, { unverifiedCopy: true });
    made = false;
  }
  const look = async (): Promise<{ state: TargetState; mark: CopyMark }> => {
    const mark = await pg.incompleteCopy(locator);
    if (await storage.read((tx) => holdsNoRows(tx))) return { state: 'empty', mark };
    return { state: mark === 'untouched' ? 'leftover' : 'store', mark };
  };
  const refused = (mark: CopyMark) => (mark === 'written' ? writtenCopyThere(shown) : storeThere(shown));
  // Said at once, before any lock: the database may be the source itself, whose exclusive lock the migrate holds.
  try {
    if (!made && purpose === 'migrate') {
      const seen = await look();
      if (seen.state === 'store') throw refused(seen.mark);
    }
  } catch (e) {
    await storage.close();
    throw e;
  }
  let state: TargetState | undefined;
  let marked = false;
  return {
    storage,
    shown,
    exclusive: (fn, options) => storage.exclusive(fn, options),
    async claim() {
      const seen = await look(); // another process may have filled the tables this one made, before this one held the lock
      state = seen.state;
      marked = seen.mark !== 'none'; // a restore that replaces a marked copy takes the mark off too, once verified
      if (purpose === 'migrate') {
        if (state === 'store') throw refused(seen.mark);
        if (!marked) await pg.markIncompleteCopy(locator, true);
        marked = true;
      }
      return state;
    },
    async keep() {
      if (marked) await pg.markIncompleteCopy(locator, false);
    },
    // Over connections of their own: this storage's pool holds the exclusive lock they run under.
    async discard() {
      // A store that was there keeps its rows (the copy's transaction was rolled back), and what was never looked at is left alone.
      if (state === 'empty' || state === 'leftover') await pg.dropPostgresStore(locator, { schema: !hadSchema });
    },
    named: (e) => e,
    close: () => storage.close(),
  };
}

/**
 * The target of a copy at `locator`: a PostgreSQL URL or a new file's path
 * (a file target is always a new file).
 */
export function copyTarget(locator: string, purpose: CopyPurpose): Promise<CopyTarget> {
  return isPostgresLocator(locator) ? databaseTarget(locator, purpose) : fileTarget(locator);
}
