/**
 * Opening a store's storage from its locator (src/storage/locator.ts): a
 * PostgreSQL URL opens the PostgreSQL driver, anything else the SQLite file
 * at that path. The PostgreSQL driver and node-postgres are loaded only for
 * a URL, so a command on a store file starts as fast as before.
 */
import type { RawStorage } from './storage.js';
import type { ReadOnlyReason } from './read-only.js';
import { isPostgresLocator } from './locator.js';
import { SqliteStorage } from './sqlite/driver.js';
import { createStoreFile, openStoreFileFor } from './sqlite/open.js';

/** A driver's storage as the store opens it: its rows, and how it names itself and whether it may write. */
export interface OpenedStorage extends RawStorage {
  /** The store for messages: the file's path, or the URL without its password. */
  readonly path: string;
  /** Why this storage may not write; undefined when it may. */
  readonly readOnly: ReadOnlyReason | undefined;
  /** A read-only snapshot taken again when the store changed since (SQLite); nothing for a server. */
  refresh(): void;
}

/**
 * A new, empty store (schema in place, no rows) at `locator`.
 * @throws E_STORE_EXISTS, E_IO; for a URL also E_USAGE, E_LOCKED (server unreachable), E_NO_STORE (no such database)
 */
export async function createStorage(locator: string): Promise<OpenedStorage> {
  if (!isPostgresLocator(locator)) return new SqliteStorage(createStoreFile(locator));
  const { createPostgresStore } = await import('./postgres/open.js');
  return createPostgresStore(locator);
}

/**
 * The existing store at `locator`, migrated to the newest schema. `readOnly`
 * as OpenOptions.readOnly, for a store file and a database store alike.
 * @throws E_NO_STORE, E_NOT_A_STORE, E_SCHEMA_TOO_NEW, E_IO, E_LOCKED, E_USAGE; E_READ_ONLY (an older file, read-only)
 */
export async function openStorage(locator: string, readOnly?: boolean): Promise<OpenedStorage> {
  if (!isPostgresLocator(locator)) {
    const file = await openStoreFileFor(locator, readOnly);
    return new SqliteStorage(file.db, file.readOnly);
  }
  const { openPostgresStore } = await import('./postgres/open.js');
  return openPostgresStore(locator, readOnly);
}
