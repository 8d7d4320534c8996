/**
 * The narrow interfaces between the store's logic and its persistence
 * (docs/design.md §8). Two layers:
 *
 * - `RawStorage` is what a driver implements (src/storage/sqlite,
 *   src/storage/postgres): rows in, rows out, transactions. Every row that
 *   carries meaning has a `mac` column the driver stores and returns as
 *   opaque bytes. SQL stays in the driver.
 * - `Storage` is what the store's logic uses: the same rows, authenticated.
 *   src/store/integrity/guarded.ts implements it over a RawStorage: each row
 *   read is checked against its MAC and each row written gets one, and the
 *   digest of the whole state is kept up to date in every write.
 *
 * Both are asynchronous, so a driver may answer later (a database server)
 * or at once (SQLite, whose answers come back as plain values: a driver's
 * operation returns an `Awaitable`, and the store awaits it either way).
 * Transactions take an async body that awaits only storage calls, and one
 * connection runs one transaction at a time. What only a store kept in one
 * local file can do is an optional capability (`file`), asked for, never faked.
 * The contract every driver meets is test/storage/contract.ts.
 *
 * Rows hold ciphertext, ids and metadata only, never plaintext.
 */
import type { KeyStatus } from '../crypto/keyset.js';

export interface SecretRow {
  id: number;
  name: string;
  currentVersion: number;
  /** 0: the store default applies. */
  maxVersions: number;
  custom: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

export interface VersionRow {
  version: number;
  createdAt: number;
  deletedAt: number | null;
  destroyedAt: number | null;
  keyId: number | null;
  ciphertext: Uint8Array | null;
  /** The value is the UTF-8 text of a JSON object (a Vault-style secret); false: plain bytes. Set when written, never changed. */
  json: boolean;
}

/** One joined read: a secret (what a read needs of it) and one of its versions (absent when no such version). */
export interface SecretAndVersion {
  secret: Pick<SecretRow, 'id' | 'name' | 'currentVersion'>;
  version: VersionRow | undefined;
}

export interface KeyRow {
  id: number;
  version: number;
  status: KeyStatus;
  createdAt: number;
  wrapped: Uint8Array | null;
}

/** Where a version sits in (secret id, version) order. */
export interface VersionPlace {
  secretId: number;
  version: number;
}

/** A version waiting to be re-encrypted under the primary key. */
export interface RewrapRow {
  secretId: number;
  name: string;
  version: number;
  keyId: number;
  ciphertext: Uint8Array;
  /** The version row's MAC as read and checked: what its element in the state digest is made from. */
  mac: Uint8Array;
}

/** One audit entry as stored: metadata only, never a value. */
export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  pid: number;
  action: string;
  name: string | null;
  /** Comma-separated version numbers. */
  versions: string | null;
  outcome: string;
  detail: string | null;
  mac: Uint8Array;
}

/** Where the audit chain ends: its last entry's number and MAC. */
export interface AuditHead {
  seq: number;
  mac: Uint8Array;
}

export interface AuditFilter {
  name?: string;
  action?: string;
  since?: number;
  until?: number;
}

export interface SecretListRow extends SecretRow {
  oldestVersion: number;
  versionCount: number;
  /** State of the current version. */
  currentDeleted: boolean;
  currentDestroyed: boolean;
}

export interface StoreCounts {
  secrets: number;
  versions: number;
  liveVersions: number;
  /** Soft-deleted versions (not destroyed). */
  deletedVersions: number;
  destroyedVersions: number;
  /** Versions under each data key id. */
  byKey: Map<number, number>;
}

/** Operations valid inside a transaction (and outside one, for single reads); every row authenticated. */
export interface StorageOps {
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  findSecret(name: string): Promise<SecretRow | undefined>;
  insertSecret(name: string, now: number): Promise<SecretRow>;
  updateSecret(row: SecretRow): Promise<void>;
  deleteSecret(id: number): Promise<void>;

