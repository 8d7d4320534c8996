/** initStore / openStore: files, options, master keys, header checks. */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  envKey, initStore, keyFile, openStore, passphrase, rawKey, StoreError, type MasterParams, type Store,
} from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { rejectionCode as code } from '../helpers/errors.js';

const FAST = { scrypt: { logN: 15 } };
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const newKey = () => new Uint8Array(randomBytes(32));

function track(store: Store): Store {
  onTestFinished(() => store.close());
  return store;
}

async function withKey(): Promise<{ path: string; key: Uint8Array; dir: string }> {
  const dir = tempDir();
  const path = join(dir, 'store.db');
  const key = newKey();
  const store = await initStore(path, rawKey(key));
  await store.put('probe', 'value');
  await store.close();
  return { path, key, dir };
}

describe('initStore', () => {
  it('creates the file with mode 0600, and missing directories with 0700', async () => {
    const dir = tempDir();
    const path = join(dir, 'a', 'b', 'store.db');
    const store = track(await initStore(path, rawKey(newKey())));
    await store.put('x', 'y');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(join(dir, 'a', 'b'))) {
      expect(statSync(join(dir, 'a', 'b', f)).mode & 0o077, f).toBe(0);
    }
    expect(store.path).toBe(path);
  });

  it('refuses bad options with E_USAGE and creates no file', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const bad = [
      { maxValueBytes: 0 }, { maxValueBytes: -1 }, { maxValueBytes: 1.5 }, { maxValueBytes: 64 * 1024 * 1024 + 1 },
      { maxValueBytes: Number.NaN }, { maxVersions: -1 }, { maxVersions: 2.5 }, { maxVersions: Number.POSITIVE_INFINITY },
    ];
    for (const options of bad) {
      expect(await code(initStore(path, rawKey(newKey()), options)), JSON.stringify(options)).toBe('E_USAGE');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('accepts the option limits: maxValueBytes 1 and 64 MiB', async () => {
    const dir = tempDir();
    const small = track(await initStore(join(dir, 's.db'), rawKey(newKey()), { maxValueBytes: 1 }));
    await small.put('a', 'x');
    expect(await code(small.put('a', 'xy'))).toBe('E_VALUE_TOO_LARGE');
    const big = track(await initStore(join(dir, 'b.db'), rawKey(newKey()), { maxValueBytes: 64 * 1024 * 1024 }));
    expect((await big.status()).maxValueBytes).toBe(64 * 1024 * 1024);
  });

  it('a master key failure at init leaves no file behind', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const insecure = join(dir, 'insecure.key');
    writeFileSync(insecure, `${b64(newKey())}\n`);
    chmodSync(insecure, 0o644);
    expect(await code(initStore(path, keyFile(join(dir, 'missing.key'))))).toBe('E_MASTER_KEY');
    expect(await code(initStore(path, keyFile(insecure)))).toBe('E_INSECURE_KEYFILE');
    expect(await code(initStore(path, envKey('STRONGBOX_TEST_UNSET', {})))).toBe('E_MASTER_KEY');
    expect(await code(initStore(path, passphrase('pw', { scrypt: { logN: 14 } })))).toBe('E_UNSUPPORTED_FORMAT');
    expect(readdirSync(dir).sort()).toEqual(['insecure.key']);
  });

  it('a path below a regular file is a StoreError (E_IO), not a raw fs error', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), 'x');
    expect(await code(initStore(join(dir, 'file', 'store.db'), rawKey(newKey())))).toBe('E_IO');
    expect(await code(initStore(join(dir, 'file', 'sub', 'store.db'), rawKey(newKey())))).toBe('E_IO');
  });

  it('two stores made with the same key file are independent (each its own store id and KEK)', async () => {
    const dir = tempDir();
    const kf = join(dir, 'master.key');
    const a = track(await initStore(join(dir, 'a.db'), keyFile(kf, { create: true })));
    const b = track(await initStore(join(dir, 'b.db'), keyFile(kf)));
    expect((await a.status()).storeId).not.toBe((await b.status()).storeId);
    await a.put('x', 'in a');
    expect(await code(b.get('x'))).toBe('E_NOT_FOUND');
  });
});

