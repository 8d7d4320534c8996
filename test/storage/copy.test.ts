/**
 * The raw row copy (src/storage/copy.ts) between the two drivers, below the
 * store's logic: rows written by hand (MACs that are just bytes, NULLs, a
 * JSON flag, gaps in the secret ids) come out of the other driver exactly,
 * and back; the target takes all of them or none; the id counter carries
 * over; a database source reads beside its other work.
 */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { copyStorage, holdsNoRows } from '../../src/storage/copy.js';
import { createStorage, type OpenedStorage } from '../../src/storage/open.js';
import type { RawOps } from '../../src/storage/storage.js';
import { freshDatabase } from '../helpers/postgres.js';
import { postgresRows, sqliteRows } from '../helpers/rows.js';
import { tempDir } from '../helpers/tmp.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

async function fresh(kind: 'file' | 'db'): Promise<{ storage: OpenedStorage; rows: () => Promise<unknown> }> {
  if (kind === 'file') {
    const path = join(tempDir(), 'raw.db');
    const storage = await createStorage(path);
    onTestFinished(() => storage.close());
    return { storage, rows: async () => sqliteRows(path) };
  }
  const db = await freshDatabase();
  const storage = await createStorage(db.url);
  onTestFinished(() => storage.close());
  return { storage, rows: () => postgresRows(db.name) };
}

/** Rows of every table, by hand; 2 of 5 secrets removed again (ids 2 and 5: a gap and a used-up top). */
async function fill(tx: RawOps): Promise<void> {
  await tx.putMeta({ key: 'format', value: 'strongbox/v1', mac: bytes(32, 1) });
  await tx.putMeta({ key: 'older', value: 'no mac yet', mac: null });
  await tx.insertKey({ id: 0xfedcba98, version: 1, status: 'retired', createdAt: 10, wrapped: bytes(60, 2), mac: bytes(32, 3) });
  await tx.insertKey({ id: 7, version: 2, status: 'primary', createdAt: 20, wrapped: bytes(60, 4), mac: bytes(32, 5) });
  const ids: number[] = [];
  for (const name of ['a', 'b', 'c', 'd', 'e']) {
    const s = await tx.insertSecret(name, 100);
    ids.push(s.id);
    await tx.insertVersion({ secretId: s.id, version: 1, createdAt: 101, deletedAt: null, destroyedAt: null, keyId: 7, ciphertext: bytes(48, 6), mac: bytes(32, 7), json: false });
    await tx.insertVersion({ secretId: s.id, version: 2, createdAt: 102, deletedAt: 103, destroyedAt: 104, keyId: null, ciphertext: null, mac: null, json: true });
    await tx.updateSecret({ ...s, currentVersion: 2, maxVersions: 3, custom: '{"k":"ü"}', updatedAt: 105, mac: bytes(32, 8) });
  }
  await tx.deleteSecret(ids[1]!);
  await tx.deleteSecret(ids[4]!);
  for (let seq = 1; seq <= 3; seq++) {
    await tx.insertAudit({ seq, at: 200 + seq, actor: 'ops', pid: 9, action: 'put', name: seq === 2 ? null : 'a', versions: '1,2', outcome: 'ok', detail: null, mac: bytes(32, seq) });
  }
  await tx.putRecord({ kind: 'token', id: 'B', value: '{}', mac: bytes(32, 9) });
  await tx.putRecord({ kind: 'token', id: 'a', value: '{"x":1}', mac: null });
  await tx.putState({ digest: bytes(2048, 10), auditSeq: 3, auditMac: bytes(32, 3), mac: bytes(32, 11) });
}

