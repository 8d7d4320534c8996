/**
 * The driver's get-path read returns both MACs through one concatenated blob
 * (src/store/sqlite/driver.ts, GET_COLS): the bytes must come back exactly,
 * whatever they are (NUL, invalid UTF-8, 0xff runs), and a missing version or
 * MAC must come back as null, never as another row's bytes.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../src/store/sqlite/driver.js';
import { openStoreFile } from '../../src/store/sqlite/open.js';
import { freshStore } from '../helpers/store.js';

describe('SqliteStorage.readVersion: both MACs in one blob', () => {
  it('returns every MAC byte for byte, and null where there is none', async () => {
    const { store, path } = await freshStore();
    await store.put('a', 'v');
    await store.close();
    const samples = [Buffer.alloc(32), Buffer.alloc(32, 0xff), Buffer.from('c3'.repeat(16) + '80'.repeat(16), 'hex')];
    for (let i = 0; i < 300; i++) samples.push(randomBytes(32));
    const db = new Database(path);
    const raw = new SqliteStorage(await openStoreFile(path));
    try {
      for (let i = 0; i + 1 < samples.length; i++) {
        db.prepare("UPDATE secrets SET mac = ? WHERE name = 'a'").run(samples[i]);
        db.prepare('UPDATE versions SET mac = ?').run(samples[i + 1]);
        const got = raw.readVersion('a')!;
        expect(Buffer.from(got.secret.mac!).equals(samples[i]!)).toBe(true);
        expect(Buffer.from(got.version!.mac!).equals(samples[i + 1]!)).toBe(true);
      }
      db.prepare('UPDATE versions SET mac = NULL').run();
      expect(raw.readVersion('a')!.version!.mac).toBeNull();
      expect(raw.readVersion('a', 7)!.version).toBeUndefined();
      db.prepare('UPDATE secrets SET mac = NULL').run();
      expect(raw.readVersion('a')!.secret.mac).toBeNull();
    } finally {
      raw.close();
      db.close();
    }
  });
});
