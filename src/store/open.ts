/**
 * initStore / openStore: the library's doors. A wrong master key is found by
 * the master-key check before any data key or secret is touched.
 */
import { StoreError } from '../errors.js';

import { Keyset } from '../crypto/keyset.js';
import type { MasterKey, MasterKeySource, MasterParams } from '../crypto/master/master-key.js';
import { randomBytes } from '../crypto/random.js';
import { makeHeaderKey, makeMasterCheck, unwrapHeaderKey, unwrapKeyset, verifyMasterCheck, wrapKey } from './keys.js';
import { AuditLog, type AuditActor } from './audit.js';
import { userInfo } from 'node:os';
import { DEFAULT_MAX_VALUE_BYTES, MAX_VALUE_BYTES_LIMIT, headerText, readHeader, writeHeader, type StoreHeader } from './header.js';
import { upgradeRefused } from '../storage/sqlite/open.js';
import { openStorage, type OpenedStorage } from '../storage/open.js';
import { GuardedStorage } from './integrity/guarded.js';
import { RowAuthenticator } from './integrity/rows.js';
import { emptyState, sealRows } from './integrity/state.js';
import { TamperedError, WrongMasterKeyError } from '../errors.js';
import type { Storage } from '../storage/storage.js';
import { Store } from './store.js';
import type { StoreContext } from './context.js';
import { ReadCache, type CacheOptions } from './read-cache.js';
import { checkHook, EventSink, type EventHook } from './events.js';
import type { ReadOnlyView } from './read-only.js';
import { markSecretMacsCurrent } from './secret-macs.js';
import { initTarget, type InitTarget } from './init-target.js';

export interface OpenOptions {
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
  /** Who the audit log names (default: the OS user and this process). */
  actor?: AuditActor;
  /**
   * Keep decrypted values of `get` in memory, each for at most `ttlMs` after
   * it was read from the file (off by default). This process's own writes
   * drop the secret's entries at once. A write by another process or host
   * drops every entry as soon as it is noticed: on SQLite before the next
   * get (which asks the file whether anyone else committed), on PostgreSQL
   * when the server's notification of it arrives (typically well under a
   * millisecond after the commit). A read served from the
   * cache does not reach the file, so with audit.reads on only the read that
   * filled the entry is in the audit log.
   */
  cache?: CacheOptions;
  /**
   * Called once per Store method call (the functions that take a store, such
   * as backupStore, call one) with the operation, name, duration and
   * outcome; never a value. A hook that throws changes nothing.
   */
  onEvent?: EventHook;
  /**
   * Open the store for reading only (openStore; initStore ignores it). By
   * default a store this process cannot write (a read-only mount, a file or
   * directory it may not write; in PostgreSQL a role without write grants,
   * or a server taking no writes) is opened read-only, and any other
   * read-write; true: read-only even when it could write; false: read-write
   * or fail (E_IO), as before read-only consumers existed. A read-only store
   * refuses every change, backup, verify and export with E_READ_ONLY, and
   * so every read too when it audits reads (audit.reads, on by default).
   */
  readOnly?: boolean;
}

/** The cache and the hook of `options`, checked before any file is touched. @throws E_USAGE */
function libraryHooks(options: OpenOptions, now: () => number): { cache?: ReadCache; events?: EventSink } {
  const hook = checkHook(options.onEvent);
  return {
    ...(options.cache !== undefined ? { cache: new ReadCache(options.cache, now) } : {}),
    ...(hook ? { events: new EventSink(hook) } : {}),
  };
}

