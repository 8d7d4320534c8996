/**
 * `store doctor` on a store in PostgreSQL, in-process: a healthy store on a
 * durable server (a cluster of this file's own, fsync on) is all ok; each
 * problem the database can have gives its finding and fix — the server
 * unreachable or the database missing, no store, a newer schema, an
 * interrupted migrate's unverified copy, a role's missing grants, the
 * exclusive lock held, synchronous_commit off for the database, fsync off
 * (the run's shared cluster is run so), tampering — with the same report
 * shape and exit statuses as for a file.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { join } from 'node:path';
import { createKeyFile, initStore, keyFile } from '../../src/index.js';
import { APPLICATION_ID, SCHEMA_VERSION } from '../../src/storage/postgres/schema.js';
import { INCOMPLETE } from '../../src/storage/postgres/copy-target.js';
import { asAdmin, freshDatabase, roleWith, type TestDatabase } from '../helpers/postgres.js';
import { ownCluster, type OwnCluster } from '../helpers/postgres-own-cluster.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

interface Finding { check: string; level: 'ok' | 'warn' | 'fail' | 'skip'; message: string; fix?: string }
interface Report { path: string; ok: boolean; findings: Finding[]; counts: Record<Finding['level'], number> }

const CHECKS = ['server', 'schema', 'grants', 'key-file', 'lock', 'durability', 'master-key', 'integrity', 'audit-log', 'key-age', 'rewrap', 'rotation', 'expiry'];

async function doctor(url: string, key: string | undefined, ...args: string[]): Promise<{ status: number; report: Report; err: string }> {
  const r = await runInProcess(['--store', url, ...(key ? ['--keyfile', key] : []), 'doctor', '--json', ...args]);
  return { status: r.status, report: JSON.parse(r.out) as Report, err: r.err };
}

function finding(report: Report, check: string): Finding {
  const f = report.findings.find((x) => x.check === check);
  expect(f, `no ${check} finding in ${JSON.stringify(report.findings)}`).toBeDefined();
  return f!;
}

const failed = (r: Report) => r.findings.filter((f) => f.level === 'fail').map((f) => f.check);
const levels = (r: Report) => Object.fromEntries(r.findings.map((f) => [f.check, f.level]));

/** A store with a secret at `url` under a new key file. */
async function storeAt(url: string): Promise<string> {
  const key = join(tempDir(), 'master.key');
  createKeyFile(key);
  const store = await initStore(url, keyFile(key));
  try {
    await store.put('app/db', 'one');
  } finally {
    await store.close();
  }
  return key;
}

describe('store doctor on a durable server', () => {
  let cluster: OwnCluster;
  beforeAll(async () => {
    cluster = await ownCluster({ settings: ['fsync=on', 'full_page_writes=on'] });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a healthy store: every check ok, in order, exit 0; then synchronous_commit off for the database is a warning with its fix', async () => {
    const { name, url } = await cluster.database();
    const key = await storeAt(url);
    const { status, report } = await doctor(url, key);
    expect(status).toBe(0);
    expect(report.findings.map((f) => f.check)).toEqual(CHECKS);
    expect(report).toMatchObject({ path: url, ok: true, counts: { ok: CHECKS.length, warn: 0, fail: 0, skip: 0 } });
    expect(finding(report, 'server').message).toMatch(new RegExp(`reached: PostgreSQL \\d+.*, database ${name}, role `));
    expect(finding(report, 'schema').message).toBe(`${url} is a Strongbox store, schema ${SCHEMA_VERSION}`);
    expect(finding(report, 'durability').message).toBe('fsync on, full_page_writes on, synchronous_commit on: a committed write survives a crash of the server');
    expect(finding(report, 'integrity').message).toMatch(/^Master key and data keys sound; every row authenticated/);

    const text = await runInProcess(['--store', url, '--keyfile', key, 'doctor']);
    expect(text.status).toBe(0);
    expect(text.out).toMatch(/^ok {4}server {6}/m);
    expect(text.out).toContain(`0 failed, 0 warning(s), ${CHECKS.length} ok, 0 skipped`);

    await cluster.admin('postgres', (a) => a.query(`ALTER DATABASE ${name} SET synchronous_commit = off`));
    const relaxed = await doctor(url, key);
    expect(relaxed.status).toBe(0);
    expect(finding(relaxed.report, 'durability')).toEqual({
      check: 'durability', level: 'warn',
      message: 'synchronous_commit is off (set for the database): a write the store reported done can be lost in a crash of the server',
      fix: `ALTER DATABASE ${name} RESET synchronous_commit`,
    });
    expect((await doctor(url, key, '--strict')).status).toBe(10);
  }, 60_000);
});

