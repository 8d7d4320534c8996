/**
 * `store export` and `store import` in-process through run(argv, io), as a
 * user runs them: exit statuses, what goes to stdout and stderr, files and
 * modes, and that no value ever shows up in output or argv.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
/** A second store (the import target) in the same temp dir, with its own key file. */
let other: string[];
const store = (...args: string[]) => [...ws.base, ...args];
const target = (...args: string[]) => [...other, ...args];

function secretFile(name: string, content: string): string {
  const p = join(ws.dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

beforeEach(async () => {
  ws = workspace();
  other = ['--store', join(ws.dir, 'target.db'), '--keyfile', join(ws.dir, 'target.key')];
  expect((await runInProcess(store('init', '--master', 'keyfile'))).status).toBe(0);
  expect((await runInProcess(target('init', '--master', 'keyfile'))).status).toBe(0);
  for (const [name, value] of [['app/db', 'db-1'], ['app/db', 'db-2'], ['app/api', 'api-1'], ['other', 'o-1']]) {
    expect((await runInProcess(store('set', name!), { input: value })).status).toBe(0);
  }
});
afterEach(() => ws.cleanup());

describe('store export / import: encrypted bundles', () => {
  it('passphrase bundle: --export-passphrase-file to export, STORE_EXPORT_PASSPHRASE to import', async () => {
    const pw = secretFile('bundle.pw', 'bundle passphrase\n');
    const out = join(ws.dir, 'out.sbx');
    const e = await runInProcess(store('export', out, '--export-passphrase-file', pw, '--scrypt-log-n', '15', '--all-versions'));
    expect(e.status, e.err).toBe(0);
    expect(e.out).toMatch(/exported 3 secret\(s\) \(4 version\(s\)\) to .*out\.sbx, sealed with a passphrase/);
    expect(statSync(out).mode & 0o777).toBe(0o600);

    const i = await runInProcess(target('import', out), { env: { STORE_EXPORT_PASSPHRASE: 'bundle passphrase' } });
    expect(i.status, i.err).toBe(0);
    expect(i.out).toContain('imported 3 secret(s) (4 version(s))');
    expect((await runInProcess(target('get', 'app/db'))).out).toBe('db-2');
    expect((await runInProcess(target('get', 'app/db', '--version', '1'))).out).toBe('db-1');
  });

  it('the global --passphrase-file stays the store\'s own: a passphrase store exports with its own and the bundle\'s', async () => {
    const master = secretFile('master.pw', 'master pw');
    const bundle = secretFile('bundle.pw', 'bundle pw');
    const db = join(ws.dir, 'pp.db');
    const pp = (...a: string[]) => ['--store', db, '--passphrase-file', master, ...a];
    expect((await runInProcess(pp('init', '--master', 'passphrase', '--scrypt-log-n', '15'))).status).toBe(0);
    expect((await runInProcess(pp('set', 'x'), { input: 'from a passphrase store' })).status).toBe(0);
    const out = join(ws.dir, 'pp.sbx');
    const e = await runInProcess(pp('export', out, '--export-passphrase-file', bundle, '--scrypt-log-n', '15'));
    expect(e.status, e.err).toBe(0);
    expect((await runInProcess(target('import', out, '--export-passphrase-file', master))).status).toBe(5);
    const i = await runInProcess(target('import', out, '--export-passphrase-file', bundle));
    expect(i.status, i.err).toBe(0);
    expect((await runInProcess(target('get', 'x'))).out).toBe('from a passphrase store');
  });

  it('key-file bundle: the key file is created 0600 if absent; import needs it, another one is refused', async () => {
    const rk = join(ws.dir, 'recipient.key');
    const out = join(ws.dir, 'out.sbx');
    const e = await runInProcess(store('export', out, '--recipient-keyfile', rk, '--prefix', 'app/'));
    expect(e.status, e.err).toBe(0);
    expect(statSync(rk).mode & 0o777).toBe(0o600);
    expect(e.err).toContain(`created key file ${rk}`);
    const id = /key file id ([0-9a-f]{16})/.exec(e.out)![1]!;

    const none = await runInProcess(target('import', out));
    expect(none.status).toBe(6);
    expect(none.err).toContain(id);
    expect(none.err).toMatch(/hint: .*--recipient-keyfile/);

    const wrong = join(ws.dir, 'wrong.key');
    writeFileSync(wrong, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const w = await runInProcess(target('import', out, '--recipient-keyfile', wrong));
    expect(w.status).toBe(5);
    expect(w.err).toContain(id);

    const ok = await runInProcess(target('import', out, '--recipient-keyfile', rk, '--json'));
    expect(ok.status, ok.err).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ format: 'bundle', created: ['app/api', 'app/db'], versions: 2, dryRun: false });
  });

  it('without any passphrase source and no terminal: exit 6 with a hint, and no file', async () => {
    const out = join(ws.dir, 'out.sbx');
    const r = await runInProcess(store('export', out));
    expect(r.status).toBe(6);
    expect(r.err).toMatch(/no export passphrase given/);
    expect(r.err).toMatch(/hint: .*STORE_EXPORT_PASSPHRASE/);
    expect(existsSync(out)).toBe(false);
  });

  it('conflicts: skip by default (names on stderr), --dry-run writes nothing, overwrite and new-version', async () => {
    const rk = join(ws.dir, 'r.key');
    const out = join(ws.dir, 'out.sbx');
    expect((await runInProcess(store('export', out, '--recipient-keyfile', rk))).status).toBe(0);
    expect((await runInProcess(target('set', 'app/db'), { input: 'mine' })).status).toBe(0);

    const dry = await runInProcess(target('import', out, '--recipient-keyfile', rk, '--dry-run', '--on-conflict', 'overwrite'));
    expect(dry.status, dry.err).toBe(0);
    expect(dry.out).toMatch(/^dry run, nothing written: would import 3 secret/);
    expect(dry.err).toContain('would replace: app/db');
    expect(JSON.parse((await runInProcess(target('list', '--json'))).out).map((s: { name: string }) => s.name)).toEqual(['app/db']);

    const skip = await runInProcess(target('import', out, '--recipient-keyfile', rk));
    expect(skip.status).toBe(0);
    expect(skip.out).toContain('2 created, 1 skipped');
    expect(skip.err).toMatch(/skipped 1 name\(s\) .*: app\/db/);
    expect((await runInProcess(target('get', 'app/db'))).out).toBe('mine');

    const nv = await runInProcess(target('import', out, '--recipient-keyfile', rk, '--on-conflict', 'new-version', '--json'));
    expect(JSON.parse(nv.out)).toMatchObject({ appended: ['app/api', 'app/db', 'other'] });
    expect((await runInProcess(target('get', 'app/db'))).out).toBe('db-2');
    expect((await runInProcess(target('get', 'app/db', '--version', '1'))).out).toBe('mine');

    const ow = await runInProcess(target('import', out, '--recipient-keyfile', rk, '--on-conflict', 'overwrite'));
    expect(ow.status).toBe(0);
    expect(JSON.parse((await runInProcess(target('history', 'app/db', '--json'))).out).versions.map((h: { version: number }) => h.version)).toEqual([2]);
    expect((await runInProcess(target('import', out, '--recipient-keyfile', rk, '--on-conflict', 'merge'))).status).toBe(2);
  });

  it('a tampered, truncated or foreign bundle: exit 5 (or 7), nothing written', async () => {
    const pw = secretFile('pw', 'pw');
    const out = join(ws.dir, 'out.sbx');
    expect((await runInProcess(store('export', out, '--export-passphrase-file', pw, '--scrypt-log-n', '15'))).status).toBe(0);
    const good = readFileSync(out);
    const before = (await runInProcess(target('list', '--json'))).out;
    const flipped = Buffer.from(good);
    flipped[flipped.length - 20]! ^= 4;
    writeFileSync(out, flipped);
    const t = await runInProcess(target('import', out, '--export-passphrase-file', pw));
    expect(t.status).toBe(5);
    expect(t.err).toMatch(/store: error: the export bundle is damaged or was altered/);
    writeFileSync(out, good.subarray(0, good.length - 60));
    expect((await runInProcess(target('import', out, '--export-passphrase-file', pw))).status).toBe(5);
    writeFileSync(out, Buffer.concat([Buffer.from('strongbox-export/v9\n'), good.subarray(20)]));
    const v = await runInProcess(target('import', out, '--export-passphrase-file', pw));
    expect(v.status).toBe(7);
    expect(v.err).toContain('strongbox-export/v9');
    writeFileSync(out, good);
    expect((await runInProcess(target('import', out), { env: { STORE_EXPORT_PASSPHRASE: 'not it' } })).status).toBe(5);
    expect((await runInProcess(target('list', '--json'))).out).toBe(before);
  });

  it('a 200-byte bundle asking for 4 GiB of scrypt: import --dry-run exits 7 at once, asking no passphrase (issue 10, 9a)', async () => {
    const pw = secretFile('bundle.pw', 'bundle passphrase\n');
    const out = join(ws.dir, 'out.sbx');
    expect((await runInProcess(store('export', out, '--export-passphrase-file', pw, '--scrypt-log-n', '15'))).status).toBe(0);
    const crafted = Buffer.from(readFileSync(out).subarray(0, 200));
    crafted.set([22, 8, 1], 22); // logN 22, r 8, p 1: 128·2^22·8 bytes
    const bad = join(ws.dir, 'crafted.sbx');
    writeFileSync(bad, crafted);
    const started = Date.now();
    // No passphrase source and STORE_NO_PROMPT: if it got as far as wanting the passphrase it would exit 6.
    const r = await runInProcess(target('import', bad, '--dry-run'), { env: { STORE_NO_PROMPT: '1' } });
    expect(r.status, r.err).toBe(7);
    expect(r.err).toMatch(/scrypt parameters/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // And our exporter will not write what an importer refuses, before asking for a passphrase.
    const high = await runInProcess(store('export', join(ws.dir, 'high.sbx'), '--scrypt-log-n', '19'), { env: { STORE_NO_PROMPT: '1' } });
    expect(high.status, high.err).toBe(7);
    expect(existsSync(join(ws.dir, 'high.sbx'))).toBe(false);
  });

  it('imports the committed v1 vector bundle', async () => {
    const v = (JSON.parse(readFileSync('test/vectors/export-v1.json', 'utf8')) as { vectors: { kind: string; keyFile?: string; bundle: string }[] })
      .vectors.find((x) => x.kind === 'keyfile')!;
    const file = join(ws.dir, 'vector.sbx');
    writeFileSync(file, Buffer.from(v.bundle, 'hex'));
    const key = secretFile('vector.key', `${Buffer.from(v.keyFile!, 'hex').toString('base64')}\n`);
    const r = await runInProcess(target('import', file, '--recipient-keyfile', key));
    expect(r.status, r.err).toBe(0);
    expect((await runInProcess(target('get', 'app/db'))).out).toBe('db-3');
    expect((await runInProcess(target('get', 'app/db', '--version', '1'))).status).toBe(3); // deleted in the bundle, deleted here
    expect(new Uint8Array((await runInProcess(target('get', 'bin'))).bytes)).toEqual(new Uint8Array([0, 1, 0xfe, 0xff]));
  });
});

describe('store export --plaintext / import of JSON and .env', () => {
  it('--plaintext needs --format; --format needs --plaintext; key options do not mix with it', async () => {
    const out = join(ws.dir, 'out.json');
    expect((await runInProcess(store('export', out, '--plaintext'))).status).toBe(2);
    expect((await runInProcess(store('export', out, '--format', 'json'))).status).toBe(2);
    expect((await runInProcess(store('export', out, '--plaintext', '--format', 'json', '--all-versions'))).status).toBe(2);
    expect((await runInProcess(store('export', out, '--plaintext', '--format', 'yaml'))).status).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('JSON: 0600, a warning on stderr, never overwrites', async () => {
    const out = join(ws.dir, 'out.json');
    const r = await runInProcess(store('export', out, '--plaintext', '--format', 'json'));
    expect(r.status, r.err).toBe(0);
    expect(r.err).toMatch(/warning: .*plain text/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ 'app/api': 'api-1', 'app/db': 'db-2', other: 'o-1' });
    writeFileSync(out, 'keep me');
    const again = await runInProcess(store('export', out, '--plaintext', '--format', 'json'));
    expect(again.status).toBe(2);
    expect(again.err).toContain('already exists');
    expect(readFileSync(out, 'utf8')).toBe('keep me');
  });

  it('.env export reads back identically through dotenv, and imports back with --prefix', async () => {
    const values: Record<string, string> = { QUOTE: 'say "hi"', NL: 'a\nb', HASH: 'x # y', SQ: "it's", SP: ' pad ' };
    const db = join(ws.dir, 'env.db');
    const s = (...a: string[]) => ['--store', db, '--keyfile', ws.key, ...a];
    expect((await runInProcess(s('init', '--master', 'keyfile'))).status).toBe(0);
    for (const [k, v] of Object.entries(values)) expect((await runInProcess(s('set', k), { input: v })).status).toBe(0);
    const out = join(ws.dir, 'out.env');
    const r = await runInProcess(s('export', out, '--plaintext', '--format', 'env'));
    expect(r.status, r.err).toBe(0);
    expect(parseDotenv(readFileSync(out))).toEqual(values);
    const i = await runInProcess(target('import', out, '--prefix', 'app/'));
    expect(i.status, i.err).toBe(0);
    for (const [k, v] of Object.entries(values)) expect((await runInProcess(target('get', `app/${k}`))).out).toBe(v);
  });

  it('--prefix P in a plaintext export takes P off the names, and import --prefix P puts it back: the help\'s example works', async () => {
    const out = join(ws.dir, 'app.env');
    // The example of store export --help, as it is written there.
    const r = await runInProcess(store('export', out, '--plaintext', '--format', 'env', '--prefix', 'app/'));
    expect(r.status, r.err).toBe(0);
    expect(parseDotenv(readFileSync(out))).toEqual({ api: 'api-1', db: 'db-2' });
    const i = await runInProcess(target('import', out, '--prefix', 'app/'));
    expect(i.status, i.err).toBe(0);
    expect((await runInProcess(target('get', 'app/db'))).out).toBe('db-2');
    expect((await runInProcess(target('get', 'app/api'))).out).toBe('api-1');
    expect((await runInProcess(target('list', '--json'))).out).not.toContain('other');

    const json = join(ws.dir, 'app.json');
    expect((await runInProcess(store('export', json, '--plaintext', '--format', 'json', '--prefix', 'app/'))).status).toBe(0);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toEqual({ api: 'api-1', db: 'db-2' });
  });

  it('.env export of names that still hold / after the prefix: the hint says how --prefix takes it off, not to "leave these out"', async () => {
    expect((await runInProcess(store('set', 'app/deep/key'), { input: 'v' })).status).toBe(0);
    const out = join(ws.dir, 'deep.env');
    const r = await runInProcess(store('export', out, '--plaintext', '--format', 'env', '--prefix', 'app/'));
    expect(r.status).toBe(2);
    expect(r.err).toContain('app/deep/key');
    expect(r.err).not.toContain('app/db');
    expect(r.err).not.toMatch(/leave these out/);
    expect(r.err).toMatch(/--prefix P exports only the secrets under P, with P taken off their names/);
    expect(existsSync(out)).toBe(false);
  });

  it('.env export refuses names with / and non-UTF-8 values, naming them, writing nothing', async () => {
    expect((await runInProcess(store('set', 'BIN'), { input: new Uint8Array([0xff, 0x00]) })).status).toBe(0);
    const out = join(ws.dir, 'out.env');
    const r = await runInProcess(store('export', out, '--plaintext', '--format', 'env'));
    expect(r.status).toBe(2);
    for (const n of ['app/db', 'app/api', 'BIN']) expect(r.err).toContain(n);
    expect(existsSync(out)).toBe(false);
  });

  it('a bad import file: every problem listed, exit 2, nothing written, no value printed', async () => {
    const canary = `CANARY-${randomBytes(6).toString('hex')}`;
    const file = join(ws.dir, 'in.json');
    writeFileSync(file, JSON.stringify({ good: canary, 'bad//name': canary, n: 1, '': canary }));
    const r = await runInProcess(target('import', file));
    expect(r.status).toBe(2);
    expect(r.err).toContain('3 problem(s)');
    expect(r.err).toContain('"bad//name"');
    expect(r.err).toContain('"n"');
    expect(r.err + r.out).not.toContain(canary);
    expect((await runInProcess(target('list', '--json'))).out.trim()).toBe('[]');
    writeFileSync(file, `{"a": ${canary}`);
    const j = await runInProcess(target('import', file));
    expect(j.status).toBe(2);
    expect(j.err + j.out).not.toContain(canary);
  });

  it('a .env file by name, --allow-empty, and key options refused for plaintext', async () => {
    const file = join(ws.dir, '.env');
    writeFileSync(file, 'A=1\nEMPTY=\n');
    expect((await runInProcess(target('import', file))).status).toBe(2);
    expect((await runInProcess(target('import', file, '--recipient-keyfile', ws.key))).status).toBe(2);
    const r = await runInProcess(target('import', file, '--allow-empty'));
    expect(r.status, r.err).toBe(0);
    expect((await runInProcess(target('get', 'A'))).out).toBe('1');
    expect((await runInProcess(target('get', 'EMPTY'))).out).toBe('');
  });
});
