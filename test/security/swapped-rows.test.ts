/**
 * Attack: move rows around with SQL, straight in the SQLite file or the
 * PostgreSQL database (the same test on each driver: test/helpers/drivers.ts).
 * A ciphertext copied to another name, another version of the same name, or
 * into another store (same master key file, different store id) must fail
 * with E_TAMPERED; a data-key row whose id, version or wrapped bytes were
 * swapped must fail at open. Never the wrong value.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyFile, initStore, isStoreError, keyFile, openStore, type Store } from '../../src/index.js';
import { DRIVERS, withRaw, type RawDb } from '../helpers/drivers.js';
import { tempDir } from '../helpers/tmp.js';

interface Fixture {
  kf: string;
  /** The store's path or URL. */
  path: string;
}

function getBlob(db: RawDb, name: string, version: number): Promise<Buffer> {
  return db.value<Buffer>('SELECT v.ciphertext FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = ? AND v.version = ?', name, version);
}

async function setBlob(db: RawDb, name: string, version: number, blob: Buffer): Promise<void> {
  const changes = await db.run('UPDATE versions SET ciphertext = ? WHERE version = ? AND secret_id = (SELECT id FROM secrets WHERE name = ?)', blob, version, name);
  expect(changes).toBe(1);
}

/** Outcome of a read: the error code, or which value came back. */
async function readOutcome(store: Store, name: string, version: number, values: Record<string, string>): Promise<string> {
  try {
    const got = (await store.get(name, { version })).value.text();
    const which = Object.entries(values).find(([, v]) => v === got)?.[0] ?? 'unknown';
    return `value of ${which}`;
  } catch (e) {
    return isStoreError(e) ? e.code : `unexpected ${(e as Error).message}`;
  }
}

async function openOutcome(f: Fixture): Promise<string> {
  try {
    const s = await openStore(f.path, keyFile(f.kf));
    await s.close();
    return 'opened';
  } catch (e) {
    return isStoreError(e) ? e.code : `unexpected ${(e as Error).message}`;
  }
}

