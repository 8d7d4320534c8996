/**
 * Attack: change one byte of a stored ciphertext, at every position of one
 * small blob (format byte, key id, nonce, body, tag), with every store read
 * path (get latest, get by version, rollback). Each must fail with
 * E_TAMPERED (E_UNSUPPORTED_FORMAT for the format byte), never give a value;
 * a truncated or extended blob too.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyFile, initStore, isStoreError, keyFile, type SecretVersion, type Store, type WriteResult } from '../../src/index.js';

const base = mkdtempSync(join(tmpdir(), 'strongbox-sec-flip-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('one changed byte anywhere in a ciphertext', () => {
  let store: Store;
  let db: Database.Database;
  let original: Buffer;
  const value = `flip-${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    const dir = mkdtempSync(join(base, 's-'));
    const kf = join(dir, 'master.key');
    createKeyFile(kf);
    const path = join(dir, 'store.db');
    store = await initStore(path, keyFile(kf));
    await store.put('target', value);
    db = new Database(path, { fileMustExist: true });
    original = db.prepare("SELECT ciphertext FROM versions WHERE version = 1").pluck().get() as Buffer;
  });
  afterAll(async () => {
    db?.close();
    await store?.close();
  });

  function write(blob: Buffer): void {
    expect(db.prepare('UPDATE versions SET ciphertext = ? WHERE version = 1').run(blob).changes).toBe(1);
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

  it('every position, XOR with 0x01, 0x80 and 0xff: E_TAMPERED (E_UNSUPPORTED_FORMAT at byte 0)', async () => {
    const failures: string[] = [];
    for (let i = 0; i < original.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const blob = Buffer.from(original);
        blob[i]! ^= mask;
        write(blob);
        const want = i === 0 ? 'E_UNSUPPORTED_FORMAT' : 'E_TAMPERED';
        const got = await outcomes();
        if (got.some((g) => g !== want)) failures.push(`byte ${i} ^ 0x${mask.toString(16)}: ${got.join(', ')}`);
      }
    }
    write(original);
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
      write(blob);
      const got = await outcomes();
      if (got.some((g) => g !== 'E_TAMPERED')) failures.push(`variant ${i} (${blob.length} bytes): ${got.join(', ')}`);
    }
    write(original);
    expect(failures).toEqual([]);
    expect((await store.get('target')).value.text()).toBe(value);
  });

  it('a live version whose ciphertext was set to NULL is E_TAMPERED (not a TypeError)', async () => {
    expect(db.prepare('UPDATE versions SET ciphertext = NULL WHERE version = 1').run().changes).toBe(1);
    try {
      expect(await outcomes()).toEqual(['E_TAMPERED', 'E_TAMPERED', 'E_TAMPERED']);
    } finally {
      write(original);
    }
    expect((await store.get('target')).value.text()).toBe(value);
  });
});
