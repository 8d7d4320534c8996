/**
 * Stores written by older schemas open in this program. Schema 6 (secrets
 * in a rowid table): rebuilt in name order, every row, MAC and the counter of
 * ids as they were. Schema 5 (secret ids
 * from AUTOINCREMENT, versions indexed by data key): its secrets table
 * rebuilt without it, every row as it was, ids of purged secrets still never
 * handed out again, and a rewrap still reaches every version. Schemas 3 and 4
 * (rows authenticated; 4 with records; before each version recorded whether
 * it holds JSON): migrated, every version plain bytes, no MAC changed. Schema 2 (before rows
 * were authenticated) and schema 1 (before the audit log): migrated, every
 * row sealed with its MAC at the first open with the master key, every value,
 * state, key, setting and audit entry as it was, and from then on protected.
 * Schema 7 (version MACs v1, which do not bind the ciphertext): opens as it
 * was, and once its versions are rewritten (a rewrap) a purged secret's old
 * ciphertext put back is refused. Schema 8 (secret MACs v1, which do not
 * cover the current version's nonce): opens as it was, each get checking the
 * version's MAC as well, and a secret row takes the v2 MAC when next
 * written, or all of them at the next rotate-keys. Schema 9 (versions in a
 * table WITHOUT ROWID, where a value of a kilobyte or more spilled out of
 * its row): its versions moved to the rowid table keyed by secret and
 * number, every row, MAC and value as it was. The fixtures are committed
 * files written by the releases before.
 */
import Database from 'better-sqlite3';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrateStore, openStore, rawKey } from '../../src/index.js';
import { asAdmin, freshDatabase } from '../helpers/postgres.js';
import { SCHEMA_VERSION } from '../../src/storage/sqlite/schema.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = new Uint8Array(32).fill(0x5a);

/** A version row's columns as every schema has them (schema 10 adds its key, `place`, computed from two of them). */
const VERSION_COLUMNS = 'secret_id, version, created_at, deleted_at, destroyed_at, key_id, ciphertext, mac, json';

/** A migrated file: every version still follows its secret, each under the key its secret and number give, and SQLite finds nothing wrong. */
function expectRebuiltSound(db: Database.Database): void {
  expect(db.prepare('SELECT count(*) FROM versions WHERE secret_id NOT IN (SELECT id FROM secrets)').pluck().get()).toBe(0);
  expect(db.prepare('SELECT count(*) FROM versions WHERE place IS NOT secret_id * 4294967296 + version').pluck().get()).toBe(0);
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
}

function copyOf(fixture: string): string {
  const path = join(tempDir(), 'old.db');
  copyFileSync(`test/fixtures/${fixture}`, path);
  return path;
}

// Both written by the releases before versions recorded JSON (schema 3: rows authenticated; 4: records too).
for (const [schema, password] of [[3, 's3-password-2'], [4, 's4-password-2']] as const) {
  describe(`a schema-${schema} store (test/fixtures/store-schema${schema}.db, before versions recorded JSON)`, () => {
    it('opens: migrated, every version plain bytes (a JSON-looking value too), every MAC as it was', async () => {
      const path = copyOf(`store-schema${schema}.db`);
      const raw = new Database(path, { readonly: true });
      expect(raw.pragma('user_version', { simple: true })).toBe(schema);
      const macsBefore = raw.prepare('SELECT secret_id, version, mac FROM versions ORDER BY secret_id, version').all();
      raw.close();
      const store = await openStore(path, rawKey(KEY));
      try {
        expect((await store.status()).schemaVersion).toBe(SCHEMA_VERSION);
        expect((await store.get('app/db-password')).value.text()).toBe(password);
        const config = await store.get('app/config');
        expect([config.value.text(), config.json]).toEqual(['{"host":"db.internal","port":5432}', false]);
        for (const s of await store.list()) {
          for (const h of await store.history(s.name)) expect([s.name, h.version, h.json]).toEqual([s.name, h.version, false]);
        }
        expect((await store.get('app/db-password', { version: 1 })).json).toBe(false);
        await expect(store.get('app/api-key')).rejects.toMatchObject({ code: 'E_DELETED' });
        await expect(store.get('other/token', { version: 1 })).rejects.toMatchObject({ code: 'E_DESTROYED' });
        if (schema === 4) expect((await store.listRecords('policy')).map((r) => r.id)).toEqual(['app']);
        expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
        expect(await store.verifyAudit()).toMatchObject({ ok: true });
        // A JSON version written after the upgrade sits beside the old ones; rollback keeps each one's kind.
        await store.put('app/config', '{"host":"db2.internal"}', { json: true });
        await store.rollback('app/config', 1);
        expect((await store.history('app/config')).map((h) => h.json)).toEqual([false, true, false]);
      } finally {
        await store.close();
      }
      // The migration added the column and changed no MAC: the rows sealed before are those it reads now.
      const after = new Database(path, { readonly: true });
      expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const oldRows = after.prepare('SELECT secret_id, version, mac FROM versions WHERE json = 0 ORDER BY secret_id, version').all();
      expect(oldRows).toEqual(expect.arrayContaining(macsBefore as unknown[]));
      after.close();
      const again = await openStore(path, rawKey(KEY));
      expect(await again.verify({ deep: true })).toMatchObject({ ok: true });
      expect((await again.get('app/config', { version: 2 })).json).toBe(true);
      await again.close();
    });
  });
}

