/**
 * Records through the Store (src/store/records.ts): read, listed by kind,
 * changed in one write transaction with its audit entry; a failed change
 * leaves nothing and is recorded; a read-only store refuses changes but
 * reads; kinds, ids and values are checked; verify counts records in the
 * whole-state digest.
 */
import { describe, expect, it } from 'vitest';
import { openStore, rawKey, StoreError, verifyStore, type AuditRecord, type Store } from '../../src/index.js';
import { freshStore } from '../helpers/store.js';

async function entries(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries()) out.push(e);
  return out;
}

describe('records', () => {
  it('are written in one transaction with their audit entry, read back and listed by kind in id order', async () => {
    const { store } = await freshStore();
    const result = await store.changeRecords({ action: 'token.create', detail: 'accessor abc' }, async (tx) => {
      await tx.put('token', 'b', '{"n":2}');
      await tx.put('token', 'a', '{"n":1}');
      await tx.put('token-accessor', 'abc', '{"hash":"a"}');
      expect(await tx.get('token', 'a')).toBe('{"n":1}');
      return 'made';
    });
    expect(result).toBe('made');
    expect(await store.readRecord('token', 'a')).toBe('{"n":1}');
    expect(await store.readRecord('token', 'zzz')).toBeUndefined();
    expect(await store.listRecords('token')).toEqual([{ id: 'a', value: '{"n":1}' }, { id: 'b', value: '{"n":2}' }]);
    expect(await store.listRecords('policy')).toEqual([]);
    const last = (await entries(store)).at(-1)!;
    expect(last).toMatchObject({ action: 'token.create', outcome: 'ok', detail: 'accessor abc' });
    expect(last.name).toBeUndefined();

    const deleted = await store.changeRecords({ action: 'token.revoke' }, async (tx) => [await tx.delete('token', 'a'), await tx.delete('token', 'a')]);
    expect(deleted).toEqual([true, false]);
    expect(await store.listRecords('token')).toEqual([{ id: 'b', value: '{"n":2}' }]);
    expect((await verifyStore(store)).problems).toEqual([]);
  });

  it('a change that fails leaves every record as it was, and is recorded with its code', async () => {
    const { store } = await freshStore();
    await store.changeRecords({ action: 'role.write' }, (tx) => tx.put('approle-role', 'web', 'v1'));
    const before = (await entries(store)).length;
    await expect(store.changeRecords({ action: 'role.write', detail: 'web' }, async (tx) => {
      await tx.put('approle-role', 'web', 'v2');
      await tx.put('approle-role', 'api', 'v1');
      throw new StoreError('E_NOT_FOUND', 'no such thing');
    })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(await store.listRecords('approle-role')).toEqual([{ id: 'web', value: 'v1' }]);
    const after = await entries(store);
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatchObject({ action: 'role.write', outcome: 'E_NOT_FOUND' });
    expect((await verifyStore(store)).problems).toEqual([]);
  });

  it('kinds, ids, values and the audit action are checked before anything is written', async () => {
    const { store } = await freshStore();
    const before = (await entries(store)).length;
    for (const kind of ['', 'Token', '1abc', 'a_b', 'a'.repeat(33), 'tok en']) {
      await expect(store.readRecord(kind, 'x')).rejects.toMatchObject({ code: 'E_USAGE' });
      await expect(store.listRecords(kind)).rejects.toMatchObject({ code: 'E_USAGE' });
      await expect(store.changeRecords({ action: 'x' }, (tx) => tx.put(kind, 'x', 'v'))).rejects.toMatchObject({ code: 'E_USAGE' });
    }
    expect(await store.readRecord('a'.repeat(32), 'x')).toBeUndefined();
    for (const id of ['', 'a\nb', 'x'.repeat(513)]) {
      await expect(store.readRecord('k', id)).rejects.toMatchObject({ code: 'E_USAGE' });
      await expect(store.changeRecords({ action: 'x' }, (tx) => tx.delete('k', id))).rejects.toMatchObject({ code: 'E_USAGE' });
    }
    await expect(store.changeRecords({ action: 'x' }, (tx) => tx.put('k', 'i', 'v'.repeat(1024 * 1024 + 1)))).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(store.changeRecords({ action: 'x' }, (tx) => tx.put('k', 'i', 42 as unknown as string))).rejects.toMatchObject({ code: 'E_USAGE' });
    for (const action of ['', 'Token.Create', 'has space']) {
      await expect(store.changeRecords({ action }, (tx) => tx.put('k', 'i', 'v'))).rejects.toMatchObject({ code: 'E_USAGE' });
    }
    // Refused input is not recorded (like a bad secret name), and nothing was written.
    expect(await entries(store)).toHaveLength(before);
    expect(await store.listRecords('k')).toEqual([]);
  });

  it('a read-only store reads records and refuses to change them', async () => {
    const { store, path, key } = await freshStore();
    await store.changeRecords({ action: 'policy.write' }, (tx) => tx.put('policy', 'app', 'path "x" {}'));
    await store.close();
    const ro = await openStore(path, rawKey(key), { readOnly: true });
    try {
      expect(await ro.readRecord('policy', 'app')).toBe('path "x" {}');
      expect(await ro.listRecords('policy')).toHaveLength(1);
      await expect(ro.changeRecords({ action: 'policy.write' }, (tx) => tx.put('policy', 'app', 'y'))).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    } finally {
      await ro.close();
    }
  });

  it('a change of records keeps cached secret reads (it touches no secret)', async () => {
    const { store, path, key } = await freshStore();
    await store.put('app/db', 'one');
    await store.close();
    const cached = await openStore(path, rawKey(key), { cache: { ttlMs: 60_000 } });
    try {
      await cached.get('app/db');
      await cached.changeRecords({ action: 'token.use' }, (tx) => tx.put('token', 't', '{}'));
      await cached.get('app/db');
      expect(cached.cacheStats()).toMatchObject({ hits: 1, invalidations: 0 });
    } finally {
      await cached.close();
    }
  });
});
