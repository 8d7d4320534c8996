// Faults under a store in PostgreSQL: the server restarted (`pg_ctl restart
// -m fast`, every session ended) and client processes SIGKILLed while hosts
// write and keys are rewrapped. Every acknowledged write survives, a write
// that failed is all or nothing (absent, unless the connection went while
// its COMMIT was on its way, which it says), failures are E_LOCKED (exit 75:
// try again), the store verifies --deep and its audit chain, and the next
// rotate-keys --resume finishes the rewrap. A process that stays up across
// the restart (a library store, `store serve`) works again without being
// reopened: its pool makes new connections.
//
// `store migrate` into and out of PostgreSQL, SIGKILLed or with the server
// restarted part-way: the source is only read, the target holds no rows,
// or a copy marked unverified, or nothing at all (never a half-written
// store file in place, never a success that was not verified), a failure
// is E_LOCKED, and running the migrate again succeeds and verifies --deep.
//
// The restarts need a cluster of this file's own: the run's shared one
// serves other test files meanwhile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { initStore, keyFile, openStore } from '../../src/index.js';
import { StoreError } from '../../src/errors.js';
import { APPLICATION_ID } from '../../src/storage/postgres/schema.js';
import { cleanEnv, cli, CLI } from '../cli/run-cli.js';
import { ownCluster, type OwnCluster } from '../helpers/postgres-own-cluster.js';
import { postgresRows, sqliteRows, TABLES, type AdminRunner, type StoreRows } from '../helpers/rows.js';
import { tempDir } from '../helpers/tmp.js';
import { startServe, type ServeChild } from '../serve/serve-child.js';
import { sleep, start, startInteractive, type Proc } from './rotation-helpers.js';
import {
  PG_HOST, PG_ROTATOR, PG_SEED, acksOf, failsOf, gaps, hostEvents, lostAcks, readsOf, staleReads, storedValues,
} from './pg-host-events.js';

const SECRETS = 1_000;
const VERSIONS = 10;
const TOTAL = SECRETS * VERSIONS;
const HOSTS = 3;
/** Words of the one failure after which a write may have been made (its COMMIT's answer lost). */
const MAYBE = 'may or may not';

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

let cluster: OwnCluster;
beforeAll(async () => {
  const started = performance.now();
  cluster = await ownCluster();
  console.log(`own cluster started in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

/** The next ack line a host writes whose write began after `t` (µs). */
function ackAfter(h: Proc, t: number): Promise<string> {
  return h.line((l) => l.startsWith('{"k":"ack"') && (JSON.parse(l) as { t0: number }).t0 > t);
}

/** How a promise of a store call settled: 'ok', or its error's code and message. */
async function outcome(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
    return { code: 'ok', message: '' };
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    return { code: e.code, message: e.message };
  }
}

/**
 * The backend pids of `database` waiting for a lock of this kind
 * ('relation': a table; 'advisory': the store's write lock), once there are
 * `n` of them not among `not`; only this process's connections with `ours`
 * (the driver names each after its host and pid).
 */
async function waitingOn(database: string, kind: 'relation' | 'advisory', n: number, options: { not?: number[]; ours?: boolean } = {}): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  const app = options.ours ? `% pid ${process.pid}` : '%';
  for (;;) {
    const pids = await cluster.admin(database, async (a) => ((await a.query(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND wait_event = $2 AND NOT (pid = ANY($3::int[]))
         AND application_name LIKE $4`,
      [database, kind, options.not ?? [], app],
    )).rows as { pid: number }[]).map((r) => r.pid));
    if (pids.length >= n) return pids;
    if (Date.now() > deadline) throw new Error(`no ${n} connections waiting for a ${kind} lock after 10 s`);
    await sleep(20);
  }
}

