// The server's cache of what it derives from records (src/serve/record-cache.ts),
// over real stores: kept while the store is unchanged, dropped when this
// handle or another connection to the file changes it, never filled from a
// load the store changed under, and bounded.
import { describe, expect, it } from 'vitest';
import { RecordCache } from '../../src/serve/record-cache.js';
import { freshStore, reopenStore } from '../helpers/store.js';

/** A load that reads a record and counts how often it ran. */
function counted(read: () => Promise<string | undefined>) {
  const load = async () => {
    load.calls++;
    return read();
  };
  load.calls = 0;
  return load;
}

describe('RecordCache', () => {
  it('answers from memory while the store is unchanged; reads again after a change by this handle', async () => {
    const { store } = await freshStore();
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'one'));
    const cache = new RecordCache(store);
    const load = counted(() => store.readRecord('kind-a', 'x'));
    expect(await cache.get('x', load)).toBe('one');
    expect(await cache.get('x', load)).toBe('one');
    await store.get('kind-a-secret').catch(() => undefined); // an audited (failed) read changes no row
    expect(await cache.get('x', load)).toBe('one');
    expect(load.calls).toBe(1);
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'two'));
    expect(await cache.get('x', load)).toBe('two');
    expect(load.calls).toBe(2);
  });

  it('reads again after another connection changed the file, with or without beginRequest', async () => {
    const { store, path, key } = await freshStore();
    const other = await reopenStore(path, key);
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'one'));
    for (const perRequest of [false, true]) {
      const cache = new RecordCache(store);
      const load = counted(() => store.readRecord('kind-a', 'x'));
      const get = async () => {
        if (perRequest) await cache.beginRequest();
        return cache.get('x', load);
      };
      const before = (await get())!;
      expect(await get()).toBe(before);
      expect(load.calls).toBe(1);
      await other.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', `${before}+`));
      expect(await get()).toBe(`${before}+`);
      expect(load.calls).toBe(2);
    }
  });

  it('after beginRequest, a lookup counts this handle\'s changes at once and other connections\' as of that check', async () => {
    const { store, path, key } = await freshStore();
    const other = await reopenStore(path, key);
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'one'));
    const cache = new RecordCache(store);
    const load = counted(() => store.readRecord('kind-a', 'x'));
    await cache.beginRequest();
    expect(await cache.get('x', load)).toBe('one');
    // Committed after this request's check: the request may still see what was current when it began.
    await other.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'theirs'));
    expect(await cache.get('x', load)).toBe('one');
    // This handle's own change counts at once.
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'y', '1'));
    expect(await cache.get('x', load)).toBe('theirs');
    // The next request checks again.
    await other.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'again'));
    await cache.beginRequest();
    expect(await cache.get('x', load)).toBe('again');
    expect(load.calls).toBe(3);
  });

  it('requests begun in one turn of the event loop share one check, made after all of them began', async () => {
    const { store, path, key } = await freshStore();
    const other = await reopenStore(path, key);
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'one'));
    const cache = new RecordCache(store);
    const load = counted(() => store.readRecord('kind-a', 'x'));
    await cache.beginRequest();
    expect(await cache.get('x', load)).toBe('one');
    const first = cache.beginRequest();
    // Another process commits after the first request began but before the turn ends: the shared check sees it.
    await other.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'two'));
    const second = cache.beginRequest();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    expect(await cache.get('x', load)).toBe('two');
    expect(load.calls).toBe(2);
    expect(cache.beginRequest()).not.toBe(first); // a later turn checks again
  });

  it('keeps nothing a load answered while the store changed under it', async () => {
    const { store, path, key } = await freshStore();
    const other = await reopenStore(path, key);
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'one'));
    const cache = new RecordCache(store);
    let calls = 0;
    const racing = async () => {
      calls++;
      const v = await store.readRecord('kind-a', 'x');
      if (calls === 1) await other.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', 'two'));
      return v;
    };
    expect(await cache.get('x', racing)).toBe('one');
    expect(await cache.get('x', racing)).toBe('two');
    expect(calls).toBe(2);
  });

  it('a load that fails leaves nothing behind; undefined is kept like any value', async () => {
    const { store } = await freshStore();
    const cache = new RecordCache(store);
    await expect(cache.get('x', async () => { throw new Error('no'); })).rejects.toThrow('no');
    const load = counted(() => store.readRecord('kind-a', 'missing'));
    expect(await cache.get('x', load)).toBeUndefined();
    expect(await cache.get('x', load)).toBeUndefined();
    expect(load.calls).toBe(1);
  });

  it('holds at most maxEntries: when full it starts again', async () => {
    const { store } = await freshStore();
    const cache = new RecordCache(store, 3);
    let loads = 0;
    const load = (v: string) => async () => {
      loads++;
      return v;
    };
    for (const k of ['a', 'b', 'c']) await cache.get(k, load(k));
    expect(await cache.get('a', load('a'))).toBe('a');
    expect(loads).toBe(3);
    await cache.get('d', load('d')); // full: dropped, then d kept
    expect(await cache.get('d', load('d'))).toBe('d');
    expect(loads).toBe(4);
    await cache.get('a', load('a'));
    expect(loads).toBe(5);
  });
});
