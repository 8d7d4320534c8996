/**
 * The read cache and writes by others, on a store file: another Store on
 * the same file (its own connection) and another process (the built CLI)
 * write, and the cached store's next get returns what they wrote, with a
 * TTL of an hour so expiry cannot be why. The PostgreSQL twin is
 * test/storage/postgres/cache.test.ts.
 */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createKeyFile, initStore, keyFile, openStore, type Store } from '../../src/index.js';
import { cliOk } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

const HOUR = 3_600_000;

/** A store file with app/db = one and app/other = x, written before the cached store opens. */
async function twoStores(auditReads = false): Promise<{ path: string; key: string; writer: Store; cached: Store }> {
  const dir = tempDir();
  const path = join(dir, 'store.db');
  const key = join(dir, 'master.key');
  createKeyFile(key);
  const writer = await initStore(path, keyFile(key));
  onTestFinished(() => writer.close());
  await writer.setConfig('audit.reads', String(auditReads));
  await writer.put('app/db', 'one');
  await writer.put('app/other', 'x');
  const cached = await openStore(path, keyFile(key), { cache: { ttlMs: HOUR } });
  onTestFinished(() => cached.close());
  return { path, key, writer, cached };
}

const text = async (store: Store, name: string) => (await store.get(name)).value.text();

describe('read cache on a store file, with other writers', () => {
  it("another Store's write is returned by the cached store's very next get, and hits resume after", async () => {
    const { writer, cached } = await twoStores();
    expect(await text(cached, 'app/db')).toBe('one');
    expect(await text(cached, 'app/other')).toBe('x');
    expect(await text(cached, 'app/db')).toBe('one');
    expect(cached.cacheStats()).toMatchObject({ hits: 1, misses: 2, changes: 0, size: 2 });

    await writer.put('app/db', 'two');
    expect(await text(cached, 'app/db')).toBe('two');
    // Every entry went (the cache cannot know which secret the other wrote), and is read again once.
    expect(cached.cacheStats()).toMatchObject({ hits: 1, misses: 3, changes: 1, invalidations: 2 });
    expect(await text(cached, 'app/db')).toBe('two');
    expect(await text(cached, 'app/other')).toBe('x');
    expect(await text(cached, 'app/other')).toBe('x');
    expect(cached.cacheStats()).toMatchObject({ hits: 3, misses: 4, changes: 1 });

    // Every kind of change shows: a delete, a metadata change, a destroy.
    await writer.delete('app/db');
    expect(await cached.get('app/db').then(() => 'read', (e: { code: string }) => e.code)).toBe('E_DELETED');
    await writer.undelete('app/db');
    expect(await text(cached, 'app/db')).toBe('two');
    await writer.destroy('app/other', [1]);
    expect(await cached.get('app/other').then(() => 'read', (e: { code: string }) => e.code)).toBe('E_DESTROYED');
  });

  it("the cached store's own write drops only that secret's entries; any commit of another process drops them all", async () => {
    const { writer, cached } = await twoStores(true);
    await text(cached, 'app/db');
    await text(cached, 'app/other');
    expect(await text(cached, 'app/db')).toBe('one');
    expect(cached.cacheStats()).toMatchObject({ hits: 1, changes: 0 });
    // Its own write drops only that secret's entries.
    await cached.put('app/db', 'two');
    expect(await text(cached, 'app/other')).toBe('x');
    expect(cached.cacheStats()).toMatchObject({ hits: 2, changes: 0 });
    expect(await text(cached, 'app/db')).toBe('two');
    // Another process's audited read commits an audit entry. A file cannot show that nothing a read
    // returns changed (a change undone leaves the same digest), so everything is read again.
    expect(await text(writer, 'app/db')).toBe('two');
    expect(await text(cached, 'app/other')).toBe('x');
    expect(cached.cacheStats()).toMatchObject({ hits: 2, changes: 1 }); // a miss: read again
  });

  it("another process's write (the CLI's) is returned by the cached store's next get", async () => {
    const { path, key, cached } = await twoStores();
    expect(await text(cached, 'app/db')).toBe('one');
    expect(await text(cached, 'app/db')).toBe('one');
    expect(cached.cacheStats()).toMatchObject({ hits: 1 });
    cliOk(['--store', path, '--keyfile', key, 'set', 'app/db'], { input: 'from the CLI' });
    expect(await text(cached, 'app/db')).toBe('from the CLI');
    expect(cached.cacheStats()).toMatchObject({ hits: 1, changes: 1 });
  });
});
