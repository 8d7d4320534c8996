// A restore into PostgreSQL whose read-back, after its transaction
// committed, loses its connections (a server restarting, a backend ended by
// an administrator): E_LOCKED (exit 75) saying the rows were restored and to
// run verify --deep, never "failed verification". The loss is made exact
// without restarting anything: an administrator's session queues an ACCESS
// EXCLUSIVE lock on one table behind the restore's copy transaction, so the
// read-back's first read of that table waits right after the commit, and the
// test ends the waiting backend (and, when the read is run again, that one).
import { describe, expect, it, onTestFinished } from 'vitest';
import pg from 'pg';
import { join } from 'node:path';
import { backupStore, createKeyFile, initStore, keyFile, openStore, restoreStore } from '../../src/index.js';
import { EXCLUSIVE_LOCK } from '../../src/storage/postgres/driver.js';
import { asAdmin, freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ADMIN_APP = 'strongbox-test-admin';

/** A superuser session of the test's own, told apart from the restore's by its application name. */
async function session(db: TestDatabase): Promise<pg.Client> {
  const c = db.cluster;
  const client = new pg.Client({ host: c.socketDir, port: c.port, user: c.user, database: db.name, application_name: ADMIN_APP });
  client.on('error', () => {});
  await client.connect();
  onTestFinished(() => client.end().catch(() => {}));
  return client;
}

/** The restore's backends of `db` waiting for a lock of this kind ('transactionid': a row; 'relation': a table). */
async function waiting(db: TestDatabase, event: 'transactionid' | 'relation'): Promise<number[]> {
  return asAdmin(async (a) => ((await a.query(
    "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND wait_event = $2 AND application_name <> $3",
    [db.name, event, ADMIN_APP],
  )).rows as { pid: number }[]).map((r) => r.pid));
}

async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`not in 15 s: ${what}`);
    await sleep(10);
  }
}

const terminate = (pid: number) => asAdmin((a) => a.query('SELECT pg_terminate_backend($1)', [pid]));

/** A store of a few secrets in a fresh database, and a backup of it. */
async function storeWithBackup(): Promise<{ db: TestDatabase; key: string; backup: string; names: string[] }> {
  const db = await freshDatabase();
  const dir = tempDir();
  const key = join(dir, 'master.key');
  createKeyFile(key);
  const store = await initStore(db.url, keyFile(key));
  const names = Array.from({ length: 20 }, (_, i) => `app/s${i}`);
  try {
    for (const n of names) await store.put(n, `value of ${n}`);
    const backup = join(dir, 'backup.db');
    await backupStore(store, backup);
    await store.put(names[0]!, 'written after the backup'); // the restore takes this back
    return { db, key, backup, names };
  } finally {
    await store.close();
  }
}

/**
 * Start `restore` with the copy held up, then let it commit while `table`
 * stays locked by the test: the read-back's first read of `table` waits.
 * @returns the test's session holding the lock (ROLLBACK releases it)
 */
async function restoreWithReadBackHeld(db: TestDatabase, table: string, restore: () => Promise<void>): Promise<pg.Client> {
  const rowLock = await session(db);
  const tableLock = await session(db);
  // The copy deletes every table's rows first, the state row among them: held here, it waits with its other tables' locks taken.
  await rowLock.query('BEGIN; SELECT 1 FROM strongbox.state FOR UPDATE');
  void restore();
  await until('the copy waits for the state row', async () => (await waiting(db, 'transactionid')).length > 0);
  const locked = tableLock.query(`BEGIN; LOCK TABLE strongbox.${table} IN ACCESS EXCLUSIVE MODE`);
  const tableLockPid = (tableLock as unknown as { processID: number }).processID;
  await until('the table lock queues behind the copy', async () => (await asAdmin((a) => a.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", [tableLockPid]))).rowCount === 1);
  await rowLock.query('COMMIT'); // the copy goes on and commits; then the table lock is granted, and the read-back waits for it
  await locked;
  await until('the read-back waits for the table', async () => (await waiting(db, 'relation')).length > 0);
  return tableLock;
}

async function restoredRows(db: TestDatabase, key: string, names: string[]): Promise<void> {
  const store = await openStore(db.url, keyFile(key));
  try {
    expect((await store.get(names[0]!)).value.text()).toBe(`value of ${names[0]}`);
    expect(await store.verify({ deep: true })).toMatchObject({ ok: true, versions: names.length });
  } finally {
    await store.close();
  }
}

describe('store restore into PostgreSQL whose read-back loses its connection after the commit', () => {
  it('the read-back\'s reads lost (and lost again when run again): exit 75, E_LOCKED saying the rows were restored and to run verify --deep', async () => {
    const { db, key, backup, names } = await storeWithBackup();
    let result: Awaited<ReturnType<typeof runInProcess>> | undefined;
    const tableLock = await restoreWithReadBackHeld(db, 'versions', async () => {
      result = await runInProcess(['--store', db.url, '--keyfile', key, 'restore', backup, '--json']);
    });
    let ended = 0;
    while (result === undefined) {
      for (const pid of await waiting(db, 'relation')) {
        await terminate(pid);
        ended++;
      }
      await sleep(10);
    }
    await tableLock.query('ROLLBACK');
    expect(ended).toBe(2); // the read, and the one run again on a new connection
    expect(result.status, result.err).toBe(75);
    expect(result.out).toBe('');
    const error = (JSON.parse(result.err.trim().split('\n').at(-1)!) as { error: { code: string; message: string; hints: string[] } }).error;
    expect(error.code).toBe('E_LOCKED');
    expect(error.message).toContain(`the rows of ${backup} were restored (their transaction committed)`);
    expect(error.message).not.toContain('failed verification');
    expect(error.hints.join('\n')).toContain('verify --deep');
    await restoredRows(db, key, names);
  }, 60_000);

  it('the exclusive lock\'s connection lost while the read-back reads, which then verifies: the restore is done (its commit came first)', async () => {
    const { db, key, backup, names } = await storeWithBackup();
    let settled: unknown = 'pending';
    const tableLock = await restoreWithReadBackHeld(db, 'meta', async () => {
      await restoreStore(db.url, backup, keyFile(key)).then((r) => (settled = r), (e: unknown) => (settled = e));
    });
    const holders = await asAdmin(async (a) => ((await a.query(
      "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 2",
      [EXCLUSIVE_LOCK[0], EXCLUSIVE_LOCK[1]],
    )).rows as { pid: number }[]).map((r) => r.pid));
    expect(holders).toHaveLength(1);
    await terminate(holders[0]!);
    await tableLock.query('ROLLBACK');
    await until('the restore settles', async () => settled !== 'pending');
    expect(settled).toMatchObject({ backup, secrets: names.length });
    await restoredRows(db, key, names);
  }, 60_000);
});
