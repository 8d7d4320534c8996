// Group commit of audited reads (src/store/audit-batch.ts): concurrent reads
// share write transactions, each still returns only once its entry is
// committed, a commit that fails fails every read in it, and a lone read
// commits at once. Commits are counted in the store's own -wal file
// (test/helpers/wal.ts); a second real connection holding SQLite's write
// lock makes reads queue deterministically.
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { openStore, rawKey, type AuditRecord, type Store } from '../../src/index.js';
import { MAX_BATCH_ENTRIES } from '../../src/store/audit-batch.js';
import { withAuditContext } from '../../src/store/audit-context.js';
import { freshStore } from '../helpers/store.js';
import { commitsDuring } from '../helpers/wal.js';

async function entries(store: Store, filter = {}): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries(filter)) out.push(e);
  return out;
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A store with secrets s0..s{n-1} (value `value-i`). */
async function storeWith(n: number) {
  const made = await freshStore();
  for (let i = 0; i < n; i++) await made.store.put(`s${i}`, `value-${i}`);
  return made;
}

/**
 * Another connection to the same file holds SQLite's write lock while `fn`
 * runs, so the store's first commit waits (polling) and what comes after it
 * queues; `fn`'s result, once the lock is let go with `release` (run inside
 * the other connection's transaction first).
 */
async function withWriteLockHeld<T>(path: string, fn: () => T, release?: (db: Database.Database) => void): Promise<Awaited<T>> {
  const other = new Database(path);
  try {
    other.exec('BEGIN IMMEDIATE');
    const pending = fn();
    await tick(100); // the reads run (WAL readers are not blocked) and their entries queue
    release?.(other);
    other.exec('COMMIT');
    return await pending;
  } finally {
    other.close();
  }
}