describe('openStore: master keys', () => {
  it('a wrong raw key is E_WRONG_MASTER_KEY and leaves the file unchanged; the right key then opens', async () => {
    const { path, key } = await withKey();
    const bytes = readFileSync(path);
    expect(await code(openStore(path, rawKey(newKey())))).toBe('E_WRONG_MASTER_KEY');
    expect(readFileSync(path).equals(bytes)).toBe(true);
    const store = track(await openStore(path, rawKey(key)));
    expect((await store.get('probe')).value.text()).toBe('value');
  });

  it('a wrong passphrase is E_WRONG_MASTER_KEY; the right one opens', async () => {
    const path = join(tempDir(), 'pw.db');
    const s = await initStore(path, passphrase('right horse', FAST));
    await s.put('a', 'b');
    await s.close();
    expect(await code(openStore(path, passphrase('wrong horse')))).toBe('E_WRONG_MASTER_KEY');
    const again = track(await openStore(path, passphrase('right horse')));
    expect((await again.get('a')).value.text()).toBe('b');
  });

  it('a master key of another family is E_WRONG_MASTER_KEY', async () => {
    const { path } = await withKey();
    expect(await code(openStore(path, passphrase('anything')))).toBe('E_WRONG_MASTER_KEY');
    const pwPath = join(tempDir(), 'pw.db');
    await (await initStore(pwPath, passphrase('pw', FAST))).close();
    expect(await code(openStore(pwPath, rawKey(newKey())))).toBe('E_WRONG_MASTER_KEY');
  });

  it('a raw-key store opens with the same bytes from a key file or the environment (one family)', async () => {
    const { path, key, dir } = await withKey();
    const kf = join(dir, 'k');
    writeFileSync(kf, `${b64(key)}\n`, { mode: 0o600 });
    chmodSync(kf, 0o600);
    const a = await openStore(path, keyFile(kf));
    expect((await a.get('probe')).value.text()).toBe('value');
    await a.close();
    const b = track(await openStore(path, envKey('K', { K: b64(key) })));
    expect((await b.get('probe')).value.text()).toBe('value');
  });

  it('a key-file store: create:true at init, then open; a loosened mode or a missing file is refused', async () => {
    const dir = tempDir();
    const kf = join(dir, 'keys', 'master.key');
    const path = join(dir, 'store.db');
    const s = await initStore(path, keyFile(kf, { create: true }));
    await s.put('a', 'b');
    expect((await s.status()).masterKind).toBe('keyfile');
    await s.close();
    expect(statSync(kf).mode & 0o777).toBe(0o600);
    const again = await openStore(path, keyFile(kf));
    expect((await again.get('a')).value.text()).toBe('b');
    await again.close();
    chmodSync(kf, 0o644);
    expect(await code(openStore(path, keyFile(kf)))).toBe('E_INSECURE_KEYFILE');
    unlinkSync(kf);
    expect(await code(openStore(path, keyFile(kf)))).toBe('E_MASTER_KEY');
  });

  it('an env store with the variable unset is E_MASTER_KEY', async () => {
    const key = newKey();
    const path = join(tempDir(), 'env.db');
    await (await initStore(path, envKey('K', { K: b64(key) }))).close();
    expect(await code(openStore(path, envKey('K', {})))).toBe('E_MASTER_KEY');
    track(await openStore(path, envKey('K', { K: b64(key) })));
  });

  it('a chooser function sees the stored master parameters (never key material) and picks the source', async () => {
    const path = join(tempDir(), 'pw.db');
    await (await initStore(path, passphrase('pw', FAST))).close();
    let seen: MasterParams | undefined;
    const store = track(await openStore(path, (params) => {
      seen = params;
      return passphrase('pw');
    }));
    expect(seen).toMatchObject({ kind: 'passphrase', kdf: 'scrypt', logN: 15, r: 8, p: 1 });
    expect(typeof seen!.salt).toBe('string');
    expect(Object.keys(seen!).sort()).toEqual(['kdf', 'kind', 'logN', 'p', 'r', 'salt']);
    expect((await store.status()).masterKind).toBe('passphrase');
  });
});

