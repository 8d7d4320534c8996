/** The opt-in read cache (src/store/read-cache.ts) through the Store, under a clock the test controls. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initStore, openStore, rawKey, type CacheOptions, type Store } from '../../src/index.js';
import { codeOfAsync, rejectionCode } from '../helpers/errors.js';
import { freshStore } from '../helpers/store.js';
import { tempDir } from '../helpers/tmp.js';

const T0 = Date.UTC(2026, 0, 1);
const TTL = 10_000;

function clock(start = T0) {
  let t = start;
  return { now: () => t, set: (v: number) => void (t = v), advance: (ms: number) => void (t += ms) };
}

async function setup(cache: CacheOptions = { ttlMs: TTL }, auditReads = false) {
  const c = clock();
  const { store, path, key } = await freshStore({ now: c.now, cache });
  if (!auditReads) await store.setConfig('audit.reads', 'false');
  return { c, store, path, key };
}

const text = async (store: Store, name: string, version?: number) => (await store.get(name, version === undefined ? {} : { version })).value.text();

describe('read cache', () => {
  it('refuses a ttlMs or maxEntries out of range before any file is made', async () => {
    const dir = tempDir();
    const bad: unknown[] = [{ ttlMs: 0 }, { ttlMs: -1 }, { ttlMs: Number.NaN }, { ttlMs: '5' }, {}, { ttlMs: 5, maxEntries: 0 }, { ttlMs: 5, maxEntries: 1.5 }, null];
    for (const cache of bad) {
      const path = join(dir, 'store.db');
      expect(await codeOfAsync(() => initStore(path, rawKey(new Uint8Array(32).fill(7)), { cache: cache as CacheOptions })), JSON.stringify(cache)).toBe('E_USAGE');
      expect(existsSync(path)).toBe(false);
    }
    const { path, key } = await freshStore();
    expect(await codeOfAsync(() => openStore(path, rawKey(key), { cache: { ttlMs: 0 } }))).toBe('E_USAGE');
  });

  it('counts hits and misses; errors and time queries are not cached', async () => {
    const { store } = await setup();
    expect(store.cacheStats()).toEqual({ hits: 0, misses: 0, evictions: 0, expirations: 0, invalidations: 0, changes: 0, size: 0 });

    expect(await rejectionCode(store.get('a'))).toBe('E_NOT_FOUND');
    await store.put('a', 'one');
    expect(await text(store, 'a')).toBe('one'); // the failed read left nothing behind
    expect(await text(store, 'a')).toBe('one');
    expect(await text(store, 'a', 1)).toBe('one'); // a version is its own entry
    expect(await text(store, 'a', 1)).toBe('one');
    expect((await store.get('a', { at: T0 })).value.text()).toBe('one'); // not cached: neither hit nor miss
    expect(store.cacheStats()).toEqual({ hits: 2, misses: 3, evictions: 0, expirations: 0, invalidations: 0, changes: 0, size: 2 });
  });

  it('evicts the least recently used entry beyond maxEntries', async () => {
    const { store } = await setup({ ttlMs: TTL, maxEntries: 2 });
    for (const n of ['a', 'b', 'c']) await store.put(n, `value of ${n}`);
    await text(store, 'a');
    await text(store, 'b');
    await text(store, 'a'); // hit: a is now the most recently used
    await text(store, 'c'); // evicts b
    expect(store.cacheStats()).toMatchObject({ hits: 1, misses: 3, evictions: 1, size: 2 });
    await text(store, 'a');
    expect(store.cacheStats()).toMatchObject({ hits: 2, misses: 3 });
    expect(await text(store, 'b')).toBe('value of b');
    expect(store.cacheStats()).toMatchObject({ hits: 2, misses: 4, evictions: 2, size: 2 });
  });

  it('serves an entry while it is younger than ttlMs, never from a clock set back', async () => {
    const { c, store } = await setup();
    await store.put('a', 'one');
    await text(store, 'a');
    c.advance(TTL - 1);
    await text(store, 'a');
    expect(store.cacheStats()).toMatchObject({ hits: 1, misses: 1, expirations: 0 });
    c.advance(1);
    await text(store, 'a');
    expect(store.cacheStats()).toMatchObject({ hits: 1, misses: 2, expirations: 1, size: 1 });

    c.advance(-1); // the clock went back: the entry's age is unknown, so it is not served
    await text(store, 'a');
    expect(store.cacheStats()).toMatchObject({ hits: 1, misses: 3, expirations: 2 });
  });

  it('drops expired entries from memory as the store is used, not only when they are asked for', async () => {
    const { c, store } = await setup();
    for (const n of ['a', 'b', 'c']) await store.put(n, n);
    await text(store, 'a');
    await text(store, 'b');
    c.advance(TTL);
    await text(store, 'c');
    expect(store.cacheStats()).toMatchObject({ expirations: 2, size: 1 });
  });

  it('each read gets its own copy: wiping or changing it leaves the cached value whole', async () => {
    const { store } = await setup();
    await store.put('a', 'secret');
    const first = await store.get('a');
    first.value.wipe();
    const second = await store.get('a');
    expect(second.value.text()).toBe('secret');
    second.value.expose().fill(0x41);
    expect(await text(store, 'a')).toBe('secret');
    expect(store.cacheStats()).toMatchObject({ hits: 2, misses: 1 });
  });

  it("drops a secret's entries on each of this process's writes to it, and only its own", async () => {
    const { store } = await setup();
    await store.put('a', 'a1');
    await store.put('b', 'b1');
    /** Cache b and (when it has a value) a; whether a is cached. */
    const warm = async (): Promise<boolean> => {
      await text(store, 'b');
      return (await codeOfAsync(() => store.get('a'))) === undefined;
    };
    const writes: [string, () => Promise<unknown>, string | undefined][] = [
      ['put', () => store.put('a', 'a2'), 'a2'],
      ['rollback', () => store.rollback('a', 1), 'a1'],
      ['setMetadata', () => store.setMetadata('a', { custom: { owner: 'x' } }), 'a1'],
      ['delete', () => store.delete('a'), undefined],
      ['undelete', () => store.undelete('a'), 'a1'],
      ['destroy', () => store.destroy('a', [3]), undefined],
      ['purge', () => store.purge('a'), undefined],
    ];
    for (const [what, write, want] of writes) {
      const cachedA = await warm();
      const before = store.cacheStats()!;
      await write();
      const after = store.cacheStats()!;
      expect(after.invalidations, what).toBe(before.invalidations + (cachedA ? 1 : 0));
      if (want === undefined) expect(await codeOfAsync(() => store.get('a')), what).toMatch(/^E_/);
      else expect(await text(store, 'a'), what).toBe(want);
      const hits = store.cacheStats()!.hits;
      await text(store, 'b'); // b's entry survived a's write
      expect(store.cacheStats()!.hits, what).toBe(hits + 1);
    }
  });

  it('drops the entry on a failed write too, and a store-wide change drops all', async () => {
    const { store } = await setup();
    await store.put('a', 'a1');
    await text(store, 'a');
    expect(await codeOfAsync(() => store.put('a', 'x', { cas: 7 }))).toBe('E_CAS_MISMATCH');
    expect(store.cacheStats()).toMatchObject({ invalidations: 1, size: 0 });
    await text(store, 'a');
    await store.setConfig('audit.reads', 'false');
    expect(store.cacheStats()).toMatchObject({ invalidations: 2, size: 0 });
  });

  it('a read that began before a write does not fill the cache with the old value', async () => {
    const { store } = await setup({ ttlMs: TTL }, true); // an audited read awaits between reading the file and returning
    await store.put('a', 'old');
    const [read] = await Promise.all([store.get('a'), store.put('a', 'new')]);
    expect(read.value.text()).toBe('old');
    expect(await text(store, 'a')).toBe('new');
  });

  it('clearCache empties it; close wipes it and a closed store serves nothing', async () => {
    const { store } = await setup();
    await store.put('a', 'one');
    await text(store, 'a');
    store.clearCache();
    expect(store.cacheStats()).toMatchObject({ size: 0, invalidations: 1 });
    await text(store, 'a');
    await store.close();
    expect(await rejectionCode(store.get('a'))).toBe('E_CLOSED');
    expect(() => store.cacheStats()).toThrow(/closed/);
    expect(() => store.clearCache()).toThrow(/closed/);
  });

  it('with audit.reads on, only the read that filled an entry is audited', async () => {
    const { store } = await setup({ ttlMs: TTL }, true);
    await store.put('a', 'one');
    for (let i = 0; i < 3; i++) await text(store, 'a');
    const gets = [];
    for await (const e of store.auditEntries({ action: 'get' })) gets.push(e);
    expect(gets).toHaveLength(1);
    expect(store.cacheStats()).toMatchObject({ hits: 2, misses: 1 });
  });

  it('is off unless asked for', async () => {
    const { store } = await freshStore();
    await store.put('a', 'one');
    await text(store, 'a');
    expect(store.cacheStats()).toBeUndefined();
    store.clearCache(); // nothing to clear, not an error
  });
});
