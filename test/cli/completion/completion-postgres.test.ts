/**
 * `store __complete names` from a store in PostgreSQL: named by --store,
 * STORE_PATH or a profile, as a file is; and, as a TAB press must, never
 * kept waiting: a server that accepts the connection but never answers, or
 * a table locked by another session, gives nothing (no error, exit 0) after
 * about two seconds instead of the driver's usual ten-second waits.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createKeyFile, initStore, keyFile } from '../../../src/index.js';
import { quickLocator } from '../../../src/cli/completion/quick-store.js';
import { freshDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { runInProcess } from '../../helpers/in-process.js';
import { tempDir } from '../../helpers/tmp.js';

async function pgStore(): Promise<{ db: TestDatabase; key: string }> {
  const db = await freshDatabase();
  const key = join(tempDir(), 'master.key');
  createKeyFile(key);
  const store = await initStore(db.url, keyFile(key));
  try {
    for (const name of ['app/db', 'app/jwt', 'other']) await store.put(name, 'v');
  } finally {
    await store.close();
  }
  return { db, key };
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const r = await fn();
  return [r, performance.now() - started];
}

describe('store __complete names from a store in PostgreSQL', () => {
  it('completes from a URL in --store, STORE_PATH or a profile', async () => {
    const { db, key } = await pgStore();
    expect(await runInProcess(['--store', db.url, '--keyfile', key, '__complete', 'names'])).toMatchObject({ status: 0, out: 'app/db\napp/jwt\nother\n', err: '' });
    expect((await runInProcess(['__complete', 'names', '--', 'app/'], { env: { STORE_PATH: db.url, STORE_KEYFILE: key } })).out).toBe('app/db\napp/jwt\n');
    const config = tempDir();
    mkdirSync(join(config, 'strongbox'));
    writeFileSync(join(config, 'strongbox', 'config.json'), JSON.stringify({ profiles: { shared: { store: db.url, keyfile: key } } }), { mode: 0o600 });
    expect((await runInProcess(['--profile', 'shared', '__complete', 'names', '--', 'o'], { env: { XDG_CONFIG_HOME: config } })).out).toBe('other\n');
    // A key that does not open it: nothing, silently.
    const wrong = join(tempDir(), 'wrong.key');
    createKeyFile(wrong);
    expect(await runInProcess(['--store', db.url, '--keyfile', wrong, '__complete', 'names'])).toMatchObject({ status: 0, out: '', err: '' });
  });

  it('a server that never answers: nothing, silently, after the short connect timeout (not the usual 10 s)', async () => {
    const { key } = await pgStore();
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket)); // accepts, reads the startup packet, answers nothing
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => {
      for (const s of held) s.destroy();
      silent.close(() => resolve());
    }));
    const port = (silent.address() as { port: number }).port;
    const [r, ms] = await timed(() => runInProcess(['--store', `postgres://nobody@127.0.0.1:${port}/secrets`, '--keyfile', key, '__complete', 'names']));
    expect(r).toMatchObject({ status: 0, out: '', err: '' });
    expect(held.length).toBeGreaterThan(0);
    expect(ms).toBeGreaterThan(1_900);
    expect(ms).toBeLessThan(5_000);
  }, 20_000);

  it('a table locked by another session: nothing, silently, once the short statement timeout ends the wait', async () => {
    const { db, key } = await pgStore();
    const c = db.cluster;
    const locker = new pg.Client({ host: c.socketDir, port: c.port, user: c.user, database: db.name });
    locker.on('error', () => {});
    await locker.connect();
    onTestFinished(() => locker.end().catch(() => {}));
    await locker.query('BEGIN; LOCK TABLE strongbox.secrets IN ACCESS EXCLUSIVE MODE');
    const [r, ms] = await timed(() => runInProcess(['--store', db.url, '--keyfile', key, '__complete', 'names']));
    expect(r).toMatchObject({ status: 0, out: '', err: '' });
    expect(ms).toBeLessThan(6_000);
    await locker.query('ROLLBACK');
    expect((await runInProcess(['--store', db.url, '--keyfile', key, '__complete', 'names', '--', 'app/j'])).out).toBe('app/jwt\n');
  }, 20_000);

  it('the bounds: a URL gets connect_timeout=2 and statement_timeout=2000 unless it asks for less; a file path is left alone', () => {
    expect(quickLocator('/var/lib/store.db', {})).toBe('/var/lib/store.db');
    expect(quickLocator('postgres://app@db/secrets', {})).toBe('postgres://app@db/secrets?connect_timeout=2&statement_timeout=2000');
    expect(quickLocator('postgres:///s?host=%2Frun%2Fpostgresql&connect_timeout=30#x', {})).toBe('postgres:///s?host=%2Frun%2Fpostgresql&connect_timeout=2&statement_timeout=2000');
    expect(quickLocator('postgresql://h/s?connect_timeout=0&statement_timeout=500', {})).toBe('postgresql://h/s?connect_timeout=2&statement_timeout=500');
    expect(quickLocator('postgres://h/s', { PGCONNECT_TIMEOUT: '2' })).toBe('postgres://h/s?statement_timeout=2000');
  });
});
