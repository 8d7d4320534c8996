/**
 * Attack: someone who can write the store (the SQLite file, or the
 * PostgreSQL database: the same test on each driver, test/helpers/drivers.ts)
 * but lacks the master key edits rows with SQL — each edit the integrity
 * issue found, and replays of older authentic rows, deletions and rows mixed
 * in from another store. Every read that uses an edited row fails with
 * E_TAMPERED (never the wrong value), and `verify` reports every such edit,
 * replay and deletion. A value of the wrong kind is text in a SQLite
 * column, NULL in a PostgreSQL one (whose NOT NULL its owner may drop; its
 * type holds): RawDb.wrongKind.
 */
import { describe, expect, it } from 'vitest';
import { initStore, openStore, rawKey, type Store } from '../../src/index.js';
import { DRIVERS, freshStoreOn, withRaw, type RawDb } from '../helpers/drivers.js';

async function opened(path: string, key: Uint8Array): Promise<Store> {
  return openStore(path, rawKey(key));
}

async function verifyProblems(path: string, key: Uint8Array): Promise<string[]> {
  const store = await opened(path, key);
  try {
    const r = await store.verify({ deep: true });
    return r.problems.map((p) => `${p.code}: ${p.message}`);
  } finally {
    await store.close();
  }
}

const secretId = (db: RawDb, name: string) => db.value<number>('SELECT id FROM secrets WHERE name = ?', name);

