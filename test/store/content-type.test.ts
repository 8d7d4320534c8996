/**
 * A version's content type (src/store/content.ts): `put(…, { json: true })`
 * takes only the UTF-8 text of a JSON object and records the version as
 * JSON; get, history, rollback, the read cache and every later rewrite of
 * the row (delete, undelete, destroy, key rotation) keep the flag, and the
 * store verifies clean throughout.
 */
import { describe, expect, it } from 'vitest';
import { openStore, rawKey, verifyStore, type Store } from '../../src/index.js';
import { freshStore } from '../helpers/store.js';

const DB = '{"username":"app","password":"hunter2-do-not-print","nested":{"port":5432,"tags":["a","b"]}}';

async function clean(store: Store): Promise<void> {
  expect(await verifyStore(store, { deep: true })).toMatchObject({ ok: true, problems: [] });
}

describe('put with json', () => {
  it('records the version as JSON; its value is the exact bytes given; other versions stay plain bytes', async () => {
    const { store } = await freshStore();
    await store.put('app/db', DB, { json: true });
    await store.put('app/db', 'plain');
    await store.put('app/db', new TextEncoder().encode('{"ünïcode":"✓"}'), { json: true, cas: 2 });
    const current = await store.get('app/db');
    expect([current.version, current.json, current.value.text()]).toEqual([3, true, '{"ünïcode":"✓"}']);
    expect((await store.get('app/db', { version: 1 })).value.text()).toBe(DB);
    expect((await store.get('app/db', { version: 1 })).json).toBe(true);
    expect((await store.get('app/db', { version: 2 })).json).toBe(false);
    expect((await store.get('app/db', { at: Date.now() + 60_000 })).json).toBe(true);
    expect((await store.history('app/db')).map((h) => [h.version, h.json])).toEqual([[1, true], [2, false], [3, true]]);
    await store.put('other', 'x', { json: false });
    expect((await store.get('other')).json).toBe(false);
    await clean(store);
  });

  it('refuses what is not the UTF-8 text of a JSON object (E_INVALID_VALUE), never quoting it, writing nothing', async () => {
    const { store } = await freshStore();
    await store.put('keep', 'v');
    const bad: [string | Uint8Array, RegExp][] = [
      ['{"password":"hunter2-do-not-print"', /not valid JSON/],
      ['hunter2-do-not-print', /not valid JSON/],
      ['["hunter2-do-not-print"]', /top level is an array/],
      ['"hunter2-do-not-print"', /top level is a string/],
      ['42', /top level is a number/],
      ['true', /top level is true or false/],
      ['null', /top level is null/],
      ['', /not valid JSON/],
      ['\ufeff{"a":"hunter2-do-not-print"}', /not valid JSON/], // a byte-order mark is not JSON
      [new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), /not valid UTF-8/],
    ];
    for (const [value, problem] of bad) {
      const e = await store.put('s', value, { json: true, allowEmpty: true }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'E_INVALID_VALUE', message: expect.stringMatching(problem) });
      expect(JSON.stringify(e)).not.toContain('hunter2');
      expect(String((e as Error).message)).not.toContain('hunter2');
    }
    expect((await store.list()).map((s) => s.name)).toEqual(['keep']);
    const entries: string[] = [];
    for await (const a of store.auditEntries()) entries.push(`${a.action} ${a.name ?? ''}`);
    expect(entries).toEqual(['init ', 'put keep', 'list ']); // refused input is not an attempt worth recording
  });

  it('json must be a boolean (E_USAGE); a JSON value over the size limit is E_VALUE_TOO_LARGE before it is parsed', async () => {
    const { store } = await freshStore({ maxValueBytes: 64 });
    await expect(store.put('s', '{}', { json: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(store.put('s', `{"a":"${'x'.repeat(100)}"}`, { json: true })).rejects.toMatchObject({ code: 'E_VALUE_TOO_LARGE' });
    await store.put('s', '{}', { json: true });
    expect((await store.get('s')).json).toBe(true);
  });
});

describe('the flag through every operation on a version', () => {
  it('rollback copies the flag of the version it restores', async () => {
    const { store } = await freshStore();
    await store.put('r', DB, { json: true });
    await store.put('r', 'bytes');
    await store.rollback('r', 1);
    await store.rollback('r', 2);
    expect((await store.history('r')).map((h) => h.json)).toEqual([true, false, true, false]);
    expect((await store.get('r', { version: 3 })).value.text()).toBe(DB);
    await clean(store);
  });

  it('delete, undelete, destroy and pruning of JSON versions keep the flag and the digest exact', async () => {
    const { store } = await freshStore();
    await store.put('d', '{"v":1}', { json: true });
    await store.put('d', '{"v":2}', { json: true });
    await store.delete('d');
    await expect(store.get('d')).rejects.toMatchObject({ code: 'E_DELETED' });
    await store.undelete('d');
    expect((await store.get('d')).json).toBe(true);
    await store.destroy('d', [1]);
    await store.setMetadata('d', { maxVersions: 2 });
    await store.put('d', 'three');
    await store.put('d', '{"v":4}', { json: true });
    expect((await store.history('d')).map((h) => [h.version, h.json])).toEqual([[3, false], [4, true]]);
    await store.destroy('d', [4]);
    expect((await store.history('d')).map((h) => [h.version, h.state, h.json])).toEqual([[3, 'live', false], [4, 'destroyed', true]]);
    await clean(store);
  });

  it('re-encryption under a new data key keeps the flag (each rewritten row is MAC\'d with it)', async () => {
    const { store, path, key } = await freshStore();
    await store.put('k', DB, { json: true });
    await store.put('k', 'b');
    await store.put('k', '{}', { json: true });
    await store.rotateKeys();
    expect((await store.history('k')).map((h) => [h.json, h.keyVersion])).toEqual([[true, 2], [false, 2], [true, 2]]);
    await clean(store);
    await store.close();
    const again = await openStore(path, rawKey(key));
    try {
      expect((await again.get('k')).json).toBe(true);
      expect((await again.get('k', { version: 1 })).value.text()).toBe(DB);
    } finally {
      await again.close();
    }
  });

  it('the read cache keeps the flag: a hit answers as the read that filled it', async () => {
    const { store: first, path, key } = await freshStore();
    await first.put('c', DB, { json: true });
    await first.put('c', 'bytes');
    const store = await openStore(path, rawKey(key), { cache: { ttlMs: 60_000 } });
    try {
      for (let i = 0; i < 2; i++) {
        expect((await store.get('c', { version: 1 })).json).toBe(true);
        expect((await store.get('c')).json).toBe(false);
      }
      expect(store.cacheStats()).toMatchObject({ hits: 2, misses: 2 });
      await store.put('c', '{"x":1}', { json: true }); // this process's write drops the cached entries
      expect((await store.get('c')).json).toBe(true);
    } finally {
      await store.close();
    }
  });
});
