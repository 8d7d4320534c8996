/**
 * PostgreSQL for tests: the run's throwaway cluster (started by
 * test/global-setup.ts, test/helpers/postgres-cluster.ts) and a fresh
 * database per test in it, dropped when the test ends.
 *
 * Databases are made with an ICU collation whose order is not byte order
 * ('B' after 'a'), so a column that forgot its COLLATE "C" sorts wrongly and
 * a test says so.
 *
 * A cluster that did not start is a failure, not a skip: the PostgreSQL
 * driver would go untested without anyone noticing.
 */
import pg from 'pg';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { onTestFinished } from 'vitest';
import { asAdminOf, FAILED_FILE, READY_FILE, type ClusterInfo } from './postgres-cluster.js';

const WAIT_MS = 120_000;

let cluster: ClusterInfo | undefined;

/** The run's cluster, once it accepts connections. @throws when it failed to start, or no run started one */
export async function postgresCluster(): Promise<ClusterInfo> {
  if (cluster) return cluster;
  const dir = process.env.STRONGBOX_TEST_PG_DIR;
  if (!dir) throw new Error('no test cluster: test/global-setup.ts starts one (run the tests through vitest with its config)');
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (existsSync(join(dir, FAILED_FILE))) throw new Error(`the test PostgreSQL cluster did not start: ${readFileSync(join(dir, FAILED_FILE), 'utf8')}`);
    if (existsSync(join(dir, READY_FILE))) {
      cluster = JSON.parse(readFileSync(join(dir, READY_FILE), 'utf8')) as ClusterInfo;
      return cluster;
    }
    if (Date.now() > deadline) throw new Error(`the test PostgreSQL cluster in ${dir} was not ready after ${WAIT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A URL to `database` over the cluster's unix socket, as the superuser. */
export function socketUrl(c: ClusterInfo, database: string): string {
  return `postgres:///${database}?host=${encodeURIComponent(c.socketDir)}&port=${c.port}&user=${c.user}`;
}

/** A URL to `database` over TCP on 127.0.0.1 (`user:password@` when given). */
export function tcpUrl(c: ClusterInfo, database: string, login = c.user): string {
  return `postgresql://${login}@127.0.0.1:${c.port}/${database}`;
}

/** Run `fn` on a connection of its own as the superuser (to `database`, by default the maintenance database). */
export async function asAdmin<T>(fn: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  return asAdminOf(await postgresCluster(), database, fn);
}

export interface TestDatabase {
  name: string;
  /** Its URL over the unix socket. */
  url: string;
  cluster: ClusterInfo;
  /** Drop it (done when the test that made it ends; call it when made outside a test). */
  drop(): Promise<void>;
}

/** A new, empty database, dropped when the calling test finishes. */
export async function freshDatabase(): Promise<TestDatabase> {
  const c = await postgresCluster();
  const name = `sbt_${randomBytes(6).toString('hex')}`;
  await asAdmin((a) => a.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`));
  let dropped = false;
  const db: TestDatabase = {
    name,
    url: socketUrl(c, name),
    cluster: c,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await asAdmin((a) => a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
  try {
    onTestFinished(() => db.drop());
  } catch {
    // made outside a test: the caller drops it (the cluster goes at the end of the run anyway)
  }
  return db;
}

/**
 * A login role of its own on `db`, granted `grants` (SQL after GRANT … TO
 * role), and the database's URL as that role; the role and what it owns are
 * dropped when the test ends. `prefix` keeps roles of different test files apart.
 */
export async function roleWith(db: TestDatabase, grants: string[], prefix: string): Promise<{ role: string; url: string }> {
  const role = `${prefix}_${db.name.slice(4)}`;
  await asAdmin((a) => a.query(`CREATE ROLE ${role} LOGIN`));
  onTestFinished(async () => {
    await asAdmin((a) => a.query(`DROP ROLE IF EXISTS ${role}`));
  });
  await asAdmin(async (a) => {
    for (const g of grants) await a.query(`GRANT ${g} TO ${role}`);
  }, db.name);
  onTestFinished(async () => {
    await asAdmin((a) => a.query(`DROP OWNED BY ${role}`), db.name);
  }); // before the role goes (hooks run last first)
  return { role, url: db.url.replace(/user=[^&]+/, `user=${role}`) };
}
