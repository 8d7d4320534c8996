/**
 * Taking a store's tables out of a database again: what a migrate or a
 * restore into a new database does when it fails after making them, so the
 * database is left as it found it (a later `store init` or migrate starts
 * afresh). Only ever called by the process that made the tables, while it
 * holds the store's exclusive lock.
 */
import { PG_SCHEMA } from './schema.js';
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
