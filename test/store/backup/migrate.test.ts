// migrateStore through the library: whole stores moved between SQLite files and PostgreSQL databases, row for row.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, onTestFinished } from 'vitest';
import { migrateStore, openStore, rawKey, StoreError, VerificationError, type Store } from '../../../src/index.js';
import { hostTag } from '../../../src/platform/process.js';
import { asAdmin, freshDatabase } from '../../helpers/postgres.js';
import { hasStoreSchema, postgresRows, sqliteRows } from '../../helpers/rows.js';
import { everyValue, flipValue, freshStore } from '../../helpers/store.js';
import { tempDir } from '../../helpers/tmp.js';

async function failure(p: Promise<unknown>): Promise<StoreError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(StoreError);
  return e as StoreError;
}

/** Secrets in every state, a purged one with the highest id, JSON, metadata, two data keys, records and audit entries. */
async function fill(store: Store): Promise<void> {
  await store.put('app/db', 'one');
  await store.put('app/db', 'two');
  await store.put('app/api', 'key-1');
  await store.put('app/api', 'key-2');
  await store.put('app/json', '{"user":"u","password":"p"}', { json: true });
  await store.put('ops/token', 'tok');
  await store.put('ops/token', 'tok-2');
  await store.delete('app/api', { versions: [1] });
  await store.destroy('ops/token', [1]);
  await store.setMetadata('app/db', { custom: { owner: 'team-a' }, maxVersions: 5 });
  await store.rotateKeys({ rewrap: true });
  await store.put('app/db', 'three'); // under the new key
  await store.changeRecords({ action: 'token.create' }, (tx) => tx.put('token', 'abc', '{"policies":["ro"]}'));
  await store.put('gone/soon', 'x');
  await store.purge('gone/soon'); // its id (the highest) is never handed out again
  await store.get('app/db'); // an audited read
}

function openWith(locator: string, key: Uint8Array): Promise<Store> {
  return openStore(locator, rawKey(key)).then((s) => {
    onTestFinished(() => s.close());
    return s;
  });
}

const temps = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.includes('.tmp-'));

/**
 * What a migrate killed while it verified leaves at `url`: the migrate's own
 * steps (the target claimed and marked, the copy committed) up to its
 * verification, which never ran, nor anything after it.
 */