  /** `version` undefined: the current version. The answer at once when the driver has it at once (SQLite: the get path has no await). */
  readVersion(name: string, version?: number): Awaitable<SecretAndVersion | undefined>;
  /** The current version with its whole secret row (the metadata a KV read answers with), in one read. */
  readCurrent(name: string): Promise<{ secret: SecretRow; version: VersionRow | undefined } | undefined>;
  /** The newest version created at or before `at` (ms). */
  readVersionAt(name: string, at: number): Promise<SecretAndVersion | undefined>;
  listVersions(secretId: number): Promise<VersionRow[]>;
  insertVersion(secretId: number, row: VersionRow): Promise<void>;
  setDeleted(secretId: number, versions: number[], deletedAt: number | null): Promise<void>;
  destroyVersions(secretId: number, versions: number[], now: number): Promise<void>;
  /** Remove all but the newest `keep` versions; returns the removed version numbers. */
  pruneVersions(secretId: number, keep: number): Promise<number[]>;

  /** Up to `limit` secrets whose names start with `prefix` and sort after `after`, in name order. */
  listSecrets(prefix: string, after: string, limit: number): Promise<SecretListRow[]>;
  counts(): Promise<StoreCounts>;

  keys(): Promise<KeyRow[]>;
  insertKey(row: KeyRow): Promise<void>;
  /** The id of the primary data key as stored now (another process may have rotated). */
  primaryKeyId(): Promise<number | undefined>;
  setKeyStatus(id: number, status: KeyRow['status']): Promise<void>;
  setKeyWrapping(id: number, wrapped: Uint8Array | null): Promise<void>;
  /**
   * Up to `limit` versions still sealed under data key `keyId`, in (secret id,
   * version) order, after `after` when given: a rewrap passes the last one
   * of a batch, so each batch reads on from where the one before stopped.
   */
  versionsUnderKey(keyId: number, limit: number, after?: VersionPlace): Promise<RewrapRow[]>;
  /**
   * Replace the ciphertext of a version that versionsUnderKey returned as
   * `read` (in this transaction or an earlier one), only if the stored row is
   * still exactly as read; false when it changed meanwhile (another writer
   * deleted, destroyed or purged it), and then nothing is written.
   * `readElement`, when the caller has it, is lthashElement(read.mac), the
   * element leaving the digest (the rewrap's worker makes it on another CPU).
   */
  replaceCiphertext(read: RewrapRow, toKeyId: number, ciphertext: Uint8Array, readElement?: Uint8Array): Promise<boolean>;
  /**
   * Give the secret rows with ids above `afterId` (up to `limit`, in id
   * order) that still carry a MAC of an older format the current one, each
   * checked first; the last id looked at (undefined: none left) and how many
   * were written.
   */
  remacSecrets(afterId: number, limit: number): Promise<{ lastId: number | undefined; written: number }>;

  /**
   * The authenticated end of the audit chain (undefined: empty log).
   * @throws TamperedError when the stored log does not end there
   */
  auditHead(): Promise<AuditHead | undefined>;
  /** Append an entry; it becomes the authenticated head. */
  insertAudit(row: AuditRow): Promise<void>;
  /** Up to `limit` entries after `afterSeq` in order, optionally filtered. */
  auditPage(afterSeq: number, limit: number, filter?: AuditFilter): Promise<AuditRow[]>;
  /** Remove the entries up to and including `seq` (audit retention). */
  deleteAuditThrough(seq: number): Promise<void>;

  /** A record's value (src/store/records.ts), checked under the kind and id asked for. */
  getRecord(kind: string, id: string): Promise<string | undefined>;
  /** Write a record, replacing the one of that kind and id. */
  putRecord(kind: string, id: string, value: string): Promise<void>;
  /** Remove a record; false when there was none. */
  deleteRecord(kind: string, id: string): Promise<boolean>;
  /** Every record of a kind, in id order. */
  listRecords(kind: string): Promise<RecordEntry[]>;
}

