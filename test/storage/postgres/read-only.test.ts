/**
 * Read-only mode on a store in PostgreSQL, as on a store file
 * (test/store/read-only.test.ts): opened with readOnly, or by a role that
 * may not write the store's tables, every change and every always-logged
 * operation is refused with E_READ_ONLY before the server is asked, and
 * every read too while the store audits reads; with audit.reads off reads
 * work and leave no audit entry. Asked for, the pool's sessions are
 * read-only at the server as well, so a write that got past the refusal
 * would still be refused there.
 */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createKeyFile, initStore, keyFile, openStore, StoreError, type Store } from '../../../src/index.js';
import { openPostgresStore } from '../../../src/storage/postgres/open.js';
import { asAdmin, freshDatabase, roleWith, type TestDatabase } from '../../helpers/postgres.js';
import { runInProcess } from '../../helpers/in-process.js';
import { tempDir } from '../../helpers/tmp.js';

async function failure(p: Promise<unknown>): Promise<StoreError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(StoreError);
  return e as StoreError;
}

/** A store with two secrets in a fresh database; `auditReads` false turns read auditing off. */
async function pgStore(auditReads = true): Promise<{ db: TestDatabase; key: string }> {
  const db = await freshDatabase();
  const key = join(tempDir(), 'master.key');
  createKeyFile(key);
  const store = await initStore(db.url, keyFile(key));
  try {
    await store.put('app/db', 'one');
    await store.put('app/db', 'two');
    await store.put('app/api', 'key');
    if (!auditReads) await store.setConfig('audit.reads', 'false');
  } finally {
    await store.close();
  }
  return { db, key };
}

const auditCount = async (db: TestDatabase) => Number((await asAdmin((a) => a.query('SELECT count(*) AS n FROM strongbox.audit'), db.name)).rows[0].n);

async function opened(url: string, key: string, readOnly?: boolean): Promise<Store> {
  const store = await openStore(url, keyFile(key), readOnly === undefined ? {} : { readOnly });
  onTestFinished(() => store.close());
  return store;
}


/** Every change and always-logged operation is refused with E_READ_ONLY; nothing reaches the audit log. */
async function refusesChanges(store: Store, db: TestDatabase): Promise<StoreError> {
  const before = await auditCount(db);
  const put = await failure(store.put('app/db', 'three'));
  expect(put.code).toBe('E_READ_ONLY');
  for (const p of [store.delete('app/db'), store.setConfig('audit.reads', 'false'), store.rotateKeys(), store.verify(), store.backup(join(tempDir(), 'b.db'))]) {
    expect((await failure(p)).code).toBe('E_READ_ONLY');
  }
  expect(await auditCount(db)).toBe(before);
  return put;
}

describe('a store in PostgreSQL opened read-only', () => {
  it('readOnly: true with audit.reads on: every read refused before reading, every change refused; no audit entry', async () => {
    const { db, key } = await pgStore();
    const store = await opened(db.url, key, true);
    expect(store.readOnly).toBe(true);
    expect((await store.status()).readOnly).toBe('it was opened read-only on request');
    const before = await auditCount(db);
    const read = await failure(store.get('app/db'));
    expect(read.code).toBe('E_READ_ONLY');
    expect(read.message).toContain('a read that cannot be logged is refused');
    expect((await failure(store.list())).code).toBe('E_READ_ONLY');
    const put = await refusesChanges(store, db);
    expect(put.hints).toEqual(['open it without readOnly to change it']);
    expect(await auditCount(db)).toBe(before);
  });

  it('readOnly: true with audit.reads off: reads work and leave no audit entry; changes refused', async () => {
    const { db, key } = await pgStore(false);
    const store = await opened(db.url, key, true);
    const before = await auditCount(db);
    expect((await store.get('app/db')).value.text()).toBe('two');
    expect((await store.get('app/db', { version: 1 })).value.text()).toBe('one');
    expect((await store.list()).map((s) => s.name)).toEqual(['app/api', 'app/db']);
    expect((await store.history('app/db')).length).toBe(2);
    expect(await auditCount(db)).toBe(before);
    await refusesChanges(store, db);
    // A writer elsewhere is seen at once: every read is the server's current state.
    const writer = await opened(db.url, key);
    await writer.put('app/db', 'three');
    expect((await store.get('app/db')).value.text()).toBe('three');
  });

  it('asked for, the sessions are read-only at the server: a write past the driver\'s refusal is refused there too (E_READ_ONLY)', async () => {
    const { db } = await pgStore();
    const storage = await openPostgresStore(db.url, true);
    try {
      expect(storage.readOnly).toMatchObject({ cause: 'asked' });
      expect((await failure(storage.write(async () => undefined))).code).toBe('E_READ_ONLY');
      // Straight to the operations, as a bug would: a single statement, and a statement in a read transaction.
      const single = await failure(storage.readOne(async (ops) => { await ops.putMeta({ key: 'x', value: 'y', mac: null }); }));
      expect([single.code, single.message]).toEqual(['E_READ_ONLY', expect.stringContaining('25006')]);
      expect((await failure(storage.read(async (tx) => { await tx.deleteMeta('format'); }))).code).toBe('E_READ_ONLY');
    } finally {
      await storage.close();
    }
    // Session options of the URL's own are kept, and do not take the read-only one away (node-postgres lets the URL override its config).
    const withOptions = await openPostgresStore(`${db.url}&options=${encodeURIComponent('-c statement_timeout=5000')}`, true);
    try {
      const e = await failure(withOptions.readOne(async (ops) => { await ops.putMeta({ key: 'x', value: 'y', mac: null }); }));
      expect([e.code, e.message]).toEqual(['E_READ_ONLY', expect.stringContaining('25006')]);
    } finally {
      await withOptions.close();
    }
    expect((await asAdmin((a) => a.query("SELECT count(*) AS n FROM strongbox.meta WHERE key IN ('x', 'format')"), db.name)).rows[0].n).toBe('1');
  });
});

