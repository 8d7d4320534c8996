/**
 * Writes in one round trip (src/storage/postgres/one-trip.ts): once a
 * storage has committed a write, a put-shaped write whose reads it knows the
 * answers to goes as one statement, written only when the database is still
 * as known. Whenever it is not — another host wrote, the name exists after
 * all, a row was edited, the audit log was cut — nothing of it is written
 * and the write runs by the ordinary path, which sees the database as it is.
 */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPostgresStore, openPostgresStore } from '../../../src/storage/postgres/open.js';
import pg from 'pg';
import { WRITE_LOCK, type PostgresStorage } from '../../../src/storage/postgres/driver.js';
import type { AuditRow, RawOps, RawStorage } from '../../../src/storage/storage.js';
import { createKeyFile, initStore, keyFile, openStore, type Store } from '../../../src/index.js';
import { asAdmin, freshDatabase, postgresCluster, socketUrl } from '../../helpers/postgres.js';
import { headNonce, NONCE_FROM } from '../../../src/storage/columns.js';
import { tempDir } from '../../helpers/tmp.js';
import { proxyTo } from '../../helpers/tcp-proxy.js';
import { rejectionCode, rejectionError as caught } from '../../helpers/errors.js';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
expect.addEqualityTesters([
  (a: unknown, b: unknown) => (a instanceof Uint8Array && b instanceof Uint8Array ? Buffer.compare(a, b) === 0 : undefined),
]);
const audit = (seq: number): AuditRow => ({ seq, at: 5_000 + seq, actor: 'ops', pid: 42, action: 'put', name: null, versions: null, outcome: 'ok', detail: null, mac: bytes(32, seq) });

let stateMacs = 0;

/** What a put does at the driver's level: the first reads, the secret found or inserted, a version, the secret, an audit entry and the state row. */
async function put(tx: RawOps, name: string): Promise<{ id: number; version: number }> {
  const primary = await tx.primaryKeyId();
  const last = await tx.lastAudit();
  await tx.stateMac();
  const secret = await tx.findSecret(name) ?? await tx.insertSecret(name, 1_000);
  const version = secret.currentVersion + 1;
  const at = 1_000 + version;
  const ciphertext = bytes(40, version);
  await tx.insertVersion({ secretId: secret.id, version, createdAt: at, deletedAt: null, destroyedAt: null, keyId: primary!, ciphertext, mac: bytes(32, version), json: false });
  // The head as the guard makes it (src/store/integrity/guarded.ts): its nonce cut from the version's ciphertext.
  const head = { createdAt: at, deletedAt: null, destroyedAt: null, json: false, nonce: headNonce(ciphertext) as Uint8Array };
  await tx.updateSecret({ ...secret, currentVersion: version, updatedAt: at, head, mac: bytes(32, 100 + version) });
  const seq = (last?.seq ?? 0) + 1;
  await tx.insertAudit(audit(seq));
  stateMacs++;
  await tx.putState({ digest: bytes(2048, seq), auditSeq: seq, auditMac: bytes(32, seq), mac: bytes(32, stateMacs % 256) });
  return { id: secret.id, version };
}

/** Two storages on one fresh database: the store's first rows (a primary key, a state row) written by `one`. */
async function hosts(): Promise<{ one: PostgresStorage; two: RawStorage; db: string }> {
  const db = await freshDatabase();
  const one = await createPostgresStore(db.url) as PostgresStorage;
  onTestFinished(() => one.close());
  const two = await openPostgresStore(db.url);
  onTestFinished(() => two.close());
  await one.write(async (tx) => tx.insertKey({ id: 7, version: 1, status: 'primary', createdAt: 1, wrapped: bytes(40, 7), mac: bytes(32, 7) }));
  await one.write(async (tx) => {
    await tx.insertAudit(audit(1));
    await tx.putState({ digest: bytes(2048, 1), auditSeq: 1, auditMac: bytes(32, 1), mac: bytes(32, 0xf0) });
  });
  return { one, two, db: db.name };
}

/** A connection of the superuser's holding the store's write lock (as an ordinary write transaction does) until released. */
async function lockHolder(database: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: socketUrl(await postgresCluster(), database) });
  await client.connect();
  await client.query('BEGIN');
  await client.query(`SELECT pg_advisory_xact_lock(${WRITE_LOCK[0]}, ${WRITE_LOCK[1]})`);
  return {
    release: async () => {
      await client.query('COMMIT');
      await client.end();
    },
  };
}

async function versionsOf(s: RawStorage, name: string): Promise<number[]> {
  return s.read(async (tx) => {
    const secret = await tx.findSecret(name);
    return secret ? (await tx.listVersions(secret.id)).map((v) => v.version) : [];
  });
}

