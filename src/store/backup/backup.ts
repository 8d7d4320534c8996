/**
 * Backup (docs/design.md §4): a consistent online snapshot of the store file,
 * encrypted as the store is, written as one self-contained file
 * (rollback-journal mode: no -wal to lose when it is copied around) of mode
 * 0600, and placed under its name only once complete (and verified, when asked).
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.js';
import { equalBytes } from '../../crypto/bytes.js';
import type { Keyset } from '../../crypto/keyset.js';
import { readHeader, storeIdHex } from '../header.js';
import { unwrapKeyset } from '../keys.js';
import { authenticate } from '../open.js';
import type { Store } from '../store.js';
import type { StoreContext } from '../context.js';
import { SqliteStorage } from '../../storage/sqlite/driver.js';
import { openStoreFile } from '../../storage/sqlite/open.js';
import { storeFileError } from '../../storage/sqlite/errors.js';
import { removeLeftovers } from '../../platform/leftovers.js';
import { recordMaintenance } from '../maintenance-times.js';
import { setJournalMode } from '../../storage/sqlite/files.js';
import { refuseUnlogged } from '../read-only.js';
import { fileOf, identityOf, placeNew, privateTemp, refuseExisting, removeTemp, renamed, syncDir, syncFile, unplace } from './files.js';
import { VerificationError, inspect, type Inspected, type VerifyOptions, type VerifyReport } from './verify.js';
import { writeRowBackup } from './row-backup.js';

export interface BackupOptions {
  /** Open the new backup with the store's master key and decrypt every version before keeping it (default false; always, for a store in PostgreSQL). */
  verify?: boolean;
  /** Pages copied so far, of the total (rows, for a store in PostgreSQL: row-backup.ts). */
  onProgress?: (done: number, total: number) => void;
  /** Versions verified so far, of the total (with `verify`). */
  onVerifyProgress?: (done: number, total: number) => void;
}

export interface BackupReport {
  /** The backup file, as given. */
  file: string;
  storeId: string;
  bytes: number;
  durationMs: number;
  /** The backup's verification (with `verify`), else null. */
  verified: VerifyReport | null;
}

/** Open the copy at `tmp` with the master key `c` already holds, and verify it deeply. */
async function verifyCopy(c: StoreContext, tmp: string, shownAs: string, onProgress?: VerifyOptions['onProgress']): Promise<VerifyReport> {
  const raw = new SqliteStorage(await openStoreFile(tmp));
  let storage: { close(): Promise<void> } = raw;
  let keyset: Keyset | undefined;
  try {
    const unchecked = await raw.read((tx) => readHeader(tx, shownAs));
    if (!equalBytes(unchecked.storeId, c.header.storeId)) {
      throw new StoreError('E_NOT_A_STORE', `the backup ${shownAs} does not hold store ${storeIdHex(c.header)}`);
    }
    const opened = await authenticate(raw, shownAs, c.master);
    storage = opened.storage;
    const header = opened.header;
    keyset = await unwrapKeyset(c.master, header.storeId, await opened.storage.keys());
    const copy: Inspected = { path: shownAs, storage: opened.storage, header, master: c.master, keyset };
    try {
      return await inspect(copy, { deep: true, onProgress });
    } finally {
      copy.keyset.wipe(); // the keyset inspect ended with (it may have reloaded)
      keyset = undefined;
    }
  } finally {
    keyset?.wipe();
    await storage.close(); // never the master key: it is the open store's
  }
}

/**
 * Give the finished copy `tmp` the name `file` and record the backup (its
 * audit entry and time). A backup not recorded (the store busy past the
 * timeout, a full disk) is no backup either: the file placed is taken away
 * again, while it is still the one placed here, so a retry can use the name.
 */
export async function keepBackup(c: StoreContext, tmp: string, file: string): Promise<void> {
  const placed = identityOf(tmp);
  placeNew(tmp, file);
  syncDir(dirname(file));
  try {
    await c.storage.write(async (tx) => {
      await c.audit.append(tx, { action: 'backup', outcome: 'ok', detail: file });
      await recordMaintenance(tx, 'backup', c.now());
    });
  } catch (e) {
    unplace(file, placed);
    throw e;
  }
}

/**
 * Write a consistent snapshot of the open store to `file`, a new file of mode
 * 0600, while other processes keep reading and writing. The copy is written
 * under a temporary name beside `file` and linked into place only once
 * complete (and verified, with `verify`): on any failure `file` does not
 * exist. The backup is encrypted as the store is; restoring it needs the
 * master key the store had when the backup was taken.
 * @throws E_STORE_EXISTS (never overwrites), E_IO, E_CLOSED; with `verify`, VerificationError (E_TAMPERED, E_NOT_A_STORE)
 */
export async function writeBackup(c: StoreContext, file: string, options: BackupOptions = {}): Promise<BackupReport> {
  refuseUnlogged(c, 'a backup');
  // A store in a database server has no file to copy: its rows go into a new store file instead.
  if (!c.storage.file) return writeRowBackup(c, file, options);
  const source = fileOf(c);
  const started = performance.now();
  refuseExisting(file, 'a backup never overwrites a file: choose a new name');
  // A killed earlier backup left a whole copy of the store here: make room before writing another.
  removeLeftovers(dirname(file), 'backup');
  const tmp = privateTemp(file, 'backup');
  try {
    await source.snapshotTo(tmp, options.onProgress);
    setJournalMode(tmp, 'delete');
    syncFile(tmp);
    let verified: VerifyReport | null = null;
    if (options.verify) {
      try {
        verified = await verifyCopy(c, tmp, file, options.onVerifyProgress);
      } catch (e) {
        throw renamed(e, tmp, file);
      }
      if (!verified.ok) {
        throw new VerificationError(`the backup of ${c.path} failed verification: ${verified.problems.length + verified.moreProblems} problem(s); it was not kept`, verified, [
          'run store verify --deep to see whether the live store has the same problems',
        ]);
      }
    }
    const bytes = statSync(tmp).size;
    await keepBackup(c, tmp, file);
    return { file, storeId: storeIdHex(c.header), bytes, durationMs: performance.now() - started, verified };
  } catch (e) {
    // Writing the copy is what fails on a full disk (ENOSPC, SQLITE_FULL): say so, naming the file the user gave.
    throw storeFileError(e, `cannot write the backup ${file}`, file) ?? e;
  } finally {
    removeTemp(tmp);
  }
}

/** `store.backup(file, options)`, as a function of the store (the library's API before the method). */
export function backupStore(store: Store, file: string, options: BackupOptions = {}): Promise<BackupReport> {
  return store.backup(file, options);
}
