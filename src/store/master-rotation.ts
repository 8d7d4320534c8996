/**
 * Master-key rotation: wrap every data key under a new master key and replace
 * the header's master parameters and check, all in one transaction, so the
 * store opens with exactly one of the two keys at any moment. Values are not
 * touched: they are under data keys, which do not change.
 */
import type { MasterKey, MasterKeySource } from '../crypto/master/master-key.js';
import { makeMasterCheck, reloadKeyset, wrapHeaderKey, wrapKey } from './keys.js';
import type { GuardedStorage } from './integrity/guarded.js';
import { recordMaintenance } from './maintenance-times.js';
import type { RotationContext } from './rotation.js';
import type { StoreHeader } from './header.js';
import type { KeyRow } from '../storage/storage.js';

export interface MasterRotationContext extends RotationContext {
  header: StoreHeader;
  storage: GuardedStorage;
}

/** Returns the new master key; the caller swaps it in and closes the old one. */
export async function rotateMaster(
  c: MasterRotationContext,
  next: MasterKeySource,
  options: { wait?: boolean } = {},
): Promise<MasterKey> {
  return c.storage.exclusive(async () => {
    await reloadKeyset(c);
    const { key, params } = await next.create(c.header.storeId);
    try {
      const rows: KeyRow[] = [];
      for (const k of c.keyset.info()) {
        const full = c.keyset.byId(k.id)!;
        rows.push(await wrapKey(key, c.header.storeId, full));
      }
      const check = await makeMasterCheck(key, c.header.storeId);
      const auditKey = await c.audit.wrapKeyWith((k) => wrapHeaderKey('audit', key, c.header.storeId, k));
      const integrityKey = await c.storage.auth.wrapKeyWith((k) => wrapHeaderKey('integrity', key, c.header.storeId, k));
      await c.storage.write(async (tx) => {
        for (const r of rows) await tx.setKeyWrapping(r.id, r.wrapped);
        await tx.setMeta('master', JSON.stringify(params));
        await tx.setMeta('master_check', check);
        await tx.setMeta('audit_key', auditKey);
        await tx.setMeta('integrity_key', integrityKey);
        await c.audit.append(tx, { action: 'rotate-master', outcome: 'ok', detail: `to ${params.kind}` });
        await recordMaintenance(tx, 'masterRotation', c.now());
      });
      c.header.auditKey = auditKey;
      c.header.master = params;
      c.header.masterCheck = check;
      return key;
    } catch (e) {
      key.close();
      throw e;
    }
  }, options);
}
