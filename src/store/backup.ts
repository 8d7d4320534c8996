/**
 * Backup, restore and verify (docs/design.md §4). A backup is a consistent online
 * snapshot of the store file, encrypted as the store is, written as one
 * self-contained file (rollback-journal mode: no -wal to lose when it is
 * copied around) of mode 0600, and placed under its name only once complete.
 * Restore verifies a copy of the backup (structure, master key, every value
 * decrypts), then swaps it in for the live file under the store's exclusive
 * lock, keeping the previous file as `<store>.pre-restore-<time>`. Verify
 * checks a live store: SQLite's structure, the header, the keyset, every
 * version's key and, with `deep`, every value.
 */
import {
  chmodSync, closeSync, existsSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync,
  renameSync, rmSync, statSync, unlinkSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StoreError, type ErrorCode } from '../errors.js';
import { openValue } from '../crypto/envelope.js';
import { equalBytes, wipe } from '../crypto/bytes.js';
import type { Keyset } from '../crypto/keyset.js';
import { readHeader, storeIdHex } from './header.js';
import { reloadKeyset, unwrapKeyset, verifyMasterCheck } from './keys.js';
import { withExclusiveLock } from '../platform/lock.js';
import { createExclusive } from '../platform/exclusive-file.js';
import { sizeOf } from '../platform/file-size.js';
import { openStore, type MasterKeyChoice } from './open.js';
import { contextOf, eventsOf, type Store, type StoreContext } from './store.js';
import { reported } from './events.js';
import type { Storage, VersionRow } from './storage.js';
import { SqliteStorage } from './sqlite/driver.js';
import { openStoreFile } from './sqlite/open.js';
import { authenticate } from './open.js';
import { checkState } from './integrity/state.js';
import { storeFileError } from './sqlite/errors.js';
import { removeLeftovers, tempNameBeside, type TempLabel } from './leftovers.js';
import { recordMaintenance } from './maintenance-times.js';
import { copyFileInto, setJournalMode, settle, storeIdOf, whileQuiesced } from './sqlite/files.js';
import { refuseUnlogged } from './read-only.js';

/** One thing verification found wrong. `code` is the error it stands for. */
export interface VerifyProblem {
  /** E_NOT_A_STORE: the file's structure; E_TAMPERED: a value or key that does not open; E_WRONG_MASTER_KEY; E_UNSUPPORTED_FORMAT. */
  code: ErrorCode;
  /** Names a secret, version, key id or path; never a value. */
  message: string;
}

