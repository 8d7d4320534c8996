/**
 * The one narrow interface between the store's logic and its persistence
 * (DESIGN.md §7): rows in, rows out, transactions. SQL stays in the driver
 * (src/store/sqlite), so a PostgreSQL driver can sit behind the same calls.
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
}

/** One joined read: a secret's id and one of its versions (absent when no such version). */
export interface SecretAndVersion {
  secretId: number;
  version: VersionRow | undefined;
}

export interface KeyRow {
  id: number;
  version: number;
  status: KeyStatus;
  createdAt: number;
  wrapped: Uint8Array | null;
}

/** A version waiting to be re-encrypted under the primary key. */
export interface RewrapRow {
  secretId: number;
  name: string;
  version: number;
  keyId: number;
  ciphertext: Uint8Array;
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

/** Operations valid inside a transaction (and outside one, for single reads). */
export interface StorageOps {
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  findSecret(name: string): SecretRow | undefined;
  insertSecret(name: string, now: number): SecretRow;
  updateSecret(row: SecretRow): void;
  deleteSecret(id: number): void;

  /** `version` undefined: the current version. */
  readVersion(name: string, version?: number): SecretAndVersion | undefined;
  /** The newest version created at or before `at` (ms). */
  readVersionAt(name: string, at: number): SecretAndVersion | undefined;
  listVersions(secretId: number): VersionRow[];
  insertVersion(secretId: number, row: VersionRow): void;
  setDeleted(secretId: number, versions: number[], deletedAt: number | null): void;
  destroyVersions(secretId: number, versions: number[], now: number): void;
  /** Remove all but the newest `keep` versions; returns the removed version numbers. */
  pruneVersions(secretId: number, keep: number): number[];

  /** Up to `limit` secrets whose names start with `prefix` and sort after `after`, in name order. */
  listSecrets(prefix: string, after: string, limit: number): SecretListRow[];
  counts(): StoreCounts;

  keys(): KeyRow[];
  insertKey(row: KeyRow): void;
  /** The id of the primary data key as stored now (another process may have rotated). */
  primaryKeyId(): number | undefined;
  setKeyStatus(id: number, status: KeyRow['status']): void;
  setKeyWrapping(id: number, wrapped: Uint8Array | null): void;
  /** Up to `limit` versions still sealed under data key `keyId`. */
  versionsUnderKey(keyId: number, limit: number): RewrapRow[];
  /** Replace a version's ciphertext only if it is still under `fromKeyId`; false when it moved on. */
  replaceCiphertext(secretId: number, version: number, fromKeyId: number, toKeyId: number, ciphertext: Uint8Array): boolean;

  lastAudit(): { seq: number; mac: Uint8Array } | undefined;
  insertAudit(row: AuditRow): void;
  /** Up to `limit` entries after `afterSeq` in order, optionally filtered. */
  auditPage(afterSeq: number, limit: number, filter?: AuditFilter): AuditRow[];
}

export interface Storage extends StorageOps {
  /** Run `fn` in a write transaction (BEGIN IMMEDIATE): all or nothing. */
  write<T>(fn: (tx: StorageOps) => T): T;
  /**
   * A write transaction committed without waiting for the disk (synchronous
   * NORMAL): for audit entries of reads, which must be written before the
   * value is returned but need not survive a power cut.
   */
  writeRelaxed<T>(fn: (tx: StorageOps) => T): T;
  /** Run `fn` over one consistent snapshot. */
  read<T>(fn: (tx: StorageOps) => T): T;
  /**
   * Push the WAL into the database and truncate it, so freed pages linger
   * nowhere. False when another connection's open snapshot kept it from finishing.
   */
  checkpoint(): boolean;
  /** SQLite's own structural check: an empty list when the file is sound. */
  integrityProblems(): string[];
  close(): void;
  /**
   * A consistent online copy that also finishes while other processes write
   * continuously (fixed small backup steps would restart forever then), and a
   * small store is copied whole while writers wait for the copy (fast): the
   * copy an online backup uses. `destination` is an existing empty file.
   */
  snapshotTo(destination: string, onProgress?: (done: number, total: number) => void): Promise<void>;
  /**
   * Up to `limit` versions with their ciphertexts, in (secret id, version)
   * order, after the given position (`afterSecretId` 0: from the start): one
   * scan of every version, for verification.
   */
  scanVersions(afterSecretId: number, afterVersion: number, limit: number): (VersionRow & { secretId: number; name: string; secretUpdatedAt: number })[];
}
