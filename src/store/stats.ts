/**
 * Store-wide numbers for monitoring (`store stats`, Prometheus): counts, data
 * key ages, rotation debt. Counts only: no secret name leaves this module.
 * Read without an audit entry, as `status` is: a collector scraping every
 * minute would otherwise fill the audit log with its own reads. An operation
 * on the StoreContext behind Store.stats.
 */
import type { KeyStatus } from '../crypto/keyset.js';
import type { MasterKind } from '../crypto/master/master-key.js';
import { summarizeAudit, type AuditSummary } from './audit-summary.js';
import { lastMaintenance } from './maintenance-times.js';
import { findDue, ROTATE_EVERY_KEY, ROTATED_AT_KEY } from './policy.js';
import { listKeys, storeStatus } from './status.js';
import { secretEntries } from './secrets/read.js';
import type { StoreContext } from './context.js';
import type { Store } from './store.js';
import type { SecretSummary, VersionState } from './types.js';

export type StateCounts = Record<VersionState, number>;

/** A data key's version, creation time and age. */
export interface KeyAge {
  version: number;
  createdAt: Date;
  ageMs: number;
}

export interface StoreStats {
  path: string;
  storeId: string;
  schemaVersion: number;
  masterKind: MasterKind;
  /** When the numbers were taken, by the store's clock. */
  at: Date;
  /** Secrets by the state of their current version. */
  secrets: StateCounts;
  versions: StateCounts;
  dataKeys: Record<KeyStatus, number>;
  /** The primary data key; its creation is the last key rotation (or the store's creation). */
  primaryKey: KeyAge;
  /** The oldest data key whose material is still in the store (any status but destroyed). */
  oldestKey: KeyAge;
  /** Versions sealed under a data key other than the primary (rotate-keys rewraps them). */
  versionsNeedingRewrap: number;
  /** Secrets with a rotation policy. */
  secretsWithPolicy: number;
  /** Live secrets past their rotation date or expiry (what `store due` lists). */
  rotationOverdueSecrets: number;
  /** Live secrets whose value has expired (a subset of the overdue ones). */
  expiredSecrets: number;
  /** The newest recorded value rotation (`store rotate`), or null when none was ever recorded. */
  lastValueRotationAt: Date | null;
  /** When rotate-keys last made a new primary data key (its creation); null while the store's first key is the primary. */
  lastKeyRotationAt: Date | null;
  /** When the master key was last rotated (`store rotate-master`); null when never, or only by a program that did not record it. */
  lastMasterRotationAt: Date | null;
  /** When the last backup (`store backup`) finished; null when none, or only by a program that did not record it. */
  lastBackupAt: Date | null;
  /** The audit log: entries, ends, and the chain's state (`unverified` unless asked to verify). */
  audit: AuditSummary;
}

export interface StatsOptions {
  /** When the numbers are taken, in ms since the epoch (default: the store's clock). */
  now?: number;
  /** Walk and check the whole audit chain (reads every entry); by default only its authenticated ends are read. */
  verifyAudit?: boolean;
}

const KEY_STATUSES: readonly KeyStatus[] = ['primary', 'active', 'retired', 'destroyed'];

function keyAge(k: { version: number; createdAt: Date }, now: number): KeyAge {
  return { version: k.version, createdAt: k.createdAt, ageMs: Math.max(0, now - k.createdAt.getTime()) };
}

/**
 * Take the store's numbers at `options.now` (default: the store's clock).
 * `context` is asked again for the listing's pages, as store.entries() does.
 * @throws E_CLOSED, E_USAGE (a malformed rotation policy, as `store due`), E_TAMPERED (the audit chain's ends)
 */
export async function takeStats(context: () => StoreContext, options: StatsOptions = {}): Promise<StoreStats> {
  const c = context();
  const t = options.now ?? c.now();
  const keys = await listKeys(c); // reloads: another process may have rotated
  const status = await storeStatus(c);
  const { counts, lastBackupAt, lastMasterRotationAt } = await c.storage.read(async (tx) => ({
    counts: await tx.counts(),
    lastBackupAt: await lastMaintenance(tx, 'backup'),
    lastMasterRotationAt: await lastMaintenance(tx, 'masterRotation'),
  }));
  const audit = await summarizeAudit(c, options.verifyAudit ?? false);

  const secrets: StateCounts = { live: 0, deleted: 0, destroyed: 0 };
  let withPolicy = 0;
  let lastRotation = -Infinity;
  // One pass over the secrets: tally each on its way to the policy check.
  async function* tallied(): AsyncGenerator<SecretSummary> {
    for await (const s of secretEntries(context, {})) {
      secrets[s.state]++;
      if (s.custom[ROTATE_EVERY_KEY] !== undefined) withPolicy++;
      const rotatedAt = Date.parse(s.custom[ROTATED_AT_KEY] ?? '');
      if (Number.isFinite(rotatedAt)) lastRotation = Math.max(lastRotation, rotatedAt);
      yield s;
    }
  }
  const due = await findDue(c, tallied(), t);

  const dataKeys = Object.fromEntries(KEY_STATUSES.map((s) => [s, 0])) as Record<KeyStatus, number>;
  for (const k of keys) dataKeys[k.status]++;
  const primary = keys.find((k) => k.status === 'primary')!;
  const oldest = keys.find((k) => k.status !== 'destroyed') ?? primary; // keys come oldest first
  return {
    path: status.path,
    storeId: status.storeId,
    schemaVersion: status.schemaVersion,
    masterKind: status.masterKind,
    at: new Date(t),
    secrets,
    versions: { live: counts.liveVersions, deleted: counts.deletedVersions, destroyed: counts.destroyedVersions },
    dataKeys,
    primaryKey: keyAge(primary, t),
    oldestKey: keyAge(oldest, t),
    versionsNeedingRewrap: keys.filter((k) => k.status !== 'primary').reduce((n, k) => n + k.versions, 0),
    secretsWithPolicy: withPolicy,
    rotationOverdueSecrets: due.length,
    expiredSecrets: due.filter((d) => d.expired).length,
    lastValueRotationAt: Number.isFinite(lastRotation) ? new Date(lastRotation) : null,
    // Only rotate-keys makes a key after the first, and it makes it the primary.
    lastKeyRotationAt: primary.version > 1 ? primary.createdAt : null,
    lastMasterRotationAt,
    lastBackupAt,
    audit,
  };
}

/** `store.stats({ ...options, now })`, as a function of the store (the library's API before the method). */
export function collectStats(store: Store, now?: number, options: StatsOptions = {}): Promise<StoreStats> {
  return store.stats(now === undefined ? options : { ...options, now });
}
