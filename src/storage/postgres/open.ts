/**
 * From a `postgres://` or `postgresql://` URL to a pool of connections to
 * the store's database, and the store's schema checked, made or migrated.
 *
 * The URL follows libpq's conventions, and node-postgres reads most of them
 * itself: user, password, host, port and database in the URL or in PGUSER,
 * PGPASSWORD, PGHOST, PGPORT, PGDATABASE; `?host=/run/postgresql` (or a
 * host of `%2Frun%2Fpostgresql`) for a unix socket directory. What this
 * module adds:
 * - a password from ~/.pgpass or PGPASSFILE (passfile.ts);
 * - `sslmode` has libpq's meanings (node-postgres 8 treats require and
 *   verify-ca as verify-full unless told otherwise, and says so on stderr);
 * - a URL with no host, and no PGHOST, uses the local server's unix socket
 *   where one is found in the usual directories, as psql does;
 * - `connect_timeout` (seconds; PGCONNECT_TIMEOUT) bounds the wait for a
 *   connection, 10 s by default;
 * - the URL is shown in messages without its password.
 */
import pg from 'pg';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../errors.js';
import { shownLocator } from '../locator.js';
import { postgresError } from './errors.js';
import { passfilePassword, type PassfileTarget } from './passfile.js';
import { APPLICATION_ID, INCOMPLETE, INCOMPLETE_NOTE_SQL, PG_SCHEMA, SCHEMA_VERSION, migrationSql } from './schema.js';
import { PostgresStorage, WRITE_LOCK, BUSY_TIMEOUT_MS, watchConnection } from './driver.js';
import { grantHint, WRITABLE_COLUMNS } from './grants.js';
import { describeReadOnly, type ReadOnlyReason } from '../read-only.js';

/** How long to wait for a connection unless the URL or PGCONNECT_TIMEOUT says otherwise. */
const CONNECT_TIMEOUT_S = 10;
/** Connections one process keeps to the store at most: transactions run one at a time, single reads and the exclusive lock beside them. */
const POOL_MAX = 10;
/**
 * The server ends a session left idle inside a transaction this long (a
 * frozen or partitioned host), so another host's writes are not held up
 * behind its write lock for ever. A transaction body awaits only storage
 * calls, so a live process never comes near it.
 */
const IDLE_IN_TRANSACTION_MS = 60_000;
/** Where a local server's unix socket usually is (Debian and most packages; then the source build's default). */
const SOCKET_DIRS = ['/run/postgresql', '/var/run/postgresql', '/tmp'];
/** libpq's sslmode values node-postgres can honour. */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];

/** A store's URL made ready for node-postgres, and how messages name it. */
export interface PostgresLocation {
  /** The connection string node-postgres parses. Holds the password when the URL did: never shown. */
  connectionString: string;
  /** The URL without a password. */
  shown: string;
  connectTimeoutMs: number;
}

function usage(message: string, hints: string[] = []): StoreError {
  return new StoreError('E_USAGE', message, [
    ...hints,
    'a PostgreSQL store is named by a URL: postgres://user@host:port/database, or postgres:///database?host=/run/postgresql for a unix socket',
  ]);
}

/** `url` with `key=value` added to its query. */
function withParam(url: string, key: string, value: string): string {
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  return `${base}${base.includes('?') ? '&' : '?'}${encodeURIComponent(key)}=${encodeURIComponent(value)}`;
}

/** The URL's parts as WHATWG URL reads them (an empty host after user@ made parseable as node-postgres does). */
function parsed(locator: string, shown: string): URL {
  try {
    return new URL(locator);
  } catch {
    try {
      return new URL(locator.replace('@/', '@___DUMMY___/'));
    } catch {
      throw usage(`the store URL ${shown} is not a valid PostgreSQL URL`);
    }
  }
}

/** The unix socket directory of a local server on `port`, as libpq would find it; undefined when there is none. */
function localSocketDir(port: string): string | undefined {
  return SOCKET_DIRS.find((dir) => existsSync(join(dir, `.s.PGSQL.${port}`)));
}

/**
 * Check a store URL and make it ready for node-postgres.
 * @throws E_USAGE when it is not a PostgreSQL URL this driver can use
 */
