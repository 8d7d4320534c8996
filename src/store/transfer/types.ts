/**
 * The options, reports, limits and refusal of export and import (the public
 * types of src/store/transfer/): shared by the encrypted and plaintext paths.
 */
import { StoreError } from '../../errors.js';
import type { ScryptParams } from '../../crypto/kdf.js';

/** How an export bundle is sealed, or how to open one. */
export type BundleKey =
  /** A passphrase: scrypt (default logN 17, r 8, p 1; within BUNDLE_SCRYPT_LIMITS: logN 15..18 at r 8) then HKDF. */
  | { passphrase: string | Uint8Array; scrypt?: Partial<ScryptParams> }
  /** A 32-byte key in base64 in a file of mode 0600 (the rules of key-file master keys). */
  | { keyFile: string }
  /** The same 32 bytes given directly (copied). */
  | { key: Uint8Array };

/** The public facts of a bundle, readable without its key. */
export interface BundleInfo {
  kind: 'passphrase' | 'keyfile';
  /** Key-file bundles: the id of the key file they are sealed to (hex). */
  keyId?: string;
  scrypt?: ScryptParams;
  allVersions: boolean;
  createdAt: Date;
  secrets: number;
  versions: number;
}

/**
 * What opens an age bundle (key material): an age identity file
 * (`AGE-SECRET-KEY-1…` lines and # comments, mode 0600, as age-keygen writes
 * it), or the same text given directly.
 */
export type AgeIdentity = { identityFile: string } | { identity: string | Uint8Array };

export type PlainFormat = 'json' | 'env';
/** `bundle`: a v1 bundle; `age`: an age bundle (an age file of JSON Lines records). */
export type ImportFormat = 'bundle' | 'age' | PlainFormat;
/**
 * What import does with a name the target already holds: leave it, replace
 * the whole secret, add the imported value as a new version, or (`update`)
 * add it as a new version only when it differs from the current live value.
 */
export type ConflictPolicy = 'skip' | 'overwrite' | 'new-version' | 'update';
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['skip', 'overwrite', 'new-version', 'update'];

/**
 * What an import did (or, in a dry run, would do) with one name:
 * `create` a new secret; `overwrite` it whole; `update` it with a new version;
 * leave it `unchanged` (update: the value is already current); `skip` it (the
 * store holds it); or leave it alone because the bundle has `no-current-value`.
 */
export type ImportActionKind = 'create' | 'overwrite' | 'update' | 'unchanged' | 'skip' | 'no-current-value';

export interface ImportAction {
  name: string;
  action: ImportActionKind;
}

export interface ExportOptions {
  /** A v1 bundle sealed with a passphrase or key file; give this or `recipients`. */
  key?: BundleKey;
  /**
   * An age bundle instead (docs/export-format.md, "Age bundles"): a standard
   * age file that each of these recipients (`age1…` public keys) can open
   * alone, with `age -d` or `importBundle`.
   */
  recipients?: readonly string[];
  /** Age bundles: ASCII armor (`age -a`) instead of binary. */
  armor?: boolean;
  /** Only secrets whose names start with this. */
  prefix?: string;
  /** Every version that is not destroyed; default: each secret's current live version only. */
  allVersions?: boolean;
  /** Looked at between records: once aborted, the export stops (E_INTERRUPTED) and leaves no file. */
  signal?: AbortSignal;
}

export interface PlainExportOptions {
  format: PlainFormat;
  prefix?: string;
  /** As ExportOptions.signal. */
  signal?: AbortSignal;
}

export interface ExportReport {
  path: string;
  format: ImportFormat;
  secrets: number;
  versions: number;
  allVersions: boolean;
  /** Secrets left out because their current version is deleted or destroyed (current-only exports). */
  skippedNotLive: string[];
  /** Destroyed versions left out (their values no longer exist). */
  skippedDestroyed: number;
  /** v1 bundles: how they are sealed. */
  keyKind?: 'passphrase' | 'keyfile';
  keyId?: string;
  /** Age bundles: the recipients that can open it (public keys), duplicates dropped. */
  recipients?: string[];
  /** Age bundles: ASCII-armored. */
  armored?: boolean;
  bytes: number;
}

export interface ImportOptions {
  /** Default `skip`: an existing name is left untouched and reported. */
  onConflict?: ConflictPolicy;
  /** Check everything and report what would happen; write nothing. */
  dryRun?: boolean;
  /**
   * Stop once aborted (Ctrl-C): looked at while a bundle's records are
   * checked and once more before the write, rejecting with E_INTERRUPTED
   * with nothing written. The write itself is one transaction and is not
   * stopped part-way: an abort during it is seen only once it has committed.
   */
  signal?: AbortSignal;
}

export interface BundleImportOptions extends ImportOptions {
  /** v1 bundles: the key, or a function choosing it once the bundle's header has been read. */
  key?: BundleKey | ((info: BundleInfo) => BundleKey | Promise<BundleKey>);
  /** Age bundles: the identities to try; any one of the bundle's recipients opens it. */
  identities?: readonly AgeIdentity[];
}

export interface PlainImportOptions extends ImportOptions {
  /** Default: by extension (.json, .env), else by content. */
  format?: PlainFormat;
  /** Prepended to every name in the file. */
  prefix?: string;
  /** Accept empty values (refused by default, as `store set` does). */
  allowEmpty?: boolean;
}

export interface ImportReport {
  path: string;
  format: ImportFormat;
  dryRun: boolean;
  onConflict: ConflictPolicy;
  /** Names that did not exist and were created. */
  created: string[];
  /** Existing names replaced entirely (overwrite). */
  overwritten: string[];
  /** Existing names that got the imported value as a new version (new-version; update when it differed). */
  appended: string[];
  /** update: existing names whose current live value already equals the imported one (no version added). */
  unchanged: string[];
  /** Existing names left untouched (skip). */
  skipped: string[];
  /** new-version, update: existing names the bundle holds no live current value for (left untouched). */
  noCurrentValue: string[];
  /** Versions written (or, in a dry run, that would be). */
  versions: number;
  /** Old versions removed by max-versions after the import. */
  pruned: number;
  /** Every name in the order the file (or bundle) gives them, with what was (or would be) done to it. */
  actions: ImportAction[];
}

/** An import refused because of its content; `problems` lists every one (names, never values). */
export class ImportRefusedError extends StoreError {
  readonly problems: readonly string[];
  constructor(path: string, problems: string[]) {
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `\n  ${p}`).join('');
    const more = problems.length > MAX_PROBLEMS_SHOWN ? `\n  … and ${problems.length - MAX_PROBLEMS_SHOWN} more` : '';
    super('E_INVALID_IMPORT', `cannot import ${path}: ${problems.length} problem(s), nothing was written:${shown}${more}`);
    this.name = 'ImportRefusedError';
    this.problems = problems;
  }
}

const MAX_PROBLEMS_SHOWN = 100;
/** An age bundle is held in memory (see MemorySink): export and import refuse a larger one. */
export const MAX_AGE_BUNDLE_BYTES = 256 * 1024 * 1024;