/** End a backend (as an administrator, or a network failure, would), and wait until it is gone. */
async function terminated(database: string, pid: number): Promise<void> {
  await cluster.admin(database, async (a) => {
    await a.query('SELECT pg_terminate_backend($1)', [pid]);
    while ((await a.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount) await sleep(10);
  });
}

async function keys(url: string, key: string): Promise<[number, string, number][]> {
  const r = cli(['--store', url, '--keyfile', key, 'keys', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.out) as { version: number; status: string; versions: number }[]).map((k) => [k.version, k.status, k.versions]);
}

describe('PostgreSQL restarted, clients SIGKILLed', () => {
  it('during writes and a rewrap: acknowledged writes survive, failed ones are all or nothing, --deep verifies, the next run finishes the rewrap', async () => {
    const testStarted = performance.now();
    const { url, tcpUrl } = await cluster.database();
    const key = join(tempDir('strongbox-pg-faults-'), 'master.key');
    const seed = await start([PG_SEED, url, key, String(SECRETS), String(VERSIONS)], 60_000).exited;
    expect(seed.status, seed.stderr).toBe(0);
    const seeded = JSON.parse(seed.stdout) as { bundleMs: number; importMs: number };

    // Hosts 1 and 3 over TCP, the others over the unix socket.
    const hosts = Array.from({ length: HOSTS }, (_, id) => startInteractive([PG_HOST, id % 2 ? tcpUrl : url, key, String(id), String(SECRETS), String(VERSIONS)]));
    await Promise.all(hosts.map((h) => h.line((l) => l === 'ready')));
    await Promise.all(hosts.map((h) => ackAfter(h, 0)));

    // A rotation SIGKILLed between two batches of its rewrap.
    const killed = start([PG_ROTATOR, url, key, '50']);
    await killed.line((l) => l.startsWith('batch '));
    killed.kill();
    expect((await killed.exited).signal).toBe('SIGKILL');
    const afterKill = await keys(url, key);
    expect(afterKill.map(([v, s]) => [v, s])).toEqual([[1, 'active'], [2, 'primary']]);
    expect(afterKill[0]![2]).toBeGreaterThan(0); // the rewrap was cut short

    // A run resuming it, cut short by the server's restart (its connections, its exclusive lock's among them, all end).
    const resumed = start([PG_ROTATOR, url, key, '50', 'resume']);
    await resumed.line((l) => l.startsWith('batch '));
    const restartFrom = monotonicUs();
    const restartMs = await cluster.restart();
    const restartTo = monotonicUs();
    const cut = await resumed.exited;
    expect(cut.stdout, cut.stderr).toMatch(/^error E_LOCKED /m);
    expect(cut.status).toBe(75);
    const cutBy = cut.stdout.split('\n').find((l) => l.startsWith('error ')) ?? '';

    // Every host writes again, on the connections its pool makes anew.
    await Promise.all(hosts.map(async (h) => {
      for (let i = 0, t = restartTo; i < 3; i++) t = (JSON.parse(await ackAfter(h, t)) as { t1: number }).t1;
    }));
    // One host SIGKILLed in the middle of its work, the others stopped.
    await sleep(100);
    hosts[0]!.kill();
    for (const h of hosts.slice(1)) {
      h.send('stop');
      h.endInput();
    }
    const exits = await Promise.all(hosts.map((h) => h.exited));
    expect(exits[0]!.signal).toBe('SIGKILL');
    for (const e of exits.slice(1)) expect(e.status, e.stderr).toBe(0);

    // The next run finishes the rewrap.
    const finish = cli(['--store', url, '--keyfile', key, 'rotate-keys', '--resume', '--json']);
    expect(finish.status, finish.stderr).toBe(0);
    const report = JSON.parse(finish.out) as { rotated: boolean; rewrapped: number; toRewrap: number; retired: number[] };
    expect(report.rotated).toBe(false);
    expect(report.rewrapped).toBe(report.toRewrap);
    expect(report.rewrapped).toBeGreaterThan(0);
    expect(report.retired).toEqual([1]);

    const events = exits.flatMap((e) => hostEvents(e.stdout));
    const acks = acksOf(events);
    const fails = failsOf(events);
    // The restart cost some operations, each a clean E_LOCKED (exit status 75) that never shows a value.
    expect(fails.length).toBeGreaterThan(0);
    expect(fails.filter((f) => f.code !== 'E_LOCKED')).toEqual([]);
    expect(fails.filter((f) => f.val !== undefined && f.msg.includes(f.val))).toEqual([]);
    expect(fails.filter((f) => f.t1 < restartFrom)).toEqual([]);
    expect(events.filter((e) => e.k === 'bad')).toEqual([]);
    expect(staleReads(events)).toEqual([]);

    const store = await openStore(url, keyFile(key));
    try {
      const stored = await storedValues(store, new Set([...acks.map((a) => a.n), ...fails.filter((f) => f.op === 'put').map((f) => f.n)]));
      expect(lostAcks(stored, acks)).toEqual([]);
      expect(gaps(stored)).toEqual([]);
      // A failed write is there only if its COMMIT's answer was lost, and then once; anything else
      // stored and not acknowledged is the SIGKILLed host's last write, at most one.
      const where = new Map<string, number>();
      for (const versions of stored.values()) for (const v of versions.values()) if (v !== null) where.set(v, (where.get(v) ?? 0) + 1);
      for (const f of fails.filter((x) => x.op === 'put')) {
        const copies = where.get(f.val!) ?? 0;
        expect(copies, `${f.n}: ${f.msg}`).toBeLessThanOrEqual(f.msg.includes(MAYBE) ? 1 : 0);
      }
      const known = new Set([...acks.map((a) => a.val), ...fails.map((f) => f.val)]);
      const unacknowledged = [...where.keys()].filter((v) => !known.has(v));
      expect(unacknowledged.filter((v) => !v.startsWith('h0-'))).toEqual([]);
      expect(unacknowledged.length).toBeLessThanOrEqual(1);

      expect((await store.keys()).map((k) => [k.version, k.status])).toEqual([[1, 'retired'], [2, 'primary']]);
      expect((await store.keys())[0]!.versions).toBe(0);
    } finally {
      await store.close();
    }
    const deep = cli(['--store', url, '--keyfile', key, 'verify', '--deep', '--json']);
    expect(deep.status, deep.stderr).toBe(0);
    expect((JSON.parse(deep.out) as { ok: boolean; decrypted: number }).decrypted).toBeGreaterThanOrEqual(TOTAL + acks.length);
    const audit = cli(['--store', url, '--keyfile', key, 'audit', 'verify', '--json']);
    expect(audit.status, audit.stderr).toBe(0);

    console.log(
      `restart during writes and a rewrap: seed ${TOTAL} versions ${((seeded.bundleMs + seeded.importMs) / 1000).toFixed(1)} s; pg_ctl restart ${restartMs.toFixed(0)} ms; hosts ${acks.length} writes, ${readsOf(events).length} reads, ` +
        `${fails.length} failed (E_LOCKED) around the restart, ${fails.filter((f) => f.msg.includes(MAYBE)).length} of them commit-unknown; ` +
        `the resumed rewrap: ${cutBy}; final rewrap ${report.rewrapped} versions; whole test ${((performance.now() - testStarted) / 1000).toFixed(1)} s`,
    );
  }, 120_000);
  it('one process across a restart: a lost read is run again, a lost write fails cleanly (E_LOCKED, exit 75) all or nothing, the pool reconnects', async () => {
    const { name: database, url } = await cluster.database();
    const dir = tempDir('strongbox-pg-faults-');
    const key = join(dir, 'master.key');
    const store = await initStore(url, keyFile(key, { create: true }));
    let serve: ServeChild | undefined;
    try {
      expect((await store.put('app/a', 'a1')).version).toBe(1);
      serve = await startServe([], { storePath: url, keyPath: key, dir });
      const vault = (path: string, body?: unknown) => fetch(`${serve!.addr}/v1/secret/data/${path}`, {
        method: body === undefined ? 'GET' : 'POST', headers: { 'X-Vault-Token': serve!.rootToken }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect((await vault('web/token', { data: { token: 't1' } })).status).toBe(200);

      // A read whose connection is killed is run again on a new one: the caller sees its value.
      const blocker = await cluster.connect(database);
      try {
        await blocker.query('BEGIN; LOCK TABLE strongbox.secrets IN ACCESS EXCLUSIVE MODE');
        const read = store.get('app/a');
        const first = await waitingOn(database, 'relation', 1, { ours: true });
        await terminated(database, first[0]!);
        await waitingOn(database, 'relation', 1, { not: first, ours: true }); // the read again, on another connection
        await blocker.query('COMMIT');
        expect((await read).value.text()).toBe('a1');

        // A write whose connection is lost in the middle fails with E_LOCKED, and nothing of it was written.
        await blocker.query('BEGIN; LOCK TABLE strongbox.versions IN ACCESS EXCLUSIVE MODE');
        const write = outcome(store.put('app/a', 'a-lost'));
        const writer = await waitingOn(database, 'relation', 1, { ours: true });
        await terminated(database, writer[0]!);
        // Out of the way before the write settles: a write run again would now go through.
        await blocker.query('COMMIT');
        const lost = await write;
        expect(lost.code, lost.message).toBe('E_LOCKED');
        expect(lost.message).toMatch(/connection to the database server was lost/);
        expect(lost.message).not.toContain(MAYBE);
        expect((await store.history('app/a')).map((h) => h.version)).toEqual([1]);
        expect((await store.get('app/a')).value.text()).toBe('a1');
      } finally {
        await blocker.end().catch(() => {});
      }

      // A connection lost while COMMIT is on its way: the write says it may or may not have been made
      // (here it was not: a deferred trigger ends the session at COMMIT, before it commits), and the
      // store goes on from what is really there.
      await cluster.admin(database, (a) => a.query(`
        CREATE FUNCTION public.end_session() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$;
        CREATE CONSTRAINT TRIGGER end_session_at_commit AFTER UPDATE ON strongbox.state DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.end_session()`));
      const unknown = await outcome(store.put('app/a', 'a-unknown'));
      await cluster.admin(database, (a) => a.query('DROP TRIGGER end_session_at_commit ON strongbox.state; DROP FUNCTION public.end_session()'));
      expect(unknown.code, unknown.message).toBe('E_LOCKED');
      expect(unknown.message).toContain(MAYBE);
      expect(unknown.message).not.toContain('a-unknown');
      expect((await store.history('app/a')).map((h) => h.version)).toEqual([1]);
      expect((await store.put('app/a', 'a2')).version).toBe(2);

      // The server restarts while a write of this process and a `store set` wait for the store's write lock.
      const holder = await cluster.connect(database);
      await holder.query(`BEGIN; SELECT pg_advisory_xact_lock(${APPLICATION_ID}, 1)`);
      const inFlight = outcome(store.put('app/a', 'a-restart'));
      const setting = spawn(process.execPath, [CLI, '--store', url, '--keyfile', key, 'set', 'app/b'], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
      let setErr = '';
      setting.stderr.on('data', (d: Buffer) => (setErr += d.toString()));
      setting.stdin.end('b-restart');
      const setExit = new Promise<number | null>((done) => setting.on('close', (status) => done(status)));
      const served = vault('web/token', { data: { token: 't-restart' } });
      await waitingOn(database, 'advisory', 3);
      const restartMs = await cluster.restart();
      await holder.end().catch(() => {});
      const put = await inFlight;
      const setStatus = await setExit;
      // Each either failed cleanly (E_LOCKED, exit status 75) and wrote nothing, or was made whole.
      if (put.code !== 'ok') expect(put.code, put.message).toBe('E_LOCKED');
      expect([0, 75], setErr).toContain(setStatus);
      if (setStatus === 75) expect(setErr).toMatch(/connection to the database server was lost|may or may not/);
      expect(setErr).not.toContain('b-restart');

      // The same store, not reopened: its first read and write after the restart just work.
      const a = await store.get('app/a');
      expect(a.value.text()).toBe(put.code === 'ok' ? 'a-restart' : 'a2');
      if (put.code !== 'ok' && !put.message.includes(MAYBE)) expect(a.version).toBe(2);
      const next = await store.put('app/a', 'a-after');
      expect(next.version).toBe(a.version + 1);
      expect((await store.history('app/a')).map((h) => h.version)).toEqual(Array.from({ length: next.version }, (_, i) => i + 1));
      const b = cli(['--store', url, '--keyfile', key, 'get', 'app/b']);
      if (setStatus === 0) expect(b.out).toBe('b-restart');
      else if (!setErr.includes(MAYBE)) expect(b.status, b.stderr).toBe(3); // not found: nothing of it was written

      // `store serve` too: its request in flight answered 503 (Vault's "try again") or was made whole, and the same process answers again.
      const servedStatus = (await served).status;
      expect([200, 503]).toContain(servedStatus);
      const read = await vault('web/token');
      expect(read.status).toBe(200);
      const token = ((await read.json()) as { data: { data: { token: string }; metadata: { version: number } } }).data;
      expect(token.data.token).toBe(servedStatus === 200 ? 't-restart' : 't1');
      expect((await vault('web/token', { data: { token: 't2' } })).status).toBe(200);

      const verified = await store.verify({ deep: true });
      expect(verified.ok, JSON.stringify(verified.problems)).toBe(true);
      expect((await store.verifyAudit()).ok).toBe(true);
      console.log(
        `one process across a restart: pg_ctl restart ${restartMs.toFixed(0)} ms; the write in flight: ${put.code === 'ok' ? 'made' : `${put.code} (${put.message})`}; ` +
          `store set: exit ${setStatus}; store serve: ${servedStatus}`,
      );
    } finally {
      await serve?.stop();
      await store.close();
    }
  }, 120_000);
});

/** A `store migrate --json` run as its own process, to be killed or to see the server restart under it. */
const migrating = (key: string, from: string, to: string) => start([CLI, '--keyfile', key, 'migrate', '--from', from, '--to', to, '--json'], 60_000);

/** The error a `--json` run printed last on stderr. */
function errorOf(stderr: string): { code: string; message: string } {
  return (JSON.parse(stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string } }).error;
}

// What the migrate runs in the database, seen from outside, to strike in the middle of a phase.
/** The copy into a database, among the versions (inside its one write transaction). */
const INSERTING_VERSIONS = 'INSERT INTO strongbox.versions %';
/** The deep verification of a database target, walking the copied versions. */
const VERIFYING_VERSIONS = 'SELECT s.name, s.updated_at AS secret_updated_at, %';
/** The copy out of a database, reading the versions (in its snapshot). */
const READING_VERSIONS = 'SELECT secret_id, version, created_at, %FROM strongbox.versions WHERE (secret_id, version) > %';

/** Once a session of `database` other than this one runs (or last ran) a statement LIKE `like`; fails if `proc` exits first. */
async function statementSeen(database: string, like: string, proc: Proc): Promise<void> {
  let exited = false;
  void proc.exited.then(() => (exited = true), () => (exited = true));
  const watcher = await cluster.connect(database);
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await watcher.query('SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE $1', [like]);
      if (seen.rowCount) return;
      if (exited) {
        const e = await proc.exited;
        throw new Error(`the migrate exited (${e.status ?? e.signal}) before running ${like}: ${e.stderr}`);
      }
      if (Date.now() > deadline) throw new Error(`no session ran ${like} in 30 s`);
      await sleep(2);
    }
  } finally {
    await watcher.end().catch(() => {});
  }
}

/** Once no client session but the caller's is connected to `database` (a killed process's have ended, its locks with them). */
async function sessionsGone(database: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await cluster.admin(database, (a) => a.query(
    "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
  ))).rowCount) {
    if (Date.now() > deadline) throw new Error(`sessions of ${database} still there after 10 s`);
    await sleep(10);
  }
}