export interface VerifyOptions {
  /** Decrypt every live and deleted version, not only check that its key is there (default false). */
  deep?: boolean;
  /** Called as versions are checked. */
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyReport {
  /** True when no problem was found. */
  ok: boolean;
  deep: boolean;
  storeId: string;
  secrets: number;
  versions: number;
  liveVersions: number;
  /** Soft-deleted versions: still encrypted, still decryptable. */
  deletedVersions: number;
  destroyedVersions: number;
  /** Versions opened and authenticated (deep only): the live and the deleted ones. */
  decrypted: number;
  /** The newest write seen (a version created, deleted or destroyed, metadata changed); null for an empty store. */
  newestWriteAt: Date | null;
  /** The first problems found (at most 100). */
  problems: VerifyProblem[];
  /** How many more problems were found beyond those listed. */
  moreProblems: number;
  durationMs: number;
}

export interface BackupOptions {
  /** Open the new backup with the store's master key and decrypt every version before keeping it (default false). */
  verify?: boolean;
  /** Pages copied so far, of the total. */
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

export interface RestoreOptions {
  /** Replace a store whose id differs from the backup's, or a file that is not a readable store (default false). */
  force?: boolean;
  /** Wait for the store's exclusive lock instead of failing at once with E_LOCKED. */
  wait?: boolean;
  /** Versions of the backup verified so far, of the total. */
  onProgress?: (done: number, total: number) => void;
  /** Clock for the name the previous file is kept under (tests). */
  now?: () => number;
}

export interface RestoreReport {
  path: string;
  backup: string;
  /** The restored store's id. */
  storeId: string;
  /** The id of the store that was at the path, or null when there was none or it could not be read. */
  replacedStoreId: string | null;
  /** Where the previous file now is (with its -wal and -shm, if it had them), or null when there was none. */
  keptAs: string | null;
  /** True when --force let a different or unreadable store be replaced. */
  forced: boolean;
  secrets: number;
  versions: number;
  liveVersions: number;
  deletedVersions: number;
  destroyedVersions: number;
  newestWriteAt: Date | null;
  durationMs: number;
}

/** Verification found problems; `report` lists them. The code is the gravest problem's. */
export class VerificationError extends StoreError {
  readonly report: VerifyReport;
  constructor(message: string, report: VerifyReport, hints: readonly string[] = []) {
    super(gravestCode(report.problems), message, hints);
    this.name = 'VerificationError';
    this.report = report;
  }
}

/** The code a list of problems stands for: structure first, then keys, then values. */
export function gravestCode(problems: readonly VerifyProblem[]): ErrorCode {
  for (const code of ['E_NOT_A_STORE', 'E_WRONG_MASTER_KEY', 'E_UNSUPPORTED_FORMAT', 'E_TAMPERED'] as const) {
    if (problems.some((p) => p.code === code)) return code;
  }
  return problems[0]?.code ?? 'E_TAMPERED';
}

const MAX_LISTED = 100;
/** Versions read per query; a ciphertext is at most the store's value limit, 1 MiB by default. */
const SCAN_PAGE = 256;
/** Versions checked between two turns of the event loop (lock refresh, progress bar). */
const YIELD_EVERY = 1000;
/** Key reloads allowed during one walk (another process may rotate meanwhile). */
const MAX_RELOADS = 3;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

function codeOf(e: unknown): ErrorCode {
  return e instanceof StoreError ? e.code : 'E_NOT_A_STORE';
}

/** A safe description of an unexpected failure: SQLite's code, never row contents. */
function describe(e: unknown): string {
  if (e instanceof StoreError) return e.message;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'unexpected error';
}

class Findings {
  readonly list: VerifyProblem[] = [];
  more = 0;
  add(code: ErrorCode, message: string): void {
    if (this.list.length < MAX_LISTED) this.list.push({ code, message });
    else this.more++;
  }
}

/** What verification needs of an open store (or of an opened backup, which has no Store around it). */
type Inspected = Pick<StoreContext, 'path' | 'storage' | 'header' | 'master' | 'keyset'>;

/** Verify the open store behind `c`; never throws for what it finds, only lists it. */
async function inspect(c: Inspected, options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const deep = options.deep ?? false;
  const found = new Findings();

  // The file's structure, by SQLite: pages, indexes, foreign keys.
  try {
    for (const p of c.storage.integrityProblems()) found.add('E_NOT_A_STORE', `structure: ${p}`);
  } catch (e) {
    found.add('E_NOT_A_STORE', `structure: the integrity check could not run (${describe(e)})`);
  }

  // The header and keyset as stored now: the master key still opens them and every data key unwraps.
  try {
    const header = c.storage.read((tx) => readHeader(tx, c.path));
    if (!equalBytes(header.storeId, c.header.storeId)) found.add('E_NOT_A_STORE', 'the store id in the header changed while the store was open');
    await verifyMasterCheck(c.master, header.storeId, header.masterCheck);
    await reloadKeyset(c);
  } catch (e) {
    found.add(codeOf(e), `header and keys: ${describe(e)}`);
  }

  // Every authenticated row, and that together they are the state the store last wrote (one snapshot).
  try {
    const rows = c.storage.raw.read((tx) => checkState(tx, c.storage.auth));
    for (const p of rows.problems) found.add('E_TAMPERED', p);
    found.more += rows.more;
  } catch (e) {
    found.add(codeOf(e), `rows: ${describe(e)}`);
  }

  const n = { secrets: 0, versions: 0, live: 0, deleted: 0, destroyed: 0, decrypted: 0 };
  let newest = 0;
  let reloads = 0;
  let total = 0;
  try {
    total = c.storage.counts().versions;
  } catch {
    // the walk below reports what cannot be read
  }
  options.onProgress?.(0, total);

  /** The data key a version names, reloading the keyset if another process added keys since. */
  const keyFor = async (keyId: number) => {
    let key = c.keyset.byId(keyId);
    if (!key?.material && reloads < MAX_RELOADS) {
      reloads++;
      await reloadKeyset(c).catch(() => undefined);
      key = c.keyset.byId(keyId);
    }
    return key?.material ? key : undefined;
  };

  const checkVersion = async (name: string, v: VersionRow) => {
    const what = `${name} version ${v.version}`;
    if (v.keyId === null) {
      found.add('E_TAMPERED', `${what} is not destroyed but names no data key`);
      return;
    }
    if (!(await keyFor(v.keyId))) {
      found.add('E_TAMPERED', `${what} is under data key ${v.keyId.toString(16).padStart(8, '0')}, which this store does not hold`);
      return;
    }
    if (!deep) return;
    try {
      wipe(openValue(c.keyset, c.header.storeId, name, v.version, v.ciphertext));
      n.decrypted++;
    } catch (e) {
      found.add(codeOf(e), describe(e));
    }
  };

  // One scan of every version in (secret, version) order, a page at a time.
  let afterSecret = 0;
  let afterVersion = 0;
  let lastSecret = 0;
  let sinceYield = 0;
  for (;;) {
    let page: ReturnType<Storage['scanVersions']>;
    try {
      page = c.storage.scanVersions(afterSecret, afterVersion, SCAN_PAGE);
    } catch (e) {
      found.add('E_NOT_A_STORE', `cannot read the versions after secret id ${afterSecret} version ${afterVersion} (${describe(e)})`);
      break;
    }
    for (const v of page) {
      if (v.secretId !== lastSecret) {
        n.secrets++;
        lastSecret = v.secretId;
        newest = Math.max(newest, v.secretUpdatedAt);
      }
      n.versions++;
      newest = Math.max(newest, v.createdAt, v.deletedAt ?? 0, v.destroyedAt ?? 0);
      if (v.destroyedAt !== null) {
        n.destroyed++;
        if (v.ciphertext !== null) found.add('E_TAMPERED', `${v.name} version ${v.version} is marked destroyed but still holds a ciphertext`);
      } else {
        if (v.deletedAt !== null) n.deleted++;
        else n.live++;
        try {
          await checkVersion(v.name, v);
        } catch (e) {
          found.add(codeOf(e), `${v.name} version ${v.version}: ${describe(e)}`);
        }
      }
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        if (n.versions < total) options.onProgress?.(n.versions, total);
        await yieldToEventLoop();
      }
    }
    if (page.length < SCAN_PAGE) break;
    afterSecret = page[page.length - 1]!.secretId;
    afterVersion = page[page.length - 1]!.version;
  }
  options.onProgress?.(n.versions, Math.max(total, n.versions));

