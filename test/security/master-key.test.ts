/**
 * Attack: open a store with the wrong master key. A wrong passphrase, a
 * wrong key file, or a key of another family is E_WRONG_MASTER_KEY at
 * openStore, before any secret is read, and leaves the file as it was.
 * A damaged wrapped data key under the right master key is E_TAMPERED
 * (the store is damaged, the key is right), never E_WRONG_MASTER_KEY.
 */
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createKeyFile, initStore, isStoreError, keyFile, openStore, passphrase, rawKey, type MasterKeySource,
} from '../../src/index.js';

const base = mkdtempSync(join(tmpdir(), 'strongbox-sec-master-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const FAST = { scrypt: { logN: 15 } };

function digest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

async function openCode(path: string, source: MasterKeySource): Promise<string> {
  try {
    const s = await openStore(path, source);
    await s.close();
    return 'opened';
  } catch (e) {
    return isStoreError(e) ? e.code : `unexpected ${(e as Error).message}`;
  }
}

/** A closed store (fully checkpointed: no -wal left) with one secret. */
async function storeWith(source: MasterKeySource): Promise<{ dir: string; path: string }> {
  const dir = mkdtempSync(join(base, 's-'));
  const path = join(dir, 'store.db');
  const s = await initStore(path, source);
  await s.put('app/secret', `value-${randomBytes(4).toString('hex')}`);
  await s.close();
  return { dir, path };
}

describe('wrong master key', () => {
  it('a wrong passphrase is E_WRONG_MASTER_KEY at open and changes no byte of the store', async () => {
    const { dir, path } = await storeWith(passphrase('correct horse battery staple', FAST));
    const before = digest(path);
    const filesBefore = readdirSync(dir).sort();
    expect(await openCode(path, passphrase('correct horse battery stapler', FAST))).toBe('E_WRONG_MASTER_KEY');
    expect(digest(path)).toBe(before);
    expect(readdirSync(dir).sort()).toEqual(filesBefore);
    // Control: the right passphrase still opens it and the secret reads.
    const s = await openStore(path, passphrase('correct horse battery staple', FAST));
    try {
      expect((await s.get('app/secret')).value.text()).toMatch(/^value-/);
    } finally {
      await s.close();
    }
  });

  it('a wrong key file is E_WRONG_MASTER_KEY at open and changes no byte of the store', async () => {
    const dir = mkdtempSync(join(base, 'kf-'));
    const right = join(dir, 'right.key');
    const wrong = join(dir, 'wrong.key');
    createKeyFile(right);
    createKeyFile(wrong);
    const { path } = await storeWith(keyFile(right));
    const before = digest(path);
    expect(await openCode(path, keyFile(wrong))).toBe('E_WRONG_MASTER_KEY');
    expect(digest(path)).toBe(before);
    expect(await openCode(path, rawKey(new Uint8Array(32)))).toBe('E_WRONG_MASTER_KEY');
    expect(digest(path)).toBe(before);
    expect(await openCode(path, keyFile(right))).toBe('opened');
  });

  it('no secret is read on a wrong-key open: a corrupted value row does not change the answer', async () => {
    const dir = mkdtempSync(join(base, 'kf-'));
    const right = join(dir, 'right.key');
    const wrong = join(dir, 'wrong.key');
    createKeyFile(right);
    createKeyFile(wrong);
    const { path } = await storeWith(keyFile(right));
    const db = new Database(path, { fileMustExist: true });
    db.prepare('UPDATE versions SET ciphertext = zeroblob(60)').run();
    db.close();
    expect(await openCode(path, keyFile(wrong))).toBe('E_WRONG_MASTER_KEY');
  });

  it('a passphrase store opened with a key file (or a raw key) is E_WRONG_MASTER_KEY, and vice versa', async () => {
    const { dir, path } = await storeWith(passphrase('pass-store', FAST));
    const kf = join(dir, 'any.key');
    createKeyFile(kf);
    const before = digest(path);
    expect(await openCode(path, keyFile(kf))).toBe('E_WRONG_MASTER_KEY');
    expect(await openCode(path, rawKey(new Uint8Array(randomBytes(32))))).toBe('E_WRONG_MASTER_KEY');
    expect(digest(path)).toBe(before);

    const other = await storeWith(keyFile(kf));
    expect(await openCode(other.path, passphrase('pass-store', FAST))).toBe('E_WRONG_MASTER_KEY');
  });

  it('a failed open leaves no -wal/-shm behind and the store opens normally afterwards', async () => {
    const { dir, path } = await storeWith(rawKey(new Uint8Array(32).fill(7)));
    for (let i = 0; i < 3; i++) expect(await openCode(path, rawKey(new Uint8Array(32).fill(8)))).toBe('E_WRONG_MASTER_KEY');
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(readdirSync(dir)).toEqual(['store.db']);
    expect(await openCode(path, rawKey(new Uint8Array(32).fill(7)))).toBe('opened');
  });
});

describe('damaged keyset under the right master key', () => {
  it('any flipped byte of data_keys.wrapped is E_TAMPERED at open, not E_WRONG_MASTER_KEY', async () => {
    const key = new Uint8Array(randomBytes(32));
    const { path } = await storeWith(rawKey(key));
    const db = new Database(path, { fileMustExist: true });
    const wrapped = db.prepare('SELECT wrapped FROM data_keys').pluck().get() as Buffer;
    db.close();
    expect(wrapped.length).toBe(24 + 32 + 16);
    const failures: string[] = [];
    for (let i = 0; i < wrapped.length; i++) {
      const bad = Buffer.from(wrapped);
      bad[i]! ^= 1 << (i % 8);
      const w = new Database(path, { fileMustExist: true });
      w.prepare('UPDATE data_keys SET wrapped = ?').run(bad);
      w.close();
      const code = await openCode(path, rawKey(key));
      if (code !== 'E_TAMPERED') failures.push(`byte ${i}: ${code}`);
    }
    expect(failures).toEqual([]);
  });

  it('a truncated or missing wrapped data key is E_TAMPERED at open', async () => {
    const key = new Uint8Array(randomBytes(32));
    const { path } = await storeWith(rawKey(key));
    const edit = (sql: string) => {
      const w = new Database(path, { fileMustExist: true });
      w.prepare(sql).run();
      w.close();
    };
    edit('UPDATE data_keys SET wrapped = substr(wrapped, 1, 40)');
    expect(await openCode(path, rawKey(key))).toBe('E_TAMPERED');
    edit('UPDATE data_keys SET wrapped = NULL');
    expect(await openCode(path, rawKey(key))).toBe('E_TAMPERED');
    edit('DELETE FROM data_keys');
    expect(await openCode(path, rawKey(key))).toBe('E_TAMPERED');
  });

  it('with a passphrase store too: damaged wrapped key is E_TAMPERED, wrong passphrase E_WRONG_MASTER_KEY', async () => {
    const { path } = await storeWith(passphrase('pw-1', FAST));
    const w = new Database(path, { fileMustExist: true });
    const wrapped = Buffer.from(w.prepare('SELECT wrapped FROM data_keys').pluck().get() as Buffer);
    wrapped[30]! ^= 0x10;
    w.prepare('UPDATE data_keys SET wrapped = ?').run(wrapped);
    w.close();
    expect(await openCode(path, passphrase('pw-1', FAST))).toBe('E_TAMPERED');
    expect(await openCode(path, passphrase('pw-2', FAST))).toBe('E_WRONG_MASTER_KEY');
  });
});
