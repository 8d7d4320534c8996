/**
 * Where `store init` builds a new store. A store file is made under a
 * temporary name beside its path (`.<name>.init-<host>-<pid>-<random>.tmp`,
 * leftovers.ts) and linked into place only once its header, keys and first
 * audit entry have committed: an init killed or failing on the way leaves
 * no half-made store at the path (one with no header, which every later
 * command, and init itself, would stumble on), only a temp file that the
 * next init into that directory removes. link() never overwrites: a store
 * made at the path meanwhile is E_STORE_EXISTS, and is left as it was.
 * A PostgreSQL store's schema is made in its database at once, as before
 * (its own transactions keep a half-made one out of sight).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../errors.js';
import { createStorage, openStorage, type OpenedStorage } from '../storage/open.js';
import { isPostgresLocator } from '../storage/locator.js';
import { setJournalMode } from '../storage/sqlite/files.js';
import { storeFileError } from '../storage/sqlite/errors.js';
import { removeLeftovers, tempNameBeside } from '../platform/leftovers.js';
import { placeNew, refuseExisting, removeTemp, renamed, syncDir, syncFile } from './backup/files.js';

export interface InitTarget {
  /** The new, empty storage to fill. */
  storage: OpenedStorage;
  /**
   * Give the filled store its name, once `storage` is closed: the storage
   * opened again at the path, or undefined when `storage` already is the
   * store there (a database). @throws E_STORE_EXISTS, E_IO
   */
  place?(): Promise<OpenedStorage>;
  /** Remove what an init that failed made (the temp file); nothing for a database. */
  discard(): void;
  /** An error about the temp file, naming the path the user gave. */
  named(e: unknown): unknown;
}

/** A new storage for a store at `path`. @throws E_STORE_EXISTS, E_IO */
export async function initTarget(path: string): Promise<InitTarget> {
  if (isPostgresLocator(path)) return { storage: await createStorage(path), discard: () => undefined, named: (e) => e };
  refuseExisting(path, 'open it, or choose another path');
  const dir = dirname(path);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw storeFileError(e, `cannot create directory ${dir}`, dir) ?? e;
  }
  // A killed init left its half-made store here: clear it before making another.
  removeLeftovers(dir, 'init');
  const tmp = tempNameBeside(path, 'init');
  const named = (e: unknown) => renamed(e, tmp, path);
  let storage: OpenedStorage;
  try {
    storage = await createStorage(tmp); // exclusive create, 0600, WAL mode, this program's schema
  } catch (e) {
    removeTemp(tmp);
    throw named(e);
  }
  return {
    storage,
    async place() {
      // Closed already, its -wal folded in; opened and closed once more to be sure no -wal or -shm is left beside it.
      setJournalMode(tmp, 'wal');
      for (const side of ['-wal', '-shm', '-journal']) {
        if (existsSync(`${tmp}${side}`) && statSync(`${tmp}${side}`).size > 0) throw new StoreError('E_IO', `cannot finish ${path}: SQLite left its ${side} file`);
      }
      syncFile(tmp);
      placeNew(tmp, path, 'the store'); // link(): a store made there meanwhile is never overwritten
      removeTemp(tmp);
      syncDir(dir);
      return openStorage(path);
    },
    discard: () => removeTemp(tmp),
    named,
  };
}
