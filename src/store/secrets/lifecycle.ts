/**
 * The life of a secret's versions after they are written: soft delete and
 * undelete, destroy (the ciphertext erased for good) and purge (the secret
 * and every version gone). Each is one write transaction with its audit
 * entry; the WAL scrub that follows a destroy or purge is the Store's.
 */
import { StoreError } from '../../errors.js';
import { checkVersions, notFound, usage } from './checks.js';
import type { StoreContext } from '../context.js';
import type { SecretRow, StorageOps } from '../../storage/storage.js';

/** Soft-delete (`delete`) or restore (`undelete`) versions, the current one by default. */
export function setDeleted(c: StoreContext, action: 'delete' | 'undelete', name: string, versions: number[] | undefined, skipMissing = false): Promise<number[]> {
  const chosen = checkVersions(versions);
  return c.storage.write(async (tx) => {
    const t = await targets(tx, name, chosen, skipMissing);
    await tx.setDeleted(t.secret.id, t.versions, action === 'delete' ? c.now() : null);
    await c.audit.append(tx, { action, name, versions: t.versions, outcome: 'ok' });
    return t.versions;
  });
}

/** Erase the ciphertexts of these versions. */
export function destroyVersions(c: StoreContext, name: string, versions: number[], skipMissing = false): Promise<number[]> {
  const chosen = checkVersions(versions);
  if (!chosen) throw usage('destroy needs the versions to erase');
  return c.storage.write(async (tx) => {
    const t = await targets(tx, name, chosen, skipMissing);
    await tx.destroyVersions(t.secret.id, t.versions, c.now());
    await c.audit.append(tx, { action: 'destroy', name, versions: t.versions, outcome: 'ok' });
    return t.versions;
  });
}

/** Remove the secret and every version. */
export function purgeSecret(c: StoreContext, name: string): Promise<void> {
  return c.storage.write(async (tx) => {
    const secret = await tx.findSecret(name);
    if (!secret) throw notFound(name);
    await tx.deleteSecret(secret.id);
    await c.audit.append(tx, { action: 'purge', name, outcome: 'ok' });
  });
}

/** Versions to act on: the given ones (each must exist, unless skipMissing) or the current one. */
async function targets(tx: StorageOps, name: string, versions: number[] | undefined, skipMissing: boolean): Promise<{ secret: SecretRow; versions: number[] }> {
  const secret = await tx.findSecret(name);
  if (!secret) throw notFound(name);
  const existing = new Set((await tx.listVersions(secret.id)).map((v) => v.version));
  const chosen = versions ?? [secret.currentVersion];
  const missing = chosen.filter((v) => !existing.has(v));
  if (missing.length > 0 && !skipMissing) throw new StoreError('E_NOT_FOUND', `${name} has no version ${missing.join(', ')}`);
  return { secret, versions: chosen.filter((v) => existing.has(v)) };
}