export function postgresLocation(locator: string, env: Record<string, string | undefined> = process.env): PostgresLocation {
  const shown = shownLocator(locator);
  const url = parsed(locator, shown);
  const params = url.searchParams;
  let connectionString = locator.split('#')[0]!;

  const sslmode = params.get('sslmode');
  if (sslmode !== null) {
    if (!SSL_MODES.includes(sslmode)) {
      throw usage(`the store URL ${shown} has sslmode=${sslmode}; this driver takes ${SSL_MODES.join(', ')}`,
        sslmode === 'allow' ? ['sslmode=allow (plain first, TLS only if the server insists) is not supported: use disable or require'] : []);
    }
    if (params.get('uselibpqcompat') === null && sslmode !== 'no-verify') connectionString = withParam(connectionString, 'uselibpqcompat', 'true');
  }

  const host = params.get('host') ?? (url.hostname === '___DUMMY___' ? '' : url.hostname);
  if (host === '' && !env.PGHOST) {
    const port = params.get('port') ?? (url.port || env.PGPORT || '5432');
    const dir = localSocketDir(port);
    if (dir) connectionString = withParam(connectionString, 'host', dir);
  }

  const timeout = params.get('connect_timeout') ?? env.PGCONNECT_TIMEOUT;
  let connectTimeoutMs = CONNECT_TIMEOUT_S * 1000;
  if (timeout !== undefined && timeout !== null) {
    const seconds = /^\d+$/.test(timeout) ? Number(timeout) : NaN;
    if (!Number.isSafeInteger(seconds)) throw usage(`the store URL ${shown} has connect_timeout=${timeout}: give whole seconds`);
    // libpq: 0 waits for ever; less than 2 s is taken as 2 s.
    connectTimeoutMs = seconds === 0 ? 0 : Math.max(2, seconds) * 1000;
  }
  return { connectionString, shown, connectTimeoutMs };
}

/** int8 (bigint) columns as JS numbers: every integer of a store is a bigint column, and every one fits (ms times, 32-bit key ids, counts). */
function int8(text: string): number {
  return Number(text);
}

/** The name a connection gives the server, for pg_stat_activity and for who holds the exclusive lock. */
function applicationName(): string {
  return `strongbox ${hostname()} pid ${process.pid}`.slice(0, 63);
}

/**
 * node-postgres' client, taking a password the URL and PGPASSWORD did not
 * give from the password file (passfile.ts), asked only when the server
 * wants one.
 */
class Client extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super(config);
    const self = this as unknown as { password: unknown };
    if (self.password === null || self.password === undefined) self.password = (target: PassfileTarget) => passfilePassword(target);
  }
}

/**
 * A pool of connections to the store's database. Nothing is connected until it is used.
 * `readOnly`: every session starts with default_transaction_read_only on, so the server
 * refuses a write on any of them, a single statement's as a transaction's.
 */
export function poolFor(location: PostgresLocation, options: { readOnly?: boolean } = {}): pg.Pool {
  const pool = new pg.Pool({
    Client,
    connectionString: options.readOnly ? withReadOnlySessions(location.connectionString) : location.connectionString,
    max: POOL_MAX,
    connectionTimeoutMillis: location.connectTimeoutMs,
    idleTimeoutMillis: 10_000,
    allowExitOnIdle: true, // a library user who forgets close() is not kept running by idle connections
    keepAlive: true,
    // A statement is sent without waiting for the one before it when nothing awaits that one's answer (driver.ts, WriteTx).
    pipeline: true,
    fallback_application_name: applicationName(),
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === pg.types.builtins.INT8 ? int8 : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
  });
  // A connection that fails while idle in the pool: the pool drops it, and the next use makes a new one.
  pool.on('error', () => {});
  pool.on('connect', watchConnection);
  return pool;
}

/**
 * The connection string with default_transaction_read_only on added to the
 * session options the URL (`options=`) or PGOPTIONS already give: in the
 * URL, since node-postgres lets the URL's parameters override its config.
 */
function withReadOnlySessions(connectionString: string, env: Record<string, string | undefined> = process.env): string {
  const q = connectionString.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : connectionString.slice(q + 1));
  const given = params.get('options') ?? env.PGOPTIONS;
  params.set('options', `${given ? `${given} ` : ''}-c default_transaction_read_only=on`);
  return `${q < 0 ? connectionString : connectionString.slice(0, q)}?${params.toString()}`;
}

