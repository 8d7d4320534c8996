// Backup, restore and verify through the library, on real files in temp dirs.
import { describe, expect, it, onTestFinished } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import {
  backupStore, rawKey, restoreStore, verifyStore, StoreError, VerificationError, type Store,
} from '../../../src/index.js';
import { gravestCode } from '../../../src/store/backup/verify.js';
import { withExclusiveLock } from '../../../src/platform/lock.js';
import { onlineBackup } from '../../../src/storage/sqlite/files.js';
import { tempDir } from '../../helpers/tmp.js';
import { journalByte } from '../../helpers/wal.js';
import { everyValue, flipValue, freshStore, reopenStore as open } from '../../helpers/store.js';

const fresh = (dir?: string) => freshStore({}, dir);

/** 3 secrets, 7 versions: 5 live, 1 deleted, 1 destroyed. */
async function fill(store: Store): Promise<void> {
  await store.put('app/db', 'one');
  await store.put('app/db', 'two');
  await store.put('app/db', 'three');
  await store.put('app/api', 'key-1');
  await store.put('app/api', 'key-2');
  await store.put('ops/token', 'tok');
  await store.put('ops/token', 'tok-2');
  await store.delete('app/api', { versions: [1] });
  await store.destroy('ops/token', [1]);
}

const mode = (path: string) => statSync(path).mode & 0o777;
const tempsIn = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.includes('.tmp-'));

async function expectCode(p: Promise<unknown>, code: string): Promise<StoreError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(StoreError);
  expect((e as StoreError).code).toBe(code);
  return e as StoreError;
}

