/**
 * The storage drivers the cross-driver suites run on, so one test body runs
 * on both: `describe.each(DRIVERS)('… ($name)', (driver) => …)`.
 *
 * - sqlite: a store file in a temp dir;
 * - postgres: a fresh database in the run's throwaway cluster
 *   (test/helpers/postgres.ts).
 *
 * Each gives a place for a new store, and a raw connection to a store's rows
 * with the same table and column names on both (PostgreSQL's connection has
 * the store's schema on its search_path): the SQL an attacker with write
 * access runs, and the checks the API cannot show. Parameters are written
 * `?` on both. Neither connection enforces foreign keys, nor SQLite's its
 * CHECKs (an attacker's connection enforces what it cannot help):
 * PostgreSQL's types, NOT NULLs and CHECKs still hold, as SQLite's NOT NULLs
 * do.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { onTestFinished } from 'vitest';
import { initStore, openStore, rawKey, type InitOptions, type Store } from '../../src/index.js';
import { PG_SCHEMA } from '../../src/storage/postgres/schema.js';
import { EXCLUSIVE_LOCK } from '../../src/storage/postgres/driver.js';
import { rememberMaster } from './store.js';
import { freshDatabase, postgresCluster } from './postgres.js';
import { tempDir } from './tmp.js';

export type DriverName = 'sqlite' | 'postgres';

/** Run `fn` when the current test ends; outside a test (a beforeAll), the caller cleans up itself. */
function atTestEnd(fn: () => unknown): void {
  try {
    onTestFinished(async () => {
      await fn();
    });
  } catch {
    // not inside a test
  }
}

/** Where a new store goes (nothing there yet), and how to take it away again. */
export interface Place {
  /** The store's path or URL, as initStore and openStore take it. */
  locator: string;
  /** Remove the file (its directory) or drop the database; done anyway when the test that made it ends. */
  remove(): Promise<void>;
}

export interface Column {
  name: string;
  kind: 'integer' | 'text' | 'blob';
}

/** A connection straight to a store's rows. */
export interface RawDb {
  readonly dialect: DriverName;
  /** Every row. */
  all<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T | undefined>;
  /** The first row's first column. */
  value<T = unknown>(sql: string, ...params: unknown[]): Promise<T>;
  /** Run one statement; the number of rows it changed. */
  run(sql: string, ...params: unknown[]): Promise<number>;
  /** Run statements without parameters, `;`-separated. */
  exec(sql: string): Promise<void>;
  /** `fn` in one transaction. */
  tx<T>(fn: () => Promise<T>): Promise<T>;
  /** `table`'s columns in order, each with the kind of value it was made for. */
  columns(table: string): Promise<Column[]>;
  /**
   * Make `table.column` able to hold a value of the wrong kind, and give
   * that value as an SQL literal. SQLite stores text in any column but a
   * primary key: 'x'. PostgreSQL's column types hold (changing one would
   * change the type of every query on it, and the store reports a damaged
   * schema), but the tables' owner may drop a NOT NULL: NULL.
   */
  wrongKind(table: string, column: string): Promise<string>;
  /**
   * The SET list of an UPDATE that moves a version row, whole, to secret id
   * `secretId` and number `version` (SQL expressions over the row as it
   * was). PostgreSQL finds a version by those two columns; SQLite by its
   * key, `place` (schema 10), which moves with them.
   */
  moveVersion(secretId: string, version: string): string;
  close(): Promise<void>;
}

export interface StoreDriver {
  name: DriverName;
  /** A place for a new store (removed when the test that made it ends, or by `remove`). */
  place(): Promise<Place>;
  /** A raw connection to the store at `locator` (closed when the test that made it ends, or by `close`). */
  raw(locator: string): Promise<RawDb>;
  /**
   * Everything stored, as text that changes with any write: the names in
   * the file's directory, the file's and its WAL's bytes; every row with its
   * physical place and row version (so even an UPDATE to the same value
   * shows).
   */
  footprint(locator: string): Promise<string>;
  /** Whether no operation holds the store's exclusive lock (rotation): no lock file; no advisory lock held. */
  exclusiveLockFree(locator: string): Promise<boolean>;
}

