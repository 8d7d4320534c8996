/**
 * Attack: someone who can write the store (the SQLite file, or the
 * PostgreSQL database: the same test on each driver, test/helpers/drivers.ts)
 * but lacks the master key edits the records table (store serve's tokens,
 * policies, roles) with SQL.
 * An edited value, or a record moved to another id or kind, is E_TAMPERED on
 * the read that uses it (never another record's value), and a change never
 * rewrites it into an authentic row. A record removed, or an older authentic
 * copy put back, passes every row MAC; `verify` finds it, because the rows
 * no longer add up to the authenticated digest.
 */
import { describe, expect, it } from 'vitest';
import { initStore, openStore, rawKey, verifyStore, type Store } from '../../src/index.js';
import { DRIVERS, freshStoreOn, withRaw, type RawDb } from '../helpers/drivers.js';

interface Row { kind: string; id: string; value: string; mac: Buffer }
const rowOf = async (db: RawDb, kind: string, id: string) =>
  (await db.get<Row>('SELECT kind, id, value, mac FROM records WHERE kind = ? AND id = ?', kind, id))!;

async function withStore<T>(path: string, key: Uint8Array, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(path, rawKey(key));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function verifyProblems(path: string, key: Uint8Array): Promise<string[]> {
  return withStore(path, key, async (s) => (await verifyStore(s)).problems.map((p) => `${p.code}: ${p.message}`));
}

describe.each(DRIVERS)('record edits on $name', (driver) => {
  /** Edit the store at `path` with SQL. */
  const sql = <T = void>(path: string, fn: (db: RawDb) => Promise<T>): Promise<T> => withRaw(driver, path, fn);

  /** Three records: two tokens and a policy; closed. */
  async function made(): Promise<{ path: string; key: Uint8Array }> {
    const { store, locator: path, key } = await freshStoreOn(driver);
    await store.changeRecords({ action: 'seed' }, async (tx) => {
      await tx.put('token', 'aaaa', '{"policies":["default"]}');
      await tx.put('token', 'bbbb', '{"policies":["root"]}');
      await tx.put('policy', 'app', 'path "secret/data/app/*" { capabilities = ["read"] }');
    });
    await store.close();
    return { path, key };
  }

  describe('an edited or moved record is E_TAMPERED where it is read', () => {
    it('an edited value: the read, the list and a change over it fail; verify names it', async () => {
      const { path, key } = await made();
      await sql(path, (db) => db.run(`UPDATE records SET value = '{"policies":["root"]}' WHERE kind = 'token' AND id = 'aaaa'`));
      await withStore(path, key, async (s) => {
        await expect(s.readRecord('token', 'aaaa')).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining('record token/aaaa') });
        await expect(s.listRecords('token')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        // Never laundered: a write over the edited row, or its removal, refuses instead of giving it a MAC.
        await expect(s.changeRecords({ action: 'x' }, (tx) => tx.put('token', 'aaaa', '{}'))).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(s.changeRecords({ action: 'x' }, (tx) => tx.delete('token', 'aaaa'))).rejects.toMatchObject({ code: 'E_TAMPERED' });
        // The others are untouched.
        expect(await s.readRecord('token', 'bbbb')).toBe('{"policies":["root"]}');
      });
      expect((await verifyProblems(path, key)).join('\n')).toMatch(/E_TAMPERED: record token\/aaaa was altered/);
    });

    it('a record moved to another id, or another kind, fails there; its old place is empty', async () => {
      for (const move of ["UPDATE records SET id = 'cccc' WHERE kind = 'token' AND id = 'aaaa'", "UPDATE records SET kind = 'policy', id = 'aaaa' WHERE kind = 'token' AND id = 'aaaa'"]) {
        const { path, key } = await made();
        await sql(path, (db) => db.run(move));
        const [kind, id] = move.includes("kind = 'policy'") ? ['policy', 'aaaa'] : ['token', 'cccc'];
        await withStore(path, key, async (s) => {
          await expect(s.readRecord(kind, id)).rejects.toMatchObject({ code: 'E_TAMPERED' });
          await expect(s.listRecords(kind)).rejects.toMatchObject({ code: 'E_TAMPERED' });
          expect(await s.readRecord('token', 'aaaa')).toBeUndefined();
        });
        expect((await verifyProblems(path, key)).join('\n')).toMatch(new RegExp(`record ${kind}/${id} was altered`));
      }
    });

    it('two records whose values (and MACs) are swapped: both fail, neither answers with the other\'s value', async () => {
      const { path, key } = await made();
      await sql(path, async (db) => {
        const a = await rowOf(db, 'token', 'aaaa');
        const b = await rowOf(db, 'token', 'bbbb');
        const set = 'UPDATE records SET value = ?, mac = ? WHERE kind = ? AND id = ?';
        await db.run(set, b.value, b.mac, 'token', 'aaaa');
        await db.run(set, a.value, a.mac, 'token', 'bbbb');
      });
      await withStore(path, key, async (s) => {
        await expect(s.readRecord('token', 'aaaa')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(s.readRecord('token', 'bbbb')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      });
    });

    it('a MAC removed (NULL) or cut short is E_TAMPERED, not a TypeError', async () => {
      const { path, key } = await made();
      await sql(path, async (db) => {
        await db.run("UPDATE records SET mac = NULL WHERE kind = 'token' AND id = 'aaaa'");
        await db.run('UPDATE records SET mac = ? WHERE kind = ? AND id = ?', Buffer.from([0]), 'token', 'bbbb');
      });
      await withStore(path, key, async (s) => {
        await expect(s.readRecord('token', 'aaaa')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(s.readRecord('token', 'bbbb')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      });
    });
  });

  describe('a removed record, or an older copy put back, is found by verify', () => {
    it('a record removed: not found on read (it is gone), and the sum differs', async () => {
      const { path, key } = await made();
      expect(await verifyProblems(path, key)).toEqual([]);
      await sql(path, (db) => db.run("DELETE FROM records WHERE kind = 'token' AND id = 'bbbb'"));
      await withStore(path, key, async (s) => expect(await s.readRecord('token', 'bbbb')).toBeUndefined());
      expect((await verifyProblems(path, key)).join('\n')).toMatch(/do not add up to the authenticated digest/);
    });

    it('an older authentic copy put back (a revoked token restored, a policy rolled back): the sum differs', async () => {
      const { path, key } = await made();
      const old = await sql(path, async (db) => [await rowOf(db, 'token', 'aaaa'), await rowOf(db, 'policy', 'app')]);
      await withStore(path, key, (s) => s.changeRecords({ action: 'revoke-and-narrow' }, async (tx) => {
        await tx.delete('token', 'aaaa');
        await tx.put('policy', 'app', 'path "secret/data/app/public" { capabilities = ["read"] }');
      }));
      expect(await verifyProblems(path, key)).toEqual([]);
      for (const row of old) {
        await sql(path, (db) => db.run(`INSERT INTO records (kind, id, value, mac) VALUES (?, ?, ?, ?)
          ON CONFLICT(kind, id) DO UPDATE SET value = excluded.value, mac = excluded.mac`, row.kind, row.id, row.value, row.mac));
      }
      // Each row is authentic, so a read takes it (docs/integrity.md, "Limits")…
      await withStore(path, key, async (s) => expect(await s.readRecord('token', 'aaaa')).toBe('{"policies":["default"]}'));
      // … and verify sees that the rows are not the state the store last wrote.
      expect((await verifyProblems(path, key)).join('\n')).toMatch(/do not add up to the authenticated digest/);
    });

    it('a record copied in from another store (same master key) fails its MAC: the store id is bound', async () => {
      const a = await made();
      const { locator: otherPath } = await driver.place();
      const other = await initStore(otherPath, rawKey(a.key));
      await other.changeRecords({ action: 'seed' }, (tx) => tx.put('token', 'dddd', '{"policies":["root"]}'));
      await other.close();
      const foreign = await sql(otherPath, (db) => rowOf(db, 'token', 'dddd'));
      await sql(a.path, (db) => db.run('INSERT INTO records (kind, id, value, mac) VALUES (?, ?, ?, ?)', foreign.kind, foreign.id, foreign.value, foreign.mac));
      await withStore(a.path, a.key, async (s) => {
        await expect(s.readRecord('token', 'dddd')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      });
      expect((await verifyProblems(a.path, a.key)).join('\n')).toMatch(/record token\/dddd was altered/);
    });
  });
});