describe('a schema-5 store (test/fixtures/store-schema5.db, before secret ids dropped AUTOINCREMENT)', () => {
  it('opens: the secrets table rebuilt with every row and MAC as it was; a purged id is never handed out again', async () => {
    const path = copyOf('store-schema5.db');
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(5);
    const secretsBefore = raw.prepare('SELECT * FROM secrets ORDER BY id').all() as { id: number }[];
    const versionsBefore = raw.prepare(`SELECT ${VERSION_COLUMNS} FROM versions ORDER BY secret_id, version`).all();
    // Written by the release before: ids 1-4 in use, 5 and 6 purged (6 the last handed out).
    expect(secretsBefore.map((r) => r.id)).toEqual([1, 2, 3, 4]);
    expect(raw.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'secrets'").pluck().get()).toBe(6);
    raw.close();
    const store = await openStore(path, rawKey(KEY));
    try {
      expect((await store.status()).schemaVersion).toBe(SCHEMA_VERSION);
      expect((await store.get('app/db-password')).value.text()).toBe('s5-password-2');
      expect((await store.get('app/config')).json).toBe(true);
      await expect(store.get('app/api-key')).rejects.toMatchObject({ code: 'E_DELETED' });
      await expect(store.get('other/token', { version: 1 })).rejects.toMatchObject({ code: 'E_DESTROYED' });
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect(await store.verifyAudit()).toMatchObject({ ok: true });
      await store.put('app/new', 'after the upgrade');
      await store.put('app/newer', 'and another');
      await store.purge('app/newer'); // the highest id in use, purged by this program
      await store.put('app/newest', 'last');
    } finally {
      await store.close();
    }
    const after = new Database(path, { readonly: true });
    try {
      expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(after.prepare("SELECT sql FROM sqlite_schema WHERE name = 'secrets'").pluck().get()).not.toMatch(/AUTOINCREMENT/i);
      expect(after.prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'versions' AND type = 'index'").pluck().all()).toEqual([]);
      const rows = after.prepare('SELECT * FROM secrets ORDER BY id').all() as { id: number; name: string }[];
      expect(rows.slice(0, 4)).toEqual(secretsBefore);
      expect(after.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE secret_id <= 4 ORDER BY secret_id, version`).all()).toEqual(versionsBefore);
      // Above the purged 6, though 4 was the highest in use; and above 8, purged after the upgrade.
      expect(rows.slice(4).map((r) => [r.id, r.name])).toEqual([[7, 'app/new'], [9, 'app/newest']]);
      expectRebuiltSound(after);
    } finally {
      after.close();
    }
    const again = await openStore(path, rawKey(KEY));
    try {
      expect(await again.verify({ deep: true })).toMatchObject({ ok: true });
      // A rewrap without the index by key it had: every version with a value, two at a time, each batch on from the last.
      const rotated = await again.rotateKeys({ batchSize: 2 });
      expect([rotated.rewrapped, rotated.toRewrap, rotated.batches]).toEqual([7, 7, 4]);
      expect((await again.status()).keys.map((k) => [k.version, k.status, k.versions])).toEqual([[1, 'retired', 0], [2, 'primary', 7]]);
      expect((await again.get('app/db-password', { version: 1 })).value.text()).toBe('s5-password-1');
      expect(await again.verify({ deep: true })).toMatchObject({ ok: true });
    } finally {
      await again.close();
    }
  });
});

describe('a schema-6 store (test/fixtures/store-schema6.db, before secrets were kept in name order)', () => {
  it('opens: the secrets table rebuilt WITHOUT ROWID, every row, MAC and the id counter as they were', async () => {
    const path = copyOf('store-schema6.db');
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(6);
    expect(raw.prepare("SELECT sql FROM sqlite_schema WHERE name = 'secrets'").pluck().get()).not.toMatch(/WITHOUT ROWID/i);
    const secretsBefore = raw.prepare('SELECT * FROM secrets ORDER BY id').all() as { id: number }[];
    const versionsBefore = raw.prepare(`SELECT ${VERSION_COLUMNS} FROM versions ORDER BY secret_id, version`).all();
    // Written by the release before (the schema-5 fixture upgraded, then written to): 8, purged under schema 6, the last id handed out.
    expect(secretsBefore.map((r) => r.id)).toEqual([1, 2, 3, 4, 7]);
    expect(raw.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'secrets'").pluck().get()).toBe(8);
    raw.close();
    const store = await openStore(path, rawKey(KEY));
    try {
      expect((await store.status()).schemaVersion).toBe(SCHEMA_VERSION);
      expect((await store.get('app/db-password')).value.text()).toBe('s6-password-3');
      expect((await store.get('app/made-under-6')).value.text()).toBe('written by schema 6');
      expect((await store.get('app/config')).json).toBe(true);
      await expect(store.get('app/api-key')).rejects.toMatchObject({ code: 'E_DELETED' });
      await expect(store.get('other/token', { version: 1 })).rejects.toMatchObject({ code: 'E_DESTROYED' });
      expect((await store.list()).map((s) => s.name)).toEqual(['app/api-key', 'app/config', 'app/db-password', 'app/made-under-6', 'other/token']);
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect(await store.verifyAudit()).toMatchObject({ ok: true });
      await store.put('app/after-7', 'written by schema 7');
      await store.put('app/db-password', 's7-password-4');
    } finally {
      await store.close();
    }
    const after = new Database(path, { readonly: true });
    try {
      expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(after.prepare("SELECT sql FROM sqlite_schema WHERE name = 'secrets'").pluck().get()).toMatch(/WITHOUT ROWID/i);
      const rows = after.prepare('SELECT * FROM secrets ORDER BY id').all() as { id: number; name: string }[];
      expect(rows.filter((r) => r.name !== 'app/db-password').slice(0, 4)).toEqual(secretsBefore.filter((r) => r.id !== 1));
      expect(after.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE secret_id <= 7 AND NOT (secret_id = 1 AND version = 4) ORDER BY secret_id, version`).all()).toEqual(versionsBefore);
      // Above the 8 purged under schema 6, though 7 was the highest in use: the counter came through the rebuild.
      expect(rows.find((r) => r.name === 'app/after-7')!.id).toBe(9);
      expect(after.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'secrets'").pluck().all()).toEqual([8]);
      expectRebuiltSound(after);
    } finally {
      after.close();
    }
    const again = await openStore(path, rawKey(KEY));
    try {
      expect(await again.verify({ deep: true })).toMatchObject({ ok: true });
      expect((await again.get('app/db-password')).value.text()).toBe('s7-password-4');
      // A rewrap joins each version to its secret by id, through the id's index now.
      const rotated = await again.rotateKeys({ batchSize: 2 });
      expect(rotated.rewrapped).toBe(rotated.toRewrap);
      expect((await again.status()).keys.map((k) => [k.version, k.status])).toEqual([[1, 'retired'], [2, 'primary']]);
      expect((await again.get('app/db-password', { version: 3 })).value.text()).toBe('s6-password-3');
      expect(await again.verify({ deep: true })).toMatchObject({ ok: true });
    } finally {
      await again.close();
    }
  });
});

describe('a schema-7 store (test/fixtures/store-schema7.db, before version MACs bound their ciphertexts)', () => {
  it('opens as it was, its versions under the v1 MACs; once rewrapped, a purged secret\'s ciphertext put back is E_TAMPERED', async () => {
    const path = copyOf('store-schema7.db');
    // Written by the release before: app/p purged and made again, and its first life's version 1 kept aside.
    const purged = JSON.parse(readFileSync('test/fixtures/store-schema7-purged.json', 'utf8')) as { name: string; version: number; ciphertext: string };
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(7);
    const versionsBefore = raw.prepare(`SELECT ${VERSION_COLUMNS} FROM versions ORDER BY secret_id, version`).all();
    raw.close();
    const store = await openStore(path, rawKey(KEY));
    try {
      expect((await store.status()).schemaVersion).toBe(SCHEMA_VERSION);
      expect((await store.get('app/a')).value.text()).toBe('s7-a-2');
      expect((await store.get('app/a', { version: 1 })).value.text()).toBe('s7-a-1');
      expect((await store.get('app/json')).json).toBe(true);
      expect((await store.get('app/p')).value.text()).toBe('s7-second-life');
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect(await store.verifyAudit()).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
    const opened = new Database(path, { readonly: true });
    // Nothing rewritten by opening: the rows keep their v1 MACs (still accepted) until they are next written.
    expect(opened.prepare(`SELECT ${VERSION_COLUMNS} FROM versions ORDER BY secret_id, version`).all()).toEqual(versionsBefore);
    opened.close();
    const again = await openStore(path, rawKey(KEY));
    try {
      // A rewrap writes every version, each under its v2 MAC.
      const rotated = await again.rotateKeys();
      expect(rotated.rewrapped).toBe(rotated.toRewrap);
    } finally {
      await again.close();
    }
    const db = new Database(path);
    db.prepare("UPDATE versions SET ciphertext = ? WHERE version = ? AND secret_id = (SELECT id FROM secrets WHERE name = ?)")
      .run(Buffer.from(purged.ciphertext, 'hex'), purged.version, purged.name);
    db.close();
    const replayed = await openStore(path, rawKey(KEY));
    try {
      await expect(replayed.get('app/p')).rejects.toMatchObject({ code: 'E_TAMPERED' });
      expect((await replayed.verify({ deep: true })).problems.map((p) => p.message).join('\n')).toMatch(/app\/p version 1 was altered/);
      expect((await replayed.get('app/a')).value.text()).toBe('s7-a-2');
    } finally {
      await replayed.close();
    }
  });
});

describe('a schema-8 store (test/fixtures/store-schema8.db, before secret MACs covered their current versions\' nonces)', () => {
  const rows = (db: Database.Database) => db.prepare('SELECT * FROM secrets ORDER BY name').all() as { name: string; mac: Buffer }[];
  const withoutMac = (r: { mac: Buffer }) => ({ ...r, mac: undefined });

  it('opens as it was; its v1 secret rows read through the version MACs too; rotate-keys gives them the v2 MAC, once', async () => {
    const path = copyOf('store-schema8.db');
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(8);
    const before = rows(raw);
    raw.close();
    const store = await openStore(path, rawKey(KEY));
    try {
      expect((await store.status()).schemaVersion).toBe(SCHEMA_VERSION);
      expect((await store.get('app/a')).value.text()).toBe('s8-a-2');
      expect((await store.get('app/a', { version: 1 })).value.text()).toBe('s8-a-1');
      expect((await store.get('app/json')).json).toBe(true);
      expect((await store.get('app/rot')).value.text()).toBe('s8-rot-2');
      await expect(store.get('app/gone')).rejects.toMatchObject({ code: 'E_DELETED' });
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect(await store.verifyAudit()).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
    // Opening and reading wrote nothing.
    expect(rows(new Database(path, { readonly: true }))).toEqual(before);
    const rotating = await openStore(path, rawKey(KEY));
    try {
      expect((await rotating.rotateKeys()).rewrapped).toBe(6);
      const entries = [];
      for await (const e of rotating.auditEntries({ action: 'rotate-keys' })) entries.push(e);
      expect(entries.at(-1)?.detail).toMatch(/; 4 secret rows given the v2 MAC$/);
    } finally {
      await rotating.close();
    }
    // Every secret row has a new MAC (v2) and is otherwise as it was; the store verifies and reads as before.
    const upgraded = rows(new Database(path, { readonly: true }));
    expect(upgraded.map(withoutMac)).toEqual(before.map(withoutMac));
    expect(upgraded.filter((r, i) => r.mac.equals(before[i]!.mac))).toEqual([]);
    const again = await openStore(path, rawKey(KEY));
    try {
      expect(await again.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect((await again.get('app/a')).value.text()).toBe('s8-a-2');
      // The store now says every row is v2: another rotation writes no secret row.
      await again.rotateKeys();
    } finally {
      await again.close();
    }
    expect(rows(new Database(path, { readonly: true }))).toEqual(upgraded);
  });

  it('moved into PostgreSQL as it is (migrate copies rows, MACs and all): rotate-keys gives its secret rows the v2 MAC there too', async () => {
    const db = await freshDatabase();
    await migrateStore(copyOf('store-schema8.db'), db.url, rawKey(KEY));
    const macs = () => asAdmin(async (a) => (await a.query('SELECT name, mac FROM strongbox.secrets ORDER BY name')).rows as { name: string; mac: Buffer }[], db.name);
    const before = await macs();
    expect(before.map((r) => r.name)).toEqual(['app/a', 'app/gone', 'app/json', 'app/rot']);
    const store = await openStore(db.url, rawKey(KEY));
    try {
      expect((await store.get('app/a')).value.text()).toBe('s8-a-2');
      await store.rotateKeys();
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect((await store.get('app/rot')).value.text()).toBe('s8-rot-2');
    } finally {
      await store.close();
    }
    const after = await macs();
    expect(after.filter((r, i) => r.mac.equals(before[i]!.mac))).toEqual([]);
  });

  it('a v1 secret row: a flipped format byte in its current ciphertext is E_TAMPERED by the version\'s MAC; a put gives the row the v2 MAC', async () => {
    const path = copyOf('store-schema8.db');
    const before = rows(new Database(path, { readonly: true }));
    const db = new Database(path);
    db.prepare("UPDATE versions SET ciphertext = CAST(x'02' || substr(ciphertext, 2) AS BLOB) WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE name = 'app/json')").run();
    db.close();
    const store = await openStore(path, rawKey(KEY));
    try {
      await expect(store.get('app/json')).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringContaining('app/json version 1') });
      await store.put('app/a', 's9-a-3');
      expect((await store.get('app/a')).value.text()).toBe('s9-a-3');
    } finally {
      await store.close();
    }
    const after = rows(new Database(path, { readonly: true }));
    expect(after.map((r) => [r.name, r.mac.equals(before.find((b) => b.name === r.name)!.mac)]))
      .toEqual([['app/a', false], ['app/gone', true], ['app/json', true], ['app/rot', true]]);
  });
});

describe('a schema-9 store (test/fixtures/store-schema9.db, before versions were kept in a rowid table)', () => {
  it('opens: its versions moved under their new key, every row, MAC and value as it was, values of 3 and 20 KB among them', async () => {
    const path = copyOf('store-schema9.db');
    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(9);
    const versionsBefore = raw.prepare(`SELECT ${VERSION_COLUMNS} FROM versions ORDER BY secret_id, version`).all();
    const secretsBefore = raw.prepare('SELECT * FROM secrets ORDER BY name').all();
    raw.close();
    expect(versionsBefore).toHaveLength(9);
    const store = await openStore(path, rawKey(KEY));
    try {
      expect((await store.status()).schemaVersion).toBe(SCHEMA_VERSION);
      expect((await store.get('app/a')).value.text()).toBe('s9-a-2');
      expect((await store.get('app/a', { version: 1 })).value.text()).toBe('s9-a-1');
      expect((await store.get('app/big')).value.text()).toBe('B'.repeat(20000));
      expect((await store.get('app/big', { version: 1 })).value.text()).toBe('b'.repeat(3000));
      expect((await store.get('app/json')).json).toBe(true);
      await expect(store.get('app/gone')).rejects.toMatchObject({ code: 'E_DELETED' });
      await expect(store.get('app/partly', { version: 1 })).rejects.toMatchObject({ code: 'E_DESTROYED' });
      expect((await store.get('app/partly')).value.text()).toBe('s9-partly-2');
      await expect(store.get('app/purged')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      expect((await store.list()).map((e) => [e.name, e.versions])).toEqual([
        ['app/a', 2], ['app/after', 1], ['app/big', 2], ['app/gone', 1], ['app/json', 1], ['app/partly', 2],
      ]);
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect(await store.verifyAudit()).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
    const after = new Database(path, { readonly: true });
    try {
      expect(after.prepare(`SELECT ${VERSION_COLUMNS} FROM versions ORDER BY secret_id, version`).all()).toEqual(versionsBefore);
      expect(after.prepare('SELECT * FROM secrets ORDER BY name').all()).toEqual(secretsBefore);
      expect(after.prepare("SELECT sql FROM sqlite_schema WHERE name = 'versions'").pluck().get()).toMatch(/place\s+INTEGER PRIMARY KEY/);
      expectRebuiltSound(after);
    } finally {
      after.close();
    }
    // Written to under the new schema: the purged secret's id (6) is still never handed out again.
    const again = await openStore(path, rawKey(KEY));
    try {
      await again.put('app/new', 's10-new-1');
      await again.put('app/big', 'C'.repeat(5000));
      expect((await again.get('app/big')).value.text()).toBe('C'.repeat(5000));
      expect(await again.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
    } finally {
      await again.close();
    }
    const last = new Database(path, { readonly: true });
    expect(last.prepare("SELECT id FROM secrets WHERE name = 'app/new'").pluck().get()).toBe(8);
    last.close();
  });
});

describe('a schema-2 store (test/fixtures/store-schema2.db)', () => {
  it('opens: migrated and sealed, every value and state as written', async () => {
    const path = copyOf('store-schema2.db');
    expect(new Database(path, { readonly: true }).pragma('user_version', { simple: true })).toBe(2);
    const store = await openStore(path, rawKey(KEY));
    try {
      const status = await store.status();
      expect(status.schemaVersion).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(10);
      expect(status.keys.map((k) => [k.version, k.status])).toEqual([[1, 'retired'], [2, 'primary']]);
      expect((await store.get('app/db-password')).value.text()).toBe('v2-password-2');
      expect((await store.get('app/db-password', { version: 1 })).value.text()).toBe('v2-password-1');
      expect((await store.get('app/after-rotation')).value.text()).toBe('under key 2');
      await expect(store.get('app/api-key')).rejects.toMatchObject({ code: 'E_DELETED' });
      await expect(store.get('other/token', { version: 1 })).rejects.toMatchObject({ code: 'E_DESTROYED' });
      expect((await store.get('other/token')).value.text()).toBe('still-here');
      expect(await store.getMetadata('app/db-password')).toMatchObject({ maxVersions: 5, custom: { owner: 'ops' } });
      expect(await store.getConfig('audit.reads')).toBe('false');
      expect(await store.verifyAudit()).toMatchObject({ ok: true, entries: 12 });
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      await store.undelete('app/api-key');
      expect([...(await store.get('app/api-key')).value.expose()]).toEqual([0, 1, 2, 255]);
      await store.put('app/new', 'after the upgrade');
      // Schema 4's records table came empty, and takes records at once.
      expect(await store.listRecords('token')).toEqual([]);
      await store.changeRecords({ action: 'policy.write' }, (tx) => tx.put('policy', 'app', 'after the upgrade'));
    } finally {
      await store.close();
    }
    // Sealed for good: the next open finds a store of the new generation, and an edit is now caught.
    const again = await openStore(path, rawKey(KEY));
    expect((await again.get('app/new')).value.text()).toBe('after the upgrade');
    expect(await again.readRecord('policy', 'app')).toBe('after the upgrade');
    expect(await again.verify({ deep: true })).toMatchObject({ ok: true });
    await again.close();
    const db = new Database(path);
    db.prepare("UPDATE secrets SET current_version = 1 WHERE name = 'app/db-password'").run();
    db.close();
    const edited = await openStore(path, rawKey(KEY));
    await expect(edited.get('app/db-password')).rejects.toMatchObject({ code: 'E_TAMPERED' });
    await edited.close();
  });

  it('a wrong key seals nothing: the rows get MACs only from a holder of the master key', async () => {
    const path = copyOf('store-schema2.db');
    await expect(openStore(path, rawKey(new Uint8Array(32).fill(1)))).rejects.toMatchObject({ code: 'E_WRONG_MASTER_KEY' });
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT count(*) FROM meta WHERE key = 'integrity_key'").pluck().get()).toBe(0);
    db.close();
  });
});

describe('a schema-1 store (test/fixtures/store-schema1.db)', () => {
  it('opens with its audit log started and every row sealed; verify is clean', async () => {
    const store = await openStore(copyOf('store-schema1.db'), rawKey(KEY));
    try {
      expect((await store.get('app/db-password')).value.text()).toBe('v1-password-2');
      expect(await store.verify({ deep: true })).toMatchObject({ ok: true, problems: [] });
      expect(await store.verifyAudit()).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
  });
});