describe('backupStore', () => {
  it('writes a single self-contained file of mode 0600 that opens with the same key and holds every version', async () => {
    const { store, key, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'backup.db');
    const r = await store.backup(file);
    expect(r).toMatchObject({ file, verified: null, storeId: (await store.status()).storeId });
    expect(r.bytes).toBe(statSync(file).size);
    expect(mode(file)).toBe(0o600);
    expect(journalByte(file)).toBe(1); // rollback journal: no -wal belongs to it
    for (const side of ['-wal', '-shm', '-journal']) expect(existsSync(`${file}${side}`)).toBe(false);
    expect(tempsIn(dir)).toEqual([]);
    const copy = await open(file, key);
    expect(await everyValue(copy)).toEqual(await everyValue(store));
    expect((await copy.history('app/api')).map((h) => h.state)).toEqual(['deleted', 'live']);
    expect((await copy.history('ops/token')).map((h) => h.state)).toEqual(['destroyed', 'live']);
    // Opening it read-only leaves it a single file still.
    await copy.close();
    for (const side of ['-wal', '-shm', '-journal']) expect(existsSync(`${file}${side}`)).toBe(false);
  });

  it('refuses to overwrite an existing file (E_STORE_EXISTS) and leaves it as it was', async () => {
    const { store, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'backup.db');
    writeFileSync(file, 'precious');
    await expectCode(store.backup(file), 'E_STORE_EXISTS');
    expect(readFileSync(file, 'utf8')).toBe('precious');
    await expectCode(store.backup(join(dir, 'store.db')), 'E_STORE_EXISTS'); // nor the store itself
    expect(tempsIn(dir)).toEqual([]);
  });

  it('a missing directory is E_IO, and nothing is left behind', async () => {
    const { store, dir } = await fresh();
    await expectCode(store.backup(join(dir, 'no', 'such', 'dir', 'b.db')), 'E_IO');
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it('verify: opens the new backup with the store\'s key and decrypts every live and deleted version', async () => {
    const { store, dir } = await fresh();
    await fill(store);
    const seen: number[] = [];
    const r = await store.backup(join(dir, 'b.db'), { verify: true, onVerifyProgress: (done) => seen.push(done) });
    expect(r.verified).toMatchObject({
      ok: true, deep: true, secrets: 3, versions: 7, liveVersions: 5, deletedVersions: 1, destroyedVersions: 1, decrypted: 6, problems: [],
    });
    expect(seen.at(-1)).toBe(7);
  });

  it('verify: a store with an altered value makes a backup that fails verification, and no file is kept', async () => {
    const { store, path, key, dir } = await fresh();
    await fill(store);
    await store.close();
    flipValue(path, 'app/db', 2);
    const reopened = await open(path, key);
    const file = join(dir, 'b.db');
    const e = await expectCode(reopened.backup(file, { verify: true }), 'E_TAMPERED');
    expect(e).toBeInstanceOf(VerificationError);
    expect((e as VerificationError).report.problems).toEqual([{ code: 'E_TAMPERED', message: expect.stringContaining('app/db version 2') }]);
    expect(existsSync(file)).toBe(false);
    expect(tempsIn(dir)).toEqual([]);
  });

  it('a write that returned before the backup is in it; one after it is not', async () => {
    const { store, key, dir } = await fresh();
    await store.put('a', 'before');
    const file = join(dir, 'b.db');
    await store.backup(file);
    await store.put('a', 'after');
    const copy = await open(file, key);
    expect((await copy.get('a')).value.text()).toBe('before');
    expect((await copy.get('a')).version).toBe(1);
  });
});

describe('verifyStore', () => {
  it('a sound store: ok; only --deep decrypts', async () => {
    const { store } = await fresh();
    await fill(store);
    const quick = await store.verify();
    expect(quick).toMatchObject({ ok: true, deep: false, decrypted: 0, secrets: 3, versions: 7, liveVersions: 5, deletedVersions: 1, destroyedVersions: 1 });
    expect(quick.newestWriteAt).toBeInstanceOf(Date);
    const deep = await store.verify({ deep: true });
    expect(deep).toMatchObject({ ok: true, deep: true, decrypted: 6, problems: [], moreProblems: 0 });
  });

  it('an empty store is sound', async () => {
    const { store } = await fresh();
    expect(await store.verify({ deep: true })).toMatchObject({ ok: true, secrets: 0, versions: 0, newestWriteAt: null });
  });

  it('--deep finds an altered value (E_TAMPERED, naming the version, never the value)', async () => {
    const { store, path, key } = await fresh();
    await fill(store);
    await store.close();
    flipValue(path, 'app/api', 1); // a deleted version: still checked
    flipValue(path, 'app/db', 3);
    const s = await open(path, key);
    expect((await s.verify()).ok).toBe(true); // without --deep nothing is decrypted
    const r = await s.verify({ deep: true });
    expect(r.ok).toBe(false);
    expect(r.decrypted).toBe(4);
    expect(r.problems.map((p) => p.code)).toEqual(['E_TAMPERED', 'E_TAMPERED']);
    const messages = r.problems.map((p) => p.message).sort();
    expect(messages).toEqual([expect.stringContaining('app/api version 1'), expect.stringContaining('app/db version 3')]);
    expect(JSON.stringify(r)).not.toMatch(/key-1|three/);
    expect(gravestCode(r.problems)).toBe('E_TAMPERED');
  });

  it('a version naming a data key the store does not hold', async () => {
    const { store, path, key } = await fresh();
    await fill(store);
    await store.close();
    const db = new Database(path);
    db.prepare("UPDATE versions SET key_id = 12345 WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE name = 'app/db')").run();
    db.close();
    const r = await (await open(path, key)).verify();
    expect(r.ok).toBe(false);
    // The edited row fails its MAC, and the key it now names is missing too: both are listed.
    expect(r.problems).toEqual([
      { code: 'E_TAMPERED', message: 'app/db version 1 was altered, replaced or moved (its MAC does not match)' },
      { code: 'E_TAMPERED', message: expect.stringMatching(/app\/db version 1 is under data key 00003039, which this store does not hold/) },
    ]);
  });

  it('structural damage: a version of no secret is E_NOT_A_STORE', async () => {
    const { store, path, key } = await fresh();
    await fill(store);
    await store.close();
    const db = new Database(path);
    db.prepare('INSERT INTO versions (place, secret_id, version, created_at, key_id, ciphertext) VALUES (999 * 4294967296 + 1, 999, 1, 0, NULL, NULL)').run();
    db.close();
    const r = await (await open(path, key)).verify();
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toEqual({ code: 'E_NOT_A_STORE', message: expect.stringContaining('1 version row(s) of no secret') });
    expect(gravestCode(r.problems)).toBe('E_NOT_A_STORE');
  });
});

describe('restoreStore', () => {
  it('installs a backup where there is no store (directory made 0700, file 0600, WAL mode)', async () => {
    const { store, key, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'b.db');
    await store.backup(file);
    const target = join(tempDir(), 'new', 'store.db');
    const r = await restoreStore(target, file, rawKey(key));
    expect(r).toMatchObject({ path: target, keptAs: null, replacedStoreId: null, forced: false, secrets: 3, versions: 7, liveVersions: 5 });
    expect(mode(target)).toBe(0o600);
    expect(statSync(dirname(target)).mode & 0o777).toBe(0o700);
    expect(journalByte(target)).toBe(2);
    expect(readdirSync(dirname(target))).toEqual(['store.db']);
    const restored = await open(target, key);
    expect(await everyValue(restored)).toEqual(await everyValue(store));
  });

  it('replaces the store and keeps the previous file as <store>.pre-restore-<time> (0600)', async () => {
    const { store, path, key, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'b.db');
    await store.backup(file);
    await store.put('app/db', 'four, after the backup');
    const before = await everyValue(store);
    await store.close();
    const at = Date.UTC(2026, 10, 22, 22, 33, 51);
    const r = await restoreStore(path, file, rawKey(key), { now: () => at });
    expect(r.keptAs).toBe(`${path}.pre-restore-20261122T223351Z`);
    expect(r).toMatchObject({ replacedStoreId: r.storeId, forced: false, versions: 7 });
    expect(mode(r.keptAs!)).toBe(0o600);
    const restored = await open(path, key);
    expect((await restored.get('app/db')).version).toBe(3);
    const kept = await open(r.keptAs!, key);
    expect(await everyValue(kept)).toEqual(before);
    expect(tempsIn(dir)).toEqual([]);
    // A second restore in the same second does not reuse the name.
    const again = await restoreStore(path, file, rawKey(key), { now: () => at });
    expect(again.keptAs).toBe(`${path}.pre-restore-20261122T223351Z-2`);
  });

  it('writes still in the live store\'s -wal go with the previous file, never into the restored one', async () => {
    const { store, path, key, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'b.db');
    await store.backup(file);
    await store.put('late', 'only in the wal');
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0);
    const r = await restoreStore(path, file, rawKey(key)); // `store` stays open throughout
    const restored = await open(path, key);
    await expectCode(restored.get('late'), 'E_NOT_FOUND');
    expect((await restored.verify({ deep: true })).ok).toBe(true);
    const kept = await open(r.keptAs!, key);
    expect((await kept.get('late')).value.text()).toBe('only in the wal');
    // The handle opened before the restore still writes to the file it opened (now the kept one), not the restored store.
    await store.put('late', 'through the old handle');
    await store.close();
    await expectCode(restored.get('late'), 'E_NOT_FOUND');
    const again = await open(path, key);
    expect((await again.verify({ deep: true })).ok).toBe(true);
    await expectCode(again.get('late'), 'E_NOT_FOUND');
  });

  it('refuses a backup of another store (E_STORE_EXISTS), the store unchanged; --force replaces it', async () => {
    const a = await fresh();
    await fill(a.store);
    await a.store.close();
    const b = await fresh();
    await b.store.put('b/only', 'from b');
    const file = join(b.dir, 'b.db');
    await b.store.backup(file);
    const bytes = readFileSync(a.path);
    const e = await expectCode(restoreStore(a.path, file, rawKey(b.key)), 'E_STORE_EXISTS');
    expect(e.message).toMatch(/holds store [0-9a-f]{32}, but .* is a backup of store [0-9a-f]{32}/);
    expect(readFileSync(a.path).equals(bytes)).toBe(true);
    expect(readdirSync(a.dir).filter((f) => f.includes('pre-restore') || f.endsWith('.tmp'))).toEqual([]);
    const r = await restoreStore(a.path, file, rawKey(b.key), { force: true });
    expect(r).toMatchObject({ forced: true, storeId: (await b.store.status()).storeId, secrets: 1 });
    expect(r.replacedStoreId).toMatch(/^[0-9a-f]{32}$/);
    expect(r.replacedStoreId).not.toBe(r.storeId);
    expect((await (await open(a.path, b.key)).get('b/only')).value.text()).toBe('from b');
    expect((await (await open(r.keptAs!, a.key)).get('app/db')).value.text()).toBe('three');
  });

  it('refuses a tampered backup (E_TAMPERED), the store unchanged', async () => {
    const { store, path, key, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'b.db');
    await store.backup(file);
    await store.close();
    flipValue(file, 'app/db', 1);
    const bytes = readFileSync(path);
    const e = await expectCode(restoreStore(path, file, rawKey(key)), 'E_TAMPERED');
    expect((e as VerificationError).report.problems[0]!.message).toContain('app/db version 1');
    expect(e.message).toContain(file);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['b.db', 'store.db']);
  });

  it('the wrong master key: E_WRONG_MASTER_KEY, nothing changed', async () => {
    const { store, path, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'b.db');
    await store.backup(file);
    await store.close();
    const bytes = readFileSync(path);
    const e = await expectCode(restoreStore(path, file, rawKey(new Uint8Array(32).fill(9))), 'E_WRONG_MASTER_KEY');
    expect(e.message).not.toContain('.tmp');
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['b.db', 'store.db']);
  });

  it('no backup file: E_NO_STORE; a live store with a -wal as the backup: E_USAGE', async () => {
    const { store, path, key, dir } = await fresh();
    await expectCode(restoreStore(path, join(dir, 'missing.db'), rawKey(key)), 'E_NO_STORE');
    const other = await fresh();
    await other.store.put('x', 'y'); // open, with a -wal holding the write
    await expectCode(restoreStore(path, other.path, rawKey(other.key), { force: true }), 'E_USAGE');
    await expectCode(restoreStore(path, path, rawKey(key)), 'E_USAGE');
    expect(await store.list()).toEqual([]);
  });

  it('E_LOCKED while another exclusive operation holds the store', async () => {
    const { store, path, key, dir } = await fresh();
    const file = join(dir, 'b.db');
    await store.backup(file);
    await withExclusiveLock(path, async () => {
      await expectCode(restoreStore(path, file, rawKey(key)), 'E_LOCKED');
    });
  });

  it('a file at the path that is not a readable store needs force, and is kept', async () => {
    const { store, key, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'b.db');
    await store.backup(file);
    const target = join(tempDir(), 'store.db');
    writeFileSync(target, 'not a database at all, but maybe precious');
    await expectCode(restoreStore(target, file, rawKey(key)), 'E_NOT_A_STORE');
    const r = await restoreStore(target, file, rawKey(key), { force: true });
    expect(r).toMatchObject({ forced: true, replacedStoreId: null });
    expect(readFileSync(r.keptAs!, 'utf8')).toBe('not a database at all, but maybe precious');
    expect((await (await open(target, key)).verify({ deep: true })).ok).toBe(true);
  });

  it('a -wal left by a store that is gone is moved aside, not replayed into the restored file', async () => {
    const { store, key, dir } = await fresh();
    await fill(store);
    const file = join(dir, 'b.db');
    await store.backup(file);
    const target = join(tempDir(), 'store.db');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(`${target}-wal`, randomBytes(4096));
    const r = await restoreStore(target, file, rawKey(key));
    expect(r.keptAs).not.toBeNull();
    expect(existsSync(`${r.keptAs}-wal`)).toBe(true);
    expect(readdirSync(dirname(target)).filter((f) => f.startsWith(`${basename(target)}-`))).toEqual([]);
    expect((await (await open(target, key)).verify({ deep: true })).ok).toBe(true);
  });
});

