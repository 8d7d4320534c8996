/**
 * The store's exclusive lock (proper-lockfile: a `<store>.lock` directory,
 * refreshed while held, taken over when stale), for the operations that must
 * run alone: migrations, key and master rotation, restore.
 *
 * Beside it, `<store>.lock-owner` names the holder (host and pid). A lock
 * whose holder on this host is gone — a rotation killed by SIGKILL or the
 * OOM killer — is taken over at once instead of after the stale period, so
 * the next cron run is not refused.
 *
 * The owner can only be written once the lock is taken, and must be removed
 * before it is released; a holder killed in between (a restore killed as it
 * started) would leave a lock nobody is known to hold, refused for 15 s. So
 * each process first leaves a claim, `<store>.lock-claim-<host>-<pid>-<random>`,
 * kept from before it takes the lock until after it releases it: a lock with
 * no owner whose claims are all of dead processes of this host was left by
 * one of them. A claim is written before its process looks at the lock, so
 * of two processes that find the same dead lock at once, at most one takes
 * it over (each sees the other's claim, or one comes after the other's).
 */
import { closeSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { StoreError } from '../errors.js';
import { createExclusive } from './exclusive-file.js';
import { nodeCrypto } from './node-crypto.js';
import { hostTag, isAlive } from './process.js';

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
/** How often a waiting operation tries the lock again. */
const WAIT_POLL_MS = 500;

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

interface Claim {
  file: string;
  /** hostTag() of the claimant's host. */
  host: string;
  pid: number;
}

/** Leave this call's claim on the lock of `path` (see the module comment); its file. */
function writeClaim(path: string): string {
  const file = `${path}.lock-claim-${hostTag()}-${process.pid}-${nodeCrypto().randomBytes(4).toString('hex')}`;
  try {
    closeSync(createExclusive(file));
  } catch (e) {
    throw new StoreError('E_IO', `cannot lock ${path}: cannot write ${basename(file)} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return file;
}

/** Every claim on the lock of `path` but `except`. */
function otherClaims(path: string, except: string): Claim[] {
  const prefix = `${basename(path)}.lock-claim-`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return [];
  }
  const claims: Claim[] = [];
  for (const name of names) {
    const m = name.startsWith(prefix) ? CLAIM_TAIL.exec(name.slice(prefix.length)) : null;
    const file = join(dirname(path), name);
    if (m && file !== except) claims.push({ file, host: m[1]!, pid: Number(m[2]) });
  }
  return claims;
}

/** After `<store>.lock-claim-`: host tag, pid, random. */
const CLAIM_TAIL = /^([0-9a-f]{8})-([1-9][0-9]*)-[0-9a-f]{8}$/;

const claimIsDead = (c: Claim) => c.host === hostTag() && !isAlive(c.pid);

/**
 * True when the lock of `path` is held by a process of this host that no
 * longer exists: no other claimant is alive (any of them could be the
 * holder, its owner record not yet written or already removed), and the
 * recorded owner is dead, or there is none but some dead claimant left the
 * lock. `mine`: this call's claim.
 */
function holderIsGone(path: string, mine: string): boolean {
  const claims = otherClaims(path, mine);
  if (!claims.every(claimIsDead)) return false;
  const owner = readOwner(path);
  if (owner) return owner.host === hostname() && owner.pid !== process.pid && !isAlive(owner.pid);
  // No owner and no claim: not one of ours (a lock made by hand, or by an older version): proper-lockfile's stale rule decides.
  return claims.length > 0;
}

/** Remove the claims of dead processes of this host (left by killed runs). */
function removeDeadClaims(path: string, mine: string): void {
  for (const c of otherClaims(path, mine)) if (claimIsDead(c)) rmSync(c.file, { force: true });
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
  return { held: true, ...(owner ? { owner } : {}), sinceRefreshMs, stale: holderIsGone(path, '') || sinceRefreshMs > STALE_MS };
}

/**
 * Run `fn` holding the exclusive lock of the store at `path`. The lock is
 * refreshed from timers, so long work must yield to the event loop between
 * steps, and call `check()` to stop if the lock was lost meanwhile.
 */
export async function withExclusiveLock<T>(path: string, fn: (lock: HeldLock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 10 * 60_000);
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
    retries: 0, // waiting is done here, so that each try looks for a dead holder again
  });
  let release: () => Promise<void>;
  let claim: string;
  for (;;) {
    claim = writeClaim(path);
    if (holderIsGone(path, claim)) {
      rmSync(`${path}.lock`, { recursive: true, force: true });
      removeDeadClaims(path, claim);
    }
    try {
      release = await acquire();
      break;
    } catch (e) {
      // A waiter keeps no claim between tries: a live claim means "may hold the lock".
      rmSync(claim, { force: true });
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw new StoreError('E_IO', `cannot lock ${path}: ${(e as Error).message}`);
      if (!options.wait || Date.now() >= deadline) {
        throw new StoreError('E_LOCKED', `the store ${path} is locked by another operation`, [
          'try again later, or pass --wait',
        ]);
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
  }
  writeFileSync(ownerFile(path), JSON.stringify({ host: hostname(), pid: process.pid } satisfies LockOwner), { mode: 0o600 });
  removeDeadClaims(path, claim);
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
    rmSync(claim, { force: true }); // only now: until released, the claim says who holds the lock
  }
}
