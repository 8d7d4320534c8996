/** Strongbox: a local encrypted secret store. The public library API. */
export { initStore, openStore, type InitOptions, type OpenOptions, type MasterKeyChoice } from './store/open.js';
export { Store } from './store/store.js';
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
export { backupStore, type BackupOptions, type BackupReport } from './store/backup/backup.js';
export { restoreStore, type RestoreOptions, type RestoreReport } from './store/backup/restore.js';
export { migrateStore, type MigrateOptions, type MigrateReport } from './store/migrate/migrate.js';
export type { CopiedRows } from './storage/copy.js';
export { verifyStore, VerificationError, type VerifyOptions, type VerifyReport, type VerifyProblem } from './store/backup/verify.js';
export { exportStore } from './store/transfer/export.js';
export { importBundle, readBundleInfo, detectImportFormat } from './store/transfer/import.js';
export { exportPlain, importPlain } from './store/transfer/plaintext.js';
export {
  ImportRefusedError, MAX_AGE_BUNDLE_BYTES,
  type BundleKey, type BundleInfo, type ExportOptions, type PlainExportOptions, type ExportReport, type ImportOptions,
  type BundleImportOptions, type PlainImportOptions, type ImportReport, type ConflictPolicy, type PlainFormat, type ImportFormat,
  type ImportAction, type ImportActionKind,
  type AgeIdentity,
} from './store/transfer/types.js';
export { createAgeIdentityFile, ageRecipientsOfFile, readAgeRecipientsFile } from './crypto/age-identity.js';
export { setPolicy, rotateValue, dueSecrets, expiryOf, policyStatus, policyOf, type RotationPolicy, type DueSecret, type PolicyStatus } from './store/policy.js';
export { agent, type AgentSourceOptions } from './crypto/master/agent/source.js';
export { checkSecrets, parseRequirement, type Requirement, type CheckReport, type CheckProblem, type CheckProblemKind } from './store/check.js';
export { formatProblem, parseRule, type FormatRule } from './store/formats.js';
export { dueAmong } from './store/policy.js';
export { checkHealth, DEFAULT_MAX_KEY_AGE_MS, type Finding, type FindingLevel, type HealthOptions, type HealthReport } from './store/health.js';
export { collectStats, type StoreStats, type StatsOptions, type StateCounts, type KeyAge } from './store/stats.js';
export type { AuditSummary } from './store/audit-summary.js';
export { lockState, type LockState, type LockOwner } from './platform/lock.js';
export type { CacheOptions, CacheStats } from './store/read-cache.js';
export type { StoreEvent, StoreOperation, EventHook } from './store/events.js';
export { withAuditContext, MAX_AUDIT_CONTEXT_CHARS, type AuditContext } from './store/audit-context.js';
export type { RequestRecord } from './store/audit-request.js';
