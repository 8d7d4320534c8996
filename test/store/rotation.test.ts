// Data-key rotation and master-key rotation through the library.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { initStore, openStore, rawKey, keyFile, passphrase, type Store } from '../../src/index.js';
import { openContext } from '../../src/store/open.js';
import { rotateKeys } from '../../src/store/rotation.js';
import type { GuardedStorage } from '../../src/store/integrity/guarded.js';
import { tempDir } from '../helpers/tmp.js';
import { everyValue } from '../helpers/store.js';

const KEY = new Uint8Array(32).fill(3);

async function fresh(now?: () => number): Promise<{ path: string; store: Store }> {
  const path = join(tempDir(), 'store.db');
  return { path, store: await initStore(path, rawKey(KEY), now ? { now } : {}) };
}

async function fill(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await store.put(`s/${i % 7}`, `value-${i}`);
}

/** Each rewrap test runs with the values sealed in this thread and in the worker (RotateOptions.parallel). */
const SEALING = [{ sealing: 'in this thread', parallel: false }, { sealing: 'in a worker thread', parallel: true }];

describe.each(SEALING)('rotateKeys, sealing $sealing', ({ parallel }) => {
  it('makes a new primary, rewraps every version under it, retires the old key; the digest and every value check out', async () => {
    const { store } = await fresh();
    await fill(store, 40);
    const before = await everyValue(store);
    const r = await store.rotateKeys({ batchSize: 7, parallel });
    expect(r).toMatchObject({ rotated: true, primaryVersion: 2, rewrapped: 40, retired: [1], parallel });
    expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
    expect(r.batches).toBe(6); // 40 versions in batches of 7
    const keys = await store.keys();
    expect(keys.map((k) => [k.version, k.status, k.versions])).toEqual([[1, 'retired', 0], [2, 'primary', 40]]);
    expect(await everyValue(store)).toEqual(before);
    expect((await store.history('s/0')).every((h) => h.keyVersion === 2)).toBe(true);
    await store.close();
  });

  it('the keyset reloaded in this process between two batches (keys(), verify()) changes nothing the rewrap seals with', async () => {
    const { store } = await fresh();
    await fill(store, 60);
    const before = await everyValue(store);
    let reloads = 0;
    // Each progress report lets a keys() run before the next batch; it reloads the keyset, which wipes the old one's keys.
    const r = await store.rotateKeys({ batchSize: 10, parallel, onProgress: () => void store.keys().then(() => reloads++) });
    expect(r).toMatchObject({ rotated: true, rewrapped: 60, retired: [1] });
    expect(reloads).toBeGreaterThan(3);
    expect(await everyValue(store)).toEqual(before);
    expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
    await store.close();
  });

  it('a rewrap keeps each value\'s nonce under its new key, so no secret row is written again', async () => {
    const { path, store } = await fresh();
    await fill(store, 21);
    const read = () => {
      const db = new Database(path, { readonly: true });
      try {
        return {
          secrets: db.prepare('SELECT name, mac FROM secrets ORDER BY name').all(),
          versions: db.prepare('SELECT secret_id, version, ciphertext FROM versions ORDER BY secret_id, version').all() as { ciphertext: Buffer }[],
        };
      } finally {
        db.close();
      }
    };
    const before = read();
    expect(await store.rotateKeys({ parallel })).toMatchObject({ rewrapped: 21, parallel });
    const after = read();
    // Secret rows, whose MACs cover their current versions' nonces, are byte for byte as they were.
    expect(after.secrets).toEqual(before.secrets);
    const parts = (b: Buffer) => [b.subarray(1, 5).toString('hex'), b.subarray(5, 29).toString('hex'), b.subarray(29).toString('hex')];
    after.versions.forEach((v, i) => {
      const [keyBefore, nonceBefore, sealedBefore] = parts(before.versions[i]!.ciphertext);
      const [keyAfter, nonceAfter, sealedAfter] = parts(v.ciphertext);
      expect([keyAfter === keyBefore, nonceAfter, sealedAfter === sealedBefore]).toEqual([false, nonceBefore, false]);
    });
    expect((await store.get('s/0')).value.text()).toBe('value-14');
    await store.close();
  });

  it('two secrets whose names were swapped in the file: the rewrap stops E_TAMPERED and seals nothing under a swapped name', async () => {
    const { path, store } = await fresh();
    await store.put('s/a', 'value of a');
    await store.put('s/b', 'value of b');
    await store.close();
    const db = new Database(path);
    db.exec("UPDATE secrets SET name = 's/tmp' WHERE name = 's/a'; UPDATE secrets SET name = 's/a' WHERE name = 's/b'; UPDATE secrets SET name = 's/b' WHERE name = 's/tmp'");
    const keysBefore = db.prepare('SELECT secret_id, version, key_id, ciphertext FROM versions ORDER BY secret_id, version').all();
    db.close();
    const again = await openStore(path, rawKey(KEY));
    try {
      // The rewrap joins each version to its secret's (swapped) name: opening the old value under it fails.
      await expect(again.rotateKeys({ parallel })).rejects.toMatchObject({ code: 'E_TAMPERED' });
    } finally {
      await again.close();
    }
    const after = new Database(path, { readonly: true });
    expect(after.prepare('SELECT secret_id, version, key_id, ciphertext FROM versions ORDER BY secret_id, version').all()).toEqual(keysBefore);
    after.close();
  });

  it('a version another writer changes between a batch\'s read and its write is read again, one destroyed meanwhile stays destroyed', async () => {
    const { path, store } = await fresh();
    for (const [name, versions] of [['s/a', 2], ['s/b', 1], ['s/c', 2]] as const) {
      for (let v = 1; v <= versions; v++) await store.put(name, `${name} v${v}`);
    }
    // The rotation runs on a context of its own, whose reads the test can step in after: the first batch is
    // read and sealed anew, then another handle soft-deletes s/a v2 (a new MAC) and destroys s/b v1 before it is written.
    const c = await openContext(path, rawKey(KEY));
    let steppedIn = false;
    const storage = new Proxy(c.storage, {
      get(target, prop) {
        if (prop === 'versionsUnderKey') {
          return async (...args: Parameters<GuardedStorage['versionsUnderKey']>) => {
            const rows = await target.versionsUnderKey(...args);
            if (!steppedIn) {
              steppedIn = true;
              expect(rows.map((r) => `${r.name} v${r.version}`)).toEqual(['s/a v1', 's/a v2', 's/b v1']);
              await store.delete('s/a', { versions: [2] });
              await store.destroy('s/b', [1]);
            }
            return rows;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      const report = await rotateKeys({ ...c, storage }, { batchSize: 3, parallel });
      expect(steppedIn).toBe(true);
      // Five versions were under the old key; the destroyed one has no ciphertext left to rewrap.
      expect(report).toMatchObject({ toRewrap: 5, rewrapped: 4, interrupted: false, retired: [1], parallel });
    } finally {
      await c.storage.close();
      c.keyset.wipe();
    }
    expect((await store.keys()).map((k) => [k.version, k.status])).toEqual([[1, 'retired'], [2, 'primary']]);
    expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
    expect((await store.history('s/a')).map((v) => [v.version, v.deletedAt !== undefined])).toEqual([[1, false], [2, true]]);
    await store.undelete('s/a', { versions: [2] });
    expect((await store.get('s/a', { version: 2 })).value.text()).toBe('s/a v2');
    expect((await store.history('s/b'))[0]).toMatchObject({ version: 1, destroyedAt: expect.any(Date) });
    expect((await store.get('s/c', { version: 1 })).value.text()).toBe('s/c v1');
    await store.close();
  });

});

describe('rotateKeys', () => {
  it('--no-rewrap leaves old versions under their (now active) key; a later run finishes', async () => {
    const { store } = await fresh();
    await fill(store, 10);
    const r = await store.rotateKeys({ rewrap: false });
    expect(r).toMatchObject({ rotated: true, rewrapped: 0, retired: [] });
    await store.put('s/new', 'under-2');
    expect((await store.keys()).map((k) => [k.status, k.versions])).toEqual([['active', 10], ['primary', 1]]);
    const again = await store.rotateKeys({ ifOlderThanMs: 86_400_000 });
    expect(again).toMatchObject({ rotated: false, primaryVersion: 2, rewrapped: 10, retired: [1] });
    await store.close();
  });

  it('ifOlderThanMs: a no-op while the primary is young, a rotation once it is old enough', async () => {
    let t = Date.UTC(2026, 0, 1);
    const { store } = await fresh(() => t);
    await fill(store, 3);
    t += 29 * 86_400_000;
    expect(await store.rotateKeys({ ifOlderThanMs: 30 * 86_400_000 })).toMatchObject({ rotated: false, primaryVersion: 1, rewrapped: 0 });
    t += 86_400_000;
    expect(await store.rotateKeys({ ifOlderThanMs: 30 * 86_400_000 })).toMatchObject({ rotated: true, primaryVersion: 2, rewrapped: 3 });
    await store.close();
  });

  it('a handle opened before another rotated writes under the new primary and reads rewrapped values', async () => {
    const { path, store: rotator } = await fresh();
    await fill(rotator, 5);
    const stale = await openStore(path, rawKey(KEY));
    await rotator.rotateKeys();
    await rotator.destroyKey(1);
    // The stale handle still holds key 1 in memory: its next write must not use it.
    const w = await stale.put('s/late', 'written-after-rotation');
    expect((await rotator.history('s/late')).find((h) => h.version === w.version)?.keyVersion).toBe(2);
    // s/0 is now under key 2, which the stale handle never saw: it reloads the keyset.
    expect((await stale.get('s/0')).value.text()).toBe('value-0');
    await stale.close();
    await rotator.close();
  });

  it('destroyKey refuses the primary, an active key and anything still referenced', async () => {
    const { store } = await fresh();
    await fill(store, 4);
    await expect(store.destroyKey(1)).rejects.toMatchObject({ code: 'E_KEY_IN_USE' });
    await store.rotateKeys({ rewrap: false });
    await expect(store.destroyKey(1)).rejects.toMatchObject({ code: 'E_KEY_IN_USE' });
    await expect(store.destroyKey(9)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await store.rotateKeys({ ifOlderThanMs: 1e12 });
    await store.destroyKey(1);
    expect((await store.keys())[0]).toMatchObject({ version: 1, status: 'destroyed' });
    expect((await store.get('s/1')).value.text()).toBe('value-1');
    await store.close();
  });

  it('a destroyed key has no material left in the file', async () => {
    const { path, store } = await fresh();
    await fill(store, 2);
    await store.rotateKeys();
    await store.destroyKey(1);
    await store.close();
    const db = new Database(path, { readonly: true });
    const row = db.prepare('SELECT status, wrapped FROM data_keys WHERE version = 1').get() as { status: string; wrapped: Buffer | null };
    db.close();
    expect(row).toEqual({ status: 'destroyed', wrapped: null });
  });

  it('refuses a bad batch size', async () => {
    const { store } = await fresh();
    await expect(store.rotateKeys({ batchSize: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(store.rotateKeys({ batchSize: 1.5 })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect((await store.keys())).toHaveLength(1);
    await store.close();
  });
});

describe('rotateMaster', () => {
  it('moves from a raw key to a key file to a passphrase; each old key stops opening the store', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const store = await initStore(path, rawKey(KEY));
    await store.put('db/password', 'hunter2');
    await store.rotateKeys({ rewrap: false }); // two data keys, both must be rewrapped under the new master
    await store.put('db/password', 'hunter3');

    await store.rotateMaster(keyFile(join(dir, 'new.key'), { create: true }));
    expect((await store.get('db/password', { version: 1 })).value.text()).toBe('hunter2'); // same handle keeps working
    await store.close();
    await expect(openStore(path, rawKey(KEY))).rejects.toMatchObject({ code: 'E_WRONG_MASTER_KEY' });

    const viaFile = await openStore(path, keyFile(join(dir, 'new.key')));
    expect((await viaFile.status()).masterKind).toBe('keyfile');
    await viaFile.rotateMaster(passphrase('new passphrase', { scrypt: { logN: 15 } }));
    await viaFile.put('db/password', 'hunter4');
    await viaFile.close();
    await expect(openStore(path, keyFile(join(dir, 'new.key')))).rejects.toMatchObject({ code: 'E_WRONG_MASTER_KEY' });

    const viaPw = await openStore(path, passphrase('new passphrase'));
    expect((await viaPw.get('db/password')).value.text()).toBe('hunter4');
    expect((await viaPw.get('db/password', { version: 1 })).value.text()).toBe('hunter2');
    await viaPw.close();
    await expect(openStore(path, passphrase('wrong'))).rejects.toMatchObject({ code: 'E_WRONG_MASTER_KEY' });
  });
});
