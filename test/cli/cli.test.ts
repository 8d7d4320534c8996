import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { cli, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(() => {
  ws = workspace();
  const init = cli(store('init', '--master', 'keyfile'));
  expect(init.status, init.stderr).toBe(0);
});
afterEach(() => ws.cleanup());

describe('store init', () => {
  it('creates the store 0600 and a 0600 key file', () => {
    expect(statSync(ws.db).mode & 0o777).toBe(0o600);
    expect(statSync(ws.key).mode & 0o777).toBe(0o600);
    expect(readFileSync(ws.key, 'utf8').trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
  });

  it('refuses to init over an existing store (exit 7)', () => {
    const r = cli(store('init', '--master', 'keyfile'));
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/^store: error: .*already exists/m);
  });

  it('--master keyfile without --keyfile is a usage error', () => {
    const r = cli(['--store', join(ws.dir, 'other.db'), 'init', '--master', 'keyfile']);
    expect(r.status).toBe(2);
  });

  it('refuses a key file readable by others (exit 6)', () => {
    chmodSync(ws.key, 0o644);
    const r = cli(store('get', 'x'));
    expect(r.status).toBe(6);
    expect(r.stderr).toContain('chmod 600');
  });
});

describe('store set / get', () => {
  it('round-trips binary values byte for byte, with no newline added', () => {
    const value = new Uint8Array(256).map((_, i) => i);
    expect(cli(store('set', 'bin/all-bytes'), { input: value }).status).toBe(0);
    const r = cli(store('get', 'bin/all-bytes'));
    expect(r.status).toBe(0);
    expect(new Uint8Array(r.stdout)).toEqual(value);
  });

  it('keeps a trailing newline from stdin unless --trim-newline; --newline adds one on output', () => {
    cli(store('set', 'a'), { input: 'v1\n' });
    expect(cli(store('get', 'a')).out).toBe('v1\n');
    cli(store('set', 'a', '--trim-newline'), { input: 'v2\n' });
    expect(cli(store('get', 'a')).out).toBe('v2');
    expect(cli(store('get', 'a', '-n')).out).toBe('v2\n');
  });

  it('reads --file, and --value with a warning on stderr', () => {
    const f = join(ws.dir, 'value.txt');
    writeFileSync(f, 'from-file');
    expect(cli(store('set', 'f', '--file', f)).status).toBe(0);
    expect(cli(store('get', 'f')).out).toBe('from-file');
    const r = cli(store('set', 'v', '--value', 'in-argv'));
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: --value puts the secret in argv/);
    expect(cli(store('get', 'v')).out).toBe('in-argv');
  });

  it('prints --json with UTF-8 values as text and others as base64', () => {
    cli(store('set', 't'), { input: 'text' });
    cli(store('set', 'b'), { input: new Uint8Array([0xff, 0x00]) });
    expect(JSON.parse(cli(store('get', 't', '--json')).out)).toMatchObject({ name: 't', version: 1, value: 'text' });
    expect(JSON.parse(cli(store('get', 'b', '--json')).out)).toMatchObject({ name: 'b', valueBase64: '/wA=' });
  });

  it('gets by version and by time', () => {
    cli(store('set', 'k'), { input: 'one' });
    const t = new Date().toISOString();
    cli(store('set', 'k'), { input: 'two' });
    expect(cli(store('get', 'k', '--version', '1')).out).toBe('one');
    expect(cli(store('get', 'k')).out).toBe('two');
    expect(cli(store('get', 'k', '--at', t)).out).toBe('one');
    expect(cli(store('get', 'k', '--at', 'yesterday-ish')).status).toBe(2);
    expect(cli(store('get', 'k', '--at', '2000-01-01T00:00:00Z')).status).toBe(3);
  });

  it('check-and-set: 0 only when absent, N only when current (conflict exits 4)', () => {
    expect(cli(store('set', 'c', '--cas', '0'), { input: 'a' }).status).toBe(0);
    expect(cli(store('set', 'c', '--cas', '0'), { input: 'b' }).status).toBe(4);
    expect(cli(store('set', 'c', '--cas', '1'), { input: 'c' }).status).toBe(0);
    expect(cli(store('get', 'c')).out).toBe('c');
  });

  it('refuses an empty value unless --allow-empty', () => {
    const r = cli(store('set', 'e'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--allow-empty');
    expect(cli(store('set', 'e', '--allow-empty')).status).toBe(0);
    const g = cli(store('get', 'e'));
    expect(g.status).toBe(0);
    expect(g.stdout.length).toBe(0);
  });

  it('maps errors to documented exit codes, without stack traces', () => {
    expect(cli(store('get', 'missing')).status).toBe(3);
    const bad = cli(store('get', 'bad//name'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^store: error: invalid secret name/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    expect(cli(store('frobnicate')).status).toBe(2);
    expect(cli(store('get', 'x', '--version', 'abc')).status).toBe(2);
    expect(cli(['--store', join(ws.dir, 'none.db'), '--keyfile', ws.key, 'get', 'x']).status).toBe(7);
    const debug = cli(store('--debug', 'get', 'missing'));
    expect(debug.status).toBe(3);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('prints help and version with exit 0', () => {
    const h = cli(['--help']);
    expect(h.status).toBe(0);
    for (const c of ['init', 'set', 'get', 'list', 'history', 'delete', 'undelete', 'destroy', 'purge', 'rollback', 'status']) {
      expect(h.out).toContain(c);
    }
    expect(cli(['--version']).status).toBe(0);
  });
});

describe('versions lifecycle', () => {
  beforeEach(() => {
    for (const v of ['v1', 'v2', 'v3']) cli(store('set', 'app/db'), { input: v });
  });

  it('history lists every version', () => {
    const h = JSON.parse(cli(store('history', 'app/db', '--json')).out);
    expect(h.versions.map((v: { version: number }) => v.version)).toEqual([1, 2, 3]);
    expect(h.versions.every((v: { state: string; keyVersion: number }) => v.state === 'live' && v.keyVersion === 1)).toBe(true);
    expect(cli(store('history', 'app/db')).out).toMatch(/^VERSION\s+CREATED\s+STATE\s+KEY/);
  });

  it('delete, undelete, destroy, rollback, purge', () => {
    expect(cli(store('delete', 'app/db')).status).toBe(0);
    const gone = cli(store('get', 'app/db'));
    expect(gone.status).toBe(3);
    expect(gone.stderr).toContain('store undelete app/db --versions 3');
    expect(cli(store('undelete', 'app/db', '--versions', '3')).status).toBe(0);
    expect(cli(store('get', 'app/db')).out).toBe('v3');

    expect(cli(store('destroy', 'app/db')).status).toBe(2); // --versions required
    expect(cli(store('destroy', 'app/db', '--versions', '1,2')).status).toBe(0);
    expect(cli(store('get', 'app/db', '--version', '1')).status).toBe(3);
    expect(cli(store('rollback', 'app/db', '2')).status).toBe(3);

    const rb = JSON.parse(cli(store('rollback', 'app/db', '3', '--json')).out);
    expect(rb).toMatchObject({ name: 'app/db', version: 4, from: 3 });
    expect(cli(store('get', 'app/db')).out).toBe('v3');

    expect(cli(store('purge', 'app/db')).status).toBe(0);
    expect(cli(store('get', 'app/db')).status).toBe(3);
    expect(cli(store('delete', 'app/db')).status).toBe(3);
  });

  it('meta sets max versions (pruning) and custom entries', () => {
    const m = JSON.parse(cli(store('meta', 'app/db', '--max-versions', '2', '--set', 'owner=ops', '--json')).out);
    expect(m).toMatchObject({ currentVersion: 3, oldestVersion: 2, maxVersions: 2, custom: { owner: 'ops' } });
    expect(cli(store('get', 'app/db', '--version', '1')).status).toBe(3);
    const unset = JSON.parse(cli(store('meta', 'app/db', '--unset', 'owner', '--json')).out);
    expect(unset.custom).toEqual({});
  });
});

describe('list and status', () => {
  it('lists by prefix and glob, as a table and as JSON, never values', () => {
    for (const n of ['app/prod/db', 'app/dev/db', 'app/prod/api', 'other']) cli(store('set', n), { input: `value-of-${n}` });
    const all = JSON.parse(cli(store('list', '--json')).out);
    expect(all.map((s: { name: string }) => s.name)).toEqual(['app/dev/db', 'app/prod/api', 'app/prod/db', 'other']);
    expect(JSON.parse(cli(store('ls', 'app/prod/', '--json')).out)).toHaveLength(2);
    expect(JSON.parse(cli(store('list', 'app/*/db', '--json')).out).map((s: { name: string }) => s.name)).toEqual(['app/dev/db', 'app/prod/db']);
    const text = cli(store('list')).out;
    expect(text).toMatch(/^NAME\s+VERSION/);
    expect(text).not.toContain('value-of');
  });

  it('status reports counts and keys', () => {
    cli(store('set', 'a'), { input: 'x' });
    const s = JSON.parse(cli(store('status', '--json')).out);
    expect(s).toMatchObject({ secrets: 1, versions: 1, liveVersions: 1, masterKind: 'keyfile', schemaVersion: 3 });
    expect(s.keys).toHaveLength(1);
    expect(s.keys[0]).toMatchObject({ version: 1, status: 'primary', versions: 1 });
    expect(JSON.stringify(s)).not.toMatch(/material|wrapped/);
  });
});

describe('other master keys', () => {
  it('passphrase from a file and from STORE_PASSPHRASE; wrong one exits 5; none exits 6', () => {
    const db = join(ws.dir, 'pw.db');
    const pwFile = join(ws.dir, 'pw.txt');
    writeFileSync(pwFile, 'correct horse battery staple\n', { mode: 0o600 });
    const base = ['--store', db];
    expect(cli([...base, '--passphrase-file', pwFile, 'init', '--master', 'passphrase', '--scrypt-log-n', '15']).status).toBe(0);
    expect(cli([...base, '--passphrase-file', pwFile, 'set', 's'], { input: 'secret' }).status).toBe(0);
    expect(cli([...base, 'get', 's'], { env: { STORE_PASSPHRASE: 'correct horse battery staple' } }).out).toBe('secret');
    const wrong = cli([...base, 'get', 's'], { env: { STORE_PASSPHRASE: 'wrong' } });
    expect(wrong.status).toBe(5);
    expect(wrong.stderr).toMatch(/master key does not open this store/);
    const none = cli([...base, 'get', 's']);
    expect(none.status).toBe(6);
    expect(none.stderr).toMatch(/--passphrase-file/);
    // A key file does not open a passphrase store.
    expect(cli([...base, '--keyfile', ws.key, 'get', 's']).status).toBe(6);
  });

  it('a key in STORE_MASTER_KEY; a different key exits 5', () => {
    const db = join(ws.dir, 'env.db');
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(cli(['--store', db, 'init', '--master', 'env'], { env: { STORE_MASTER_KEY: key } }).status).toBe(0);
    expect(cli(['--store', db, 'set', 'e'], { input: 'env-secret', env: { STORE_MASTER_KEY: key } }).status).toBe(0);
    expect(cli(['--store', db, 'get', 'e'], { env: { STORE_MASTER_KEY: key } }).out).toBe('env-secret');
    expect(cli(['--store', db, 'get', 'e'], { env: { STORE_MASTER_KEY: Buffer.alloc(32, 8).toString('base64') } }).status).toBe(5);
    expect(cli(['--store', db, 'get', 'e'], { env: { STORE_MASTER_KEY: 'short' } }).status).toBe(6);
  });

  it('STORE_PATH and STORE_KEYFILE stand in for the flags', () => {
    cli(store('set', 'x'), { input: 'via-flags' });
    expect(cli(['get', 'x'], { env: { STORE_PATH: ws.db, STORE_KEYFILE: ws.key } }).out).toBe('via-flags');
  });
});
