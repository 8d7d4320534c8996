/**
 * The store `store __complete names` reads, made to answer within a TAB
 * press's patience. A store file opens at once (or not at all); a store in
 * PostgreSQL could keep the shell waiting on a server that does not answer
 * (10 s to connect by default) or on a lock another session holds. So for a
 * URL the connection is given up after a short timeout (libpq's shortest,
 * unless the URL or PGCONNECT_TIMEOUT asks for less) and every statement
 * after a short time too, and completion, failing, offers nothing.
 */
import { isPostgresLocator } from '../../storage/locator.js';

/** Seconds to wait for the server: libpq takes nothing shorter than 2. */
const CONNECT_S = 2;
/** Milliseconds any one statement may take (opening the store, listing the names). */
const STATEMENT_MS = 2000;

/** `locator`, or for a PostgreSQL URL the same URL with its waits bounded. `env`: the process's (PGCONNECT_TIMEOUT). */
export function quickLocator(locator: string, env: Record<string, string | undefined>): string {
  if (!isPostgresLocator(locator)) return locator;
  const hash = locator.indexOf('#');
  const base = hash < 0 ? locator : locator.slice(0, hash);
  const q = base.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : base.slice(q + 1));
  const asked = Number(params.get('connect_timeout') ?? env.PGCONNECT_TIMEOUT ?? NaN);
  // 0 (wait for ever), none, or longer than ours: ours.
  if (!(Number.isSafeInteger(asked) && asked > 0 && asked <= CONNECT_S)) params.set('connect_timeout', String(CONNECT_S));
  const statement = Number(params.get('statement_timeout') ?? NaN);
  if (!(Number.isSafeInteger(statement) && statement > 0 && statement <= STATEMENT_MS)) params.set('statement_timeout', String(STATEMENT_MS));
  return `${q < 0 ? base : base.slice(0, q)}?${params.toString()}`;
}
