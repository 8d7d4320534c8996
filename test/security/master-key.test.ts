/**
 * Attack: open a store with the wrong master key. A wrong passphrase, a
 * wrong key file, or a key of another family is E_WRONG_MASTER_KEY at
 * openStore, before any secret is read, and leaves the file as it was.
 * A damaged wrapped data key under the right master key is E_TAMPERED
 * (the store is damaged, the key is right), never E_WRONG_MASTER_KEY.
 * On each driver (a SQLite file, a PostgreSQL database:
 * test/helpers/drivers.ts); what a failed open leaves beside a file, on
 * SQLite only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createKeyFile, initStore, isStoreError, keyFile, openStore, passphrase, rawKey, type MasterKeySource,
} from '../../src/index.js';
import { DRIVERS, withRaw, type StoreDriver } from '../helpers/drivers.js';
import { tempDir } from '../helpers/tmp.js';

const FAST = { scrypt: { logN: 15 } };

async function openCode(path: string, source: MasterKeySource): Promise<string> {
  try {
    const s = await openStore(path, source);
    await s.close();
    return 'opened';
  } catch (e) {
    return isStoreError(e) ? e.code : `unexpected ${(e as Error).message}`;
  }
}

/** A closed store (a file fully checkpointed: no -wal left) with one secret, on `driver`; `path` is its path or URL. */
async function storeWith(driver: StoreDriver, source: MasterKeySource): Promise<{ path: string }> {
  const { locator: path } = await driver.place();
  const s = await initStore(path, source);
  await s.put('app/secret', `value-${randomBytes(4).toString('hex')}`);
  await s.close();
  return { path };
}

