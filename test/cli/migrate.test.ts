// store migrate, and store backup / restore of a store in PostgreSQL, in-process as a user runs them.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/cli/main.js';
import { runInProcess } from '../helpers/in-process.js';
import { asAdmin, freshDatabase } from '../helpers/postgres.js';
import { hasStoreSchema, postgresRows, sqliteRows } from '../helpers/rows.js';
import { sink } from '../helpers/sink.js';
import { tempDir } from '../helpers/tmp.js';
import { cleanEnv } from './run-cli.js';

/** A store file with a key file beside it, and a few secrets. */
async function fileStore(): Promise<{ dir: string; path: string; key: string }> {
  const dir = tempDir();
  const path = join(dir, 'store.db');
  const key = join(dir, 'master.key');
  const base = ['--store', path, '--keyfile', key];
  expect((await runInProcess([...base, 'init', '--master', 'keyfile'])).status).toBe(0);
  for (const [name, value] of [['app/db', 'one'], ['app/db', 'two'], ['app/api', 'k']]) {
    expect((await runInProcess([...base, 'set', name!], { input: value })).status).toBe(0);
  }
  expect((await runInProcess([...base, 'delete', 'app/api'])).status).toBe(0);
  return { dir, path, key };
}

/** The CLI with stderr on a "terminal", for its progress bars. */
async function onTerminal(argv: string[]): Promise<{ status: number; out: string; err: string }> {
  const out = sink();
  const err = sink();
  const status = await run(argv, {
    stdin: Readable.from([]), stdout: out.stream, stderr: err.stream, env: cleanEnv({}), stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: true,
  });
  return { status, out: out.text(), err: err.text() };
}

describe('store migrate', () => {
  it('a store file into PostgreSQL and back: the same rows, the same values; progress on a terminal', async () => {
    const { dir, path, key } = await fileStore();
    const rows = sqliteRows(path);
    const db = await freshDatabase();
    const url = `${db.url}&password=not-to-be-shown`;

    const there = await onTerminal(['--keyfile', key, 'migrate', '--from', path, '--to', url]);
    expect(there.status, there.err).toBe(0);
    expect(there.out).toMatch(new RegExp(`^migrated store [0-9a-f]{32} from ${path} to .*: 2 secret\\(s\\), 3 version\\(s\\), 1 data key\\(s\\), \\d+ audit entries, 0 record\\(s\\); verified: 3 version\\(s\\) decrypted, rows and audit chain sound; [\\d.]+ s\\n$`));
    expect(there.err).toMatch(/migrate \[#+\] (\d+)\/\1 100%/);
    expect(there.err).toMatch(/verify \[#+\] 3\/3 100%/);
    expect(there.out + there.err).not.toContain('not-to-be-shown');
    expect(await postgresRows(db.name)).toEqual(rows);

    // --from defaults to the store the global options name; --json gives the report.
    const back = join(dir, 'back.db');
    const home = await runInProcess(['--store', db.url, '--keyfile', key, 'migrate', '--to', back, '--json']);
    expect(home.status, home.err).toBe(0);
    expect(JSON.parse(home.out)).toMatchObject({
      from: db.url, to: back, sourceChangedSince: false, rows: { secrets: 2, versions: 3, keys: 1, records: 0 }, verified: { ok: true, decrypted: 3 },
    });
    expect(home.err).toBe('');
    expect(sqliteRows(back)).toEqual(rows);
    expect(statSync(back).mode & 0o777).toBe(0o600);
    expect(await runInProcess(['--store', back, '--keyfile', key, 'get', 'app/db'])).toMatchObject({ status: 0, out: 'two' });
    expect((await runInProcess(['--store', back, '--keyfile', key, 'audit', 'verify'])).status).toBe(0);
  });

  it('a target that holds a store: exit 7, nothing changed; a wrong key: exit 5, no target made', async () => {
    const { dir, path, key } = await fileStore();
    const db = await freshDatabase();
    expect((await runInProcess(['--keyfile', key, 'migrate', '--from', path, '--to', db.url])).status).toBe(0);
    const rows = await postgresRows(db.name);
    const again = await runInProcess(['--keyfile', key, 'migrate', '--from', path, '--to', db.url]);
    expect(again.status).toBe(7);
    expect(again.err).toMatch(/store: error: .* already holds a store/);
    expect(await postgresRows(db.name)).toEqual(rows);
    const onFile = await runInProcess(['--keyfile', key, 'migrate', '--from', path, '--to', path, '--json']);
    expect(onFile.status).toBe(2); // the same store
    expect(JSON.parse(onFile.err.trim().split('\n').at(-1)!)).toMatchObject({ error: { code: 'E_USAGE' } });

    const other = join(tempDir(), 'other.key');
    expect((await runInProcess(['--store', join(tempDir(), 's.db'), '--keyfile', other, 'init', '--master', 'keyfile'])).status).toBe(0);
    const empty = await freshDatabase();
    const wrong = await runInProcess(['--keyfile', other, 'migrate', '--from', path, '--to', empty.url]);
    expect(wrong.status).toBe(5);
    expect(await hasStoreSchema(empty.name)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('a tampered row in the source: the problems on stdout, exit 5, the target taken away', async () => {
    const { path, key } = await fileStore();
    const db = await freshDatabase();
    expect((await runInProcess(['--keyfile', key, 'migrate', '--from', path, '--to', db.url])).status).toBe(0);
    await asAdmin((a) => a.query("UPDATE strongbox.versions SET created_at = created_at + 1 WHERE version = 1 AND secret_id = (SELECT id FROM strongbox.secrets WHERE name = 'app/db')"), db.name);
    const target = join(tempDir(), 'copy.db');
    const r = await runInProcess(['--store', db.url, '--keyfile', key, 'migrate', '--to', target]);
    expect(r.status).toBe(5);
    expect(r.out).toMatch(/^problem: E_TAMPERED: .*app\/db version 1/m);
    expect(r.err).toMatch(/store: error: the copy of .* failed verification: \d+ problem\(s\); it was removed/);
    expect(existsSync(target)).toBe(false);
  });
});

describe('store backup and restore of a store in PostgreSQL', () => {
  it('backup writes a verified store file; restore puts its rows back', async () => {
    const { path, key } = await fileStore();
    const db = await freshDatabase();
    expect((await runInProcess(['--keyfile', key, 'migrate', '--from', path, '--to', db.url])).status).toBe(0);
    const base = ['--store', db.url, '--keyfile', key];
    const file = join(tempDir(), 'pg-backup.db');

    const b = await onTerminal([...base, 'backup', file]);
    expect(b.status, b.err).toBe(0);
    expect(b.out).toMatch(/^backed up store [0-9a-f]{32} to .*pg-backup\.db: [\d.]+ MiB in [\d.]+ s; verified: 2 secret\(s\), 3 version\(s\) .* decrypted\n$/);
    expect(b.err).toMatch(/backup \[#+\] (\d+)\/\1 100%/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse((await runInProcess([...base, 'backup', `${file}.2`, '--json'])).out).verified).toMatchObject({ ok: true, decrypted: 3 });

    expect((await runInProcess([...base, 'set', 'app/db'], { input: 'three' })).status).toBe(0);
    const r = await runInProcess([...base, 'restore', file, '--json']);
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ path: db.url, backup: file, keptAs: null, secrets: 2, versions: 3 });
    expect(await runInProcess([...base, 'get', 'app/db'])).toMatchObject({ status: 0, out: 'two' });
    expect((await runInProcess([...base, 'verify', '--deep'])).status).toBe(0);
  });
});
