// withAuditContext (src/store/audit-context.ts): every entry appended while
// its function runs carries the request's description, reads group-committed
// on its behalf included, and concurrent requests each keep their own.
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { MAX_AUDIT_CONTEXT_CHARS, withAuditContext, type AuditRecord, type Store } from '../../src/index.js';
import { freshStore } from '../helpers/store.js';

async function entries(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries()) out.push(e);
  return out;
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('withAuditContext', () => {
  it('tags the entries of get, put, list, metadata and failures inside it, and none outside', async () => {
    const { store } = await freshStore();
    await store.put('outside/before', 'v0');
    const returned = await withAuditContext({ detail: 'accessor=acc1 remote=127.0.0.1 GET /v1/secret/data/app' }, async () => {
      await store.put('app/db', 'v1');
      await store.get('app/db');
      await store.list({ pattern: 'app/*' });
      await store.setMetadata('app/db', { maxVersions: 5 });
      await expect(store.get('app/missing')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      await expect(store.put('app/db', 'v2', { cas: 9 })).rejects.toMatchObject({ code: 'E_CAS_MISMATCH' });
      return 'result';
    });
    expect(returned).toBe('result');
    await store.get('outside/before');
    const log = (await entries(store)).map((e) => [e.action, e.name ?? null, e.outcome, e.detail ?? null]);
    const ctx = '[accessor=acc1 remote=127.0.0.1 GET /v1/secret/data/app]';
    expect(log.slice(-8)).toEqual([
      ['put', 'outside/before', 'ok', null],
      ['put', 'app/db', 'ok', ctx],
      ['get', 'app/db', 'ok', ctx],
      ['list', null, 'ok', `app/* ${ctx}`],
      ['metadata.set', 'app/db', 'ok', `maxVersions=5 ${ctx}`],
      ['get', 'app/missing', 'E_NOT_FOUND', ctx],
      ['put', 'app/db', 'E_CAS_MISMATCH', ctx],
      ['get', 'outside/before', 'ok', null],
    ]);
    // The actor stays the process's OS user.
    const actors = new Set((await entries(store)).map((e) => `${e.actor}/${e.pid}`));
    expect(actors.size).toBe(1);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('two interleaved requests each tag only their own entries, even in one shared commit', async () => {
    const { store, path } = await freshStore();
    for (const who of ['a', 'b']) for (let i = 0; i < 5; i++) await store.put(`${who}/s${i}`, `value-${who}-${i}`);
    const before = (await entries(store)).length;
    const flow = (who: string) => withAuditContext({ detail: `request ${who}` }, async () => {
      for (let i = 0; i < 5; i++) {
        await tick(who === 'a' ? 1 : 2); // interleave the two flows
        await Promise.all([store.get(`${who}/s${i}`), store.history(`${who}/s${i}`)]);
      }
      await store.put(`${who}/s0`, 'again');
    });
    // A second connection holds the write lock for a while: reads of both flows queue into shared commits.
    const other = new Database(path);
    try {
      other.exec('BEGIN IMMEDIATE');
      const both = Promise.all([flow('a'), flow('b')]);
      await tick(50);
      other.exec('COMMIT');
      await both;
    } finally {
      other.close();
    }
    const tagged = (await entries(store)).slice(before);
    expect(tagged).toHaveLength(2 * 11);
    for (const e of tagged) expect(e.detail).toBe(`[request ${e.name!.slice(0, 1)}]`);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('a nested context replaces the outer one for its extent; an empty detail means none', async () => {
    const { store } = await freshStore();
    await store.put('x', 'v');
    await withAuditContext({ detail: 'outer' }, async () => {
      await withAuditContext({ detail: 'inner' }, () => store.get('x'));
      await store.get('x');
      await withAuditContext({ detail: '' }, () => store.get('x'));
    });
    expect((await entries(store)).slice(-3).map((e) => e.detail ?? null)).toEqual(['[inner]', '[outer]', null]);
  });

  it('keeps at most MAX_AUDIT_CONTEXT_CHARS of the detail and escapes control characters', async () => {
    const { store } = await freshStore();
    await store.put('x', 'v');
    await withAuditContext({ detail: 'GET /v1/a\nseq 99 forged\u2028line\x7f' }, () => store.get('x'));
    await withAuditContext({ detail: 'y'.repeat(5000) }, () => store.get('x'));
    await withAuditContext({ detail: `${'z'.repeat(MAX_AUDIT_CONTEXT_CHARS - 2)}😀😀` }, () => store.get('x'));
    const [escaped, long, emoji] = (await entries(store)).slice(-3).map((e) => e.detail!);
    expect(escaped).toBe('[GET /v1/a\\x0aseq 99 forged\\u2028line\\x7f]');
    expect(long).toBe(`[${'y'.repeat(MAX_AUDIT_CONTEXT_CHARS - 1)}…]`);
    // Cut before the emoji rather than through it.
    expect(emoji).toBe(`[${'z'.repeat(MAX_AUDIT_CONTEXT_CHARS - 2)}…]`);
    expect(Buffer.from(emoji!, 'utf8').toString('utf8')).toBe(emoji); // no lone surrogate
  });

  it('refuses a context without a string detail (E_USAGE)', () => {
    expect(() => withAuditContext({} as { detail: string }, () => 1)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => withAuditContext({ detail: 'x' }, 'no' as unknown as () => number)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(withAuditContext({ detail: 'x' }, () => 42)).toBe(42);
  });
});
