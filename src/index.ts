/** Strongbox: a local encrypted secret store. The public library API. */
import { initStore as initStoreImpl, openStore as openStoreImpl, type InitOptions, type OpenOptions, type MasterKeyChoice } from './store/open.js';
import { Store } from './store/store.js';
import type { MasterKeySource } from './crypto/master/master-key.js';
import { checkMasterKeySource } from './crypto/master/master-key.js';
import { checkPath, optionsObject, usage } from './store/secrets/checks.js';
import { backupStore as backupStoreImpl, type BackupOptions, type BackupReport } from './store/backup/backup.js';
import { restoreStore as restoreStoreImpl, type RestoreOptions, type RestoreReport } from './store/backup/restore.js';
import { migrateStore as migrateStoreImpl, type MigrateOptions, type MigrateReport } from './store/migrate/migrate.js';
import { verifyStore as verifyStoreImpl, type VerifyOptions, type VerifyReport } from './store/backup/verify.js';
import { exportStore as exportStoreImpl } from './store/transfer/export.js';
import { importBundle as importBundleImpl } from './store/transfer/import.js';
import { exportPlain as exportPlainImpl, importPlain as importPlainImpl } from './store/transfer/plaintext.js';
import type {
  BundleImportOptions, ExportOptions, ExportReport, ImportReport, PlainExportOptions, PlainImportOptions,
} from './store/transfer/types.js';
import {
  dueAmong as dueAmongImpl, dueSecrets as dueSecretsImpl, expiryOf as expiryOfImpl, policyStatus as policyStatusImpl,
  rotateValue as rotateValueImpl, setPolicy as setPolicyImpl, type Clock, type DueSecret, type PolicyStatus, type RotationPolicy,
} from './store/policy.js';
import { checkSecrets as checkSecretsImpl, parseRequirement as parseRequirementImpl, type CheckReport, type Requirement } from './store/check.js';
import { parseRule as parseRuleImpl, type FormatRule } from './store/formats.js';
import { checkHealth as checkHealthImpl, type HealthOptions, type HealthReport } from './store/health.js';
import { collectStats as collectStatsImpl, type StatsOptions, type StoreStats } from './store/stats.js';
import type { SecretBytes } from './crypto/secret.js';
import type { PutOptions, SecretMetadata, SecretSummary, WriteResult } from './store/types.js';

export { Store };
export type { InitOptions, OpenOptions, MasterKeyChoice };

/*
 * The library's functions check their arguments' shapes here, where a caller
 * comes in (a store path, a master-key source, an options object, a Store),
 * so that bad input is a StoreError (E_USAGE; E_MASTER_KEY for a key source)
 * and never a TypeError from deeper down. The Store's methods check their own.
 */

/**
 * A MasterKeyChoice checked: a source, or a function whose choice is checked
 * when it is made. @throws E_MASTER_KEY
 */
function checkedChoice(master: MasterKeyChoice): MasterKeyChoice {
  checkMasterKeySource(master, true);
  if (typeof master !== 'function') return master;
  return async (params) => {
    const chosen = await master(params);
    checkMasterKeySource(chosen);
    return chosen;
  };
}

/** A Store argument of a function of the store. @throws E_USAGE */
function checkStore(store: unknown, fn: string): void {
  if (!(store instanceof Store)) throw usage(`${fn} takes an open Store (from openStore or initStore) as its first argument`);
}

/**
 * Create a new store at `path` protected by `master`: a SQLite file, or the
 * schema of a store in the PostgreSQL database a `postgres://` URL names.
 * @throws E_STORE_EXISTS, E_MASTER_KEY, E_INSECURE_KEYFILE, E_USAGE, E_IO
 */
export async function initStore(path: string, master: MasterKeySource, options: InitOptions = {}): Promise<Store> {
  checkPath(path, 'the store path');
  checkMasterKeySource(master);
  return initStoreImpl(path, master, optionsObject(options, 'init options'));
}

/**
 * Open the store at `path` (a file, or a `postgres://` URL) with `master`
 * (or with the source `master` picks once it has seen which kind of master
 * key the store was made with).
 * Read-only when this process cannot write it, or `options.readOnly` says so.
 * @throws E_NO_STORE, E_NOT_A_STORE, E_SCHEMA_TOO_NEW, E_WRONG_MASTER_KEY, E_MASTER_KEY, E_TAMPERED, E_IO, E_USAGE;
 *   E_READ_ONLY when read-only and the store is from an older version (opening it upgrades it, a write)
 */
export async function openStore(path: string, master: MasterKeyChoice, options: OpenOptions = {}): Promise<Store> {
  checkPath(path, 'the store path');
  return openStoreImpl(path, checkedChoice(master), optionsObject(options, 'open options'));
}