  return {
    ok: found.list.length === 0,
    deep,
    storeId: storeIdHex(c.header),
    secrets: n.secrets,
    versions: n.versions,
    liveVersions: n.live,
    deletedVersions: n.deleted,
    destroyedVersions: n.destroyed,
    decrypted: n.decrypted,
    newestWriteAt: newest > 0 ? new Date(newest) : null,
    problems: found.list,
    moreProblems: found.more,
    durationMs: performance.now() - started,
  };
}

/**
 * Check the open store: SQLite's integrity and foreign-key checks, the master
 * key against the stored check, every data key unwraps, every version's key
 * is present; with `deep`, every live and deleted version decrypts. Problems
 * are listed in the report (not thrown); `ok` is false when there are any.
 * @throws E_CLOSED
 */
export async function verifyStore(store: Store, options: VerifyOptions = {}): Promise<VerifyReport> {
  return reported(eventsOf(store), 'verifyStore', undefined, () => verifyStoreUnreported(store, options));
}

async function verifyStoreUnreported(store: Store, options: VerifyOptions): Promise<VerifyReport> {
  const c = contextOf(store);
  refuseUnlogged(c, 'a verification');
  const report = await inspect(c, options);
  const outcome = report.ok ? 'ok' : gravestCode(report.problems);
  try {
    c.storage.writeRelaxed((tx) => c.audit.append(tx, { action: 'verify', outcome, detail: options.deep ? 'deep' : 'structure' }));
  } catch (e) {
    // A damaged log refuses the entry; the report, which names that damage, is what the caller asked for.
    if (report.ok || !(e instanceof StoreError) || e.code !== 'E_TAMPERED') throw e;
  }
  return report;
}

// ---- files ------------------------------------------------------------

/** Fail unless nothing at all is at `path` (a dangling symlink counts as something). */
function refuseExisting(path: string, hint: string): void {
  let exists = true;
  try {
    lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreError('E_IO', `cannot check ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    exists = false;
  }
  if (exists) throw new StoreError('E_STORE_EXISTS', `${path} already exists`, [hint]);
}

/** A new empty file of mode 0600 beside `near`, named so nobody mistakes it for a finished one. */
function privateTemp(near: string, label: TempLabel): string {
  const dir = dirname(near);
  const tmp = tempNameBeside(near, label);
  let fd: number;
  try {
    fd = createExclusive(tmp, { readable: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError('E_IO', `the directory ${dir} does not exist`);
    throw new StoreError('E_IO', `cannot create a file in ${dir}: ${code ?? 'error'}`);
  }
  closeSync(fd);
  return tmp;
}

/** Remove a temp file and anything SQLite may have left beside it. */
function removeTemp(tmp: string): void {
  for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${tmp}${suffix}`, { force: true });
}

function syncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Make a rename or link durable. Best effort: some file systems cannot sync a directory. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // nothing more we can do here
  }
}

