// Backup of a store in PostgreSQL (its rows into a new, verified store file) and restore into one, through the library.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  backupStore, createKeyFile, initStore, keyFile, openStore, rawKey, restoreStore, StoreError, VerificationError, type MasterKeySource, type Store,
} from '../../../src/index.js';
import { asAdmin, freshDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { postgresRows, sqliteRows } from '../../helpers/rows.js';
import { everyValue, flipValue, freshStore } from '../../helpers/store.js';
import { tempDir } from '../../helpers/tmp.js';
import { journalByte } from '../../helpers/wal.js';

async function failure(p: Promise<unknown>): Promise<StoreError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(StoreError);
  return e as StoreError;
}

/** A store in a fresh database under a new key file, with a few secrets in every state. */
async function pgStore(): Promise<{ db: TestDatabase; master: MasterKeySource; store: Store; dir: string }> {
  const db = await freshDatabase();
  const dir = tempDir();
  const key = join(dir, 'master.key');
  createKeyFile(key);
  const store = await initStore(db.url, keyFile(key));
  onTestFinished(() => store.close());
  await store.put('app/db', 'one');
  await store.put('app/db', 'two');
  await store.put('app/json', '{"a":"b"}', { json: true });
  await store.put('ops/token', 'tok');
  await store.put('ops/token', 'tok-2');
  await store.delete('app/db', { versions: [1] });
  await store.destroy('ops/token', [1]);
  await store.changeRecords({ action: 'token.create' }, (tx) => tx.put('token', 'abc', '{}'));
  return { db, master: keyFile(key), store, dir };
}

const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.includes('.tmp-'));