describe('gravestCode', () => {
  it('structure over keys over values', () => {
    expect(gravestCode([{ code: 'E_TAMPERED', message: '' }, { code: 'E_NOT_A_STORE', message: '' }])).toBe('E_NOT_A_STORE');
    expect(gravestCode([{ code: 'E_TAMPERED', message: '' }])).toBe('E_TAMPERED');
  });
});

describe('onlineBackup (the copy step under writers)', () => {
  /** A WAL database of about 1,700 pages, and a second connection committing between every two backup steps. */
  function busySource() {
    const dir = tempDir();
    const path = join(dir, 'src.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 6000; i++) insert.run(randomBytes(1000));
    })();
    // Another connection: SQLite restarts a backup when anyone but the copying connection writes between steps.
    const other = new Database(path);
    const write = other.prepare('INSERT INTO t (v) VALUES (?)');
    let running = true;
    let writes = 0;
    // Backup steps run from setImmediate too, so the two alternate: a commit before every step.
    const tick = () => {
      if (!running) return;
      write.run(randomBytes(100));
      writes++;
      setImmediate(tick);
    };
    setImmediate(tick);
    const dest = join(dir, 'copy.db');
    writeFileSync(dest, ''); // an existing empty file, as backupStore makes
    onTestFinished(() => {
      running = false;
      other.close();
      db.close();
    });
    return { db, dest, writes: () => writes, stop: () => (running = false) };
  }

  it('(why) a fixed step of 1000 pages restarts at every step and never finishes', async () => {
    const { db, dest, stop } = busySource();
    let steps = 0;
    const outcome = await db.backup(dest, {
      progress: () => {
        if (++steps > 200) throw new Error('gave up');
        return 1000;
      },
    }).then(() => 'finished', (e: Error) => e.message);
    stop();
    expect(outcome).toBe('gave up'); // 200 steps for a copy that needs 2 when nobody writes
  });

  it('the backup API path notices the restart and copies the rest in one step: finishes, consistent', async () => {
    const { db, dest, writes, stop } = busySource();
    const seen: number[] = [];
    await onlineBackup(db, dest, (done) => seen.push(done), { heldCopyMaxBytes: 0 });
    stop();
    expect(writes()).toBeGreaterThan(1);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.length).toBeLessThan(10);
    expectSoundCopy(dest);
  });

  it('a small file is copied whole while writers are held off for the copy: consistent', async () => {
    const { db, dest, stop } = busySource();
    const seen: number[] = [];
    await onlineBackup(db, dest, (done) => seen.push(done));
    stop();
    expect(seen).toHaveLength(1); // one copy, no steps
    expectSoundCopy(dest);
  });

  it('a reader keeping the WAL from emptying sends it to the backup API, without disturbing the reader', async () => {
    const { db, dest, stop } = busySource();
    const reader = new Database(db.name);
    onTestFinished(() => {
      reader.close();
    });
    reader.exec('BEGIN');
    const before = reader.prepare('SELECT count(*) FROM t').pluck().get();
    await new Promise((r) => setTimeout(r, 20)); // commits after the reader's snapshot: they cannot be folded into the file
    const seen: number[] = [];
    await onlineBackup(db, dest, (done) => seen.push(done));
    stop();
    expect(seen.length).toBeGreaterThan(1); // stepped
    expect(reader.prepare('SELECT count(*) FROM t').pluck().get()).toBe(before);
    reader.exec('COMMIT');
    expectSoundCopy(dest);
  });
});

function expectSoundCopy(dest: string): void {
  const copy = new Database(dest, { readonly: true });
  try {
    expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(copy.prepare('SELECT count(*) FROM t').pluck().get()).toBeGreaterThanOrEqual(6000);
  } finally {
    copy.close();
  }
}
