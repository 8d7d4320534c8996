/**
 * The PostgreSQL bench's server and data: a throwaway cluster of its own
 * (test/helpers/postgres-cluster.ts, started here with the server's durable
 * defaults: fsync, full-page writes and synchronous commit on), a database
 * per use, and a store file's rows copied into a PostgreSQL store.
 */
import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { asAdminOf, FAILED_FILE, READY_FILE, postgresBin, startCluster, type Cluster, type ClusterInfo } from '../test/helpers/postgres-cluster.js';

export interface BenchServer {
  info: ClusterInfo;
  /** A new empty database; its URL over the unix socket, as the libraries take it. */
  database(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Why there can be no PostgreSQL rows on this machine, or undefined when initdb is there. */
export function postgresMissing(): string | undefined {
  const bin = postgresBin();
  if (bin && existsSync(join(bin, 'initdb'))) return undefined;
  const onPath = (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'initdb')));
  return onPath ? undefined : 'no initdb found (scripts/install-postgres.sh installs PostgreSQL; STRONGBOX_PG_BIN names its bin directory)';
}

export async function startServer(): Promise<BenchServer> {
  // The server's own defaults for durability (the test cluster turns them off), and room for the 100,000-version store.
  const cluster: Cluster = startCluster({ settings: ['fsync=on', 'full_page_writes=on', 'synchronous_commit=on', 'shared_buffers=128MB'] });
  await cluster.started;
  const failed = join(cluster.dir, FAILED_FILE);
  if (existsSync(failed)) {
    const why = readFileSync(failed, 'utf8');
    await cluster.stop();
    throw new Error(`the bench's PostgreSQL cluster did not start: ${why}`);
  }
  const info = JSON.parse(readFileSync(join(cluster.dir, READY_FILE), 'utf8')) as ClusterInfo;
  return {
    info,
    database: async (name) => {
      await asAdminOf(info, 'postgres', (c) => c.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE 'C'`));
      return `postgres:///${name}?host=${encodeURIComponent(info.socketDir)}&port=${info.port}&user=${info.user}`;
    },
    stop: () => cluster.stop(),
  };
}


/** The store's tables, parents first. */
const TABLES = ['meta', 'data_keys', 'secrets', 'versions', 'audit', 'state', 'records'];
/** Bind parameters per INSERT (PostgreSQL takes at most 65,535). */
const PARAMS_PER_INSERT = 30_000;

/**
 * Put the rows of the closed store file at `file` in place of those of the
 * PostgreSQL store in `database` (made by initStore, so its schema is in
 * place). The two schemas are the same at the same version, column for
 * column but for the file's key of versions (`place`, left out), and the
 * rows' bytes mean the same in both, so the copy is the
 * same store: it opens with the file's master key, and every row read is
 * checked against its MAC as usual.
 */
export async function copyStoreRows(file: string, info: ClusterInfo, database: string): Promise<void> {
  const db = new Database(file, { readonly: true });
  try {
    await asAdminOf(info, database, async (c) => {
      await c.query('BEGIN');
      await c.query(`TRUNCATE ${TABLES.map((t) => `strongbox.${t}`).join(', ')}`);
      for (const table of TABLES) {
        // The file's versions carry their key (`place`, schema 10) as a column of its own; PostgreSQL's are keyed by their columns.
        const cols = (db.pragma(`table_info(${table})`) as { name: string }[]).map((r) => r.name).filter((c) => !(table === 'versions' && c === 'place'));
        const per = Math.floor(PARAMS_PER_INSERT / cols.length);
        const rows = db.prepare(`SELECT ${cols.join(', ')} FROM ${table}`).raw(true).all() as unknown[][];
        for (let at = 0; at < rows.length; at += per) {
          const chunk = rows.slice(at, at + per);
          const values = chunk.map((_, r) => `(${cols.map((__, k) => `$${r * cols.length + k + 1}`).join(', ')})`).join(', ');
          await c.query(`INSERT INTO strongbox.${table} (${cols.join(', ')}) VALUES ${values}`, chunk.flat());
        }
      }
      await c.query(`SELECT setval(pg_get_serial_sequence('strongbox.secrets', 'id'), (SELECT max(id) FROM strongbox.secrets))`);
      await c.query('COMMIT');
      await c.query('VACUUM ANALYZE');
    });
  } finally {
    db.close();
  }
}
