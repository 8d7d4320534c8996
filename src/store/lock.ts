/**
 * The store's exclusive lock (proper-lockfile: a `<store>.lock` directory,
 * refreshed while held, taken over when stale), for the operations that must
 * run alone: migrations, key and master rotation, restore.
 */
import lockfile from 'proper-lockfile';
import { StoreError } from '../errors.js';

export interface LockOptions {
  /** Wait for the lock instead of failing at once with E_LOCKED (default false). */
  wait?: boolean;
  /** How long to wait at most, in ms (default 10 minutes). */
  waitMs?: number;
}

/** Run `fn` holding the exclusive lock of the store at `path`. */
export async function withExclusiveLock<T>(path: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? 10 * 60_000;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      stale: 30_000,
      update: 5_000,
      retries: options.wait ? { retries: Math.ceil(waitMs / 500), factor: 1, minTimeout: 500, maxTimeout: 500 } : 0,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new StoreError('E_LOCKED', `the store ${path} is locked by another operation`, [
        'try again later, or pass --wait',
      ]);
    }
    throw new StoreError('E_IO', `cannot lock ${path}: ${(e as Error).message}`);
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
