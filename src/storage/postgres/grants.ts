/**
 * What a database role may do to a store in PostgreSQL, asked of the server
 * (has_*_privilege, which counts the role's memberships): whether it can
 * write at all (opening a store: a role that cannot opens it read-only, as a
 * store file this user may not write does), and what exactly it lacks for
 * reads, writes, backups and restores (store doctor).
 *
 * A store's tables are read by every operation; each write inserts an audit
 * entry and saves the state row, so a role without INSERT on
 * strongbox.audit or INSERT and UPDATE on strongbox.state can make no change
 * at all. The other write privileges each serve some operations only (a
 * role without DELETE on strongbox.audit may write but not prune the log,
 * which an operator may want), so they are reported, not enforced.
 */
import type pg from 'pg';
import { PG_SCHEMA } from './schema.js';

/** The store's tables, and the writes of the store's operations each needs beside SELECT. */
export const TABLE_WRITES: Readonly<Record<string, readonly Privilege[]>> = {
  schema_version: [],
  meta: ['INSERT', 'UPDATE', 'DELETE'],
  data_keys: ['INSERT', 'UPDATE'],
  secrets: ['INSERT', 'UPDATE', 'DELETE'],
  versions: ['INSERT', 'UPDATE', 'DELETE'],
  audit: ['INSERT', 'DELETE'],
  state: ['INSERT', 'UPDATE'],
  records: ['INSERT', 'UPDATE', 'DELETE'],
};

export type Privilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';

/** What every write does (an audit entry, the state row saved): without it nothing can be changed. */
const EVERY_WRITE: readonly [string, Privilege][] = [['audit', 'INSERT'], ['state', 'INSERT'], ['state', 'UPDATE']];

/**
 * Columns for the query that opens a store (open.ts), read once with the
 * schema version: `cannot_write`, the privileges of EVERY_WRITE the role
 * lacks ('INSERT on strongbox.audit, …', or ''); `server_read_only`, whether
 * the server takes no writes in this session (a standby, or
 * default_transaction_read_only set for the role or database).
 */
export const WRITABLE_COLUMNS = `concat_ws(', ', ${EVERY_WRITE.map(([t, p]) => `CASE WHEN has_table_privilege('${PG_SCHEMA}.${t}', '${p}') THEN NULL ELSE '${p} on ${PG_SCHEMA}.${t}' END`).join(', ')}) AS cannot_write,
  current_setting('transaction_read_only') = 'on' AS server_read_only, current_user AS role`;

/** The hint for a role that lacks write grants, naming it. */
export function grantHint(role: string): string {
  return `grant the role what the store needs, as the tables' owner: GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${PG_SCHEMA} TO ${quoteIdent(role)}`;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** What the connected role may do to the store's schema, tables and id sequence. */
export interface RoleGrants {
  role: string;
  /** USAGE on the strongbox schema (without it nothing in it can be named). */
  schemaUsage: boolean;
  /** Each table of the store present, with the privileges the role holds on it. */
  tables: Map<string, Set<Privilege>>;
  /** SELECT or USAGE on the secrets' id sequence; undefined when there is no such sequence. */
  sequence: boolean | undefined;
}

/** The role's privileges, read from the catalogs (which need no privilege on the schema). */
export async function roleGrants(client: pg.ClientBase): Promise<RoleGrants> {
  const head = (await client.query(`SELECT current_user AS role, coalesce((SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace WHERE nspname = $1), false) AS usage`, [PG_SCHEMA])).rows[0] as { role: string; usage: boolean };
  const rows = (await client.query(`SELECT c.relname AS name, c.relkind AS kind,
      CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'SELECT, USAGE') ELSE has_table_privilege(c.oid, 'SELECT') END AS s,
      c.relkind = 'r' AND has_table_privilege(c.oid, 'INSERT') AS i,
      c.relkind = 'r' AND has_table_privilege(c.oid, 'UPDATE') AS u,
      c.relkind = 'r' AND has_table_privilege(c.oid, 'DELETE') AS d
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1 AND (c.relkind IN ('r', 'p') OR (c.relkind = 'S' AND c.relname = 'secrets_id_seq'))`, [PG_SCHEMA])).rows as
    { name: string; kind: string; s: boolean; i: boolean; u: boolean; d: boolean }[];
  const tables = new Map<string, Set<Privilege>>();
  let sequence: boolean | undefined;
  for (const r of rows) {
    if (r.kind === 'S') {
      sequence = r.s;
      continue;
    }
    if (!(r.name in TABLE_WRITES)) continue;
    const held = new Set<Privilege>();
    if (r.s) held.add('SELECT');
    if (r.i) held.add('INSERT');
    if (r.u) held.add('UPDATE');
    if (r.d) held.add('DELETE');
    tables.set(r.name, held);
  }
  return { role: head.role, schemaUsage: head.usage, tables, sequence };
}

/** What a role lacks, grouped by what it keeps from working; each entry 'INSERT, DELETE on strongbox.audit'. */
export interface MissingGrants {
  /** For anything at all: reading the store. */
  reads: string[];
  /** For some or all changes. */
  writes: string[];
  /** For any change at all (a subset of writes): without these the store opens read-only. */
  everyWrite: string[];
  /** For a restore, which replaces every row (DELETE on every table). */
  restore: string[];
}

function grouped(lacking: Map<string, Privilege[]>): string[] {
  return [...lacking].filter(([, p]) => p.length > 0).map(([t, p]) => `${p.join(', ')} on ${PG_SCHEMA}.${t}`);
}

export function missingGrants(g: RoleGrants): MissingGrants {
  const has = (t: string, p: Privilege) => g.schemaUsage && (g.tables.get(t)?.has(p) ?? false);
  const reads = new Map<string, Privilege[]>();
  const writes = new Map<string, Privilege[]>();
  const restore = new Map<string, Privilege[]>();
  for (const [t, needs] of Object.entries(TABLE_WRITES)) {
    if (!g.tables.has(t)) continue; // a missing table is the schema's problem, not a grant's
    reads.set(t, has(t, 'SELECT') ? [] : ['SELECT']);
    writes.set(t, needs.filter((p) => !has(t, p)));
    restore.set(t, t === 'schema_version' || has(t, 'DELETE') ? [] : ['DELETE']);
  }
  const everyWrite = new Map<string, Privilege[]>();
  for (const [t, p] of EVERY_WRITE) if (g.tables.has(t) && !has(t, p)) everyWrite.set(t, [...(everyWrite.get(t) ?? []), p]);
  return {
    reads: [...(g.schemaUsage ? [] : [`USAGE on schema ${PG_SCHEMA}`]), ...grouped(reads)],
    writes: grouped(writes),
    everyWrite: grouped(everyWrite),
    restore: grouped(restore),
  };
}