describe('store doctor on the test cluster (fsync off)', () => {
  it('fsync and full_page_writes off: durability fails (exit 10), every other check ok', async () => {
    const db = await freshDatabase();
    const key = await storeAt(db.url);
    const { status, report } = await doctor(db.url, key);
    expect(status).toBe(10);
    const durability = finding(report, 'durability');
    expect(durability.level).toBe('fail');
    expect(durability.message).toContain('fsync is off: a crash of the server\'s machine can lose committed writes');
    expect(durability.message).toContain('full_page_writes is off');
    expect(durability.fix).toContain('set fsync = on in postgresql.conf');
    expect(report.counts).toEqual({ ok: CHECKS.length - 1, warn: 0, fail: 1, skip: 0 });
  });

  it('the server unreachable, and a database that does not exist: the server check fails with what to do; nothing else is tried', async () => {
    const nowhere = tempDir(); // a socket directory with no server in it
    const down = await doctor(`postgres:///secrets?host=${encodeURIComponent(nowhere)}&connect_timeout=2`, undefined);
    expect(down.status).toBe(10);
    expect(down.report.findings.map((f) => [f.check, f.level])).toEqual([['server', 'fail']]);
    expect(down.report.findings[0]!.message).toContain('cannot reach the database server');
    expect(down.report.findings[0]!.fix).toContain('pg_isready -d');

    const db = await freshDatabase();
    const missing = db.url.replace(db.name, `${db.name}_none`);
    const absent = await doctor(missing, undefined);
    expect(absent.report.findings.map((f) => [f.check, f.level])).toEqual([['server', 'fail']]);
    expect(absent.report.findings[0]!.message).toContain('the database does not exist');
    expect(absent.report.findings[0]!.fix).toContain('createdb');
  });

  it('no store in the database; a newer schema; an interrupted migrate\'s unverified copy: the schema fails, keyed checks skipped', async () => {
    const empty = await freshDatabase();
    const none = await doctor(empty.url, undefined);
    expect(none.status).toBe(10);
    expect(finding(none.report, 'schema')).toMatchObject({ level: 'fail', message: `no store in ${empty.url} (no strongbox schema)` });
    expect(finding(none.report, 'integrity').level).toBe('skip');

    const db = await freshDatabase();
    const key = await storeAt(db.url);
    await asAdmin((a) => a.query(`COMMENT ON TABLE strongbox.meta IS '${INCOMPLETE}'`), db.name);
    const copy = await doctor(db.url, key);
    expect(finding(copy.report, 'schema')).toMatchObject({ level: 'fail', message: expect.stringContaining('unverified copy of a store left by an interrupted store migrate') });
    expect(finding(copy.report, 'schema').fix).toContain('run the same store migrate again');
    expect(copy.report.findings.some((f) => f.check === 'master-key')).toBe(false); // as for a store file that cannot be opened
    expect(finding(copy.report, 'integrity').level).toBe('skip');

    await asAdmin((a) => a.query('COMMENT ON TABLE strongbox.meta IS NULL; UPDATE strongbox.schema_version SET version = 99'), db.name);
    const newer = await doctor(db.url, key);
    expect(finding(newer.report, 'schema')).toEqual({
      check: 'schema', level: 'fail', message: `${db.url} has schema version 99; this program knows up to ${SCHEMA_VERSION}`, fix: 'upgrade Strongbox to a version that knows this schema',
    });
    expect(levels(newer.report)).toMatchObject({ integrity: 'skip', 'audit-log': 'skip' });
    expect((await asAdmin((a) => a.query('SELECT version, application_id FROM strongbox.schema_version'), db.name)).rows[0]).toEqual({ version: 99, application_id: String(APPLICATION_ID) });
  });

  describe('a role\'s grants', () => {
    
    it('SELECT only: the store is read-only here (a warning naming what is missing); the checks the store logs are skipped', async () => {
      const db = await freshDatabase();
      const key = await storeAt(db.url);
      const { role, url } = await roleWith(db, ['USAGE ON SCHEMA strongbox', 'SELECT ON ALL TABLES IN SCHEMA strongbox'], 'sbd');
      const { report } = await doctor(url, key);
      expect(failed(report)).toEqual(['durability']); // the test cluster's fsync; the rest warnings at most
      expect(finding(report, 'schema').message).toBe(`${url} is a Strongbox store, schema ${SCHEMA_VERSION}; read-only here: the role ${role} lacks INSERT on strongbox.audit, INSERT, UPDATE on strongbox.state`);
      const grants = finding(report, 'grants');
      expect(grants.level).toBe('warn');
      expect(grants.message).toContain('it may read the store but not change it (it lacks INSERT, UPDATE, DELETE on strongbox.meta');
      expect(grants.message).toContain('without SELECT or USAGE on strongbox.secrets_id_seq');
      expect(grants.fix).toContain(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA strongbox TO ${role}`);
      expect(finding(report, 'master-key').level).toBe('ok');
      expect(finding(report, 'integrity')).toMatchObject({ level: 'skip', message: expect.stringContaining('is always recorded in the audit log') });
    });

    it('no SELECT on the versions: the role cannot read the store (fail); all but DELETE on the audit table and the sequence: a warning for prune and restore', async () => {
      const db = await freshDatabase();
      const key = await storeAt(db.url);
      const { role, url } = await roleWith(db, ['USAGE ON SCHEMA strongbox', 'SELECT ON ALL TABLES IN SCHEMA strongbox'], 'sbd');
      await asAdmin((a) => a.query(`REVOKE SELECT ON strongbox.versions FROM ${role}`), db.name);
      const blind = await doctor(url, key);
      expect(blind.status).toBe(10);
      expect(finding(blind.report, 'grants')).toMatchObject({ level: 'fail', message: `the role ${role} may not read the store: it lacks SELECT on strongbox.versions` });

      await asAdmin(async (a) => {
        await a.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA strongbox TO ${role}`);
        await a.query(`GRANT SELECT ON SEQUENCE strongbox.secrets_id_seq TO ${role}`);
        await a.query(`REVOKE DELETE ON strongbox.audit FROM ${role}`);
      }, db.name);
      const partial = await doctor(url, key);
      expect(failed(partial.report)).toEqual(['durability']);
      expect(finding(partial.report, 'grants')).toMatchObject({
        level: 'warn',
        message: `the role ${role}: some changes fail with "permission denied": it lacks DELETE on strongbox.audit; a restore, which replaces every row, needs DELETE on strongbox.audit`,
      });
      expect(finding(partial.report, 'integrity').level).toBe('ok');
    });
  });

  it('the exclusive lock held by another session: a warning naming it; a tampered audit entry: the audit log fails with the database\'s fix', async () => {
    const db = await freshDatabase();
    const key = await storeAt(db.url);
    const c = db.cluster;
    const pg = (await import('pg')).default;
    const holder = new pg.Client({ host: c.socketDir, port: c.port, user: c.user, database: db.name, application_name: 'strongbox elsewhere pid 42' });
    holder.on('error', () => {});
    await holder.connect();
    onTestFinished(() => holder.end().catch(() => {}));
    await holder.query(`SELECT pg_advisory_lock(${APPLICATION_ID}, 2)`);
    const held = await doctor(db.url, key);
    expect(finding(held.report, 'lock')).toMatchObject({
      level: 'warn', message: 'the store\'s exclusive lock is held by strongbox elsewhere pid 42: rotate-keys, rotate-master, restore or a migrate is running',
    });
    await holder.query(`SELECT pg_advisory_unlock(${APPLICATION_ID}, 2)`);
    expect(finding((await doctor(db.url, key)).report, 'lock').level).toBe('ok');

    await asAdmin((a) => a.query("UPDATE strongbox.audit SET actor = 'someone else' WHERE seq = (SELECT min(seq) FROM strongbox.audit)"), db.name);
    const tampered = await doctor(db.url, key);
    expect(tampered.status).toBe(10);
    expect(finding(tampered.report, 'audit-log')).toMatchObject({ level: 'fail', fix: expect.stringContaining('the table was edited outside Strongbox: find which roles can write strongbox.audit') });
  });
});