// ------------------------------------------------------------------ SQLite

function sqliteRaw(path: string): RawDb {
  const db = new Database(path, { fileMustExist: true });
  db.pragma('foreign_keys = OFF');
  db.pragma('ignore_check_constraints = ON');
  const raw: RawDb = {
    dialect: 'sqlite',
    all: async <T>(sql: string, ...params: unknown[]) => db.prepare(sql).all(...params) as T[],
    get: async <T>(sql: string, ...params: unknown[]) => db.prepare(sql).get(...params) as T | undefined,
    value: async <T>(sql: string, ...params: unknown[]) => db.prepare(sql).pluck().get(...params) as T,
    run: async (sql: string, ...params: unknown[]) => db.prepare(sql).run(...params).changes,
    exec: async (sql: string) => {
      db.exec(sql);
    },
    tx: async <T>(fn: () => Promise<T>) => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn();
        db.exec('COMMIT');
        return out;
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
    },
    columns: async (table: string) => (db.pragma(`table_info(${table})`) as { name: string; type: string }[])
      .map((c) => ({ name: c.name, kind: c.type === 'INTEGER' ? 'integer' : c.type === 'BLOB' ? 'blob' : 'text' })),
    wrongKind: async () => "'x'",
    moveVersion: (secretId, version) => `secret_id = ${secretId}, version = ${version}, place = (${secretId}) * 4294967296 + (${version})`,
    close: async () => {
      if (db.open) db.close();
    },
  };
  return raw;
}

