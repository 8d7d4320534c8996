/** The onEvent hook (src/store/events.ts): one event per Store method call, never a value. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openStore, rawKey, type StoreEvent } from '../../src/index.js';
import { codeOfAsync } from '../helpers/errors.js';
import { freshStore } from '../helpers/store.js';

async function recorded(cache?: { ttlMs: number }) {
  const events: StoreEvent[] = [];
  const { store, dir, path, key } = await freshStore({ onEvent: (e) => void events.push(e), ...(cache ? { cache } : {}) });
  return { events, store, dir, path, key };
}

/** Collect process warnings for the rest of the test. */
function warnings(): Error[] {
  const seen: Error[] = [];
  const listener = (w: Error) => void seen.push(w);
  process.on('warning', listener);
  onTestFinished(() => void process.off('warning', listener));
  return seen;
}

describe('onEvent', () => {
  it('reports each call once: operation, name, duration and outcome', async () => {
    const { events, store } = await recorded({ ttlMs: 60_000 });
    await store.put('app/db', 'v1');
    await store.get('app/db');
    await store.get('app/db');
    await store.get('app/db', { version: 1 });
    await store.history('app/db');
    await store.list();
    await store.getMetadata('app/db');
    await store.setMetadata('app/db', { custom: { owner: 'ops' } });
    await store.rollback('app/db', 1);
    await store.delete('app/db');
    await store.undelete('app/db');
    await store.destroy('app/db', [1]);
    await store.status();
    await store.keys();
    await store.rotateKeys();
    await store.verifyAudit();
    await store.getConfig('audit.reads');
    await store.setConfig('audit.reads', 'true');
    await store.purge('app/db');

    expect(events.map((e) => [e.operation, e.name, e.outcome, e.cached])).toEqual([
      ['put', 'app/db', 'ok', undefined],
      ['get', 'app/db', 'ok', false],
      ['get', 'app/db', 'ok', true],
      ['get', 'app/db', 'ok', false],
      ['history', 'app/db', 'ok', undefined],
      ['list', undefined, 'ok', undefined],
      ['getMetadata', 'app/db', 'ok', undefined],
      ['setMetadata', 'app/db', 'ok', undefined],
      ['rollback', 'app/db', 'ok', undefined],
      ['delete', 'app/db', 'ok', undefined],
      ['undelete', 'app/db', 'ok', undefined],
      ['destroy', 'app/db', 'ok', undefined],
      ['status', undefined, 'ok', undefined],
      ['keys', undefined, 'ok', undefined],
      ['rotateKeys', undefined, 'ok', undefined],
      ['verifyAudit', undefined, 'ok', undefined],
      ['getConfig', undefined, 'ok', undefined],
      ['setConfig', undefined, 'ok', undefined],
      ['purge', 'app/db', 'ok', undefined],
    ]);
    for (const e of events) {
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(e.durationMs)).toBe(true);
      expect('name' in e).toBe(e.name !== undefined);
    }
  });

  it('reports the functions that take a Store: backup, verify, export, import', async () => {
    const { events, store, dir } = await recorded();
    await store.put('app/db', 'v1');
    events.length = 0;
    await store.backup(join(dir, 'backup.db'));
    expect(await codeOfAsync(() => store.backup(join(dir, 'backup.db')))).toBe('E_STORE_EXISTS');
    await store.verify();
    await store.exportPlain(join(dir, 'out.json'), { format: 'json' });
    await store.importPlain(join(dir, 'out.json'), { onConflict: 'new-version' });
    expect(events.map((e) => [e.operation, e.name, e.outcome])).toEqual([
      ['backupStore', undefined, 'ok'],
      ['backupStore', undefined, 'E_STORE_EXISTS'],
      ['verifyStore', undefined, 'ok'],
      ['exportPlain', undefined, 'ok'],
      ['importPlain', undefined, 'ok'],
    ]);
  });

  it('reports a failure by its error code; a name that is not a valid name is left out', async () => {
    const { events, store } = await recorded();
    expect(await codeOfAsync(() => store.get('missing'))).toBe('E_NOT_FOUND');
    expect(await codeOfAsync(() => store.put('not a name: hunter2', 'x'))).toBe('E_INVALID_NAME');
    expect(await codeOfAsync(() => store.destroy('missing', [1]))).toBe('E_NOT_FOUND');
    await store.close();
    expect(await codeOfAsync(() => store.history('missing'))).toBe('E_CLOSED');
    expect(events.map((e) => [e.operation, e.name, e.outcome])).toEqual([
      ['get', 'missing', 'E_NOT_FOUND'],
      ['put', undefined, 'E_INVALID_NAME'],
      ['destroy', 'missing', 'E_NOT_FOUND'],
      ['history', 'missing', 'E_CLOSED'],
    ]);
    expect(events[1]).not.toHaveProperty('name');
  });

  it('a hook that throws or rejects changes nothing; the first failure is one process warning', async () => {
    const seen = warnings();
    let calls = 0;
    const { store, path, key } = await freshStore({
      onEvent: () => {
        calls++;
        throw new Error('hook failure with text that is not ours to print');
      },
    });
    expect((await store.put('a', 'one')).version).toBe(1);
    expect((await store.get('a')).value.text()).toBe('one');
    expect(await codeOfAsync(() => store.get('b'))).toBe('E_NOT_FOUND'); // the operation's own error, not the hook's
    expect(calls).toBe(3);

    const rejecting = await openStore(path, rawKey(key), { onEvent: () => Promise.reject(new TypeError('async hook failure')) as unknown as void });
    onTestFinished(() => rejecting.close());
    expect((await rejecting.get('a')).value.text()).toBe('one');
    await new Promise((r) => setImmediate(r)); // after the rejection handler and the warning (a nextTick)

    const ours = seen.filter((w) => (w as Error & { code?: string }).code === 'STRONGBOX_EVENT_HOOK');
    expect(ours.map((w) => w.message)).toEqual([
      'the onEvent hook threw (Error); the operation went on, and later failures of the hook are ignored',
      'the onEvent hook threw (TypeError); the operation went on, and later failures of the hook are ignored',
    ]);
  });

  it('never carries a value', async () => {
    const marker = 'MARKER:5e1f0c2a'; // not a valid name, as a value is not
    const markerHex = Buffer.from(marker).toString('hex');
    const { events, store, dir } = await recorded({ ttlMs: 60_000 });
    await store.put('app/key', marker);
    await store.put('app/key', `${marker}-2`);
    await store.get('app/key');
    await store.get('app/key');
    await store.get('app/key', { version: 1 });
    await store.rollback('app/key', 1);
    await store.rotateValue('app/key', `${marker}-3`);
    const file = join(dir, 'import.json');
    writeFileSync(file, JSON.stringify({ 'app/other': marker }));
    await store.importPlain(file);
    await store.get('app/other');
    await store.list();
    await store.history('app/key');
    await store.getMetadata('app/key');
    await codeOfAsync(() => store.put(marker, marker)); // a value typed where the name goes

    expect(events.length).toBeGreaterThan(10);
    const all = JSON.stringify(events);
    expect(all).not.toContain(marker);
    expect(all).not.toContain(markerHex);
    for (const e of events) expect(Object.keys(e).every((k) => ['operation', 'name', 'durationMs', 'outcome', 'cached'].includes(k))).toBe(true);
  });

  it('refuses an onEvent that is not a function', async () => {
    expect(await codeOfAsync(() => freshStore({ onEvent: 'log' as unknown as () => void }))).toBe('E_USAGE');
  });
});
