// Store.changeCounter: moves when the store's rows may have changed, whoever
// changed them (this handle, or another connection to the same file), and
// not for what only adds to the audit log of this handle (an audited read, a
// recorded request); with recheck false, other connections count only as of
// the last check.
import { describe, expect, it } from 'vitest';
import { freshStore, reopenStore } from '../helpers/store.js';

describe('Store.changeCounter', () => {
  it('stays put while nothing changes, even across audited reads and recorded requests of this handle', async () => {
    const { store } = await freshStore();
    await store.put('app/db', 'v1');
    const c = store.changeCounter();
    expect(typeof c).toBe('number');
    expect(store.changeCounter()).toBe(c);
    expect((await store.get('app/db')).value.text()).toBe('v1'); // audited: appends an entry, changes no row
    await store.recordRequest({ action: 'http.test', outcome: 'ok' });
    await store.readRecord('kind-a', 'x');
    expect(store.changeCounter()).toBe(c);
  });

  it('moves for every change this handle makes: a secret, a record, a setting', async () => {
    const { store } = await freshStore();
    const seen = new Set([store.changeCounter()]);
    await store.put('app/db', 'v1');
    seen.add(store.changeCounter());
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', '1'));
    seen.add(store.changeCounter());
    await store.changeRecords({ action: 'test.delete' }, (tx) => tx.delete('kind-a', 'x'));
    seen.add(store.changeCounter());
    await store.setConfig('audit.reads', 'false');
    seen.add(store.changeCounter());
    expect(seen.size).toBe(5);
    // Counted at once, without asking the database again.
    const before = store.changeCounter({ recheck: false });
    await store.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'y', '1'));
    expect(store.changeCounter({ recheck: false })).not.toBe(before);
  });

  it('moves when another handle on the same file commits a change; recheck false sees it only after a check', async () => {
    const { store, path, key } = await freshStore();
    const other = await reopenStore(path, key);
    const c = store.changeCounter();
    await other.changeRecords({ action: 'test.put' }, (tx) => tx.put('kind-a', 'x', '1'));
    expect(store.changeCounter({ recheck: false })).toBe(c);
    const moved = store.changeCounter();
    expect(moved).not.toBe(c);
    expect(store.changeCounter({ recheck: false })).toBe(moved);
    expect(await store.readRecord('kind-a', 'x')).toBe('1');
  });

  it('refuses on a closed store', async () => {
    const { store } = await freshStore();
    await store.close();
    expect(() => store.changeCounter()).toThrow(expect.objectContaining({ code: 'E_CLOSED' }));
  });
});
