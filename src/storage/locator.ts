/**
 * A store's locator — what `--store`, STORE_PATH, a profile or the library's
 * `path` argument holds — names either a SQLite file (any path) or a
 * PostgreSQL database (a `postgres://` or `postgresql://` URL). This module
 * only tells them apart and says how to show one; it loads no driver, so the
 * start of every command that opens a file pays nothing for the other.
 */

const POSTGRES_URL = /^postgres(?:ql)?:\/\//i;

/** Whether `locator` names a PostgreSQL store (else it is a SQLite file's path). */
export function isPostgresLocator(locator: string): boolean {
  return POSTGRES_URL.test(locator);
}

/**
 * The locator as messages and `store status` show it: a path as it is, a
 * URL without its password (in the user part or a `password=` parameter).
 */
export function shownLocator(locator: string): string {
  if (!isPostgresLocator(locator)) return locator;
  // The authority runs to the first / ? or #; its user part to the last @ in it (a password may hold an unencoded @).
  const scheme = /^[a-z]+:\/\//i.exec(locator)![0];
  const authority = /^[^/?#]*/.exec(locator.slice(scheme.length))![0];
  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? '' : authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  const withoutUserPassword = colon < 0 ? locator : `${scheme}${userinfo.slice(0, colon)}${locator.slice(scheme.length + at)}`;
  return withoutUserPassword.replace(/([?&])password=[^&#]*(&?)/gi, (_, before: string, after: string) => (after ? before : '')).replace(/[?&]$/, '');
}
