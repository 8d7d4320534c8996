/**
 * Restore into a store in PostgreSQL: the backup (a store file, as `store
 * backup` writes for either kind of store) is checked first — a private
 * copy of it opened with the master key, every version decrypted, the
 * digest and the audit chain verified — and then its rows replace the
 * database store's in one transaction (src/storage/copy.ts), under the
 * store's exclusive lock. Readers on other hosts see the old rows until
 * that transaction commits and the restored ones after; nothing in between.
 * The old rows are not kept (the database's own backups hold them).
 */
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { StoreError } from '../../errors.js';
import { readHeader, storeIdHex } from '../header.js';
import { openContext, type MasterKeyChoice } from '../open.js';
import { closeContext, type StoreContext } from '../context.js';
import { removeLeftovers } from '../../platform/leftovers.js';
import { copyFileInto } from '../../storage/sqlite/files.js';
import { copyStorage, holdsNoRows } from '../../storage/copy.js';
import { copyTarget, type CopyTarget } from '../migrate/target.js';
import { privateTemp, removeTemp, renamed } from './files.js';
import { shellWord } from '../../platform/shell-quote.js';
import { VerificationError, type VerifyReport } from './verify.js';
import { verifyDeeplyWithChain, verifyStoreCopy } from './verify-copy.js';
import type { RestoreOptions, RestoreReport } from './restore.js';

const FORCE_HINT = 'pass --force to replace it anyway (its rows are not kept: take a store backup of it first)';

/** The id of the store whose rows are in the database, null when it holds none, undefined when its header cannot be read. */
async function liveStoreId(target: CopyTarget, shown: string): Promise<string | null | undefined> {
  try {
    return await target.storage.read(async (tx) => ((await holdsNoRows(tx)) ? null : storeIdHex(await readHeader(tx, shown))));
  } catch (e) {
    if (e instanceof StoreError && ['E_NOT_A_STORE', 'E_TAMPERED', 'E_UNSUPPORTED_FORMAT'].includes(e.code)) return undefined;
    throw e;
  }
}

/**
 * Replace the rows of the PostgreSQL store at `url` (or fill a database
 * without one) with those of the backup `backupFile`, as restoreStore does
 * for a file (restore.ts): another store's backup, or a store whose header
 * cannot be read, only with `force`.
 * @throws E_NO_STORE (no backup), E_STORE_EXISTS, E_NOT_A_STORE, E_WRONG_MASTER_KEY, E_TAMPERED (VerificationError), E_LOCKED, E_IO
 */
export async function restoreIntoDatabase(url: string, backupFile: string, master: MasterKeyChoice, options: RestoreOptions): Promise<RestoreReport> {
  const started = performance.now();
  // A private copy, opened and checked: opening may bring an older backup's schema up to date, and the restore is recorded in its log.
  removeLeftovers(tmpdir(), 'restore');
  const tmp = privateTemp(join(tmpdir(), basename(backupFile)), 'restore');
  try {
    copyFileInto(backupFile, tmp);
    let c: StoreContext;
    try {
      c = await openContext(tmp, master);
    } catch (e) {
      throw renamed(e, tmp, backupFile);
    }
    try {
      const storeId = storeIdHex(c.header);
      const target = await copyTarget(url, 'restore');
      try {
        return await target.exclusive(async (lock) => {
          let filled = false;
          try {
            const live = (await target.claim()) === 'empty' ? null : await liveStoreId(target, target.shown);
            if (live !== null && !options.force) {
              if (live === undefined) {
                throw new StoreError('E_NOT_A_STORE', `${target.shown} holds rows this program cannot read as a store, so it cannot tell whether ${backupFile} is its backup`, [FORCE_HINT]);
              }
              if (live !== storeId) throw new StoreError('E_STORE_EXISTS', `${target.shown} holds store ${live}, but ${backupFile} is a backup of store ${storeId}`, [FORCE_HINT]);
            }
            const checked = await verifyDeeplyWithChain(c, options.onProgress);
            if (!checked.ok) throw failed(checked, `the backup ${backupFile} failed verification`, tmp, backupFile, 'nothing was restored');
            // The restored store's own log says where it came from.
            await c.storage.write((tx) => c.audit.append(tx, { action: 'restore', outcome: 'ok', detail: `from ${backupFile}` }));
            lock.check();
            await copyStorage(c.storage.raw, target.storage, { replace: true, onProgress: options.onCopyProgress, between: () => lock.check(), targetShown: target.shown });
            filled = true;
            // The same bytes, read back through the other driver: a last look before saying it is done.
            let landed: VerifyReport;
            try {
              landed = await verifyStoreCopy(target.storage, c.master, c.header.storeId, target.shown);
              // Problems found while the lock's connection went too (a server restarting): rows the read-back lost, not
              // findings about them. A read-back that verified stands, lock or not: the commit was before.
              if (!landed.ok) lock.check();
            } catch (e) {
              if (e instanceof StoreError && e.code === 'E_LOCKED') throw committedUnchecked(target.shown, backupFile, e);
              throw e;
            }
            if (!landed.ok) throw failed(landed, `the restored store in ${target.shown} failed verification`, tmp, backupFile, 'run store verify --deep on it');
            await target.keep();
            return {
              path: target.shown, backup: backupFile, storeId, replacedStoreId: live ?? null, keptAs: null,
              forced: Boolean(options.force) && live !== null && live !== storeId,
              secrets: checked.secrets, versions: checked.versions, liveVersions: checked.liveVersions, deletedVersions: checked.deletedVersions,
              destroyedVersions: checked.destroyedVersions, newestWriteAt: checked.newestWriteAt, durationMs: performance.now() - started,
            };
          } catch (e) {
            // Tables this run made go again; a store that was there kept its rows unless they were replaced (then what failed is named).
            if (!filled) await target.discard().catch(() => undefined);
            throw e;
          }
        }, { wait: options.wait });
      } finally {
        await target.close();
      }
    } finally {
      await closeContext(c);
    }
  } finally {
    removeTemp(tmp);
  }
}

/**
 * The restore's transaction committed, but reading it back was cut off (a
 * lost connection, a server restarting): the store holds the backup's rows,
 * unchecked. Exit 75 as any lost connection, saying so, and not to restore again.
 */
function committedUnchecked(shown: string, backupFile: string, cause: StoreError): StoreError {
  return new StoreError('E_LOCKED', `${shown}: the rows of ${backupFile} were restored (their transaction committed), but the connection was lost while they were read back to verify them (${cause.message.startsWith(`${shown}: `) ? cause.message.slice(shown.length + 2) : cause.message})`, [
    `check the restored store once the server answers: store --store ${shellWord(shown)} verify --deep`,
    'there is no need to restore again unless that verification fails',
  ]);
}

function failed(report: VerifyReport, what: string, tmp: string, backupFile: string, outcome: string): VerificationError {
  report.problems = report.problems.map((p) => ({ ...p, message: p.message.split(tmp).join(backupFile) }));
  return new VerificationError(`${what}: ${report.problems.length + report.moreProblems} problem(s); ${outcome}`, report);
}
