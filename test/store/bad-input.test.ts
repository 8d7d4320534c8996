/**
 * Bad input: each refused with its code, and the store unchanged afterwards
 * (a logical snapshot: list + metadata + history + every value, and where
 * nothing should write, the footprint: the file's bytes, or every row and its
 * row version in PostgreSQL). On each driver (test/helpers/drivers.ts); what
 * is about files that are not stores, and paths, runs on SQLite files only.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { initStore, openStore, rawKey, StoreError, type InitOptions, type Store } from '../../src/index.js';
import * as sb from '../../src/index.js';
import { SCHEMA_VERSION } from '../../src/storage/sqlite/schema.js';
import { tempDir } from '../helpers/tmp.js';
import { errorOf as errorOfSync, rejectionCode as code, rejectionError as errorOf } from '../helpers/errors.js';
import { DRIVERS, freshStoreOn, withRaw, type StoreDriver } from '../helpers/drivers.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Everything a reader can see: list, metadata, history and every version's value or state. */
async function snapshot(store: Store): Promise<unknown> {
  const secrets = [];
  for (const s of await store.list()) {
    const history = await store.history(s.name);
    const values: [number, string][] = [];
    for (const h of history) {
      try {
        values.push([h.version, hex((await store.get(s.name, { version: h.version })).value.expose())]);
      } catch (e) {
        values.push([h.version, (e as StoreError).code]);
      }
    }
    secrets.push({ summary: s, meta: await store.getMetadata(s.name), history, values });
  }
  const st = await store.status();
  return { secrets, counts: [st.secrets, st.versions, st.liveVersions], keys: st.keys };
}

/** A new store on `driver`; `path` is its path or URL. */
async function fresh(driver: StoreDriver, options: InitOptions = {}) {
  const f = await freshStoreOn(driver, options);
  return { ...f, path: f.locator };
}

/** A store with some history: live, deleted and destroyed versions, metadata. */
async function seeded(driver: StoreDriver, options: InitOptions = {}) {
  const f = await fresh(driver, options);
  const { store } = f;
  await store.put('app/db', 'one');
  await store.put('app/db', 'two');
  await store.put('app/api', new Uint8Array([0, 1, 2, 255]));
  await store.put('gone', 'x');
  await store.put('gone', 'y');
  await store.delete('gone', { versions: [1] });
  await store.destroy('gone', [2]);
  await store.setMetadata('app/db', { custom: { owner: 'ops' } });
  return f;
}

const BAD_NAMES: [string, unknown][] = [
  ['empty', ''],
  ['leading slash', '/a'],
  ['trailing slash', 'a/'],
  ['empty segment', 'a//b'],
  ['dot-dot segment', 'a/../b'],
  ['dot segment', 'a/./b'],
  ['only dot', '.'],
  ['only dot-dot', '..'],
  ['space', 'a b'],
  ['257 chars', 'a'.repeat(257)],
  ['non-ASCII', 'café'],
  ['backslash', 'a\\b'],
  ['colon', 'a:b'],
  ['star', 'a*'],
  ['newline', 'a\nb'],
  ['NUL', 'a\0b'],
  ['number', 42],
  ['undefined', undefined],
  ['null', null],
  ['object', { name: 'a' }],
];

