/**
 * The PostgreSQL driver's round trips saved in a write transaction
 * (src/storage/postgres/driver.ts, WriteTx): its first reads come with the
 * BEGIN, after the write lock, and answer until the transaction itself
 * writes what they read; writes whose answer nothing needs are sent without
 * waiting, and a failure among them is the transaction's failure, reported
 * as itself (not as the "transaction aborted" of the statements after it),
 * with nothing written.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPostgresStore, openPostgresStore } from '../../../src/storage/postgres/open.js';
import type { AuditRow, RawStorage } from '../../../src/storage/storage.js';
import { StoreError } from '../../../src/index.js';
import { freshDatabase } from '../../helpers/postgres.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
// The driver hands out Buffers (a Uint8Array subclass): bytes compare by content.
expect.addEqualityTesters([
  (a: unknown, b: unknown) => (a instanceof Uint8Array && b instanceof Uint8Array ? Buffer.compare(a, b) === 0 : undefined),
]);
const audit = (seq: number): AuditRow => ({ seq, at: 5_000 + seq, actor: 'ops', pid: 42, action: 'put', name: `n/${seq}`, versions: '1', outcome: 'ok', detail: null, mac: bytes(32, seq) });
const state = (seq: number) => ({ digest: bytes(2048, seq), auditSeq: seq, auditMac: bytes(32, seq), mac: bytes(32, 0x50 + seq) });
const key = (id: number, status: 'primary' | 'active') => ({ id, version: id, status, createdAt: 1, wrapped: bytes(40, id), mac: bytes(32, id) });

async function stores(): Promise<{ one: RawStorage; two: RawStorage }> {
  const db = await freshDatabase();
  const one = await createPostgresStore(db.url);
  onTestFinished(() => one.close());
  const two = await openPostgresStore(db.url);
  onTestFinished(() => two.close());
  return { one, two };
}

async function failure(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw e;
  }
  throw new Error('expected the write to fail');
}

describe('PostgreSQL write transactions: prefetched reads, writes sent without waiting', () => {
  it('the reads that came with BEGIN see the last commit before the lock, and answer anew once this transaction writes', async () => {
    const { one, two } = await stores();
    await one.write(async (tx) => {
      await tx.insertAudit(audit(1));
      await tx.putState(state(1));
      await tx.insertKey(key(7, 'primary'));
    });
    // Another host commits; this one's next write reads after it.
    await two.write(async (tx) => {
      await tx.insertAudit(audit(2));
      await tx.putState(state(2));
    });
    await one.write(async (tx) => {
      expect(await tx.lastAudit()).toEqual({ seq: 2, mac: bytes(32, 2) });
      expect(await tx.stateMac()).toEqual(bytes(32, 0x52));
      expect(await tx.primaryKeyId()).toBe(7);
      await tx.insertAudit(audit(3));
      expect(await tx.lastAudit()).toEqual({ seq: 3, mac: bytes(32, 3) });
    });
    // Written before it is first read: the BEGIN's answer is out of date, and not used.
    await one.write(async (tx) => {
      await tx.insertAudit(audit(4));
      await tx.putState(state(4));
      await tx.updateKey({ ...key(7, 'active'), mac: bytes(32, 9) });
      await tx.insertKey(key(8, 'primary'));
      expect(await tx.lastAudit()).toEqual({ seq: 4, mac: bytes(32, 4) });
      expect(await tx.stateMac()).toEqual(bytes(32, 0x54));
      expect(await tx.primaryKeyId()).toBe(8);
    });
    await one.write(async (tx) => {
      await tx.deleteAuditThrough(4);
      expect(await tx.lastAudit()).toBeUndefined();
    });
  });

  it('a write the database refuses fails the transaction as itself, at the next read or at COMMIT, and leaves nothing behind', async () => {
    const { one, two } = await stores();
    await one.write(async (tx) => tx.insertAudit(audit(1)));
    const alone = await failure(one.write(async (tx) => {
      await tx.putMeta({ key: 'k', value: 'v', mac: null });
      await tx.insertAudit(audit(1)); // a duplicate: refused, and only known at COMMIT
      await tx.putState(state(1));
    }));
    expect(alone.code).toBe('E_NOT_A_STORE');
    expect(alone.message).toContain('23505'); // the duplicate, not 25P02 (the statements after it, refused as part of an aborted transaction)

    let readFailed: StoreError | undefined;
    const thenRead = await failure(one.write(async (tx) => {
      await tx.insertAudit(audit(1));
      try {
        await tx.getMeta('k'); // the first answer awaited after the refused write
      } catch (e) {
        readFailed = e as StoreError;
        throw e;
      }
    }));
    expect(readFailed).toBe(thenRead);
    expect([thenRead.code, thenRead.message]).toEqual([alone.code, alone.message]);

    for (const s of [one, two]) {
      await s.read(async (tx) => {
        expect(await tx.getMeta('k')).toBeUndefined();
        expect(await tx.state()).toBeUndefined();
        expect(await tx.lastAudit()).toEqual({ seq: 1, mac: bytes(32, 1) });
      });
    }
    // The connection goes on working.
    await one.write(async (tx) => tx.insertAudit(audit(2)));
    expect(await two.read(async (tx) => tx.lastAudit())).toEqual({ seq: 2, mac: bytes(32, 2) });
  });

  it('writes sent without waiting run in the order they were made', async () => {
    const { one } = await stores();
    await one.write(async (tx) => {
      for (let i = 1; i <= 20; i++) await tx.putMeta({ key: 'k', value: `v${i}`, mac: null });
      await tx.deleteMeta('k');
      await tx.putMeta({ key: 'k', value: 'last', mac: null });
      await tx.insertAudit(audit(1));
      await tx.deleteAuditThrough(1);
      await tx.insertAudit(audit(2));
    });
    await one.read(async (tx) => {
      expect(await tx.getMeta('k')).toBe('last');
      expect(await tx.auditPage(0, 10)).toEqual([audit(2)]);
    });
  });
});
