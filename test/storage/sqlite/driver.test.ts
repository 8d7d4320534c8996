/**
 * The SQLite driver against the storage contract (test/storage/contract.ts),
 * on real store files in a temp dir, a second connection to the same file
 * standing in for another process; and what only a file store offers.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStorage } from '../../../src/storage/sqlite/driver.js';
import { createStoreFile, openStoreFile } from '../../../src/storage/sqlite/open.js';
import { storageContract } from '../contract.js';
import { tempDir } from '../../helpers/tmp.js';

async function freshSqlite() {
  const path = join(tempDir(), 'store.db');
  const storage = new SqliteStorage(createStoreFile(path));
  const opened: SqliteStorage[] = [storage];
  return {
    path,
    storage,
    second: async () => {
      const other = new SqliteStorage(await openStoreFile(path));
      opened.push(other);
      return other;
    },
    cleanup: async () => {
      for (const s of opened) await s.close();
    },
  };
}

storageContract('SQLite', freshSqlite);

describe('SQLite driver: versions under their integer key (schema 10)', () => {
  it('keys versions exactly at the highest secret id, where secret id × 2^32 no longer fits a double', async () => {
    const path = join(tempDir(), 'store.db');
    const storage = new SqliteStorage(createStoreFile(path));
    const top = 2 ** 31 - 1; // the highest id the table takes: secret id × 2^32 + version stays below 2^63
    const neighbour = top - 1;
    const version = (secretId: number, v: number) => ({
      secretId, version: v, createdAt: 1000 + v, deletedAt: null, destroyedAt: null, keyId: 7, ciphertext: new Uint8Array(40).fill(v), mac: new Uint8Array(32).fill(v), json: false,
    });
    try {
      await storage.write(async (tx) => {
        for (const [id, name] of [[neighbour, 'n/1'], [top, 't/1']] as const) {
          await tx.insertSecretRow({ id, name, currentVersion: 3, maxVersions: 0, custom: '{}', createdAt: 1, updatedAt: 1, head: null, mac: new Uint8Array(32) });
          for (const v of [1, 2, 3]) await tx.insertVersion(version(id, v));
        }
      });
      await storage.read(async (tx) => {
        expect((await tx.readVersion('t/1'))!.version).toMatchObject({ secretId: top, version: 3 });
        expect((await tx.readVersion('t/1', 2))!.version).toMatchObject({ secretId: top, version: 2, createdAt: 1002 });
        expect((await tx.readVersion('n/1', 1))!.version).toMatchObject({ secretId: neighbour, version: 1 });
        expect((await tx.listVersions(top)).map((r) => r.version)).toEqual([1, 2, 3]);
        expect((await tx.versionsUnderKey(7, 10, { secretId: neighbour, version: 3 })).map((r) => [r.name, r.row.version])).toEqual([['t/1', 1], ['t/1', 2], ['t/1', 3]]);
      });
      await storage.write(async (tx) => tx.deleteVersions(top, [2]));
      await storage.read(async (tx) => {
        expect((await tx.listVersions(top)).map((r) => r.version)).toEqual([1, 3]);
        expect((await tx.listVersions(neighbour)).map((r) => r.version)).toEqual([1, 2, 3]);
      });
    } finally {
      await storage.close();
    }
    // Each key is exact in 64-bit integers: read as BigInt, not through a double.
    const db = new Database(path, { readonly: true });
    try {
      const keys = db.prepare('SELECT place, secret_id, version FROM versions ORDER BY place').safeIntegers().all() as { place: bigint; secret_id: bigint; version: bigint }[];
      expect(keys).toHaveLength(5);
      for (const k of keys) expect(k.place).toBe(k.secret_id * 2n ** 32n + k.version);
    } finally {
      db.close();
    }
  });
});

describe('SQLite driver: relaxed writes', () => {
  it('commit with synchronous NORMAL, from the first one on, and every other write with FULL', async () => {
    const db = createStoreFile(join(tempDir(), 'store.db'));
    const storage = new SqliteStorage(db);
    try {
      const level = () => db.pragma('synchronous', { simple: true }); // 1 NORMAL, 2 FULL
      const seen: number[] = [];
      for (const relaxed of [true, false, true, true, false]) {
        await storage.write(async (tx) => {
          seen.push(level() as number);
          await tx.putMeta({ key: 'k', value: String(seen.length), mac: null });
        }, { relaxed });
      }
      expect(seen).toEqual([1, 2, 1, 1, 2]);
      expect(level()).toBe(2);
    } finally {
      await storage.close();
    }
  });
});

describe('SQLite driver: the file capabilities', () => {
  it('checkpoints, checks the file and snapshots it online', async () => {
    const s = await freshSqlite();
    try {
      const file = s.storage.file!;
      expect(file.path).toBe(s.path);
      await s.storage.write(async (tx) => tx.putMeta({ key: 'k', value: 'v', mac: null }));
      expect(await file.checkpoint()).toBe(true);
      expect(await file.integrityProblems()).toEqual([]);
      const copy = join(tempDir(), 'copy.db');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(copy, '');
      await file.snapshotTo(copy);
      const other = new SqliteStorage(await openStoreFile(copy));
      try {
        expect(await other.read(async (tx) => tx.getMeta('k'))).toBe('v');
      } finally {
        await other.close();
      }
    } finally {
      await s.cleanup();
    }
  });

  it('close waits for the transaction in progress, which commits', async () => {
    const s = await freshSqlite();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const writing = s.storage.write(async (tx) => {
      await tx.putMeta({ key: 'k', value: 'v', mac: null });
      await gate;
    });
    const closing = s.storage.close();
    setTimeout(release, 10);
    await Promise.all([writing, closing]);
    const again = new SqliteStorage(await openStoreFile(s.path));
    try {
      expect(await again.read(async (tx) => tx.getMeta('k'))).toBe('v');
    } finally {
      await again.close();
    }
  });
});
