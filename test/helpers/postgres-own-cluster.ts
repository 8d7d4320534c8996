/**
 * A throwaway PostgreSQL cluster of one test file's own, for tests that
 * restart the server: restarting the run's shared cluster
 * (test/helpers/postgres.ts) would break the test files using it at the
 * same time. Started in `beforeAll`, stopped and removed in `afterAll`;
 * it costs an initdb (a few seconds), so only fault tests make one.
 */
import pg from 'pg';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FAILED_FILE, READY_FILE, startCluster, type ClusterInfo, type ClusterOptions } from './postgres-cluster.js';
import { socketUrl, tcpUrl } from './postgres.js';

export interface OwnCluster {
  info: ClusterInfo;
  /** A new, empty database; its URL over the unix socket, and over TCP on 127.0.0.1. */
  database(): Promise<{ name: string; url: string; tcpUrl: string }>;
  /** Run `fn` on a connection of its own as the superuser (to `database`). */
  admin<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T>;
  /** A connection of the superuser's to `database`, for a test to hold (its errors are ignored: a restart ends it). */
  connect(database: string): Promise<pg.Client>;
  /** `pg_ctl restart -m fast`; resolves once the server accepts connections again, with the time it took. */
  restart(): Promise<number>;
  /** Stop the server and remove its directory. */
  stop(): Promise<void>;
}

/** Start a cluster for this test file (`options`: settings beside the tests' own) and wait until it accepts connections. */
export async function ownCluster(options: ClusterOptions = {}): Promise<OwnCluster> {
  const cluster = startCluster(options);
  await cluster.started;
  if (existsSync(join(cluster.dir, FAILED_FILE))) {
    const why = readFileSync(join(cluster.dir, FAILED_FILE), 'utf8');
    await cluster.stop();
    throw new Error(`a PostgreSQL cluster of the test's own did not start: ${why}`);
  }
  const info = JSON.parse(readFileSync(join(cluster.dir, READY_FILE), 'utf8')) as ClusterInfo;
  const connect = async (database: string) => {
    const client = new pg.Client({ host: info.socketDir, port: info.port, user: info.user, database });
    client.on('error', () => {});
    await client.connect();
    return client;
  };
  const admin = async <T>(database: string, fn: (client: pg.Client) => Promise<T>) => {
    const client = await connect(database);
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    info,
    database: async () => {
      const name = `sbf_${randomBytes(6).toString('hex')}`;
      await admin('postgres', (a) => a.query(`CREATE DATABASE ${name}`));
      return { name, url: socketUrl(info, name), tcpUrl: tcpUrl(info, name) };
    },
    admin,
    connect,
    restart: async () => {
      const started = performance.now();
      await cluster.restart();
      return performance.now() - started;
    },
    stop: () => cluster.stop(),
  };
}
