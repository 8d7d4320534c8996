/**
 * Creating and opening the SQLite file. A file is checked before anything is
 * written to it: a file that is not a store, or a store from a newer program,
 * is refused and left byte-for-byte as it was.
 */
import { Database, nativeBinding } from './native.js';
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../../errors.js';
import { withExclusiveLock } from '../../platform/lock.js';
import { createExclusive } from '../../platform/exclusive-file.js';
import { fsCauseError, storeFileError, writeBlocked } from './errors.js';
import { APPLICATION_ID, SCHEMA_VERSION, migrate } from './schema.js';
import { openReadOnly, type FileStamp, type ReadOnlyReason } from './read-only.js';
import { describeReadOnly } from '../read-only.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
/** Writers wait this long for another process's transaction before E_LOCKED. */
export const BUSY_TIMEOUT_MS = 10_000;

function applyConnectionPragmas(db: Database): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('synchronous = FULL'); // a write that returned is on disk
  db.pragma('foreign_keys = ON');
  db.pragma('secure_delete = ON'); // freed pages are zeroed: destroyed ciphertexts do not linger
}

/** Create a new, empty store file (0600, directory 0700 when we make it) with the schema. */
export function createStoreFile(path: string): Database {
  const dir = dirname(path);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw storeFileError(e, `cannot create directory ${dir}`, dir) ?? e;
  }
  let fd: number;
  try {
    fd = createExclusive(path, { readable: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new StoreError('E_STORE_EXISTS', `${path} already exists`, ['open it, or choose another path']);
    throw storeFileError(e, `cannot create ${path}`, path) ?? e;
  }
  closeSync(fd);
  let db: Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true, nativeBinding: nativeBinding() });
    db.pragma('journal_mode = WAL'); // -wal and -shm inherit the file's 0600
    applyConnectionPragmas(db);
    migrate(db, 0);
    return db;
  } catch (e) {
    db?.close(); // first, so SQLite removes its -wal and -shm
    unlinkSync(path);
    throw storeFileError(e, `cannot create ${path}`, path) ?? e;
  }
}

function readMagic(path: string): Buffer {
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError('E_NO_STORE', `no store at ${path}`, ['create one with: store init']);
    if (code === 'EACCES' || code === 'EPERM') throw fsCauseError('denied', `cannot open ${path}`, path, code);
    throw storeFileError(e, `cannot open ${path}`, path) ?? e;
  }
  try {
    if (!fstatSync(fd).isFile()) throw new StoreError('E_NOT_A_STORE', `${path} is not a file`);
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  return head;
}

function notAStore(path: string): StoreError {
  return new StoreError('E_NOT_A_STORE', `${path} is not a Strongbox store`);
}

/**
 * What a failure of SQLite on a file that starts like a SQLite file means:
 * a full disk, a read-only mount or a permission is E_IO with its cause
 * (never "not a store": people restore healthy stores over that), a damaged
 * file E_NOT_A_STORE.
 */
function openFailure(e: unknown, path: string): unknown {
  if (e instanceof StoreError) return e;
  return storeFileError(e, `cannot open ${path}`, path) ?? notAStore(path);
}

/** The schema version of a store's open file. @throws E_NOT_A_STORE, E_SCHEMA_TOO_NEW */
function checkedSchemaVersion(db: Database, path: string): number {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = db.pragma('user_version', { simple: true }) as number;
  if (appId !== APPLICATION_ID) throw notAStore(path);
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      'E_SCHEMA_TOO_NEW',
      `${path} has schema version ${version}; this program knows up to ${SCHEMA_VERSION}`,
      ['upgrade Strongbox to open this store'],
    );
  }
  return version;
}

/**
 * Check that `path` is a store this program can open, without a key and
 * without migrating it; its schema version.
 * @throws E_NO_STORE, E_NOT_A_STORE, E_SCHEMA_TOO_NEW, E_IO
 */
