/**
 * What a failure of PostgreSQL or of the way to it means to the person at the
 * store, as our codes. Every call the driver makes to the client library
 * goes through `postgresError`, so nothing of node-postgres' own errors
 * reaches the store's logic.
 *
 * - The server cannot be reached, or the connection was lost (refused, reset,
 *   a server shutting down or restarting, a terminated backend): E_LOCKED,
 *   exit 75, try again. A transaction whose connection is lost before its
 *   COMMIT is rolled back by the server, so nothing of it was written.
 * - Another host's write held the store too long, or a conflict PostgreSQL
 *   resolves by cancelling one side (serialization failure, deadlock): E_LOCKED.
 * - Authentication, a missing database, a privilege: E_IO or E_NO_STORE, with
 *   what to do.
 * - A plain SQL error on statements that are fixed and bind every value (no
 *   such table or column, a constraint a row breaks): the store's schema or
 *   rows were altered, E_NOT_A_STORE, as the SQLite driver says of its file.
 *
 * Messages name the store by its URL without a password. PostgreSQL's own
 * message is quoted only for classes whose messages never echo a value
 * (data exceptions and constraint violations do: "Key (name)=(…)").
 */
import { StoreError } from '../../errors.js';

/** Node's codes for a server that cannot be reached (ENOENT: no socket file, no server on that unix socket). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ENOENT', 'EAI_AGAIN']);

/** node-postgres' own words for a connection that closed or never opened. */
const LOST_WORDS = /connection terminated|not queryable|connection timeout|timeout expired|timeout exceeded when trying to connect|server closed the connection|the database system is (starting up|shutting down|in recovery)/i;

/** Errors that mean the connection was lost or never made: a retry on a new connection may succeed. */
const losses = new WeakSet<StoreError>();

/** Whether `e` (from postgresError) says the connection was lost or could not be made. */
export function isConnectionLoss(e: unknown): boolean {
  return e instanceof StoreError && losses.has(e);
}

interface PgLike {
  code?: unknown;
  severity?: unknown;
  message?: unknown;
}

/** PostgreSQL's SQLSTATE, when `e` is an error the server sent. */
function sqlState(e: unknown): string | undefined {
  const x = e as PgLike | null;
  return x && typeof x.code === 'string' && /^[0-9A-Z]{5}$/.test(x.code) && typeof x.severity === 'string' ? x.code : undefined;
}

function codeOf(e: unknown): string | undefined {
  const code = (e as PgLike | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(e: unknown): string {
  const m = (e as PgLike | null)?.message;
  return typeof m === 'string' ? m : String(e);
}

const RETRY = 'try again (exit status 75: a temporary failure)';

function lost(shown: string, why: string): StoreError {
  const e = new StoreError('E_LOCKED', `${shown}: the connection to the database server was lost or could not be made (${why})`, [
    RETRY,
    'if it persists: is the server running and reachable from here (pg_isready -d <the URL>)?',
  ]);
  losses.add(e);
  return e;
}

/**
 * The StoreError for a failure of node-postgres or the server while working
 * on the store named `shown` (its URL without a password). A StoreError is
 * returned as it is; anything else from the client library becomes one.
 */
export function postgresError(e: unknown, shown: string): StoreError {
  if (e instanceof StoreError) return e;
  const state = sqlState(e);
  if (state === undefined) return clientError(e, shown);
  const cls = state.slice(0, 2);
  const said = cls === '22' || cls === '23' ? state : `${state}: ${messageOf(e)}`;
  switch (true) {
    case cls === '08' || state === '57P01' || state === '57P02' || state === '57P03':
      return lost(shown, said);
    case state === '40001' || state === '40P01':
      return new StoreError('E_LOCKED', `${shown}: the database cancelled this transaction to resolve a conflict with another one (${said})`, [RETRY]);
    case state === '55P03':
      return new StoreError('E_LOCKED', `${shown}: the store is busy: another process held its write lock too long (${said})`, [RETRY]);
    case state === '57014':
      return new StoreError('E_LOCKED', `${shown}: the database cancelled the statement (${said})`, [RETRY]);
    case state === '53300':
      return new StoreError('E_LOCKED', `${shown}: the database server has no connection to spare (${said})`, [RETRY, 'or raise max_connections, or lower the number of processes using it']);
    case state === '53100':
      return new StoreError('E_IO', `${shown}: the database server's disk is full (${said})`, ['free space on the database server, then run the command again']);
    case cls === '28':
      return new StoreError('E_IO', `${shown}: the database server refused the login (${said})`, [
        'give the password in PGPASSWORD or a ~/.pgpass file (PGPASSFILE), or in the URL',
        'check the role name and the server\'s pg_hba.conf for this host',
      ]);
    case state === '3D000':
      return new StoreError('E_NO_STORE', `${shown}: the database does not exist (${said})`, ['create it (createdb), then make the store in it with: store init']);
    case state === '42501':
      return new StoreError('E_IO', `${shown}: permission denied (${said})`, [
        'grant this role what the store needs: USAGE and CREATE on schema strongbox (CREATE on the database to make it), SELECT, INSERT, UPDATE and DELETE on its tables',
      ]);
    case state === '25006':
      return new StoreError('E_READ_ONLY', `${shown}: the database server takes no writes here (${said}): a standby, or default_transaction_read_only`, [
        'point the store at the primary server',
      ]);
    case cls === '42' || cls === '23' || cls === '22':
      return new StoreError('E_NOT_A_STORE', `${shown}: the store's schema or rows are damaged (${said})`, ['restore it from a backup']);
    default:
      return new StoreError('E_IO', `${shown}: the database server failed (${said})`);
  }
}

/** A failure on this side of the connection: the network, TLS, or node-postgres itself. */
function clientError(e: unknown, shown: string): StoreError {
  const code = codeOf(e);
  const message = messageOf(e);
  if (code === 'ENOTFOUND') {
    return new StoreError('E_IO', `${shown}: the database server's host name is not known here (${code})`, ['check the host in the URL']);
  }
  if ((code !== undefined && UNREACHABLE.has(code)) || LOST_WORDS.test(message)) return lost(shown, code ?? message);
  if (/ssl|tls|certificate/i.test(message) || (code !== undefined && /CERT|SSL|TLS/.test(code))) {
    return new StoreError('E_IO', `${shown}: the TLS connection to the database server failed (${code ?? message})`, [
      'check sslmode in the URL (disable, prefer, require, verify-ca, verify-full) and sslrootcert',
    ]);
  }
  return new StoreError('E_IO', `${shown}: the PostgreSQL client failed (${code ? `${code}: ` : ''}${message})`);
}

/**
 * A write whose COMMIT was sent but whose answer never came: the server may
 * have committed it or not, and no one can say from here.
 */
export function commitUnknown(shown: string): StoreError {
  const e = new StoreError('E_LOCKED', `${shown}: the connection was lost while the change was being committed: it may or may not have been made`, [
    'look (store get, store history) before making it again',
  ]);
  losses.add(e);
  return e;
}
