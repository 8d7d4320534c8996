// The core commands (init, set, get, versions, list, status, master keys) in-process through run(argv, io).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';
import { SCHEMA_VERSION } from '../../src/storage/sqlite/schema.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(async () => {
  ws = workspace();
  const init = await runInProcess(store('init', '--master', 'keyfile'));
  expect(init.status, init.err).toBe(0);
});
afterEach(() => ws.cleanup());

describe('store init', () => {
  it('creates the store 0600 and a 0600 key file', () => {
    expect(statSync(ws.db).mode & 0o777).toBe(0o600);
    expect(statSync(ws.key).mode & 0o777).toBe(0o600);
    expect(readFileSync(ws.key, 'utf8').trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('refuses to init over an existing store (exit 7)', async () => {
    const r = await runInProcess(store('init', '--master', 'keyfile'));
    expect(r.status).toBe(7);
    expect(r.err).toMatch(/^store: error: .*already exists/m);
  });

  it('--master keyfile without --keyfile is a usage error', async () => {
    const r = await runInProcess(['--store', join(ws.dir, 'other.db'), 'init', '--master', 'keyfile']);
    expect(r.status).toBe(2);
  });

  it('refuses a key file readable by others (exit 6)', async () => {
    chmodSync(ws.key, 0o644);
    const r = await runInProcess(store('get', 'x'));
    expect(r.status).toBe(6);
    expect(r.err).toContain('chmod 600');
  });
});

describe('store set / get', () => {
  it('round-trips binary values byte for byte, with no newline added', async () => {
    const value = new Uint8Array(256).map((_, i) => i);
    expect((await runInProcess(store('set', 'bin/all-bytes'), { input: value })).status).toBe(0);
    const r = await runInProcess(store('get', 'bin/all-bytes'));
    expect(r.status).toBe(0);
    expect(new Uint8Array(r.bytes)).toEqual(value);
  });

  it('keeps a trailing newline from stdin unless --trim-newline; --newline adds one on output', async () => {
    await runInProcess(store('set', 'a'), { input: 'v1\n' });
    expect((await runInProcess(store('get', 'a'))).out).toBe('v1\n');
    await runInProcess(store('set', 'a', '--trim-newline'), { input: 'v2\n' });
    expect((await runInProcess(store('get', 'a'))).out).toBe('v2');
    expect((await runInProcess(store('get', 'a', '-n'))).out).toBe('v2\n');
  });

  it('reads --file, and --value with a warning on stderr', async () => {
    const f = join(ws.dir, 'value.txt');
    writeFileSync(f, 'from-file');
    expect((await runInProcess(store('set', 'f', '--file', f))).status).toBe(0);
    expect((await runInProcess(store('get', 'f'))).out).toBe('from-file');
    const r = await runInProcess(store('set', 'v', '--value', 'in-argv'));
    expect(r.status).toBe(0);
    expect(r.err).toMatch(/warning: --value puts the secret in argv/);
    expect((await runInProcess(store('get', 'v'))).out).toBe('in-argv');
  });

  it('prints --json with UTF-8 values as text and others as base64', async () => {
    await runInProcess(store('set', 't'), { input: 'text' });
    await runInProcess(store('set', 'b'), { input: new Uint8Array([0xff, 0x00]) });
    expect(JSON.parse((await runInProcess(store('get', 't', '--json'))).out)).toMatchObject({ name: 't', version: 1, value: 'text' });
    expect(JSON.parse((await runInProcess(store('get', 'b', '--json'))).out)).toMatchObject({ name: 'b', valueBase64: '/wA=' });
  });

  it('gets by version and by time', async () => {
    await runInProcess(store('set', 'k'), { input: 'one' });
    const t = new Date().toISOString();
    await runInProcess(store('set', 'k'), { input: 'two' });
    expect((await runInProcess(store('get', 'k', '--version', '1'))).out).toBe('one');
    expect((await runInProcess(store('get', 'k'))).out).toBe('two');
    expect((await runInProcess(store('get', 'k', '--at', t))).out).toBe('one');
    expect((await runInProcess(store('get', 'k', '--at', 'yesterday-ish'))).status).toBe(2);
    expect((await runInProcess(store('get', 'k', '--at', '2000-01-01T00:00:00Z'))).status).toBe(3);
  });

  it('check-and-set: 0 only when absent, N only when current (conflict exits 4)', async () => {
    expect((await runInProcess(store('set', 'c', '--cas', '0'), { input: 'a' })).status).toBe(0);
    expect((await runInProcess(store('set', 'c', '--cas', '0'), { input: 'b' })).status).toBe(4);
    expect((await runInProcess(store('set', 'c', '--cas', '1'), { input: 'c' })).status).toBe(0);
    expect((await runInProcess(store('get', 'c'))).out).toBe('c');
  });

  it('refuses an empty value unless --allow-empty', async () => {
    const r = await runInProcess(store('set', 'e'));
    expect(r.status).toBe(2);
    expect(r.err).toContain('--allow-empty');
    expect((await runInProcess(store('set', 'e', '--allow-empty'))).status).toBe(0);
    const g = await runInProcess(store('get', 'e'));
    expect(g.status).toBe(0);
    expect(g.bytes.length).toBe(0);
  });

  it('maps errors to documented exit codes, without stack traces', async () => {
    expect((await runInProcess(store('get', 'missing'))).status).toBe(3);
    const bad = await runInProcess(store('get', 'bad//name'));
    expect(bad.status).toBe(2);
    expect(bad.err).toMatch(/^store: error: invalid secret name/);
    expect(bad.err).not.toMatch(/\n\s+at /);
    expect((await runInProcess(store('frobnicate'))).status).toBe(2);
    expect((await runInProcess(store('get', 'x', '--version', 'abc'))).status).toBe(2);
    expect((await runInProcess(['--store', join(ws.dir, 'none.db'), '--keyfile', ws.key, 'get', 'x'])).status).toBe(7);
    const debug = await runInProcess(store('--debug', 'get', 'missing'));
    expect(debug.status).toBe(3);
    expect(debug.err).toMatch(/\n\s+at /);
  });

  it('prints help and version with exit 0', async () => {
    const h = await runInProcess(['--help']);
    expect(h.status).toBe(0);
    for (const c of ['init', 'set', 'get', 'list', 'history', 'delete', 'undelete', 'destroy', 'purge', 'rollback', 'status']) {
      expect(h.out).toContain(c);
    }
    expect((await runInProcess(['--version'])).status).toBe(0);
  });
});

describe('versions lifecycle', () => {
  beforeEach(async () => {
    for (const v of ['v1', 'v2', 'v3']) await runInProcess(store('set', 'app/db'), { input: v });
  });

  it('history lists every version', async () => {
    const h = JSON.parse((await runInProcess(store('history', 'app/db', '--json'))).out);
    expect(h.versions.map((v: { version: number }) => v.version)).toEqual([1, 2, 3]);
    expect(h.versions.every((v: { state: string; keyVersion: number }) => v.state === 'live' && v.keyVersion === 1)).toBe(true);
    expect((await runInProcess(store('history', 'app/db'))).out).toMatch(/^VERSION\s+CREATED\s+STATE\s+KEY/);
  });

  it('delete, undelete, destroy, rollback, purge', async () => {
    expect((await runInProcess(store('delete', 'app/db'))).status).toBe(0);
    const gone = await runInProcess(store('get', 'app/db'));
    expect(gone.status).toBe(3);
    expect(gone.err).toContain('store undelete app/db --versions 3');
    expect((await runInProcess(store('undelete', 'app/db', '--versions', '3'))).status).toBe(0);
    expect((await runInProcess(store('get', 'app/db'))).out).toBe('v3');

    expect((await runInProcess(store('destroy', 'app/db'))).status).toBe(2); // --versions required
    expect((await runInProcess(store('destroy', 'app/db', '--versions', '1,2'))).status).toBe(0);
    expect((await runInProcess(store('get', 'app/db', '--version', '1'))).status).toBe(3);
    expect((await runInProcess(store('rollback', 'app/db', '2'))).status).toBe(3);

    const rb = JSON.parse((await runInProcess(store('rollback', 'app/db', '3', '--json'))).out);
    expect(rb).toMatchObject({ name: 'app/db', version: 4, from: 3 });
    expect((await runInProcess(store('get', 'app/db'))).out).toBe('v3');

    expect((await runInProcess(store('purge', 'app/db'))).status).toBe(0);
    expect((await runInProcess(store('get', 'app/db'))).status).toBe(3);
    expect((await runInProcess(store('delete', 'app/db'))).status).toBe(3);
  });

  it('meta sets max versions (pruning) and custom entries', async () => {
    const m = JSON.parse((await runInProcess(store('meta', 'app/db', '--max-versions', '2', '--set', 'owner=ops', '--json'))).out);
    expect(m).toMatchObject({ currentVersion: 3, oldestVersion: 2, maxVersions: 2, custom: { owner: 'ops' } });
    expect((await runInProcess(store('get', 'app/db', '--version', '1'))).status).toBe(3);
    const unset = JSON.parse((await runInProcess(store('meta', 'app/db', '--unset', 'owner', '--json'))).out);
    expect(unset.custom).toEqual({});
  });
});

describe('list and status', () => {
  it('lists by prefix and glob, as a table and as JSON, never values', async () => {
    for (const n of ['app/prod/db', 'app/dev/db', 'app/prod/api', 'other']) await runInProcess(store('set', n), { input: `value-of-${n}` });
    const all = JSON.parse((await runInProcess(store('list', '--json'))).out);
    expect(all.map((s: { name: string }) => s.name)).toEqual(['app/dev/db', 'app/prod/api', 'app/prod/db', 'other']);
    expect(JSON.parse((await runInProcess(store('ls', 'app/prod/', '--json'))).out)).toHaveLength(2);
    expect(JSON.parse((await runInProcess(store('list', 'app/*/db', '--json'))).out).map((s: { name: string }) => s.name)).toEqual(['app/dev/db', 'app/prod/db']);
    const text = (await runInProcess(store('list'))).out;
    expect(text).toMatch(/^NAME\s+VERSION/);
    expect(text).not.toContain('value-of');
  });

  it('status reports counts and keys', async () => {
    await runInProcess(store('set', 'a'), { input: 'x' });
    const s = JSON.parse((await runInProcess(store('status', '--json'))).out);
    expect(s).toMatchObject({ secrets: 1, versions: 1, liveVersions: 1, masterKind: 'keyfile', schemaVersion: SCHEMA_VERSION });
    expect(s.keys).toHaveLength(1);
    expect(s.keys[0]).toMatchObject({ version: 1, status: 'primary', versions: 1 });
    expect(JSON.stringify(s)).not.toMatch(/material|wrapped/);
  });
});

describe('other master keys', () => {
  it('passphrase from a file and from STORE_PASSPHRASE; wrong one exits 5; none exits 6', async () => {
    const db = join(ws.dir, 'pw.db');
    const pwFile = join(ws.dir, 'pw.txt');
    writeFileSync(pwFile, 'correct horse battery staple\n', { mode: 0o600 });
    const base = ['--store', db];
    expect((await runInProcess([...base, '--passphrase-file', pwFile, 'init', '--master', 'passphrase', '--scrypt-log-n', '15'])).status).toBe(0);
    expect((await runInProcess([...base, '--passphrase-file', pwFile, 'set', 's'], { input: 'secret' })).status).toBe(0);
    expect((await runInProcess([...base, 'get', 's'], { env: { STORE_PASSPHRASE: 'correct horse battery staple' } })).out).toBe('secret');
    const wrong = await runInProcess([...base, 'get', 's'], { env: { STORE_PASSPHRASE: 'wrong' } });
    expect(wrong.status).toBe(5);
    expect(wrong.err).toMatch(/master key does not open this store/);
    const none = await runInProcess([...base, 'get', 's']);
    expect(none.status).toBe(6);
    expect(none.err).toMatch(/--passphrase-file/);
    // A key file does not open a passphrase store.
    expect((await runInProcess([...base, '--keyfile', ws.key, 'get', 's'])).status).toBe(6);
  });

  it('a key in STORE_MASTER_KEY; a different key exits 5', async () => {
    const db = join(ws.dir, 'env.db');
    const key = Buffer.alloc(32, 7).toString('base64');
    expect((await runInProcess(['--store', db, 'init', '--master', 'env'], { env: { STORE_MASTER_KEY: key } })).status).toBe(0);
    expect((await runInProcess(['--store', db, 'set', 'e'], { input: 'env-secret', env: { STORE_MASTER_KEY: key } })).status).toBe(0);
    expect((await runInProcess(['--store', db, 'get', 'e'], { env: { STORE_MASTER_KEY: key } })).out).toBe('env-secret');
    expect((await runInProcess(['--store', db, 'get', 'e'], { env: { STORE_MASTER_KEY: Buffer.alloc(32, 8).toString('base64') } })).status).toBe(5);
    expect((await runInProcess(['--store', db, 'get', 'e'], { env: { STORE_MASTER_KEY: 'short' } })).status).toBe(6);
  });

  it('STORE_PATH and STORE_KEYFILE stand in for the flags', async () => {
    await runInProcess(store('set', 'x'), { input: 'via-flags' });
    expect((await runInProcess(['get', 'x'], { env: { STORE_PATH: ws.db, STORE_KEYFILE: ws.key } })).out).toBe('via-flags');
  });
});