export function probeStoreFile(path: string): number {
  if (!readMagic(path).equals(SQLITE_MAGIC)) throw notAStore(path);
  let db: Database | undefined;
  try {
    // A store this user may not write is looked at as a reader would (SQLite could not even open it read-write).
    db = writeBlocked(path) ? openReadOnly(path, BUSY_TIMEOUT_MS).db : new Database(path, { fileMustExist: true, nativeBinding: nativeBinding() });
    return checkedSchemaVersion(db, path);
  } catch (e) {
    throw openFailure(e, path);
  } finally {
    db?.close();
  }
}

/** Open an existing store file, migrating it forward under the lock if it is older. */
export async function openStoreFile(path: string): Promise<Database> {
  if (!readMagic(path).equals(SQLITE_MAGIC)) throw notAStore(path);
  let db: Database;
  try {
    db = new Database(path, { fileMustExist: true, nativeBinding: nativeBinding() });
  } catch (e) {
    throw openFailure(e, path);
  }
  try {
    const version = checkedSchemaVersion(db, path);
    if (version < SCHEMA_VERSION) {
      await withExclusiveLock(path, () => {
        const now = db.pragma('user_version', { simple: true }) as number;
        if (now < SCHEMA_VERSION) migrate(db, now);
      }, { wait: true });
    }
    applyConnectionPragmas(db);
    return db;
  } catch (e) {
    db.close();
    throw openFailure(e, path);
  }
}

/** A store file opened read-only: why, and how to open it again (see SqliteStorage.refresh). */
export interface ReadOnlyFile {
  reason: ReadOnlyReason;
  /** The store file (a snapshot's connection is in memory and has no file name). */
  path: string;
  /** Set for a snapshot: the file as it was when read. */
  stamp?: FileStamp;
  /** Open it read-only again, checked as at first. */
  reopen: () => { db: Database; stamp?: FileStamp };
}

/** An upgrade a store needs before this program can read it, refused because it would write. */
export function upgradeRefused(path: string, reason: ReadOnlyReason, what: string): StoreError {
  return new StoreError('E_READ_ONLY', `${path} was written by an older version of Strongbox and must be upgraded (${what}) before it can be read, which writes to it, and it is open read-only here: ${describeReadOnly(reason)}`, [
    'open it once as a user who can write it (any command, such as store status), then read it here',
  ]);
}

/** A read-only connection to a store this program reads as it is (never older: that would need a write). */
function openCheckedReadOnly(path: string, reason: ReadOnlyReason): { db: Database; stamp?: FileStamp } {
  let opened: { db: Database; stamp?: FileStamp };
  try {
    opened = openReadOnly(path, BUSY_TIMEOUT_MS);
  } catch (e) {
    // Removed since it was first opened (a long-lived reader taking its snapshot again).
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('E_NO_STORE', `no store at ${path}`);
    throw openFailure(e, path);
  }
  try {
    if (checkedSchemaVersion(opened.db, path) < SCHEMA_VERSION) throw upgradeRefused(path, reason, 'a newer file format');
    opened.db.pragma('foreign_keys = ON');
    return opened;
  } catch (e) {
    opened.db.close();
    throw openFailure(e, path);
  }
}

/**
 * Open an existing store file: read-write when this user can write it (see
 * `openStoreFile`), else read-only (src/storage/sqlite/read-only.ts), with why.
 * `readOnly` true opens it read-only whatever the permissions; false always
 * read-write, failing as before when it cannot be written.
 * @throws E_NO_STORE, E_NOT_A_STORE, E_SCHEMA_TOO_NEW, E_IO, E_LOCKED; E_READ_ONLY when read-only and older
 */
export async function openStoreFileFor(path: string, readOnly?: boolean): Promise<{ db: Database; readOnly?: ReadOnlyFile }> {
  if (readOnly === false) return { db: await openStoreFile(path) };
  if (!readMagic(path).equals(SQLITE_MAGIC)) throw notAStore(path);
  const reason: ReadOnlyReason | undefined = readOnly ? { cause: 'asked', where: path } : writeBlocked(path);
  if (!reason) return { db: await openStoreFile(path) };
  const reopen = () => openCheckedReadOnly(path, reason);
  const first = reopen();
  return { db: first.db, readOnly: { reason, path, ...(first.stamp ? { stamp: first.stamp } : {}), reopen } };
}
