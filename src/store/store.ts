/**
 * The Store: versioned secrets with Vault KV v2 semantics over the narrow
 * Storage interface. This class is the facade every operation goes through:
 * it reports to the onEvent hook (#observe), audits failed changes and drops
 * the cached reads they may have made stale (#change), audits reads (#read),
 * serves gets from the read cache, and scrubs the WAL after an erase. The
 * operations themselves live by concern: secrets/ (write, read, lifecycle,
 * metadata), status.ts, rotation.ts and master-rotation.ts (keys),
 * audit-ops.ts, config.ts, policy.ts, stats.ts, audit-summary.ts, backup/
 * and transfer/. They take the StoreContext and never the Store: this class
 * holds the only one, so every way in goes through its rules. The API is
 * async (docs/design.md §8).
 */
import { StoreError } from '../errors.js';
import { checkMasterKeySource, type MasterKeySource } from '../crypto/master/master-key.js';
import { SecretBytes } from '../crypto/secret.js';
import { destroyKey, rotateKeys, type RotateOptions, type RotateReport } from './rotation.js';
import { rotateMaster } from './master-rotation.js';
import type { ConfigKey } from './header.js';
import { checkName, nameProblem } from './names.js';
import type { CacheStats, ReadCache } from './read-cache.js';
import { outcomeOf, reported, type EventSink, type StoreOperation } from './events.js';
import type { AuditEntry } from './audit.js';
import { changeRefused, refuseUnlogged, unloggedReadRefused } from './read-only.js';
import { AuditBatcher } from './audit-batch.js';
import { capturedAuditContext } from './audit-context.js';
import { checkRequestRecord, type RequestRecord } from './audit-request.js';
import type { StoreContext } from './context.js';
import { writeBackup, type BackupOptions, type BackupReport } from './backup/backup.js';
import { verifyAndRecord, type VerifyOptions, type VerifyReport } from './backup/verify.js';
import { writeBundleExport } from './transfer/export.js';
import { importBundleInto } from './transfer/import.js';
import { importPlainInto, writePlainExport } from './transfer/plaintext.js';
import type { BundleImportOptions, ExportOptions, ExportReport, ImportReport, PlainExportOptions, PlainImportOptions } from './transfer/types.js';
import {
  checkRotationPolicy, findDue, findDueSecrets, readExpiry, readPolicyStatus, rotateSecretValue, writePolicy,
  type Clock, type DueSecret, type PolicyStatus, type RotationPolicy,
} from './policy.js';
import { takeStats, type StatsOptions, type StoreStats } from './stats.js';
import { summarizeAudit, type AuditSummary } from './audit-summary.js';
import { checkClock, checkPath, checkVersionNumber, optionalString, optionsObject, requiredObject, selectorOf, usage } from './secrets/checks.js';
import { checkCas, putSecret, rollbackSecret } from './secrets/write.js';
import { listSecrets, readDetail, readEntry, readHistory, readSecret, secretEntries } from './secrets/read.js';
import { destroyVersions, purgeSecret, setDeleted } from './secrets/lifecycle.js';
import { readMetadata, updateMetadata } from './secrets/metadata.js';
import { listKeys, storeStatus } from './status.js';
import { auditEntries, pruneAudit, verifyAudit } from './audit-ops.js';
import { getConfig, setConfig } from './config.js';
import { changeRecords, checkAudit, listRecords, readRecord, type RecordAudit, type RecordTx } from './records.js';
import type { Awaitable, RecordEntry } from '../storage/storage.js';
import type {
  AuditPruneReport, AuditQuery, AuditRecord, AuditVerifyReport, GetOptions, KeyInfo, ListOptions, MetadataUpdate, PutOptions, SecretDetail, SecretMetadata, SecretSummary,
  SecretVersion, StoreStatus, VersionEntry, VersionInfo, VersionsOptions, WriteResult,
} from './types.js';

export type { StoreContext } from './context.js';

/** How soon a long-lived Store follows audit.reads changed by another connection, in ms (#headerStale). */
export const FOLLOW_MS = 100;

/** Failures that happen before the store is touched: not audited (see #recordFailure). */
const REFUSED_INPUT = new Set<string>(['E_USAGE', 'E_INVALID_NAME', 'E_INVALID_VALUE', 'E_VALUE_TOO_LARGE']);

/**
 * A list's audit detail: its pattern ('*' for none). A pattern that holds '='
 * is left out, as every message leaves it out: `store list FOO=hunter2` is the
 * NAME=value habit, and what follows '=' may be a value.
 */
function listDetail(pattern: string | undefined): string {
  if (!pattern) return '*';
  return pattern.includes('=') ? "(a pattern holding '=', not recorded)" : pattern;
}

/** list's and entries' options, checked. @throws E_USAGE */
function listOptions(options: ListOptions | undefined): ListOptions {
  const o = optionsObject(options, 'list options');
  optionalString(o.pattern, 'pattern');
  return o;
}

