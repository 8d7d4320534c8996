/**
 * What only the PostgreSQL driver has to get right, on the run's throwaway
 * cluster: its URLs, its schema and the refusal of a newer one, logins,
 * connections lost mid-transaction (nothing half written, a retryable code),
 * writers on two pools serialised, and the exclusive lock across pools.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/errors.js';
import { isPostgresLocator, shownLocator } from '../../../src/storage/locator.js';
import { createPostgresStore, openPostgresStore, postgresLocation } from '../../../src/storage/postgres/open.js';
import { isConnectionLoss } from '../../../src/storage/postgres/errors.js';
import { passfilePassword } from '../../../src/storage/postgres/passfile.js';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from '../../../src/storage/postgres/schema.js';
import { SCHEMA_VERSION as SQLITE_SCHEMA_VERSION } from '../../../src/storage/sqlite/schema.js';
import type { RawStorage } from '../../../src/storage/storage.js';
import { asAdmin, freshDatabase, postgresCluster, socketUrl, tcpUrl, type TestDatabase } from '../../helpers/postgres.js';
import { tempDir } from '../../helpers/tmp.js';

/** Opened storages, closed at the end of the test that opened them. */
async function closing<T extends RawStorage>(opened: Promise<T>, list: RawStorage[]): Promise<T> {
  const s = await opened;
  list.push(s);
  return s;
}

async function withStorages(fn: (open: <T extends RawStorage>(s: Promise<T>) => Promise<T>) => Promise<void>): Promise<void> {
  const list: RawStorage[] = [];
  try {
    await fn((s) => closing(s, list));
  } finally {
    for (const s of list) await s.close();
  }
}

/** The backend pids of `db`'s connections that are idle inside a transaction. */
async function idleInTransaction(db: TestDatabase): Promise<number[]> {
  const rows = (await asAdmin((a) => a.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'`, [db.name]))).rows as { pid: number }[];
  return rows.map((r) => r.pid);
}

async function terminate(pids: number[]): Promise<void> {
  await asAdmin((a) => a.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]));
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StoreError) return e.code;
    throw e;
  }
  throw new Error('expected a StoreError');
}

