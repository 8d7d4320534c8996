// The audit log: every operation recorded (never a value), a keyed hash chain
// that names the first entry edited, removed, moved or inserted, fail-closed
// writes, and the migration that gives an older store its log.
import { describe, expect, it } from 'vitest';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { initStore, openStore, rawKey, keyFile, restoreStore, type Store, type AuditRecord } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { SCHEMA_VERSION } from '../../src/storage/sqlite/schema.js';

const KEY = new Uint8Array(32).fill(7);
const actor = { user: 'alice', pid: 4242 };

async function fresh(): Promise<{ path: string; store: Store }> {
  const path = join(tempDir(), 'store.db');
  return { path, store: await initStore(path, rawKey(KEY), { actor }) };
}

async function entries(store: Store, filter = {}): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const e of store.auditEntries(filter)) out.push(e);
  return out;
}

const brief = (e: AuditRecord) => [e.action, e.name ?? null, e.versions?.join(',') ?? null, e.outcome];

/** A store with a few entries, closed; returns its path. */
async function storeWithLog(): Promise<string> {
  const { path, store } = await fresh();
  await store.put('a', 'one');
  await store.put('b', 'two');
  await store.put('a', 'three');
  await store.get('a');
  await store.delete('b');
  await store.close();
  return path;
}

function sql(path: string, statement: string): void {
  const db = new Database(path);
  db.exec(statement);
  db.close();
}

async function verify(path: string) {
  const store = await openStore(path, rawKey(KEY), { actor });
  try {
    return await store.verifyAudit();
  } finally {
    await store.close();
  }
}

