/**
 * `store doctor` on a store in PostgreSQL: the checks that mean something
 * for a database in place of those of a file (its modes, its directory, a
 * -wal, a lock file). Without the master key: the server reached, the
 * store's schema and its version, what an interrupted migrate left, the
 * role's grants, the store's exclusive lock, and the server settings a
 * committed write's survival rests on. With it, the same checks as for a
 * file (health.ts): integrity as store verify (--deep), the audit chain, key
 * ages, rotations. Every problem is a finding, each with what to do.
 */
import { StoreError } from '../errors.js';
import { isConnectionLoss } from '../storage/postgres/errors.js';
import { probeDatabase, type DatabaseProbe } from '../storage/postgres/probe.js';
import { grantHint, missingGrants } from '../storage/postgres/grants.js';
import { APPLICATION_ID, PG_SCHEMA, SCHEMA_VERSION } from '../storage/postgres/schema.js';
import { shellWord } from '../platform/shell-quote.js';
import { shownLocator } from '../storage/locator.js';
import type { MasterKeyChoice } from './open.js';
import {
  checkKeyFile, describe, Findings, KEYED_CHECKS, openForChecks, reportOf, runKeyedChecks, type HealthOptions, type HealthReport,
} from './health.js';

/** The database: reachable, and who this session is. Undefined when nothing else can be checked. */
async function checkServer(url: string, f: Findings): Promise<DatabaseProbe | undefined> {
  try {
    const p = await probeDatabase(url);
    const standby = p.inRecovery ? ' (a standby: it takes no writes)' : '';
    f.add('server', 'ok', `${p.shown} reached: PostgreSQL ${p.serverVersion}${standby}, database ${p.database}, role ${p.role}`);
    return p;
  } catch (e) {
    const hints = e instanceof StoreError ? e.hints.filter((h) => !h.startsWith('try again')) : [];
    if (isConnectionLoss(e)) {
      f.add('server', 'fail', `cannot reach the database server: ${describe(e)}`,
        `start the server, or check the host and port in the URL (and connect_timeout for a slow network); pg_isready -d ${shellWord(shownLocator(url))} says whether it accepts connections`);
    } else if (e instanceof StoreError && e.code === 'E_NO_STORE') {
      f.add('server', 'fail', describe(e), 'create the database (createdb NAME), then the store in it: store init; or name the right one with --store URL');
    } else {
      f.add('server', 'fail', describe(e), hints.join('; ') || 'check the URL: postgres://user@host:port/database');
    }
    return undefined;
  }
}

/** Why the store could not be written here, for the schema's finding ('' when it can). */
function readOnlyNote(p: DatabaseProbe, lacking: string[]): string {
  if (lacking.length > 0) return `; read-only here: the role ${p.role} lacks ${lacking.join(', ')}`;
  if (p.sessionReadOnly) return '; read-only here: the server takes no writes in this session (a standby, or default_transaction_read_only)';
  return '';
}

/** The store's schema and version; whether the store can be opened for the keyed checks. */
function checkSchema(p: DatabaseProbe, f: Findings): boolean {
  const where = p.shown;
  if (p.unverifiedCopy) {
    f.add('schema', 'fail', `${where} holds an unverified copy of a store left by an interrupted store migrate: not a store to use`,
      'run the same store migrate again (it replaces the copy and verifies it), and point hosts at the database only once it reports done');
    return false;
  }
  if (!p.schema || p.grants.tables.size === 0) {
    f.add('schema', 'fail', `no store in ${where} (no ${PG_SCHEMA} schema${p.schema ? ' tables' : ''})`,
      'create one with store init, migrate one into it (store migrate --from FILE --to URL), or name the right one with --store URL');
    return false;
  }
  const missing = missingGrants(p.grants);
  if (p.version === undefined || p.hasRows === undefined) {
    f.add('schema', 'skip', `skipped: the role ${p.role} may not read the store's tables (see grants)`);
    return false;
  }
  if (p.version === null || p.version.applicationId !== APPLICATION_ID) {
    f.add('schema', 'fail', `${where}: the ${PG_SCHEMA} schema is not a Strongbox store's (its schema_version row is ${p.version === null ? 'missing' : 'another program\'s'})`,
      'name the right database with --store URL; a store never shares its schema with other tables');
    return false;
  }
  const v = p.version.version;
  if (v > SCHEMA_VERSION) {
    f.add('schema', 'fail', `${where} has schema version ${v}; this program knows up to ${SCHEMA_VERSION}`, 'upgrade Strongbox to a version that knows this schema');
    return false;
  }
  if (!p.hasRows) {
    f.add('schema', 'fail', `${where} holds the store's tables but no rows (a store init or a migrate that did not finish)`,
      'restore a backup into it (store restore FILE), or migrate a store into it (store migrate --from FILE --to URL)');
    return false;
  }
  const older = v < SCHEMA_VERSION ? ` (older than this program's ${SCHEMA_VERSION}: opening it read-write migrates it, under the store's write lock)` : '';
  f.add('schema', 'ok', `${where} is a Strongbox store, schema ${v}${older}${readOnlyNote(p, missing.everyWrite)}`);
  return true;
}

