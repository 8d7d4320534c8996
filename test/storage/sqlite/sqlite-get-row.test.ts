/**
 * The driver's get-path reads carry the MACs each read needs: a read of the
 * current version the secret's (which covers the current version's state)
 * and the version's own (which binds its ciphertext), a read of a named
 * version that version's. Bytes come back exactly,
 * and a missing row or MAC comes back as undefined or null, never as another
 * row's bytes.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../../src/storage/sqlite/driver.js';
import { openStoreFile } from '../../../src/storage/sqlite/open.js';
import { freshStore } from '../../helpers/store.js';

describe('SqliteStorage.readVersion: the MAC each read needs', () => {
  it('the secret MAC, head and version MAC with the current version, the version MAC with a named one', async () => {
    const { store, path } = await freshStore();
    await store.put('a', 'v1');
    await store.put('a', 'v2');
    await store.delete('a', { versions: [2] });
    await store.close();
    const secretMac = randomBytes(32);
    const versionMac = randomBytes(32);
    const currentMac = randomBytes(32);
    const db = new Database(path);
    db.prepare("UPDATE secrets SET mac = ? WHERE name = 'a'").run(secretMac);
    db.prepare('UPDATE versions SET mac = ? WHERE version = 1').run(versionMac);
    db.prepare('UPDATE versions SET mac = ? WHERE version = 2').run(currentMac);
    const raw = new SqliteStorage(await openStoreFile(path));
    try {
      const current = (await raw.readVersion('a'))!;
      expect(Buffer.from(current.secret.mac!).equals(secretMac)).toBe(true);
      expect(current.secret.head).toMatchObject({ deletedAt: expect.any(Number), destroyedAt: null });
      expect(current.version).toMatchObject({ version: 2 });
      expect(Buffer.from(current.version!.mac!).equals(currentMac)).toBe(true);
      const named = (await raw.readVersion('a', 1))!;
      expect(Buffer.from(named.version!.mac!).equals(versionMac)).toBe(true);
      expect(named.secret).toMatchObject({ mac: null, head: null });
      expect((await raw.readVersion('a', 7))!.version).toBeUndefined();
      expect(await raw.readVersion('b')).toBeUndefined();
      // A MAC that is NULL, or shorter than it should be, splits as itself: never bytes of its neighbour.
      db.prepare('UPDATE secrets SET mac = NULL').run();
      const noSecretMac = (await raw.readVersion('a'))!;
      expect(noSecretMac.secret.mac).toBeNull();
      expect(Buffer.from(noSecretMac.version!.mac!).equals(currentMac)).toBe(true);
      db.prepare("UPDATE secrets SET mac = x'0102'").run();
      db.prepare('UPDATE versions SET mac = NULL WHERE version = 2').run();
      const shortMac = (await raw.readVersion('a'))!;
      expect([Buffer.from(shortMac.secret.mac!).toString('hex'), shortMac.version!.mac]).toEqual(['0102', null]);
    } finally {
      await raw.close();
      db.close();
    }
  });

  it('the ciphertext and the MAC come apart exactly (they arrive as one blob): none, empty, text, and MAC-less', async () => {
    const { store, path } = await freshStore();
    await store.put('a', 'v1');
    await store.close();
    const db = new Database(path);
    const raw = new SqliteStorage(await openStoreFile(path));
    try {
      const stored = db.prepare("SELECT ciphertext, mac FROM versions WHERE version = 1").get() as { ciphertext: Buffer; mac: Buffer };
      const named = (await raw.readVersion('a', 1))!.version!;
      expect(Buffer.from(named.ciphertext!).equals(stored.ciphertext)).toBe(true);
      expect(Buffer.from(named.mac!).equals(stored.mac)).toBe(true);
      db.prepare('UPDATE versions SET ciphertext = NULL').run();
      expect((await raw.readVersion('a', 1))!.version).toMatchObject({ ciphertext: null });
      expect(Buffer.from((await raw.readVersion('a', 1))!.version!.mac!).equals(stored.mac)).toBe(true);
      db.prepare("UPDATE versions SET ciphertext = x''").run();
      expect((await raw.readVersion('a', 1))!.version!.ciphertext).toHaveLength(0);
      // An edit that makes the column text with multi-byte characters: split by bytes, so the MAC stays the MAC.
      db.prepare("UPDATE versions SET ciphertext = 'éé'").run();
      const edited = (await raw.readVersion('a', 1))!.version!;
      expect(Buffer.from(edited.ciphertext!).equals(Buffer.from('éé'))).toBe(true);
      expect(Buffer.from(edited.mac!).equals(stored.mac)).toBe(true);
      db.prepare('UPDATE versions SET mac = NULL').run();
      expect((await raw.readVersion('a', 1))!.version!.mac).toBeNull();
      expect(Buffer.from((await raw.readVersion('a', 1))!.version!.ciphertext!).equals(Buffer.from('éé'))).toBe(true);
    } finally {
      await raw.close();
      db.close();
    }
  });
});
