/**
 * The Store's rules (src/store/store.ts) over the operations that used to
 * reach the store's context from outside it: imports are changes (a failed
 * one is audited, the read cache is dropped, a read-only store refuses them
 * first), a policy change is a change, and the functions that take a store
 * are the methods, reporting one event each.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  backupStore, collectStats, dueAmong, dueSecrets, expiryOf, exportPlain, exportStore, importBundle, importPlain, openStore,
  policyStatus, rawKey, rotateValue, setPolicy, verifyStore, type AuditRecord, type Store, type StoreEvent,
} from '../../src/index.js';
import { codeOfAsync } from '../helpers/errors.js';
import { freshStore } from '../helpers/store.js';

async function audited(store: Store, action: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries({ action })) out.push(e);
  return out;
}

/** A v1 bundle of one secret `app/db` = `from-bundle`, under a raw 32-byte key. */
async function bundleOf(dir: string): Promise<{ file: string; key: Uint8Array }> {
  const { store: src } = await freshStore();
  await src.put('app/db', 'from-bundle');
  const key = new Uint8Array(randomBytes(32));
  const file = join(dir, 'b.sbx');
  await src.exportBundle(file, { key: { key } });
  return { file, key };
}

describe('imports are changes', () => {
  it('a failed import is recorded in the audit log (refused input is not)', async () => {
    const { store, dir } = await freshStore();
    const { file } = await bundleOf(dir);
    expect(await codeOfAsync(() => store.importBundle(file, { key: { key: new Uint8Array(32) } }))).toBe('E_WRONG_MASTER_KEY');
    const json = join(dir, 'bad.json');
    writeFileSync(json, JSON.stringify({ 'bad name!': 'x' }));
    expect(await codeOfAsync(() => store.importPlain(json))).toBe('E_INVALID_IMPORT');
    // Refused before the store is touched, as a put's bad option is: not recorded.
    expect(await codeOfAsync(() => store.importPlain(json, { onConflict: 'sideways' as 'skip' }))).toBe('E_USAGE');

    const entries = await audited(store, 'import');
    expect(entries.map((e) => [e.outcome, e.name, e.versions, e.detail])).toEqual([
      ['E_WRONG_MASTER_KEY', undefined, undefined, undefined],
      ['E_INVALID_IMPORT', undefined, undefined, undefined],
    ]);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
  });

  it('the read cache is dropped after an import, and after a failed one', async () => {
    const { store, dir } = await freshStore({ cache: { ttlMs: 60_000 } });
    const { file, key } = await bundleOf(dir);
    await store.put('app/db', 'mine');
    await store.put('app/other', 'kept');
    expect((await store.get('app/db')).value.text()).toBe('mine');
    expect((await store.get('app/other')).value.text()).toBe('kept');
    expect(store.cacheStats()!.size).toBe(2);

    expect(await codeOfAsync(() => store.importBundle(file, { key: { key: new Uint8Array(32) } }))).toBe('E_WRONG_MASTER_KEY');
    expect(store.cacheStats()!.size).toBe(0);
    await store.get('app/db');
    expect(store.cacheStats()!.size).toBe(1);

    // A dry run changes nothing and keeps the cache.
    await store.importBundle(file, { key: { key }, onConflict: 'overwrite', dryRun: true });
    expect(store.cacheStats()!.size).toBe(1);

    await store.importBundle(file, { key: { key }, onConflict: 'overwrite' });
    expect(store.cacheStats()!.size).toBe(0);
    const misses = store.cacheStats()!.misses;
    expect((await store.get('app/db')).value.text()).toBe('from-bundle');
    expect(store.cacheStats()!.misses).toBe(misses + 1); // read from the file, not served stale from memory
  });

  it('a read-only store refuses an import before reading the file, unrecorded; a dry run still reads', async () => {
    const { store: writer, dir, path, key } = await freshStore();
    await writer.put('app/db', 'mine');
    const json = join(dir, 'in.json');
    writeFileSync(json, JSON.stringify({ 'app/new': 'x' }));
    const missing = join(dir, 'no-such.json');
    const ro = await openStore(path, rawKey(key), { readOnly: true });
    onTestFinished(() => ro.close());
    const seqBefore = (await writer.auditSummary()).lastSeq;

    const e = await ro.importPlain(missing).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_READ_ONLY', message: expect.stringContaining('cannot change the store') });
    expect(await ro.importPlain(json, { dryRun: true })).toMatchObject({ dryRun: true, created: ['app/new'] });
    expect((await writer.auditSummary()).lastSeq).toBe(seqBefore);
    expect((await writer.list()).map((s) => s.name)).toEqual(['app/db']);
  });
});

