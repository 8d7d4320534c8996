/**
 * Files and secrets hygiene (docs/design.md §6): the store directory is created
 * 0700, the .db and its -wal/-shm are 0600 whatever the process umask, a
 * key file is created 0600, and a key file readable by group or others is
 * refused with E_INSECURE_KEYFILE (as ssh does).
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKeyFile, initStore, isStoreError, keyFile, openStore, rawKey } from '../../src/index.js';

const base = mkdtempSync(join(tmpdir(), 'strongbox-sec-modes-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const startUmask = process.umask();
afterEach(() => {
  process.umask(startUmask);
});

const mode = (p: string) => statSync(p).mode & 0o777;
const octal = (m: number) => m.toString(8).padStart(4, '0');

async function code(fn: () => Promise<unknown>): Promise<string> {
  try {
    const r = await fn();
    if (r && typeof (r as { close?: unknown }).close === 'function') await (r as { close(): Promise<void> }).close();
    return 'ok';
  } catch (e) {
    return isStoreError(e) ? e.code : `unexpected ${(e as Error).message}`;
  }
}

describe.each([0o000, 0o022, 0o002])('with umask %o', (umask) => {
  it('store directory 0700, .db, -wal and -shm 0600, also after reopen', async () => {
    process.umask(umask);
    const root = mkdtempSync(join(base, 'u-'));
    const dir = join(root, 'new', 'strongbox');
    const path = join(dir, 'store.db');
    const key = new Uint8Array(randomBytes(32));
    let store = await initStore(path, rawKey(key));
    try {
      await store.put('a', 'value');
      expect(octal(mode(dir))).toBe('0700');
      expect(octal(mode(join(root, 'new')))).toBe('0700');
      expect(octal(mode(path))).toBe('0600');
      expect(existsSync(`${path}-wal`)).toBe(true);
      expect(octal(mode(`${path}-wal`))).toBe('0600');
      expect(octal(mode(`${path}-shm`))).toBe('0600');
      await store.close();
      expect(existsSync(`${path}-wal`)).toBe(false);

      // The -wal and -shm made anew by a later open are 0600 too.
      store = await openStore(path, rawKey(key));
      await store.put('a', 'value 2');
      expect(octal(mode(path))).toBe('0600');
      expect(octal(mode(`${path}-wal`))).toBe('0600');
      expect(octal(mode(`${path}-shm`))).toBe('0600');
      expect(existsSync(`${path}-journal`)).toBe(false); // WAL mode: no rollback journal
    } finally {
      await store.close();
    }
  });

  it('a key file is created 0600 (createKeyFile and keyFile({ create: true }) at init), in a 0700 directory', async () => {
    process.umask(umask);
    const root = mkdtempSync(join(base, 'k-'));
    const kf1 = join(root, 'keys', 'one.key');
    createKeyFile(kf1);
    expect(octal(mode(kf1))).toBe('0600');
    expect(octal(mode(join(root, 'keys')))).toBe('0700');

    const kf2 = join(root, 'made-at-init', 'two.key');
    const store = await initStore(join(root, 'store.db'), keyFile(kf2, { create: true }));
    await store.close();
    expect(octal(mode(kf2))).toBe('0600');
    expect(octal(mode(join(root, 'made-at-init')))).toBe('0700');
  });
});

describe('insecure key files', () => {
  it.each([0o640, 0o644, 0o604, 0o660, 0o666, 0o601, 0o610])('a key file of mode %o is refused with E_INSECURE_KEYFILE', async (m) => {
    const root = mkdtempSync(join(base, 'ins-'));
    const kf = join(root, 'master.key');
    createKeyFile(kf);
    const path = join(root, 'store.db');
    const store = await initStore(path, keyFile(kf));
    await store.close();

    chmodSync(kf, m);
    expect(await code(() => openStore(path, keyFile(kf)))).toBe('E_INSECURE_KEYFILE');
    expect(await code(() => initStore(join(root, 'other.db'), keyFile(kf)))).toBe('E_INSECURE_KEYFILE');
    expect(existsSync(join(root, 'other.db'))).toBe(false); // init failed before making a file

    chmodSync(kf, 0o600);
    expect(await code(() => openStore(path, keyFile(kf)))).toBe('ok');
    chmodSync(kf, 0o400);
    expect(await code(() => openStore(path, keyFile(kf)))).toBe('ok');
  });

  it('createKeyFile never overwrites an existing key', () => {
    const root = mkdtempSync(join(base, 'ow-'));
    const kf = join(root, 'master.key');
    createKeyFile(kf);
    let c = 'no error';
    try {
      createKeyFile(kf);
    } catch (e) {
      c = isStoreError(e) ? e.code : 'unexpected';
    }
    expect(c).toBe('E_IO');
  });
});
