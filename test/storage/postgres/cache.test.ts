/**
 * The read cache on PostgreSQL with writes by other hosts: another Store
 * with its own pool, and another process (the built CLI), write; the
 * cached store learns of it from the server's notification, long before
 * its TTL of an hour (NOTICE_MS at most, on a loaded test machine; a
 * notification arrives after its commit, not with it). Audit-only
 * writes (another host's audited reads) and its own writes do not empty it.
 * A lost listening connection means no cached reads until it is back, and
 * one that died without a word is found out by its heartbeat.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createKeyFile, initStore, keyFile, openStore, type Store } from '../../../src/index.js';
import { CLI, cleanEnv } from '../../cli/run-cli.js';
import { asAdmin, freshDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { proxyTo } from '../../helpers/tcp-proxy.js';
import { HEARTBEAT_MS, HEARTBEAT_TIMEOUT_MS } from '../../../src/storage/postgres/changes.js';
import { tempDir } from '../../helpers/tmp.js';

const HOUR = 3_600_000;
/** How long a notification may take here at most (a loaded test machine); the TTL is 720 times that. */
const NOTICE_MS = 5_000;

async function twoHosts(auditReads = false): Promise<{ db: TestDatabase; key: string; writer: Store; cached: Store }> {
  const db = await freshDatabase();
  const key = join(tempDir(), 'master.key');
  createKeyFile(key);
  const writer = await initStore(db.url, keyFile(key));
  onTestFinished(() => writer.close());
  await writer.setConfig('audit.reads', String(auditReads));
  await writer.put('app/db', 'one');
  await writer.put('app/other', 'x');
  const cached = await openStore(db.url, keyFile(key), { cache: { ttlMs: HOUR } });
  onTestFinished(() => cached.close());
  await listening(cached);
  return { db, key, writer, cached };
}

