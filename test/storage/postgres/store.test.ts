/**
 * The whole Store on PostgreSQL through the library's API: a store made
 * with a key file at a postgres:// URL, read and written by two "hosts"
 * (two opened stores, each with its own pool), keys rotated with rewrap,
 * verified; tampering in the database detected as in a file; backup,
 * restore and doctor.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  backupStore, checkHealth, createKeyFile, importBundle, initStore, keyFile, openStore, restoreStore, StoreError, type Store,
} from '../../../src/index.js';
import { asAdmin, freshDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { tempDir } from '../../helpers/tmp.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StoreError) return e.code;
    throw e;
  }
  throw new Error('expected a StoreError');
}

/** A new store in a fresh database, with a new key file; both hosts' stores are closed when the test ends. */
async function freshPgStore(): Promise<{ db: TestDatabase; key: string; store: Store; open: () => Promise<Store> }> {
  const db = await freshDatabase();
  const key = join(tempDir(), 'master.key');
  createKeyFile(key);
  const store = await initStore(db.url, keyFile(key));
  onTestFinished(() => store.close());
  const open = async () => {
    const other = await openStore(db.url, keyFile(key));
    onTestFinished(() => other.close());
    return other;
  };
  return { db, key, store, open };
}

describe('a Store on PostgreSQL', () => {
  it('put, get, list, history, delete and undelete, CAS, JSON values; another host sees every write at once', async () => {
    const { store, open } = await freshPgStore();
    const other = await open();
    expect((await store.put('app/db', 'one')).version).toBe(1);
    expect((await other.put('app/db', 'two', { cas: 1 })).version).toBe(2);
    expect(await codeOf(store.put('app/db', 'lost', { cas: 1 }))).toBe('E_CAS_MISMATCH');
    await store.put('app/json', '{"user":"u","password":"p"}', { json: true });
    await other.put('other/x', new Uint8Array([0, 1, 2, 255]));

    const got = await other.get('app/db');
    expect([got.version, got.value.text(), got.json]).toEqual([2, 'two', false]);
    expect((await store.get('app/db', { version: 1 })).value.text()).toBe('one');
    expect((await store.get('app/json')).json).toBe(true);
    expect([...(await store.get('other/x')).value.expose()]).toEqual([0, 1, 2, 255]);
    expect((await other.list()).map((s) => s.name)).toEqual(['app/db', 'app/json', 'other/x']);
    expect((await store.list({ pattern: 'app/' })).map((s) => s.name)).toEqual(['app/db', 'app/json']);
    expect((await store.history('app/db')).map((h) => [h.version, h.state])).toEqual([[1, 'live'], [2, 'live']]);

    await other.delete('app/db');
    expect(await codeOf(store.get('app/db'))).toBe('E_DELETED');
    await store.undelete('app/db');
    expect((await other.get('app/db')).value.text()).toBe('two');
    await store.destroy('app/db', [1]);
    expect(await codeOf(other.get('app/db', { version: 1 }))).toBe('E_DESTROYED');
    await other.purge('other/x');
    expect(await codeOf(store.get('other/x'))).toBe('E_NOT_FOUND');
  });

  it('rotate-keys rewraps every version under the new key while another host writes; the store and its audit chain verify', async () => {
    const { store, open } = await freshPgStore();
    const other = await open();
    for (let i = 0; i < 30; i++) await store.put(`s/${String(i).padStart(2, '0')}`, `v${i}`);
    const writing = (async () => {
      for (let i = 0; i < 15; i++) await other.put(`s/${String(i).padStart(2, '0')}`, `w${i}`);
    })();
    const report = await store.rotateKeys({ batchSize: 7 });
    await writing;
    expect(report).toMatchObject({ rotated: true, primaryVersion: 2, interrupted: false });
    expect(report.rewrapped).toBe(report.toRewrap);
    // A second run finds nothing left under the old key, which nothing uses any more.
    const again = await other.rotateKeys({ ifOlderThanMs: 3_600_000 });
    expect(again).toMatchObject({ rotated: false, rewrapped: 0 });
    const keys = (await store.status()).keys;
    expect(keys.map((k) => [k.version, k.status])).toEqual([[1, 'retired'], [2, 'primary']]);
    for (let i = 0; i < 30; i++) {
      expect((await other.get(`s/${String(i).padStart(2, '0')}`)).value.text()).toBe(i < 15 ? `w${i}` : `v${i}`);
    }
    const verified = await store.verify({ deep: true });
    expect([verified.ok, verified.problems, verified.decrypted]).toEqual([true, [], 45]);
    expect(await other.verifyAudit()).toMatchObject({ ok: true });
  });

  it('rotate-master rewraps every key under a new master key; an export from PostgreSQL imports into a store file, and back', async () => {
    const { db, store } = await freshPgStore();
    await store.put('a', 'one');
    await store.put('a', 'two');
    await store.put('j', '{"k":"v"}', { json: true });
    const next = join(tempDir(), 'next.key');
    createKeyFile(next);
    await store.rotateMaster(keyFile(next));
    const reopened = await openStore(db.url, keyFile(next));
    onTestFinished(() => reopened.close());
    expect((await reopened.get('a')).value.text()).toBe('two');

    const bundleKey = { key: new Uint8Array(32).fill(7) };
    const file = join(tempDir(), 'all.sbx');
    await reopened.exportBundle(file, { key: bundleKey, allVersions: true });
    const sqlite = await initStore(join(tempDir(), 'store.db'), keyFile(next));
    onTestFinished(() => sqlite.close());
    await importBundle(sqlite, file, { key: bundleKey });
    expect([(await sqlite.get('a', { version: 1 })).value.text(), (await sqlite.get('a')).value.text(), (await sqlite.get('j')).json]).toEqual(['one', 'two', true]);

    const back = join(tempDir(), 'back.sbx');
    await sqlite.put('from/file', 'made in SQLite');
    await sqlite.exportBundle(back, { key: bundleKey, prefix: 'from/' });
    await importBundle(reopened, back, { key: bundleKey });
    expect((await reopened.get('from/file')).value.text()).toBe('made in SQLite');
    expect((await reopened.verify({ deep: true })).ok).toBe(true);
  });

  it('a ciphertext swapped between rows in the database is E_TAMPERED, as in a file', async () => {
    const { db, store } = await freshPgStore();
    await store.put('a', 'value of a');
    await store.put('b', 'value of b');
    await asAdmin((x) => x.query(`UPDATE strongbox.versions v SET ciphertext = (SELECT ciphertext FROM strongbox.versions w
      JOIN strongbox.secrets s ON s.id = w.secret_id WHERE s.name = 'b')
      FROM strongbox.secrets s WHERE s.id = v.secret_id AND s.name = 'a'`), db.name);
    expect(await codeOf(store.get('a'))).toBe('E_TAMPERED');
    expect((await store.verify({ deep: true })).ok).toBe(false);
  });

  it('status names the store by its URL without a password; a wrong key is E_WRONG_MASTER_KEY; an empty database E_NO_STORE', async () => {
    const { db, key, store } = await freshPgStore();
    expect((await store.status()).path).toBe(db.url);
    const withPassword = await openStore(`${db.url}&password=not-to-be-shown`, keyFile(key));
    try {
      expect([(await withPassword.status()).path, withPassword.path]).toEqual([db.url, db.url]);
    } finally {
      await withPassword.close();
    }
    const wrong = join(tempDir(), 'wrong.key');
    createKeyFile(wrong);
    expect(await codeOf(openStore(db.url, keyFile(wrong)))).toBe('E_WRONG_MASTER_KEY');
    const empty = await freshDatabase();
    expect(await codeOf(openStore(empty.url, keyFile(wrong)))).toBe('E_NO_STORE');
    expect(await codeOf(initStore(db.url, keyFile(wrong)))).toBe('E_STORE_EXISTS');
  });

  it('backup and restore go through a store file; doctor checks the database', async () => {
    const { db, key, store } = await freshPgStore();
    await store.put('k', 'v');
    const dir = tempDir();
    const backup = join(dir, 'backup.db');
    expect((await backupStore(store, backup)).verified?.ok).toBe(true); // test/store/backup/database-backup.test.ts has the rest
    expect(existsSync(backup)).toBe(true);
    expect((await restoreStore(db.url, backup, keyFile(key))).secrets).toBe(1);
    expect((await checkHealth(db.url, keyFile(key))).findings.find((f) => f.check === 'integrity')?.level).toBe('ok');
    // Verification skips only SQLite's own file check.
    expect((await store.verify({ deep: true })).ok).toBe(true);
  });
});