/** A record as the store's logic sees it (authenticated). */
export interface RecordEntry {
  id: string;
  value: string;
}

/** A value, or a promise of one: what a driver's operation may return (SQLite answers at once, a network database later). */
export type Awaitable<T> = T | Promise<T>;

export interface WriteOptions {
  /**
   * Commit without waiting for the disk (SQLite: synchronous NORMAL): for
   * audit entries of reads, which must be written before the value is
   * returned but need not survive a power cut. A driver without the
   * distinction commits as usual.
   */
  relaxed?: boolean;
}

/**
 * What only a store kept in one local file can do. A driver that has no such
 * file (a database server) leaves `file` undefined, and callers do without:
 * they ask for it rather than every driver faking it.
 */
export interface FileCapabilities {
  /** The file, for messages and for what sits beside it (lock, backups). */
  readonly path: string;
  /**
   * Push the WAL into the database and truncate it, so freed pages linger
   * nowhere. False when another connection's open snapshot kept it from finishing.
   */
  checkpoint(): Promise<boolean>;
  /** SQLite's own structural check: an empty list when the file is sound. */
  integrityProblems(): Promise<string[]>;
  /**
   * A consistent online copy that also finishes while other processes write
   * continuously, into `destination` (an existing empty file).
   */
  snapshotTo(destination: string, onProgress?: (done: number, total: number) => void): Promise<void>;
}

/**
 * Transactions around a storage's operations. Bodies are async and may
 * await only this storage's operations (never a key source, an agent or the
 * network: a transaction holds the connection, and SQLite's write lock,
 * until its body ends). A driver serialises the transactions of one
 * connection; a body must use its `tx`, never the storage itself, which
 * would wait for the transaction it is in.
 */
/** Handed to work under the exclusive lock: long work calls `check()` between steps. */
export interface HeldLock {
  /** @throws StoreError E_LOCKED when the lock was lost (taken over as stale) */
  check(): void;
}

export interface ExclusiveOptions {
  /** Wait for the lock instead of failing at once with E_LOCKED. */
  wait?: boolean;
}

