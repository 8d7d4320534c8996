/**
 * The driver's get-path reads carry the one MAC each read needs: a read of
 * the current version the secret's (which covers the current version's
 * state), a read of a named version that version's. Bytes come back exactly,
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
  it('the secret MAC and head with the current version, the version MAC with a named one', async () => {
    const { store, path } = await freshStore();
    await store.put('a', 'v1');
    await store.put('a', 'v2');
    await store.delete('a', { versions: [2] });
    await store.close();
    const secretMac = randomBytes(32);
    const versionMac = randomBytes(32);
    const db = new Database(path);
    db.prepare("UPDATE secrets SET mac = ? WHERE name = 'a'").run(secretMac);
    db.prepare('UPDATE versions SET mac = ? WHERE version = 1').run(versionMac);
    const raw = new SqliteStorage(await openStoreFile(path));
    try {
      const current = (await raw.readVersion('a'))!;
      expect(Buffer.from(current.secret.mac!).equals(secretMac)).toBe(true);
      expect(current.secret.head).toMatchObject({ deletedAt: expect.any(Number), destroyedAt: null });
      expect(current.version).toMatchObject({ version: 2, mac: null });
      const named = (await raw.readVersion('a', 1))!;
      expect(Buffer.from(named.version!.mac!).equals(versionMac)).toBe(true);
      expect(named.secret).toMatchObject({ mac: null, head: null });
      expect((await raw.readVersion('a', 7))!.version).toBeUndefined();
      expect(await raw.readVersion('b')).toBeUndefined();
      db.prepare('UPDATE secrets SET mac = NULL').run();
      expect((await raw.readVersion('a'))!.secret.mac).toBeNull();
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