const sqlite: StoreDriver = {
  name: 'sqlite',
  place: async () => {
    const dir = tempDir();
    return { locator: join(dir, 'store.db'), remove: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  raw: async (path) => {
    const raw = sqliteRaw(path);
    atTestEnd(() => raw.close());
    return raw;
  },
  footprint: async (path) => {
    const wal = `${path}-wal`;
    const files = readdirSync(dirname(path)).sort().join(',');
    return `${files}|${readFileSync(path).toString('hex')}|${existsSync(wal) ? readFileSync(wal).toString('hex') : '-'}`;
  },
  exclusiveLockFree: async (path) => !existsSync(`${path}.lock`),
};

// -------------------------------------------------------------- PostgreSQL

/** `sql` with its `?` placeholders numbered as PostgreSQL's `$1`, `$2`… (none is inside a quoted literal in these tests). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/'(?:[^']|'')*'|\?/g, (m) => (m === '?' ? `$${++n}` : m));
}

/** bigint columns as numbers, as the driver reads them; anything past 2^53 stays text, so a test sees it. */
function int8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function database(locator: string): string {
  return new URL(locator).pathname.slice(1);
}

async function postgresClient(locator: string): Promise<pg.Client> {
  const c = await postgresCluster();
  const client = new pg.Client({
    host: c.socketDir, port: c.port, user: c.user, database: database(locator),
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === pg.types.builtins.INT8 ? int8 : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function postgresRaw(locator: string): Promise<RawDb> {
  const client = await postgresClient(locator);
  // The store's tables by their bare names; foreign keys (triggers) not enforced, as an attacker's own connection may arrange.
  await client.query(`SET search_path = ${PG_SCHEMA}; SET session_replication_role = replica`);
  let closed = false;
  const q = async (sql: string, params: unknown[]) => client.query({ text: numbered(sql), values: params });
  const raw: RawDb = {
    dialect: 'postgres',
    all: async <T>(sql: string, ...params: unknown[]) => (await q(sql, params)).rows as T[],
    get: async <T>(sql: string, ...params: unknown[]) => (await q(sql, params)).rows[0] as T | undefined,
    value: async <T>(sql: string, ...params: unknown[]) => {
      const r = await client.query({ text: numbered(sql), values: params, rowMode: 'array' });
      return (r.rows[0] as unknown[] | undefined)?.[0] as T;
    },
    run: async (sql: string, ...params: unknown[]) => (await q(sql, params)).rowCount ?? 0,
    exec: async (sql: string) => {
      await client.query(sql);
    },
    tx: async <T>(fn: () => Promise<T>) => {
      await client.query('BEGIN');
      try {
        const out = await fn();
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
    },
    columns: async (table: string) => {
      const rows = (await client.query('SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position', [PG_SCHEMA, table])).rows as { name: string; type: string }[];
      return rows.map((c) => ({ name: c.name, kind: c.type === 'bigint' || c.type === 'integer' ? 'integer' : c.type === 'bytea' ? 'blob' : 'text' }));
    },
    wrongKind: async (table: string, column: string) => {
      await client.query(`ALTER TABLE ${table} ALTER COLUMN ${column} DROP NOT NULL`);
      return 'NULL';
    },
    moveVersion: (secretId, version) => `secret_id = ${secretId}, version = ${version}`,
    close: async () => {
      if (closed) return;
      closed = true;
      await client.end();
    },
  };
  return raw;
}

const postgres: StoreDriver = {
  name: 'postgres',
  place: async () => {
    const db = await freshDatabase();
    return { locator: db.url, remove: () => db.drop() };
  },
  raw: async (locator) => {
    const raw = await postgresRaw(locator);
    atTestEnd(() => raw.close());
    return raw;
  },
  footprint: async (locator) => {
    const client = await postgresClient(locator);
    try {
      const tables = (await client.query(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [PG_SCHEMA])).rows as { t: string }[];
      const parts: string[] = [];
      for (const { t } of tables) {
        const rows = (await client.query(`SELECT ctid::text AS at, xmin::text AS xmin, r::text AS row FROM ${PG_SCHEMA}.${t} r ORDER BY ctid`)).rows as { at: string; xmin: string; row: string }[];
        parts.push(`${t}: ${rows.map((r) => `${r.at} ${r.xmin} ${r.row}`).join('\n')}`);
      }
      return parts.join('\n');
    } finally {
      await client.end();
    }
  },
  exclusiveLockFree: async (locator) => {
    const client = await postgresClient(locator);
    try {
      const held = (await client.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND classid = $1 AND objid = $2`, [...EXCLUSIVE_LOCK])).rows[0] as { n: number };
      return held.n === 0;
    } finally {
      await client.end();
    }
  },
};

/** Every driver, for describe.each: `describe.each(DRIVERS)('… ($name)', (driver) => …)`. */
export const DRIVERS: readonly StoreDriver[] = [sqlite, postgres];

export interface FreshStore {
  store: Store;
  /** Its path or URL. */
  locator: string;
  key: Uint8Array;
  /** Open it again with the same raw key (closed when the test ends). */
  reopen(): Promise<Store>;
}

/** A new store on `driver` with a random raw key, closed when the test ends. */
export async function freshStoreOn(driver: StoreDriver, options: InitOptions = {}): Promise<FreshStore> {
  const { locator } = await driver.place();
  const key = new Uint8Array(randomBytes(32));
  const store = await initStore(locator, rawKey(key), options);
  onTestFinished(() => store.close());
  rememberMaster(store, rawKey(key));
  const reopen = async () => {
    const again = await openStore(locator, rawKey(key));
    onTestFinished(() => again.close());
    rememberMaster(again, rawKey(key));
    return again;
  };
  return { store, locator, key, reopen };
}

/** Run `fn` on a raw connection to the store at `locator`, closed afterwards. */
export async function withRaw<T>(driver: StoreDriver, locator: string, fn: (db: RawDb) => Promise<T>): Promise<T> {
  const db = await driver.raw(locator);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
