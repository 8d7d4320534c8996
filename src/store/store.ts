/**
 * The Store: versioned secrets with Vault KV v2 semantics over the narrow
 * Storage interface. Every write is a new version in one BEGIN IMMEDIATE
 * transaction; values are sealed under the keyset's primary data key and
 * bound to (store id, name, version). The API is async (docs/design.md §8) though
 * the driver beneath is synchronous.
 */
import { StoreError, TamperedError } from '../errors.js';
import { openValue } from '../crypto/envelope.js';
import { type Keyset } from '../crypto/keyset.js';
import type { MasterKey } from '../crypto/master/master-key.js';
import { SecretBytes } from '../crypto/secret.js';
import { wipe } from '../crypto/bytes.js';
import { reloadKeyset, sealingWrite, withFreshKeyset } from './keys.js';
import { destroyKey, rotateKeys, type RotateOptions, type RotateReport } from './rotation.js';
import { rotateMaster } from './master-rotation.js';
import type { MasterKeySource } from '../crypto/master/master-key.js';
import { CONFIG_KEYS, storeIdHex, type ConfigKey, type StoreHeader } from './header.js';
import { checkName, namePattern, nameProblem } from './names.js';
import { checkCustom } from './custom-metadata.js';
import { appendVersion, pruneVersions } from './versions.js';
import { LATEST, type CacheStats, type ReadCache, type Selector } from './read-cache.js';
import { outcomeOf, reported, type EventSink, type StoreOperation } from './events.js';
import { AUDIT_START, formatAuditStart, parseAuditStart, wellFormed, type AuditEntry, type AuditLog } from './audit.js';
import { changeRefused, unloggedReadRefused, type ReadOnlyView } from './read-only.js';
import { describeReadOnly } from './read-only.js';
import type { AuditRow, SecretAndVersion, SecretListRow, SecretRow, StorageOps, VersionRow } from '../storage/storage.js';
import type { GuardedStorage } from './integrity/guarded.js';
import type {
  AuditPruneReport, AuditQuery, AuditRecord, AuditVerifyReport, GetOptions, KeyInfo, ListOptions, MetadataUpdate, PutOptions, SecretMetadata, SecretSummary, SecretVersion,
  StoreStatus, VersionInfo, VersionState, WriteResult,
} from './types.js';

const LIST_PAGE = 500;
/** Failures that happen before the store is touched: not audited (see #recordFailure). */
const REFUSED_INPUT = new Set<string>(['E_USAGE', 'E_INVALID_NAME', 'E_INVALID_VALUE', 'E_VALUE_TOO_LARGE']);
const AUDIT_PAGE = 1000;

export interface StoreContext {
  path: string;
  /** Every row authenticated (src/store/integrity). */
  storage: GuardedStorage;
  header: StoreHeader;
  master: MasterKey;
  keyset: Keyset;
  now: () => number;
  audit: AuditLog;
  /** The opt-in read cache (OpenOptions.cache); writes that bypass the Store's methods (imports) must clear it. */
  cache?: ReadCache;
  /** The opt-in onEvent hook. */
  events?: EventSink;
  /** Set when the store is open read-only (src/store/read-only.ts). */
  readOnly?: ReadOnlyView;
}

function stateOf(v: VersionRow): VersionState {
  if (v.destroyedAt !== null) return 'destroyed';
  if (v.deletedAt !== null) return 'deleted';
  return 'live';
}

function usage(message: string): StoreError {
  return new StoreError('E_USAGE', message);
}

function checkVersionNumber(v: unknown, what = 'version'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw usage(`${what} must be a whole number from 1 up`);
  return v;
}

function checkVersions(versions: readonly number[] | undefined): number[] | undefined {
  if (versions === undefined) return undefined;
  if (!Array.isArray(versions) || versions.length === 0) throw usage('versions must list at least one version');
  return [...new Set(versions.map((v) => checkVersionNumber(v)))];
}

function toTime(at: Date | number | string): number {
  const t = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(t)) throw usage('the time must be a date, an ISO 8601 string or milliseconds since the epoch');
  return t;
}

