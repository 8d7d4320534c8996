/**
 * Attack: change one byte of a stored ciphertext, at every position of one
 * small blob (format byte, key id, nonce, body, tag), with every store read
 * path (get latest, get by version, rollback). Each must fail with
 * E_TAMPERED, never give a value (the format byte too: the version row's MAC
 * covers the ciphertext's head, schema 8; E_UNSUPPORTED_FORMAT is for a blob
 * whose row is authentic, tested in test/property/tamper.test.ts);
 * a truncated or extended blob too. On each driver (the row in a SQLite
 * file, in a PostgreSQL database: test/helpers/drivers.ts).
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyFile, initStore, isStoreError, keyFile, type SecretVersion, type Store, type WriteResult } from '../../src/index.js';
import { DRIVERS, type Place, type RawDb } from '../helpers/drivers.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

describe.each(DRIVERS)('one changed byte anywhere in a ciphertext on $name', (driver) => {
  let place: Place;
  let store: Store;
  let db: RawDb;
  let original: Buffer;
  const value = `flip-${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    const kf = join(tempDir(), 'master.key');
    createKeyFile(kf);
    place = await driver.place();
    store = await initStore(place.locator, keyFile(kf));
    await store.put('target', value);
    db = await driver.raw(place.locator);
    original = await db.value<Buffer>('SELECT ciphertext FROM versions WHERE version = 1');
  });
  afterAll(async () => {
    await db?.close();
    await store?.close();
    await place?.remove();
    cleanupTempDirs();
  });

  async function write(blob: Buffer): Promise<void> {
    expect(await db.run('UPDATE versions SET ciphertext = ? WHERE version = 1', blob)).toBe(1);
  }

  async function outcomes(): Promise<string[]> {
    const out: string[] = [];
    const reads: (() => Promise<SecretVersion | WriteResult>)[] = [
      () => store.get('target'),
      () => store.get('target', { version: 1 }),
      () => store.rollback('target', 1),
    ];
    for (const read of reads) {
      try {
        const r = await read();
        out.push('value' in r ? `value ${r.value.text() === value ? 'right' : 'WRONG'}` : `wrote v${r.version}`);
      } catch (e) {
        out.push(isStoreError(e) ? e.code : `unexpected ${(e as Error).message}`);
      }
    }
    return out;
  }

  it('the untouched blob reads back (control)', async () => {
    expect(original.length).toBe(5 + 24 + Buffer.byteLength(value) + 16);
    expect((await store.get('target')).value.text()).toBe(value);
  });

  it('every position, XOR with 0x01, 0x80 and 0xff: E_TAMPERED', async () => {
    const failures: string[] = [];
    for (let i = 0; i < original.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const blob = Buffer.from(original);
        blob[i]! ^= mask;
        await write(blob);
        const want = 'E_TAMPERED';
        const got = await outcomes();
        if (got.some((g) => g !== want)) failures.push(`byte ${i} ^ 0x${mask.toString(16)}: ${got.join(', ')}`);
      }
    }
    await write(original);
    expect(failures).toEqual([]);
    expect((await store.history('target')).length).toBe(1); // no rollback wrote anything
    expect((await store.get('target')).value.text()).toBe(value);
  });

  it('a truncated, extended or emptied blob is E_TAMPERED', async () => {
    const variants = [
      original.subarray(0, original.length - 1),
      original.subarray(0, 5 + 24 + 16),
      original.subarray(0, 10),
      Buffer.alloc(0),
      Buffer.concat([original, Buffer.from([0])]),
      Buffer.concat([original, original]),
    ];
    const failures: string[] = [];
    for (const [i, blob] of variants.entries()) {
      await write(blob);
      const got = await outcomes();
      if (got.some((g) => g !== 'E_TAMPERED')) failures.push(`variant ${i} (${blob.length} bytes): ${got.join(', ')}`);
    }
    await write(original);
    expect(failures).toEqual([]);
    expect((await store.get('target')).value.text()).toBe(value);
  });

  it('a live version whose ciphertext was set to NULL is E_TAMPERED (not a TypeError)', async () => {
    expect(await db.run('UPDATE versions SET ciphertext = NULL WHERE version = 1')).toBe(1);
    try {
      expect(await outcomes()).toEqual(['E_TAMPERED', 'E_TAMPERED', 'E_TAMPERED']);
    } finally {
      await write(original);
    }
    expect((await store.get('target')).value.text()).toBe(value);
  });
});
