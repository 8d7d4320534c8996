/**
 * How a secret's versions are written, one rule for every writer (put,
 * rollback, import): a value is sealed under the keyset's primary data key
 * and bound to (store id, name, version); an appended version is n+1, under
 * check-and-set, and becomes the current one; then the versions beyond max
 * versions (the secret's own, else the store default) are pruned.
 *
 * Each function runs inside the caller's write transaction, one that
 * sealingWrite (src/store/keys.ts) opened: its primary is the stored one.
 */
import { CasMismatchError } from '../errors.js';
import { sealValue } from '../crypto/envelope.js';
import type { Keyset } from '../crypto/keyset.js';
import type { StoreHeader } from './header.js';
import type { SecretRow, StorageOps, VersionRow } from '../storage/storage.js';

/** What writing versions needs from an open store. */
export interface VersionsContext {
  keyset: Keyset;
  header: Pick<StoreHeader, 'storeId' | 'defaultMaxVersions'>;
}

/** Seal `plaintext` under the primary key as `version` of `secret` and insert it. */
export async function insertSealed(
  tx: StorageOps, c: VersionsContext, secret: Pick<SecretRow, 'id' | 'name'>,
  version: Pick<VersionRow, 'version' | 'createdAt' | 'deletedAt' | 'json'>, plaintext: Uint8Array,
): Promise<void> {
  const { blob, keyId } = sealValue(c.keyset.primary()!, c.header.storeId, secret.name, version.version, plaintext);
  await tx.insertVersion(secret.id, {
    version: version.version, createdAt: version.createdAt, deletedAt: version.deletedAt, destroyedAt: null, keyId, ciphertext: blob, json: version.json,
  });
}

/**
 * Append `plaintext` as version n+1 of `secret` at `now` (refused with
 * E_CAS_MISMATCH when `cas` is given and is not the current version), make
 * it current, and prune. `json`: the value is the text of a JSON object,
 * checked by the caller (./content.ts). Returns the new version and the
 * versions pruned.
 */
export async function appendVersion(
  tx: StorageOps, c: VersionsContext, secret: SecretRow, plaintext: Uint8Array, json: boolean, now: number, cas?: number,
): Promise<{ version: number; pruned: number[] }> {
  if (cas !== undefined && cas !== secret.currentVersion) throw new CasMismatchError(secret.name, cas, secret.currentVersion);
  const version = secret.currentVersion + 1;
  await insertSealed(tx, c, secret, { version, createdAt: now, deletedAt: null, json }, plaintext);
  await tx.updateSecret({ ...secret, currentVersion: version, updatedAt: now });
  // No await where nothing is pruned (the default keeps every version).
  return { version, pruned: versionsKept(c, secret.maxVersions) > 0 ? await pruneVersions(tx, c, secret) : [] };
}

/** How many versions a secret keeps: its own max versions, else the store default; 0 keeps them all. */
export function versionsKept(c: VersionsContext, maxVersions: number): number {
  return maxVersions || c.header.defaultMaxVersions;
}

/** Remove the oldest versions beyond what `secret` keeps; the versions removed. */
export async function pruneVersions(tx: StorageOps, c: VersionsContext, secret: Pick<SecretRow, 'id' | 'maxVersions'>): Promise<number[]> {
  const keep = versionsKept(c, secret.maxVersions);
  return keep > 0 ? await tx.pruneVersions(secret.id, keep) : [];
}