describe.each(DRIVERS)('bad input on $name', (driver) => {
  describe('invalid names → E_INVALID_NAME, store unchanged', () => {
    for (const [what, name] of BAD_NAMES) {
      it(`refuses a name that is ${what} in every operation`, async () => {
        const { store, path } = await seeded(driver);
        const before = await snapshot(store);
        const bytes = await driver.footprint(path);
        const n = name as string;
        const calls: [string, () => Promise<unknown>][] = [
          ['put', () => store.put(n, 'value')],
          ['put cas 0', () => store.put(n, 'value', { cas: 0 })],
          ['get', () => store.get(n)],
          ['get version', () => store.get(n, { version: 1 })],
          ['history', () => store.history(n)],
          ['delete', () => store.delete(n)],
          ['undelete', () => store.undelete(n)],
          ['destroy', () => store.destroy(n, [1])],
          ['purge', () => store.purge(n)],
          ['rollback', () => store.rollback(n, 1)],
          ['getMetadata', () => store.getMetadata(n)],
          ['setMetadata', () => store.setMetadata(n, { maxVersions: 1 })],
        ];
        for (const [op, call] of calls) expect(await code(call()), op).toBe('E_INVALID_NAME');
        expect(await driver.footprint(path)).toBe(bytes);
        expect(await snapshot(store)).toEqual(before);
      });
    }

    it('accepts names at the edges of the rules', async () => {
      const { store } = await fresh(driver);
      const ok = ['a', 'A-Z_0.9', 'a'.repeat(256), 'a/b/c', '.hidden', 'a/.b', 'a..b', '...', 'x/..y', '-', '_/_'];
      for (const n of ok) {
        await store.put(n, 'v');
        expect((await store.get(n)).value.text()).toBe('v');
      }
      expect((await store.list()).length).toBe(ok.length);
    });

    it('the error quotes a short printable name but never a long or unprintable one', async () => {
      const { store } = await fresh(driver);
      expect((await errorOf(store.put('a b', 'v'))).message).not.toContain('a b'); // not printable ASCII (space)
      expect((await errorOf(store.put('a//b', 'v'))).message).toContain('"a//b"');
      const long = `CANARY${'x'.repeat(300)}`;
      expect((await errorOf(store.put(long, 'v'))).message).not.toContain('CANARY');
    });
  });

  describe('bad values', () => {
    it('a value over maxValueBytes is E_VALUE_TOO_LARGE and writes nothing', async () => {
      const { store, path } = await seeded(driver, { maxValueBytes: 1024 });
      const before = await snapshot(store);
      const bytes = await driver.footprint(path);
      expect(await code(store.put('app/db', new Uint8Array(1025)))).toBe('E_VALUE_TOO_LARGE');
      expect(await code(store.put('new', new Uint8Array(1025)))).toBe('E_VALUE_TOO_LARGE');
      expect(await code(store.put('new', 'x'.repeat(1025)))).toBe('E_VALUE_TOO_LARGE');
      // 400 three-byte characters: 400 chars but 1,200 bytes.
      expect(await code(store.put('new', '€'.repeat(400)))).toBe('E_VALUE_TOO_LARGE');
      expect(await code(store.put('new', new Uint8Array(1025), { cas: 0, allowEmpty: true }))).toBe('E_VALUE_TOO_LARGE');
      expect(await driver.footprint(path)).toBe(bytes);
      expect(await snapshot(store)).toEqual(before);
      await store.put('new', new Uint8Array(1024));
    });

    it('the default limit is 1 MiB: 1 MiB + 1 is E_VALUE_TOO_LARGE, 1 MiB is accepted', async () => {
      const { store, path } = await seeded(driver);
      expect((await store.status()).maxValueBytes).toBe(1024 * 1024);
      const before = await snapshot(store);
      const bytes = await driver.footprint(path);
      expect(await code(store.put('big', new Uint8Array(1024 * 1024 + 1)))).toBe('E_VALUE_TOO_LARGE');
      expect(await driver.footprint(path)).toBe(bytes);
      expect(await snapshot(store)).toEqual(before);
      const full = new Uint8Array(randomBytes(1024 * 1024));
      await store.put('big', full);
      expect(Buffer.from((await store.get('big')).value.expose()).equals(full)).toBe(true);
    });

    it('the error says the size, never the value', async () => {
      const { store } = await fresh(driver, { maxValueBytes: 16 });
      const e = await errorOf(store.put('a', 'CANARY-too-large-value'));
      expect(e.code).toBe('E_VALUE_TOO_LARGE');
      expect(e.message).toContain('22');
      expect(e.message).not.toContain('CANARY');
    });

    it('an empty value is E_INVALID_VALUE and writes nothing; allowEmpty: true stores it', async () => {
      const { store, path } = await seeded(driver);
      const before = await snapshot(store);
      const bytes = await driver.footprint(path);
      expect(await code(store.put('empty', ''))).toBe('E_INVALID_VALUE');
      expect(await code(store.put('empty', new Uint8Array(0)))).toBe('E_INVALID_VALUE');
      expect(await code(store.put('app/db', '', { allowEmpty: false }))).toBe('E_INVALID_VALUE');
      expect(await driver.footprint(path)).toBe(bytes);
      expect(await snapshot(store)).toEqual(before);
      const w = await store.put('empty', '', { allowEmpty: true });
      expect(w.version).toBe(1);
      const got = await store.get('empty');
      expect(got.value.length).toBe(0);
      expect(got.value.text()).toBe('');
      expect((await store.put('app/db', new Uint8Array(0), { allowEmpty: true })).version).toBe(3);
    });

    it('a value that is neither bytes nor a string is E_INVALID_VALUE (a StoreError) and writes nothing', async () => {
      const { store, path } = await seeded(driver);
      const before = await snapshot(store);
      const bytes = await driver.footprint(path);
      for (const value of [42, null, undefined, [1, 2, 3], { a: 1 }]) {
        expect(await code(store.put('odd', value as unknown as string)), JSON.stringify(value)).toBe('E_INVALID_VALUE');
      }
      expect(await driver.footprint(path)).toBe(bytes);
      expect(await snapshot(store)).toEqual(before);
    });

    it('a CAS mismatch writes nothing', async () => {
      const { store } = await seeded(driver);
      const before = await snapshot(store);
      expect(await code(store.put('app/db', 'x', { cas: 1 }))).toBe('E_CAS_MISMATCH');
      expect(await code(store.put('brand-new', 'x', { cas: 3 }))).toBe('E_CAS_MISMATCH');
      expect(await code(store.rollback('app/db', 1, { cas: 7 }))).toBe('E_CAS_MISMATCH');
      expect(await snapshot(store)).toEqual(before);
    });

    it('bad versions, times and metadata are E_USAGE and change nothing', async () => {
      const { store, path } = await seeded(driver);
      const before = await snapshot(store);
      const bytes = await driver.footprint(path);
      expect(await code(store.get('app/db', { version: 0 }))).toBe('E_USAGE');
      expect(await code(store.get('app/db', { version: '1' as unknown as number }))).toBe('E_USAGE');
      expect(await code(store.get('app/db', { at: 'yesterday-ish' }))).toBe('E_USAGE');
      expect(await code(store.delete('app/db', { versions: [0] }))).toBe('E_USAGE');
      expect(await code(store.delete('app/db', { versions: 1 as unknown as number[] }))).toBe('E_USAGE');
      expect(await code(store.destroy('app/db', []))).toBe('E_USAGE');
      expect(await code(store.rollback('app/db', -1))).toBe('E_USAGE');
      expect(await code(store.setMetadata('app/db', { maxVersions: -2 }))).toBe('E_USAGE');
      expect(await code(store.setMetadata('app/db', { custom: { k: 1 as unknown as string } }))).toBe('E_USAGE');
      expect(await code(store.put('app/db', 'v', { cas: -1 }))).toBe('E_USAGE');
      expect(await driver.footprint(path)).toBe(bytes);
      expect(await snapshot(store)).toEqual(before);
    });

    it('operations on missing versions are E_NOT_FOUND and change nothing (all or nothing)', async () => {
      const { store } = await seeded(driver);
      const before = await snapshot(store);
      expect(await code(store.delete('app/db', { versions: [1, 2, 3] }))).toBe('E_NOT_FOUND');
      expect(await code(store.undelete('gone', { versions: [1, 5] }))).toBe('E_NOT_FOUND');
      expect(await code(store.destroy('app/db', [2, 3]))).toBe('E_NOT_FOUND');
      expect(await code(store.rollback('app/db', 3))).toBe('E_NOT_FOUND');
      expect(await snapshot(store)).toEqual(before);
    });
  });

  describe('a store from a newer program → E_SCHEMA_TOO_NEW, nothing written', () => {
    for (const raise of [1, 100]) {
      it(`schema version raised to SCHEMA_VERSION + ${raise}`, async () => {
        const { store, path, key } = await seeded(driver);
        await store.close();
        await withRaw(driver, path, (db) => db.dialect === 'sqlite'
          ? db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + raise}`)
          : db.exec(`UPDATE schema_version SET version = ${SCHEMA_VERSION + raise}`));
        const bytes = await driver.footprint(path);
        const e = await errorOf(openStore(path, rawKey(key)));
        expect(e.code).toBe('E_SCHEMA_TOO_NEW');
        expect(e.message).toContain(String(SCHEMA_VERSION + raise));
        expect(await driver.footprint(path)).toBe(bytes);
        // Even a wrong key gets the schema error first: nothing about keys is read.
        expect(await code(openStore(path, rawKey(new Uint8Array(32))))).toBe('E_SCHEMA_TOO_NEW');
        expect(await driver.footprint(path)).toBe(bytes);
      });
    }
  });

  describe('init where a store is, open where none is', () => {
    it('init on an existing store is E_STORE_EXISTS and leaves it as it was', async () => {
      const { store, path, key } = await seeded(driver);
      const before = await snapshot(store);
      await store.close();
      const bytes = await driver.footprint(path);
      expect(await code(initStore(path, rawKey(new Uint8Array(randomBytes(32)))))).toBe('E_STORE_EXISTS');
      expect(await driver.footprint(path)).toBe(bytes);
      const again = await openStore(path, rawKey(key));
      onTestFinished(() => again.close());
      expect(await snapshot(again)).toEqual(before);
    });

    it('open where no store is, is E_NO_STORE and makes nothing: a store can still be made there', async () => {
      const { locator } = await driver.place();
      expect(await code(openStore(locator, rawKey(new Uint8Array(32))))).toBe('E_NO_STORE');
      const store = await initStore(locator, rawKey(new Uint8Array(32)));
      onTestFinished(() => store.close());
      expect(await store.list()).toEqual([]);
    });
  });
});

describe('files that are not stores (SQLite) → E_NOT_A_STORE, file bytes unchanged', () => {
  async function expectRefused(path: string, want = 'E_NOT_A_STORE') {
    const dir = readdirSync(join(path, '..')).sort();
    const bytes = readFileSync(path);
    expect(await code(openStore(path, rawKey(new Uint8Array(32))))).toBe(want);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    return dir;
  }

  it('random bytes', async () => {
    const path = join(tempDir(), 'random.db');
    writeFileSync(path, randomBytes(8192));
    const dir = await expectRefused(path);
    expect(readdirSync(join(path, '..')).sort()).toEqual(dir);
  });

  it('an empty file', async () => {
    const path = join(tempDir(), 'empty.db');
    writeFileSync(path, '');
    const dir = await expectRefused(path);
    expect(readdirSync(join(path, '..')).sort()).toEqual(dir);
    expect(readFileSync(path).length).toBe(0);
  });

  it('a short text file', async () => {
    const path = join(tempDir(), 'text.db');
    writeFileSync(path, 'hello\n');
    await expectRefused(path);
  });

  it('the SQLite magic followed by garbage', async () => {
    const path = join(tempDir(), 'garbage.db');
    writeFileSync(path, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), randomBytes(4096)]));
    await expectRefused(path);
  });

  it('a foreign SQLite database (and one using user_version itself)', async () => {
    for (const userVersion of [0, 7, 1000]) {
      const path = join(tempDir(), `foreign-${userVersion}.db`);
      const db = new Database(path);
      db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('format', 'strongbox/v1');");
      db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)');
      db.pragma(`user_version = ${userVersion}`);
      db.close();
      const dir = await expectRefused(path);
      expect(readdirSync(join(path, '..')).sort()).toEqual(dir);
      const check = new Database(path, { readonly: true });
      expect(check.pragma('user_version', { simple: true })).toBe(userVersion);
      check.close();
    }
  });

  it('a foreign SQLite database in WAL mode', async () => {
    const path = join(tempDir(), 'foreign-wal.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    db.close();
    await expectRefused(path);
  });

  it('a directory is refused with a StoreError (E_NOT_A_STORE or E_IO), not a raw fs error', async () => {
    const dir = join(tempDir(), 'a-dir.db');
    mkdirSync(dir);
    let err: unknown;
    try {
      await openStore(dir, rawKey(new Uint8Array(32)));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect(['E_NOT_A_STORE', 'E_IO']).toContain((err as StoreError).code);
  });
});

describe('paths (SQLite files)', () => {
  it('init on any existing file (even empty) or directory is E_STORE_EXISTS, bytes unchanged', async () => {
    const dir = tempDir();
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'precious');
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    expect(await code(initStore(file, rawKey(new Uint8Array(32))))).toBe('E_STORE_EXISTS');
    expect(await code(initStore(empty, rawKey(new Uint8Array(32))))).toBe('E_STORE_EXISTS');
    expect(await code(initStore(sub, rawKey(new Uint8Array(32))))).toBe('E_STORE_EXISTS');
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect(readFileSync(empty).length).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['empty', 'notes.txt', 'sub']);
  });

  it('open of a missing path is E_NO_STORE and creates nothing', async () => {
    const dir = tempDir();
    expect(await code(openStore(join(dir, 'missing.db'), rawKey(new Uint8Array(32))))).toBe('E_NO_STORE');
    expect(await code(openStore(join(dir, 'no', 'such', 'dir.db'), rawKey(new Uint8Array(32))))).toBe('E_NO_STORE');
    expect(readdirSync(dir)).toEqual([]);
  });
});

/** What a call ends with: 'OK', the StoreError's code, or what else it threw (a sync throw, a rejection, or a failing async iteration). */
async function outcomeOf(call: () => unknown): Promise<string> {
  try {
    let r = call();
    if (r instanceof Promise) r = await r;
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') for await (const _ of r as AsyncIterable<unknown>) void _;
    return 'OK';
  } catch (e) {
    return e instanceof StoreError ? e.code : `not a StoreError: ${(e as Error)?.constructor?.name} ${String((e as Error)?.message ?? e)}`;
  }
}

describe('bad arguments to the public API → StoreError, never TypeError/RangeError (SQLite)', () => {
  const sqlite = DRIVERS.find((d) => d.name === 'sqlite')!;
  const u = undefined as never;
  const n = null as never;
  /** `x` as any type: the calls below give what the types forbid, as a JavaScript caller can. */
  const as = (x: unknown) => x as never;

  it('a number as a passphrase is refused (never that many zero bytes); strings and bytes still work', async () => {
    for (const bad of [1234, 1.5, -1, Infinity, NaN, 1n, Symbol('s'), null, undefined, {}, [1, 2], new ArrayBuffer(8), () => 'pw']) {
      expect(await outcomeOf(() => sb.passphrase(as(bad))), String(typeof bad)).toBe('E_MASTER_KEY');
    }
    expect(await outcomeOf(() => sb.passphrase('pw', n))).toBe('E_MASTER_KEY');
    const dir = tempDir();
    const fast = { scrypt: { logN: 15 } };
    const s = await initStore(join(dir, 'a.db'), sb.passphrase('correct horse', fast));
    await s.close();
    // A store made with a passphrase opens with its bytes (a Buffer is a Uint8Array), and not with zero bytes.
    await (await openStore(join(dir, 'a.db'), sb.passphrase(Buffer.from('correct horse')))).close();
    expect(await code(openStore(join(dir, 'a.db'), sb.passphrase(new Uint8Array(13))))).toBe('E_WRONG_MASTER_KEY');
  });

  it('pkcs11() checks the type of every option before any PKCS#11 call (a numeric PIN never reaches C_Login)', async () => {
    const module = '/nonexistent/libpkcs11.so'; // never loaded: each of these is refused at the call
    const cases: [string, unknown][] = [
      ['pin number', { module, pin: 1234 }],
      ['pin 1.5', { module, pin: 1.5 }],
      ['pin object', { module, pin: {} }],
      ['pin missing', { module }],
      ['module number', { module: 123, pin: '1234' }],
      ['module missing', { pin: '1234' }],
      ['tokenLabel number', { module, pin: '1234', tokenLabel: 5 }],
      ['keyLabel object', { module, pin: '1234', keyLabel: {} }],
      ['create string', { module, pin: '1234', create: 'yes' }],
      ['null', null],
      ['undefined', undefined],
      ['a string', 'x'],
    ];
    for (const [what, options] of cases) expect(await outcomeOf(() => sb.pkcs11(as(options))), what).toBe('E_MASTER_KEY');
    expect(errorOfSync(() => sb.pkcs11(as({ module, pin: '1234', tokenLabel: 5 }))).message).toMatch(/token label must be a string/);
    expect(errorOfSync(() => sb.pkcs11(as({ module, pin: 1234 }))).message).toMatch(/PIN must be a string or a Uint8Array/);
    // Well-typed options make a source (the module is only loaded at create or unlock).
    expect(sb.pkcs11({ module, pin: '1234' }).kind).toBe('pkcs11');
    expect(sb.pkcs11({ module, pin: new Uint8Array([49, 50]), tokenLabel: 't', keyLabel: 'k', create: true }).kind).toBe('pkcs11');
  });

  it('every public method and function refuses malformed arguments with E_USAGE (E_MASTER_KEY for a key source)', async () => {
    const f = await freshStoreOn(sqlite);
    const { store, locator: p } = f;
    await store.put('a', 'v1');
    const key = rawKey(f.key);
    const dir = tempDir();
    const file = (stem: string) => join(dir, `${stem}-${Math.random().toString(36).slice(2)}`);
    const before = await snapshot(store);
    const cases: [string, () => unknown, string][] = [
      // null (or another non-object) as the options object
      ['get(a, null)', () => store.get('a', n), 'E_USAGE'],
      ['get(a, 5)', () => store.get('a', as(5)), 'E_USAGE'],
      ['put(a, x, null)', () => store.put('a', 'x', n), 'E_USAGE'],
      ['getEntry(a, null)', () => store.getEntry('a', n), 'E_USAGE'],
      ['delete(a, null)', () => store.delete('a', n), 'E_USAGE'],
      ['undelete(a, null)', () => store.undelete('a', n), 'E_USAGE'],
      ['destroy(a, [1], null)', () => store.destroy('a', [1], n), 'E_USAGE'],
      ['list(null)', () => store.list(n), 'E_USAGE'],
      ['entries(null)', () => store.entries(n), 'E_USAGE'],
      ['verify(null)', () => store.verify(n), 'E_USAGE'],
      ['stats(null)', () => store.stats(n), 'E_USAGE'],
      ['rotateKeys(null)', () => store.rotateKeys(n), 'E_USAGE'],
      ['rotateMaster(k, null)', () => store.rotateMaster(rawKey(new Uint8Array(32).fill(9)), n), 'E_USAGE'],
      ['destroyKey(1, null)', () => store.destroyKey(1, n), 'E_USAGE'],
      ['rollback(a, 1, null)', () => store.rollback('a', 1, n), 'E_USAGE'],
      ['auditEntries(null)', () => store.auditEntries(n), 'E_USAGE'],
      ['auditSummary(null)', () => store.auditSummary(n), 'E_USAGE'],
      ['changeCounter(null)', () => store.changeCounter(n), 'E_USAGE'],
      ['backup(f, null)', () => store.backup(file('bk'), n), 'E_USAGE'],
      ['importPlain(f, null)', () => store.importPlain(file('imp'), n), 'E_USAGE'],
      ['openStore(p, k, null)', () => openStore(p, key, n), 'E_USAGE'],
      ['initStore(p, k, null)', () => initStore(file('init'), key, n), 'E_USAGE'],
      ['checkHealth(p, k, null)', () => sb.checkHealth(p, key, n), 'E_USAGE'],
      // required arguments left out
      ['setMetadata(a)', () => store.setMetadata('a', u), 'E_USAGE'],
      ['setMetadata(a, null)', () => store.setMetadata('a', n), 'E_USAGE'],
      ['pruneAudit()', () => store.pruneAudit(u), 'E_USAGE'],
      ['exportBundle(f)', () => store.exportBundle(file('eb'), u), 'E_USAGE'],
      ['exportPlain(f)', () => store.exportPlain(file('ep'), u), 'E_USAGE'],
      ['importBundle(f)', () => store.importBundle(file('ib'), u), 'E_USAGE'],
      ['backup(Symbol)', () => store.backup(as(Symbol('s'))), 'E_USAGE'],
      ['importPlain({toString})', () => store.importPlain(as({ toString() { throw new Error('boom'); } })), 'E_USAGE'],
      // option values of the wrong type
      ['list({pattern: 123})', () => store.list(as({ pattern: 123 })), 'E_USAGE'],
      ['entries({pattern: 123})', () => store.entries(as({ pattern: 123 })), 'E_USAGE'],
      ['auditEntries({name: {}})', () => store.auditEntries(as({ name: {} })), 'E_USAGE'],
      ['auditEntries({action: []})', () => store.auditEntries(as({ action: [] })), 'E_USAGE'],
      ['auditEntries({since: Symbol})', () => store.auditEntries(as({ since: Symbol('s') })), 'E_USAGE'],
      ['get(a, {at: 1e300})', () => store.get('a', { at: 1e300 }), 'E_USAGE'],
      ['get(a, {at: 2**53+2})', () => store.get('a', { at: 2 ** 53 + 2 }), 'E_USAGE'],
      ['get(a, {at: Symbol})', () => store.get('a', as({ at: Symbol('s') })), 'E_USAGE'],
      ['pruneAudit({before: 1e300})', () => store.pruneAudit({ before: 1e300 }), 'E_USAGE'],
      ['pruneAudit({before: () => 1})', () => store.pruneAudit(as({ before: () => 1 })), 'E_USAGE'],
      ['pruneAudit({before: 1n})', () => store.pruneAudit(as({ before: 1n })), 'E_USAGE'],
      ['rollback(a, 1, {cas: Symbol})', () => store.rollback('a', 1, as({ cas: Symbol('s') })), 'E_USAGE'],
      ['rotateKeys({ifOlderThanMs: "1"})', () => store.rotateKeys(as({ ifOlderThanMs: '1' })), 'E_USAGE'],
      ['getConfig(Symbol)', () => store.getConfig(as(Symbol('s'))), 'E_USAGE'],
      ['setConfig(audit.reads, Symbol)', () => store.setConfig('audit.reads', as(Symbol('s'))), 'E_USAGE'],
      ['policyStatus(a, "str")', () => store.policyStatus('a', as('str')), 'E_USAGE'],
      ['policyStatus(a, null)', () => store.policyStatus('a', n), 'E_USAGE'],
      ['policyStatus(a, invalid Date)', () => store.policyStatus('a', new Date(NaN)), 'E_USAGE'],
      ['dueSecrets("str")', () => store.dueSecrets(as('str')), 'E_USAGE'],
      ['dueAmong(undefined)', () => store.dueAmong(u), 'E_USAGE'],
      ['dueAmong("str")', () => store.dueAmong(as('str')), 'E_USAGE'],
      ['dueAmong(5)', () => store.dueAmong(as(5)), 'E_USAGE'],
      ['expiryOf({})', () => store.expiryOf(as({})), 'E_INVALID_NAME'],
      // master-key sources
      ['openStore(p, undefined)', () => openStore(p, u), 'E_MASTER_KEY'],
      ['openStore(p, "str")', () => openStore(p, as('str')), 'E_MASTER_KEY'],
      ['openStore(p, {})', () => openStore(p, as({})), 'E_MASTER_KEY'],
      ['initStore(f, null)', () => initStore(file('init'), n), 'E_MASTER_KEY'],
      ['rotateMaster(undefined)', () => store.rotateMaster(u), 'E_MASTER_KEY'],
      ['rotateMaster("x")', () => store.rotateMaster(as('x')), 'E_MASTER_KEY'],
      ['keyFile(undefined)', () => sb.keyFile(u), 'E_MASTER_KEY'],
      ['keyFile(123)', () => sb.keyFile(as(123)), 'E_MASTER_KEY'],
      ['keyFile(f, null)', () => sb.keyFile(file('k'), n), 'E_MASTER_KEY'],
      ['rawKey(undefined)', () => rawKey(u), 'E_MASTER_KEY'],
      ['rawKey(32)', () => rawKey(as(32)), 'E_MASTER_KEY'],
      ['agent(null)', () => sb.agent(n), 'E_MASTER_KEY'],
      ['checkHealth(p, "x")', () => sb.checkHealth(p, as('x')), 'E_MASTER_KEY'],
      ['openStore(p, () => 5)', () => openStore(p, as(() => 5)), 'E_MASTER_KEY'],
      ['createKeyFile(Symbol)', () => sb.createKeyFile(as(Symbol('s'))), 'E_MASTER_KEY'],
      ['exportPlain(f, {format: {toString}})', () => store.exportPlain(file('ep'), as({ format: { toString() { throw new Error('boom'); } } })), 'E_USAGE'],
      ['migrateStore(p, f, 5)', () => sb.migrateStore(p, file('m'), as(5)), 'E_MASTER_KEY'],
      ['restoreStore(f, f, null)', () => sb.restoreStore(file('r'), file('b'), n), 'E_MASTER_KEY'],
      // paths and stores
      ['openStore(undefined, k)', () => openStore(u, key), 'E_USAGE'],
      ['openStore(123, k)', () => openStore(as(123), key), 'E_USAGE'],
      ['openStore("a\\0b", k)', () => openStore('a\0b', key), 'E_USAGE'],
      ['initStore(undefined, k)', () => initStore(u, key), 'E_USAGE'],
      ['checkHealth(Symbol)', () => sb.checkHealth(as(Symbol('s')), key), 'E_USAGE'],
      ['migrateStore(undefined, f, k)', () => sb.migrateStore(u, file('m'), key), 'E_USAGE'],
      ['backupStore(undefined)', () => sb.backupStore(u, file('bs')), 'E_USAGE'],
      ['verifyStore(undefined)', () => sb.verifyStore(u), 'E_USAGE'],
      ['collectStats(undefined)', () => sb.collectStats(u), 'E_USAGE'],
      ['policyStatus(store, a, "str")', () => sb.policyStatus(store, 'a', as('str')), 'E_USAGE'],
      ['dueSecrets(store, "str")', () => sb.dueSecrets(store, as('str')), 'E_USAGE'],
      ['dueAmong(store, undefined)', () => sb.dueAmong(store, u), 'E_USAGE'],
      ['dueAmong(store, "str")', () => sb.dueAmong(store, as('str')), 'E_USAGE'],
      ['dueSecrets({})', () => sb.dueSecrets(as({})), 'E_USAGE'],
      ['exportPlain(null, f, opts)', () => sb.exportPlain(n, file('x'), { format: 'json' }), 'E_USAGE'],
      ['parseRequirement(undefined)', () => sb.parseRequirement(u), 'E_USAGE'],
      ['parseRequirement(5)', () => sb.parseRequirement(as(5)), 'E_USAGE'],
      ['parseRule(undefined)', () => sb.parseRule(u), 'E_USAGE'],
      ['parseRule(["pem"])', () => sb.parseRule(as(['pem'])), 'E_USAGE'],
      ['checkSecrets(store, undefined)', () => sb.checkSecrets(store, u), 'E_USAGE'],
      ['checkSecrets(store, [undefined])', () => sb.checkSecrets(store, [u]), 'E_USAGE'],
      ['checkSecrets(undefined, [])', () => sb.checkSecrets(u, []), 'E_USAGE'],
      // age files
      ['createAgeIdentityFile(undefined)', () => sb.createAgeIdentityFile(u), 'E_USAGE'],
      ['createAgeIdentityFile(5)', () => sb.createAgeIdentityFile(as(5)), 'E_USAGE'],
      ['createAgeIdentityFile(f, "today")', () => sb.createAgeIdentityFile(file('age-id'), as('today')), 'E_USAGE'],
      ['createAgeIdentityFile(f, invalid Date)', () => sb.createAgeIdentityFile(file('age-id2'), new Date(NaN)), 'E_USAGE'],
      ['readAgeRecipientsFile(undefined)', () => sb.readAgeRecipientsFile(u), 'E_USAGE'],
      ['readAgeRecipientsFile(5)', () => sb.readAgeRecipientsFile(as(5)), 'E_USAGE'],
      ['ageRecipientsOfFile(null)', () => sb.ageRecipientsOfFile(n), 'E_USAGE'],
    ];
    const got = [];
    for (const [what, call, want] of cases) got.push([what, await outcomeOf(call), want]);
    expect(got.filter(([, outcome, want]) => outcome !== want)).toEqual([]);
    expect(await snapshot(store)).toEqual(before);
  });

  it('expiryOf checks the name as policyStatus does: E_INVALID_NAME, E_NOT_FOUND; undefined only for a secret without an expiry', async () => {
    const { store } = await freshStoreOn(sqlite);
    await store.put('a', 'v');
    for (const bad of [123, null, undefined, 'BAD NAME', '', {}]) {
      expect(await outcomeOf(() => store.expiryOf(as(bad))), String(bad)).toBe('E_INVALID_NAME');
      expect(await outcomeOf(() => sb.expiryOf(store, as(bad))), String(bad)).toBe('E_INVALID_NAME');
    }
    expect(await outcomeOf(() => store.expiryOf('nope'))).toBe('E_NOT_FOUND');
    expect(await outcomeOf(() => store.policyStatus('nope'))).toBe('E_NOT_FOUND');
    expect(await store.expiryOf('a')).toBeUndefined();
    await store.setPolicy('a', { rotateEveryMs: 60_000, expiresAfterMs: 120_000 });
    expect(await store.expiryOf('a')).toBeInstanceOf(Date);
  });

  it('times at the edges of a Date are accepted, beyond them refused', async () => {
    const { store } = await freshStoreOn(sqlite);
    await store.put('a', 'v');
    expect(await code(store.get('a', { at: 8.64e15 + 1 }))).toBe('E_USAGE');
    expect((await store.get('a', { at: 8.64e15 })).version).toBe(1);
    expect(await code(store.get('a', { at: -8.64e15 }))).toBe('E_NOT_FOUND'); // before the secret existed
    expect((await store.pruneAudit({ before: -8.64e15 })).removed).toBe(0);
  });
});
