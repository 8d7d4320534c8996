/**
 * The first five minutes (issue 11): after `store init --master keyfile
 * --keyfile K`, the next command finds K without being told again, because
 * the store records the key file's absolute path in its public header. A key
 * given explicitly still wins, and a moved key file gets an error naming the
 * path it was looked for at. In-process through run(argv, io).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

const store = (args: string[], input = '', env: Record<string, string> = {}) => runInProcess(args, { input, env });

describe('a key-file store remembers its key file', () => {
  it('init, then set and get with no --keyfile; a moved key file is named in the error', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    const key = join(dir, 'keys', 'master.key');
    expect((await store(['--store', db, 'init', '--master', 'keyfile', '--keyfile', key])).status).toBe(0);
    expect((await store(['--store', db, 'set', 'app/db'], 'hunter2')).status).toBe(0);
    expect(await store(['--store', db, 'get', 'app/db'])).toMatchObject({ status: 0, out: 'hunter2' });
    expect(JSON.parse((await store(['--store', db, 'status', '--json'])).out)).toMatchObject({ masterKind: 'keyfile' });

    renameSync(key, `${key}.moved`);
    const r = await store(['--store', db, 'get', 'app/db']);
    expect(r.status).toBe(6);
    expect(r.err).toContain(key);
    expect(r.err).toMatch(/hint: .*if it moved, use --keyfile FILE/);
    expect(await store(['--store', db, '--keyfile', `${key}.moved`, 'get', 'app/db'])).toMatchObject({ status: 0, out: 'hunter2' });
  });

  it('an explicit key wins over the recorded one (a wrong one is refused, not silently replaced)', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    const key = join(dir, 'master.key');
    expect((await store(['--store', db, 'init', '--master', 'keyfile', '--keyfile', key])).status).toBe(0);
    const other = join(dir, 'other.key');
    writeFileSync(other, `${Buffer.alloc(32, 3).toString('base64')}\n`, { mode: 0o600 });
    expect((await store(['--store', db, '--keyfile', other, 'get', 'x'])).status).toBe(5);
    expect((await store(['--store', db, 'get', 'x'], '', { STORE_MASTER_KEY: Buffer.alloc(32, 4).toString('base64') })).status).toBe(5);
  });

  it('rotate-master --to keyfile records the new key file', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    expect((await store(['--store', db, 'init', '--master', 'keyfile', '--keyfile', join(dir, 'old.key')])).status).toBe(0);
    expect((await store(['--store', db, 'set', 'a'], 'v')).status).toBe(0);
    const r = await store(['--store', db, 'rotate-master', '--to', 'keyfile', '--new-keyfile', join(dir, 'new.key')]);
    expect(r.status, r.err).toBe(0);
    expect(await store(['--store', db, 'get', 'a'])).toMatchObject({ status: 0, out: 'v' });
  });

  it('a FIFO where the key file should be fails at once instead of hanging', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    const key = join(dir, 'master.key');
    expect((await store(['--store', db, 'init', '--master', 'keyfile', '--keyfile', key])).status).toBe(0);
    renameSync(key, `${key}.real`);
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', ['-m', '600', key]);
    const r = await store(['--store', db, 'get', 'a']);
    expect(r.status).toBe(6);
    expect(r.err).toContain('not a regular file');
  });
});
