/**
 * `store migrate`: a whole store moved to another place — a SQLite file into
 * a PostgreSQL database and back, or file to file, database to database —
 * as its rows (src/storage/copy.ts): the same store id, header, data keys,
 * versions, audit chain and records, byte for byte, under the same master
 * key. The source is only read; the target must be new (a file that does
 * not exist, a database without a store) and is verified deeply before the
 * migrate reports success, or taken away again.
 *
 * Consistency: the source is read in one snapshot (a read transaction), so
 * the copy is one state the store was in, and nobody's writes wait for it.
 * The source's exclusive lock is held throughout as well, so no key or
 * master-key rotation, restore or other migrate runs meanwhile. Writes made
 * after the snapshot are not in the copy, and the report says whether there
 * were any: stop writers before migrating a store that is to move for good.
 */
import { StoreError } from '../../errors.js';
import { equalBytes } from '../../crypto/bytes.js';
import { isPostgresLocator, shownLocator } from '../../storage/locator.js';
import { copyStorage, type CopiedRows } from '../../storage/copy.js';
import { openContext, type MasterKeyChoice } from '../open.js';
import { closeContext, type StoreContext } from '../context.js';
import { storeIdHex } from '../header.js';
import { refuseUnlogged } from '../read-only.js';
import { refuseExisting } from '../backup/files.js';
import { VerificationError, type VerifyReport } from '../backup/verify.js';
import { verifyStoreCopy } from '../backup/verify-copy.js';
import { copyTarget } from './target.js';

export interface MigrateOptions {
  /** Wait for the source's exclusive lock (another rotation, restore or migrate) instead of failing at once with E_LOCKED. */
  wait?: boolean;
  /** Rows copied so far, of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Versions of the target verified so far, of the total. */
  onVerifyProgress?: (done: number, total: number) => void;
}

export interface MigrateReport {
  /** The source and the target as messages show them (a URL without its password). */
  from: string;
  to: string;
  storeId: string;
  /** Rows copied, by table. */
  rows: CopiedRows;
  /** The target's deep verification (every version decrypted, the digest and the audit chain checked). */
  verified: VerifyReport;
  /**
   * True when the source was written after the snapshot that was copied:
   * those writes are in the source only. Stop writers, and migrate again
   * into a new target, before switching to it.
   */
  sourceChangedSince: boolean;
  durationMs: number;
}

/** Whether the store's state is still the one copied (its state row's MAC changes with every write). */
async function unchangedSince(c: StoreContext, copiedMac: Uint8Array | undefined): Promise<boolean> {
  const now = await c.storage.raw.read(async (tx) => tx.stateMac());
  return copiedMac !== undefined && now !== undefined && equalBytes(now, copiedMac);
}

/**
 * Copy the store at `from` (a file or a `postgres://` URL) to `to` (a new
 * file, or a database without a store), opening it with `master`; verify
 * the copy deeply with the same key; record the migrate in the source's
 * audit log. On any failure the target is left as it was found (no file; no
 * tables this run made) and the source is untouched.
 * @throws E_STORE_EXISTS (the target holds a store), E_USAGE, E_NO_STORE, E_WRONG_MASTER_KEY, E_LOCKED, E_IO;
 *   VerificationError (E_TAMPERED, …) when the copy does not verify
 */
export async function migrateStore(from: string, to: string, master: MasterKeyChoice, options: MigrateOptions = {}): Promise<MigrateReport> {
  const started = performance.now();
  if (from === to) throw new StoreError('E_USAGE', `${shownLocator(from)} is both the source and the target of the migrate`);
  // Refused before a key is asked for: a file is never written over.
  if (!isPostgresLocator(to)) refuseExisting(to, 'nothing is ever written over an existing file: choose a new path');
  const c = await openContext(from, master);
  try {
    refuseUnlogged(c, 'a migrate');
    return await c.storage.exclusive(async (sourceLock) => {
      const target = await copyTarget(to, 'migrate');
      try {
        return await target.exclusive(async (targetLock) => {
          let kept = false;
          try {
            const between = () => {
              sourceLock.check();
              targetLock.check();
            };
            // An interrupted migrate's unverified copy is replaced; a store is refused.
            const replace = (await target.claim()) === 'leftover';
            const copied = await copyStorage(c.storage.raw, target.storage, { onProgress: options.onProgress, between, targetShown: target.shown, replace });
            const verified = await verifyStoreCopy(target.storage, c.master, c.header.storeId, target.shown, options.onVerifyProgress);
            // Checked before the verdict: a verification that lost its connections (a server restarting) lists
            // the rows it could not read as problems of the copy, and the lost lock says what really happened.
            between();
            if (!verified.ok) {
              throw new VerificationError(`the copy of ${c.path} in ${target.shown} failed verification: ${verified.problems.length + verified.moreProblems} problem(s); it was removed`, verified, [
                `run store --store ${c.path} verify --deep to see whether the source has the same problems`,
              ]);
            }
            await target.keep();
            kept = true; // from here the target is the verified store: never taken away
            const sourceChangedSince = !(await unchangedSince(c, copied.state?.mac));
            await c.storage.write((tx) => c.audit.append(tx, { action: 'migrate', outcome: 'ok', detail: `to ${target.shown}` }));
            return {
              from: c.path, to: target.shown, storeId: storeIdHex(c.header), rows: copied.rows, verified, sourceChangedSince,
              durationMs: performance.now() - started,
            };
          } catch (e) {
            if (!kept) await target.discard().catch(() => undefined); // the error that stopped the migrate is the one to tell
            throw target.named(e);
          }
        }, { wait: options.wait });
      } finally {
        await target.close();
      }
    }, { wait: options.wait });
  } finally {
    await closeContext(c);
  }
}