/** `store.backup(file, options)`, as a function of the store. @throws as Store.backup, E_USAGE */
export async function backupStore(store: Store, file: string, options: BackupOptions = {}): Promise<BackupReport> {
  checkStore(store, 'backupStore');
  return backupStoreImpl(store, file, options);
}

/** Restore the store at `path` from `backupFile` (see store restore). @throws as restoreStore does, E_USAGE, E_MASTER_KEY */
export async function restoreStore(path: string, backupFile: string, master: MasterKeyChoice, options: RestoreOptions = {}): Promise<RestoreReport> {
  checkPath(path, 'the store path');
  checkPath(backupFile, 'the backup file');
  return restoreStoreImpl(path, backupFile, checkedChoice(master), optionsObject(options, 'restore options'));
}

/** Copy the store at `from` to a new store at `to` (a file or a postgres:// URL; see store migrate). @throws E_USAGE, E_MASTER_KEY and what migrating throws */
export async function migrateStore(from: string, to: string, master: MasterKeyChoice, options: MigrateOptions = {}): Promise<MigrateReport> {
  checkPath(from, 'the source store');
  checkPath(to, 'the target store');
  return migrateStoreImpl(from, to, checkedChoice(master), optionsObject(options, 'migrate options'));
}

/** `store.verify(options)`, as a function of the store. @throws as Store.verify, E_USAGE */
export async function verifyStore(store: Store, options: VerifyOptions = {}): Promise<VerifyReport> {
  checkStore(store, 'verifyStore');
  return verifyStoreImpl(store, options);
}

/** `store.exportBundle(path, options)`, as a function of the store. */
export async function exportStore(store: Store, path: string, options: ExportOptions): Promise<ExportReport> {
  checkStore(store, 'exportStore');
  return exportStoreImpl(store, path, options);
}

/** `store.importBundle(path, options)`, as a function of the store. */
export async function importBundle(store: Store, path: string, options: BundleImportOptions): Promise<ImportReport> {
  checkStore(store, 'importBundle');
  return importBundleImpl(store, path, options);
}

/** `store.exportPlain(path, options)`, as a function of the store. */
export async function exportPlain(store: Store, path: string, options: PlainExportOptions): Promise<ExportReport> {
  checkStore(store, 'exportPlain');
  return exportPlainImpl(store, path, options);
}

/** `store.importPlain(path, options)`, as a function of the store. */
export async function importPlain(store: Store, path: string, options: PlainImportOptions = {}): Promise<ImportReport> {
  checkStore(store, 'importPlain');
  return importPlainImpl(store, path, options);
}

/** `store.setPolicy(name, policy)`, as a function of the store. */
export async function setPolicy(store: Store, name: string, policy: RotationPolicy): Promise<SecretMetadata> {
  checkStore(store, 'setPolicy');
  return setPolicyImpl(store, name, policy);
}

/** `store.rotateValue(name, value, options)`, as a function of the store. */
export async function rotateValue(store: Store, name: string, value: Uint8Array | string | SecretBytes, options: PutOptions = {}): Promise<WriteResult> {
  checkStore(store, 'rotateValue');
  return rotateValueImpl(store, name, value, options);
}

/** `store.dueSecrets(now)`, as a function of the store. */
export async function dueSecrets(store: Store, now?: Clock): Promise<DueSecret[]> {
  checkStore(store, 'dueSecrets');
  return dueSecretsImpl(store, now);
}

/** `store.expiryOf(name)`, as a function of the store. */
export async function expiryOf(store: Store, name: string): Promise<Date | undefined> {
  checkStore(store, 'expiryOf');
  return expiryOfImpl(store, name);
}

/** `store.policyStatus(name, now)`, as a function of the store. */
export async function policyStatus(store: Store, name: string, now?: Clock): Promise<PolicyStatus | undefined> {
  checkStore(store, 'policyStatus');
  return policyStatusImpl(store, name, now);
}

/** `store.dueAmong(secrets, now)`, as a function of the store. */
export async function dueAmong(store: Store, secrets: Iterable<SecretSummary> | AsyncIterable<SecretSummary>, now?: Clock): Promise<DueSecret[]> {
  checkStore(store, 'dueAmong');
  return dueAmongImpl(store, secrets, now);
}

/**
 * Parse `name[:rule[,rule...]]`, as in `db/url`, `jwt/private-key:pem`, `api/key:hex,min=32`.
 * @throws StoreError E_USAGE naming the requirement (a bad name or rule)
 */
export function parseRequirement(spec: string): Requirement {
  if (typeof spec !== 'string') throw usage('a requirement is a string: name[:rule[,rule...]]');
  return parseRequirementImpl(spec);
}

/** Parse one rule (`pem`, `min=32`). @throws StoreError E_USAGE naming the rule */
export function parseRule(text: string): FormatRule {
  if (typeof text !== 'string') throw usage('a format rule is a string, such as pem or min=32');
  return parseRuleImpl(text);
}