function defaultActor(): AuditActor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid:${process.getuid?.() ?? 'unknown'}`; // a container user with no passwd entry
  }
  return { user, pid: process.pid };
}

/**
 * The audit log of an opened store. A store made before the audit log gets
 * its key now; if another process made one meanwhile, that one wins.
 */
async function openAudit(raw: OpenedStorage, storage: Storage, header: StoreHeader, master: MasterKey, options: OpenOptions, now: () => number): Promise<AuditLog> {
  const actor = options.actor ?? defaultActor();
  if (header.auditKey !== undefined) {
    return new AuditLog(await unwrapHeaderKey('audit', master, header.storeId, header.auditKey), header.storeId, actor, now);
  }
  if (raw.readOnly) throw upgradeRefused(raw.path, raw.readOnly, 'an audit log');
  const made = await makeHeaderKey('audit', master, header.storeId);
  const log = new AuditLog(made.key, header.storeId, actor, now);
  const existing = await storage.write(async (tx) => {
    const other = await tx.getMeta('audit_key');
    if (other !== undefined) return other;
    await tx.setMeta('audit_key', made.wrapped);
    await log.append(tx, { action: 'audit.start', outcome: 'ok' });
    return undefined;
  });
  header.auditKey = existing ?? made.wrapped;
  if (existing === undefined) return log;
  log.close();
  return new AuditLog(await unwrapHeaderKey('audit', master, header.storeId, existing), header.storeId, actor, now);
}

/**
 * A store made before rows were authenticated gets its integrity key, its
 * row MACs and its state row now, in one transaction, with a master-key check
 * of the new generation; if another process sealed it meanwhile, that seal
 * stands. Returns the wrapped integrity key in force.
 */
async function sealOlderStore(raw: OpenedStorage, header: StoreHeader, master: MasterKey): Promise<string> {
  const made = await makeHeaderKey('integrity', master, header.storeId);
  const check = await makeMasterCheck(master, header.storeId);
  const auth = new RowAuthenticator(made.key, header.storeId);
  try {
    return await raw.write(async (tx) => {
      const other = await headerText(tx, 'integrity_key', raw.path);
      if (other !== undefined) return other;
      await tx.putMeta({ key: 'integrity_key', value: made.wrapped, mac: null });
      await tx.putMeta({ key: 'master_check', value: check, mac: null });
      await sealRows(tx, auth);
      return made.wrapped;
    });
  } finally {
    auth.close();
  }
}

/**
 * From a raw store file and its master key to authenticated storage: the
 * master-key check (a wrong key is E_WRONG_MASTER_KEY before anything else),
 * the integrity key, and the header read again with every entry and the state
 * row checked. The header read before the key (to choose it) is replaced by this one.
 * @throws E_WRONG_MASTER_KEY, E_TAMPERED, E_MASTER_KEY
 * @internal for backup.ts; left out of the published declarations, which would otherwise need better-sqlite3's types
 */
export async function authenticate(raw: OpenedStorage, path: string, master: MasterKey): Promise<{ storage: GuardedStorage; header: StoreHeader }> {
  const unchecked = await raw.read((tx) => readHeader(tx, path));
  const generation = await verifyMasterCheck(master, unchecked.storeId, unchecked.masterCheck);
  let wrapped = await raw.read((tx) => headerText(tx, 'integrity_key', path));
  if (generation === 1) {
    if (wrapped !== undefined) throw new TamperedError(`${path}: the master-key check is older than the store's integrity key: the header was altered`);
    // Sealing writes: an older store must be opened once by a writer before read-only consumers can read it.
    if (raw.readOnly) throw upgradeRefused(path, raw.readOnly, 'authenticated rows');
    wrapped = await sealOlderStore(raw, unchecked, master);
  } else if (wrapped === undefined) {
    throw new TamperedError(`${path}: the store's integrity key is missing: the header was altered`);
  }
  const auth = new RowAuthenticator(await unwrapHeaderKey('integrity', master, unchecked.storeId, wrapped), unchecked.storeId);
  const storage = new GuardedStorage(raw, auth);
  try {
    const header = await storage.read(async (tx) => {
      await tx.auditHead(); // loads and checks the state row
      return readHeader(tx, path);
    });
    return { storage, header };
  } catch (e) {
    auth.close();
    throw e;
  }
}

export interface InitOptions extends OpenOptions {
  /** Largest value accepted, in bytes (default 1 MiB). */
  maxValueBytes?: number;
  /** Versions kept per secret unless a secret says otherwise (default 0: all). */
  maxVersions?: number;
}

const STORE_ID_BYTES = 16;

/**
 * Create a new store at `path` protected by `master`: a SQLite file, or the
 * schema of a store in the PostgreSQL database a `postgres://` URL names.
 * @throws E_STORE_EXISTS, E_MASTER_KEY, E_INSECURE_KEYFILE, E_USAGE, E_IO
 */
export async function initStore(path: string, master: MasterKeySource, options: InitOptions = {}): Promise<Store> {
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes < 1 || maxValueBytes > MAX_VALUE_BYTES_LIMIT) {
    throw new StoreError('E_USAGE', `maxValueBytes must be 1..${MAX_VALUE_BYTES_LIMIT}`);
  }
  const maxVersions = options.maxVersions ?? 0;
  if (!Number.isSafeInteger(maxVersions) || maxVersions < 0) throw new StoreError('E_USAGE', 'maxVersions must be 0 (all) or more');
  const now = options.now ?? Date.now;
  const hooks = libraryHooks(options, now);
  const storeId = randomBytes(STORE_ID_BYTES);
  const created = now();

  // All the slow and fallible key work first, so a failure leaves no file behind.
  const { key, params } = await master.create(storeId);
  const keyset = new Keyset();
  let raw: OpenedStorage | undefined;
  let target: InitTarget | undefined;
  try {
    const first = keyset.generate(created, 'primary');
    keyset.add(first);
    const row = await wrapKey(key, storeId, first);
    const auditKey = await makeHeaderKey('audit', key, storeId);
    const integrityKey = await makeHeaderKey('integrity', key, storeId);
    const header: StoreHeader = {
      storeId, createdAt: created, master: params, masterCheck: await makeMasterCheck(key, storeId),
      maxValueBytes, defaultMaxVersions: maxVersions, auditKey: auditKey.wrapped, auditReads: true,
    };
    const audit = new AuditLog(auditKey.key, storeId, options.actor ?? defaultActor(), now);
    // A store file is built under a temporary name and placed at `path` only once complete (init-target.ts).
    target = await initTarget(path);
    raw = target.storage;
    let storage = new GuardedStorage(raw, new RowAuthenticator(integrityKey.key, storeId));
    await storage.raw.write((raw) => emptyState(raw, storage.auth));
    await storage.write(async (tx) => {
      await writeHeader(tx, header);
      await tx.setMeta('integrity_key', integrityKey.wrapped);
      await markSecretMacsCurrent(tx);
      await tx.insertKey(row);
      await audit.append(tx, { action: 'init', outcome: 'ok', detail: `master ${params.kind}` });
    });
    if (target.place) {
      raw = undefined;
      await storage.close(); // folds its -wal into the file before it is linked into place
      raw = await target.place();
      ({ storage } = await authenticate(raw, raw.path, key));
    }
    return new Store({ path: raw.path, storage, header, master: key, keyset, now, audit, ...hooks });
  } catch (e) {
    keyset.wipe();
    key.close();
    await raw?.close();
    target?.discard();
    throw target ? target.named(e) : e;
  }
}