describe('audited reads are group-committed', () => {
  it('50 concurrent gets: 50 entries, a verifying chain, and far fewer than 50 commits', async () => {
    const { store, path } = await storeWith(50);
    const before = (await entries(store)).length;
    let values: string[] = [];
    const commits = await commitsDuring(path, async () => {
      values = (await Promise.all(Array.from({ length: 50 }, (_, i) => store.get(`s${i}`)))).map((s) => s.value.text());
    });
    expect(values).toEqual(Array.from({ length: 50 }, (_, i) => `value-${i}`));
    const after = await entries(store);
    const gets = after.slice(before);
    expect(gets).toHaveLength(50);
    expect(gets.every((e) => e.action === 'get' && e.outcome === 'ok' && e.versions?.join() === '1')).toBe(true);
    expect(new Set(gets.map((e) => e.name))).toEqual(new Set(Array.from({ length: 50 }, (_, i) => `s${i}`)));
    expect(commits).toBeGreaterThanOrEqual(1);
    expect(commits).toBeLessThanOrEqual(5);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('a lone read commits on its own at once: 5 reads one after another are 5 commits', async () => {
    const { store, path } = await storeWith(1);
    const commits = await commitsDuring(path, async () => {
      for (let i = 0; i < 5; i++) await store.get('s0');
    });
    expect(commits).toBe(5);
  });

  it("a server's requests (reads in an audit context, recorded requests), each begun by its own callback in one turn of the event loop, share one commit", async () => {
    const { store, path } = await storeWith(20);
    const before = (await entries(store)).length;
    let values: string[] = [];
    const commits = await commitsDuring(path, async () => {
      // As sockets' data callbacks do: each starts its request in a callback of its own, after the previous one's microtasks ran.
      const requests = Array.from({ length: 20 }, (_, i) => new Promise<string>((resolve, reject) => {
        setImmediate(() => {
          const read = withAuditContext({ detail: `GET /v1/secret/data/s${i}` }, () => store.get(`s${i}`));
          read.then((s) => resolve(s.value.text()), reject);
        });
      }));
      const recorded = new Promise<void>((resolve, reject) => {
        setImmediate(() => store.recordRequest({ action: 'http.test', outcome: 'E_PERMISSION_DENIED' }).then(resolve, reject));
      });
      values = await Promise.all(requests);
      await recorded;
    });
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `value-${i}`));
    expect(commits).toBe(1);
    const added = (await entries(store)).slice(before);
    expect(added).toHaveLength(21);
    expect(added.filter((e) => e.action === 'get').map((e) => e.detail).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `[GET /v1/secret/data/s${i}]`).sort());
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('the same reads without an audit context (a library caller) each commit at once', async () => {
    const { store, path } = await storeWith(5);
    const commits = await commitsDuring(path, () => Promise.all(Array.from({ length: 5 }, (_, i) => new Promise<void>((resolve, reject) => {
      setImmediate(() => store.get(`s${i}`).then(() => resolve(), reject));
    }))));
    expect(commits).toBe(5);
  });

  it('reads made while a commit waits all go into the next one: 21 reads, exactly 2 commits', async () => {
    const { store, path } = await storeWith(21);
    const commits = await commitsDuring(path, () =>
      withWriteLockHeld(path, () => Promise.all(Array.from({ length: 21 }, (_, i) => store.get(`s${i}`)))));
    expect(commits).toBe(2);
    const gets = await entries(store, { action: 'get' });
    expect(gets).toHaveLength(21);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('a flood of reads is cut into commits of at most MAX_BATCH_ENTRIES entries', async () => {
    const { store, path } = await storeWith(1);
    const n = MAX_BATCH_ENTRIES + 2;
    const before = (await entries(store)).length;
    const commits = await commitsDuring(path, () =>
      withWriteLockHeld(path, () => Promise.all(Array.from({ length: n }, () => store.get('s0')))));
    expect(commits).toBe(3); // the first alone, then MAX_BATCH_ENTRIES, then 1
    expect(await entries(store, { action: 'get' })).toHaveLength(n);
    expect(await store.verifyAudit()).toMatchObject({ ok: true, entries: before + n });
  });

  it('history, list, getMetadata and failed reads share the batches too, each entry as it would be alone', async () => {
    const { store, path } = await storeWith(3);
    let results: PromiseSettledResult<unknown>[] = [];
    const commits = await commitsDuring(path, async () => {
      results = await withWriteLockHeld(path, () => Promise.allSettled([
        store.get('s0'), store.history('s1'), store.list({ pattern: 's*' }), store.getMetadata('s2'), store.get('missing'),
      ]));
    });
    expect(commits).toBe(2);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((results[4] as PromiseRejectedResult).reason).toMatchObject({ code: 'E_NOT_FOUND' });
    const reads = new Set(['get', 'history', 'list', 'metadata.get']);
    const logged = (await entries(store)).filter((e) => reads.has(e.action)).map((e) => [e.action, e.name ?? null, e.outcome, e.detail ?? null]);
    expect(logged).toHaveLength(5);
    expect(logged).toEqual(expect.arrayContaining([
      ['get', 's0', 'ok', null], ['history', 's1', 'ok', null], ['list', null, 'ok', 's*'], ['metadata.get', 's2', 'ok', null],
      ['get', 'missing', 'E_NOT_FOUND', null],
    ]));
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('a commit that fails fails every read in it: no value leaves, and no entry is written', async () => {
    const { store, path } = await storeWith(20);
    const before = await entries(store);
    // While the reads wait, the other connection cuts the last entry off the log: the store refuses to chain onto a cut log.
    const results = await withWriteLockHeld(path,
      () => Promise.allSettled(Array.from({ length: 20 }, (_, i) => store.get(`s${i}`))),
      (db) => db.exec('DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)'));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 'E_TAMPERED' });
    const after = await entries(store);
    expect(after).toHaveLength(before.length - 1); // the cut entry, and nothing added
    expect(after.some((e) => e.action === 'get')).toBe(false);
  });

  it('close waits for the reads whose entries are queued: each returns its value, its entry committed', async () => {
    const { store, path, key } = await storeWith(10);
    const other = new Database(path);
    let closed: Promise<void>;
    let reads: Promise<unknown>;
    try {
      other.exec('BEGIN IMMEDIATE');
      reads = Promise.all(Array.from({ length: 10 }, (_, i) => store.get(`s${i}`)));
      await tick(100); // every read has read its value; their entries wait for the lock
      closed = store.close();
      await tick(20);
      other.exec('COMMIT');
    } finally {
      other.close();
    }
    await expect(reads).resolves.toHaveLength(10);
    await closed;
    await expect(store.get('s0')).rejects.toMatchObject({ code: 'E_CLOSED' });
    const again = await openStore(path, rawKey(key));
    try {
      expect((await entries(again, { action: 'get' })).map((e) => e.name).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `s${i}`).sort());
      expect(await again.verifyAudit()).toMatchObject({ ok: true });
    } finally {
      await again.close();
    }
  });
});
