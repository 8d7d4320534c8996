/**
 * The authenticated storage's bookkeeping (src/store/integrity/guarded.ts):
 * the digest and the audit chain's end stay exact across rolled-back
 * transactions, writers in other connections, and every kind of write; a
 * store that went through all of them verifies clean.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { openStore, rawKey, Store } from '../../../src/index.js';
import { openContext } from '../../../src/store/open.js';
import { freshStore } from '../../helpers/store.js';

async function clean(store: Store): Promise<void> {
  expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
  expect(await store.verifyAudit()).toMatchObject({ ok: true });
}

describe('the state row through transactions', () => {
  it('a transaction that fails after changing rows and appending to the audit log leaves no trace in the state', async () => {
    const { store: first, path, key } = await freshStore();
    await first.put('a', 'one');
    await first.close();
    // A Store over a context the test holds too: the failed transaction runs on the connection the store goes on writing through.
    const c = await openContext(path, rawKey(key));
    const store = new Store(c);
    onTestFinished(() => store.close());
    await expect(c.storage.write(async (tx) => {
      await c.audit.append(tx, { action: 'test', outcome: 'ok' });
      const s = await tx.insertSecret('b', 1);
      await tx.insertVersion(s.id, { version: 1, createdAt: 1, deletedAt: null, destroyedAt: null, keyId: null, ciphertext: null, json: false });
      await tx.updateSecret({ ...s, currentVersion: 1 });
      throw new Error('rolled back');
    })).rejects.toThrow('rolled back');
    await store.put('a', 'two');
    await store.delete('a', { versions: [1] });
    await clean(store);
    expect((await store.list()).map((s) => s.name)).toEqual(['a']);
  });

  it('two connections writing in turn: each notices the other moved the state on', async () => {
    const { store, path, key } = await freshStore();
    const other = await openStore(path, rawKey(key));
    try {
      for (let i = 0; i < 20; i++) {
        await (i % 2 ? store : other).put(`s${i % 3}`, `v${i}`);
        if (i % 5 === 0) await (i % 2 ? other : store).get(`s${i % 3}`);
      }
      await other.setMetadata('s1', { custom: { k: 'v' } });
      await store.destroy('s0', [1]);
      await other.rollback('s2', 1);
      await store.rotateKeys();
      await clean(store);
      await clean(other);
    } finally {
      await other.close();
    }
  });

  it('every kind of write keeps the digest exact: put, delete, undelete, destroy, rollback, metadata, prune, purge, rotate, config', async () => {
    const { store } = await freshStore({ maxVersions: 3 });
    for (let i = 0; i < 5; i++) await store.put('a', `v${i}`); // prunes to the last 3
    await store.put('b', 'x');
    await store.delete('a');
    await store.undelete('a');
    await store.delete('a', { versions: [4] });
    await store.destroy('a', [3]);
    await store.rollback('a', 4).catch(() => undefined); // deleted: refused, and audited
    await store.rollback('a', 5);
    await store.setMetadata('a', { maxVersions: 2, custom: { owner: 'ops' } });
    await store.purge('b');
    await store.rotateKeys();
    await store.setConfig('audit.reads', 'false');
    await clean(store);
  });
});
