/**
 * The store's exclusive lock (proper-lockfile: a `<store>.lock` directory,
 * refreshed while held, taken over when stale), for the operations that must
 * run alone: migrations, key and master rotation, restore.
 *
 * Beside it, `<store>.lock-owner` names the holder (host and pid). A lock
 * whose holder on this host is gone — a rotation killed by SIGKILL or the
 * OOM killer — is taken over at once instead of after the stale period, so
 * the next cron run is not refused.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
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

interface Owner {
  host: string;
  pid: number;
}

function ownerFile(path: string): string {
  return `${path}.lock-owner`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, but another user's
  }
}

/** True when the lock's recorded holder is a process of this host that no longer exists. */
function holderIsGone(path: string): boolean {
  let owner: Owner;
  try {
    owner = JSON.parse(readFileSync(ownerFile(path), 'utf8')) as Owner;
  } catch {
    return false; // no record (or half-written): let proper-lockfile's stale rule decide
  }
  return owner.host === hostname() && Number.isInteger(owner.pid) && owner.pid !== process.pid && !isAlive(owner.pid);
}

/**
 * Run `fn` holding the exclusive lock of the store at `path`. The lock is
 * refreshed from timers, so long work must yield to the event loop between
 * steps, and call `check()` to stop if the lock was lost meanwhile.
 */
export async function withExclusiveLock<T>(path: string, fn: (lock: HeldLock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const waitMs = options.waitMs ?? 10 * 60_000;
  let lost: Error | undefined;
  // Loaded here, not at start-up: most commands never take the lock (~10 ms of start-up).
  const { default: lockfile } = await import('proper-lockfile');
  const acquire = () => lockfile.lock(path, {
    realpath: false,
    // A killed holder's lock is taken over after `stale` ms without a refresh.
    stale: 15_000,
    update: 3_000,
    onCompromised: (err) => {
      lost = err;
    },
    retries: options.wait ? { retries: Math.ceil(waitMs / 500), factor: 1, minTimeout: 500, maxTimeout: 500 } : 0,
  });
  // Two processes taking over the same dead lock at once is caught later: the
  // loser's lock is compromised, and its next check() stops it.
  if (holderIsGone(path)) rmSync(`${path}.lock`, { recursive: true, force: true });
  let release: () => Promise<void>;
  try {
    release = await acquire();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new StoreError('E_LOCKED', `the store ${path} is locked by another operation`, [
        'try again later, or pass --wait',
      ]);
    }
    throw new StoreError('E_IO', `cannot lock ${path}: ${(e as Error).message}`);
  }
  writeFileSync(ownerFile(path), JSON.stringify({ host: hostname(), pid: process.pid } satisfies Owner), { mode: 0o600 });
  const held: HeldLock = {
    check() {
      if (lost) throw new StoreError('E_LOCKED', `lost the lock on ${path} (${lost.message})`, ['run the operation again']);
    },
  };
  try {
    return await fn(held);
  } finally {
    rmSync(ownerFile(path), { force: true });
    await release().catch(() => undefined);
  }
}
