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

/** Handed to the locked work: long work calls `check()` between steps. */
export interface HeldLock {
  /** @throws StoreError E_LOCKED when the lock was lost (taken over as stale) */
  check(): void;
}

/**
 * Run `fn` holding the exclusive lock of the store at `path`. The lock is
 * refreshed from timers, so long work must yield to the event loop between
 * steps, and call `check()` to stop if the lock was lost meanwhile.
 */
export async function withExclusiveLock<T>(path: string, fn: (lock: HeldLock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? 10 * 60_000;
  let release: () => Promise<void>;
  let lost: Error | undefined;
  try {
    release = await lockfile.lock(path, {
      realpath: false,
      // A killed holder's lock is taken over after `stale` ms without a refresh.
      stale: 15_000,
      update: 3_000,
      onCompromised: (err) => {
        lost = err;
      },
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
  const held: HeldLock = {
    check() {
      if (lost) throw new StoreError('E_LOCKED', `lost the lock on ${path} (${lost.message})`, ['run the operation again']);
    },
  };
  try {
    return await fn(held);
  } finally {
    await release().catch(() => undefined);
  }
}