describe('PostgreSQL store URLs', () => {
  it('a postgres:// or postgresql:// URL names a PostgreSQL store; anything else is a file path', () => {
    for (const u of ['postgres://h/db', 'postgresql:///db?host=/run/postgresql', 'POSTGRES://h/db']) expect(isPostgresLocator(u)).toBe(true);
    for (const p of ['/var/lib/store.db', 'store.db', './postgres://x', 'postgres:/x', 'sqlite://x']) expect(isPostgresLocator(p)).toBe(false);
  });

  it('a URL is shown without its password, wherever it was given; a path as it is', () => {
    expect(shownLocator('postgres://app:s3cret@db.internal:5433/secrets?sslmode=require')).toBe('postgres://app@db.internal:5433/secrets?sslmode=require');
    expect(shownLocator('postgres://app:p@ss@db/x')).toBe('postgres://app@db/x'); // an unencoded @ in the password
    expect(shownLocator('postgresql:///secrets?host=/run/postgresql&password=s3cret')).toBe('postgresql:///secrets?host=/run/postgresql');
    expect(shownLocator('postgres://h/db?password=s3cret&sslmode=disable')).toBe('postgres://h/db?sslmode=disable');
    expect(shownLocator('postgres://app@h/db')).toBe('postgres://app@h/db');
    expect(shownLocator('/tmp/a:b@c.db')).toBe('/tmp/a:b@c.db');
  });

  it('sslmode keeps libpq\'s meaning; a mode node-postgres cannot honour is refused', () => {
    expect(postgresLocation('postgres://h/db?sslmode=require').connectionString).toBe('postgres://h/db?sslmode=require&uselibpqcompat=true');
    expect(postgresLocation('postgres://h/db?sslmode=disable').connectionString).toBe('postgres://h/db?sslmode=disable&uselibpqcompat=true');
    expect(postgresLocation('postgres://h/db').connectionString).toBe('postgres://h/db');
    for (const bad of ['allow', 'strict']) {
      let error: unknown;
      try {
        postgresLocation(`postgres://u:s3cret@h/db?sslmode=${bad}`);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'E_USAGE' });
      expect((error as Error).message).not.toContain('s3cret');
    }
  });

  it('connect_timeout (or PGCONNECT_TIMEOUT) bounds the wait for a connection, in whole seconds as libpq takes it', () => {
    expect(postgresLocation('postgres://h/db').connectTimeoutMs).toBe(10_000);
    expect(postgresLocation('postgres://h/db?connect_timeout=5').connectTimeoutMs).toBe(5_000);
    expect(postgresLocation('postgres://h/db?connect_timeout=1').connectTimeoutMs).toBe(2_000);
    expect(postgresLocation('postgres://h/db?connect_timeout=0').connectTimeoutMs).toBe(0);
    expect(postgresLocation('postgres://h/db', { PGCONNECT_TIMEOUT: '7' }).connectTimeoutMs).toBe(7_000);
    expect(() => postgresLocation('postgres://h/db?connect_timeout=soon')).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });

  it('a URL that does not parse is E_USAGE, and its password is not in the message', () => {
    let error: unknown;
    try {
      postgresLocation('postgres://app:s3cret@[::1/db');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'E_USAGE' });
    expect((error as Error).message).not.toContain('s3cret');
  });

  it('a unix socket directory in ?host= is used, and a host given (or PGHOST) is left alone', async () => {
    const db = await freshDatabase();
    const c = db.cluster;
    await withStorages(async (open) => {
      // The socket directory as the host in the URL's authority, percent-encoded, as libpq also takes it.
      const encoded = `postgresql://${c.user}@${encodeURIComponent(c.socketDir)}:${c.port}/${db.name}`;
      const s = await open(createPostgresStore(encoded));
      await s.write(async (tx) => tx.putMeta({ key: 'k', value: 'v', mac: null }));
      const again = await open(openPostgresStore(socketUrl(c, db.name)));
      expect(await again.readOne(async (ops) => ops.getMeta('k'))).toBe('v');
    });
    expect(postgresLocation('postgres:///db', { PGHOST: '/somewhere' }).connectionString).toBe('postgres:///db');
  });
});

describe('the password file', () => {
  function passfile(text: string, mode = 0o600): Record<string, string> {
    const path = join(tempDir(), 'pgpass');
    writeFileSync(path, text, { mode });
    return { PGPASSFILE: path };
  }

  it('takes the first line that matches, with * for anything and \\ escaping : and \\', () => {
    const env = passfile([
      '# a comment',
      'db.internal:5432:secrets:app:first\\:pass',
      'db.internal:*:*:app:second',
      '*:*:*:*:any',
      '',
    ].join('\n'));
    expect(passfilePassword({ host: 'db.internal', port: 5432, database: 'secrets', user: 'app' }, env)).toBe('first:pass');
    expect(passfilePassword({ host: 'db.internal', port: 5433, database: 'other', user: 'app' }, env)).toBe('second');
    expect(passfilePassword({ host: 'elsewhere', port: 5432, database: 'x', user: 'y' }, env)).toBe('any');
    expect(passfilePassword({ host: 'a:b', port: 1, database: 'd', user: 'u' }, passfile('a\\:b:1:d:u:colon host\n'))).toBe('colon host');
  });

  it('a unix socket matches its directory and localhost; no host is localhost', () => {
    const env = passfile('localhost:5432:db:app:local\n/run/pg:5433:db:app:dir\n');
    expect(passfilePassword({ host: '/run/postgresql', port: 5432, database: 'db', user: 'app' }, env)).toBe('local');
    expect(passfilePassword({ host: '/run/pg', port: 5433, database: 'db', user: 'app' }, env)).toBe('dir');
    expect(passfilePassword({ port: 5432, database: 'db', user: 'app' }, env)).toBe('local');
  });

  it('a file group or others may read is ignored, as libpq ignores it; no file, no password', () => {
    expect(passfilePassword({ host: 'h', port: 5432, database: 'd', user: 'u' }, passfile('*:*:*:*:open\n', 0o644))).toBeUndefined();
    expect(passfilePassword({ host: 'h', port: 5432, database: 'd', user: 'u' }, { PGPASSFILE: join(tempDir(), 'none') })).toBeUndefined();
  });
});