describe('openStore: behaviour', () => {
  it('the now option of openStore sets the clock of later writes', async () => {
    const { path, key } = await withKey();
    const t = Date.UTC(2030, 5, 1);
    const store = track(await openStore(path, rawKey(key), { now: () => t }));
    expect((await store.put('later', 'v')).createdAt.getTime()).toBe(t);
    expect((await store.history('later'))[0]!.createdAt.getTime()).toBe(t);
  });

  it('two handles on one file see each other\'s writes', async () => {
    const { path, key } = await withKey();
    const a = track(await openStore(path, rawKey(key)));
    const b = track(await openStore(path, rawKey(key)));
    await a.put('shared', 'from a');
    expect((await b.get('shared')).value.text()).toBe('from a');
    await b.put('shared', 'from b', { cas: 1 });
    expect((await a.get('shared')).version).toBe(2);
    expect(await code(a.put('shared', 'stale', { cas: 1 }))).toBe('E_CAS_MISMATCH');
    await b.purge('shared');
    expect(await code(a.get('shared'))).toBe('E_NOT_FOUND');
  });

  it('closing one handle does not close another', async () => {
    const { path, key } = await withKey();
    const a = await openStore(path, rawKey(key));
    const b = track(await openStore(path, rawKey(key)));
    await a.close();
    expect(await code(a.get('probe'))).toBe('E_CLOSED');
    expect((await b.get('probe')).value.text()).toBe('value');
  });
});

describe('openStore: damaged headers and keysets', () => {
  function edit(path: string, sql: string, ...params: unknown[]): void {
    const db = new Database(path);
    db.prepare(sql).run(...params);
    db.close();
  }

  it('a store format it does not know is E_UNSUPPORTED_FORMAT', async () => {
    const { path, key } = await withKey();
    edit(path, "UPDATE meta SET value = 'strongbox/v2' WHERE key = 'format'");
    expect(await code(openStore(path, rawKey(key)))).toBe('E_UNSUPPORTED_FORMAT');
  });

  it('a missing header or store id is E_NOT_A_STORE', async () => {
    const a = await withKey();
    edit(a.path, "UPDATE meta SET value = 'zz' WHERE key = 'store_id'");
    expect(await code(openStore(a.path, rawKey(a.key)))).toBe('E_NOT_A_STORE');
    const b = await withKey();
    edit(b.path, "DELETE FROM meta WHERE key = 'format'");
    expect(await code(openStore(b.path, rawKey(b.key)))).toBe('E_NOT_A_STORE');
  });

  it('a changed master check is E_WRONG_MASTER_KEY even with the right key', async () => {
    const { path, key } = await withKey();
    edit(path, "UPDATE meta SET value = ? WHERE key = 'master_check'", b64(newKey()));
    expect(await code(openStore(path, rawKey(key)))).toBe('E_WRONG_MASTER_KEY');
  });

  it('a wrapped data key that was altered is E_TAMPERED at open (the master key itself is right)', async () => {
    const { path, key } = await withKey();
    const db = new Database(path);
    const row = db.prepare('SELECT id, wrapped FROM data_keys').get() as { id: number; wrapped: Buffer };
    row.wrapped[row.wrapped.length - 1]! ^= 1;
    db.prepare('UPDATE data_keys SET wrapped = ? WHERE id = ?').run(row.wrapped, row.id);
    db.close();
    expect(await code(openStore(path, rawKey(key)))).toBe('E_TAMPERED');
  });

  it('a ciphertext moved to another version is E_TAMPERED on get, and its message holds no value', async () => {
    const { path, key } = await withKey();
    const s = await openStore(path, rawKey(key));
    await s.put('probe', 'CANARY-second-value');
    await s.close();
    const db = new Database(path);
    const v1 = db.prepare('SELECT ciphertext FROM versions WHERE version = 1').pluck().get() as Buffer;
    db.prepare('UPDATE versions SET ciphertext = ? WHERE version = 2').run(v1);
    db.close();
    const store = track(await openStore(path, rawKey(key)));
    try {
      await store.get('probe');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'E_TAMPERED' });
      expect(String((e as Error).message)).not.toContain('CANARY');
      expect(String((e as Error).message)).not.toContain('value');
    }
    expect((await store.get('probe', { version: 1 })).value.text()).toBe('value');
  });

  it('no key material or value appears in the file in plaintext', async () => {
    const dir = tempDir();
    const path = join(dir, 's.db');
    const key = newKey();
    const store = await initStore(path, rawKey(key));
    await store.put('n', 'CANARY-plain-on-disk-4f2a');
    await store.close();
    expect(existsSync(path)).toBe(true);
    const all = Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
    expect(all.includes(Buffer.from('CANARY-plain-on-disk-4f2a'))).toBe(false);
    expect(all.includes(Buffer.from(key))).toBe(false);
    expect(all.includes(Buffer.from(b64(key)))).toBe(false);
  });
});
