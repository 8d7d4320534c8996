/**
 * The SQLite driver against the storage contract (test/storage/contract.ts),
 * on real store files in a temp dir, a second connection to the same file
 * standing in for another process; and what only a file store offers.
 */
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
