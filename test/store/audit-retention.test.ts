/**
 * Audit retention (issue 11): pruning the oldest entries keeps the rest
 * verifiable from an authenticated start, never prunes a damaged log, and
 * cannot be imitated by someone who deletes entries without the key.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, rawKey } from '../../src/index.js';
import { freshStore } from '../helpers/store.js';
import { runInProcess } from '../helpers/in-process.js';

/** A store whose log has entry k at time k × 1000 (init, then one per put). */
async function logged(n: number) {
  let t = 1000;
  const { store, path, key } = await freshStore({ now: () => t });
  for (let i = 0; i < n; i++) {
    t = (i + 2) * 1000;
    await store.put(`s${i}`, 'v');
  }
  t = 1e12;
  return { store, path, key };
}

function sql(path: string, text: string): void {
  const db = new Database(path);
  db.exec(text);
  db.close();
}

describe('store.pruneAudit', () => {
  it('removes the entries before the time, keeps the chain verifiable, and audits itself', async () => {
    const { store } = await logged(10); // init at 1000, puts at 2000 … 11000
    const r = await store.pruneAudit({ before: 5500 });
    expect(r).toEqual({ removed: 5, keptAfter: 5 });
    expect(await store.verifyAudit()).toMatchObject({ ok: true, keptAfter: 5, entries: 7 });
    const entries = [];
    for await (const e of store.auditEntries()) entries.push(e);
    expect(entries[0]!.seq).toBe(6);
    expect(entries.at(-1)).toMatchObject({ action: 'audit.prune', detail: expect.stringMatching(/removed 5 entries/) });
    await store.put('after', 'v'); // appends go on as before
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
    expect(await store.verify()).toMatchObject({ ok: true });
    // A second prune starts from the kept start; the newest entry is never removed.
    expect(await store.pruneAudit({ before: 1e15 })).toMatchObject({ keptAfter: 13 });
    expect(await store.verifyAudit()).toMatchObject({ ok: true, entries: 2 });
  });

  it('after a prune, an edit of what remains or entries removed without prune are still found', async () => {
    const { store, path, key } = await logged(8);
    await store.pruneAudit({ before: 4500 });
    await store.close();
    sql(path, "UPDATE audit SET name = 'forged' WHERE seq = 7");
    let s = await openStore(path, rawKey(key));
    expect(await s.verifyAudit()).toMatchObject({ ok: false, firstProblem: { seq: 7 } });
    await s.close();
    sql(path, "UPDATE audit SET name = 's5' WHERE seq = 7; DELETE FROM audit WHERE seq = 5");
    s = await openStore(path, rawKey(key));
    expect(await s.verifyAudit()).toMatchObject({ ok: false, firstProblem: { seq: 5 } });
    await s.close();
  });

  it('a damaged log is not pruned (damage cannot be pruned away), and nothing changes', async () => {
    const { store, path, key } = await logged(6);
    await store.close();
    sql(path, "UPDATE audit SET actor = 'someone' WHERE seq = 2");
    const s = await openStore(path, rawKey(key));
    await expect(s.pruneAudit({ before: 1e15 })).rejects.toMatchObject({ code: 'E_TAMPERED', message: expect.stringMatching(/not pruned/) });
    expect(await s.verifyAudit()).toMatchObject({ ok: false, firstProblem: { seq: 2 } });
    await s.close();
  });

  it('entries deleted from the start without the key (no authenticated start) are found', async () => {
    const { store, path, key } = await logged(6);
    await store.close();
    sql(path, 'DELETE FROM audit WHERE seq <= 3');
    const s = await openStore(path, rawKey(key));
    expect(await s.verifyAudit()).toMatchObject({ ok: false, firstProblem: { seq: 1, problem: expect.stringMatching(/missing/) } });
    await s.close();
  });
});

describe('store audit prune (CLI, in-process)', () => {
  it('--before 90d and an ISO time; --json; a bad time is a usage error', async () => {
    const { store, path, key } = await logged(3);
    await store.close();
    const keyFile = `${path}.key`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(keyFile, `${Buffer.from(key).toString('base64')}\n`, { mode: 0o600 });
    const cli = (args: string[]) => runInProcess(['--store', path, '--keyfile', keyFile, ...args]);
    const r = await cli(['audit', 'prune', '--before', '1d', '--json']);
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ removed: 3, keptAfter: 3 }); // every entry is from 1970 but the newest
    expect((await cli(['audit', 'verify'])).out).toMatch(/intact: 2 entries \(kept from entry 4/);
    expect((await cli(['audit', 'prune', '--before', 'yesterday'])).status).toBe(2);
  });
});