/** What the role may not do, for reads, changes, backups and restores. */
function checkGrants(p: DatabaseProbe, f: Findings): void {
  if (p.grants.tables.size === 0) return; // no store tables: the schema's finding says so
  const m = missingGrants(p.grants);
  const grant = grantHint(p.role);
  if (m.reads.length > 0) {
    f.add('grants', 'fail', `the role ${p.role} may not read the store: it lacks ${m.reads.join(', ')}`,
      `${grant}; and GRANT USAGE ON SCHEMA ${PG_SCHEMA}`);
    return;
  }
  const problems: string[] = [];
  if (m.everyWrite.length > 0) {
    problems.push(`it may read the store but not change it (it lacks ${m.writes.join(', ')}): the store opens read-only here, and refuses reads while audit.reads is on`);
  } else if (m.writes.length > 0) {
    problems.push(`some changes fail with "permission denied": it lacks ${m.writes.join(', ')}`);
  }
  if (m.everyWrite.length === 0 && m.restore.length > 0) problems.push(`a restore, which replaces every row, needs ${m.restore.join(', ')}`);
  if (p.grants.sequence === false) {
    problems.push(`without SELECT or USAGE on ${PG_SCHEMA}.secrets_id_seq a backup cannot carry the ids of purged secrets, nor a restore raise the sequence past a backup's`);
  }
  if (problems.length === 0) {
    f.add('grants', 'ok', `the role ${p.role} may read and write every table of the store, and read its id sequence`);
    return;
  }
  f.add('grants', 'warn', `the role ${p.role}: ${problems.join('; ')}`,
    `${grant}${p.grants.sequence === false ? `; GRANT SELECT ON SEQUENCE ${PG_SCHEMA}.secrets_id_seq TO ${p.role}` : ''} (or leave it so on purpose: a read-only consumer's role)`);
}

/** The store's exclusive lock: a session advisory lock, freed by the server with its holder's connection (never stale). */
function checkLock(p: DatabaseProbe, f: Findings): void {
  if (p.exclusiveHolder === undefined) {
    f.add('lock', 'ok', 'no exclusive operation holds the store\'s lock');
    return;
  }
  f.add('lock', 'warn', `the store's exclusive lock is held by ${p.exclusiveHolder}: rotate-keys, rotate-master, restore or a migrate is running`,
    'wait for it to finish (the server frees the lock if its process dies); meanwhile other exclusive operations exit 75, or wait with --wait');
}

/** Server settings under which a committed write may not survive a crash of the server. */
function checkDurability(p: DatabaseProbe, f: Findings): void {
  const s = p.settings;
  const fails: string[] = [];
  const warns: string[] = [];
  const fixes: string[] = [];
  if (s.fsync?.value === 'off') {
    fails.push('fsync is off: a crash of the server\'s machine can lose committed writes and corrupt the database');
    fixes.push('set fsync = on in postgresql.conf and reload the server');
  }
  if (s.full_page_writes?.value === 'off') {
    warns.push('full_page_writes is off: a crash can leave torn pages the server cannot repair (unless the file system rules that out)');
    fixes.push('set full_page_writes = on in postgresql.conf and reload the server');
  }
  if (s.synchronous_commit?.value === 'off') {
    const from = s.synchronous_commit.source;
    warns.push(`synchronous_commit is off (set for ${from === 'database' ? 'the database' : from === 'user' ? 'the role' : from === 'database user' ? 'the role in this database' : `the server (${from})`}): a write the store reported done can be lost in a crash of the server`);
    fixes.push(from === 'database' ? `ALTER DATABASE ${p.database} RESET synchronous_commit`
      : from === 'user' ? `ALTER ROLE ${p.role} RESET synchronous_commit`
        : from === 'database user' ? `ALTER ROLE ${p.role} IN DATABASE ${p.database} RESET synchronous_commit`
          : 'set synchronous_commit = on in postgresql.conf and reload the server');
  }
  if (fails.length + warns.length === 0) {
    f.add('durability', 'ok', `fsync on, full_page_writes on, synchronous_commit ${s.synchronous_commit?.value ?? 'on'}: a committed write survives a crash of the server`);
    return;
  }
  f.add('durability', fails.length > 0 ? 'fail' : 'warn', [...fails, ...warns].join('; '), fixes.join('; '));
}

/**
 * `store doctor` for the store at the PostgreSQL URL `url`; options and
 * report as checkHealth's (health.ts). The findings' check ids: server,
 * schema, grants, key-file, lock, durability, master-key, and the keyed
 * checks integrity, audit-log, key-age, rewrap, rotation, expiry.
 */
export async function checkDatabaseHealth(url: string, master: MasterKeyChoice | undefined, options: HealthOptions = {}): Promise<HealthReport> {
  const f = new Findings();
  const probe = await checkServer(url, f);
  const opens = probe ? checkSchema(probe, f) : false;
  if (probe) checkGrants(probe, f);
  checkKeyFile(options.keyFile, f);
  if (probe) {
    checkLock(probe, f);
    checkDurability(probe, f);
  }
  const shown = probe?.shown ?? shownLocator(url);
  const store = opens ? await openForChecks(url, master, f, options.now) : undefined;
  if (store) await runKeyedChecks(store, options, f);
  else if (probe) for (const check of KEYED_CHECKS) f.add(check, 'skip', 'skipped: needs the store opened with its master key');
  return reportOf(shown, f);
}