describe.each(DRIVERS)('row edits on $name', (driver) => {
  /** Edit the store at `path` with SQL on a connection that enforces no foreign key. */
  const sql = <T = void>(path: string, fn: (db: RawDb) => Promise<T>): Promise<T> => withRaw(driver, path, fn);

  /** A new store on this driver; `path` is its path or URL. */
  async function freshStore() {
    const f = await freshStoreOn(driver);
    return { ...f, path: f.locator };
  }

  /** t/1 with versions 1..3 ('one', 'two', 'three'), u/1 with one version, closed. */
  async function made(): Promise<{ path: string; key: Uint8Array }> {
    const { store, path, key } = await freshStore();
    await store.put('t/1', 'one');
    await store.put('t/1', 'two');
    await store.put('t/1', 'three');
    await store.put('u/1', 'other');
    await store.close();
    return { path, key };
  }

  describe('a read authenticates what was asked for', () => {
    it('a version row renumbered to another secret (the b-tree left out of order) is E_TAMPERED, never another value', async () => {
      const { path, key } = await made();
      await sql(path, async (db) => db.run(`UPDATE versions SET ${db.moveVersion('9', 'version')} WHERE secret_id = ? AND version = 2`, await secretId(db, 't/1')));
      const store = await opened(path, key);
      try {
        for (const get of [() => store.get('t/1'), () => store.get('t/1', { version: 2 }), () => store.get('t/1', { version: 3 })]) {
          const outcome = await get().then((s) => `value ${s.value.text()} v${s.version}`, (e: { code?: string }) => e.code);
          expect(['E_TAMPERED', 'value three v3', 'E_NOT_FOUND']).toContain(outcome);
          expect(outcome).not.toMatch(/value (one|two)/);
        }
        await expect(store.get('t/1', { version: 2 })).rejects.toMatchObject({ code: expect.stringMatching(/E_TAMPERED|E_NOT_FOUND/) });
      } finally {
        await store.close();
      }
      expect((await verifyProblems(path, key)).join('\n')).toMatch(/E_TAMPERED/);
    });

    it('a version row renumbered within its secret (v2 → v4, current moved to 4) fails to open: the value is bound to its version', async () => {
      const { path, key } = await made();
      await sql(path, async (db) => db.run(`UPDATE versions SET ${db.moveVersion('secret_id', '4')} WHERE secret_id = ? AND version = 2`, await secretId(db, 't/1')));
      const store = await opened(path, key);
      try {
        await expect(store.get('t/1', { version: 4 })).rejects.toMatchObject({ code: 'E_TAMPERED' });
        expect((await store.get('t/1')).value.text()).toBe('three');
      } finally {
        await store.close();
      }
    });
  });

  describe('a ciphertext is bound to its row', () => {
    it('the current version\'s key_id column edited: a get answers the exact value (it opens under the key the ciphertext names); a named get, history and verify are E_TAMPERED', async () => {
      const { path, key } = await made();
      await sql(path, async (db) => db.run('UPDATE versions SET key_id = key_id + 1 WHERE secret_id = ? AND version = 3', await secretId(db, 't/1')));
      const store = await opened(path, key);
      try {
        expect((await store.get('t/1')).value.text()).toBe('three');
        await expect(store.get('t/1', { version: 3 })).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining('t/1 version 3') });
        await expect(store.history('t/1')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      } finally {
        await store.close();
      }
      const problems = await verifyProblems(path, key);
      expect(problems[0]).toMatch(/^E_TAMPERED: t\/1 version 3 was altered/);
      expect(problems.every((p) => p.startsWith('E_TAMPERED: t/1 version 3 '))).toBe(true);
    });

    it('the ciphertext of a purged secret put into the row of one made again under its name is E_TAMPERED, and verify finds it', async () => {
      const { store, path, key } = await freshStore();
      await store.put('app/db', 'old password');
      await store.put('app/db', 'old password 2');
      const [old1, old2] = await sql(path, async (db) => {
        const id = await secretId(db, 'app/db');
        return [
          await db.value<Uint8Array>('SELECT ciphertext FROM versions WHERE secret_id = ? AND version = 1', id),
          await db.value<Uint8Array>('SELECT ciphertext FROM versions WHERE secret_id = ? AND version = 2', id),
        ];
      });
      // Made again: versions 1 and 2 again, in the same places (store, name, version) the AEAD binds.
      await store.purge('app/db');
      await store.put('app/db', 'new password');
      await store.put('app/db', 'new password 2');
      await store.close();
      await sql(path, async (db) => {
        const id = await secretId(db, 'app/db');
        await db.run('UPDATE versions SET ciphertext = ? WHERE secret_id = ? AND version = 1', old1, id);
        await db.run('UPDATE versions SET ciphertext = ? WHERE secret_id = ? AND version = 2', old2, id);
      });
      const again = await opened(path, key);
      try {
        // The current version through its secret's MAC, which covers its nonce (schema 9); a named one through its own.
        await expect(again.get('app/db')).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining('secret app/db') });
        await expect(again.get('app/db', { version: 1 })).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining('app/db version 1') });
      } finally {
        await again.close();
      }
      expect((await verifyProblems(path, key)).join('\n')).toMatch(/E_TAMPERED: app\/db version 1 was altered[\s\S]*app\/db version 2 was altered/);
    });
  });

  describe('row state is authenticated', () => {
    it('current_version moved back: get is E_TAMPERED, verify says so', async () => {
      const { path, key } = await made();
      await sql(path, (db) => db.run("UPDATE secrets SET current_version = 1 WHERE name = 't/1'"));
      const store = await opened(path, key);
      try {
        await expect(store.get('t/1')).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining('secret t/1') });
        await expect(store.list()).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(store.put('t/1', 'four')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        expect((await store.get('u/1')).value.text()).toBe('other'); // the untouched secret still reads
      } finally {
        await store.close();
      }
      expect(await verifyProblems(path, key)).toEqual(expect.arrayContaining([expect.stringMatching(/E_TAMPERED: secret t\/1 was altered/)]));
    });

    it('deleted_at cleared: a deleted secret does not read again', async () => {
      const { store, path, key } = await freshStore();
      await store.put('gone', 'secret-value');
      await store.delete('gone');
      await store.close();
      await sql(path, (db) => db.run('UPDATE versions SET deleted_at = NULL'));
      const again = await opened(path, key);
      try {
        await expect(again.get('gone')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(again.history('gone')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      } finally {
        await again.close();
      }
    });

    it('deleted_at set: a live secret does not vanish quietly', async () => {
      const { path, key } = await made();
      await sql(path, async (db) => db.run('UPDATE versions SET deleted_at = 1 WHERE secret_id = ? AND version = 3', await secretId(db, 't/1')));
      const store = await opened(path, key);
      try {
        await expect(store.get('t/1')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      } finally {
        await store.close();
      }
    });

    it('config audit.reads set to false, max_value_bytes raised: the store does not open', async () => {
      for (const edit of ["UPDATE meta SET value = 'false' WHERE key = 'config.audit.reads'", "UPDATE meta SET value = '67108864' WHERE key = 'max_value_bytes'"]) {
        const { path, key } = await made();
        await sql(path, (db) => db.run(edit));
        await expect(opened(path, key)).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/header entry/) });
      }
    });

    it('the master entry edited (still valid JSON, a field added) is E_TAMPERED, not E_NOT_A_STORE "damaged header"', async () => {
      const { path, key } = await made();
      await sql(path, (db) => db.run("UPDATE meta SET value = replace(value, '{', '{\"note\":\"x\",') WHERE key = 'master'"));
      await expect(opened(path, key)).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/header entry/) });
      // An entry that is not JSON at all is still a damaged header, found before any key is asked for.
      await sql(path, (db) => db.run("UPDATE meta SET value = '{not json' WHERE key = 'master'"));
      await expect(opened(path, key)).rejects.toMatchObject({ code: 'E_NOT_A_STORE', message: expect.stringMatching(/damaged header \(master\)/) });
    });

    it('a data key promoted to primary, or its row edited, fails at open', async () => {
      const { store, path, key } = await freshStore();
      await store.put('a', 'v');
      await store.rotateKeys({ rewrap: false });
      await store.close();
      await sql(path, (db) => db.exec("UPDATE data_keys SET status = 'retired' WHERE status = 'primary'; UPDATE data_keys SET status = 'primary' WHERE version = 1;"));
      await expect(opened(path, key)).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/data key/) });
    });

    it('a malformed custom column or a text timestamp is E_TAMPERED naming the secret, not a TypeError', async () => {
      const edits: ((db: RawDb) => Promise<unknown>)[] = [
        (db) => db.run("UPDATE secrets SET custom = '{not json'"),
        async (db) => db.run(`UPDATE secrets SET updated_at = ${await db.wrongKind('secrets', 'updated_at')}`),
        async (db) => db.run(`UPDATE versions SET created_at = ${await db.wrongKind('versions', 'created_at')}`),
      ];
      for (const edit of edits) {
        const { path, key } = await made();
        await sql(path, edit);
        const store = await opened(path, key);
        try {
          await expect(store.get('t/1')).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/t\/1/) });
        } finally {
          await store.close();
        }
        expect((await verifyProblems(path, key)).every((p) => p.startsWith('E_TAMPERED'))).toBe(true);
      }
    });
  });

  describe('the state as a whole', () => {
    it('an older authentic secret row put back (current 3 → the row of current 2) is found by verify', async () => {
      const { store, path, key } = await freshStore();
      await store.put('t/1', 'one');
      await store.put('t/1', 'two');
      await store.close();
      const old = (await sql(path, (db) => db.get("SELECT * FROM secrets WHERE name = 't/1'")))!;
      const again = await opened(path, key);
      await again.put('t/1', 'three');
      await again.close();
      expect(await verifyProblems(path, key)).toEqual([]);
      await sql(path, (db) => db.run('UPDATE secrets SET current_version = ?, updated_at = ?, mac = ? WHERE id = ?', old.current_version, old.updated_at, old.mac, old.id));
      // The row is authentic, so a get trusts it: exactly what the digest is for.
      const replayed = await opened(path, key);
      expect((await replayed.get('t/1')).version).toBe(2);
      await replayed.close();
      expect(await verifyProblems(path, key)).toEqual([expect.stringMatching(/E_TAMPERED: the rows do not add up/)]);
    });

    it('an older authentic version row put back (deleted → live): the current one fails its read, an older one is found by verify', async () => {
      const { store, path, key } = await freshStore();
      await store.put('t/1', 'one');
      await store.put('t/1', 'two');
      await store.close();
      const rows = await sql(path, (db) => db.all('SELECT * FROM versions ORDER BY version'));
      const again = await opened(path, key);
      await again.delete('t/1', { versions: [1, 2] });
      await again.close();
      const putBack = (v: Record<string, unknown>) => sql(path, (db) => db.run('UPDATE versions SET deleted_at = ?, mac = ? WHERE version = ?', v.deleted_at, v.mac, v.version));
      await putBack(rows[0]!); // version 1: not the current one, an authentic row; only the sum tells
      let s = await opened(path, key);
      expect((await s.get('t/1', { version: 1 })).value.text()).toBe('one');
      await s.close();
      expect(await verifyProblems(path, key)).toEqual([expect.stringMatching(/the rows do not add up/)]);
      await putBack(rows[1]!); // version 2, the current one: the secret's MAC covers its state
      s = await opened(path, key);
      await expect(s.get('t/1')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      await s.close();
      expect(await verifyProblems(path, key)).toEqual([expect.stringMatching(/secret t\/1 was altered/), expect.stringMatching(/the rows do not add up/)]);
    });

    it('a row removed (a version, a whole secret, a header entry) is found by verify', async () => {
      const edits: ((db: RawDb) => Promise<unknown>)[] = [
        async (db) => db.run('DELETE FROM versions WHERE secret_id = ? AND version = 1', await secretId(db, 't/1')),
        async (db) => db.exec(`DELETE FROM versions WHERE secret_id = ${await secretId(db, 'u/1')}; DELETE FROM secrets WHERE name = 'u/1';`),
        (db) => db.run("DELETE FROM meta WHERE key = 'default_max_versions'"),
      ];
      for (const edit of edits) {
        const { path, key } = await made();
        await sql(path, edit);
        expect(await verifyProblems(path, key)).toEqual(expect.arrayContaining([expect.stringMatching(/E_TAMPERED: the rows do not add up/)]));
      }
    });

    it('rows of another store (same master key) mixed in are refused', async () => {
      const a = await made();
      const { locator: other } = await driver.place();
      const b = await initStore(other, rawKey(a.key));
      await b.put('t/1', 'from-b');
      await b.close();
      const row = (await sql(other, (db) => db.get("SELECT * FROM secrets WHERE name = 't/1'")))!;
      const v = (await sql(other, (db) => db.get('SELECT * FROM versions WHERE secret_id = ?', row.id)))!;
      await sql(a.path, async (db) => {
        await db.run('UPDATE secrets SET current_version = ?, mac = ? WHERE name = ?', row.current_version, row.mac, 't/1');
        await db.run('UPDATE versions SET ciphertext = ?, key_id = ?, mac = ? WHERE secret_id = ? AND version = 1', v.ciphertext, v.key_id, v.mac, await secretId(db, 't/1'));
      });
      const store = await opened(a.path, a.key);
      try {
        await expect(store.get('t/1')).rejects.toMatchObject({ code: 'E_TAMPERED' });
        await expect(store.get('t/1', { version: 1 })).rejects.toMatchObject({ code: 'E_TAMPERED' });
      } finally {
        await store.close();
      }
    });

    it('the state row removed or edited: the store does not open', async () => {
      const zeros = driver.name === 'sqlite' ? 'zeroblob(2048)' : "decode(repeat('00', 2048), 'hex')";
      for (const edit of ['DELETE FROM state', 'UPDATE state SET audit_seq = audit_seq - 1', `UPDATE state SET digest = ${zeros}`]) {
        const { path, key } = await made();
        await sql(path, (db) => db.run(edit));
        await expect(opened(path, key)).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/state record/) });
      }
    });

    it('the integrity key removed, or the master-key check swapped for an older generation: the store does not open', async () => {
      const { path, key } = await made();
      await sql(path, (db) => db.run("DELETE FROM meta WHERE key = 'integrity_key'"));
      await expect(opened(path, key)).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/integrity key is missing/) });
    });
  });

  describe('the audit log cannot be cut without a trace', () => {
    it('the last entries deleted: the next audited command refuses to chain on, and verify reports the cut', async () => {
      const { path, key } = await made();
      await sql(path, (db) => db.run('DELETE FROM audit WHERE seq > 3'));
      const store = await opened(path, key);
      try {
        await expect(store.put('t/1', 'four')).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/audit log does not end/) });
        await expect(store.get('t/1')).rejects.toMatchObject({ code: 'E_TAMPERED' }); // reads are audited: a read that cannot be logged fails
        expect(await store.verifyAudit()).toMatchObject({ ok: false, firstProblem: { problem: expect.stringMatching(/authenticated end/) } });
      } finally {
        await store.close();
      }
      expect((await verifyProblems(path, key)).join('\n')).toMatch(/audit log ends at entry 3, but its authenticated end is entry/);
    });

    it('every entry deleted (and the old head entry too): never "intact: 0 entries"', async () => {
      const { path, key } = await made();
      await sql(path, (db) => db.exec("DELETE FROM audit; DELETE FROM meta WHERE key = 'audit_head';"));
      const store = await opened(path, key);
      try {
        expect(await store.verifyAudit()).toMatchObject({ ok: false, entries: 0 });
        await expect(store.put('x', 'y')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      } finally {
        await store.close();
      }
    });

    it('a NULL or text audit field is a named problem, not a TypeError', async () => {
      const { path, key } = await made();
      await sql(path, async (db) => {
        await db.run(`UPDATE audit SET pid = ${await db.wrongKind('audit', 'pid')} WHERE seq = 2`);
        await db.run(`UPDATE audit SET at = ${await db.wrongKind('audit', 'at')} WHERE seq = 3`);
      });
      const store = await opened(path, key);
      try {
        expect(await store.verifyAudit()).toMatchObject({ ok: false, firstProblem: { seq: 2, problem: expect.stringMatching(/damaged/) } });
      } finally {
        await store.close();
      }
    });
  });
});