export interface StorageTransactions<Ops> {
  /** The schema the store is at: what the driver migrated it to when it opened it. */
  readonly schemaVersion: number;
  /**
   * Run `fn` holding the store's exclusive lock, which only one process (on
   * any host sharing the store) holds at a time: the operations that must
   * not run twice at once (key and master-key rotation). Ordinary reads and
   * writes do not take it. A file store uses a lock file beside it; a
   * database server would use its own locks.
   * @throws StoreError E_LOCKED when another holds it (and `wait` is not set, or the wait ran out)
   */
  exclusive<T>(fn: (lock: HeldLock) => Promise<T>, options?: ExclusiveOptions): Promise<T>;
  /** Run `fn` in a write transaction: all or nothing. A driver may run it again after a conflict, so `fn` must only read and write through `tx`. */
  write<T>(fn: (tx: Ops) => Promise<T>, options?: WriteOptions): Promise<T>;
  /** Run `fn` over one consistent snapshot. */
  read<T>(fn: (tx: Ops) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Present only for a store kept in one local file. */
  readonly file?: FileCapabilities;
}

/** A version as one scan of every version sees it (verification). */
export type ScannedVersion = VersionRow & { secretId: number; name: string; secretUpdatedAt: number };

export interface Storage extends StorageOps, StorageTransactions<StorageOps> {
  /**
   * Up to `limit` versions with their ciphertexts, in (secret id, version)
   * order, after the given position (`afterSecretId` 0: from the start): one
   * scan of every version, for verification.
   */
  scanVersions(afterSecretId: number, afterVersion: number, limit: number): Promise<ScannedVersion[]>;
}

// ---- the driver's side ------------------------------------------------

/** A stored MAC: null in rows written before the store authenticated its rows (schema 2 and older). */
export type Mac = Uint8Array | null;

/**
 * Rows as the driver stores them. Values are passed through exactly as
 * stored (a damaged file may hold a string where a number belongs): the
 * guard checks their types before it trusts or MACs them. The one exception
 * is a version's `json` flag, stored as 0 or 1: the driver hands those two
 * over as false and true, and any other stored value as it is, for the
 * guard to refuse.
 */
export interface RawMeta { key: string; value: string; mac: Mac }
/** The state of a secret's current version, which the secret row's MAC covers too: a get of the current version checks one MAC. */
export interface VersionHead {
  createdAt: number; deletedAt: number | null; destroyedAt: number | null; json: boolean;
  /** Its ciphertext's nonce (columns.ts headNonce; null once destroyed), which ties the one MAC to the value's ciphertext (schema 9). */
  nonce: Uint8Array | null;
}
export interface RawSecret {
  id: number; name: string; currentVersion: number; maxVersions: number; custom: string; createdAt: number; updatedAt: number;
  /** The current version's state as stored in its row (null when there is no such row). */
  head: VersionHead | null;
  mac: Mac;
}
export interface RawVersion extends VersionRow { secretId: number; mac: Mac }
export interface RawKey extends KeyRow { mac: Mac }
export interface RawRecord { kind: string; id: string; value: string; mac: Mac }
export interface RawJoined { secret: RawSecret; version: RawVersion | undefined }
export interface RawListRow { secret: RawSecret; oldestVersion: number; versionCount: number }
export interface RawRewrap { name: string; row: RawVersion }

/** The digest of the whole state and the end of the audit chain, under one MAC. */
export interface StateRow {
  digest: Uint8Array;
  auditSeq: number;
  auditMac: Uint8Array;
  mac: Uint8Array;
}

export interface RawOps {
  getMeta(key: string): Awaitable<string | undefined>;
  metaRow(key: string): Awaitable<RawMeta | undefined>;
  allMeta(): Awaitable<RawMeta[]>;
  putMeta(row: RawMeta): Awaitable<void>;
  deleteMeta(key: string): Awaitable<void>;

  findSecret(name: string): Awaitable<RawSecret | undefined>;
  secretById(id: number): Awaitable<RawSecret | undefined>;
  /** A new row with current version 0 and no MAC yet. */
  insertSecret(name: string, now: number): Awaitable<RawSecret>;
  updateSecret(row: RawSecret): Awaitable<void>;
  /** Remove the secret row and its versions. */
  deleteSecret(id: number): Awaitable<void>;

  readVersion(name: string, version?: number): Awaitable<RawJoined | undefined>;
  readVersionAt(name: string, at: number): Awaitable<RawJoined | undefined>;
  listVersions(secretId: number): Awaitable<RawVersion[]>;
  insertVersion(row: RawVersion): Awaitable<void>;
  /** Rewrite a version's state, key, ciphertext and MAC (its json flag is written once, by insertVersion). */
  updateVersion(row: RawVersion): Awaitable<void>;
  deleteVersions(secretId: number, versions: number[]): Awaitable<void>;

  listSecrets(prefix: string, after: string, limit: number): Awaitable<RawListRow[]>;
  counts(): Awaitable<StoreCounts>;

  keys(): Awaitable<RawKey[]>;
  insertKey(row: RawKey): Awaitable<void>;
  updateKey(row: RawKey): Awaitable<void>;
  primaryKeyId(): Awaitable<number | undefined>;
  versionsUnderKey(keyId: number, limit: number, after?: VersionPlace): Awaitable<RawRewrap[]>;
  /** Write `row` only if the stored version is still as read: under `from.keyId`, with the MAC `from.mac`. */
  replaceCiphertext(row: RawVersion, from: { keyId: number; mac: Uint8Array }): Awaitable<boolean>;

  lastAudit(): Awaitable<AuditHead | undefined>;
  insertAudit(row: AuditRow): Awaitable<void>;
  auditPage(afterSeq: number, limit: number, filter?: AuditFilter): Awaitable<AuditRow[]>;
  deleteAuditThrough(seq: number): Awaitable<void>;