describe('a server that takes no writes in the session', () => {
  it('default_transaction_read_only on for the database (as on a standby): the store opens read-only, saying why', async () => {
    const { db, key } = await pgStore(false);
    await asAdmin((a) => a.query(`ALTER DATABASE ${db.name} SET default_transaction_read_only = on`));
    const store = await opened(db.url, key);
    expect(store.readOnly).toBe(true);
    expect((await store.status()).readOnly).toBe('the database server takes no writes in this session (a standby, or default_transaction_read_only is on)');
    expect((await store.get('app/db')).value.text()).toBe('two');
    const put = await failure(store.put('app/db', 'three'));
    expect(put.code).toBe('E_READ_ONLY');
    expect(put.hints[0]).toContain('point the store at the primary server');
  });
});

describe('a role that may only read the store\'s tables', () => {
  const SELECT_ONLY = ['USAGE ON SCHEMA strongbox', 'SELECT ON ALL TABLES IN SCHEMA strongbox'];

  it('opens it read-only (the missing grants named); with audit.reads on its reads are refused, as a file\'s read-only consumers are', async () => {
    const { db, key } = await pgStore();
    const { role, url } = await roleWith(db, SELECT_ONLY, 'sbr');
    const store = await opened(url, key);
    expect(store.readOnly).toBe(true);
    const why = (await store.status()).readOnly!;
    expect(why).toBe(`the database role ${role} may not write it: it lacks INSERT on strongbox.audit, INSERT on strongbox.state, UPDATE on strongbox.state`);
    const read = await failure(store.get('app/db'));
    expect(read.code).toBe('E_READ_ONLY');
    expect(read.hints).toEqual([
      'to let read-only consumers read it, turn read auditing off as a user who can write the store: store config set audit.reads false',
      `grant the role what the store needs, as the tables' owner: GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA strongbox TO ${role}`,
    ]);
    const put = await refusesChanges(store, db);
    expect(put.message).toContain(`it lacks INSERT on strongbox.audit`);
    // Insisting on writing fails at open, naming what is missing.
    const insisted = await failure(openStore(url, keyFile(key), { readOnly: false }));
    expect([insisted.code, insisted.message]).toEqual(['E_IO', expect.stringContaining(`the database role ${role} may not write it`)]);
  });

  it('with audit.reads off its reads work; the CLI says read-only in status and refuses a set with exit 1, E_READ_ONLY', async () => {
    const { db, key } = await pgStore(false);
    const { url } = await roleWith(db, SELECT_ONLY, 'sbr');
    const store = await opened(url, key);
    expect((await store.get('app/api')).value.text()).toBe('key');

    const status = await runInProcess(['--store', url, '--keyfile', key, 'status', '--json']);
    expect(status.status, status.err).toBe(0);
    expect((JSON.parse(status.out) as { readOnly?: string }).readOnly).toContain('may not write it');
    const got = await runInProcess(['--store', url, '--keyfile', key, 'get', 'app/api']);
    expect([got.status, got.out]).toEqual([0, 'key']);
    const set = await runInProcess(['--store', url, '--keyfile', key, 'set', 'app/new', '--json'], { input: 'v' });
    expect(set.status).toBe(1);
    expect((JSON.parse(set.err.trim().split('\n').at(-1)!) as { error: { code: string } }).error.code).toBe('E_READ_ONLY');
  });

  it('a role that may write but not prune (no DELETE on the audit table) opens read-write; the prune fails naming the table, never an internal error', async () => {
    const { db, key } = await pgStore();
    const { url } = await roleWith(db, [
      'USAGE ON SCHEMA strongbox', 'SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA strongbox',
    ], 'sbr');
    await asAdmin((a) => a.query(`REVOKE DELETE ON strongbox.audit FROM ${url.match(/user=([^&]+)/)![1]}`), db.name);
    const store = await opened(url, key);
    expect(store.readOnly).toBe(false);
    await store.put('app/db', 'three');
    const prune = await failure(store.pruneAudit({ before: Date.now() + 1000 }));
    expect(prune.code).toBe('E_IO');
    expect(prune.message).toContain('permission denied for table audit');
    expect((await store.get('app/db')).value.text()).toBe('three');
  });
});
