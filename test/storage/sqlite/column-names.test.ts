/**
 * A column name whose case was changed in the schema's text (one flipped bit:
 * `ciphertext` → `ciphertexT`) still matches in SQL, since SQLite compares
 * names regardless of case, but rows read as objects would lack the field the
 * driver reads. The driver checks every table's column names when it opens
 * the file, so such a store is E_NOT_A_STORE at open, never a TypeError on a
 * later read. A column renamed outright leaves the statements that name it
 * unprepared: those are prepared on first use, and fail there, as
 * E_NOT_A_STORE too.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, rawKey } from '../../../src/index.js';
import { freshStore } from '../../helpers/store.js';

/** Rewrite the schema text of `table`, as a flipped bit in the file would. */
function renameInSchema(path: string, table: string, from: string, to: string): void {
  const db = new Database(path);
  try {
    const sql = db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(table) as string;
    expect(sql).toContain(from);
    db.unsafeMode(true); // lets writable_schema edit sqlite_master, as writing the file's bytes would
    db.pragma('writable_schema = ON');
    db.prepare('UPDATE sqlite_master SET sql = ? WHERE name = ?').run(sql.replace(from, to), table);
    db.pragma('writable_schema = OFF');
  } finally {
    db.close();
  }
}

describe('column names as the schema declares them', () => {
  for (const [table, from, to] of [
    ['versions', 'ciphertext', 'ciphertexT'],
    ['versions', 'json', 'JSON'],
    ['secrets', 'current_version', 'Current_version'],
    ['meta', 'value', 'valuE'],
    ['data_keys', 'wrapped', 'Wrapped'],
  ] as const) {
    it(`${table}.${from} declared as ${to}: the store does not open (E_NOT_A_STORE, naming the column)`, async () => {
      const { store, path, key } = await freshStore();
      await store.put('a', '{"k":"v"}', { json: true });
      await store.close();
      renameInSchema(path, table, from, to);
      await expect(openStore(path, rawKey(key))).rejects.toMatchObject({ code: 'E_NOT_A_STORE', message: expect.stringContaining(`"${to}"`) });
    });
  }

  it('versions.ciphertext renamed outright: the store opens (no read at open names it); the first read of a value is E_NOT_A_STORE, and so is every one after', async () => {
    const { store, path, key } = await freshStore();
    await store.put('a', 'v');
    await store.close();
    renameInSchema(path, 'versions', 'ciphertext', 'cipherblob');
    const again = await openStore(path, rawKey(key));
    try {
      for (let i = 0; i < 2; i++) {
        await expect(again.get('a')).rejects.toMatchObject({ code: 'E_NOT_A_STORE', message: expect.stringContaining('schema or rows are damaged') });
      }
    } finally {
      await again.close();
    }
  });

  it('the untouched store opens and reads', async () => {
    const { store, path, key } = await freshStore();
    await store.put('a', '{"k":"v"}', { json: true });
    await store.close();
    const again = await openStore(path, rawKey(key));
    expect((await again.get('a')).json).toBe(true);
    await again.close();
  });
});
