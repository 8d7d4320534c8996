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
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { StoreError } from '../errors.js';
import { isAlive } from '../platform/process.js';

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

export interface LockOwner {
  host: string;
  pid: number;
}

/** A lock not refreshed for this long is taken over by the next exclusive operation. */
const STALE_MS = 15_000;

function ownerFile(path: string): string {
  return `${path}.lock-owner`;
}

/** The recorded holder; undefined when there is no record (or a half-written one). */
function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(ownerFile(path), 'utf8')) as LockOwner;
    return typeof owner.host === 'string' && Number.isInteger(owner.pid) ? { host: owner.host, pid: owner.pid } : undefined;
  } catch {
    return undefined;
  }
}

/** True when the lock's recorded holder is a process of this host that no longer exists. */
function holderIsGone(path: string): boolean {
  const owner = readOwner(path);
  // No record: let proper-lockfile's stale rule decide.
  return owner !== undefined && owner.host === hostname() && owner.pid !== process.pid && !isAlive(owner.pid);
}

/** The store's exclusive lock seen from outside, without taking it. */
export interface LockState {
  /** The lock exists: an exclusive operation runs, or a dead one left it. */
  held: boolean;
  /** The recorded holder, if any; `alive` is undefined for a process of another host (cannot be checked from here). */
  owner?: LockOwner & { alive: boolean | undefined };
  /** Milliseconds since the holder last refreshed the lock (held only). */
  sinceRefreshMs?: number;
  /** Held, but the next exclusive operation takes it over: its holder is gone, or it has not been refreshed for 15 s. */
  stale: boolean;
}

/** Inspect the exclusive lock of the store at `path` (for store doctor); changes nothing. */
export function lockState(path: string, now: number = Date.now()): LockState {
  const recorded = readOwner(path);
  const owner = recorded && {
    ...recorded,
    alive: recorded.host === hostname() ? recorded.pid === process.pid || isAlive(recorded.pid) : undefined,
  };
  let refreshedAt: number;
  try {
    refreshedAt = statSync(`${path}.lock`).mtimeMs;
  } catch {
    return { held: false, ...(owner ? { owner } : {}), stale: false };
  }
  const sinceRefreshMs = Math.max(0, Math.round(now - refreshedAt));
  return { held: true, ...(owner ? { owner } : {}), sinceRefreshMs, stale: owner?.alive === false || sinceRefreshMs > STALE_MS };
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
    stale: STALE_MS,
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
  writeFileSync(ownerFile(path), JSON.stringify({ host: hostname(), pid: process.pid } satisfies LockOwner), { mode: 0o600 });
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