/** auditEntries' filter, checked (its times are checked as they are read). @throws E_USAGE */
function auditQuery(filter: AuditQuery | undefined): AuditQuery {
  const q = optionsObject(filter, 'the audit filter');
  optionalString(q.name, 'the audit filter\'s name');
  optionalString(q.action, 'the audit filter\'s action');
  return q;
}

/** A setting's name, checked to be a string (config.ts checks it is one there is). @throws E_USAGE */
function checkConfigKey(key: ConfigKey): ConfigKey {
  if (typeof key !== 'string') throw usage('a setting\'s name is a string, such as audit.reads');
  return key;
}

/** An async generator whose first step runs `make`: a bad argument then rejects the first next(), never throws at the call. */
async function* deferred<T>(make: () => AsyncGenerator<T>): AsyncGenerator<T> {
  yield* make();
}

export class Store {
  readonly #c: StoreContext;
  #closed = false;
  /** A destroy or purge whose WAL checkpoint has not finished yet. */
  #scrubPending = false;
  readonly #cache: ReadCache | undefined;
  readonly #events: EventSink | undefined;
  /** Neither a cache nor a hook: get takes its shortest path. */
  readonly #plain: boolean;
  /** The context, checked open (and a read-only snapshot refreshed), for operations that ask again per page. */
  readonly #context = (): StoreContext => this.#ctx();
  /** Audit entries without a change of their own (reads, failed reads, requests), group-committed. */
  readonly #audits: AuditBatcher;
  /** The storage's change detector (RawStorage.changeCounter), when it has one. */
  readonly #changes: (() => number | undefined) | undefined;
  /** What the detector said when audit.reads was last read from the header (at the open: when this Store was made); undefined: unknown. */
  #headerSeen: number | undefined;
  /** performance.now() from which #headerStale looks at the change counter again. */
  #nextLook = 0;

  constructor(context: StoreContext) {
    this.#c = context;
    this.#audits = new AuditBatcher(context);
    this.#cache = context.cache;
    this.#events = context.events;
    // Other connections' writes drop the cached reads as soon as the driver notices them.
    const raw = context.storage.raw;
    if (this.#cache && raw.changeCounter) this.#cache.follow(() => raw.changeCounter!());
    this.#changes = raw.changeCounter ? () => raw.changeCounter!() : undefined;
    // The header was read as the store was opened: commits from here on make it stale (#headerStale). A store in a
    // database server starts its detector (a listening connection) only at its first read, so a process that never
    // reads (a CLI write) opens none; its first answer then counts as a change, and the header is read again once.
    if (context.storage.file) this.#headerSeen = this.#changes?.();
    this.#plain = !this.#cache && !this.#events;
  }

  get path(): string {
    return this.#c.path;
  }

  /** The largest value this store takes, in bytes (from its authenticated header; no query). */
  get maxValueBytes(): number {
    return this.#ctx().header.maxValueBytes;
  }

  /** Whether the store is open read-only: it refuses changes, and reads too when it audits them (src/store/read-only.ts). */
  get readOnly(): boolean {
    return this.#c.readOnly !== undefined;
  }

  #ctx(): StoreContext {
    if (this.#closed) throw new StoreError('E_CLOSED', 'the store is closed');
    this.#c.readOnly?.refresh(); // a read-only snapshot follows the writers
    return this.#c;
  }

  /**
   * Run a change; if it fails, record the failure in the audit log (in its
   * own transaction: the change's rolled back) and rethrow. A change that
   * succeeds records itself inside its own transaction.
   */
  async #change<T>(action: string, name: string | undefined | null, fn: () => Promise<T> | T): Promise<T> {
    // Before any lock or key work, and not recorded: a read-only store's log cannot be written either.
    if (this.#c.readOnly) throw changeRefused(this.#c.path, this.#c.readOnly.reason);
    try {
      return await fn();
    } catch (e) {
      await this.#recordFailure(action, name ?? undefined, e, false);
      throw e;
    } finally {
      this.#changed(name);
    }
  }

  /**
   * Before a change's result (or error) reaches the caller: drop the cached
   * reads it may have made stale, those of `name`, or all for a store-wide
   * change; none for `null`, a change of no secret (records). A failed change
   * drops them too: it may have failed after its commit.
   */
  #changed(name: string | undefined | null): void {
    if (this.#cache === undefined || name === null) return;
    if (name === undefined) this.#cache.clear();
    else this.#cache.invalidate(name);
  }

  /** Run a public operation and report it to the onEvent hook, if there is one. */
  #observe<T>(operation: StoreOperation, name: string | undefined, fn: () => Promise<T> | T): Promise<T> {
    return reported(this.#events, operation, name, fn);
  }

  /**
   * Whether audit.reads may have changed since this Store last read it from
   * the header: another connection (process, handle, host) committed since,
   * as the storage's change detector shows (SQLite's data_version behind a
   * look at the WAL index, PostgreSQL's notifications; a read-only
   * snapshot's refresh counts as a change too). Nothing is queried when no
   * one committed. When the detector cannot tell just now (this connection
   * is inside another operation's read snapshot, which a read of the header
   * would see just the same; PostgreSQL's listener reconnecting), the header
   * is kept until it can: the counter moves on then, so no change is lost.
   * A driver without a detector keeps the header read at open.
   */
  #headerStale(always = false): boolean {
    if (this.#changes === undefined) return false;
    // At most one look per FOLLOW_MS: the look is a read of the WAL index (a system call, ~1 µs), a few per cent of
    // a get; a setting another process changed is followed within that time.
    const t = performance.now();
    if (t < this.#nextLook && !always) return false;
    const now = this.#changes();
    const stale = now !== undefined && now !== this.#headerSeen;
    // Stale: looked at again on the next call (the one that reads the header anew), not FOLLOW_MS from now.
    this.#nextLook = stale ? 0 : t + FOLLOW_MS;
    return stale;
  }

  /** Read audit.reads again from the authenticated header (another process may have changed it: `store config set`). */
  async #reloadHeader(): Promise<void> {
    // Taken before the read: a commit while it runs leaves the header stale for the next look.
    const now = this.#changes?.();
    const value = await this.#c.storage.getMeta('config.audit.reads');
    this.#c.header.auditReads = value !== 'false';
    this.#headerSeen = now;
  }

  /** Run a read and record it (unless reads are not audited); a read that cannot be recorded fails. */
  async #read<T>(entry: Omit<AuditEntry, 'outcome'>, fn: () => Promise<T> | T, versionsOf?: (result: T) => number[]): Promise<T> {
    const c = this.#ctx();
    // The request this read is for, taken before the first await (a context handed over lasts only until then).
    const flow = capturedAuditContext();
    // Another process may have turned read auditing on (or off) since this one last looked.
    if (this.#headerStale()) await this.#reloadHeader();
    // Fail closed before the read: a value never leaves a read that cannot be logged.
    if (c.header.auditReads && c.readOnly) throw unloggedReadRefused(c.path, c.readOnly.reason);
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      if (c.header.auditReads) await this.#recordFailure(entry.action, entry.name, e, true, flow);
      throw e;
    }
    if (c.header.auditReads) {
      const versions = versionsOf?.(result);
      await this.#audits.append({ ...entry, ...(versions ? { versions } : {}), outcome: 'ok' }, undefined, flow);
    }
    return result;
  }

