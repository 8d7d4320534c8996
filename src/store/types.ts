/** Public shapes of the library API: metadata only, except `SecretVersion.value`. */
import type { SecretBytes } from '../crypto/secret.js';
import type { DataKeyInfo } from '../crypto/keyset.js';
import type { MasterKind } from '../crypto/master/master-key.js';

export type VersionState = 'live' | 'deleted' | 'destroyed';

/** What `get` returns. `value` prints as `[redacted N bytes]`; `.expose()` / `.text()` give the plaintext. */
export interface SecretVersion {
  name: string;
  version: number;
  createdAt: Date;
  value: SecretBytes;
  /** The value is the UTF-8 text of a JSON object (written with `PutOptions.json`); false: plain bytes. */
  json: boolean;
}

/** What a write returns. */
export interface WriteResult {
  name: string;
  version: number;
  createdAt: Date;
  /** The secret's custom metadata (unchanged by a write; a Vault write answers it). */
  custom: Record<string, string>;
}

export interface VersionInfo {
  version: number;
  createdAt: Date;
  state: VersionState;
  deletedAt?: Date;
  destroyedAt?: Date;
  /** Version of the data key the value is sealed under (absent once destroyed). */
  keyVersion?: number;
  /** The value is the UTF-8 text of a JSON object (written with `PutOptions.json`); false: plain bytes. */
  json: boolean;
}

/** A version and its secret's metadata, whatever the version's state (Store.getEntry). */
export interface VersionEntry extends VersionInfo {
  /** The secret's metadata (oldestVersion is not looked up here: 0). */
  metadata: SecretMetadata;
  /** Only when the version is live. */
  value?: SecretBytes;
}

/** A secret's metadata and every version's (Store.describe). */
export interface SecretDetail {
  metadata: SecretMetadata;
  versions: VersionInfo[];
}

export interface SecretMetadata {
  name: string;
  currentVersion: number;
  oldestVersion: number;
  /** Versions kept (0: the store default). */
  maxVersions: number;
  custom: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

export interface SecretSummary extends SecretMetadata {
  versions: number;
  /** State of the current version. */
  state: VersionState;
}

export interface KeyInfo extends Omit<DataKeyInfo, 'createdAt'> {
  createdAt: Date;
  /** How many versions this key encrypts. */
  versions: number;
}

export interface StoreStatus {
  path: string;
  storeId: string;
  schemaVersion: number;
  createdAt: Date;
  masterKind: MasterKind;
  secrets: number;
  versions: number;
  liveVersions: number;
  maxValueBytes: number;
  defaultMaxVersions: number;
  keys: KeyInfo[];
  /** Present when the store is open read-only: why ("the file system holding /x is read-only"). */
  readOnly?: string;
}

export interface PutOptions {
  /** Check-and-set: write only if the current version is this (0: only if absent). */
  cas?: number;
  /** Accept an empty value (refused by default: an empty stdin is usually a mistake). */
  allowEmpty?: boolean;
  /**
   * The value is the UTF-8 text of a JSON object (a Vault-style secret, a
   * map of fields), recorded with the version so readers know to parse it;
   * anything else is refused with E_INVALID_VALUE. Default: plain bytes.
   */
  json?: boolean;
}

export interface GetOptions {
  version?: number;
  /** The version current at this time. */
  at?: Date | number | string;
}

/** Which versions delete, undelete and destroy act on. */
export interface VersionsOptions {
  /** Default: the current version. */
  versions?: number[];
  /** Skip listed versions that do not exist (as Vault does) instead of failing with E_NOT_FOUND. */
  skipMissing?: boolean;
}

export interface ListOptions {
  /** A name prefix, or a glob when it holds * ? or [. */
  pattern?: string;
}

export interface MetadataUpdate {
  maxVersions?: number;
  /** Replaces the whole custom map. Not secret: stored in plaintext. */
  custom?: Record<string, string>;
}

/** One audit entry: who did what to which secret, and how it ended. Never a value. */
export interface AuditRecord {
  seq: number;
  at: Date;
  /** OS user name. */
  actor: string;
  pid: number;
  action: string;
  name?: string;
  versions?: number[];
  /** 'ok' or the error code. */
  outcome: string;
  detail?: string;
}

export interface AuditQuery {
  name?: string;
  action?: string;
  since?: Date | number | string;
  until?: Date | number | string;
}

export interface AuditPruneReport {
  /** Entries removed. */
  removed: number;
  /** The kept chain now starts after this entry (undefined when nothing was ever removed). */
  keptAfter?: number;
}

export interface AuditVerifyReport {
  ok: boolean;
  entries: number;
  /** When older entries were removed by retention: the kept chain starts after this entry. */
  keptAfter?: number;
  /** The first entry where the chain breaks. */
  firstProblem?: { seq: number; problem: string };
}