/** What a migrate target database holds: the store's tables or not, how many rows in them, and whether they carry the unverified-copy mark. */
async function targetState(database: string): Promise<{ tables: boolean; rows: number; marked: boolean }> {
  return cluster.admin(database, async (a) => {
    const q = async <T>(sql: string) => (await a.query(sql)).rows[0] as T;
    if (!(await q<{ t: boolean }>("SELECT to_regclass('strongbox.meta') IS NOT NULL AS t")).t) return { tables: false, rows: 0, marked: false };
    const counts = Object.keys(TABLES).map((t) => `(SELECT count(*) FROM strongbox.${t})`).join(' + ');
    const { n } = await q<{ n: string }>(`SELECT ${counts} AS n`);
    const { note } = await q<{ note: string | null }>("SELECT obj_description('strongbox.meta'::regclass, 'pg_class') AS note");
    return { tables: true, rows: Number(n), marked: note !== null && note.includes('unverified copy') };
  });
}

/** `--deep` verification of the store at `locator` by the CLI: every version decrypts. */
function verifiesDeeply(locator: string, key: string): void {
  const r = cli(['--store', locator, '--keyfile', key, 'verify', '--deep', '--json']);
  expect(r.status, r.stderr).toBe(0);
  expect((JSON.parse(r.out) as { ok: boolean; decrypted: number }).decrypted).toBe(TOTAL);
}