  /**
   * Input refused before the store was touched (a bad name, value or option)
   * leaves the file exactly as it was; everything else that failed (not
   * found, check-and-set, tampered, locked…) is an attempt worth recording.
   */
  async #recordFailure(action: string, name: string | undefined, e: unknown, relaxed: boolean, flow = capturedAuditContext()): Promise<void> {
    if (this.#closed || (e instanceof StoreError && REFUSED_INPUT.has(e.code))) return;
    // Not recorded: the operation already waited the whole busy timeout for the write lock another connection holds,
    // and the failure's entry would need that same lock: a second full wait (the caller told "locked" after twice the
    // documented timeout), most likely to fail the same way. Skipped rather than tried with a short wait, which would
    // succeed only when the lock came free in that moment, and then record nothing the caller's error does not say.
    if (e instanceof StoreError && e.code === 'E_LOCKED') return;
    const c = this.#c;
    const entry: AuditEntry = {
      action,
      outcome: e instanceof StoreError ? e.code : 'E_INTERNAL',
      ...(name !== undefined && nameProblem(name) === undefined ? { name } : {}),
    };
    try {
      if (relaxed) await this.#audits.append(entry, undefined, flow);
      else await c.storage.write((tx) => c.audit.append(tx, entry));
    } catch {
      // The operation failed already; that failure is what the caller must see.
    }
  }

