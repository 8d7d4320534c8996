// store rotate-master onto the key the store already has (the same key file,
// a copy of it, the same STORE_NEW_MASTER_KEY, the same HSM key label) is
// refused as a usage error that changes nothing: it used to "rotate" (a new
// master check, an audit entry) and say "the old key no longer opens this
// store", while the old key went on opening it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { initStore, keyFile, openStore } from '../../src/index.js';
import { runInProcess, runInProcessOk } from '../helpers/in-process.js';
import { softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm.js';
import { tempDir } from '../helpers/tmp.js';
import { workspace } from './run-cli.js';

const REFUSED = 'the new key is the key the store already has: nothing changed';

/** What a rotation would change: the master parameters and check, and the audit log's length. */
function footprint(db: string): { master: unknown; check: unknown; entries: unknown } {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const meta = (key: string) => conn.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key);
    return { master: meta('master'), check: meta('master_check'), entries: conn.prepare('SELECT count(*) FROM audit').pluck().get() };
  } finally {
    conn.close();
  }
}

let ws: ReturnType<typeof workspace>;
beforeAll(() => {
  ws = workspace();
});
afterAll(() => ws.cleanup());

describe('rotate-master onto the key the store already has', () => {
  it('keyfile: the same file, or a copy of it under another name, is refused (exit 2) and nothing changes', async () => {
    const db = join(ws.dir, 'k.db');
    await runInProcessOk(['--store', db, '--keyfile', ws.key, 'init', '--master', 'keyfile']);
    await runInProcessOk(['--store', db, '--keyfile', ws.key, 'set', 'app/db'], { input: 'v1' });
    const before = footprint(db);

    const same = await runInProcess(['--store', db, '--keyfile', ws.key, 'rotate-master', '--to', 'keyfile', '--new-keyfile', ws.key]);
    expect(same.err).toContain(REFUSED);
    expect(same.status).toBe(2);
    expect(same.out).toBe('');
    const copy = join(ws.dir, 'copy.key');
    copyFileSync(ws.key, copy);
    const copied = await runInProcess(['--store', db, '--keyfile', ws.key, 'rotate-master', '--to', 'keyfile', '--new-keyfile', copy, '--json']);
    expect(copied.status).toBe(2);
    expect(copied.out).toBe('');
    expect(JSON.parse(copied.err)).toMatchObject({ error: { code: 'E_USAGE', message: REFUSED } });

    expect(footprint(db)).toEqual(before); // no new check, no new parameters, not even an audit entry
    expect((await runInProcessOk(['--store', db, '--keyfile', ws.key, 'get', 'app/db'])).out).toBe('v1');
  });

  it('env: STORE_NEW_MASTER_KEY equal to STORE_MASTER_KEY is refused and nothing changes; another key still rotates', async () => {
    const db = join(ws.dir, 'e.db');
    const key = Buffer.alloc(32, 7).toString('base64');
    await runInProcessOk(['--store', db, 'init', '--master', 'env'], { env: { STORE_MASTER_KEY: key } });
    const before = footprint(db);
    const same = await runInProcess(['--store', db, 'rotate-master', '--to', 'env'], { env: { STORE_MASTER_KEY: key, STORE_NEW_MASTER_KEY: key } });
    expect(same.err).toContain(REFUSED);
    expect(same.status).toBe(2);
    expect(footprint(db)).toEqual(before);

    const next = Buffer.alloc(32, 8).toString('base64');
    const moved = await runInProcess(['--store', db, 'rotate-master', '--to', 'env'], { env: { STORE_MASTER_KEY: key, STORE_NEW_MASTER_KEY: next } });
    expect(moved.status, moved.err).toBe(0);
    expect(moved.out).toMatch(/the old key no longer opens this store/);
    expect((await runInProcess(['--store', db, 'status'], { env: { STORE_MASTER_KEY: key } })).status).not.toBe(0);
    expect((await runInProcess(['--store', db, 'status'], { env: { STORE_MASTER_KEY: next } })).status).toBe(0);
  });

  it('passphrase: the same passphrase again is a new key (a new salt), so it rotates, and the message claims no more than is true', async () => {
    const db = join(ws.dir, 'p.db');
    const env = { STORE_PASSPHRASE: 'pw-1', STORE_NEW_PASSPHRASE: 'pw-1' };
    await runInProcessOk(['--store', db, 'init', '--master', 'passphrase', '--scrypt-log-n', '15'], { env });
    const before = footprint(db);
    const r = await runInProcessOk(['--store', db, 'rotate-master', '--to', 'passphrase', '--scrypt-log-n', '16'], { env });
    expect(r.out).toBe('master key rotated to passphrase; only the new passphrase opens this store\n');
    expect(footprint(db).master).not.toEqual(before.master);
    expect((await runInProcess(['--store', db, 'status'], { env })).status).toBe(0);
  });

  it('the library: rotateMaster onto the same key rejects with E_USAGE; the store stays open and usable with its key', async () => {
    const dir = tempDir();
    const db = join(dir, 'lib.db');
    const key = join(dir, 'master.key');
    const store = await initStore(db, keyFile(key, { create: true }));
    try {
      await store.put('a/b', 'v');
      const before = footprint(db);
      await expect(store.rotateMaster(keyFile(key, { create: true }))).rejects.toMatchObject({ code: 'E_USAGE', message: REFUSED });
      expect(footprint(db)).toEqual(before);
      expect((await store.get('a/b')).value.text()).toBe('v');
    } finally {
      await store.close();
    }
    const again = await openStore(db, keyFile(key));
    await again.close();
  });
});

describe('rotate-master onto the HSM key the store already has', () => {
  let hsm: SoftHsm;
  beforeAll(() => {
    hsm = softHsm();
    hsm.initToken('same-token');
    writeFileSync(join(ws.dir, 'pin'), `${USER_PIN}\n`, { mode: 0o600 });
  });

  it('pkcs11: the same token and key label is refused and nothing changes; another label still rotates', async () => {
    const db = join(ws.dir, 'h.db');
    const hsmArgs = ['--store', db, '--module', hsm.module, '--pin-file', join(ws.dir, 'pin')];
    await runInProcessOk([...hsmArgs, 'init', '--master', 'pkcs11', '--token-label', 'same-token', '--key-label', 'mk']);
    const before = footprint(db);
    const same = await runInProcess([...hsmArgs, 'rotate-master', '--to', 'pkcs11', '--token-label', 'same-token', '--key-label', 'mk']);
    expect(same.err).toContain(REFUSED);
    expect(same.status).toBe(2);
    expect(footprint(db)).toEqual(before);

    const other = await runInProcess([...hsmArgs, 'rotate-master', '--to', 'pkcs11', '--token-label', 'same-token', '--key-label', 'mk-2']);
    expect(other.status, other.err).toBe(0);
    expect(footprint(db)).not.toEqual(before);
  });
});