/** A source's rows after a migrate that succeeded: the same, but for the migrate's audit entry and the state row that follows the audit chain's end. */
function withoutMigrateEntry(after: StoreRows, before: StoreRows): StoreRows {
  expect(after.tables.audit!.length).toBe(before.tables.audit!.length + 1);
  return { ...after, tables: { ...after.tables, audit: after.tables.audit!.slice(0, -1), state: before.tables.state! } };
}

describe('store migrate into and out of PostgreSQL, SIGKILLed or the server restarted part-way', () => {
  const ownAdmin: AdminRunner = (fn, database) => cluster.admin(database, fn);
  // One store file of SECRETS × VERSIONS, made once; each test migrates a copy of it.
  let seeded: { path: string; key: string };
  beforeAll(async () => {
    const dir = tempDir('strongbox-pg-mfault-seed-');
    seeded = { path: join(dir, 'store.db'), key: join(dir, 'master.key') };
    const seed = await start([PG_SEED, seeded.path, seeded.key, String(SECRETS), String(VERSIONS)], 60_000).exited;
    expect(seed.status, seed.stderr).toBe(0);
  }, 60_000);
  const sourceFile = () => {
    const path = join(tempDir('strongbox-pg-mfault-'), 'store.db');
    copyFileSync(seeded.path, path);
    return path;
  };

  it('SQLite → PostgreSQL SIGKILLed while copying, then while verifying: the source untouched, the target empty or a marked unverified copy; the next migrate replaces it, verified --deep', async () => {
    const started = performance.now();
    const { key } = seeded;
    const path = sourceFile();
    const before = sqliteRows(path);
    const { name: database, url } = await cluster.database();

    // Killed inside the copy's transaction: nothing of it was committed; the tables it made are marked.
    const first = migrating(key, path, url);
    await statementSeen(database, INSERTING_VERSIONS, first);
    first.kill();
    expect((await first.exited).signal).toBe('SIGKILL');
    await sessionsGone(database);
    expect(await targetState(database)).toEqual({ tables: true, rows: 0, marked: true });
    expect(sqliteRows(path)).toEqual(before);

    // Killed while verifying the copy it committed: all the rows are there, still marked as not yet a store.
    const second = migrating(key, path, url);
    await statementSeen(database, VERIFYING_VERSIONS, second);
    second.kill();
    expect((await second.exited).signal).toBe('SIGKILL');
    await sessionsGone(database);
    expect(await targetState(database)).toMatchObject({ tables: true, marked: true });
    expect(await postgresRows(database, ownAdmin)).toEqual(before);
    expect(sqliteRows(path)).toEqual(before);

    // The next run takes the marked copy for a leftover, replaces it, verifies it and takes the mark off.
    const third = cli(['--keyfile', key, 'migrate', '--from', path, '--to', url, '--json']);
    expect(third.status, third.stderr).toBe(0);
    const report = JSON.parse(third.out) as { rows: { versions: number }; verified: { ok: boolean; decrypted: number }; sourceChangedSince: boolean };
    expect(report).toMatchObject({ rows: { versions: TOTAL }, verified: { ok: true, decrypted: TOTAL }, sourceChangedSince: false });
    expect(await targetState(database)).toMatchObject({ tables: true, marked: false });
    expect(await postgresRows(database, ownAdmin)).toEqual(before);
    expect(withoutMigrateEntry(sqliteRows(path), before)).toEqual(before);
    verifiesDeeply(url, key);
    console.log(`migrate SIGKILLed twice, then run to the end: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 60_000);

  it('SQLite → PostgreSQL with the server restarted while copying, then while verifying: E_LOCKED (exit 75), no report, the target empty or a marked copy; the next migrate succeeds', async () => {
    const started = performance.now();
    const { key } = seeded;
    const path = sourceFile();
    const before = sqliteRows(path);
    const { name: database, url } = await cluster.database();
    const phases: string[] = [];
    for (const [phase, statement] of [['copying', INSERTING_VERSIONS], ['verifying', VERIFYING_VERSIONS]] as const) {
      const run = migrating(key, path, url);
      await statementSeen(database, statement, run);
      const restartMs = await cluster.restart();
      const exit = await run.exited;
      expect(exit.status, `${phase}: ${exit.stdout} ${exit.stderr}`).toBe(75);
      expect(errorOf(exit.stderr).code).toBe('E_LOCKED');
      expect(exit.stdout).toBe(''); // no report: nothing was called done
      // Taken away, or (the server not back yet when the migrate gave up) no rows or a copy marked unverified.
      const left = await targetState(database);
      expect(left.rows === 0 || left.marked, JSON.stringify(left)).toBe(true);
      expect(sqliteRows(path)).toEqual(before);
      phases.push(`${phase}: restart ${restartMs.toFixed(0)} ms, ${errorOf(exit.stderr).message}; left ${JSON.stringify(left)}`);
    }

    const again = cli(['--keyfile', key, 'migrate', '--from', path, '--to', url, '--json']);
    expect(again.status, again.stderr).toBe(0);
    expect(await targetState(database)).toMatchObject({ tables: true, marked: false });
    expect(await postgresRows(database, ownAdmin)).toEqual(before);
    verifiesDeeply(url, key);
    console.log(`migrate into PostgreSQL across restarts: ${phases.join('; ')}; whole test ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 60_000);

  it('PostgreSQL → SQLite with the server restarted while copying: E_LOCKED (exit 75), no file nor temp file left, the source untouched; the next migrate succeeds', async () => {
    const started = performance.now();
    const { key } = seeded;
    const { name: database, url } = await cluster.database();
    const into = cli(['--keyfile', key, 'migrate', '--from', sourceFile(), '--to', url]);
    expect(into.status, into.stderr).toBe(0);
    const before = await postgresRows(database, ownAdmin);
    const dir = tempDir('strongbox-pg-mfault-');
    const file = join(dir, 'back.db');

    const run = migrating(key, url, file);
    await statementSeen(database, READING_VERSIONS, run);
    const restartMs = await cluster.restart();
    const exit = await run.exited;
    expect(exit.status, exit.stderr).toBe(75);
    expect(errorOf(exit.stderr).code).toBe('E_LOCKED');
    expect(exit.stdout).toBe('');
    expect(existsSync(file)).toBe(false);
    expect(readdirSync(dir)).toEqual([]); // the temporary file it was being written under too
    expect(await postgresRows(database, ownAdmin)).toEqual(before);

    const again = cli(['--keyfile', key, 'migrate', '--from', url, '--to', file, '--json']);
    expect(again.status, again.stderr).toBe(0);
    expect(readdirSync(dir)).toEqual(['back.db']);
    expect(sqliteRows(file)).toEqual(before);
    verifiesDeeply(file, key);
    console.log(
      `migrate out of PostgreSQL across a restart: restart ${restartMs.toFixed(0)} ms, ${errorOf(exit.stderr).message}; whole test ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 60_000);
});