describe.each(DRIVERS)('swapped rows on $name', (driver) => {
  /** A store with a/1, a/2, b/1 (distinct values), closed. */
  async function makeStore(kf?: string): Promise<Fixture & { values: Record<string, string> }> {
    const keyPath = kf ?? join(tempDir(), 'master.key');
    if (!kf) createKeyFile(keyPath);
    const { locator: path } = await driver.place();
    const store = await initStore(path, keyFile(keyPath));
    const tag = randomBytes(4).toString('hex');
    const values = { 'a@1': `a-one-${tag}`, 'a@2': `a-two-${tag}`, 'b@1': `b-one-${tag}` };
    await store.put('a', values['a@1']);
    await store.put('a', values['a@2']);
    await store.put('b', values['b@1']);
    await store.close();
    return { kf: keyPath, path, values };
  }

  const withDb = <T>(path: string, fn: (db: RawDb) => Promise<T>): Promise<T> => withRaw(driver, path, fn);

  describe('swapped value rows', () => {
    it('a ciphertext copied to another name is E_TAMPERED', async () => {
      const f = await makeStore();
      await withDb(f.path, async (db) => setBlob(db, 'b', 1, await getBlob(db, 'a', 1)));
      const store = await openStore(f.path, keyFile(f.kf));
      try {
        expect(await readOutcome(store, 'b', 1, f.values)).toBe('E_TAMPERED');
        await expect(store.get('b')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(store.rollback('b', 1)).rejects.toMatchObject({ code: 'E_TAMPERED' });
        expect(await readOutcome(store, 'a', 1, f.values)).toBe('value of a@1'); // the source is intact
      } finally {
        await store.close();
      }
    });

    it('two versions of one name with their ciphertexts exchanged are both E_TAMPERED', async () => {
      const f = await makeStore();
      await withDb(f.path, async (db) => {
        const [one, two] = [await getBlob(db, 'a', 1), await getBlob(db, 'a', 2)];
        await db.tx(async () => {
          await setBlob(db, 'a', 1, two);
          await setBlob(db, 'a', 2, one);
        });
      });
      const store = await openStore(f.path, keyFile(f.kf));
      try {
        expect(await readOutcome(store, 'a', 1, f.values)).toBe('E_TAMPERED');
        expect(await readOutcome(store, 'a', 2, f.values)).toBe('E_TAMPERED');
        expect(await readOutcome(store, 'b', 1, f.values)).toBe('value of b@1');
      } finally {
        await store.close();
      }
    });

    it('a whole version row moved under another secret (secret_id changed) is E_TAMPERED', async () => {
      const f = await makeStore();
      await withDb(f.path, (db) => db.tx(async () => {
        const bId = await db.value<number>("SELECT id FROM secrets WHERE name = 'b'");
        await db.run('DELETE FROM versions WHERE secret_id = ? AND version = 1', bId);
        await db.run(`UPDATE versions SET ${db.moveVersion(String(bId), 'version')} WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE name = 'a')`);
      }));
      const store = await openStore(f.path, keyFile(f.kf));
      try {
        expect(await readOutcome(store, 'b', 1, f.values)).toBe('E_TAMPERED');
      } finally {
        await store.close();
      }
    });

    it('a secret row renamed (name column edited) makes its versions E_TAMPERED', async () => {
      const f = await makeStore();
      await withDb(f.path, (db) => db.tx(async () => {
        await db.run("UPDATE secrets SET name = 'tmp' WHERE name = 'a'");
        await db.run("UPDATE secrets SET name = 'a' WHERE name = 'b'");
        await db.run("UPDATE secrets SET name = 'b' WHERE name = 'tmp'");
      }));
      const store = await openStore(f.path, keyFile(f.kf));
      try {
        expect(await readOutcome(store, 'a', 1, f.values)).toBe('E_TAMPERED');
        expect(await readOutcome(store, 'b', 1, f.values)).toBe('E_TAMPERED');
        expect(await readOutcome(store, 'b', 2, f.values)).toBe('E_TAMPERED');
      } finally {
        await store.close();
      }
    });

    it('a ciphertext copied into another store under the same key file is E_TAMPERED', async () => {
      const one = await makeStore();
      const two = await makeStore(one.kf);
      const blob = await withDb(one.path, (db) => getBlob(db, 'a', 1));
      await withDb(two.path, (db) => setBlob(db, 'a', 1, blob));
      const store = await openStore(two.path, keyFile(two.kf));
      try {
        expect(await readOutcome(store, 'a', 1, { ...two.values, ...one.values })).toBe('E_TAMPERED');
        expect(await readOutcome(store, 'a', 2, two.values)).toBe('value of a@2');
      } finally {
        await store.close();
      }
    });

    it('the versions.key_id column is only a hint: editing it never yields a wrong value', async () => {
      const f = await makeStore();
      await withDb(f.path, (db) => db.run('UPDATE versions SET key_id = 12345 WHERE version = 1'));
      const store = await openStore(f.path, keyFile(f.kf));
      try {
        // The blob's own authenticated header picks the key; the column cannot redirect it.
        expect(['value of a@1', 'E_TAMPERED']).toContain(await readOutcome(store, 'a', 1, f.values));
        expect(['value of b@1', 'E_TAMPERED']).toContain(await readOutcome(store, 'b', 1, f.values));
      } finally {
        await store.close();
      }
    });

    it('the key id in a blob header rewritten to another key id is E_TAMPERED', async () => {
      const f = await makeStore();
      await withDb(f.path, async (db) => {
        const blob = Buffer.from(await getBlob(db, 'a', 1));
        blob.writeUInt32BE((blob.readUInt32BE(1) ^ 0x01000000) >>> 0, 1);
        await setBlob(db, 'a', 1, blob);
      });
      const store = await openStore(f.path, keyFile(f.kf));
      try {
        expect(await readOutcome(store, 'a', 1, f.values)).toBe('E_TAMPERED');
      } finally {
        await store.close();
      }
    });
  });

  describe('swapped data-key rows', () => {
    async function keyRow(db: RawDb): Promise<{ id: number; version: number; wrapped: Buffer }> {
      return (await db.get<{ id: number; version: number; wrapped: Buffer }>('SELECT id, version, wrapped FROM data_keys'))!;
    }

    it('a data key row whose id was changed (and the blobs pointed at it) fails at open with E_TAMPERED', async () => {
      const f = await makeStore();
      await withDb(f.path, async (db) => {
        const k = await keyRow(db);
        const newId = (k.id ^ 0x5a5a5a5a) >>> 0;
        await db.tx(async () => {
          await db.run('UPDATE data_keys SET id = ? WHERE id = ?', newId, k.id);
          await db.run('UPDATE versions SET key_id = ?', newId);
          for (const [name, version] of [['a', 1], ['a', 2], ['b', 1]] as const) {
            const blob = Buffer.from(await getBlob(db, name, version));
            blob.writeUInt32BE(newId, 1);
            await setBlob(db, name, version, blob);
          }
        });
      });
      expect(await openOutcome(f)).toBe('E_TAMPERED');
    });

    it('a data key row whose version number was changed fails at open with E_TAMPERED', async () => {
      const f = await makeStore();
      await withDb(f.path, (db) => db.run('UPDATE data_keys SET version = version + 1'));
      expect(await openOutcome(f)).toBe('E_TAMPERED');
    });

    it('a wrapped data key copied from another store with the same key file fails at open with E_TAMPERED', async () => {
      const one = await makeStore();
      const two = await makeStore(one.kf);
      const k1 = await withDb(one.path, keyRow);
      await withDb(two.path, (db) => db.run('UPDATE data_keys SET wrapped = ?', k1.wrapped));
      expect(await openOutcome(two)).toBe('E_TAMPERED');
    });

    it("another store's whole data-key row (id, version, wrapped) copied in fails at open with E_TAMPERED", async () => {
      const one = await makeStore();
      const two = await makeStore(one.kf);
      const k1 = await withDb(one.path, keyRow);
      await withDb(two.path, (db) => db.tx(async () => {
        await db.run("UPDATE data_keys SET status = 'active'");
        await db.run("INSERT INTO data_keys (id, version, status, created_at, wrapped) VALUES (?, ?, 'primary', 0, ?)", k1.id, 99, k1.wrapped);
      }));
      expect(await openOutcome(two)).toBe('E_TAMPERED');
    });

    it("another store's master check copied in is refused at open, never opening the store", async () => {
      const one = await makeStore();
      const two = await makeStore(one.kf);
      const check = await withDb(one.path, (db) => db.value<string>("SELECT value FROM meta WHERE key = 'master_check'"));
      await withDb(two.path, (db) => db.run("UPDATE meta SET value = ? WHERE key = 'master_check'", check));
      // The check is bound to the store id: it cannot be transplanted. The store reports it as the wrong key.
      expect(await openOutcome(two)).toBe('E_WRONG_MASTER_KEY');
    });

    it("a store id swapped for another store's is refused at open", async () => {
      const one = await makeStore();
      const two = await makeStore(one.kf);
      const id1 = await withDb(one.path, (db) => db.value<string>("SELECT value FROM meta WHERE key = 'store_id'"));
      await withDb(two.path, (db) => db.run("UPDATE meta SET value = ? WHERE key = 'store_id'", id1));
      // The key-encryption key is derived with the store id, so the master check no longer opens.
      expect(await openOutcome(two)).toBe('E_WRONG_MASTER_KEY');
    });
  });
});
