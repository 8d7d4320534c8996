/**
 * Master-key rotation: wrap every data key under a new master key and replace
 * the header's master parameters and check, all in one transaction, so the
 * store opens with exactly one of the two keys at any moment. Values are not
 * touched: they are under data keys, which do not change.
 */
import { StoreError } from '../errors.js';
import type { MasterKey, MasterKeySource } from '../crypto/master/master-key.js';
import { makeMasterCheck, reloadKeyset, verifyMasterCheck, wrapHeaderKey, wrapKey } from './keys.js';
import type { GuardedStorage } from './integrity/guarded.js';
import { recordMaintenance } from './maintenance-times.js';
import type { RotationContext } from './rotation.js';
import type { StoreHeader } from './header.js';
import type { KeyRow } from '../storage/storage.js';

export interface MasterRotationContext extends RotationContext {
  header: StoreHeader;
  storage: GuardedStorage;
}

/**
 * Returns the new master key; the caller swaps it in and closes the old one.
 * @throws E_USAGE when the new key is the one the store already has (nothing is changed)
 */
export async function rotateMaster(
  c: MasterRotationContext,
  next: MasterKeySource,
  options: { wait?: boolean } = {},
): Promise<MasterKey> {
  return c.storage.exclusive(async () => {
    await reloadKeyset(c);
    const { key, params } = await next.create(c.header.storeId);
    try {
      await refuseSameKey(c, key);
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

/**
 * Refuse a "rotation" onto the key the store already has: the same key file
 * (or a copy), the same STORE_NEW_MASTER_KEY, the same HSM key. It would
 * write a new check under the same key and report that the old key no
 * longer opens the store, while it does. The test is the key itself: the
 * new key opening the store's current master check (as committed, read
 * inside the exclusive lock), whatever names it was given by. Any failure
 * to open it means another key: a wrong key (E_WRONG_MASTER_KEY), or a key
 * of another kind, which cannot read the check's format (an HSM key and a
 * key file's); and a key that cannot be asked (an HSM failing) is left to
 * the rotation itself, which reports it, as before this test.
 * Not recorded in the audit log: a refused input changes nothing (E_USAGE).
 */
async function refuseSameKey(c: MasterRotationContext, key: MasterKey): Promise<void> {
  const check = await c.storage.getMeta('master_check');
  if (!(await verifyMasterCheck(key, c.header.storeId, check).then(() => true, () => false))) return;
  throw new StoreError('E_USAGE', 'the new key is the key the store already has: nothing changed', [
    'give a new key: another key file (created if absent), another STORE_NEW_MASTER_KEY, or another --key-label',
  ]);
}
