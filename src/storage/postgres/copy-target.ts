/**
 * What a copy of a whole store into a PostgreSQL database (store migrate, a
 * restore into a new database) needs beside the driver: whether the
 * `strongbox` schema was there before, a mark on the tables while the copy
 * in them is not yet verified, and taking the tables out again when the
 * copy failed, so the database is left as it was found (a later `store
 * init` or migrate starts afresh). Each runs on a connection of its own:
 * the copying process holds the store's exclusive lock on another one.
 */
import { INCOMPLETE, INCOMPLETE_NOTE_SQL, PG_SCHEMA } from './schema.js';
import { postgresError } from './errors.js';
import { poolFor, postgresLocation } from './open.js';
import { BUSY_TIMEOUT_MS, WRITE_LOCK } from './driver.js';

/** The tables schema.ts makes, those that refer to others first. */
const TABLES = ['versions', 'secrets', 'records', 'state', 'audit', 'data_keys', 'meta', 'schema_version'];

/** Run `sql` (statements without parameters) on a connection of its own to the database `locator` names. */
async function onItsOwn<T>(locator: string, fn: (query: (sql: string) => Promise<unknown[]>) => Promise<T>): Promise<T> {
  const location = postgresLocation(locator);
  const pool = poolFor(location);
  try {
    return await fn(async (sql) => (await pool.query(sql)).rows as unknown[]);
  } catch (e) {
    throw postgresError(e, location.shown);
  } finally {
    await pool.end().catch(() => {});
  }
}

/** Whether the database `locator` names has the store's schema (namespace), with or without tables in it. */
export function postgresSchemaExists(locator: string): Promise<boolean> {
  return onItsOwn(locator, async (query) => {
    const [row] = await query(`SELECT to_regnamespace('${PG_SCHEMA}') IS NOT NULL AS present`) as { present: boolean }[];
    return row!.present;
  });
}

/**
 * Drop the store's tables from the database `locator` names, in one
 * transaction under the store's write lock; with `schema`, the schema too
 * when nothing else is left in it.
 * @throws E_LOCKED, E_IO (as the driver's errors)
 */
export function dropPostgresStore(locator: string, options: { schema: boolean }): Promise<void> {
  const tables = TABLES.map((t) => `${PG_SCHEMA}.${t}`).join(', ');
  const schema = options.schema
    // RESTRICT: a schema someone put anything else in stays, with it.
    ? `DO $$ BEGIN
        IF to_regnamespace('${PG_SCHEMA}') IS NOT NULL THEN
          BEGIN DROP SCHEMA ${PG_SCHEMA} RESTRICT; EXCEPTION WHEN dependent_objects_still_exist THEN NULL; END;
        END IF;
      END $$;`
    : '';
  return onItsOwn(locator, async (query) => {
    await query(`BEGIN; SET LOCAL lock_timeout = '${BUSY_TIMEOUT_MS}ms'; SELECT pg_advisory_xact_lock(${WRITE_LOCK[0]}, ${WRITE_LOCK[1]});
      DROP TABLE IF EXISTS ${tables}; ${schema} COMMIT`);
  });
}

/** The mark a store's tables carry while a copy into them is not yet verified (a comment: nothing of the store's rows). */
export { INCOMPLETE };

/**
 * Mark the tables of the store `locator` names as holding an unverified
 * copy, or take the mark off once the copy verified. A copy killed before
 * that leaves the mark, and the next copy into the database knows the rows
 * for its own leftovers, to be replaced, rather than a store to keep. Tables
 * with the mark are not opened as a store (open.ts) but by the copy's checks.
 */
export function markIncompleteCopy(locator: string, incomplete: boolean): Promise<void> {
  return onItsOwn(locator, async (query) => {
    await query(`COMMENT ON TABLE ${PG_SCHEMA}.meta IS ${incomplete ? `'${INCOMPLETE}'` : 'NULL'}`);
  });
}

/**
 * What the mark of an unverified copy says of the store's tables: none;
 * 'untouched', the rows of one copy and nothing since; 'written', rows
 * written after the copy (or by more than one transaction), as a program
 * that did not heed the mark (a Strongbox from before open.ts refused
 * marked tables) leaves them.
 */
export type CopyMark = 'none' | 'untouched' | 'written';

/**
 * Whether the store's tables carry the mark of an unverified copy, and if so
 * whether their rows are still only that copy's. A copy is one transaction,
 * so every row it wrote has the same xmin; every write to a store changes at
 * least its state row in a transaction of its own, so a copy written to since
 * has rows of two transactions or more. (schema_version is left out: the
 * tables are made, or migrated, by another transaction than the copy.)
 */
export function incompleteCopy(locator: string): Promise<CopyMark> {
  return onItsOwn(locator, async (query) => {
    const [row] = await query(`SELECT ${INCOMPLETE_NOTE_SQL} AS note`) as { note: string | null }[];
    if (row!.note !== INCOMPLETE) return 'none';
    const rows = TABLES.filter((t) => t !== 'schema_version').map((t) => `SELECT xmin::text AS x FROM ${PG_SCHEMA}.${t}`).join(' UNION ALL ');
    const [seen] = await query(`SELECT count(*)::int AS n FROM (SELECT DISTINCT x FROM (${rows}) r LIMIT 2) d`) as { n: number }[];
    return seen!.n <= 1 ? 'untouched' : 'written';
  });
}