describe('policy changes are changes', () => {
  it('a policy set on a missing secret is recorded as a failed metadata change, even with reads not audited', async () => {
    const { store } = await freshStore();
    await store.setConfig('audit.reads', 'false');
    expect(await codeOfAsync(() => store.setPolicy('app/none', { rotateEveryMs: 1000 }))).toBe('E_NOT_FOUND');
    expect(await codeOfAsync(() => store.setPolicy('app/none', { rotateEveryMs: -1 }))).toBe('E_USAGE'); // refused input: not recorded
    expect((await audited(store, 'metadata.set')).map((e) => [e.outcome, e.name])).toEqual([['E_NOT_FOUND', 'app/none']]);
  });

  it('a value rotation of a missing secret is recorded as a failed put', async () => {
    const { store } = await freshStore();
    expect(await codeOfAsync(() => store.rotateValue('app/none', 'v'))).toBe('E_NOT_FOUND');
    expect((await audited(store, 'put')).map((e) => [e.outcome, e.name])).toEqual([['E_NOT_FOUND', 'app/none']]);
  });
});

describe('the functions that take a store call its methods', () => {
  it('each gives the method\'s result and reports one event under the method\'s operation', async () => {
    const events: StoreEvent[] = [];
    const { store, dir } = await freshStore({ onEvent: (e) => void events.push(e) });
    await store.put('app/db', 'v1');
    const later = Date.now() + 5000; // one instant for all: dueSecrets and dueAmong must agree to the millisecond
    const calls: [string, () => Promise<unknown>][] = [
      ['backupStore', () => backupStore(store, join(dir, 'backup.db'))],
      ['verifyStore', () => verifyStore(store)],
      ['exportStore', () => exportStore(store, join(dir, 'out.sbx'), { key: { key: new Uint8Array(32).fill(1) } })],
      ['importBundle', () => importBundle(store, join(dir, 'out.sbx'), { key: { key: new Uint8Array(32).fill(1) }, onConflict: 'skip' })],
      ['exportPlain', () => exportPlain(store, join(dir, 'out.json'), { format: 'json' })],
      ['importPlain', () => importPlain(store, join(dir, 'out.json'), { onConflict: 'skip' })],
      ['setPolicy', () => setPolicy(store, 'app/db', { rotateEveryMs: 1000 })],
      ['rotateValue', () => rotateValue(store, 'app/db', 'v2')],
      ['policyStatus', () => policyStatus(store, 'app/db')],
      ['expiryOf', () => expiryOf(store, 'app/db')],
      ['dueSecrets', () => dueSecrets(store, later)],
      ['dueAmong', () => dueAmong(store, store.entries(), later)],
      ['stats', () => collectStats(store, later)],
    ];
    events.length = 0;
    const results: unknown[] = [];
    for (const [, call] of calls) results.push(await call());
    expect(events.map((e) => [e.operation, e.outcome])).toEqual(calls.map(([op]) => [op, 'ok']));
    expect(results[6]).toMatchObject({ custom: { 'strongbox.rotate-every': '1000' } });
    expect(results[10]).toEqual([expect.objectContaining({ name: 'app/db', expired: false })]);
    expect(results[10]).toEqual(results[11]);
    expect(results[12]).toMatchObject({ rotationOverdueSecrets: 1, secretsWithPolicy: 1 });
  });
});