/** Give `tmp` the name `path` only if nothing has it: link fails with EEXIST where rename would overwrite. */
function placeNew(tmp: string, path: string): void {
  try {
    linkSync(tmp, path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new StoreError('E_STORE_EXISTS', `${path} appeared while the backup was being written`, ['nothing was overwritten; choose another name']);
    throw new StoreError('E_IO', `cannot create ${path}: ${code ?? 'error'}`);
  }
  unlinkSync(tmp);
}

/** Error messages about a temp copy should name the file the user gave. */
function renamed(e: unknown, from: string, to: string): unknown {
  if (!(e instanceof StoreError) || !e.message.includes(from)) return e;
  return new StoreError(e.code, e.message.split(from).join(to), e.hints);
}

// ---- backup -----------------------------------------------------------

/** Open the copy at `tmp` with the master key `c` already holds, and verify it deeply. */
async function verifyCopy(c: StoreContext, tmp: string, shownAs: string, onProgress?: VerifyOptions['onProgress']): Promise<VerifyReport> {
  const raw = new SqliteStorage(await openStoreFile(tmp));
  let storage: { close(): void } = raw;
  let keyset: Keyset | undefined;
  try {
    const unchecked = raw.read((tx) => readHeader(tx, shownAs));
    if (!equalBytes(unchecked.storeId, c.header.storeId)) {
      throw new StoreError('E_NOT_A_STORE', `the backup ${shownAs} does not hold store ${storeIdHex(c.header)}`);
    }
    const opened = await authenticate(raw, shownAs, c.master);
    storage = opened.storage;
    const header = opened.header;
    keyset = await unwrapKeyset(c.master, header.storeId, opened.storage.keys());
    const copy: Inspected = { path: shownAs, storage: opened.storage, header, master: c.master, keyset };
    try {
      return await inspect(copy, { deep: true, onProgress });
    } finally {
      copy.keyset.wipe(); // the keyset inspect ended with (it may have reloaded)
      keyset = undefined;
    }
  } finally {
    keyset?.wipe();
    storage.close(); // never the master key: it is the open store's
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
export async function backupStore(store: Store, file: string, options: BackupOptions = {}): Promise<BackupReport> {
  return reported(eventsOf(store), 'backupStore', undefined, () => backupStoreUnreported(store, file, options));
}

async function backupStoreUnreported(store: Store, file: string, options: BackupOptions): Promise<BackupReport> {
  const c = contextOf(store);
  refuseUnlogged(c, 'a backup');
  const started = performance.now();
  refuseExisting(file, 'a backup never overwrites a file: choose a new name');
  // A killed earlier backup left a whole copy of the store here: make room before writing another.
  removeLeftovers(dirname(file), 'backup');
  const tmp = privateTemp(file, 'backup');
  try {
    await c.storage.snapshotTo(tmp, options.onProgress);
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
    placeNew(tmp, file);
    syncDir(dirname(file));
    c.storage.write((tx) => {
      c.audit.append(tx, { action: 'backup', outcome: 'ok', detail: file });
      recordMaintenance(tx, 'backup', c.now());
    });
    return { file, storeId: storeIdHex(c.header), bytes, durationMs: performance.now() - started, verified };
  } catch (e) {
    // Writing the copy is what fails on a full disk (ENOSPC, SQLITE_FULL): say so, naming the file the user gave.
    throw storeFileError(e, `cannot write the backup ${file}`, file) ?? e;
  } finally {
    removeTemp(tmp);
  }
}

// ---- restore ----------------------------------------------------------

/** A backup must be one regular file holding all its data: refuse a live store with a -wal beside it. */
function checkBackupFile(backup: string): void {
  let st;
  try {
    st = statSync(backup);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new StoreError('E_NO_STORE', `no backup at ${backup}`);
    throw new StoreError('E_IO', `cannot read ${backup}: ${code ?? 'error'}`);
  }
  if (!st.isFile()) throw new StoreError('E_NOT_A_STORE', `${backup} is not a file`);
  let wal = 0;
  try {
    wal = statSync(`${backup}-wal`).size;
  } catch {
    // no -wal: a single-file backup, as `store backup` writes
  }
  if (wal > 0) {
    throw new StoreError('E_USAGE', `${backup} has a write-ahead log beside it (${basename(backup)}-wal): it is a live store, not a single-file backup`, [
      `take a backup of it first: store --store ${backup} backup NEW_FILE`,
    ]);
  }
}

/** Same file (one inode under two names)? */
function sameFile(a: string, b: string): boolean {
  try {
    const x = statSync(a);
    const y = statSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function stampOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `<store>.pre-restore-<time>`, with a counter when that name is taken. */
function keepName(path: string, ms: number): string {
  const base = `${path}.pre-restore-${stampOf(ms)}`;
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    if (!['', ...SIDE_FILES].some((s) => exists(`${name}${s}`))) return name;
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function fsFail(what: string, e: unknown): StoreError {
  return new StoreError('E_IO', `cannot ${what}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
}

/** A SQLite file's companions: its write-ahead log, WAL index and rollback journal. */
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/**
 * Put the verified file `tmp` (WAL mode, no side files of its own) at
 * `path`, keeping what was there. Returns the name the previous file is kept
 * under, or null when there was nothing to keep.
 *
 * The order matters. A -wal or -journal left at the path would be replayed
 * into the new file by the next process that opens it, and a -shm would lend
 * it the old file's WAL index. So first the old WAL is folded into its file
 * and truncated while a write transaction holds every writer off
 * (`whileQuiesced`); then the old file and all its side files get their kept names
 * as hard links (the path never goes missing, and the family stays whole:
 * whoever opens the kept file shares the WAL and WAL index of a process
 * still holding the old one open, so they never write past each other); the
 * rename swaps the new file in atomically; and only then are the old side
 * files unlinked from the path. A process that still has the old store open
 * goes on reading and writing the kept file (SQLite sees that its file moved
 * and never checkpoints into, or deletes, the files now at the path); it must
 * reopen to see the restored store.
 */
async function swapIn(tmp: string, path: string, now: number): Promise<string | null> {
  const present = () => SIDE_FILES.filter((s) => exists(`${path}${s}`));
  if (!exists(path)) {
    let kept: string | null = null;
    const left = present().filter((s) => s !== '-shm' && sizeOf(`${path}${s}`, { noFollow: true }) > 0);
    if (left.length > 0) {
      // Left by a store that is gone: keep them, but away from the new file.
      kept = keepName(path, now);
      for (const s of left) renameSync(`${path}${s}`, `${kept}${s}`);
    }
    for (const s of SIDE_FILES) rmSync(`${path}${s}`, { force: true });
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new StoreError('E_STORE_EXISTS', `${path} appeared while the backup was being restored`, ['run restore again']);
      throw fsFail(`create ${path}`, e);
    }
    return kept;
  }

  const kept = await whileQuiesced(path, () => {
    const name = keepName(path, now);
    const links: string[] = [];
    try {
      for (const s of ['', ...present()]) {
        linkSync(`${path}${s}`, `${name}${s}`);
        links.push(`${name}${s}`);
        chmodSync(`${name}${s}`, 0o600);
      }
      renameSync(tmp, path);
    } catch (e) {
      for (const l of links) rmSync(l, { force: true }); // the store at the path is untouched
      throw fsFail(`replace ${path}`, e);
    }
    // The old side files live on under the kept name: off the new file's path at once.
    for (const s of SIDE_FILES) rmSync(`${path}${s}`, { force: true });
    return name;
  });
  settle(kept); // drops the kept file's emptied -wal and its -shm, unless a process still has it open
  return kept;
}

/** The live file at `path`: absent, a store whose id we could read, or something unreadable. */
function liveStoreId(path: string): { present: boolean; id: string | undefined } {
  if (!exists(path)) return { present: false, id: undefined };
  return { present: true, id: storeIdOf(path) };
}

/**
 * Replace the store at `path` with the backup `backupFile`. The backup is
 * copied beside the store (0600) and that copy is verified first: the
 * master key `master` opens it, SQLite's checks pass, every version decrypts.
 * Then, under the store's exclusive lock, the copy is renamed over the store;
 * the previous file is kept as `<path>.pre-restore-<time>` (0600). A backup
 * of another store (another store id) is refused unless `force`; with no
 * store at `path`, the backup is simply installed. Nothing at `path` changes
 * unless every check passed.
 * @throws E_NO_STORE (no backup), E_STORE_EXISTS (another store's backup), E_NOT_A_STORE, E_WRONG_MASTER_KEY,
 *   E_TAMPERED (VerificationError), E_LOCKED, E_USAGE, E_IO
 */
export async function restoreStore(path: string, backupFile: string, master: MasterKeyChoice, options: RestoreOptions = {}): Promise<RestoreReport> {
  const started = performance.now();
  const now = options.now ?? Date.now;
  checkBackupFile(backupFile);
  if (sameFile(path, backupFile)) throw new StoreError('E_USAGE', `${backupFile} is the store itself`);
  const dir = dirname(path);
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw fsFail(`create directory ${dir}`, e);
  }

  return withExclusiveLock(path, async (lock) => {
    removeLeftovers(dir, 'restore');
    const tmp = privateTemp(path, 'restore');
    try {
      copyFileInto(backupFile, tmp, { sync: true });
      let store: Store;
      try {
        store = await openStore(tmp, master);
      } catch (e) {
        throw renamed(e, tmp, backupFile);
      }
      let report: VerifyReport;
      let live: { present: boolean; id: string | undefined };
      try {
        const c = contextOf(store);
        const storeId = storeIdHex(c.header);
        live = liveStoreId(path);
        if (live.present && !options.force) {
          if (live.id === undefined) {
            throw new StoreError('E_NOT_A_STORE', `${path} is not a store this program can read, so it cannot tell whether ${backupFile} is its backup`, [
              'pass --force to replace it anyway (the current file is kept as <store>.pre-restore-<time>)',
            ]);
          }
          if (live.id !== storeId) {
            throw new StoreError('E_STORE_EXISTS', `${path} holds store ${live.id}, but ${backupFile} is a backup of store ${storeId}`, [
              'pass --force to replace it anyway (the current file is kept as <store>.pre-restore-<time>)',
            ]);
          }
        }
        lock.check();
        report = await inspect(c, { deep: true, onProgress: options.onProgress });
        // The restored store's own log says where it came from.
        if (report.ok) c.storage.write((tx) => c.audit.append(tx, { action: 'restore', outcome: 'ok', detail: `from ${backupFile}` }));
      } finally {
        await store.close();
      }
      report.problems = report.problems.map((p) => ({ ...p, message: p.message.split(tmp).join(backupFile) }));
      if (!report.ok) {
        throw new VerificationError(`the backup ${backupFile} failed verification: ${report.problems.length + report.moreProblems} problem(s); nothing was restored`, report);
      }
      setJournalMode(tmp, 'wal');
      syncFile(tmp);
      lock.check();
      const keptAs = await swapIn(tmp, path, now());
      syncDir(dir);
      return {
        path,
        backup: backupFile,
        storeId: report.storeId,
        replacedStoreId: live.id ?? null,
        keptAs,
        forced: Boolean(options.force) && live.present && live.id !== report.storeId,
        secrets: report.secrets,
        versions: report.versions,
        liveVersions: report.liveVersions,
        deletedVersions: report.deletedVersions,
        destroyedVersions: report.destroyedVersions,
        newestWriteAt: report.newestWriteAt,
        durationMs: performance.now() - started,
      };
    } finally {
      removeTemp(tmp);
    }
  }, { wait: options.wait });
}
