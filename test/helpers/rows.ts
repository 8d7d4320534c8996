/**
 * Every row of a store, read below the library straight from its SQLite file
 * or its PostgreSQL tables, in the same plain shape: for checking that a copy
 * between drivers (migrate, backup, restore) kept every table byte for byte.
 * Bytes as hex, integers as numbers, NULL as null; plus the highest secret id
 * the store has handed out (SQLite's counter of secret ids in sqlite_sequence,
 * PostgreSQL's identity sequence). A SQLite version row's key (`place`,
 * schema 10) is its secret id and number in one integer, which PostgreSQL's
 * rows do not carry: it is checked against them and left out.
 */
import Database from 'better-sqlite3';
import type pg from 'pg';
import { asAdmin } from './postgres.js';

/** How a superuser's connection to a database is had: the run's shared cluster's by default, or a test file's own (postgres-own-cluster.ts). */
export type AdminRunner = <T>(fn: (client: pg.Client) => Promise<T>, database: string) => Promise<T>;

export type Row = Record<string, string | number | null>;
export interface StoreRows {
  tables: Record<string, Row[]>;
  secretIdHighWater: number;
}

/** Each table with the order its rows are listed in (its primary key). */
export const TABLES: Record<string, string> = {
  meta: 'key', data_keys: 'id', secrets: 'id', versions: 'secret_id, version', audit: 'seq', state: 'id', records: 'kind, id',
};

function plain(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) {
    if (v instanceof Uint8Array) out[k] = Buffer.from(v).toString('hex');
    else if (typeof v === 'bigint') out[k] = Number(v);
    else out[k] = v as string | number | null;
  }
  return out;
}

export function sqliteRows(path: string): StoreRows {
  const db = new Database(path, { readonly: true });
  try {
    const tables: Record<string, Row[]> = {};
    for (const [t, order] of Object.entries(TABLES)) {
      tables[t] = (db.prepare(`SELECT * FROM ${t} ORDER BY ${order}`).all() as Record<string, unknown>[]).map(plain);
    }
    tables.versions = tables.versions!.map(({ place, ...row }) => {
      if (place !== Number(row.secret_id) * 2 ** 32 + Number(row.version)) throw new Error(`version row ${row.secret_id}:${row.version} sits under key ${place}`);
      return row;
    });
    // The counter of purged ids (written by purges since schema 6, by every new secret before) or the highest id in use.
    const high = db.prepare(`SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'secrets'), 0),
      coalesce((SELECT max(id) FROM secrets), 0))`).pluck().get() as number;
    return { tables, secretIdHighWater: high };
  } finally {
    db.close();
  }
}

export function postgresRows(database: string, admin: AdminRunner = asAdmin): Promise<StoreRows> {
  return admin(async (client) => {
    client.setTypeParser(20, (text: string) => Number(text)); // int8
    const tables: Record<string, Row[]> = {};
    for (const [t, order] of Object.entries(TABLES)) {
      tables[t] = ((await client.query(`SELECT * FROM strongbox.${t} ORDER BY ${order}`)).rows as Record<string, unknown>[]).map(plain);
    }
    const seq = (await client.query("SELECT pg_sequence_last_value(pg_get_serial_sequence('strongbox.secrets', 'id')::regclass) AS n")).rows[0] as { n: number | null };
    return { tables, secretIdHighWater: seq.n ?? 0 };
  }, database);
}

/** Whether the database has the store's schema (namespace) at all. */
export function hasStoreSchema(database: string, admin: AdminRunner = asAdmin): Promise<boolean> {
  return admin(async (client) => ((await client.query("SELECT to_regnamespace('strongbox') IS NOT NULL AS present")).rows[0] as { present: boolean }).present, database);
}
