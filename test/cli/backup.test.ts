// store backup / restore / verify in-process through run(argv, io), as a user runs them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';
import { flipValue } from '../helpers/store.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];
const mode = (path: string) => statSync(path).mode & 0o777;

beforeEach(async () => {
  ws = workspace();
  expect((await runInProcess(store('init', '--master', 'keyfile'))).status).toBe(0);
  for (let i = 0; i < 3; i++) expect((await runInProcess(store('set', `app/${i}`), { input: `secret-${i}` })).status).toBe(0);
  expect((await runInProcess(store('set', 'app/0'), { input: 'secret-0b' })).status).toBe(0);
  expect((await runInProcess(store('delete', 'app/2'))).status).toBe(0);
});
afterEach(() => ws.cleanup());

describe('store backup', () => {
  it('writes a 0600 single-file snapshot and says so; --json gives the report', async () => {
    const file = join(ws.dir, 'b1.db');
    const r = await runInProcess(store('backup', file));
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^backed up store [0-9a-f]{32} to .*b1\.db: [\d.]+ MiB in [\d.]+ s\n$/);
    expect(r.err).toBe(''); // no progress bar off a terminal
    expect(mode(file)).toBe(0o600);
    expect(existsSync(`${file}-wal`)).toBe(false);
    const j = await runInProcess(store('backup', join(ws.dir, 'b2.db'), '--json'));
    expect(j.status).toBe(0);
    expect(JSON.parse(j.out)).toMatchObject({ file: join(ws.dir, 'b2.db'), verified: null, bytes: statSync(join(ws.dir, 'b2.db')).size });
    // The backup is a store: it opens with the same key.
    expect((await runInProcess(['--store', file, '--keyfile', ws.key, 'get', 'app/0'])).out).toBe('secret-0b');
  });

  it('refuses to overwrite an existing file (exit 7) and leaves it untouched', async () => {
    const file = join(ws.dir, 'taken.db');
    writeFileSync(file, 'precious');
    const r = await runInProcess(store('backup', file));
    expect(r.status).toBe(7);
    expect(r.err).toMatch(/store: error: .*taken\.db already exists/);
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect(readdirSync(ws.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--verify opens the new backup and decrypts every live and deleted version', async () => {
    const r = await runInProcess(store('backup', join(ws.dir, 'b.db'), '--verify', '--json'));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out).verified).toMatchObject({
      ok: true, deep: true, secrets: 3, versions: 4, liveVersions: 3, deletedVersions: 1, destroyedVersions: 0, decrypted: 4, problems: [],
    });
    expect((await runInProcess(store('backup', join(ws.dir, 'c.db'), '--verify'))).out).toMatch(/; verified: 3 secret\(s\), 4 version\(s\) .* decrypted\n$/);
  });
});

describe('store verify', () => {
  it('exit 0 on a sound store, with and without --deep', async () => {
    const quick = await runInProcess(store('verify'));
    expect(quick.status).toBe(0);
    expect(quick.out).toMatch(/^store [0-9a-f]{32} is sound: 3 secret\(s\), 4 version\(s\) \(3 live, 1 deleted, 0 destroyed\); keys present/);
    const deep = await runInProcess(store('verify', '--deep', '--json'));
    expect(deep.status).toBe(0);
    expect(JSON.parse(deep.out)).toMatchObject({ ok: true, deep: true, decrypted: 4, problems: [] });
  });

  it('--deep on a store with a flipped ciphertext byte: exit 5, the version named, no value printed', async () => {
    flipValue(ws.db, 'app/1', 1);
    expect((await runInProcess(store('verify'))).status).toBe(0); // nothing decrypted without --deep
    const r = await runInProcess(store('verify', '--deep'));
    expect(r.status).toBe(5);
    expect(r.out).toMatch(/^problem: E_TAMPERED: cannot decrypt app\/1 version 1/);
    expect(r.err).toMatch(/store: error: verify found 1 problem\(s\) in .*store\.db/);
    expect(r.out + r.err).not.toMatch(/secret-\d/);
    const j = await runInProcess(store('verify', '--deep', '--json'));
    expect(j.status).toBe(5);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, decrypted: 3, problems: [{ code: 'E_TAMPERED' }] });
  });

  it('structural damage (a version of no secret): exit 7', async () => {
    const db = new Database(ws.db);
    db.prepare('INSERT INTO versions (place, secret_id, version, created_at, key_id, ciphertext) VALUES (999 * 4294967296 + 1, 999, 1, 0, NULL, NULL)').run();
    db.close();
    const r = await runInProcess(store('verify'));
    expect(r.status).toBe(7);
    expect(r.out).toMatch(/problem: E_NOT_A_STORE: structure: 1 version row\(s\) of no secret/);
  });
});

