// store rotate-keys / keys / keys destroy / rotate-master in-process through run(argv, io).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(async () => {
  ws = workspace();
  expect((await runInProcess(store('init', '--master', 'keyfile'))).status).toBe(0);
  for (let i = 0; i < 5; i++) await runInProcess(store('set', `app/${i}`), { input: `secret-${i}` });
});
afterEach(() => ws.cleanup());

describe('store rotate-keys', () => {
  it('rotates, rewraps and retires; prints one summary line off a terminal', async () => {
    const r = await runInProcess(store('rotate-keys'));
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^new primary data key 2; rewrapped 5 version\(s\) in 1 batch\(es\).*retired key 1/);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(r.err).toBe(''); // no progress bar when stderr is not a terminal
    const keys = JSON.parse((await runInProcess(store('keys', '--json'))).out);
    expect(keys.map((k: { version: number; status: string; versions: number }) => [k.version, k.status, k.versions]))
      .toEqual([[1, 'retired', 0], [2, 'primary', 5]]);
    for (let i = 0; i < 5; i++) expect((await runInProcess(store('get', `app/${i}`))).out).toBe(`secret-${i}`);
  });

  it('--if-older-than is a no-op that says so while the primary is young', async () => {
    const r = await runInProcess(store('rotate-keys', '--if-older-than', '30d', '--json'));
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ rotated: false, primaryVersion: 1, rewrapped: 0 });
    expect((await runInProcess(store('rotate-keys', '--if-older-than', '30d'))).out).toMatch(/younger than asked: no new key/);
    expect((await runInProcess(store('rotate-keys', '--if-older-than', 'soon'))).status).toBe(2);
  });

  it('--no-rewrap leaves the old key active', async () => {
    expect((await runInProcess(store('rotate-keys', '--no-rewrap'))).status).toBe(0);
    const keys = JSON.parse((await runInProcess(store('keys', '--json'))).out);
    expect(keys.map((k: { status: string }) => k.status)).toEqual(['active', 'primary']);
  });

  it('exits 75 when the store is locked, unless told to wait', async () => {
    mkdirSync(`${ws.db}.lock`); // what proper-lockfile holds while another exclusive operation runs
    const r = await runInProcess(store('rotate-keys'));
    expect(r.status).toBe(75);
    expect(r.err).toMatch(/locked/);
  });
});

describe('store keys destroy', () => {
  it('destroys only a retired key', async () => {
    const refused = await runInProcess(store('keys', 'destroy', '1'));
    expect(refused.status).toBe(2);
    expect(refused.err).toMatch(/only a retired key can be destroyed/);
    await runInProcess(store('rotate-keys'));
    expect((await runInProcess(store('keys', 'destroy', '1'))).status).toBe(0);
    expect(JSON.parse((await runInProcess(store('keys', '--json'))).out)[0].status).toBe('destroyed');
    expect((await runInProcess(store('get', 'app/1'))).out).toBe('secret-1');
  });
});

describe('store rotate-master', () => {
  it('moves to a new key file; the old one stops working', async () => {
    const newKey = join(ws.dir, 'new.key');
    const r = await runInProcess(store('rotate-master', '--to', 'keyfile', '--new-keyfile', newKey));
    expect(r.status).toBe(0);
    expect((await runInProcess(store('get', 'app/0'))).status).toBe(5);
    expect((await runInProcess(['--store', ws.db, '--keyfile', newKey, 'get', 'app/0'])).out).toBe('secret-0');
  });

  it('moves to a passphrase given in STORE_NEW_PASSPHRASE, and to a key in STORE_NEW_MASTER_KEY', async () => {
    const r = await runInProcess(store('rotate-master', '--to', 'passphrase', '--scrypt-log-n', '15'), { env: { STORE_NEW_PASSPHRASE: 'pw-2' } });
    expect(r.status).toBe(0);
    expect((await runInProcess(['--store', ws.db, 'get', 'app/2'], { env: { STORE_PASSPHRASE: 'pw-2' } })).out).toBe('secret-2');
    const key = Buffer.alloc(32, 9).toString('base64');
    const back = await runInProcess(['--store', ws.db, 'rotate-master', '--to', 'env'], { env: { STORE_PASSPHRASE: 'pw-2', STORE_NEW_MASTER_KEY: key } });
    expect(back.status).toBe(0);
    expect((await runInProcess(['--store', ws.db, 'get', 'app/2'], { env: { STORE_MASTER_KEY: key } })).out).toBe('secret-2');
    expect((await runInProcess(['--store', ws.db, 'get', 'app/2'], { env: { STORE_PASSPHRASE: 'pw-2' } })).status).toBe(6);
  });

  it('needs --to', async () => {
    expect((await runInProcess(store('rotate-master'))).status).toBe(2);
  });
});