/**
 * SQLite finds a version row by its key, `place` (secret id × 2^32 + number,
 * schema 10), and the row also holds its secret id and number as columns.
 * An edit that changes one and not the other is never read as another
 * version's value, and verify names the row.
 */
describe('a SQLite version row whose key and columns disagree', () => {
  const sqlite = DRIVERS.find((d) => d.name === 'sqlite')!;

  async function made(): Promise<{ path: string; key: Uint8Array; id: number }> {
    const { store, locator, key } = await freshStoreOn(sqlite);
    await store.put('t/1', 'one');
    await store.put('t/1', 'two');
    await store.put('t/1', 'three');
    await store.put('u/1', 'other');
    await store.close();
    const id = await withRaw(sqlite, locator, (db) => secretId(db, 't/1'));
    return { path: locator, key, id };
  }

  async function outcome(store: Store, name: string, version?: number): Promise<string> {
    return store.get(name, version === undefined ? {} : { version }).then((s) => `value ${s.value.text()} v${s.version}`, (e: { code?: string }) => e.code ?? String(e));
  }

  it('the key moved alone (v2 under v4\'s key): v4 is E_TAMPERED, v2 is gone, never "two" for another version', async () => {
    const { path, key, id } = await made();
    await withRaw(sqlite, path, (db) => db.run('UPDATE versions SET place = place + 2 WHERE secret_id = ? AND version = 2', id));
    const store = await opened(path, key);
    try {
      expect(await outcome(store, 't/1', 4)).toBe('E_TAMPERED');
      expect(await outcome(store, 't/1', 2)).toMatch(/^E_(TAMPERED|NOT_FOUND)$/);
      expect(await outcome(store, 't/1')).toBe('value three v3');
    } finally {
      await store.close();
    }
    expect((await verifyProblems(path, key)).join('\n')).toMatch(/1 version row\(s\) not under the key their secret id and number give/);
  });

  it('the key moved alone to another secret: that secret\'s read never answers t/1\'s value', async () => {
    const { path, key, id } = await made();
    await withRaw(sqlite, path, async (db) => {
      const other = await secretId(db, 'u/1');
      await db.run('DELETE FROM versions WHERE secret_id = ? AND version = 1', other);
      await db.run(`UPDATE versions SET place = ${other} * 4294967296 + 1 WHERE secret_id = ? AND version = 1`, id);
    });
    const store = await opened(path, key);
    try {
      expect(await outcome(store, 'u/1')).toBe('E_TAMPERED');
      expect(await outcome(store, 'u/1', 1)).toBe('E_TAMPERED');
    } finally {
      await store.close();
    }
    expect((await verifyProblems(path, key)).join('\n')).toMatch(/not under the key their secret id and number give/);
  });

  /** Every library call that reads t/1's versions by their place, or orders them by it, and what it answers. */
  async function placedReads(store: Store, at: number): Promise<Record<string, string>> {
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code ?? String(e));
    return {
      history: await code(store.history('t/1')),
      at: await store.get('t/1', { at }).then((s) => `value ${s.value.text()} v${s.version}`, (e: { code?: string }) => e.code ?? String(e)),
      destroy: await code(store.destroy('t/1', [1])),
      delete: await code(store.delete('t/1', { versions: [1] })),
      prune: await code(store.setMetadata('t/1', { maxVersions: 1 })),
    };
  }

  it('a version row moved within its secret (or two swapped), then put back: what reads and writes by place did is E_TAMPERED, nothing laundered', async () => {
    const edits = {
      'v1 moved after v3': ['UPDATE versions SET place = place + 1000 WHERE secret_id = ? AND version = 1'],
      'v2 and v3 swapped (by time, now finds v2\'s row at v3\'s place)': [
        'UPDATE versions SET place = -place WHERE secret_id = ? AND version = 2',
        'UPDATE versions SET place = place - 1 WHERE secret_id = ? AND version = 3',
        'UPDATE versions SET place = -place + 1 WHERE secret_id = ? AND version = 2',
      ],
    };
    for (const [what, sqls] of Object.entries(edits)) {
      const { path, key, id } = await made();
      await withRaw(sqlite, path, async (db) => {
        for (const q of sqls) await db.run(q, id);
      });
      const store = await opened(path, key);
      try {
        const r = await placedReads(store, Date.now() + 1000);
        // By time, now: v3, the exact value when v3 is where it belongs; never v2's value.
        expect(['value three v3', 'E_TAMPERED'], what).toContain(r.at);
        expect({ ...r, at: undefined }, what).toEqual({ history: 'E_TAMPERED', destroy: 'E_TAMPERED', delete: 'E_TAMPERED', prune: 'E_TAMPERED' });
      } finally {
        await store.close();
      }
    }
  });

  it('retention never prunes by place: with a row moved, a put that prunes fails whole and the row put back is as before', async () => {
    const { path, key, id } = await made();
    const store = await opened(path, key);
    await store.setMetadata('t/1', { maxVersions: 3 });
    await store.close();
    await withRaw(sqlite, path, (db) => db.run('UPDATE versions SET place = place + 1000 WHERE secret_id = ? AND version = 1', id));
    const again = await opened(path, key);
    try {
      expect(await again.put('t/1', 'four').then(() => 'ok', (e: { code?: string }) => e.code)).toBe('E_TAMPERED');
    } finally {
      await again.close();
    }
    await withRaw(sqlite, path, (db) => db.run('UPDATE versions SET place = place - 1000 WHERE secret_id = ? AND version = 1', id));
    const after = await opened(path, key);
    try {
      expect((await after.history('t/1')).map((v) => v.version)).toEqual([1, 2, 3]);
      expect(await outcome(after, 't/1', 2)).toBe('value two v2');
      expect((await after.verify({ deep: true })).ok).toBe(true);
    } finally {
      await after.close();
    }
  });

  it('the columns edited alone (the key kept): reads answer the exact value or E_TAMPERED, and verify names the row', async () => {
    for (const set of ['secret_id = secret_id + 1', 'version = 4']) {
      const { path, key, id } = await made();
      await withRaw(sqlite, path, (db) => db.run(`UPDATE versions SET ${set} WHERE secret_id = ? AND version = 2`, id));
      const store = await opened(path, key);
      try {
        expect(['value two v2', 'E_TAMPERED']).toContain(await outcome(store, 't/1', 2));
        expect(await outcome(store, 't/1')).toBe('value three v3');
      } finally {
        await store.close();
      }
      expect((await verifyProblems(path, key)).join('\n')).toMatch(/not under the key their secret id and number give/);
    }
  });
});