describe('store restore', () => {
  it('replaces the store, keeps the old file (0600) and says what it restored', async () => {
    const file = join(ws.dir, 'b.db');
    expect((await runInProcess(store('backup', file))).status).toBe(0);
    expect((await runInProcess(store('set', 'app/after'), { input: 'later' })).status).toBe(0);
    const r = await runInProcess(store('restore', file));
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^restored store [0-9a-f]{32} to .*store\.db: 3 secret\(s\), 4 version\(s\) \(3 live, 1 deleted, 0 destroyed\); newest write \d{4}-.*Z; the previous file is kept as .*store\.db\.pre-restore-\d{8}T\d{6}Z\n$/);
    // Nobody had the old file open: it is kept alone, its emptied -wal and its -shm folded away.
    const kept = readdirSync(ws.dir).filter((f) => f.startsWith('store.db.pre-restore-'));
    expect(kept).toHaveLength(1);
    expect(mode(join(ws.dir, kept[0]!))).toBe(0o600);
    expect(mode(ws.db)).toBe(0o600);
    expect((await runInProcess(store('get', 'app/after'))).status).toBe(3);
    expect((await runInProcess(store('get', 'app/0'))).out).toBe('secret-0b');
    expect((await runInProcess(['--store', join(ws.dir, kept[0]!), '--keyfile', ws.key, 'get', 'app/after'])).out).toBe('later');
    expect((await runInProcess(store('verify', '--deep'))).status).toBe(0);
  });

  it("refuses another store's backup (exit 7, store unchanged); --force replaces it", async () => {
    const other = workspace();
    try {
      expect((await runInProcess([...other.base, 'init', '--master', 'keyfile'])).status).toBe(0);
      expect((await runInProcess([...other.base, 'set', 'other/x'], { input: 'x' })).status).toBe(0);
      const file = join(other.dir, 'other.db');
      expect((await runInProcess([...other.base, 'backup', file])).status).toBe(0);
      const before = readFileSync(ws.db);
      const refused = await runInProcess(['--store', ws.db, '--keyfile', other.key, 'restore', file]);
      expect(refused.status).toBe(7);
      expect(refused.err).toMatch(/holds store [0-9a-f]{32}, but .* is a backup of store [0-9a-f]{32}/);
      expect(refused.err).toMatch(/store: hint: pass --force/);
      expect(readFileSync(ws.db).equals(before)).toBe(true);
      expect(readdirSync(ws.dir).some((f) => f.includes('pre-restore') || f.endsWith('.tmp'))).toBe(false);
      const forced = await runInProcess(['--store', ws.db, '--keyfile', other.key, 'restore', file, '--force', '--json']);
      expect(forced.status).toBe(0);
      expect(JSON.parse(forced.out)).toMatchObject({ forced: true, secrets: 1 });
      expect((await runInProcess(['--store', ws.db, '--keyfile', other.key, 'get', 'other/x'])).out).toBe('x');
    } finally {
      other.cleanup();
    }
  });

  it('refuses a tampered backup (exit 5) and leaves the store as it was', async () => {
    const file = join(ws.dir, 'b.db');
    expect((await runInProcess(store('backup', file))).status).toBe(0);
    flipValue(file, 'app/0', 2);
    const before = readFileSync(ws.db);
    const r = await runInProcess(store('restore', file));
    expect(r.status).toBe(5);
    expect(r.out).toMatch(/problem: E_TAMPERED: cannot decrypt app\/0 version 2/);
    expect(r.err).toMatch(/failed verification: 1 problem\(s\); nothing was restored/);
    expect(readFileSync(ws.db).equals(before)).toBe(true);
    expect(readdirSync(ws.dir).filter((f) => f.includes('pre-restore') || f.endsWith('.tmp'))).toEqual([]);
  });

  it('with no store at the path, installs the backup', async () => {
    const file = join(ws.dir, 'b.db');
    expect((await runInProcess(store('backup', file))).status).toBe(0);
    const target = join(ws.dir, 'elsewhere', 'store.db');
    const r = await runInProcess(['--store', target, '--keyfile', ws.key, 'restore', file, '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ keptAs: null, replacedStoreId: null, versions: 4 });
    expect((await runInProcess(['--store', target, '--keyfile', ws.key, 'get', 'app/1'])).out).toBe('secret-1');
  });

  it('exits 75 while another exclusive operation holds the store', async () => {
    const file = join(ws.dir, 'b.db');
    expect((await runInProcess(store('backup', file))).status).toBe(0);
    mkdirSync(`${ws.db}.lock`); // what proper-lockfile holds while another exclusive operation runs
    expect((await runInProcess(store('restore', file))).status).toBe(75);
  });
});
