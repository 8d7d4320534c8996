// Store.recordRequest: one audit entry for a request a server answered
// without a store operation, group-committed, in the order asked, with the
// request context; malformed records and read-only stores are refused.
import { describe, expect, it } from 'vitest';
import { openStore, rawKey, withAuditContext, type AuditRecord, type Store, type StoreEvent } from '../../src/index.js';
import { freshStore } from '../helpers/store.js';

async function entries(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries()) out.push(e);
  return out;
}

const brief = (e: AuditRecord) => [e.action, e.name ?? null, e.outcome, e.detail ?? null];

describe('Store.recordRequest', () => {
  it('appends one entry per record, in the order asked, concurrent ones too', async () => {
    const { store } = await freshStore();
    const before = (await entries(store)).length;
    await store.recordRequest({ action: 'auth.token.lookup', outcome: 'ok' });
    await store.recordRequest({ action: 'request.denied', name: 'app/db', outcome: 'E_PERMISSION_DENIED', detail: 'policy default' });
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.recordRequest({ action: 'request', outcome: 'ok', detail: `n=${i}` })));
    const log = (await entries(store)).slice(before);
    expect(log.map(brief)).toEqual([
      ['auth.token.lookup', null, 'ok', null],
      ['request.denied', 'app/db', 'E_PERMISSION_DENIED', 'policy default'],
      ...Array.from({ length: 10 }, (_, i) => ['request', null, 'ok', `n=${i}`]),
    ]);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 12 }, (_, i) => before + 1 + i));
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('carries the request context after its own detail', async () => {
    const { store } = await freshStore();
    await withAuditContext({ detail: 'remote=::1 LIST /v1/secret/metadata/' }, () =>
      store.recordRequest({ action: 'request.denied', outcome: 'E_PERMISSION_DENIED', detail: 'no policy allows list' }));
    const [last] = (await entries(store)).slice(-1);
    expect(last!.detail).toBe('no policy allows list [remote=::1 LIST /v1/secret/metadata/]');
  });

  it('refuses malformed records before logging anything (E_USAGE, E_INVALID_NAME)', async () => {
    const { store } = await freshStore();
    const before = (await entries(store)).length;
    const bad: [unknown, string][] = [
      [{ action: 'Request Denied', outcome: 'ok' }, 'E_USAGE'],
      [{ action: '', outcome: 'ok' }, 'E_USAGE'],
      [{ action: 'request', outcome: 'denied' }, 'E_USAGE'],
      [{ action: 'request', outcome: 'ok', detail: 42 }, 'E_USAGE'],
      [{ action: 'request', outcome: 'ok', name: 'API_KEY=s3cr3t' }, 'E_INVALID_NAME'],
      [null, 'E_USAGE'],
    ];
    for (const [record, code] of bad) {
      await expect(store.recordRequest(record as Parameters<Store['recordRequest']>[0])).rejects.toMatchObject({ code });
    }
    expect(await entries(store)).toHaveLength(before);
  });

  it('caps its detail like a context detail, control characters escaped', async () => {
    const { store } = await freshStore();
    await store.recordRequest({ action: 'request', outcome: 'ok', detail: `a\tb${'c'.repeat(1000)}` });
    const [last] = (await entries(store)).slice(-1);
    expect(last!.detail).toMatch(/^a\\x09bc+…$/);
    expect(last!.detail!.length).toBe(512);
  });

  it('is refused on a read-only store (E_READ_ONLY) and on a closed one (E_CLOSED)', async () => {
    const { store, path, key } = await freshStore();
    await store.close();
    await expect(store.recordRequest({ action: 'request', outcome: 'ok' })).rejects.toMatchObject({ code: 'E_CLOSED' });
    const ro = await openStore(path, rawKey(key), { readOnly: true });
    try {
      await expect(ro.recordRequest({ action: 'request', outcome: 'ok' })).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    } finally {
      await ro.close();
    }
    const again = await openStore(path, rawKey(key));
    try {
      expect((await entries(again)).some((e) => e.action === 'request')).toBe(false);
    } finally {
      await again.close();
    }
  });

  it('is reported to the onEvent hook as recordRequest', async () => {
    const { path, key, store: first } = await freshStore();
    await first.close();
    const events: StoreEvent[] = [];
    const store = await openStore(path, rawKey(key), { onEvent: (e) => events.push(e) });
    try {
      await store.recordRequest({ action: 'request', name: 'app/db', outcome: 'ok' });
    } finally {
      await store.close();
    }
    expect(events).toEqual([expect.objectContaining({ operation: 'recordRequest', name: 'app/db', outcome: 'ok' })]);
  });
});