describe('copyStorage', () => {
  it('file → database → file: every row and the id counter exactly; a new secret gets an id above every one used', async () => {
    const a = await fresh('file');
    await a.storage.write(fill);
    const original = await a.rows();
    expect(original).toMatchObject({ secretIdHighWater: 5 });

    const b = await fresh('db');
    const copied = await copyStorage(a.storage, b.storage);
    expect(copied.rows).toEqual({ meta: 2, keys: 2, secrets: 3, versions: 6, audit: 3, records: 2 });
    expect(copied.state?.mac).toEqual(bytes(32, 11));
    expect(await b.rows()).toEqual(original);

    const c = await fresh('file');
    await copyStorage(b.storage, c.storage);
    expect(await c.rows()).toEqual(original);

    for (const s of [b.storage, c.storage]) expect((await s.write(async (tx) => tx.insertSecret('new', 1))).id).toBe(6);
  });

  it('many pages of every table: each page starts where the last ended', async () => {
    const a = await fresh('file');
    await a.storage.write(async (tx) => {
      for (let i = 0; i < 1100; i++) {
        const s = await tx.insertSecret(`s/${String(i).padStart(4, '0')}`, i);
        const versions = i % 100 === 0 ? 3 : 1; // a few secrets' versions straddle page ends
        for (let v = 1; v <= versions; v++) {
          await tx.insertVersion({ secretId: s.id, version: v, createdAt: i, deletedAt: null, destroyedAt: null, keyId: 7, ciphertext: bytes(30, i % 256), mac: bytes(32, v), json: false });
        }
      }
      for (let seq = 1; seq <= 2100; seq++) await tx.insertAudit({ seq, at: seq, actor: 'a', pid: 1, action: 'get', name: null, versions: null, outcome: 'ok', detail: null, mac: bytes(32, seq % 256) });
      for (let i = 0; i < 1050; i++) await tx.putRecord({ kind: i % 2 ? 'token' : 'role', id: `r${i}`, value: String(i), mac: null });
    });
    const b = await fresh('db');
    const progress: [number, number][] = [];
    const copied = await copyStorage(a.storage, b.storage, { onProgress: (d, t) => progress.push([d, t]) });
    expect(copied.rows).toEqual({ meta: 0, keys: 0, secrets: 1100, versions: 1122, audit: 2100, records: 1050 });
    expect(progress.at(-1)).toEqual([5372, 5372]);
    expect(progress.every(([d, t], i) => d <= t && (i === 0 || d >= progress[i - 1]![0]))).toBe(true);
    const c = await fresh('file');
    await copyStorage(b.storage, c.storage);
    expect(await c.rows()).toEqual(await a.rows());
    expect(await b.rows()).toEqual(await a.rows());
  });

  it('a target with rows is refused and unchanged; replace swaps every row in one go', async () => {
    const a = await fresh('file');
    await a.storage.write(fill);
    const b = await fresh('db');
    await b.storage.write(async (tx) => tx.putMeta({ key: 'theirs', value: 'v', mac: null }));
    await expect(copyStorage(a.storage, b.storage, { targetShown: 'the db' })).rejects.toMatchObject({ code: 'E_STORE_EXISTS', message: 'the db already holds a store' });
    expect((await b.rows() as { tables: { meta: unknown[] } }).tables.meta).toEqual([{ key: 'theirs', value: 'v', mac: null }]);

    await copyStorage(a.storage, b.storage, { replace: true });
    expect(await b.rows()).toEqual(await a.rows());
  });

  it('a copy that fails part way leaves the target without a row', async () => {
    for (const [from, to] of [['file', 'db'], ['db', 'file']] as const) {
      const a = await fresh(from);
      await a.storage.write(fill);
      const b = await fresh(to);
      let pages = 0;
      const between = () => {
        if (++pages === 3) throw new Error('stopped');
      };
      await expect(copyStorage(a.storage, b.storage, { between })).rejects.toThrow('stopped');
      expect(await b.storage.read((tx) => holdsNoRows(tx))).toBe(true);
    }
  });

  it('a database source is read beside its other work: its own transactions go on while the copy holds its snapshot', async () => {
    const a = await fresh('db');
    await a.storage.write(fill);
    const b = await fresh('file');
    const answers: unknown[] = [];
    const timeout = () => new Promise((resolve) => setTimeout(() => resolve('held up'), 5000));
    await copyStorage(a.storage, b.storage, {
      between: async () => {
        // Queued behind the copy's snapshot, these would wait until the copy ended, which waits for them.
        if (answers.length === 0) {
          answers.push(await Promise.race([a.storage.write(async (tx) => tx.putMeta({ key: 'during', value: 'copy', mac: null })).then(() => 'written'), timeout()]));
          answers.push(await Promise.race([a.storage.read(async (tx) => tx.getMeta('during')), timeout()]));
        }
      },
    });
    expect(answers).toEqual(['written', 'copy']);
    // The copy is the snapshot from before that write.
    expect((await b.storage.read(async (tx) => tx.allMeta())).map((m) => m.key)).toEqual(['format', 'older']);
  });
});