  /**
   * Write a new version of `name`.
   * @throws E_INVALID_NAME, E_INVALID_VALUE, E_VALUE_TOO_LARGE, E_CAS_MISMATCH, E_USAGE
   */
  async put(name: string, value: Uint8Array | string | SecretBytes, options: PutOptions = {}): Promise<WriteResult> {
    return this.#observe('put', name, async () => {
      const c = this.#ctx();
      checkName(name);
      options = optionsObject(options, 'put options');
      checkCas(options.cas);
      const written = await this.#change('put', name, () => putSecret(c, name, value, options));
      if (this.#scrubPending) await this.#scrub();
      return written;
    });
  }

  /**
   * Read the current version, a given version, or the version current at a time.
   * With the read cache on (OpenOptions.cache), a repeat of the first two within
   * the TTL is served from memory, and so not audited.
   * @throws E_NOT_FOUND, E_DELETED, E_DESTROYED, E_TAMPERED, E_INVALID_NAME, E_USAGE
   */
  get(name: string, options: GetOptions = {}): Promise<SecretVersion> {
    if (!this.#plain) return this.#getObserved(name, options);
    // Not async: on the hot path the read answers at once, and its one promise is made here.
    try {
      const read = this.#getRecorded(name, optionsObject(options, 'get options'));
      return read instanceof Promise ? read : Promise.resolve(read);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A read of the store file, audited when reads are. */
  #getRecorded(name: string, options: GetOptions): Awaitable<SecretVersion> {
    const c = this.#ctx();
    // The hot path: with reads not audited (and no other connection's commit since that was read from the
    // header: a look at the change counter, no query), one read and one AEAD open, no extra async hops.
    if (!c.header.auditReads && !this.#headerStale()) return readSecret(c, name, options);
    return this.#read({ action: 'get', name }, () => readSecret(this.#ctx(), name, options), (s) => [s.version]);
  }

  /**
   * get through the read cache (when on) and reported to the hook (when
   * there is one). A cache hit does not reach the file, so it is not audited.
   */
  async #getObserved(name: string, options: GetOptions): Promise<SecretVersion> {
    const started = this.#events ? performance.now() : 0;
    let cached = false;
    try {
      this.#ctx();
      options = optionsObject(options, 'get options');
      const cache = this.#cache;
      const selector = cache && selectorOf(options);
      let result: SecretVersion;
      if (cache === undefined || selector === undefined) {
        result = await this.#getRecorded(name, options);
      } else {
        checkName(name);
        const hit = cache.get(name, selector);
        if (hit) {
          cached = true;
          result = hit;
        } else {
          // Both taken before the read: the entry's age counts from here, and a write meanwhile keeps it out.
          const epoch = cache.epoch;
          const readAt = cache.now();
          result = await this.#getRecorded(name, options);
          cache.set(selector, result, readAt, epoch);
        }
      }
      this.#events?.emit('get', name, started, 'ok', cached);
      return result;
    } catch (e) {
      this.#events?.emit('get', name, started, outcomeOf(e), false);
      throw e;
    }
  }

  /** The read cache's counters; undefined when the store was opened without a cache. */
  cacheStats(): CacheStats | undefined {
    this.#ctx();
    return this.#cache?.stats();
  }

  /** Drop (and wipe) every cached value; the next get of each reads the store file. */
  clearCache(): void {
    this.#ctx();
    this.#cache?.clear();
  }

  /**
   * A version (the current one by default) with its secret's metadata,
   * whatever its state: the value only when it is live. One audited read.
   * @throws E_NOT_FOUND, E_TAMPERED, E_INVALID_NAME, E_USAGE
   */
  async getEntry(name: string, options: { version?: number } = {}): Promise<VersionEntry> {
    return this.#observe('getEntry', name, () => {
      const c = this.#ctx();
      const { version } = optionsObject(options, 'getEntry options');
      return this.#read({ action: 'get', name }, () => readEntry(c, name, version), (e) => [e.version]);
    });
  }

  /** A secret's metadata and every version's, in one audited read. @throws E_NOT_FOUND */
  async describe(name: string): Promise<SecretDetail> {
    return this.#observe('describe', name, () => {
      const c = this.#ctx();
      return this.#read({ action: 'metadata.get', name }, () => readDetail(c, name));
    });
  }

  /** Every version of `name`, oldest first. @throws E_NOT_FOUND */
  async history(name: string): Promise<VersionInfo[]> {
    return this.#observe('history', name, () => {
      const c = this.#ctx();
      return this.#read({ action: 'history', name }, () => readHistory(c, name));
    });
  }

  /** Names and metadata (never values), a page at a time: safe for very large stores. */
  entries(options: ListOptions = {}): AsyncGenerator<SecretSummary> {
    return deferred(() => secretEntries(this.#context, listOptions(options)));
  }

  /** All matching secrets' summaries, sorted by name. */
  async list(options: ListOptions = {}): Promise<SecretSummary[]> {
    return this.#observe('list', undefined, () => {
      const o = listOptions(options);
      return this.#read({ action: 'list', detail: listDetail(o.pattern) }, () => listSecrets(this.#context, o));
    });
  }

  /** Soft-delete versions (the current one by default); undelete restores them. @throws E_NOT_FOUND */
  async delete(name: string, options: VersionsOptions = {}): Promise<number[]> {
    return this.#observe('delete', name, () => {
      const c = this.#ctx();
      checkName(name);
      const o = optionsObject(options, 'delete options');
      return this.#change('delete', name, () => setDeleted(c, 'delete', name, o.versions, o.skipMissing));
    });
  }

  /** Restore soft-deleted versions (the current one by default). @throws E_NOT_FOUND */
  async undelete(name: string, options: VersionsOptions = {}): Promise<number[]> {
    return this.#observe('undelete', name, () => {
      const c = this.#ctx();
      checkName(name);
      const o = optionsObject(options, 'undelete options');
      return this.#change('undelete', name, () => setDeleted(c, 'undelete', name, o.versions, o.skipMissing));
    });
  }

  /**
   * Erase the ciphertexts of these versions for good. Freed pages are zeroed
   * (secure_delete) and the WAL is checkpointed so no old page lingers.
   * @throws E_NOT_FOUND, E_USAGE
   */
  async destroy(name: string, versions: number[], options: Pick<VersionsOptions, 'skipMissing'> = {}): Promise<number[]> {
    return this.#observe('destroy', name, async () => {
      const c = this.#ctx();
      checkName(name);
      const o = optionsObject(options, 'destroy options');
      const done = await this.#change('destroy', name, () => destroyVersions(c, name, versions, o.skipMissing));
      await this.#scrub();
      return done;
    });
  }

  /** Remove the secret and every version. @throws E_NOT_FOUND */
  async purge(name: string): Promise<void> {
    return this.#observe('purge', name, async () => {
      const c = this.#ctx();
      checkName(name);
      await this.#change('purge', name, () => purgeSecret(c, name));
      await this.#scrub();
    });
  }

  /**
   * After destroy or purge: checkpoint and truncate the WAL so the erased
   * ciphertext's old page lingers nowhere. Another connection's open snapshot
   * can block that; then the erase itself stands, and this process tries
   * again after each later write and at close until it succeeds.
   */
  async #scrub(): Promise<void> {
    const file = this.#c.storage.file;
    this.#scrubPending = file !== undefined && !(await file.checkpoint());
  }

  /**
   * Write a new version whose value is version `version`'s.
   * @throws E_NOT_FOUND, E_DELETED, E_DESTROYED, E_CAS_MISMATCH
   */
  async rollback(name: string, version: number, options: { cas?: number } = {}): Promise<WriteResult> {
    return this.#observe('rollback', name, () => {
      const c = this.#ctx();
      checkName(name);
      const { cas } = optionsObject(options, 'rollback options');
      checkCas(cas);
      return this.#change('rollback', name, () => rollbackSecret(c, name, version, cas));
    });
  }

  /** @throws E_NOT_FOUND */
  async getMetadata(name: string): Promise<SecretMetadata> {
    return this.#observe('getMetadata', name, () => {
      const c = this.#ctx();
      return this.#read({ action: 'metadata.get', name }, () => readMetadata(c, name));
    });
  }

  /**
   * Change max versions (older versions beyond it are pruned at once) or the custom map.
   * @throws E_NOT_FOUND, E_USAGE
   */
  async setMetadata(name: string, update: MetadataUpdate): Promise<SecretMetadata> {
    return this.#observe('setMetadata', name, () => {
      const c = this.#ctx();
      checkName(name);
      requiredObject(update, 'the metadata update');
      return this.#change('metadata.set', name, () => updateMetadata(c, name, update));
    });
  }

  /** Store-wide facts: ids, counts, keys. Never key material. */
  async status(): Promise<StoreStatus> {
    return this.#observe('status', undefined, () => storeStatus(this.#ctx()));
  }

  /**
   * Rotate data keys: a new primary (unless `ifOlderThanMs` says the current
   * one is young enough), then rewrap old versions in short batches and retire
   * unused keys. Runs under the store's exclusive lock; resumable.
   * @throws E_LOCKED, E_USAGE, E_TAMPERED
   */
  async rotateKeys(options: RotateOptions = {}): Promise<RotateReport> {
    return this.#observe('rotateKeys', undefined, () => {
      const c = this.#ctx();
      const o = optionsObject(options, 'rotateKeys options');
      if (o.ifOlderThanMs !== undefined && typeof o.ifOlderThanMs !== 'number') throw usage('ifOlderThanMs must be a number of milliseconds, 0 or more');
      return this.#change('rotate-keys', undefined, () => rotateKeys(c, o));
    });
  }

  /** The data keys with how many versions each encrypts. */
  async keys(): Promise<KeyInfo[]> {
    return this.#observe('keys', undefined, () => listKeys(this.#ctx()));
  }

  /** Erase a retired data key. @throws E_KEY_IN_USE, E_NOT_FOUND, E_LOCKED */
  async destroyKey(keyVersion: number, options: { wait?: boolean } = {}): Promise<void> {
    return this.#observe('destroyKey', undefined, async () => {
      const c = this.#ctx();
      const o = optionsObject(options, 'destroyKey options');
      await this.#change('keys.destroy', undefined, () => {
        checkVersionNumber(keyVersion, 'key version');
        return destroyKey(c, keyVersion, o);
      });
    });
  }

  /**
   * Wrap the data keys under a new master key; the old one no longer opens the store.
   * @throws E_LOCKED, E_MASTER_KEY
   */
  async rotateMaster(next: MasterKeySource, options: { wait?: boolean } = {}): Promise<void> {
    return this.#observe('rotateMaster', undefined, async () => {
      const c = this.#ctx();
      checkMasterKeySource(next);
      const o = optionsObject(options, 'rotateMaster options');
      const key = await this.#change('rotate-master', undefined, () => rotateMaster(c, next, o));
      c.master.close();
      c.master = key;
    });
  }

  /** Audit entries, oldest first, a page at a time; filtered by name, action and time. */
  auditEntries(filter: AuditQuery = {}): AsyncGenerator<AuditRecord> {
    return deferred(() => auditEntries(this.#context, auditQuery(filter)));
  }

  /** Check the audit chain: the first entry that was edited, dropped, moved or inserted, if any. */
  async verifyAudit(): Promise<AuditVerifyReport> {
    return this.#observe('verifyAudit', undefined, () => verifyAudit(this.#ctx()));
  }

  /**
   * Audit retention: remove the oldest entries, those before `before`
   * (a date, ISO string or ms), keeping the last one. The chain stays
   * verifiable: the removed part is verified first (a damaged log is not
   * pruned, so damage cannot be pruned away), and the last removed entry's
   * number and MAC become the kept chain's start, an authenticated header
   * entry. The prune is itself audited.
   * @throws E_TAMPERED when the log is damaged, E_USAGE
   */
  async pruneAudit(options: { before: Date | number | string }): Promise<AuditPruneReport> {
    return this.#observe('pruneAudit', undefined, () => {
      const c = this.#ctx();
      requiredObject(options, 'pruneAudit options ({ before })');
      return this.#change('audit.prune', undefined, () => pruneAudit(c, options));
    });
  }

  /** A store setting (see CONFIG_KEYS). */
  async getConfig(key: ConfigKey): Promise<string> {
    return this.#observe('getConfig', undefined, async () => {
      const c = this.#ctx();
      checkConfigKey(key);
      if (this.#headerStale(true)) await this.#reloadHeader();
      return getConfig(c, key);
    });
  }

  /** Change a store setting; audited. */
  async setConfig(key: ConfigKey, value: string): Promise<void> {
    return this.#observe('setConfig', undefined, () => {
      const c = this.#ctx();
      checkConfigKey(key);
      if (typeof value !== 'string') throw usage('a setting\'s value is a string');
      return this.#change('config.set', undefined, () => setConfig(c, key, value));
    });
  }

  /**
   * Write a consistent snapshot of the store to `file`, a new file of mode
   * 0600, while other processes keep reading and writing; with `verify`, the
   * copy is opened and every version decrypted before it is kept. Recorded in
   * the audit log. Reported to the hook as `backupStore`.
   * @throws E_STORE_EXISTS (never overwrites), E_IO, E_READ_ONLY; with `verify`, VerificationError (E_TAMPERED, E_NOT_A_STORE)
   */
  async backup(file: string, options: BackupOptions = {}): Promise<BackupReport> {
    return this.#observe('backupStore', undefined, () => {
      const c = this.#ctx();
      return writeBackup(c, checkPath(file, 'the backup file'), optionsObject(options, 'backup options'));
    });
  }

  /**
   * Check the store (SQLite's structure, the master key, every data key and
   * authenticated row; with `deep`, every live and deleted value decrypts).
   * Problems are listed in the report, not thrown. Recorded in the audit log.
   * Reported to the hook as `verifyStore`.
   * @throws E_READ_ONLY
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    return this.#observe('verifyStore', undefined, () => {
      const c = this.#ctx();
      return verifyAndRecord(c, optionsObject(options, 'verify options'));
    });
  }

  /**
   * Write an encrypted bundle of the secrets to `path` (a new file, 0600): a
   * v1 bundle under `key`, or an age bundle to `recipients`. One consistent
   * snapshot; recorded in the audit log. Reported to the hook as `exportStore`.
   * @throws E_USAGE (file exists), E_IO, E_MASTER_KEY, E_INSECURE_KEYFILE, E_TAMPERED, E_READ_ONLY
   */
  async exportBundle(path: string, options: ExportOptions): Promise<ExportReport> {
    return this.#observe('exportStore', undefined, () => {
      const c = this.#ctx();
      return writeBundleExport(c, checkPath(path, 'the export file'), requiredObject(options, 'exportBundle options ({ key } or { recipients })'));
    });
  }

  /**
   * Write each current live value in clear text, as JSON or .env, to `path`
   * (a new file, 0600). Recorded in the audit log.
   * @throws E_USAGE, E_INVALID_VALUE, E_IO, E_TAMPERED, E_READ_ONLY
   */
  async exportPlain(path: string, options: PlainExportOptions): Promise<ExportReport> {
    return this.#observe('exportPlain', undefined, () => {
      const c = this.#ctx();
      const o = requiredObject(options, 'exportPlain options ({ format })');
      if (typeof o.format !== 'string') throw usage('a plaintext export\'s format is "json" or "env"');
      return writePlainExport(c, checkPath(path, 'the export file'), o);
    });
  }

  /**
   * Import an encrypted bundle (v1 with `key`, age with `identities`): every
   * record checked first, then one transaction. A store-wide change: a failed
   * import is audited and every cached read dropped; a dry run only reads.
   * @throws E_WRONG_MASTER_KEY, E_TAMPERED, E_UNSUPPORTED_FORMAT, E_INVALID_IMPORT, E_MASTER_KEY, E_IO, E_USAGE, E_INTERRUPTED, E_READ_ONLY
   */
  async importBundle(path: string, options: BundleImportOptions): Promise<ImportReport> {
    return this.#observe('importBundle', undefined, () => {
      const c = this.#ctx();
      checkPath(path, 'the bundle file');
      requiredObject(options, 'importBundle options ({ key } or { identities })');
      if (options.dryRun) return importBundleInto(c, path, options);
      return this.#change('import', undefined, () => importBundleInto(c, path, options));
    });
  }

  /**
   * Import a plaintext JSON object or .env file: every entry checked first,
   * then one transaction. A store-wide change, as importBundle.
   * @throws E_INVALID_IMPORT, E_IO, E_USAGE, E_INTERRUPTED, E_READ_ONLY
   */
  async importPlain(path: string, options: PlainImportOptions = {}): Promise<ImportReport> {
    return this.#observe('importPlain', undefined, () => {
      const c = this.#ctx();
      checkPath(path, 'the import file');
      options = optionsObject(options, 'importPlain options');
      if (options.dryRun) return importPlainInto(c, path, options);
      return this.#change('import', undefined, () => importPlainInto(c, path, options));
    });
  }

  /**
   * Set (replace) the rotation policy of an existing secret, kept in its
   * custom metadata; the rest of that map stays. A change, audited as
   * `metadata.set` (a failed one too).
   * @throws E_NOT_FOUND, E_USAGE
   */
  async setPolicy(name: string, policy: RotationPolicy): Promise<SecretMetadata> {
    return this.#observe('setPolicy', name, () => {
      const c = this.#ctx();
      checkName(name);
      checkRotationPolicy(policy);
      return this.#change('metadata.set', name, () => writePolicy(c, name, policy));
    });
  }

  /**
   * Write a new value of an existing secret and record the time as its
   * rotated-at: a put and a metadata change, each audited as such; a failure
   * of either is audited as a failed `put`.
   * @throws E_NOT_FOUND and whatever put throws
   */
  async rotateValue(name: string, value: Uint8Array | string | SecretBytes, options: PutOptions = {}): Promise<WriteResult> {
    return this.#observe('rotateValue', name, async () => {
      const c = this.#ctx();
      checkName(name);
      checkCas(options.cas);
      const written = await this.#change('put', name, () => rotateSecretValue(c, name, value, options));
      if (this.#scrubPending) await this.#scrub();
      return written;
    });
  }

  /**
   * The rotation policy status of `name` at `now` (default: the store's
   * clock); undefined when it has no policy. Audited as a metadata read.
   * @throws E_NOT_FOUND, E_INVALID_NAME, E_USAGE (malformed policy metadata)
   */
  async policyStatus(name: string, now?: Clock): Promise<PolicyStatus | undefined> {
    return this.#observe('policyStatus', name, () => {
      const c = this.#ctx();
      checkClock(now);
      return this.#read({ action: 'metadata.get', name }, () => readPolicyStatus(c, name, now));
    });
  }

  /**
   * When the current value of `name` expires by its policy; undefined when
   * none says so or there is no such secret. Not audited: it is the check a
   * get makes before its own (audited) read.
   * @throws E_USAGE on malformed policy metadata
   */
  async expiryOf(name: string): Promise<Date | undefined> {
    return this.#observe('expiryOf', name, async () => {
      const c = this.#ctx();
      checkName(name);
      await readMetadata(c, name); // E_NOT_FOUND, as policyStatus
      return readExpiry(c, name);
    });
  }

  /** Live secrets whose rotation is due or whose value expired at `now`, most overdue first; audited as a listing. */
  async dueSecrets(now?: Clock): Promise<DueSecret[]> {
    return this.#observe('dueSecrets', undefined, () => {
      checkClock(now);
      return this.#read({ action: 'list', detail: '*' }, () => findDueSecrets(this.#context, now));
    });
  }

  /** dueSecrets among the given summaries (`entries()` for a report that must not be audited per run). */
  async dueAmong(secrets: Iterable<SecretSummary> | AsyncIterable<SecretSummary>, now?: Clock): Promise<DueSecret[]> {
    return this.#observe('dueAmong', undefined, () => {
      const c = this.#ctx();
      const s = secrets as Partial<Iterable<SecretSummary> & AsyncIterable<SecretSummary>> | null;
      if (typeof s !== 'object' || s === null || (typeof s[Symbol.iterator] !== 'function' && typeof s[Symbol.asyncIterator] !== 'function')) {
        throw usage('dueAmong takes the secrets\' summaries: an array, or an iterable such as store.entries()');
      }
      checkClock(now);
      return findDue(c, secrets, now);
    });
  }

  /** Store-wide numbers for monitoring (`store stats`); counts only, never a name; not audited, as status. */
  async stats(options: StatsOptions = {}): Promise<StoreStats> {
    return this.#observe('stats', undefined, () => {
      const o = optionsObject(options, 'stats options');
      if (o.now !== undefined && typeof o.now !== 'number') throw usage('stats\' now is milliseconds since the epoch');
      checkClock(o.now);
      return takeStats(this.#context, o);
    });
  }

  /** The audit log at a glance: entries, its ends, and (with `verify`, which walks it all) whether the chain is intact. */
  async auditSummary(options: { verify?: boolean } = {}): Promise<AuditSummary> {
    return this.#observe('auditSummary', undefined, () => {
      const c = this.#ctx();
      return summarizeAudit(c, optionsObject(options, 'auditSummary options').verify ?? false);
    });
  }

  /**
   * A record (src/store/records.ts): small authenticated text under a kind
   * and an id, for features built over the store (`store serve`'s tokens).
   * Not audited, and not reported to the onEvent hook: records hold no secret value.
   * @throws E_USAGE, E_TAMPERED
   */
  async readRecord(kind: string, id: string): Promise<string | undefined> {
    return readRecord(this.#ctx(), kind, id);
  }

  /** Every record of a kind, in id order. @throws E_USAGE, E_TAMPERED */
  async listRecords(kind: string): Promise<RecordEntry[]> {
    return listRecords(this.#ctx(), kind);
  }

  /**
   * A number that moves whenever the store's contents (other than its audit
   * log) may have changed since it was last asked: a change made through
   * this Store, or a commit by any other process or handle on the file
   * (SQLite's data_version). It may also move when nothing that matters
   * changed (another process's audited read). undefined when it cannot be
   * told right now (this handle is inside a transaction): treat that as
   * "changed". Costs one PRAGMA: for caches of what a long-running process
   * derives from records, such as `store serve`'s tokens and policies.
   * Not a time: a cache checked against it is never stale, however old.
   *
   * `recheck: false` skips the query: this Store's own changes count at
   * once, other processes' only as of the last call that checked. For a
   * server that checks once when a request starts and then consults its
   * cache several times for that request.
   */
  changeCounter(options: { recheck?: boolean } = {}): number | undefined {
    const c = this.#ctx();
    return c.storage.changeCounter(optionsObject(options, 'changeCounter options').recheck ?? true);
  }

  /**
   * Change records in one write transaction whose audit entry (`audit`:
   * action and detail, never a token or value) is appended in the same
   * transaction. A failure is recorded as other failed changes are.
   * @throws E_READ_ONLY, E_USAGE, E_TAMPERED, and what `fn` throws
   */
  async changeRecords<T>(audit: RecordAudit, fn: (tx: RecordTx) => Promise<T>): Promise<T> {
    const c = this.#ctx();
    checkAudit(audit);
    return this.#change(audit.action, null, () => changeRecords(c, audit, fn));
  }

  /**
   * Record a request a server answered without a store operation (a denied
   * request, a token lookup): one audit entry, group-committed like reads,
   * with the request context of withAuditContext. `detail` is at most
   * MAX_AUDIT_CONTEXT_CHARS and, like the context, never a token or value.
   * @throws E_USAGE (a malformed action, outcome or detail), E_INVALID_NAME, E_READ_ONLY
   */
  async recordRequest(entry: RequestRecord): Promise<void> {
    return this.#observe('recordRequest', entry?.name, () => {
      const c = this.#ctx();
      const checked = checkRequestRecord(entry);
      // Its only effect is the entry, and a read-only store cannot write one.
      refuseUnlogged(c, 'recording a request');
      // A server's request: its entry shares a commit with those of the requests this turn of the event loop brings.
      return this.#audits.append(checked, true);
    });
  }

  /** Zero the data keys, forget the master key, close the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#scrubPending) await this.#scrub();
    this.#closed = true;
    await this.#audits.close(); // reads already past their check still get their entries
    this.#cache?.clear();
    this.#c.audit.close();
    this.#c.keyset.wipe();
    this.#c.master.close();
    await this.#c.storage.close();
  }
}
