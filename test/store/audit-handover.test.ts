// A request's audit context handed to a read directly (handOverAuditContext,
// what `store serve` does on its KV read path instead of entering
// AsyncLocalStorage): the read's entry, or its failure's, carries the request
// as withAuditContext's would; the context lasts only for the synchronous
// start of the call; reads started together share one commit.
import { describe, expect, it } from 'vitest';
import { type AuditRecord, type Store } from '../../src/index.js';
import { currentAuditContext, handOverAuditContext, type AuditContext } from '../../src/store/audit-context.js';
import { freshStore } from '../helpers/store.js';
import { commitsDuring } from '../helpers/wal.js';

async function entries(store: Store): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries({})) out.push(e);
  return out;
}

async function storeWith(n: number) {
  const made = await freshStore();
  for (let i = 0; i < n; i++) await made.store.put(`s${i}`, `value-${i}`);
  return made;
}

describe('handOverAuditContext', () => {
  it("a read's entry and a failed read's entry carry the request handed over, and are counted", async () => {
    const { store } = await storeWith(1);
    const before = (await entries(store)).length;
    const ctx: AuditContext = { detail: 'accessor=a1 from=127.0.0.1 GET /v1/secret/data/s0', recorded: 0 };
    const entry = await handOverAuditContext(ctx, () => store.getEntry('s0'));
    expect(entry.value?.text()).toBe('value-0');
    await expect(handOverAuditContext(ctx, () => store.getEntry('nope'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    const added = (await entries(store)).slice(before);
    expect(added.map((e) => [e.action, e.name, e.outcome, e.detail])).toEqual([
      ['get', 's0', 'ok', '[accessor=a1 from=127.0.0.1 GET /v1/secret/data/s0]'],
      ['get', 'nope', 'E_NOT_FOUND', '[accessor=a1 from=127.0.0.1 GET /v1/secret/data/s0]'],
    ]);
    expect(ctx.recorded).toBe(2);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('the context lasts only for the synchronous start: a read begun after an await, or after the call, has none', async () => {
    const { store } = await storeWith(1);
    const before = (await entries(store)).length;
    const ctx: AuditContext = { detail: 'GET /v1/secret/data/s0', recorded: 0 };
    let inside: string | undefined = 'unset';
    await handOverAuditContext(ctx, async () => {
      await Promise.resolve();
      inside = currentAuditContext();
      await store.get('s0');
    });
    await store.get('s0');
    expect(inside).toBeUndefined();
    const added = (await entries(store)).slice(before);
    expect(added.map((e) => e.detail ?? null)).toEqual([null, null]);
    expect(ctx.recorded).toBe(0);
  });

  it('reads started together, each with its own request, share one commit made in their turn, and keep their own request', async () => {
    const { store, path } = await storeWith(17);
    const before = (await entries(store)).length;
    let values: string[] = [];
    const read = (i: number) => handOverAuditContext({ detail: `GET /v1/secret/data/s${i}` }, () => store.get(`s${i}`)).then((s) => s.value.text());
    const commits = await commitsDuring(path, async () => {
      // As a server's requests of one turn: all started from one callback, after its once-a-turn check; one more the next turn.
      values = await new Promise<string[]>((resolve, reject) => {
        setImmediate(() => {
          const next = new Promise<string>((done, fail) => setImmediate(() => read(16).then(done, fail)));
          Promise.all([...Array.from({ length: 16 }, (_, i) => read(i)), next]).then(resolve, reject);
        });
      });
    });
    expect(values).toEqual(Array.from({ length: 17 }, (_, i) => `value-${i}`));
    // The turn's 16 do not wait for the next turn: its read commits on its own.
    expect(commits).toBe(2);
    const added = (await entries(store)).slice(before);
    expect(added.map((e) => `${e.name} ${e.detail}`).sort()).toEqual(Array.from({ length: 17 }, (_, i) => `s${i} [GET /v1/secret/data/s${i}]`).sort());
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });
});