/** Wait until `fn` holds, checking every few ms; fail after `ms`. */
async function until(what: string, fn: () => boolean | Promise<boolean>, ms = NOTICE_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const text = async (store: Store, name: string) => (await store.get(name)).value.text();

/**
 * Until the store serves hits: its listening connection is up (a get of a
 * cached name is a hit). A listener made again after a loss may first sit
 * out its pause between tries (5 s at most), so this waits that much more.
 */
async function listening(store: Store): Promise<void> {
  await text(store, 'app/db');
  await until('the cache serves hits', async () => {
    const hits = store.cacheStats()!.hits;
    await text(store, 'app/db');
    return store.cacheStats()!.hits > hits;
  }, 5_000 + NOTICE_MS);
}

/** Until the cached store's get of `name` returns `want` (a cached get notices a change it was told of), at most NOTICE_MS. */
const reads = (store: Store, name: string, want: string) => until(`${name} reads ${want}`, async () => (await text(store, name)) === want);

/**
 * A TCP proxy to `db`'s cluster that numbers the connections asking to
 * LISTEN (0, 1, ...) and, from then on, swallows everything both ways on
 * those `silenced` says, closing nothing: what a middlebox that dropped them
 * leaves. Other connections (the pool's) pass as before.
 */
async function listenerProxy(db: TestDatabase, silenced: (listener: number) => boolean): Promise<{ url: string; listeners: () => number }> {
  let listeners = 0;
  const { url } = await proxyTo(db, () => {
    let listener: number | undefined;
    const passes = () => listener === undefined || !silenced(listener);
    return {
      fromClient: (d) => {
        if (listener === undefined && d.includes('LISTEN strongbox_changes')) listener = listeners++;
        return passes();
      },
      fromServer: passes,
    };
  });
  return { url, listeners: () => listeners };
}

/** A writer on `db` with app/db = 'one', and a store with an hour's read cache reaching the same database at `url` (a proxy). */
async function cachedThrough(db: TestDatabase, url: string): Promise<{ writer: Store; cached: Store }> {
  const key = join(tempDir(), 'master.key');
  createKeyFile(key);
  const writer = await initStore(db.url, keyFile(key));
  onTestFinished(() => writer.close());
  await writer.put('app/db', 'one');
  const cached = await openStore(url, keyFile(key), { cache: { ttlMs: HOUR } });
  onTestFinished(() => cached.close());
  return { writer, cached };
}

describe('read cache on PostgreSQL, with other hosts writing', () => {
  it("another host's write reaches the cache by notification, far within the TTL, and hits resume after", async () => {
    const { writer, cached } = await twoHosts();
    expect(await text(cached, 'app/other')).toBe('x');
    expect(await text(cached, 'app/other')).toBe('x');
    const before = cached.cacheStats()!;

    await writer.put('app/db', 'two');
    await reads(cached, 'app/db', 'two');
    expect(cached.cacheStats()!.changes).toBe(before.changes + 1);
    expect(await text(cached, 'app/other')).toBe('x'); // every entry went: read again
    const hits = cached.cacheStats()!.hits;
    expect(await text(cached, 'app/db')).toBe('two');
    expect(await text(cached, 'app/other')).toBe('x');
    expect(cached.cacheStats()!.hits).toBe(hits + 2);

    await writer.delete('app/db');
    await until('app/db reads as deleted', async () => (await cached.get('app/db').then(() => 'read', (e: { code: string }) => e.code)) === 'E_DELETED');
    expect(cached.cacheStats()!.changes).toBe(before.changes + 2);
  });

  it("neither its own writes nor another host's audited reads empty the cache", async () => {
    const { writer, cached } = await twoHosts(true);
    expect(await text(cached, 'app/other')).toBe('x');
    const { changes } = cached.cacheStats()!;
    // An audited read commits an audit entry (and notifies, first); then a real change.
    expect(await text(writer, 'app/db')).toBe('one');
    await writer.put('app/db', 'two');
    await reads(cached, 'app/db', 'two');
    await new Promise((resolve) => setTimeout(resolve, 50)); // room for a wrongly counted notification to arrive
    await text(cached, 'app/other');
    expect(cached.cacheStats()!.changes).toBe(changes + 1);

    await cached.put('app/db', 'three'); // its own: drops app/db only, and is not another's change
    await new Promise((resolve) => setTimeout(resolve, 50));
    const hits = cached.cacheStats()!.hits;
    expect(await text(cached, 'app/other')).toBe('x');
    expect(cached.cacheStats()).toMatchObject({ hits: hits + 1, changes: changes + 1 });
    expect(await text(cached, 'app/db')).toBe('three');
  });

  it("another process's write (the CLI's) reaches the cache by notification, far within the TTL", async () => {
    const { db, key, cached } = await twoHosts();
    expect(await text(cached, 'app/db')).toBe('one');
    const hits = cached.cacheStats()!.hits;
    expect(await text(cached, 'app/db')).toBe('one');
    expect(cached.cacheStats()!.hits).toBe(hits + 1);
    // Without blocking this event loop, so the notification is taken in while the CLI runs.
    const child = execFile(process.execPath, [CLI, '--store', db.url, '--keyfile', key, 'set', 'app/db'], { env: cleanEnv() });
    child.stdin!.end('from the CLI');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    await reads(cached, 'app/db', 'from the CLI');
  });

  it('while its listening connection is lost, nothing is served from the cache; once back, hits resume', async () => {
    const { db, writer, cached } = await twoHosts();
    expect(await text(cached, 'app/db')).toBe('one');
    // New connections refused (the pools keep theirs), so the listener stays down until let in again.
    await asAdmin((a) => a.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`));
    try {
      const ended = await asAdmin((a) => a.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = $1 AND query LIKE 'SELECT encode(sha256(digest)%'`, [db.name]));
      expect(ended.rowCount).toBe(1); // the listening connection, whose last query read the digest
      await until('the cache stops serving', async () => {
        const misses = cached.cacheStats()!.misses;
        await text(cached, 'app/db');
        return cached.cacheStats()!.misses > misses;
      });
      await writer.put('app/db', 'two'); // nobody hears its notification
      const misses = cached.cacheStats()!.misses;
      expect(await text(cached, 'app/db')).toBe('two');
      expect(await text(cached, 'app/db')).toBe('two');
      expect(cached.cacheStats()!.misses).toBe(misses + 2); // nothing served from memory while down
    } finally {
      await asAdmin((a) => a.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`));
    }
    await listening(cached); // made again, and entries are served again
    expect(await text(cached, 'app/db')).toBe('two');
  });

  it('a listening connection that dies without a word (a NAT dropping it) is found out by its heartbeat: the cache stops serving', async () => {
    const db = await freshDatabase();
    // A TCP proxy to the cluster that, once told, swallows everything both ways on the connections listening by then,
    // closing nothing: what a middlebox that dropped them leaves. The pool's connections, and a listening connection
    // made after, pass as before.
    let silentBelow = 0;
    const proxy = await listenerProxy(db, (listener) => listener < silentBelow);
    const { writer, cached } = await cachedThrough(db, proxy.url);
    await listening(cached);

    silentBelow = proxy.listeners();
    await writer.put('app/db', 'two'); // its notification goes nowhere
    const deadline = Date.now() + HEARTBEAT_MS + HEARTBEAT_TIMEOUT_MS + NOTICE_MS;
    while ((await text(cached, 'app/db')) !== 'two') {
      if (Date.now() > deadline) throw new Error('the cache still served the old value after a heartbeat should have found the connection dead');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await listening(cached); // a new listening connection, and hits again
    expect(proxy.listeners()).toBe(silentBelow + 1);
    expect(await text(cached, 'app/db')).toBe('two');
  }, 60_000);

  it('a listening connection that goes silent before it listens is given up after the time a heartbeat has, and made again', async () => {
    const db = await freshDatabase();
    // The first connection that asks to LISTEN is swallowed from then on, both ways: its LISTEN never gets an answer.
    const proxy = await listenerProxy(db, (listener) => listener === 0);
    const { writer, cached } = await cachedThrough(db, proxy.url);
    const deadline = Date.now() + HEARTBEAT_TIMEOUT_MS + NOTICE_MS;
    for (;;) {
      const hits = cached.cacheStats()!.hits;
      expect(await text(cached, 'app/db')).toBe('one');
      if (cached.cacheStats()!.hits > hits) break;
      if (Date.now() > deadline) throw new Error('the cache never served: the silent listening connection was never given up');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(proxy.listeners()).toBe(2);
    await writer.put('app/db', 'two'); // heard on the second connection
    await reads(cached, 'app/db', 'two');
  }, 60_000);

  it('a process with a cached store ends when its work is done, whether it closes the store or forgets to', async () => {
    const { db, key } = await twoHosts();
    const library = pathToFileURL(resolve('dist/index.js')).href;
    for (const close of [true, false]) {
      // The built library in a process of its own: nothing else keeps it running, so a hang would be the store's.
      const code = `
        const { openStore, keyFile } = await import(${JSON.stringify(library)});
        const store = await openStore(process.env.URL, keyFile(process.env.KEY), { cache: { ttlMs: ${HOUR} } });
        await store.get('app/db');
        await new Promise((r) => setTimeout(r, 200)); // the listening connection is up by now
        await store.get('app/db');
        ${close ? 'await store.close();' : ''}
        console.log('done');`;
      const child = execFile(process.execPath, ['--input-type=module', '-e', code], { env: cleanEnv({ URL: db.url, KEY: key }), timeout: 30_000 });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
      const [exit, signal] = await new Promise<[number | null, string | null]>((done) => child.on('exit', (c, s) => done([c, s])));
      expect([exit, signal, err], close ? 'closed' : 'left open').toEqual([0, null, '']);
      expect(out).toMatch(/^done/);
    }
  });
});
