/**
 * Attack: someone who can write the store (the SQLite file, or the
 * PostgreSQL database: the same test on each driver, test/helpers/drivers.ts)
 * but lacks the master key flips a version's `json` column (schema 5), so that a reader would take
 * plain bytes for a JSON secret or the other way round (store serve maps the
 * two differently). Every read that uses the flipped row is E_TAMPERED:
 * the current version's through its secret row's MAC (which covers the
 * current version's state, its content type included), an older one's
 * through its own row's MAC; `verify` lists each edit.
 */
import { describe, expect, it } from 'vitest';
import { openStore, rawKey, verifyStore, type Store } from '../../src/index.js';
import { DRIVERS, freshStoreOn, withRaw, type StoreDriver } from '../helpers/drivers.js';

/** j: version 1 plain bytes, 2 JSON (current); b: one plain version (current); k: version 1 JSON, 2 plain (current). Closed. */
async function made(driver: StoreDriver): Promise<{ path: string; key: Uint8Array }> {
  const { store, locator: path, key } = await freshStoreOn(driver);
  await store.put('j', '{"not":"flagged"}');
  await store.put('j', '{"user":"app","password":"p"}', { json: true });
  await store.put('b', '{"looks":"like json"}');
  await store.put('k', '{"old":"json"}', { json: true });
  await store.put('k', 'plain now');
  await store.close();
  return { path, key };
}

/** Set version `version` of `name`'s json column to `value`, an SQL literal; 'wrong kind': RawDb.wrongKind's. */
async function setJson(driver: StoreDriver, path: string, name: string, version: number, value: string): Promise<void> {
  await withRaw(driver, path, async (db) => {
    const id = await db.value<number>('SELECT id FROM secrets WHERE name = ?', name);
    const literal = value === 'wrong kind' ? await db.wrongKind('versions', 'json') : value;
    const changed = await db.run(`UPDATE versions SET json = ${literal} WHERE secret_id = ? AND version = ?`, id, version);
    expect(changed).toBe(1);
  });
}

async function withStore(path: string, key: Uint8Array, fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await openStore(path, rawKey(key));
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

async function verifyProblems(path: string, key: Uint8Array): Promise<string[]> {
  let problems: string[] = [];
  await withStore(path, key, async (store) => {
    problems = (await verifyStore(store, { deep: true })).problems.map((p) => `${p.code}: ${p.message}`);
  });
  return problems;
}

describe.each(DRIVERS)('the json column is authenticated on $name', (driver) => {
  it('the untouched store reads each flag as written, and verifies clean', async () => {
    const { path, key } = await made(driver);
    await withStore(path, key, async (store) => {
      expect((await store.get('j')).json).toBe(true);
      expect((await store.get('j', { version: 1 })).json).toBe(false);
      expect((await store.get('b')).json).toBe(false);
      expect((await store.history('k')).map((h) => h.json)).toEqual([true, false]);
    });
    expect(await verifyProblems(path, key)).toEqual([]);
  });

  for (const [what, name, flipTo] of [['JSON → bytes', 'j', '0'], ['bytes → JSON', 'b', '1']] as const) {
    it(`flipped on the current version (${what}): get, history and list are E_TAMPERED; verify lists the version and its secret`, async () => {
      const { path, key } = await made(driver);
      const version = name === 'j' ? 2 : 1;
      await setJson(driver, path, name, version, flipTo);
      await withStore(path, key, async (store) => {
        await expect(store.get(name)).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining(`secret ${name}`) });
        await expect(store.get(name, { version })).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(store.history(name)).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(store.list()).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(store.put(name, 'next')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        expect((await store.get('k')).value.text()).toBe('plain now'); // an untouched secret still reads
      });
      const problems = await verifyProblems(path, key);
      expect(problems).toEqual(expect.arrayContaining([
        expect.stringMatching(new RegExp(`^E_TAMPERED: secret ${name} was altered`)),
        expect.stringMatching(new RegExp(`^E_TAMPERED: ${name} version ${version} was altered`)),
      ]));
    });
  }

  it('flipped on an older version (JSON → bytes): that version is E_TAMPERED, the current one still reads; verify lists it', async () => {
    const { path, key } = await made(driver);
    await setJson(driver, path, 'k', 1, '0');
    await withStore(path, key, async (store) => {
      await expect(store.get('k', { version: 1 })).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining('k version 1') });
      await expect(store.history('k')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      await expect(store.rollback('k', 1)).rejects.toMatchObject({ code: 'E_TAMPERED' });
      const current = await store.get('k');
      expect([current.value.text(), current.json]).toEqual(['plain now', false]);
    });
    expect(await verifyProblems(path, key)).toEqual([expect.stringMatching(/^E_TAMPERED: k version 1 was altered/)]);
  });

  it('flipped on an older version (bytes → JSON): E_TAMPERED by number; a time read of the current one still answers', async () => {
    const { path, key } = await made(driver);
    await setJson(driver, path, 'j', 1, '1');
    await withStore(path, key, async (store) => {
      await expect(store.history('j')).rejects.toMatchObject({ code: 'E_TAMPERED' }); // history checks every version row
      await expect(store.get('j', { at: Date.now() + 60_000 })).resolves.toMatchObject({ version: 2, json: true });
      await expect(store.get('j', { version: 1 })).rejects.toMatchObject({ code: 'E_TAMPERED' });
    });
    expect(await verifyProblems(path, key)).toEqual([expect.stringMatching(/^E_TAMPERED: j version 1 was altered/)]);
  });

  it('a value other than 0 or 1 (2, -1, 1.5, text or NULL) is a damaged row, never read as either flag', async () => {
    // 1.5 only in SQLite: PostgreSQL's integer column rounds it to 2. Of the wrong kind: text in SQLite, NULL in PostgreSQL.
    for (const value of ['2', '-1', ...(driver.name === 'sqlite' ? ['1.5'] : []), 'wrong kind']) {
      const { path, key } = await made(driver);
      await setJson(driver, path, 'b', 1, value);
      await withStore(path, key, async (store) => {
        await expect(store.get('b')).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/secret b is damaged: current version json is not 0 or 1/) });
        await expect(store.get('b', { version: 1 })).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/b version 1 is damaged: json is not 0 or 1/) });
      });
      expect((await verifyProblems(path, key)).length).toBeGreaterThanOrEqual(2);
    }
  });
});