async function interruptedMigrate(from: string, url: string): Promise<void> {
  const { openStorage } = await import('../../../src/storage/open.js');
  const { copyStorage } = await import('../../../src/storage/copy.js');
  const { copyTarget } = await import('../../../src/store/migrate/target.js');
  const source = await openStorage(from);
  try {
    const target = await copyTarget(url, 'migrate');
    try {
      await target.exclusive(async () => {
        const replace = (await target.claim()) === 'leftover';
        await copyStorage(source, target.storage, { replace, targetShown: target.shown });
      });
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

describe('migrateStore', () => {
  it('SQLite → PostgreSQL → SQLite: every table byte for byte, the secret id counter too; both copies verified --deep', async () => {
    const { store, path, key, dir } = await freshStore();
    await fill(store);
    const values = await everyValue(store);
    const before = sqliteRows(path);
    expect(before.secretIdHighWater).toBeGreaterThan(Math.max(...before.tables.secrets!.map((s) => s.id as number)));
    const db = await freshDatabase();

    const progress: [number, number][] = [];
    const there = await migrateStore(path, db.url, rawKey(key), { onProgress: (d, t) => progress.push([d, t]) });
    expect(there).toMatchObject({
      from: path, to: db.url, storeId: (await store.status()).storeId, sourceChangedSince: false,
      rows: { secrets: 4, versions: 8, records: 1, keys: 2, audit: before.tables.audit!.length, meta: before.tables.meta!.length },
      verified: { ok: true, deep: true, versions: 8, decrypted: 7, problems: [] },
    });
    expect(progress.at(-1)![0]).toBe(progress.at(-1)![1]);
    expect(await postgresRows(db.name)).toEqual(before);

    // The source records where it went; nothing else of it changed.
    const entries = [];
    for await (const e of store.auditEntries({ action: 'migrate' })) entries.push(e);
    expect(entries).toMatchObject([{ action: 'migrate', outcome: 'ok', detail: `to ${db.url}` }]);
    const inPg = await postgresRows(db.name);

    const back = join(dir, 'back', 'store.db');
    const home = await migrateStore(db.url, back, rawKey(key));
    expect(home).toMatchObject({ from: db.url, to: back, verified: { ok: true, decrypted: 7 }, sourceChangedSince: false });
    expect(sqliteRows(back)).toEqual(inPg);
    expect(sqliteRows(back)).toEqual(before);

    const returned = await openWith(back, key);
    expect(await everyValue(returned)).toEqual(values);
    expect((await returned.verifyAudit()).ok).toBe(true);
    expect((await returned.verify({ deep: true })).ok).toBe(true);
    expect(temps(dir)).toEqual([]);
    expect(temps(join(dir, 'back'))).toEqual([]);

    // A new secret in the PostgreSQL store takes an id above every one the store ever handed out.
    const onPg = await openWith(db.url, key);
    await onPg.put('new/one', 'n');
    const ids = (await postgresRows(db.name)).tables.secrets!.map((s) => s.id as number);
    expect(Math.max(...ids)).toBe(before.secretIdHighWater + 1);
    expect(await everyValue(onPg)).toEqual(new Map([...values, ['new/one@1', 'n']]));
  });

  it('file to file and database to database, the same rows; a killed migrate\'s temp file beside the target is removed', async () => {
    const { store, path, key, dir } = await freshStore();
    await fill(store);
    const rows = sqliteRows(path);
    const copy = join(dir, 'copy.db');
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const leftover = `.copy.db.migrate-${hostTag()}-${dead}-0123456789ab.tmp`;
    const running = `.copy.db.migrate-${hostTag()}-${process.pid}-0123456789ab.tmp`;
    for (const f of [leftover, running]) writeFileSync(join(dir, f), 'x');
    await migrateStore(path, copy, rawKey(key));
    expect(sqliteRows(copy)).toEqual(rows);
    expect(existsSync(join(dir, leftover))).toBe(false);
    expect(existsSync(join(dir, running))).toBe(true);

    const a = await freshDatabase();
    const b = await freshDatabase();
    await migrateStore(copy, a.url, rawKey(key));
    await migrateStore(a.url, b.url, rawKey(key));
    expect(await postgresRows(b.name)).toEqual(rows);
  });

  it('a target that holds a store is refused (E_STORE_EXISTS) and left as it was; so is an existing file, before the key is asked for', async () => {
    const { store, path, key, dir } = await freshStore();
    await fill(store);
    const db = await freshDatabase();
    const other = await freshStore();
    await other.store.put('theirs', 'v');
    await migrateStore(other.path, db.url, rawKey(other.key));
    const theirs = await postgresRows(db.name);
    const source = sqliteRows(path);

    expect((await failure(migrateStore(path, db.url, rawKey(key)))).code).toBe('E_STORE_EXISTS');
    expect(await postgresRows(db.name)).toEqual(theirs);
    expect(sqliteRows(path)).toEqual(source);

    const neverAsked = () => {
      throw new Error('the master key was asked for');
    };
    expect((await failure(migrateStore(path, other.path, neverAsked))).code).toBe('E_STORE_EXISTS');
    expect((await failure(migrateStore(path, path, rawKey(key)))).code).toBe('E_USAGE');
    expect(temps(dir)).toEqual([]);
  });

  it('a wrong master key: E_WRONG_MASTER_KEY, and no target is made', async () => {
    const { store, path, dir } = await freshStore();
    await fill(store);
    const db = await freshDatabase();
    const wrong = rawKey(new Uint8Array(32).fill(7));
    expect((await failure(migrateStore(path, db.url, wrong))).code).toBe('E_WRONG_MASTER_KEY');
    expect(await hasStoreSchema(db.name)).toBe(false);
    expect((await failure(migrateStore(path, join(dir, 'copy.db'), wrong))).code).toBe('E_WRONG_MASTER_KEY');
    expect(existsSync(join(dir, 'copy.db'))).toBe(false);
  });

  it('a tampered value in the source: the copy fails verification and is taken away; the source is untouched', async () => {
    const { store, path, key, dir } = await freshStore();
    await fill(store);
    await store.close();
    flipValue(path, 'app/db', 2);
    const source = sqliteRows(path);

    const db = await freshDatabase();
    const e = await failure(migrateStore(path, db.url, rawKey(key)));
    expect(e).toBeInstanceOf(VerificationError);
    expect(e.code).toBe('E_TAMPERED');
    expect((e as VerificationError).report.problems).toEqual([{ code: 'E_TAMPERED', message: expect.stringContaining('app/db version 2') }]);
    expect(await hasStoreSchema(db.name)).toBe(false);
    expect(sqliteRows(path)).toEqual(source);

    // A schema made beforehand (as an administrator may) stays, empty.
    await asAdmin((a) => a.query('CREATE SCHEMA strongbox'), db.name);
    expect((await failure(migrateStore(path, db.url, rawKey(key)))).code).toBe('E_TAMPERED');
    expect(await hasStoreSchema(db.name)).toBe(true);
    expect(await asAdmin(async (a) => (await a.query("SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'strongbox'::regnamespace")).rows[0], db.name)).toEqual({ n: 0 });

    const file = join(dir, 'copy.db');
    expect((await failure(migrateStore(path, file, rawKey(key)))).code).toBe('E_TAMPERED');
    expect(existsSync(file)).toBe(false);
    expect(temps(dir)).toEqual([]);
  });

  it('an edited audit entry in a PostgreSQL source breaks the copy\'s chain: refused, no file', async () => {
    const { store, path, key, dir } = await freshStore();
    await fill(store);
    const db = await freshDatabase();
    await migrateStore(path, db.url, rawKey(key));
    await asAdmin((a) => a.query("UPDATE strongbox.audit SET detail = 'edited' WHERE seq = 2"), db.name);
    const file = join(dir, 'from-pg.db');
    const e = await failure(migrateStore(db.url, file, rawKey(key)));
    expect(e.code).toBe('E_TAMPERED');
    expect((e as VerificationError).report.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^audit log: entry 2: /)]);
    expect(existsSync(file)).toBe(false);
    expect(temps(dir)).toEqual([]);
  });

  it('an unverified copy left by a migrate killed before it verified is replaced by the next migrate, which then marks it done', async () => {
    const { store, path, key } = await freshStore();
    await fill(store);
    const db = await freshDatabase();
    // What a killed migrate leaves: another store's rows copied and committed, the tables still marked.
    const other = await freshStore();
    await other.store.put('half/done', 'x');
    const { createStorage, openStorage } = await import('../../../src/storage/open.js');
    const { copyStorage } = await import('../../../src/storage/copy.js');
    const { markIncompleteCopy } = await import('../../../src/storage/postgres/copy-target.js');
    const [from, into] = [await openStorage(other.path), await createStorage(db.url)];
    await markIncompleteCopy(db.url, true);
    await copyStorage(from, into);
    await from.close();
    await into.close();

    const rows = sqliteRows(path);
    const r = await migrateStore(path, db.url, rawKey(key));
    expect(r.verified.ok).toBe(true);
    expect(await postgresRows(db.name)).toEqual(rows);
    // Marked done: the next migrate into it finds a store.
    expect((await failure(migrateStore(other.path, db.url, rawKey(other.key)))).code).toBe('E_STORE_EXISTS');
  });

  it('a copy left unverified by an interrupted migrate is not opened as a store (E_NOT_A_STORE), read-write nor read-only; the next migrate replaces it, and then it opens', async () => {
    const { store, path, key } = await freshStore();
    await fill(store);
    const values = await everyValue(store);
    const db = await freshDatabase();
    await interruptedMigrate(path, db.url);
    expect(await asAdmin(async (a) => (await a.query("SELECT obj_description('strongbox.meta'::regclass, 'pg_class') AS note")).rows[0], db.name))
      .toEqual({ note: expect.stringContaining('unverified copy') });

    for (const readOnly of [undefined, true, false]) {
      const e = await failure(openStore(db.url, rawKey(key), { readOnly }));
      expect(e.code).toBe('E_NOT_A_STORE');
      expect(e.message).toContain('unverified copy of a store, left by an interrupted store migrate');
      expect(e.hints.join('\n')).toMatch(/store migrate again[\s\S]*drop it/);
    }
    const { openStorage } = await import('../../../src/storage/open.js');
    expect((await failure(openStorage(db.url))).code).toBe('E_NOT_A_STORE');

    // Untouched since (nothing could open it), it is the leftover the next migrate replaces and verifies.
    const rows = sqliteRows(path);
    const r = await migrateStore(path, db.url, rawKey(key));
    expect(r.verified.ok).toBe(true);
    expect(await postgresRows(db.name)).toEqual(rows);
    // Its verification wrote nothing to the copy: still the rows of one transaction, as one killed while verifying leaves them.
    const { incompleteCopy, markIncompleteCopy } = await import('../../../src/storage/postgres/copy-target.js');
    expect(await incompleteCopy(db.url)).toBe('none');
    await markIncompleteCopy(db.url, true);
    expect(await incompleteCopy(db.url)).toBe('untouched');
    await markIncompleteCopy(db.url, false);
    const there = await openWith(db.url, key);
    expect(await everyValue(there)).toEqual(values);
  });

  it('an interrupted migrate\'s marked copy that was written to since (as a program that did not heed the mark could) is not replaced by the next migrate of any store: E_STORE_EXISTS, its rows kept', async () => {
    const { store, path, key } = await freshStore();
    await fill(store);
    const db = await freshDatabase();
    await interruptedMigrate(path, db.url);
    // A write the mark did not stop: made with the mark off, then the mark as the interrupted migrate left it.
    const { markIncompleteCopy } = await import('../../../src/storage/postgres/copy-target.js');
    await markIncompleteCopy(db.url, false);
    const writer = await openStore(db.url, rawKey(key));
    await writer.put('written/after', 'w');
    await writer.close();
    await markIncompleteCopy(db.url, true);
    const written = await postgresRows(db.name);

    const other = await freshStore();
    await other.store.put('other/x', 'x');
    const e = await failure(migrateStore(other.path, db.url, rawKey(other.key)));
    expect(e.code).toBe('E_STORE_EXISTS');
    expect(e.message).toContain('written to after it was copied');
    expect(e.hints.join('\n')).toContain('DROP SCHEMA strongbox CASCADE');
    // Nor by a migrate of the same store.
    expect((await failure(migrateStore(path, db.url, rawKey(key)))).code).toBe('E_STORE_EXISTS');
    expect(await postgresRows(db.name)).toEqual(written);
    // Still refused as a store until someone takes the mark off; then it opens with the write in it.
    expect((await failure(openStore(db.url, rawKey(key)))).code).toBe('E_NOT_A_STORE');
    await asAdmin((a) => a.query('COMMENT ON TABLE strongbox.meta IS NULL'), db.name);
    expect((await (await openWith(db.url, key)).get('written/after')).value.text()).toBe('w');
  });

  it('an empty set of tables left by an interrupted run is filled; a write to the source after its snapshot is reported', async () => {
    const { store, path, key } = await freshStore();
    await fill(store);
    const db = await freshDatabase();
    const first = await openWith(db.url, key).catch((e: unknown) => e);
    expect(first).toMatchObject({ code: 'E_NO_STORE' });
    // What `store init` or a migrate killed after making the tables leaves: tables, no rows.
    const { createStorage } = await import('../../../src/storage/open.js');
    await (await createStorage(db.url)).close();

    const writer = await openWith(path, key);
    let write: Promise<unknown> | undefined;
    const r = await migrateStore(path, db.url, rawKey(key), {
      onProgress: () => {
        write ??= writer.put('late/write', 'after the snapshot');
      },
    });
    await write;
    expect(r.sourceChangedSince).toBe(true);
    expect(r.verified.ok).toBe(true);
    const names = (await postgresRows(db.name)).tables.secrets!.map((s) => s.name);
    expect(names).not.toContain('late/write');
    expect(new Database(path, { readonly: true }).prepare("SELECT count(*) FROM secrets WHERE name = 'late/write'").pluck().get()).toBe(1);
  });
});