  state(): Awaitable<StateRow | undefined>;
  /** The state row's MAC alone (cheap: tells whether the row is still the one this process last wrote). */
  stateMac(): Awaitable<Uint8Array | undefined>;
  putState(row: StateRow): Awaitable<void>;

  /** Every row of a kind, in a stable order: sealing and verifying the whole state. */
  eachSecret(fn: (row: RawSecret) => void): Awaitable<void>;
  eachVersion(fn: (row: RawVersion, name: string) => void): Awaitable<void>;

  getRecord(kind: string, id: string): Awaitable<RawRecord | undefined>;
  /** Insert, or replace the row of the same kind and id. */
  putRecord(row: RawRecord): Awaitable<void>;
  /** False when there was no such row. */
  deleteRecord(kind: string, id: string): Awaitable<boolean>;
  /** The rows of one kind, in id order: UTF-8 byte order (SQLite's BINARY collation, PostgreSQL's "C"). */
  listRecords(kind: string): Awaitable<RawRecord[]>;
  /** Every record of every kind, in (kind, id) order: sealing and verifying the whole state. */
  eachRecord(fn: (row: RawRecord) => void): Awaitable<void>;

  // A whole store's rows, moved to another storage as they are (src/storage/copy.ts).
  /** Up to `limit` secrets with ids above `afterId`, in id order. */
  secretsPage(afterId: number, limit: number): Awaitable<RawSecret[]>;
  /** Up to `limit` versions after (`afterSecretId`, `afterVersion`), in that order, with no join: a version whose secret is gone is still read. */
  versionsPage(afterSecretId: number, afterVersion: number, limit: number): Awaitable<RawVersion[]>;
  /** Up to `limit` records after (`afterKind`, `afterId`), in that (byte) order. */
  recordsPage(afterKind: string, afterId: string, limit: number): Awaitable<RawRecord[]>;
  /** A secret row exactly as given, its id and MAC included (its head is the versions' business). */
  insertSecretRow(row: RawSecret): Awaitable<void>;
  /** The highest secret id this store ever handed out, purged secrets' included (0: none): ids are never used twice. */
  secretIdHighWater(): Awaitable<number>;
  /** Make sure a new secret's id is above `id`; never lowers what the store would hand out. */
  raiseSecretIdHighWater(id: number): Awaitable<void>;
  /** Remove every row of every table (a restore replaces a store's rows in one transaction). */
  deleteAllRows(): Awaitable<void>;
}

export interface RawStorage extends StorageTransactions<RawOps> {
  /**
   * Run `fn`, which makes exactly one read, outside any transaction (the get
   * path: one statement needs no snapshot, and beginning one costs as much
   * as the read). It still waits for a transaction of this connection.
   */
  readOne<R>(fn: (ops: RawOps) => R): R | Promise<Awaited<R>>;
  /**
   * A read cache's change detector, optional: a number that is not the one
   * it returned last whenever a write by another connection (another store
   * in this process, another process, another host) may have changed what
   * a read returns since; undefined when it cannot tell just now. Asked on
   * every cached get, so it must be cheap and synchronous. A driver that
   * may have missed a change while it could not tell returns a new number
   * after. Writes of this connection need not show (the store drops what
   * they change itself), nor writes that only append to the audit log.
   */
  changeCounter?(): number | undefined;
  scanVersions(afterSecretId: number, afterVersion: number, limit: number): Awaitable<(RawVersion & { name: string; secretUpdatedAt: number })[]>;
  /**
   * Run `fn` over one consistent snapshot on a connection of its own, while
   * this storage's other transactions go on: a long read (a backup's copy of
   * every row) that must not hold up the rest of the process. Absent where
   * there is one connection (SQLite, whose `read` never holds up writers).
   */
  readBeside?<T>(fn: (tx: RawOps) => Promise<T>): Promise<T>;
}
