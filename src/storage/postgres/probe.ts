/**
 * What `store doctor` asks of the database holding a store, without opening
 * the store (no master key, no migration, nothing written): the server and
 * who this session is, the store's schema and its version, whether its
 * tables hold rows or an interrupted migrate's unverified copy, the role's
 * grants, who holds the store's exclusive lock, and the server settings a
 * store's durability rests on. One connection of its own, closed after.
 */
import type pg from 'pg';
import { PG_SCHEMA } from './schema.js';
import { postgresError } from './errors.js';
import { poolFor, postgresLocation } from './open.js';
import { EXCLUSIVE_LOCK } from './driver.js';
import { INCOMPLETE } from './copy-target.js';
import { roleGrants, type RoleGrants } from './grants.js';

/** A server setting as this session sees it, and where its value came from (pg_settings.source: 'database', 'user', 'configuration file'…). */
export interface SettingSeen {
  value: string;
  source: string;
}

export interface DatabaseProbe {
  /** The URL without its password. */
  shown: string;
  serverVersion: string;
  database: string;
  role: string;
  /** The server is a standby (recovering: it takes no writes). */
  inRecovery: boolean;
  /** This session's transactions are read-only by default (a standby, or default_transaction_read_only). */
  sessionReadOnly: boolean;
  /** The `strongbox` schema exists. */
  schema: boolean;
  /** Its schema_version row: undefined when there is no such table (or it cannot be read: see grants), null when it holds no row. */
  version: { applicationId: number; version: number } | null | undefined;
  /** strongbox.meta holds rows (a store, or a copy); undefined when it cannot be read. */
  hasRows: boolean | undefined;
  /** The tables carry an interrupted migrate's mark. */
  unverifiedCopy: boolean;
  grants: RoleGrants;
  /** Who holds the store's exclusive lock as the server knows it (application name and address); undefined when free. */
  exclusiveHolder: string | undefined;
  settings: Record<'fsync' | 'full_page_writes' | 'synchronous_commit', SettingSeen>;
}

async function one<T>(client: pg.PoolClient, sql: string, values: unknown[] = []): Promise<T> {
  return (await client.query(sql, values)).rows[0] as T;
}

/**
 * Look at the database the store URL `locator` names.
 * @throws E_LOCKED (the server cannot be reached, or the connection was lost), E_IO (login refused, TLS…),
 *   E_NO_STORE (no such database), E_USAGE (not a usable URL)
 */
export async function probeDatabase(locator: string): Promise<DatabaseProbe> {
  const location = postgresLocation(locator);
  const pool = poolFor(location);
  const { shown } = location;
  try {
    const client = await pool.connect();
    try {
      const who = await one<{ v: string; db: string; role: string; rec: boolean; ro: string }>(client,
        "SELECT current_setting('server_version') AS v, current_database() AS db, current_user AS role, pg_is_in_recovery() AS rec, current_setting('transaction_read_only') AS ro");
      const tables = await one<{ schema: boolean; sv: boolean; meta: boolean; note: string | null }>(client, `SELECT
        to_regnamespace('${PG_SCHEMA}') IS NOT NULL AS schema,
        EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'schema_version') AS sv,
        EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'meta') AS meta,
        (SELECT obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'meta') AS note`,
      [PG_SCHEMA]);
      const grants = await roleGrants(client);
      const canRead = (t: string) => grants.schemaUsage && (grants.tables.get(t)?.has('SELECT') ?? false);
      let version: DatabaseProbe['version'];
      if (tables.sv && canRead('schema_version')) {
        const row = await one<{ application_id: number; version: number } | undefined>(client, `SELECT application_id, version FROM ${PG_SCHEMA}.schema_version WHERE id = 1`);
        version = row ? { applicationId: Number(row.application_id), version: Number(row.version) } : null;
      }
      const hasRows = tables.meta && canRead('meta')
        ? (await one<{ any: boolean }>(client, `SELECT EXISTS (SELECT 1 FROM ${PG_SCHEMA}.meta) AS any`)).any
        : undefined;
      const holder = await one<{ app: string | null; addr: string | null } | undefined>(client, `SELECT a.application_name AS app, a.client_addr::text AS addr
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = ${EXCLUSIVE_LOCK[0]} AND l.objid = ${EXCLUSIVE_LOCK[1]} AND l.objsubid = 2 LIMIT 1`);
      const settings = Object.fromEntries(((await client.query(
        "SELECT name, setting, source FROM pg_settings WHERE name IN ('fsync', 'full_page_writes', 'synchronous_commit')",
      )).rows as { name: string; setting: string; source: string }[]).map((r) => [r.name, { value: r.setting, source: r.source }])) as DatabaseProbe['settings'];
      return {
        shown, serverVersion: who.v, database: who.db, role: who.role, inRecovery: who.rec, sessionReadOnly: who.ro === 'on',
        schema: tables.schema, version, hasRows, unverifiedCopy: tables.note === INCOMPLETE, grants,
        exclusiveHolder: holder ? ([holder.app || 'a session', holder.addr && `from ${holder.addr}`].filter(Boolean).join(' ')) : undefined,
        settings,
      };
    } finally {
      client.release();
    }
  } catch (e) {
    throw postgresError(e, shown);
  } finally {
    await pool.end().catch(() => {});
  }
}