describe('PostgreSQL writes in one round trip', () => {
  it('a put of a new name and of a known one each go as one statement once the storage knows the store', async () => {
    const { one, two } = await hosts();
    // Nothing is known before the first write that finds the state row; then the first new name has no id at hand.
    await one.write((tx) => put(tx, 'a'));
    await one.write((tx) => put(tx, 'b'));
    expect(one.oneTrips.written).toBe(0);
    // From then on ids are taken ahead.
    for (const name of ['c', 'd']) await one.write((tx) => put(tx, name));
    for (let i = 0; i < 3; i++) await one.write((tx) => put(tx, 'a'));
    expect(one.oneTrips.written).toBe(5);
    expect(one.oneTrips.missed).toBe(0);
    // What another host reads is what was written.
    expect(await versionsOf(two, 'a')).toEqual([1, 2, 3, 4]);
    expect(await versionsOf(two, 'd')).toEqual([1]);
    expect(await two.read(async (tx) => tx.lastAudit())).toMatchObject({ seq: 8 });
    const ids = await two.read(async (tx) => Promise.all(['a', 'b', 'c', 'd'].map(async (n) => (await tx.findSecret(n))!.id)));
    expect(new Set(ids).size).toBe(4);
  });

  it('the end of the audit log is found through its index under any plan: a long log adds no scan of it to a one-trip write', async () => {
    const { one, db } = await hosts();
    for (let i = 0; i < 3; i++) await one.write((tx) => put(tx, 'a'));
    // A long log, as a year of audited reads leaves one, with fresh statistics.
    await asAdmin(async (a) => {
      await a.query(`INSERT INTO strongbox.audit (seq, at, actor, pid, action, outcome, mac)
        SELECT g, g, 'ops', 1, 'get', 'ok', '\\x00'::bytea FROM generate_series(100, 30099) g`);
      await a.query('ANALYZE strongbox.audit');
    }, db);
    const sent: { name: string; text: string; values: unknown[] }[] = [];
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const config = args[0] as { name?: string } | string;
      if (typeof config === 'object' && config.name?.startsWith('sb_one')) sent.push(config as (typeof sent)[number]);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      await one.write((tx) => put(tx, 'a'));
    } finally {
      pg.Client.prototype.query = query;
    }
    expect(sent).toHaveLength(1);
    // The plan a prepared statement settles on after its first runs: no parameter's value known.
    const plan = await asAdmin(async (a) => {
      await a.query('SET plan_cache_mode = force_generic_plan');
      await a.query(`PREPARE one_trip AS ${sent[0]!.text}`);
      // EXECUTE takes its arguments as literals (a bind message has none to give it).
      const literal = (v: unknown) => (v === null ? 'NULL'
        : v instanceof Uint8Array ? `'\\x${Buffer.from(v).toString('hex')}'` : a.escapeLiteral(String(v)));
      const r = await a.query(`EXPLAIN (COSTS OFF) EXECUTE one_trip(${sent[0]!.values.map(literal).join(', ')})`);
      return r.rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
    }, db);
    expect(plan).toMatch(/Index Only Scan Backward using audit_pkey on audit/);
    expect(plan).not.toMatch(/Seq Scan on audit/);
  });

  it('another host\'s write in between: nothing is written in one trip, and the ordinary path numbers after it', async () => {
    const { one, two } = await hosts();
    for (let i = 0; i < 3; i++) await one.write((tx) => put(tx, 'a'));
    await two.write((tx) => put(tx, 'a')); // version 4, audit entry 5
    const r = await one.write((tx) => put(tx, 'a'));
    expect(r.version).toBe(5);
    expect(one.oneTrips.missed).toBe(1);
    expect(await versionsOf(two, 'a')).toEqual([1, 2, 3, 4, 5]);
    expect(await two.read(async (tx) => (await tx.auditPage(0, 100)).map((e) => e.seq))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('another host\'s write that only saves the state row (no audit entry, no secret) is enough to stop a one-trip write', async () => {
    const { one, two } = await hosts();
    for (let i = 0; i < 3; i++) await one.write((tx) => put(tx, 'a'));
    const missed = one.oneTrips.missed;
    const s = await two.read(async (tx) => tx.state());
    await two.write(async (tx) => tx.putState({ ...s!, mac: bytes(32, 0xee) }));
    await one.write((tx) => put(tx, 'a'));
    expect(one.oneTrips.missed).toBe(missed + 1);
  });

  it('while another transaction holds the write lock, a one-trip write does not go past it: the write waits for the lock', async () => {
    const { one, db } = await hosts();
    for (let i = 0; i < 3; i++) await one.write((tx) => put(tx, 'a'));
    const missed = one.oneTrips.missed;
    const holder = await lockHolder(db);
    let done = false;
    const writing = one.write((tx) => put(tx, 'a')).then((r) => { done = true; return r; });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(done).toBe(false);
    await holder.release();
    expect((await writing).version).toBe(4);
    expect(one.oneTrips.missed).toBe(missed + 1);
  });

  it('a name another host made meanwhile is not taken as new: its insert is refused, and the ordinary path finds the secret', async () => {
    const { one, two } = await hosts();
    await one.write((tx) => put(tx, 'x'));
    await one.write((tx) => put(tx, 'y')); // ids now at hand
    // Another host makes 'z' and then the state is put back as this one knows it (as only an attack could): the stamp matches.
    const state = await one.read(async (tx) => tx.state());
    const last = await one.read(async (tx) => tx.lastAudit());
    await two.write(async (tx) => {
      const s = await tx.insertSecret('z', 1);
      await tx.updateSecret({ ...s, currentVersion: 0, mac: bytes(32, 77) });
    });
    expect(await one.read(async (tx) => tx.lastAudit())).toEqual(last);
    expect(await one.read(async (tx) => tx.state())).toEqual(state);
    const missed = one.oneTrips.missed;
    const r = await one.write((tx) => put(tx, 'z'));
    expect(one.oneTrips.missed).toBe(missed + 1);
    expect(r.version).toBe(1);
    expect(await versionsOf(two, 'z')).toEqual([1]);
    expect(await two.read(async (tx) => (await tx.findSecret('z'))!.mac)).toEqual(bytes(32, 101));
  });

  it('a secret row edited in the database, or the audit log cut, is never written over in one trip', async () => {
    const { one, two, db } = await hosts();
    for (let i = 0; i < 2; i++) await one.write((tx) => put(tx, 'a'));
    await asAdmin((c) => c.query('UPDATE strongbox.secrets SET current_version = 1 WHERE name = $1', ['a']), db);
    let missed = one.oneTrips.missed;
    // The ordinary path reads the edited row and numbers version 2 again, which the database refuses (the store's guard refuses the row itself: see below).
    await expect(one.write((tx) => put(tx, 'a'))).rejects.toMatchObject({ message: expect.stringContaining('23505') });
    expect(one.oneTrips.missed).toBe(missed + 1);
    expect(await two.read(async (tx) => (await tx.findSecret('a'))!.currentVersion)).toBe(1);
    expect(await versionsOf(two, 'a')).toEqual([1, 2]);
    await one.write((tx) => put(tx, 'b'));
    await one.write((tx) => put(tx, 'b')); // known again
    await asAdmin((c) => c.query('DELETE FROM strongbox.audit WHERE seq = (SELECT max(seq) FROM strongbox.audit)'), db);
    const cut = await two.read(async (tx) => tx.lastAudit());
    missed = one.oneTrips.missed;
    await one.write((tx) => put(tx, 'b')).catch(() => undefined); // the ordinary path may chain on or be refused: what matters is the one trip
    expect(one.oneTrips.missed).toBe(missed + 1);
    expect(cut!.seq).toBeGreaterThan(0);
  });
});

describe('A Store on PostgreSQL, writing in one round trip', () => {
  async function pgStores(): Promise<{ store: Store; other: Store; db: string }> {
    const db = await freshDatabase();
    const key = join(tempDir(), 'master.key');
    createKeyFile(key);
    const store = await initStore(db.url, keyFile(key));
    onTestFinished(() => store.close());
    const other = await openStore(db.url, keyFile(key));
    onTestFinished(() => other.close());
    return { store, other, db: db.name };
  }

  it('two hosts writing the same names in turn: every version numbered without a gap, the store verifies', async () => {
    const { store, other } = await pgStores();
    const writes: [Store, string][] = [];
    for (let i = 0; i < 30; i++) writes.push([i % 3 === 0 ? other : store, `n/${i % 4}`]);
    for (const [s, name] of writes) await s.put(name, `value ${name} ${Math.random()}`);
    for (let k = 0; k < 4; k++) {
      const h = await other.history(`n/${k}`);
      expect(h.map((v) => v.version)).toEqual(Array.from({ length: h.length }, (_, i) => i + 1));
    }
    const last = writes.filter(([, n]) => n === 'n/1').length;
    expect((await store.get('n/1')).version).toBe(last);
    expect((await store.verify({ deep: true })).ok).toBe(true);
    expect((await store.verifyAudit()).ok).toBe(true);
  });

  it('a secret row edited, or the audit log cut, in the database: the next put is E_TAMPERED, nothing written', async () => {
    const { store, db } = await pgStores();
    for (let i = 0; i < 3; i++) await store.put('app/db', `v${i}`);
    await asAdmin((c) => c.query('UPDATE strongbox.secrets SET current_version = 2 WHERE name = $1', ['app/db']), db);
    expect(await rejectionCode(store.put('app/db', 'after the edit'))).toBe('E_TAMPERED');
    await asAdmin((c) => c.query('UPDATE strongbox.secrets SET current_version = 3 WHERE name = $1', ['app/db']), db);
    expect((await store.get('app/db')).version).toBe(3);

    await store.put('app/other', 'x');
    await store.put('app/other', 'y');
    const before = await asAdmin(async (c) => (await c.query('SELECT count(*)::int AS n FROM strongbox.audit')).rows[0].n as number, db);
    await asAdmin((c) => c.query('DELETE FROM strongbox.audit WHERE seq = (SELECT max(seq) FROM strongbox.audit)'), db);
    expect(await rejectionCode(store.put('app/other', 'onto a cut log'))).toBe('E_TAMPERED');
    const after = await asAdmin(async (c) => (await c.query('SELECT count(*)::int AS n FROM strongbox.audit')).rows[0].n as number, db);
    expect(after).toBe(before - 1);
    expect((await asAdmin((c) => c.query('SELECT count(*)::int AS n FROM strongbox.versions v JOIN strongbox.secrets s ON s.id = v.secret_id WHERE s.name = $1', ['app/other']), db)).rows[0].n).toBe(2);
  });

  it('the current version\'s nonce edited in the database: a put in one trip refuses it as the ordinary path does', async () => {
    const { store, db } = await pgStores();
    await store.put('app/x', 'one');
    await store.put('app/x', 'two'); // the storage now knows app/x: the next put would go in one trip
    await asAdmin((c) => c.query(`UPDATE strongbox.versions SET ciphertext = overlay(ciphertext placing '\\xdeadbeef'::bytea from ${NONCE_FROM + 1})
      WHERE version = 2 AND secret_id = (SELECT id FROM strongbox.secrets WHERE name = 'app/x')`), db);
    expect(await rejectionCode(store.put('app/x', 'three'))).toBe('E_TAMPERED');
    const versions = await asAdmin((c) => c.query(`SELECT count(*)::int AS n FROM strongbox.versions v JOIN strongbox.secrets s ON s.id = v.secret_id WHERE s.name = 'app/x'`), db);
    expect(versions.rows[0].n).toBe(2);
  });

  it('a one-trip write whose answers are lost after the server ran it: "may or may not" (retryable), never written twice', async () => {
    const db = await freshDatabase();
    // A TCP proxy to the cluster that, once armed, passes on the next packet holding a one-trip statement and then
    // resets the client's connection: the server runs BEGIN, the statement and COMMIT; no answer comes back.
    let armed = false;
    const { url } = await proxyTo(db, (c) => ({
      fromClient: (d) => {
        if (armed && d.includes('sb_one_')) {
          armed = false;
          queueMicrotask(() => c.cut()); // once this chunk has gone on to the server
        }
        return true;
      },
    }));
    const key = join(tempDir(), 'master.key');
    createKeyFile(key);
    const store = await initStore(url, keyFile(key));
    onTestFinished(() => store.close());
    await store.put('app/db', 'v1');
    await store.put('app/db', 'v2');
    const cutPut = async (value: string, cas?: number) => {
      armed = true;
      const e = await caught(store.put('app/db', value, cas === undefined ? {} : { cas }));
      expect(armed, 'the proxy cut a one-trip exchange').toBe(false);
      expect([e.code, e.message]).toEqual(['E_LOCKED', expect.stringContaining('it may or may not have been made')]);
    };
    // With check-and-set: not a false E_CAS_MISMATCH from running it again; without: not a second version.
    await cutPut('three', 2);
    expect((await store.put('app/db', 'v4')).version).toBe(4); // the ordinary path, which learns the store anew
    await cutPut('five');
    const history = await store.history('app/db');
    expect(history.map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
    const values = [];
    for (const v of history) values.push(new TextDecoder().decode((await store.get('app/db', { version: v.version })).value.expose()));
    expect(values).toEqual(['v1', 'v2', 'three', 'v4', 'five']);
    expect((await store.put('app/db', 'six')).version).toBe(6); // and the store goes on
    expect((await store.verify({ deep: true })).ok).toBe(true);
    expect((await store.verifyAudit()).ok).toBe(true);
  });
});
