/**
 * Another connection holds the store's write lock past the busy timeout:
 * a change fails E_LOCKED after one busy timeout (its failure's audit entry,
 * which needs the same lock, is not waited for a second time), and a backup
 * whose closing record cannot be written leaves no backup file behind, so
 * the retry the exit status asks for can use the same name.
 *
 * The busy timeout is made short here (the driver reads it from open.ts).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { freshStore } from '../helpers/store.js';

const TIMEOUT_MS = 1000;
vi.mock('../../src/storage/sqlite/open.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/storage/sqlite/open.js')>()),
  BUSY_TIMEOUT_MS: 1000,
}));

/** Hold the store's write lock (BEGIN IMMEDIATE) on a connection of its own until the returned release is called. */
function holdWriteLock(path: string): () => void {
  const db = new Database(path);
  db.exec('BEGIN IMMEDIATE');
  return () => {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.close();
  };
}

describe('the write lock held by another connection', () => {
  it('a put fails E_LOCKED after one busy timeout, not two', async () => {
    const { store, path } = await freshStore();
    await store.put('a/x', 'v1');
    const release = holdWriteLock(path);
    let elapsed: number;
    try {
      const started = performance.now();
      await expect(store.put('a/x', 'v2')).rejects.toMatchObject({ code: 'E_LOCKED' });
      elapsed = performance.now() - started;
    } finally {
      release();
    }
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
    expect(elapsed).toBeLessThan(TIMEOUT_MS * 1.5);
    // The store works on once the lock is free.
    await store.put('a/x', 'v3');
    expect((await store.get('a/x')).value.text()).toBe('v3');
  });

  it('a backup whose record cannot be written fails E_LOCKED and leaves no file; the retry succeeds', async () => {
    const { store, path, dir } = await freshStore();
    await store.put('a/x', 'v1');
    const file = join(dir, 'nightly.db');
    const release = holdWriteLock(path);
    try {
      await expect(store.backup(file)).rejects.toMatchObject({ code: 'E_LOCKED' });
    } finally {
      release();
    }
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('backup'))).toEqual([]);

    const report = await store.backup(file);
    expect(report.file).toBe(file);
    expect(existsSync(file)).toBe(true);
    expect((await store.stats()).lastBackupAt).toBeInstanceOf(Date);
  });
});
