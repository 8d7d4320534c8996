/**
 * A backup of a store that is not one local file (a store in PostgreSQL):
 * its rows, read in one snapshot, copied into a new SQLite store file
 * (src/storage/copy.ts). The rows keep their bytes and MACs, so the file is
 * the same store, portable and restorable anywhere (`store restore`, or
 * opened as it is). Such a copy went through two drivers, so it is always
 * verified deeply before it is kept, whether or not `verify` was asked.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.js';
import { storeIdHex } from '../header.js';
import type { StoreContext } from '../context.js';
import { createStorage, type OpenedStorage } from '../../storage/open.js';
import { copyStorage } from '../../storage/copy.js';
import { storeFileError } from '../../storage/sqlite/errors.js';
import { setJournalMode } from '../../storage/sqlite/files.js';
import { removeLeftovers, tempNameBeside } from '../../platform/leftovers.js';
import { refuseExisting, removeTemp, renamed, syncFile } from './files.js';
import { VerificationError } from './verify.js';
import { verifyStoreCopy } from './verify-copy.js';
import { keepBackup, type BackupOptions, type BackupReport } from './backup.js';

/** @throws E_IO when `dir` is not an existing directory */
function refuseMissingDir(dir: string): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new StoreError('E_IO', `the directory ${dir} does not exist`);
}

/**
 * Write the rows of the open store behind `c` to `file`, a new SQLite store
 * file of mode 0600 in rollback-journal mode (one self-contained file),
 * while other hosts keep reading and writing. Written under a temporary name
 * beside `file` and linked into place only once verified: on any failure
 * `file` does not exist.
 * @throws E_STORE_EXISTS, E_IO; VerificationError (E_TAMPERED, E_NOT_A_STORE) when the copy does not verify
 */
export async function writeRowBackup(c: StoreContext, file: string, options: BackupOptions = {}): Promise<BackupReport> {
  const started = performance.now();
  refuseExisting(file, 'a backup never overwrites a file: choose a new name');
  const dir = dirname(file);
  refuseMissingDir(dir);
  // A killed earlier backup left a whole copy of the store here: make room before writing another.
  removeLeftovers(dir, 'backup');
  const tmp = tempNameBeside(file, 'backup');
  let target: OpenedStorage | undefined;
  try {
    target = await createStorage(tmp); // a new file (exclusive create, 0600) at this program's schema
    await copyStorage(c.storage.raw, target, { onProgress: options.onProgress, targetShown: file });
    let verified;
    try {
      verified = await verifyStoreCopy(target, c.master, c.header.storeId, file, options.onVerifyProgress);
    } catch (e) {
      throw renamed(e, tmp, file);
    }
    if (!verified.ok) {
      throw new VerificationError(`the backup of ${c.path} failed verification: ${verified.problems.length + verified.moreProblems} problem(s); it was not kept`, verified, [
        'run store verify --deep to see whether the live store has the same problems',
      ]);
    }
    await target.close();
    target = undefined;
    setJournalMode(tmp, 'delete');
    syncFile(tmp);
    const bytes = statSync(tmp).size;
    await keepBackup(c, tmp, file);
    return { file, storeId: storeIdHex(c.header), bytes, durationMs: performance.now() - started, verified };
  } catch (e) {
    // Writing the copy is what fails on a full disk (ENOSPC, SQLITE_FULL): say so, naming the file the user gave.
    throw storeFileError(e, `cannot write the backup ${file}`, file) ?? renamed(e, tmp, file);
  } finally {
    await target?.close();
    removeTemp(tmp);
  }
}
