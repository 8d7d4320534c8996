/**
 * What only a store kept in a local file can do (restore a file over it,
 * check the file and its lock), refused up front for a store in a database
 * server, before anything is touched, with what to do instead.
 */
import { StoreError } from '../errors.js';
import { isPostgresLocator, shownLocator } from '../storage/locator.js';

/** @throws E_USAGE when `locator` names a PostgreSQL store (`what`: "restore", as a sentence's subject) */
export function refuseDatabaseStore(locator: string, what: string, hints: string[] = []): void {
  if (!isPostgresLocator(locator)) return;
  throw new StoreError('E_USAGE', `${shownLocator(locator)}: ${what} works on a store file only, and this store is in PostgreSQL`, hints);
}