/**
 * Check each required secret's current version (read once per name, wiped
 * after) against its rules; report every problem, in the order given.
 * @throws StoreError E_USAGE (not a list of requirements), E_INVALID_NAME for a bad name; store-wide failures (E_LOCKED, E_CLOSED, E_IO) as they come
 */
export async function checkSecrets(store: Store, requirements: readonly Requirement[]): Promise<CheckReport> {
  checkStore(store, 'checkSecrets');
  if (!Array.isArray(requirements)) throw usage('checkSecrets takes an array of requirements (parseRequirement makes one)');
  for (const r of requirements as unknown[]) {
    const q = r as Partial<Requirement> | null;
    if (typeof q !== 'object' || q === null || !Array.isArray(q.rules)) throw usage('a requirement is { name, rules } (parseRequirement makes one)');
  }
  return checkSecretsImpl(store, requirements);
}

/**
 * Check the store at `path`: the file, its modes and directory's, the key
 * file, the lock; then, opened with `master` (undefined: those checks are
 * skipped), integrity, the audit chain, data key ages, versions left under
 * old keys, and value rotations past due or expired.
 * @throws E_USAGE, E_MASTER_KEY (arguments of the wrong shape); every problem found is a finding
 */
export async function checkHealth(path: string, master: MasterKeyChoice | undefined, options: HealthOptions = {}): Promise<HealthReport> {
  checkPath(path, 'the store path');
  return checkHealthImpl(path, master === undefined ? undefined : checkedChoice(master), optionsObject(options, 'checkHealth options'));
}

/** `store.stats({ ...options, now })`, as a function of the store. */
export async function collectStats(store: Store, now?: number, options: StatsOptions = {}): Promise<StoreStats> {
  checkStore(store, 'collectStats');
  return collectStatsImpl(store, now, optionsObject(options, 'stats options'));
}

export type { RecordTx, RecordAudit } from './store/records.js';
export type { RecordEntry } from './storage/storage.js';
export type { RotateOptions, RotateReport } from './store/rotation.js';
export type * from './store/types.js';
export { defaultStorePath } from './platform/paths.js';
export { nameProblem, checkName } from './store/names.js';
export { SecretBytes } from './crypto/secret.js';
export type { MasterKeySource, MasterKey, MasterKind, MasterParams } from './crypto/master/master-key.js';
export type { KeyStatus, DataKeyInfo } from './crypto/keyset.js';
export { passphrase, type PassphraseOptions } from './crypto/master/passphrase.js';
export { keyFile, createKeyFile, type KeyFileOptions } from './crypto/master/keyfile.js';
export { envKey, rawKey } from './crypto/master/raw-key.js';
export { pkcs11, type Pkcs11Options } from './crypto/master/pkcs11/source.js';
export { StoreError, TamperedError, WrongMasterKeyError, CasMismatchError, isStoreError, type ErrorCode } from './errors.js';
export type { BackupOptions, BackupReport };
export type { RestoreOptions, RestoreReport };
export type { MigrateOptions, MigrateReport };
export type { CopiedRows } from './storage/copy.js';
export { VerificationError, type VerifyProblem } from './store/backup/verify.js';
export type { VerifyOptions, VerifyReport };
export { readBundleInfo, detectImportFormat } from './store/transfer/import.js';
export {
  ImportRefusedError, MAX_AGE_BUNDLE_BYTES,
  type BundleKey, type BundleInfo, type ExportOptions, type PlainExportOptions, type ExportReport, type ImportOptions,
  type BundleImportOptions, type PlainImportOptions, type ImportReport, type ConflictPolicy, type PlainFormat, type ImportFormat,
  type ImportAction, type ImportActionKind,
  type AgeIdentity,
} from './store/transfer/types.js';
export { createAgeIdentityFile, ageRecipientsOfFile, readAgeRecipientsFile } from './crypto/age-identity.js';
export { policyOf } from './store/policy.js';
export type { RotationPolicy, DueSecret, PolicyStatus };
export { agent, type AgentSourceOptions } from './crypto/master/agent/source.js';
export type { Requirement, CheckReport, CheckProblem, CheckProblemKind } from './store/check.js';
export { formatProblem, type FormatRule } from './store/formats.js';
export { DEFAULT_MAX_KEY_AGE_MS, type Finding, type FindingLevel, type HealthOptions, type HealthReport } from './store/health.js';
export type { StoreStats, StatsOptions, StateCounts, KeyAge } from './store/stats.js';
export type { AuditSummary } from './store/audit-summary.js';
export { lockState, type LockState, type LockOwner } from './platform/lock.js';
export type { CacheOptions, CacheStats } from './store/read-cache.js';
export type { StoreEvent, StoreOperation, EventHook } from './store/events.js';
export { withAuditContext, MAX_AUDIT_CONTEXT_CHARS, type AuditContext } from './store/audit-context.js';
export type { RequestRecord } from './store/audit-request.js';