describe('backup of a store in PostgreSQL', () => {
  it('writes a new 0600 store file, one file in rollback-journal mode, holding the same rows; always verified', async () => {
    const { db, master, store, dir } = await pgStore();
    const rows = await postgresRows(db.name);
    const file = join(dir, 'backup.db');
    const copied: [number, number][] = [];
    const r = await backupStore(store, file, { onProgress: (d, t) => copied.push([d, t]) });
    expect(r).toMatchObject({ file, storeId: (await store.status()).storeId, bytes: statSync(file).size });
    expect(r.verified).toMatchObject({ ok: true, deep: true, versions: 5, decrypted: 4, destroyedVersions: 1 });
    expect(copied.at(-1)).toEqual([copied.at(-1)![1], copied.at(-1)![1]]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(journalByte(file)).toBe(1);
    for (const side of ['-wal', '-shm', '-journal']) expect(existsSync(`${file}${side}`)).toBe(false);
    expect(temps(dir)).toEqual([]);
    expect(sqliteRows(file)).toEqual(rows);

    // Recorded in the store (after the snapshot, so not in the backup).
    expect((await store.stats()).lastBackupAt).toBeInstanceOf(Date);
    const entries = [];
    for await (const e of store.auditEntries({ action: 'backup' })) entries.push(e);
    expect(entries).toMatchObject([{ outcome: 'ok', detail: file }]);

    const copy = await openStore(file, master);
    onTestFinished(() => copy.close());
    expect(await everyValue(copy)).toEqual(await everyValue(store));
  });

  it('never overwrites a file; a missing directory is E_IO; nothing is left behind', async () => {
    const { store, dir } = await pgStore();
    const file = join(dir, 'taken.db');
    writeFileSync(file, 'precious');
    expect((await failure(store.backup(file))).code).toBe('E_STORE_EXISTS');
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect((await failure(store.backup(join(dir, 'no', 'dir', 'b.db')))).code).toBe('E_IO');
    expect(existsSync(join(dir, 'no'))).toBe(false);
    expect(temps(dir)).toEqual([]);
  });

  it('a tampered row in the database: the backup fails verification and is not kept', async () => {
    const { db, store, dir } = await pgStore();
    await asAdmin((a) => a.query("UPDATE strongbox.versions SET ciphertext = set_byte(ciphertext, 20, get_byte(ciphertext, 20) # 1) WHERE version = 2 AND secret_id = (SELECT id FROM strongbox.secrets WHERE name = 'app/db')"), db.name);
    const file = join(dir, 'b.db');
    const e = await failure(store.backup(file));
    expect(e).toBeInstanceOf(VerificationError);
    expect(e.code).toBe('E_TAMPERED');
    // The version row's MAC and its secret's (both cover the nonce) and, deep, the value's AEAD: each names app/db, one the version.
    const problems = (e as VerificationError).report.problems;
    for (const p of problems) expect(p).toEqual({ code: 'E_TAMPERED', message: expect.stringMatching(/^secret app\/db |app\/db version 2/) });
    expect(problems.map((p) => p.message).join('\n')).toContain('app/db version 2');
    expect(existsSync(file)).toBe(false);
    expect(temps(dir)).toEqual([]);
  });
});

describe('a role with privileges on the tables only (not on the secrets\' id sequence)', () => {
  it('backs up and restores the store the owner made; the sequence is left alone, never lowered', async () => {
    const { db, master, store, dir } = await pgStore();
    await store.put('gone', 'x');
    await store.purge('gone'); // the highest id, now in no row
    const role = `sbu_${db.name.slice(4)}`;
    await asAdmin((a) => a.query(`CREATE ROLE ${role} LOGIN`));
    onTestFinished(async () => {
      await asAdmin((a) => a.query(`DROP ROLE IF EXISTS ${role}`));
    });
    await asAdmin(async (a) => {
      await a.query(`GRANT USAGE ON SCHEMA strongbox TO ${role}`);
      await a.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA strongbox TO ${role}`);
    }, db.name);
    onTestFinished(async () => {
      await asAdmin((a) => a.query(`DROP OWNED BY ${role}`), db.name); // before the role goes (hooks run last first)
    });
    const url = db.url.replace(/user=[^&]+/, `user=${role}`);
    const before = await postgresRows(db.name);

    const asRole = await openStore(url, master);
    onTestFinished(() => asRole.close());
    const file = join(dir, 'by-role.db');
    await asRole.backup(file);
    // What the role can see of the counter: the highest id in a row.
    expect(sqliteRows(file).secretIdHighWater).toBe(Math.max(...before.tables.secrets!.map((x) => x.id as number)));
    expect(sqliteRows(file).secretIdHighWater).toBeLessThan(before.secretIdHighWater);

    await restoreStore(url, file, master);
    expect((await postgresRows(db.name)).secretIdHighWater).toBe(before.secretIdHighWater);
    await asRole.put('after', 'y');
    expect(Math.max(...(await postgresRows(db.name)).tables.secrets!.map((x) => x.id as number))).toBe(before.secretIdHighWater + 1);
  });
});

describe('restore into a store in PostgreSQL', () => {
  it('replaces the rows with the backup\'s in one transaction (its log says so); the same rows as the backup plus that entry', async () => {
    const { db, master, store, dir } = await pgStore();
    const file = join(dir, 'backup.db');
    await store.backup(file);
    const backed = sqliteRows(file);
    const values = await everyValue(store);
    await store.put('app/db', 'after the backup');
    await store.put('new/secret', 'x');

    const verifiedSeen: number[] = [];
    const copiedSeen: number[] = [];
    const r = await restoreStore(db.url, file, master, { onProgress: (d) => verifiedSeen.push(d), onCopyProgress: (d) => copiedSeen.push(d) });
    expect(r).toMatchObject({
      path: db.url, backup: file, storeId: (await store.status()).storeId, replacedStoreId: (await store.status()).storeId, keptAs: null, forced: false,
      secrets: 3, versions: 5, destroyedVersions: 1,
    });
    expect(verifiedSeen.at(-1)).toBe(5);
    expect(copiedSeen.length).toBeGreaterThan(0);

    const rows = await postgresRows(db.name);
    const { audit, meta, state, ...rest } = rows.tables;
    const { audit: backedAudit, meta: backedMeta, state: _s, ...backedRest } = backed.tables;
    void _s;
    expect(rest).toEqual(backedRest);
    expect(audit!.slice(0, -1)).toEqual(backedAudit);
    expect(audit!.at(-1)).toMatchObject({ action: 'restore', outcome: 'ok', detail: `from ${file}` });
    expect(meta).toEqual(backedMeta);
    expect(state).toHaveLength(1);

    const reopened = await openStore(db.url, master);
    onTestFinished(() => reopened.close());
    expect(await everyValue(reopened)).toEqual(values);
    expect((await reopened.verify({ deep: true })).ok).toBe(true);
    expect((await reopened.verifyAudit()).ok).toBe(true);
    await reopened.put('after/restore', 'y'); // the id sequence goes on above the restored ids
  });

  it('a SQLite store\'s backup into an empty database; another store\'s backup only with force', async () => {
    const { store: fileStore, key } = await freshStore();
    await fileStore.put('from/file', 'v');
    const dir = tempDir();
    const file = join(dir, 'file-store-backup.db');
    await fileStore.backup(file);

    const empty = await freshDatabase();
    const r = await restoreStore(empty.url, file, rawKey(key));
    expect(r).toMatchObject({ replacedStoreId: null, forced: false, secrets: 1 });
    const onPg = await openStore(empty.url, rawKey(key));
    onTestFinished(() => onPg.close());
    expect((await onPg.get('from/file')).value.text()).toBe('v');

    const { db, store } = await pgStore();
    const before = await postgresRows(db.name);
    const refused = await failure(restoreStore(db.url, file, rawKey(key)));
    expect(refused.code).toBe('E_STORE_EXISTS');
    expect(refused.message).toContain(`holds store ${(await store.status()).storeId}`);
    expect(await postgresRows(db.name)).toEqual(before);
    const forced = await restoreStore(db.url, file, rawKey(key), { force: true });
    expect(forced).toMatchObject({ forced: true, replacedStoreId: (await store.status()).storeId, storeId: (await fileStore.status()).storeId });
  });

  it('into the tables a migrate killed while copying left (empty, marked unverified): restored, the mark taken off, and it opens', async () => {
    const { store: fileStore, key } = await freshStore();
    await fileStore.put('from/file', 'v');
    const file = join(tempDir(), 'file-store-backup.db');
    await fileStore.backup(file);
    const db = await freshDatabase();
    // What the migrate left: its tables made and claimed (marked), the copy's transaction never committed.
    const { copyTarget } = await import('../../../src/store/migrate/target.js');
    const target = await copyTarget(db.url, 'migrate');
    await target.exclusive(() => target.claim());
    await target.close();
    const note = () => asAdmin(async (a) => (await a.query("SELECT obj_description('strongbox.meta'::regclass, 'pg_class') AS note")).rows[0] as { note: string | null }, db.name);
    expect((await note()).note).toContain('unverified copy');

    expect(await restoreStore(db.url, file, rawKey(key))).toMatchObject({ replacedStoreId: null, secrets: 1 });
    expect(await note()).toEqual({ note: null });
    const onPg = await openStore(db.url, rawKey(key));
    onTestFinished(() => onPg.close());
    expect((await onPg.get('from/file')).value.text()).toBe('v');
  });

  it('a tampered backup or a wrong key: refused, the database store unchanged; a missing backup is E_NO_STORE', async () => {
    const { db, master, store, dir } = await pgStore();
    const file = join(dir, 'backup.db');
    await store.backup(file);
    const before = await postgresRows(db.name);
    flipValue(file, 'app/db', 2);
    const e = await failure(restoreStore(db.url, file, master));
    expect(e).toBeInstanceOf(VerificationError);
    expect(e.code).toBe('E_TAMPERED');
    expect(await postgresRows(db.name)).toEqual(before);

    const other = join(tempDir(), 'other.key');
    createKeyFile(other);
    expect((await failure(restoreStore(db.url, file, keyFile(other)))).code).toBe('E_WRONG_MASTER_KEY');
    expect((await failure(restoreStore(db.url, join(dir, 'none.db'), master))).code).toBe('E_NO_STORE');
    expect(await postgresRows(db.name)).toEqual(before);
    expect(readdirSync(tmpdir()).filter((f) => f.includes('.restore-') && f.includes(`-${process.pid}-`))).toEqual([]);
  });
});
