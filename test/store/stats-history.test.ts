/**
 * store.stats(): when the last backup, key rotation and master rotation
 * happened (authenticated header entries, or the primary key's creation),
 * and the audit log's state, cheap by default and walked when asked.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { keyFile, openStore, rawKey } from '../../src/index.js';
import { freshStore } from '../helpers/store.js';
import { rejectionCode } from '../helpers/errors.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const DAY = 86_400_000;

function sql(path: string, statement: string): void {
  const db = new Database(path);
  db.exec(statement);
  db.close();
}

describe('stats: the last maintenance', () => {
  it('a new store: no backup, no rotation of either key; the audit log holds its first entries, unverified', async () => {
    const { store } = await freshStore({ now: () => T0 });
    await store.put('a', 'x');
    const s = await store.stats();
    expect(s).toMatchObject({ lastBackupAt: null, lastKeyRotationAt: null, lastMasterRotationAt: null });
    expect(s.audit).toEqual({ entries: 2, firstSeq: 1, lastSeq: 2, lastAt: new Date(T0), prunedThrough: null, chain: 'unverified' });
  });

  it('records each finished backup and master rotation at the store clock; the key rotation is the primary key\'s creation', async () => {
    let now = T0;
    const { store, dir, path } = await freshStore({ now: () => now });
    await store.put('a', 'x');
    now = T0 + 1 * DAY;
    await store.backup(join(dir, 'b1.db'));
    now = T0 + 2 * DAY;
    await store.rotateKeys();
    now = T0 + 3 * DAY;
    await store.rotateMaster(keyFile(join(dir, 'new.key'), { create: true }));
    now = T0 + 4 * DAY;
    await store.backup(join(dir, 'b2.db'));
    const s = await store.stats();
    expect(s).toMatchObject({
      lastBackupAt: new Date(T0 + 4 * DAY),
      lastKeyRotationAt: new Date(T0 + 2 * DAY),
      lastMasterRotationAt: new Date(T0 + 3 * DAY),
    });
    await store.close();

    // Kept in the file, read back by the next process.
    const reopened = await openStore(path, keyFile(join(dir, 'new.key')));
    expect(await reopened.stats()).toMatchObject({ lastBackupAt: new Date(T0 + 4 * DAY), lastMasterRotationAt: new Date(T0 + 3 * DAY) });
    await reopened.close();

    // A backup holds the times from before it was taken: its own finishing is recorded only in the live store.
    const copy = await openStore(join(dir, 'b2.db'), keyFile(join(dir, 'new.key')));
    expect(await copy.stats()).toMatchObject({ lastBackupAt: new Date(T0 + 1 * DAY) });
    await copy.close();
  });

  it('the times are authenticated header entries: one edited in the file is caught', async () => {
    const { store, dir, path, key } = await freshStore();
    await store.backup(join(dir, 'b.db'));
    await store.close();
    sql(path, `UPDATE meta SET value = '${Date.UTC(2030, 0, 1)}' WHERE key = 'last_backup_at'`);
    const reopened = await openStore(path, rawKey(key));
    expect(await rejectionCode(reopened.stats())).toBe('E_TAMPERED');
    await reopened.close();
  });
});

describe('stats: the audit log', () => {
  it('counts what retention kept; verifyAudit walks the chain and finds an edited entry', async () => {
    let now = T0;
    const { store, path, key } = await freshStore({ now: () => now });
    for (let i = 0; i < 5; i++) await store.put(`s${i}`, 'v'); // entries 2..6, after the store's creation
    now = T0 + 10 * DAY;
    await store.pruneAudit({ before: T0 + DAY }); // removes 1..5 (6 is the last), then appends 7
    await store.put('late', 'v'); // 8
    const s = await store.stats({ verifyAudit: true });
    expect(s.audit).toEqual({ entries: 3, firstSeq: 6, lastSeq: 8, lastAt: new Date(T0 + 10 * DAY), prunedThrough: 5, chain: 'intact' });
    await store.close();

    sql(path, "UPDATE audit SET name = 'other' WHERE seq = 7");
    const reopened = await openStore(path, rawKey(key));
    expect((await reopened.stats()).audit.chain).toBe('unverified'); // cheap: the ends only
    const walked = (await reopened.stats({ verifyAudit: true })).audit;
    expect(walked).toMatchObject({ chain: 'broken', firstProblem: { seq: 7, problem: expect.stringMatching(/altered/) } });
    await reopened.close();
  });
});