describe('PostgreSQL schema', () => {
  it('is the SQLite file\'s schema version: a SQLite migration needs its PostgreSQL step', () => {
    expect(SCHEMA_VERSION).toBe(SQLITE_SCHEMA_VERSION);
    expect(MIGRATIONS.map((m) => m.version)).toEqual([...MIGRATIONS.map((m) => m.version)].sort((a, b) => a - b));
  });

  it('lives in schema strongbox; text columns order by bytes even where the database\'s collation does not', async () => {
    const db = await freshDatabase();
    await withStorages(async (open) => {
      await open(createPostgresStore(db.url));
      const rows = await asAdmin(async (a) => {
        const order = (await a.query("SELECT x FROM (VALUES ('a1'), ('B0')) t(x) ORDER BY x")).rows.map((r: { x: string }) => r.x);
        const tables = (await a.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'strongbox' ORDER BY table_name")).rows.map((r: { table_name: string }) => r.table_name);
        return { order, tables };
      }, db.name);
      // The test database's own order puts a before B: the store's byte order comes from its columns.
      expect(rows.order).toEqual(['a1', 'B0']);
      expect(rows.tables).toEqual(['audit', 'data_keys', 'meta', 'records', 'schema_version', 'secrets', 'state', 'versions']);
    });
  });

  it('an empty database holds no store (E_NO_STORE), a missing one neither; a second init is E_STORE_EXISTS', async () => {
    const db = await freshDatabase();
    expect(await codeOf(openPostgresStore(db.url))).toBe('E_NO_STORE');
    expect(await codeOf(openPostgresStore(socketUrl(db.cluster, 'sbt_no_such_database')))).toBe('E_NO_STORE');
    await withStorages(async (open) => {
      await open(createPostgresStore(db.url));
      expect(await codeOf(createPostgresStore(db.url))).toBe('E_STORE_EXISTS');
    });
  });

  it('a store of a newer schema is refused (E_SCHEMA_TOO_NEW) and left as it was; another program\'s schema is E_NOT_A_STORE', async () => {
    const db = await freshDatabase();
    await withStorages(async (open) => {
      const s = await open(createPostgresStore(db.url));
      await s.write(async (tx) => tx.putMeta({ key: 'kept', value: 'as it was', mac: null }));
    });
    await asAdmin((a) => a.query(`UPDATE strongbox.schema_version SET version = ${SCHEMA_VERSION + 1}`), db.name);
    const error = await openPostgresStore(db.url).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_SCHEMA_TOO_NEW' });
    expect((error as Error).message).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    const after = await asAdmin(async (a) => ({
      version: (await a.query('SELECT version FROM strongbox.schema_version')).rows[0].version as number,
      meta: (await a.query('SELECT key, value FROM strongbox.meta')).rows as unknown[],
    }), db.name);
    expect(after).toEqual({ version: SCHEMA_VERSION + 1, meta: [{ key: 'kept', value: 'as it was' }] });

    await asAdmin((a) => a.query(`UPDATE strongbox.schema_version SET version = ${SCHEMA_VERSION}, application_id = 7`), db.name);
    expect(await codeOf(openPostgresStore(db.url))).toBe('E_NOT_A_STORE');
  });

  it('a table whose columns were altered is E_NOT_A_STORE at the statement that meets it, never a raw SQL error', async () => {
    const db = await freshDatabase();
    await withStorages(async (open) => {
      const s = await open(createPostgresStore(db.url));
      await asAdmin((a) => a.query('ALTER TABLE strongbox.meta RENAME COLUMN value TO valeur'), db.name);
      expect(await codeOf(s.readOne(async (ops) => ops.getMeta('k')))).toBe('E_NOT_A_STORE');
    });
  });
});

describe('PostgreSQL logins', () => {
  it('a password from the URL, PGPASSWORD or a PGPASSFILE logs in; a wrong one is refused without being shown', async () => {
    const db = await freshDatabase();
    const c = await postgresCluster();
    const role = `sbr_${db.name.slice(4)}`;
    await asAdmin(async (a) => {
      await a.query(`CREATE ROLE ${role} LOGIN PASSWORD 'right horse battery'`);
      await a.query(`GRANT ALL ON DATABASE ${db.name} TO ${role}`);
    });
    const base = tcpUrl(c, db.name, role);
    const saved = { PGPASSWORD: process.env.PGPASSWORD, PGPASSFILE: process.env.PGPASSFILE };
    try {
      await withStorages(async (open) => {
        const withPassword = base.replace(`${role}@`, `${role}:${encodeURIComponent('right horse battery')}@`);
        const s = await open(createPostgresStore(withPassword));
        expect(s.path).toBe(base);
        await s.write(async (tx) => tx.putMeta({ key: 'k', value: 'v', mac: null }));

        process.env.PGPASSWORD = 'right horse battery';
        expect(await (await open(openPostgresStore(base))).readOne(async (ops) => ops.getMeta('k'))).toBe('v');
        delete process.env.PGPASSWORD;

        const passfile = join(tempDir(), 'pgpass');
        writeFileSync(passfile, `127.0.0.1:${c.port}:${db.name}:${role}:right horse battery\n`, { mode: 0o600 });
        process.env.PGPASSFILE = passfile;
        expect(await (await open(openPostgresStore(base))).readOne(async (ops) => ops.getMeta('k'))).toBe('v');
        delete process.env.PGPASSFILE;

        const wrong = base.replace(`${role}@`, `${role}:wrong-horse@`);
        const error = await openPostgresStore(wrong).then(() => undefined, (e: unknown) => e);
        expect(error).toMatchObject({ code: 'E_IO' });
        expect((error as Error).message).toContain('refused the login');
        expect(JSON.stringify({ message: (error as Error).message, hints: (error as StoreError).hints })).not.toContain('wrong-horse');
      });
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await db.drop();
      await asAdmin((a) => a.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it('no server at the address: E_LOCKED (try again), quickly', async () => {
    const c = await postgresCluster();
    const started = Date.now();
    const error = await openPostgresStore(`postgres://${c.user}@127.0.0.1:1/none`).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'E_LOCKED' });
    expect(isConnectionLoss(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('PostgreSQL connections lost', () => {
  it('a write whose connection is killed mid-transaction fails with E_LOCKED and leaves nothing of itself; the pool reconnects', async () => {
    const db = await freshDatabase();
    await withStorages(async (open) => {
      const s = await open(createPostgresStore(db.url));
      await s.write(async (tx) => tx.putMeta({ key: 'before', value: '1', mac: null }));
      let ran = 0;
      const failed = s.write(async (tx) => {
        ran++;
        await tx.putMeta({ key: 'half', value: 'written', mac: null });
        await tx.insertSecret('app/half', 1);
        await terminate(await idleInTransaction(db));
        await tx.putMeta({ key: 'after', value: 'kill', mac: null });
      });
      const error = await failed.then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: 'E_LOCKED' });
      expect(isConnectionLoss(error)).toBe(true);
      expect(ran).toBe(1); // a write's body is never run twice
      await s.read(async (tx) => {
        expect((await tx.allMeta()).map((m) => m.key)).toEqual(['before']);
        expect(await tx.findSecret('app/half')).toBeUndefined();
      });
      await s.write(async (tx) => tx.putMeta({ key: 'later', value: 'ok', mac: null }));
      expect(await s.readOne(async (ops) => ops.getMeta('later'))).toBe('ok');
    });
  });

  it('a read whose connection is killed is run again on a new one; single reads survive every connection being killed', async () => {
    const db = await freshDatabase();
    await withStorages(async (open) => {
      const s = await open(createPostgresStore(db.url));
      await s.write(async (tx) => tx.putMeta({ key: 'k', value: 'v', mac: null }));
      let runs = 0;
      const value = await s.read(async (tx) => {
        runs++;
        const first = await tx.getMeta('k');
        if (runs === 1) await terminate(await idleInTransaction(db));
        return `${first}/${await tx.getMeta('k')}`;
      });
      expect([value, runs]).toEqual(['v/v', 2]);

      await Promise.all([1, 2, 3].map(() => s.readOne(async (ops) => ops.getMeta('k')))); // a few pooled connections
      await asAdmin((a) => a.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]));
      expect(await Promise.all([1, 2, 3].map(() => s.readOne(async (ops) => ops.getMeta('k'))))).toEqual(['v', 'v', 'v']);
    });
  });
});

describe('PostgreSQL storage closing', () => {
  it('close waits for the transaction in progress, which commits; what comes after is E_CLOSED', async () => {
    const db = await freshDatabase();
    const s = await createPostgresStore(db.url);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => { release = resolve; });
    const writing = s.write(async (tx) => {
      await tx.putMeta({ key: 'k', value: 'v', mac: null });
      await gate;
    });
    const queued = s.write(async (tx) => tx.putMeta({ key: 'queued', value: 'before close', mac: null }));
    const closing = s.close();
    const after = s.write(async (tx) => tx.putMeta({ key: 'after', value: 'close', mac: null })).then(() => 'written', (e: unknown) => e);
    setTimeout(release, 20);
    await Promise.all([writing, queued, closing]);
    // In the order asked for: the write queued before close() commits, the one asked after it is refused.
    expect(await after).toMatchObject({ code: 'E_CLOSED' });
    expect(await codeOf(s.readOne(async (ops) => ops.getMeta('k')))).toBe('E_CLOSED');
    await s.close();
    await withStorages(async (open) => {
      const again = await open(openPostgresStore(db.url));
      expect((await again.read(async (tx) => tx.allMeta())).map((m) => m.key)).toEqual(['k', 'queued']);
    });
  });
});

describe('PostgreSQL across hosts', () => {
  it('writers on two pools run one after another: no update is lost', async () => {
    const db = await freshDatabase();
    await withStorages(async (open) => {
      const a = await open(createPostgresStore(db.url));
      const b = await open(openPostgresStore(db.url));
      await a.write(async (tx) => tx.putMeta({ key: 'n', value: '0', mac: null }));
      const bump = (s: RawStorage) => s.write(async (tx) => {
        const n = Number(await tx.getMeta('n'));
        await tx.putMeta({ key: 'n', value: String(n + 1), mac: null });
      });
      await Promise.all(Array.from({ length: 25 }, () => [bump(a), bump(b)]).flat());
      expect(await a.readOne(async (ops) => ops.getMeta('n'))).toBe('50');
    });
  });

  it('the exclusive lock names its holder when refused, fails check() once its connection is lost, and is free again then', async () => {
    const db = await freshDatabase();
    await withStorages(async (open) => {
      const a = await open(createPostgresStore(db.url));
      const b = await open(openPostgresStore(db.url));
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let checked: unknown;
      const holding = a.exclusive(async (lock) => {
        lock.check();
        await gate;
        try {
          lock.check();
        } catch (e) {
          checked = e;
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const refused = await b.exclusive(async () => 'never').then(() => undefined, (e: unknown) => e);
      expect(refused).toMatchObject({ code: 'E_LOCKED' });
      expect((refused as Error).message).toContain(`strongbox`);
      expect((refused as Error).message).toContain(`pid ${process.pid}`);
      // The holder's connection is killed: the server frees the lock, and the holder learns it has lost it.
      await asAdmin((x) => x.query(`SELECT pg_terminate_backend(l.pid) FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = $1)
          AND l.classid = $2 AND l.objid = 2 AND l.objsubid = 2`, [db.name, APPLICATION_ID]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await b.exclusive(async () => 'taken after')).toBe('taken after');
      release();
      await holding;
      expect(checked).toMatchObject({ code: 'E_LOCKED' });
      expect(await a.exclusive(async () => 'and again')).toBe('and again');
    });
  });
});
