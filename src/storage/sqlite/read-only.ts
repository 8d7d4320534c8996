/**
 * Reading a store file this process may not write: a read-only bind mount or
 * container volume, systemd's ProtectSystem=strict or ReadOnlyPaths=, an app
 * user with read access only.
 *
 * A store runs in SQLite's WAL mode, and SQLite reads such a file through its
 * -wal and -shm. Where a writer left those, a read-only connection reads
 * through them even when it may not write them (SQLite 3.22 and later): it
 * sees every commit, those still in the -wal too, while writers elsewhere go
 * on. Where they do not exist — the store's last writer closed it, which
 * folds the -wal into the file and removes both — SQLite would have to make
 * them, and cannot where this user may not create files. Then the file alone
 * is the whole store, so it is read into memory in one read and opened
 * there: a snapshot. (Where it could make them it is not let: see
 * `throughSideFiles`.) The file's identity, size and times are noted
 * before and after that read; a read during which they changed (a writer
 * folding its -wal in) is taken again, and so is the snapshot whenever the
 * file has changed since (`changedSince`), so a long-lived reader follows
 * the writers.
 *
 * SQLite's `immutable` URI parameter would read the file in place, but
 * better-sqlite3 accepts URIs only when an environment variable was set
 * before it loaded, which a library cannot count on; and `immutable` alone
 * would miss a writer starting meanwhile just the same.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { StoreError } from '../../errors.js';
import { Database, nativeBinding } from './native.js';
import type { ReadOnlyReason } from '../read-only.js';

export type { ReadOnlyReason };


/** What is known of the store file and its -wal when a snapshot was read. */
export interface FileStamp {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Size of the -wal; -1 when there is none. */
  walBytes: bigint;
}

function stampOf(path: string): FileStamp {
  const s = statSync(path, { bigint: true });
  let walBytes = -1n;
  try {
    walBytes = statSync(`${path}-wal`, { bigint: true }).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, walBytes };
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.walBytes === b.walBytes;
}

/** Whether the store file (or its -wal) is not what `stamp` saw: replaced, written, or a writer started. */
export function changedSince(path: string, stamp: FileStamp): boolean {
  try {
    return !sameStamp(stampOf(path), stamp);
  } catch {
    return true; // gone or unreadable: opening it again says why
  }
}

/** SQLite could not open or make the -wal or -shm it needs to read a WAL file. */
function sideFilesRefused(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY'));
}

/**
 * A read-only connection through the -wal and -shm a writer made; undefined
 * when they are not both there, or SQLite cannot use them. Never one that
 * makes them: a reader that may write the directory (though not the file)
 * would leave them owned by itself, and a writer then unable to write them.
 */
function throughSideFiles(path: string, busyMs: number): Database | undefined {
  if (!existsSync(`${path}-wal`) || !existsSync(`${path}-shm`)) return undefined;
  let db: Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, nativeBinding: nativeBinding() });
    db.pragma(`busy_timeout = ${busyMs}`);
    db.prepare('SELECT count(*) FROM sqlite_master').pluck().get(); // SQLite opens the -wal and -shm at the first read
    return db;
  } catch (e) {
    db?.close();
    if (sideFilesRefused(e)) return undefined;
    throw e;
  }
}

/**
 * The whole file read into memory, if it holds the whole store and did not
 * change while it was read: 'wal' when its -wal holds commits not yet in it,
 * 'moving' when it changed meanwhile.
 */
function snapshot(path: string): { db: Database; stamp: FileStamp } | 'wal' | 'moving' {
  const before = stampOf(path);
  if (before.walBytes > 0n) return 'wal';
  const image = readFileSync(path);
  const after = stampOf(path);
  if (!sameStamp(before, after) || BigInt(image.length) !== after.size) return 'moving';
  // SQLite's in-memory databases have no WAL: the copy is read as a rollback-journal file (header bytes 18 and 19 say which).
  if (image.length >= 100) image[18] = image[19] = 1;
  return { db: new Database(image, { readonly: true, nativeBinding: nativeBinding() }), stamp: after };
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
const TRIES = 50;
const PAUSE_MS = 20;

/**
 * Open the store file at `path` for reading only: through its -wal and -shm
 * when SQLite can have them, else as a snapshot in memory (with its stamp).
 * A writer starting or finishing meanwhile is waited out, up to a second.
 * @throws StoreError E_IO when the -wal holds commits SQLite cannot read here, E_LOCKED when the file never stood still;
 *   SQLite's and the file system's own errors as they are (the caller names them)
 */
export function openReadOnly(path: string, busyMs: number): { db: Database; stamp?: FileStamp } {
  let last: 'wal' | 'moving' = 'moving';
  for (let attempt = 0; attempt < TRIES; attempt++) {
    if (attempt > 0) Atomics.wait(sleeper, 0, 0, PAUSE_MS);
    const live = throughSideFiles(path, busyMs);
    if (live) return { db: live };
    const snap = snapshot(path);
    if (typeof snap === 'object') return snap;
    last = snap;
  }
  if (last === 'wal') {
    throw new StoreError('E_IO', `cannot read ${path}: its ${path}-wal holds changes not yet in the store file, and SQLite needs a ${path}-shm beside it to read them, which this user can neither use nor create`, [
      'open the store once as a user who can write it (any command: that folds the -wal into the file), then read it here again',
      'if the -wal and -shm are there, let this user read them (a setgid directory gives them the store\'s group)',
    ]);
  }
  throw new StoreError('E_LOCKED', `cannot read ${path}: it kept changing while it was read`, ['try again']);
}