/** A connection of its own for the read cache's change detector (changes.ts): it only LISTENs. */
function listenerFor(location: PostgresLocation): () => pg.Client {
  return () => new Client({
    connectionString: location.connectionString,
    connectionTimeoutMillis: location.connectTimeoutMs,
    keepAlive: true,
    fallback_application_name: applicationName(),
  });
}

const WRITE_LOCK_SQL = `SET LOCAL lock_timeout = '${BUSY_TIMEOUT_MS}ms'; SELECT pg_advisory_xact_lock(${WRITE_LOCK[0]}, ${WRITE_LOCK[1]})`;

/**
 * The schema version of the store in the pool's database (and, `opening`,
 * whether this session can write it: grants.ts WRITABLE_COLUMNS, and the
 * unverified-copy mark on its tables: all in the one query an open makes).
 * @throws E_NO_STORE (no store there), E_NOT_A_STORE, E_SCHEMA_TOO_NEW
 */
async function schemaVersion(db: pg.Pool | pg.PoolClient, shown: string, opening = false): Promise<OpeningProbe> {
  let rows: (OpeningProbe & { application_id: number })[];
  try {
    const more = opening ? `, ${WRITABLE_COLUMNS}, ${INCOMPLETE_NOTE_SQL} AS copy_note` : '';
    rows = (await db.query(`SELECT application_id, version${more} FROM ${PG_SCHEMA}.schema_version WHERE id = 1`)).rows;
  } catch (e) {
    if ((e as { code?: unknown }).code === '42P01') {
      throw new StoreError('E_NO_STORE', `no store in ${shown} (it has no ${PG_SCHEMA}.schema_version table)`, ['create one with: store init']);
    }
    throw postgresError(e, shown);
  }
  const row = rows[0];
  if (!row || Number(row.application_id) !== APPLICATION_ID) throw new StoreError('E_NOT_A_STORE', `${shown} is not a Strongbox store (schema ${PG_SCHEMA} is another program's)`);
  if (row.version > SCHEMA_VERSION) {
    throw new StoreError('E_SCHEMA_TOO_NEW', `${shown} has schema version ${row.version}; this program knows up to ${SCHEMA_VERSION}`, ['upgrade Strongbox to open this store']);
  }
  return row;
}

/** Run `fn` in a transaction holding the store's write lock, on a connection of its own. */
async function locked<T>(pool: pg.Pool, shown: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw postgresError(e, shown);
  }
  let broken = false;
  try {
    try {
      await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; ${WRITE_LOCK_SQL}`);
    } catch (e) {
      broken = true;
      throw postgresError(e, shown);
    }
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw postgresError(e, shown);
    }
  } finally {
    client.release(broken);
  }
}

/**
 * Make a store's schema in the URL's database (which must exist): the
 * `strongbox` schema and its tables, empty.
 * @throws E_STORE_EXISTS when the database already holds a store; E_USAGE, E_IO, E_LOCKED, E_NO_STORE (no such database)
 */
export async function createPostgresStore(locator: string): Promise<PostgresStorage> {
  const location = postgresLocation(locator);
  const pool = poolFor(location);
  const { shown } = location;
  try {
    await locked(pool, shown, async (client) => {
      const found = (await client.query(`SELECT to_regclass('${PG_SCHEMA}.schema_version') IS NOT NULL AS present`)).rows[0] as { present: boolean };
      if (found.present) throw new StoreError('E_STORE_EXISTS', `${shown} already holds a Strongbox store`, ['open it, or choose another database']);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${PG_SCHEMA}`);
      try {
        for (const sql of migrationSql(0)) await client.query(sql);
      } catch (e) {
        if ((e as { code?: unknown }).code === '42P07') {
          throw new StoreError('E_STORE_EXISTS', `${shown}: schema ${PG_SCHEMA} already holds tables of another program`, ['choose another database']);
        }
        throw e;
      }
    });
    return new PostgresStorage(pool, shown, listenerFor(location));
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
}

/**
 * Why the store cannot be written through this connection, from the opening
 * query's answer (grants.ts); undefined when it can.
 */
