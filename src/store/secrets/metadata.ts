/**
 * A secret's metadata: reading it, and changing max versions (older
 * versions beyond it are pruned at once) or the custom map.
 */
import { checkName } from '../names.js';
import { checkCustom } from '../custom-metadata.js';
import { pruneVersions } from '../versions.js';
import { metadataOf, notFound, usage } from './checks.js';
import type { StoreContext } from '../context.js';
import type { SecretRow } from '../../storage/storage.js';
import type { MetadataUpdate, SecretMetadata } from '../types.js';
import { checkReservedChange } from '../policy-keys.js';

export function readMetadata(c: StoreContext, name: string): Promise<SecretMetadata> {
  return c.storage.read(async (tx) => {
    checkName(name);
    const secret = await tx.findSecret(name);
    if (!secret) throw notFound(name);
    const versions = await tx.listVersions(secret.id);
    return metadataOf(secret, versions[0]?.version ?? 0);
  });
}

export function updateMetadata(c: StoreContext, name: string, update: MetadataUpdate): Promise<SecretMetadata> {
  if (update.maxVersions !== undefined && (!Number.isSafeInteger(update.maxVersions) || update.maxVersions < 0)) {
    throw usage('maxVersions must be a whole number from 0 (store default) up');
  }
  if (update.custom !== undefined) checkCustom(update.custom);
  return c.storage.write(async (tx) => {
    const secret = await tx.findSecret(name);
    if (!secret) throw notFound(name);
    if (update.custom) checkReservedChange(name, secret.custom, update.custom, c.now());
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
}