describe.each(DRIVERS)('on $name', (driver) => {
  describe('wrong master key', () => {
    it('a wrong passphrase is E_WRONG_MASTER_KEY at open and changes no byte of the store', async () => {
      const { path } = await storeWith(driver, passphrase('correct horse battery staple', FAST));
      const before = await driver.footprint(path);
      expect(await openCode(path, passphrase('correct horse battery stapler', FAST))).toBe('E_WRONG_MASTER_KEY');
      expect(await driver.footprint(path)).toBe(before);
      // Control: the right passphrase still opens it and the secret reads.
      const s = await openStore(path, passphrase('correct horse battery staple', FAST));
      try {
        expect((await s.get('app/secret')).value.text()).toMatch(/^value-/);
      } finally {
        await s.close();
      }
    });

    it('a wrong key file is E_WRONG_MASTER_KEY at open and changes no byte of the store', async () => {
      const dir = tempDir();
      const right = join(dir, 'right.key');
      const wrong = join(dir, 'wrong.key');
      createKeyFile(right);
      createKeyFile(wrong);
      const { path } = await storeWith(driver, keyFile(right));
      const before = await driver.footprint(path);
      expect(await openCode(path, keyFile(wrong))).toBe('E_WRONG_MASTER_KEY');
      expect(await driver.footprint(path)).toBe(before);
      expect(await openCode(path, rawKey(new Uint8Array(32)))).toBe('E_WRONG_MASTER_KEY');
      expect(await driver.footprint(path)).toBe(before);
      expect(await openCode(path, keyFile(right))).toBe('opened');
    });

    it('no secret is read on a wrong-key open: a corrupted value row does not change the answer', async () => {
      const dir = tempDir();
      const right = join(dir, 'right.key');
      const wrong = join(dir, 'wrong.key');
      createKeyFile(right);
      createKeyFile(wrong);
      const { path } = await storeWith(driver, keyFile(right));
      await withRaw(driver, path, (db) => db.run('UPDATE versions SET ciphertext = ?', Buffer.alloc(60)));
      expect(await openCode(path, keyFile(wrong))).toBe('E_WRONG_MASTER_KEY');
    });

    it('a passphrase store opened with a key file (or a raw key) is E_WRONG_MASTER_KEY, and vice versa', async () => {
      const { path } = await storeWith(driver, passphrase('pass-store', FAST));
      const kf = join(tempDir(), 'any.key');
      createKeyFile(kf);
      const before = await driver.footprint(path);
      expect(await openCode(path, keyFile(kf))).toBe('E_WRONG_MASTER_KEY');
      expect(await openCode(path, rawKey(new Uint8Array(randomBytes(32))))).toBe('E_WRONG_MASTER_KEY');
      expect(await driver.footprint(path)).toBe(before);

      const other = await storeWith(driver, keyFile(kf));
      expect(await openCode(other.path, passphrase('pass-store', FAST))).toBe('E_WRONG_MASTER_KEY');
    });
  });

  describe('damaged keyset under the right master key', () => {
    it('any flipped byte of data_keys.wrapped is E_TAMPERED at open, not E_WRONG_MASTER_KEY', async () => {
      const key = new Uint8Array(randomBytes(32));
      const { path } = await storeWith(driver, rawKey(key));
      const wrapped = await withRaw(driver, path, (db) => db.value<Buffer>('SELECT wrapped FROM data_keys'));
      expect(wrapped.length).toBe(24 + 32 + 16);
      const failures: string[] = [];
      for (let i = 0; i < wrapped.length; i++) {
        const bad = Buffer.from(wrapped);
        bad[i]! ^= 1 << (i % 8);
        await withRaw(driver, path, (db) => db.run('UPDATE data_keys SET wrapped = ?', bad));
        const code = await openCode(path, rawKey(key));
        if (code !== 'E_TAMPERED') failures.push(`byte ${i}: ${code}`);
      }
      expect(failures).toEqual([]);
    });

    it('a truncated or missing wrapped data key is E_TAMPERED at open', async () => {
      const key = new Uint8Array(randomBytes(32));
      const { path } = await storeWith(driver, rawKey(key));
      const edit = (sql: string) => withRaw(driver, path, (db) => db.run(sql));
      await edit('UPDATE data_keys SET wrapped = substr(wrapped, 1, 40)');
      expect(await openCode(path, rawKey(key))).toBe('E_TAMPERED');
      await edit('UPDATE data_keys SET wrapped = NULL');
      expect(await openCode(path, rawKey(key))).toBe('E_TAMPERED');
      await edit('DELETE FROM data_keys');
      expect(await openCode(path, rawKey(key))).toBe('E_TAMPERED');
    });

    it('with a passphrase store too: damaged wrapped key is E_TAMPERED, wrong passphrase E_WRONG_MASTER_KEY', async () => {
      const { path } = await storeWith(driver, passphrase('pw-1', FAST));
      await withRaw(driver, path, async (db) => {
        const wrapped = Buffer.from(await db.value<Buffer>('SELECT wrapped FROM data_keys'));
        wrapped[30]! ^= 0x10;
        await db.run('UPDATE data_keys SET wrapped = ?', wrapped);
      });
      expect(await openCode(path, passphrase('pw-1', FAST))).toBe('E_TAMPERED');
      expect(await openCode(path, passphrase('pw-2', FAST))).toBe('E_WRONG_MASTER_KEY');
    });
  });
});

describe('what a failed open leaves beside a store file (SQLite)', () => {
  it('a failed open leaves no -wal/-shm behind and the store opens normally afterwards', async () => {
    const { path } = await storeWith(DRIVERS.find((d) => d.name === 'sqlite')!, rawKey(new Uint8Array(32).fill(7)));
    const dir = dirname(path);
    for (let i = 0; i < 3; i++) expect(await openCode(path, rawKey(new Uint8Array(32).fill(8)))).toBe('E_WRONG_MASTER_KEY');
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(readdirSync(dir)).toEqual(['store.db']);
    expect(await openCode(path, rawKey(new Uint8Array(32).fill(7)))).toBe('opened');
  });
});