/** A master-key source, or a function choosing one from the store's recorded parameters. */
export type MasterKeyChoice = MasterKeySource | ((params: MasterParams) => MasterKeySource | Promise<MasterKeySource>);

/** What a read-only store's context holds; nothing for a writable one. */
function readOnlyView(raw: OpenedStorage): { readOnly?: ReadOnlyView } {
  const reason = raw.readOnly;
  return reason ? { readOnly: { reason, refresh: () => raw.refresh() } } : {};
}

/**
 * Open the store at `path` (a file, or a `postgres://` URL) with `master`
 * (or with the source `master` picks once it has seen which kind of master
 * key the store was made with).
 * Read-only when this process cannot write it, or `options.readOnly` says so.
 * @throws E_NO_STORE, E_NOT_A_STORE, E_SCHEMA_TOO_NEW, E_WRONG_MASTER_KEY, E_MASTER_KEY, E_TAMPERED, E_IO;
 *   E_READ_ONLY when read-only and the store is from an older version (opening it upgrades it, a write)
 */
export async function openStore(path: string, master: MasterKeyChoice, options: OpenOptions = {}): Promise<Store> {
  return new Store(await openContext(path, master, options));
}

/**
 * What openStore wraps in a Store: the opened store's context. Close it with
 * closeContext (context.ts) once done.
 * @internal for restore.ts, which checks a backup's copy without a Store around it
 */
export async function openContext(path: string, master: MasterKeyChoice, options: OpenOptions = {}): Promise<StoreContext> {
  const now = options.now ?? Date.now;
  const hooks = libraryHooks(options, now);
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') throw new StoreError('E_USAGE', 'readOnly must be true or false');
  const raw = await openStorage(path, options.readOnly);
  const shown = raw.path; // a URL without its password
  try {
    for (let attempt = 1; ; attempt++) {
      const params = await raw.read((tx) => readHeader(tx, shown));
      let key: MasterKey | undefined;
      let storage: GuardedStorage | undefined;
      let keyset: Keyset | undefined;
      try {
        const source = typeof master === 'function' ? await master(params.master) : master;
        key = await source.unlock(params.storeId, params.master);
        const opened = await authenticate(raw, shown, key);
        storage = opened.storage;
        const header = opened.header;
        keyset = await unwrapKeyset(key, header.storeId, await storage.keys());
        const audit = await openAudit(raw, storage, header, key, options, now);
        return { path: shown, storage, header, master: key, keyset, now, audit, ...hooks, ...readOnlyView(raw) };
      } catch (e) {
        key?.close();
        storage?.abandon();
        keyset?.wipe();
        // The header, the integrity key and the keys are read one after another: a rotate-master that committed
        // in between mixes the old with the new (a false E_TAMPERED, or E_WRONG_MASTER_KEY). Then open again, as of now.
        if (attempt < OPEN_ATTEMPTS && (e instanceof TamperedError || e instanceof WrongMasterKeyError) && await masterChangedSince(raw, params)) continue;
        throw e;
      }
    }
  } catch (e) {
    await raw.close();
    throw e;
  }
}

/** Opens begun again when the master key was rotated in the middle of one. */
const OPEN_ATTEMPTS = 5;

/** Whether the store's master key parameters or check changed since `params` were read (a rotate-master committed). */
async function masterChangedSince(raw: OpenedStorage, params: StoreHeader): Promise<boolean> {
  const now = await raw.read((tx) => readHeader(tx, raw.path)).catch(() => undefined);
  return now !== undefined && (now.masterCheck !== params.masterCheck || JSON.stringify(now.master) !== JSON.stringify(params.master));
}


/**
 * The public facts of the store at `path` (its id and master-key parameters)
 * without unlocking it: enough to tell the unlock agent which store to forget.
 * @throws E_NO_STORE, E_NOT_A_STORE, E_SCHEMA_TOO_NEW
 */
export async function peekStore(path: string): Promise<{ storeId: Uint8Array; master: MasterParams }> {
  const storage = await openStorage(path);
  try {
    const header = await storage.read((tx) => readHeader(tx, storage.path));
    return { storeId: header.storeId, master: header.master };
  } finally {
    await storage.close();
  }
}