/** What a get may be cached as: the current version or version N; undefined for a time query or a malformed version (not cached). */
function selectorOf(options: GetOptions): Selector | undefined {
  if (options.at !== undefined) return undefined;
  const v = options.version;
  if (v === undefined) return LATEST;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : undefined;
}

function notFound(name: string): StoreError {
  return new StoreError('E_NOT_FOUND', `no secret named ${name}`);
}

/** Reach into an open store: for modules of src/store only (backup, export, audit), not public API. */
const contexts = new WeakMap<Store, () => StoreContext>();

/** The open store's context (throws E_CLOSED once closed). Internal to src/store. */
export function contextOf(store: Store): StoreContext {
  return contexts.get(store)!();
}

const sinks = new WeakMap<Store, EventSink>();

/** The store's onEvent sink, if it has one (also once closed). Internal to src/store. */
export function eventsOf(store: Store): EventSink | undefined {
  return sinks.get(store);
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

  constructor(context: StoreContext) {
    this.#c = context;
    this.#cache = context.cache;
    this.#events = context.events;
    this.#plain = !this.#cache && !this.#events;
    if (this.#events) sinks.set(this, this.#events);
    contexts.set(this, () => this.#ctx());
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

  #bytesOf(value: Uint8Array | string | SecretBytes, allowEmpty: boolean): SecretBytes {
    if (!(typeof value === 'string' || value instanceof Uint8Array || value instanceof SecretBytes)) {
      throw new StoreError('E_INVALID_VALUE', 'a value must be bytes (Uint8Array), a string or SecretBytes');
    }
    const secret = SecretBytes.from(value);
    const limit = this.#c.header.maxValueBytes;
    if (secret.length > limit) {
      throw new StoreError('E_VALUE_TOO_LARGE', `the value is ${secret.length} bytes; this store takes at most ${limit}`);
    }
    if (secret.length === 0 && !allowEmpty) {
      throw new StoreError('E_INVALID_VALUE', 'the value is empty', ['pass allowEmpty (CLI: --allow-empty) to store an empty value']);
    }
    return secret;
  }

  /** Append version n+1 of `name` (src/store/versions.ts); inside a sealingWrite. */
  async #append(tx: StorageOps, name: string, plaintext: Uint8Array, cas: number | undefined): Promise<WriteResult> {
    const now = this.#c.now();
    const secret = await tx.findSecret(name) ?? await tx.insertSecret(name, now);
    const { version } = await appendVersion(tx, this.#c, secret, plaintext, now, cas);
    return { name, version, createdAt: new Date(now) };
  }

  /** Open a stored version's value, reloading the keyset once if another process added a key. */
  async #openAfterReload(name: string, v: VersionRow): Promise<SecretBytes> {
    await this.#reloadKeys();
    return this.#open(name, v);
  }

  #open(name: string, v: VersionRow): SecretBytes {
    const c = this.#c;
    return new SecretBytes(openValue(c.keyset, c.header.storeId, name, v.version, v.ciphertext));
  }

  async #reloadKeys(): Promise<void> {
    await reloadKeyset(this.#c);
  }

  /** Run a write that seals values; if another process rotated keys meanwhile, reload and run it again. */
  #sealingWrite<T>(fn: (tx: StorageOps) => Promise<T>): Promise<T> {
    return withFreshKeyset(this.#c, () => sealingWrite(this.#c, fn));
  }

  /** The value of `found`'s version, or the error its state calls for. */
  #live(name: string, found: SecretAndVersion | undefined, what: string): VersionRow {
    if (!found) throw notFound(name);
    const v = found.version;
    if (!v) throw new StoreError('E_NOT_FOUND', `${name} has no ${what}`);
    if (v.destroyedAt !== null) throw new StoreError('E_DESTROYED', `${name} version ${v.version} was destroyed`);
    if (v.deletedAt !== null) {
      throw new StoreError('E_DELETED', `${name} version ${v.version} is deleted`, [
        `undelete it with: store undelete ${name} --versions ${v.version}`,
      ]);
    }
    return v;
  }

  /**
   * Run a change; if it fails, record the failure in the audit log (in its
   * own transaction: the change's rolled back) and rethrow. A change that
   * succeeds records itself inside its own transaction.
   */
  async #change<T>(action: string, name: string | undefined, fn: () => Promise<T> | T): Promise<T> {
    // Before any lock or key work, and not recorded: a read-only store's log cannot be written either.
    if (this.#c.readOnly) throw changeRefused(this.#c.path, this.#c.readOnly.reason);
    try {
      return await fn();
    } catch (e) {
      await this.#recordFailure(action, name, e, false);
      throw e;
    } finally {
      this.#changed(name);
    }
  }

  /**
   * Before a change's result (or error) reaches the caller: drop the cached
   * reads it may have made stale, those of `name`, or all for a store-wide
   * change. A failed change drops them too: it may have failed after its commit.
   */
  #changed(name: string | undefined): void {
    if (this.#cache === undefined) return;
    if (name === undefined) this.#cache.clear();
    else this.#cache.invalidate(name);
  }

  /** Run a public operation and report it to the onEvent hook, if there is one. */
  #observe<T>(operation: StoreOperation, name: string | undefined, fn: () => Promise<T> | T): Promise<T> {
    return reported(this.#events, operation, name, fn);
  }

  /** Run a read and record it (unless reads are not audited); a read that cannot be recorded fails. */
  async #read<T>(entry: Omit<AuditEntry, 'outcome'>, fn: () => Promise<T> | T, versionsOf?: (result: T) => number[]): Promise<T> {
    const c = this.#ctx();
    // Fail closed before the read: a value never leaves a read that cannot be logged.
    if (c.header.auditReads && c.readOnly) throw unloggedReadRefused(c.path, c.readOnly.reason);
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      if (c.header.auditReads) await this.#recordFailure(entry.action, entry.name, e, true);
      throw e;
    }
    if (c.header.auditReads) {
      const versions = versionsOf?.(result);
      await c.storage.write((tx) => c.audit.append(tx, { ...entry, ...(versions ? { versions } : {}), outcome: 'ok' }), { relaxed: true });
    }
    return result;
  }

  /**
   * Input refused before the store was touched (a bad name, value or option)
   * leaves the file exactly as it was; everything else that failed (not
   * found, check-and-set, tampered, locked…) is an attempt worth recording.
   */
  async #recordFailure(action: string, name: string | undefined, e: unknown, relaxed: boolean): Promise<void> {
    if (this.#closed || (e instanceof StoreError && REFUSED_INPUT.has(e.code))) return;
    const c = this.#c;
    const entry: AuditEntry = {
      action,
      outcome: e instanceof StoreError ? e.code : 'E_INTERNAL',
      ...(name !== undefined && nameProblem(name) === undefined ? { name } : {}),
    };
    try {
      await c.storage.write((tx) => c.audit.append(tx, entry), { relaxed });
    } catch {
      // The operation failed already; that failure is what the caller must see.
    }
  }

  /**
   * Write a new version of `name`.
   * @throws E_INVALID_NAME, E_INVALID_VALUE, E_VALUE_TOO_LARGE, E_CAS_MISMATCH, E_USAGE
   */
  async put(name: string, value: Uint8Array | string | SecretBytes, options: PutOptions = {}): Promise<WriteResult> {
    return this.#observe('put', name, () => this.#put(name, value, options));
  }

  async #put(name: string, value: Uint8Array | string | SecretBytes, options: PutOptions): Promise<WriteResult> {
    const c = this.#ctx();
    checkName(name);
    if (options.cas !== undefined && (!Number.isSafeInteger(options.cas) || options.cas < 0)) {
      throw usage('cas must be a whole number from 0 up');
    }
    const written = await this.#change('put', name, () => {
      const secret = this.#bytesOf(value, options.allowEmpty ?? false);
      return this.#sealingWrite(async (tx) => {
        const r = await this.#append(tx, name, secret.expose(), options.cas);
        await c.audit.append(tx, { action: 'put', name, versions: [r.version], outcome: 'ok' });
        return r;
      });
    });
    if (this.#scrubPending) await this.#scrub();
    return written;
  }

  /**
   * Read the current version, a given version, or the version current at a time.
   * With the read cache on (OpenOptions.cache), a repeat of the first two within
   * the TTL is served from memory, and so not audited.
   * @throws E_NOT_FOUND, E_DELETED, E_DESTROYED, E_TAMPERED, E_INVALID_NAME, E_USAGE
   */
  async get(name: string, options: GetOptions = {}): Promise<SecretVersion> {
    if (this.#plain) return this.#getRecorded(name, options);
    return this.#getObserved(name, options);
  }

  /** A read of the store file, audited when reads are. */
  #getRecorded(name: string, options: GetOptions): Promise<SecretVersion> {
    // The hot path: with reads not audited, one read and one AEAD open, no extra async hops.
    if (!this.#ctx().header.auditReads) return this.#get(name, options);
    return this.#read({ action: 'get', name }, () => this.#get(name, options), (s) => [s.version]);
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

  async #get(name: string, options: GetOptions): Promise<SecretVersion> {
    const c = this.#ctx();
    checkName(name);
    let found: SecretAndVersion | undefined;
    let what = 'current version';
    if (options.version !== undefined) {
      if (options.at !== undefined) throw usage('give a version or a time, not both');
      found = await c.storage.readVersion(name, checkVersionNumber(options.version));
      what = `version ${options.version}`;
    } else if (options.at !== undefined) {
      const at = toTime(options.at);
      found = await c.storage.readVersionAt(name, at);
      what = `version at ${new Date(at).toISOString()}`;
    } else {
      found = await c.storage.readVersion(name);
    }
    const v = this.#live(name, found, what);
    // The storage checked that the row found is the one asked for (src/store/integrity/guarded.ts),
    // and the value opens only as `name` at that version (its AAD): a moved or renumbered row fails here.
    const result = (value: SecretBytes): SecretVersion => ({ name, version: v.version, createdAt: new Date(v.createdAt), value });
    // A key we do not hold means another process rotated: reload, then open.
    if (v.keyId !== null && !c.keyset.byId(v.keyId)) return result(await this.#openAfterReload(name, v));
    return result(this.#open(name, v));
  }

  /** Every version of `name`, oldest first. @throws E_NOT_FOUND */
  async history(name: string): Promise<VersionInfo[]> {
    return this.#observe('history', name, () => this.#history(name));
  }

  async #history(name: string): Promise<VersionInfo[]> {
    const c = this.#ctx();
    return this.#read({ action: 'history', name }, () => c.storage.read(async (tx) => {
      checkName(name);
      const secret = await tx.findSecret(name);
      if (!secret) throw notFound(name);
      const keyVersion = new Map(c.keyset.info().map((k) => [k.id, k.version]));
      return (await tx.listVersions(secret.id)).map((v) => {
        const info: VersionInfo = { version: v.version, createdAt: new Date(v.createdAt), state: stateOf(v) };
        if (v.deletedAt !== null) info.deletedAt = new Date(v.deletedAt);
        if (v.destroyedAt !== null) info.destroyedAt = new Date(v.destroyedAt);
        if (v.keyId !== null) {
          const kv = keyVersion.get(v.keyId);
          if (kv !== undefined) info.keyVersion = kv;
        }
        return info;
      });
    }));
  }

  /** Names and metadata (never values), a page at a time: safe for very large stores. */
  async *entries(options: ListOptions = {}): AsyncGenerator<SecretSummary> {
    const { prefix, test } = namePattern(options.pattern ?? '');
    let after = '';
    for (;;) {
      const page: SecretListRow[] = await this.#ctx().storage.listSecrets(prefix, after, LIST_PAGE);
      for (const r of page) {
        if (test && !test(r.name)) continue;
        yield {
          ...metadataOf(r, r.oldestVersion),
          versions: r.versionCount,
          state: r.currentDestroyed ? 'destroyed' : r.currentDeleted ? 'deleted' : 'live',
        };
      }
      if (page.length < LIST_PAGE) return;
      after = page[page.length - 1]!.name;
    }
  }

  /** All matching secrets' summaries, sorted by name. */
  async list(options: ListOptions = {}): Promise<SecretSummary[]> {
    return this.#observe('list', undefined, () => this.#list(options));
  }

  async #list(options: ListOptions): Promise<SecretSummary[]> {
    return this.#read({ action: 'list', detail: options.pattern || '*' }, async () => {
      const out: SecretSummary[] = [];
      for await (const s of this.entries(options)) out.push(s);
      return out;
    });
  }

  /** Versions to act on: the given ones (each must exist) or the current one. */
  async #targets(tx: StorageOps, name: string, versions: number[] | undefined): Promise<{ secret: SecretRow; versions: number[] }> {
    const secret = await tx.findSecret(name);
    if (!secret) throw notFound(name);
    const existing = new Set((await tx.listVersions(secret.id)).map((v) => v.version));
    const chosen = versions ?? [secret.currentVersion];
    const missing = chosen.filter((v) => !existing.has(v));
    if (missing.length > 0) throw new StoreError('E_NOT_FOUND', `${name} has no version ${missing.join(', ')}`);
    return { secret, versions: chosen };
  }

  /** Soft-delete versions (the current one by default); undelete restores them. @throws E_NOT_FOUND */
  async delete(name: string, options: { versions?: number[] } = {}): Promise<number[]> {
    return this.#observe('delete', name, () => this.#delete(name, options));
  }

  async #delete(name: string, options: { versions?: number[] }): Promise<number[]> {
    const c = this.#ctx();
    checkName(name);
    return this.#change('delete', name, () => {
      const versions = checkVersions(options.versions);
      return c.storage.write(async (tx) => {
        const t = await this.#targets(tx, name, versions);
        await tx.setDeleted(t.secret.id, t.versions, c.now());
        await c.audit.append(tx, { action: 'delete', name, versions: t.versions, outcome: 'ok' });
        return t.versions;
      });
    });
  }

  /** Restore soft-deleted versions (the current one by default). @throws E_NOT_FOUND */
  async undelete(name: string, options: { versions?: number[] } = {}): Promise<number[]> {
    return this.#observe('undelete', name, () => this.#undelete(name, options));
  }

  async #undelete(name: string, options: { versions?: number[] }): Promise<number[]> {
    const c = this.#ctx();
    checkName(name);
    return this.#change('undelete', name, () => {
      const versions = checkVersions(options.versions);
      return c.storage.write(async (tx) => {
        const t = await this.#targets(tx, name, versions);
        await tx.setDeleted(t.secret.id, t.versions, null);
        await c.audit.append(tx, { action: 'undelete', name, versions: t.versions, outcome: 'ok' });
        return t.versions;
      });
    });
  }

  /**
   * Erase the ciphertexts of these versions for good. Freed pages are zeroed
   * (secure_delete) and the WAL is checkpointed so no old page lingers.
   * @throws E_NOT_FOUND, E_USAGE
   */
  async destroy(name: string, versions: number[]): Promise<number[]> {
    return this.#observe('destroy', name, () => this.#destroy(name, versions));
  }

  async #destroy(name: string, versions: number[]): Promise<number[]> {
    const c = this.#ctx();
    checkName(name);
    const done = await this.#change('destroy', name, () => {
      const chosen = checkVersions(versions);
      if (!chosen) throw usage('destroy needs the versions to erase');
      return c.storage.write(async (tx) => {
        const t = await this.#targets(tx, name, chosen);
        await tx.destroyVersions(t.secret.id, t.versions, c.now());
        await c.audit.append(tx, { action: 'destroy', name, versions: t.versions, outcome: 'ok' });
        return t.versions;
      });
    });
    await this.#scrub();
    return done;
  }

  /** Remove the secret and every version. @throws E_NOT_FOUND */
  async purge(name: string): Promise<void> {
    return this.#observe('purge', name, () => this.#purge(name));
  }

  async #purge(name: string): Promise<void> {
    const c = this.#ctx();
    checkName(name);
    await this.#change('purge', name, () => c.storage.write(async (tx) => {
      const secret = await tx.findSecret(name);
      if (!secret) throw notFound(name);
      await tx.deleteSecret(secret.id);
      await c.audit.append(tx, { action: 'purge', name, outcome: 'ok' });
    }));
    await this.#scrub();
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
    return this.#observe('rollback', name, () => this.#rollback(name, version, options));
  }

  async #rollback(name: string, version: number, options: { cas?: number }): Promise<WriteResult> {
    const c = this.#ctx();
    checkName(name);
    return this.#change('rollback', name, async () => {
      checkVersionNumber(version);
      // Make sure every key the old version may name is loaded before the sync transaction.
      const probe = this.#live(name, await c.storage.readVersion(name, version), `version ${version}`);
      if (probe.keyId !== null && !c.keyset.byId(probe.keyId)) await this.#reloadKeys();
      return this.#sealingWrite(async (tx) => {
        const v = this.#live(name, await tx.readVersion(name, version), `version ${version}`);
        const plaintext = openValue(c.keyset, c.header.storeId, name, v.version, v.ciphertext);
        try {
          const r = await this.#append(tx, name, plaintext, options.cas);
          await c.audit.append(tx, { action: 'rollback', name, versions: [r.version], outcome: 'ok', detail: `value of version ${version}` });
          return r;
        } finally {
          wipe(plaintext);
        }
      });
    });
  }

  /** @throws E_NOT_FOUND */
  async getMetadata(name: string): Promise<SecretMetadata> {
    return this.#observe('getMetadata', name, () => this.#getMetadata(name));
  }

  async #getMetadata(name: string): Promise<SecretMetadata> {
    const c = this.#ctx();
    return this.#read({ action: 'metadata.get', name }, () => c.storage.read(async (tx) => {
      checkName(name);
      const secret = await tx.findSecret(name);
      if (!secret) throw notFound(name);
      const versions = await tx.listVersions(secret.id);
      return metadataOf(secret, versions[0]?.version ?? 0);
    }));
  }

  /**
   * Change max versions (older versions beyond it are pruned at once) or the custom map.
   * @throws E_NOT_FOUND, E_USAGE
   */
  async setMetadata(name: string, update: MetadataUpdate): Promise<SecretMetadata> {
    return this.#observe('setMetadata', name, () => this.#setMetadata(name, update));
  }

  async #setMetadata(name: string, update: MetadataUpdate): Promise<SecretMetadata> {
    const c = this.#ctx();
    checkName(name);
    return this.#change('metadata.set', name, () => {
      if (update.maxVersions !== undefined && (!Number.isSafeInteger(update.maxVersions) || update.maxVersions < 0)) {
        throw usage('maxVersions must be a whole number from 0 (store default) up');
      }
      if (update.custom !== undefined) checkCustom(update.custom);
      return c.storage.write(async (tx) => {
        const secret = await tx.findSecret(name);
        if (!secret) throw notFound(name);
        const next: SecretRow = {
          ...secret,
          maxVersions: update.maxVersions ?? secret.maxVersions,
          custom: update.custom ? { ...update.custom } : secret.custom,
          updatedAt: c.now(),
        };
        await tx.updateSecret(next);
        const pruned = await pruneVersions(tx, c, next);
        const detail = [
          update.maxVersions !== undefined ? `maxVersions=${update.maxVersions}` : '',
          update.custom ? 'custom' : '',
          pruned.length ? `pruned ${pruned.join(',')}` : '',
        ].filter(Boolean).join('; ');
        await c.audit.append(tx, { action: 'metadata.set', name, outcome: 'ok', ...(detail ? { detail } : {}) });
        return metadataOf(next, (await tx.listVersions(secret.id))[0]?.version ?? 0);
      });
    });
  }

  /** Store-wide facts: ids, counts, keys. Never key material. */
  async status(): Promise<StoreStatus> {
    return this.#observe('status', undefined, () => this.#status());
  }

  async #status(): Promise<StoreStatus> {
    const c = this.#ctx();
    const counts = await c.storage.counts();
    const keys: KeyInfo[] = c.keyset.info().map((k) => ({ ...k, createdAt: new Date(k.createdAt), versions: counts.byKey.get(k.id) ?? 0 }));
    return {
      path: c.path,
      storeId: storeIdHex(c.header),
      schemaVersion: c.storage.schemaVersion,
      createdAt: new Date(c.header.createdAt),
      masterKind: c.header.master.kind,
      secrets: counts.secrets,
      versions: counts.versions,
      liveVersions: counts.liveVersions,
      maxValueBytes: c.header.maxValueBytes,
      defaultMaxVersions: c.header.defaultMaxVersions,
      keys,
      ...(c.readOnly ? { readOnly: describeReadOnly(c.readOnly.reason) } : {}),
    };
  }

  /**
   * Rotate data keys: a new primary (unless `ifOlderThanMs` says the current
   * one is young enough), then rewrap old versions in short batches and retire
   * unused keys. Runs under the store's exclusive lock; resumable.
   * @throws E_LOCKED, E_USAGE, E_TAMPERED
   */
  async rotateKeys(options: RotateOptions = {}): Promise<RotateReport> {
    return this.#observe('rotateKeys', undefined, () => this.#rotateKeys(options));
  }

  async #rotateKeys(options: RotateOptions): Promise<RotateReport> {
    const c = this.#ctx();
    return this.#change('rotate-keys', undefined, () => rotateKeys(c, options));
  }

  /** The data keys with how many versions each encrypts. */
  async keys(): Promise<KeyInfo[]> {
    return this.#observe('keys', undefined, () => this.#keys());
  }

  async #keys(): Promise<KeyInfo[]> {
    this.#ctx();
    await this.#reloadKeys();
    return (await this.#status()).keys;
  }

  /** Erase a retired data key. @throws E_KEY_IN_USE, E_NOT_FOUND, E_LOCKED */
  async destroyKey(keyVersion: number, options: { wait?: boolean } = {}): Promise<void> {
    return this.#observe('destroyKey', undefined, () => this.#destroyKey(keyVersion, options));
  }

  async #destroyKey(keyVersion: number, options: { wait?: boolean }): Promise<void> {
    const c = this.#ctx();
    await this.#change('keys.destroy', undefined, () => {
      checkVersionNumber(keyVersion, 'key version');
      return destroyKey(c, keyVersion, options);
    });
  }

  /**
   * Wrap the data keys under a new master key; the old one no longer opens the store.
   * @throws E_LOCKED, E_MASTER_KEY
   */
  async rotateMaster(next: MasterKeySource, options: { wait?: boolean } = {}): Promise<void> {
    return this.#observe('rotateMaster', undefined, () => this.#rotateMaster(next, options));
  }

  async #rotateMaster(next: MasterKeySource, options: { wait?: boolean }): Promise<void> {
    const c = this.#ctx();
    const key = await this.#change('rotate-master', undefined, () => rotateMaster(c, next, options));
    c.master.close();
    c.master = key;
  }

  /** Audit entries, oldest first, a page at a time; filtered by name, action and time. */
  async *auditEntries(filter: AuditQuery = {}): AsyncGenerator<AuditRecord> {
    const q = { ...filter, since: filter.since === undefined ? undefined : toTime(filter.since), until: filter.until === undefined ? undefined : toTime(filter.until) };
    let after = 0;
    for (;;) {
      const page = await this.#ctx().storage.auditPage(after, AUDIT_PAGE, q);
      for (const r of page) {
        if (!wellFormed(r)) throw new TamperedError(`audit entry ${String(r.seq)} is damaged (a field holds the wrong type): run store audit verify`);
        yield {
          seq: r.seq, at: new Date(r.at), actor: r.actor, pid: r.pid, action: r.action, outcome: r.outcome,
          ...(r.name !== null ? { name: r.name } : {}),
          ...(r.versions !== null ? { versions: r.versions.split(',').map(Number) } : {}),
          ...(r.detail !== null ? { detail: r.detail } : {}),
        };
      }
      if (page.length < AUDIT_PAGE) return;
      after = page[page.length - 1]!.seq;
    }
  }

  /** Check the audit chain: the first entry that was edited, dropped, moved or inserted, if any. */
  async verifyAudit(): Promise<AuditVerifyReport> {
    return this.#observe('verifyAudit', undefined, () => this.#verifyAudit());
  }

  async #verifyAudit(): Promise<AuditVerifyReport> {
    const c = this.#ctx();
    const { result, start } = await c.storage.read(async (tx) => {
      const start = parseAuditStart(await tx.getMeta(AUDIT_START));
      return { start, result: await c.audit.verify((after) => tx.auditPage(after, AUDIT_PAGE), await tx.auditHead(), start) };
    });
    return {
      ok: result.problem === undefined, entries: result.entries,
      ...(start ? { keptAfter: start.seq } : {}), ...(result.problem ? { firstProblem: result.problem } : {}),
    };
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
    return this.#observe('pruneAudit', undefined, () => this.#pruneAudit(options));
  }

  async #pruneAudit(options: { before: Date | number | string }): Promise<AuditPruneReport> {
    const c = this.#ctx();
    return this.#change('audit.prune', undefined, () => {
      const before = toTime(options.before);
      return c.storage.write(async (tx) => {
        const head = await tx.auditHead();
        const start = parseAuditStart(await tx.getMeta(AUDIT_START));
        const check = await c.audit.verify((after) => tx.auditPage(after, AUDIT_PAGE), head, start);
        if (check.problem) throw new TamperedError(`the audit log is damaged at entry ${check.problem.seq} (${check.problem.problem}): it is not pruned`);
        // The longest run of oldest entries before the time, never the last entry (the chain's end stays in the log).
        let last: AuditRow | undefined;
        let removed = 0;
        let after = start?.seq ?? 0;
        scan: for (;;) {
          const page = await tx.auditPage(after, AUDIT_PAGE);
          for (const r of page) {
            if (r.at >= before || r.seq >= (head?.seq ?? 0)) break scan;
            last = r;
            removed++;
          }
          if (page.length < AUDIT_PAGE) break;
          after = page[page.length - 1]!.seq;
        }
        if (last) {
          await tx.setMeta(AUDIT_START, formatAuditStart({ seq: last.seq, mac: last.mac }));
          await tx.deleteAuditThrough(last.seq);
        }
        await c.audit.append(tx, { action: 'audit.prune', outcome: 'ok', detail: `removed ${removed} entries before ${new Date(before).toISOString()}` });
        const keptAfter = last?.seq ?? start?.seq;
        return { removed, ...(keptAfter !== undefined ? { keptAfter } : {}) };
      });
    });
  }

  /** A store setting (see CONFIG_KEYS). */
  async getConfig(key: ConfigKey): Promise<string> {
    return this.#observe('getConfig', undefined, () => this.#getConfig(key));
  }

  async #getConfig(key: ConfigKey): Promise<string> {
    const c = this.#ctx();
    if (!CONFIG_KEYS.includes(key)) throw usage(`unknown setting "${key}"; known: ${CONFIG_KEYS.join(', ')}`);
    return String(c.header.auditReads);
  }

  /** Change a store setting; audited. */
  async setConfig(key: ConfigKey, value: string): Promise<void> {
    return this.#observe('setConfig', undefined, () => this.#setConfig(key, value));
  }

  async #setConfig(key: ConfigKey, value: string): Promise<void> {
    const c = this.#ctx();
    await this.#change('config.set', undefined, async () => {
      if (!CONFIG_KEYS.includes(key)) throw usage(`unknown setting "${key}"; known: ${CONFIG_KEYS.join(', ')}`);
      if (value !== 'true' && value !== 'false') throw usage(`${key} takes true or false, not "${value}"`);
      await c.storage.write(async (tx) => {
        await tx.setMeta(`config.${key}`, value);
        await c.audit.append(tx, { action: 'config.set', outcome: 'ok', detail: `${key}=${value}` });
      });
      c.header.auditReads = value === 'true';
    });
  }

  /** Zero the data keys, forget the master key, close the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#scrubPending) await this.#scrub();
    this.#closed = true;
    this.#cache?.clear();
    this.#c.audit.close();
    this.#c.keyset.wipe();
    this.#c.master.close();
    await this.#c.storage.close();
  }
}

function metadataOf(s: SecretRow, oldestVersion: number): SecretMetadata {
  return {
    name: s.name,
    currentVersion: s.currentVersion,
    oldestVersion,
    maxVersions: s.maxVersions,
    custom: s.custom,
    createdAt: new Date(s.createdAt),
    updatedAt: new Date(s.updatedAt),
  };
}