function writeBlocked(probe: OpeningProbe, shown: string): ReadOnlyReason | undefined {
  if (probe.cannot_write !== '') {
    return { cause: 'database', where: `the database role ${probe.role} may not write it: it lacks ${probe.cannot_write}`, hints: [grantHint(probe.role)] };
  }
  if (probe.server_read_only) {
    return {
      cause: 'database', where: 'the database server takes no writes in this session (a standby, or default_transaction_read_only is on)',
      hints: [`point the store at the primary server, or turn default_transaction_read_only off for this role and database (${shown})`],
    };
  }
  return undefined;
}

interface OpeningProbe { version: number; cannot_write: string; server_read_only: boolean; role: string; copy_note?: string | null }

/**
 * Tables marked as an interrupted migrate's unverified copy (schema.ts
 * INCOMPLETE) are no store to use: their rows were never verified, and the
 * next migrate into the database replaces them. Refused, so nothing reads
 * them as a store, nor writes to them.
 */
function unverifiedCopyRefused(shown: string): StoreError {
  return new StoreError('E_NOT_A_STORE', `${shown} holds an unverified copy of a store, left by an interrupted store migrate: not a store to use`, [
    'run the same store migrate again: it replaces the copy, verifies it and then opens as a store',
    `or drop it, as the tables' owner: DROP SCHEMA ${PG_SCHEMA} CASCADE (and store init or migrate into the database afresh)`,
  ]);
}

export interface PostgresOpenOptions {
  /**
   * Open tables marked as an interrupted migrate's unverified copy too: only
   * for the copy's own checks (src/store/migrate/target.ts: a migrate or a
   * restore that replaces, or verifies, what is there).
   */
  unverifiedCopy?: boolean;
}

/** An older store cannot be read before it is migrated, which writes. */
function upgradeRefused(shown: string, reason: ReadOnlyReason, version: number): StoreError {
  return new StoreError('E_READ_ONLY', `${shown} has schema version ${version}, which must be migrated to ${SCHEMA_VERSION} before this program reads it, which writes, and it is open read-only here (${describeReadOnly(reason)})`, [
    'open it once read-write with a role that may write it (any command migrates it), then read it here again',
  ]);
}

/**
 * Open the store in the URL's database, migrating it forward (under the
 * store's write lock, in one transaction) when it is older. `readOnly` as
 * OpenOptions.readOnly: true opens it read-only, every session of the pool
 * read-only at the server too; by default a role that may not write it (or a
 * server that takes no writes) opens it read-only; false insists on writing.
 * Tables that carry an interrupted migrate's unverified-copy mark are refused
 * (E_NOT_A_STORE) unless `options.unverifiedCopy`.
 * @throws E_NO_STORE, E_NOT_A_STORE, E_SCHEMA_TOO_NEW, E_USAGE, E_IO (also: readOnly false and it cannot be written),
 *   E_LOCKED; E_READ_ONLY (an older store, read-only)
 */
export async function openPostgresStore(locator: string, readOnly?: boolean, options: PostgresOpenOptions = {}): Promise<PostgresStorage> {
  const location = postgresLocation(locator);
  const pool = poolFor(location, { readOnly: readOnly === true });
  const { shown } = location;
  try {
    const probe = await schemaVersion(pool, shown, true);
    if (probe.copy_note === INCOMPLETE && !options.unverifiedCopy) throw unverifiedCopyRefused(shown);
    const blocked = readOnly === true ? undefined : writeBlocked(probe, shown);
    if (blocked && readOnly === false) throw new StoreError('E_IO', `${shown} cannot be written here: ${describeReadOnly(blocked)}`, blocked.hints ?? []);
    const reason: ReadOnlyReason | undefined = readOnly === true
      ? { cause: 'asked', where: shown, hints: ['open it without readOnly to change it'] }
      : blocked;
    if (probe.version < SCHEMA_VERSION) {
      if (reason) throw upgradeRefused(shown, reason, probe.version);
      await locked(pool, shown, async (client) => {
        const now = (await schemaVersion(client, shown)).version;
        for (const sql of now < SCHEMA_VERSION ? migrationSql(now) : []) await client.query(sql);
      });
    }
    return new PostgresStorage(pool, shown, listenerFor(location), reason);
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
}
