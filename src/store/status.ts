/** Store-wide facts (ids, counts, keys; never key material) and the data keys listed with their use. */
import { reloadKeyset } from './keys.js';
import { storeIdHex } from './header.js';
import { describeReadOnly } from './read-only.js';
import type { StoreContext } from './context.js';
import type { KeyInfo, StoreStatus } from './types.js';

export async function storeStatus(c: StoreContext): Promise<StoreStatus> {
  const counts = await c.storage.counts();
  const keys: KeyInfo[] = c.keyset.info().map((k) => ({ ...k, createdAt: new Date(k.createdAt), versions: counts.byKey.get(k.id) ?? 0 }));
  return {
    path: c.path,
    storeId: storeIdHex(c.header),
    schemaVersion: c.storage.schemaVersion,
    createdAt: new Date(c.header.createdAt),
    masterKind: c.header.master.kind,
    secrets: counts.secrets,
    versions: counts.versions,
    liveVersions: counts.liveVersions,
    maxValueBytes: c.header.maxValueBytes,
    defaultMaxVersions: c.header.defaultMaxVersions,
    keys,
    ...(c.readOnly ? { readOnly: describeReadOnly(c.readOnly.reason) } : {}),
  };
}

/** The data keys with how many versions each encrypts, after taking in keys another process added. */
export async function listKeys(c: StoreContext): Promise<KeyInfo[]> {
  await reloadKeyset(c);
  return (await storeStatus(c)).keys;
}