describe('what the audit log records', () => {
  it('records every operation with actor, name, versions and outcome', async () => {
    const { store } = await fresh();
    await store.put('db/password', 'hunter2');
    await store.put('db/password', 'hunter3', { cas: 1 });
    await expect(store.put('db/password', 'x', { cas: 1 })).rejects.toMatchObject({ code: 'E_CAS_MISMATCH' });
    await store.get('db/password', { version: 1 });
    await expect(store.get('missing')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await store.list({ pattern: 'db/' });
    await store.history('db/password');
    await store.delete('db/password', { versions: [1] });
    await store.undelete('db/password', { versions: [1] });
    await store.rollback('db/password', 1);
    await store.setMetadata('db/password', { maxVersions: 5 });
    await store.destroy('db/password', [1]);
    await store.rotateKeys();
    await store.purge('db/password');
    const log = await entries(store);
    expect(log.map(brief)).toEqual([
      ['init', null, null, 'ok'],
      ['put', 'db/password', '1', 'ok'],
      ['put', 'db/password', '2', 'ok'],
      ['put', 'db/password', null, 'E_CAS_MISMATCH'],
      ['get', 'db/password', '1', 'ok'],
      ['get', 'missing', null, 'E_NOT_FOUND'],
      ['list', null, null, 'ok'],
      ['history', 'db/password', null, 'ok'],
      ['delete', 'db/password', '1', 'ok'],
      ['undelete', 'db/password', '1', 'ok'],
      ['rollback', 'db/password', '3', 'ok'],
      ['metadata.set', 'db/password', null, 'ok'],
      ['destroy', 'db/password', '1', 'ok'],
      ['rotate-keys', null, null, 'ok'],
      ['purge', 'db/password', null, 'ok'],
    ]);
    expect(log.every((e) => e.actor === 'alice' && e.pid === 4242)).toBe(true);
    expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
    expect(log.find((e) => e.action === 'rotate-keys')?.detail).toMatch(/primary key 2 \(new\); rewrapped 2; retired 1/);
    expect((await entries(store, { name: 'missing' })).map(brief)).toEqual([['get', 'missing', null, 'E_NOT_FOUND']]);
    expect((await entries(store, { action: 'put' }))).toHaveLength(3);
    expect((await store.verifyAudit())).toEqual({ ok: true, entries: log.length });
    await store.close();
  });

  it('does not record input refused before the store was touched', async () => {
    const { store } = await fresh();
    await expect(store.put('bad//name', 'v')).rejects.toMatchObject({ code: 'E_INVALID_NAME' });
    await expect(store.put('ok', '')).rejects.toMatchObject({ code: 'E_INVALID_VALUE' });
    expect((await entries(store)).map((e) => e.action)).toEqual(['init']);
    await store.close();
  });

  it('audit.reads false stops recording reads, and the change itself is recorded', async () => {
    const { path, store } = await fresh();
    await store.put('a', 'v');
    await store.setConfig('audit.reads', 'false');
    await store.get('a');
    await store.list();
    await store.close();
    const again = await openStore(path, rawKey(KEY));
    expect(await again.getConfig('audit.reads')).toBe('false');
    await again.get('a');
    expect((await entries(again)).map((e) => e.action)).toEqual(['init', 'put', 'config.set']);
    await expect(again.setConfig('audit.reads', 'maybe')).rejects.toMatchObject({ code: 'E_USAGE' });
    await again.close();
  });

  it('never holds a value: a canary written, read and rolled back is not in the audit table', async () => {
    const { path, store } = await fresh();
    const canary = `CANARY-${Math.random().toString(16).slice(2)}`;
    await store.put('s', canary);
    await store.get('s');
    await store.put('s', 'other');
    await store.rollback('s', 1);
    await expect(store.put('s', canary, { cas: 0 })).rejects.toMatchObject({ code: 'E_CAS_MISMATCH' });
    await store.close();
    const db = new Database(path, { readonly: true });
    const rows = db.prepare('SELECT * FROM audit').all();
    db.close();
    expect(rows.length).toBeGreaterThan(4);
    expect(JSON.stringify(rows)).not.toContain(canary);
    expect(JSON.stringify(rows)).not.toContain(Buffer.from(canary).toString('hex'));
  });
});

describe('backup, verify and restore are audited', () => {
  it('the live store logs its backups and checks; a restored store logs where it came from', async () => {
    const { path, store } = await fresh();
    await store.put('a', 'v1');
    const file = join(tempDir(), 'a.backup');
    await store.backup(file);
    await store.verify({ deep: true });
    expect((await entries(store)).map((e) => [e.action, e.outcome, e.detail ?? null]).slice(-2)).toEqual([
      ['backup', 'ok', file],
      ['verify', 'ok', 'deep'],
    ]);
    await store.put('a', 'v2');
    await store.close();
    await restoreStore(path, file, rawKey(KEY));
    const restored = await openStore(path, rawKey(KEY));
    expect((await restored.get('a')).value.text()).toBe('v1');
    const log = await entries(restored);
    expect(log.map((e) => e.action)).toEqual(['init', 'put', 'restore', 'get']);
    expect(log[2]!.detail).toBe(`from ${file}`);
    expect(await restored.verifyAudit()).toMatchObject({ ok: true });
    await restored.close();
  });
});

describe('audit verify finds tampering', () => {
  it('passes on an untouched log', async () => {
    expect(await verify(await storeWithLog())).toMatchObject({ ok: true, entries: 6 });
  });

  it('names an edited entry', async () => {
    const path = await storeWithLog();
    sql(path, "UPDATE audit SET name = 'c' WHERE seq = 3");
    expect((await verify(path)).firstProblem).toMatchObject({ seq: 3, problem: expect.stringMatching(/altered/) });
  });

  it('names a deleted entry', async () => {
    const path = await storeWithLog();
    sql(path, 'DELETE FROM audit WHERE seq = 2');
    expect((await verify(path)).firstProblem).toMatchObject({ seq: 2, problem: expect.stringMatching(/missing/) });
  });

  it('names reordered entries', async () => {
    const path = await storeWithLog();
    sql(path, `UPDATE audit SET seq = -1 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = -1;`);
    expect((await verify(path)).firstProblem?.seq).toBe(3);
  });

  it('names an inserted entry, even one copied from the log itself', async () => {
    const path = await storeWithLog();
    sql(path, `UPDATE audit SET seq = seq + 1000 WHERE seq >= 4; UPDATE audit SET seq = seq - 999 WHERE seq > 1000;
      INSERT INTO audit SELECT 4, at, actor, pid, 'get', name, versions, outcome, detail, mac FROM audit WHERE seq = 3;`);
    expect((await verify(path)).firstProblem?.seq).toBe(4);
  });

  it('notices entries cut from the end', async () => {
    const path = await storeWithLog();
    sql(path, 'DELETE FROM audit WHERE seq >= 5');
    expect((await verify(path)).firstProblem).toMatchObject({ seq: 5, problem: expect.stringMatching(/removed from the end/) });
  });

  it('a forged entry appended without the audit key is caught', async () => {
    const path = await storeWithLog();
    sql(path, `INSERT INTO audit SELECT seq + 1, at, actor, pid, 'put', 'forged', '9', 'ok', NULL, mac FROM audit ORDER BY seq DESC LIMIT 1;
      UPDATE meta SET value = '7:' || substr(value, 3) WHERE key = 'audit_head';`);
    expect((await verify(path)).firstProblem?.seq).toBe(7);
  });
});

describe('fail closed', () => {
  it('a write whose audit entry cannot be written does not happen; a read returns no value', async () => {
    const { path, store } = await fresh();
    await store.put('a', 'v1');
    sql(path, "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit is full'); END;");
    await expect(store.put('a', 'v2')).rejects.toBeDefined();
    await expect(store.get('a')).rejects.toBeDefined();
    sql(path, 'DROP TRIGGER no_audit');
    expect((await store.get('a')).value.text()).toBe('v1');
    expect((await store.history('a')).map((h) => h.version)).toEqual([1]);
    await store.close();
  });
});

describe('master rotation and older stores', () => {
  it('the log stays verifiable after rotate-master (its key is rewrapped)', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const store = await initStore(path, rawKey(KEY));
    await store.put('a', 'v');
    await store.rotateMaster(keyFile(join(dir, 'new.key'), { create: true }));
    await store.put('b', 'w');
    await store.close();
    const again = await openStore(path, keyFile(join(dir, 'new.key')));
    expect(await again.verifyAudit()).toMatchObject({ ok: true, entries: 4 });
    expect((await entries(again)).map((e) => e.action)).toEqual(['init', 'put', 'rotate-master', 'put']);
    await again.close();
  });

  it('opens a store made by schema 1 (before the audit log): migrates it, keeps every secret, starts its log', async () => {
    const path = join(tempDir(), 'old.db');
    copyFileSync('test/fixtures/store-schema1.db', path);
    const before = readFileSync(path);
    expect(before.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
    const store = await openStore(path, rawKey(new Uint8Array(32).fill(0x5a)));
    expect((await store.status()).schemaVersion).toBe(SCHEMA_VERSION);
    expect((await store.get('app/db-password')).value.text()).toBe('v1-password-2');
    expect((await store.get('app/db-password', { version: 1 })).value.text()).toBe('v1-password-1');
    await expect(store.get('app/api-key')).rejects.toMatchObject({ code: 'E_DELETED' });
    await expect(store.get('other/token')).rejects.toMatchObject({ code: 'E_DESTROYED' });
    await store.undelete('app/api-key');
    expect([...(await store.get('app/api-key')).value.expose()]).toEqual([0, 1, 2, 255]);
    expect((await entries(store)).map((e) => e.action).slice(0, 1)).toEqual(['audit.start']);
    expect(await store.verifyAudit()).toMatchObject({ ok: true });
    await store.close();
  });
});
