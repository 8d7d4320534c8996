/**
 * A value that starts with a UTF-8 byte-order mark (EF BB BF) is text like any
 * other: it reads back byte for byte through every path that decodes a value
 * as text (get --json, plaintext and age exports and their imports, env, run,
 * inject). A BOM a person's editor puts at the start of a plaintext import
 * file or an age payload is still skipped. In-process through run(argv, io).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decrypter, Encrypter } from 'age-encryption';
import { parse as parseDotenv } from 'dotenv';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const VALUE = Buffer.concat([BOM, Buffer.from('hello-SECRET')]);
const TEXT = '\ufeffhello-SECRET';

let dir: string;
let src: string[];
let dst: string[];
const at = (name: string) => join(dir, name);

async function ok(argv: string[], input: string | Uint8Array = '') {
  const r = await runInProcess(argv, { input });
  expect(r.status, r.err).toBe(0);
  return r;
}

/** The value of `name` in the store `base`, as raw bytes. */
async function bytesOf(base: string[], name: string): Promise<Buffer> {
  return (await ok([...base, 'get', name])).bytes;
}

beforeEach(async () => {
  dir = tempDir();
  src = ['--store', at('src.db'), '--keyfile', at('src.key')];
  dst = ['--store', at('dst.db'), '--keyfile', at('dst.key')];
  await ok([...src, 'init', '--master', 'keyfile']);
  await ok([...dst, 'init', '--master', 'keyfile']);
  await ok([...src, 'set', 'BOM'], VALUE);
  expect(await bytesOf(src, 'BOM')).toEqual(VALUE);
});

describe('a value with a leading BOM', () => {
  it('get --json keeps it', async () => {
    const r = await ok([...src, 'get', 'BOM', '--json']);
    const o = JSON.parse(r.out) as { value?: string };
    expect(o.value).toBe(TEXT);
    expect(Buffer.from(o.value!, 'utf8')).toEqual(VALUE);
  });

  it('a plaintext JSON export holds it, and its import writes it back byte for byte', async () => {
    const file = at('out.json');
    await ok([...src, 'export', file, '--plaintext', '--format', 'json']);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ BOM: TEXT });
    await ok([...dst, 'import', file]);
    expect(await bytesOf(dst, 'BOM')).toEqual(VALUE);
  });

  it('a plaintext .env export holds it, and its import writes it back byte for byte', async () => {
    const file = at('out.env');
    await ok([...src, 'export', file, '--plaintext', '--format', 'env']);
    expect(parseDotenv(readFileSync(file))).toEqual({ BOM: TEXT });
    await ok([...dst, 'import', file]);
    expect(await bytesOf(dst, 'BOM')).toEqual(VALUE);
  });

  it('an age export holds it, and its import writes it back byte for byte', async () => {
    const { identity, file, payload: bytes } = await ageExport();
    // The payload itself says it (as text, not base64, since it is UTF-8).
    const payload = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    expect(payload).toContain(`"value":"${TEXT}"`);
    await ok([...dst, 'import', file, '--identity', identity]);
    expect(await bytesOf(dst, 'BOM')).toEqual(VALUE);
  });

  it('env (json and dotenv), run and inject keep it', async () => {
    let r = await ok([...src, 'env', '--all', '--format', 'json']);
    expect(JSON.parse(r.out)).toEqual({ BOM: TEXT });
    r = await ok([...src, 'env', '--all']);
    expect(parseDotenv(r.out)).toEqual({ BOM: TEXT });

    const childOut = at('child.json');
    const script = `require('fs').writeFileSync(${JSON.stringify(childOut)}, JSON.stringify(process.env.BOM))`;
    await ok([...src, 'run', '--all', '--', process.execPath, '-e', script]);
    expect(existsSync(childOut)).toBe(true);
    expect(JSON.parse(readFileSync(childOut, 'utf8'))).toBe(TEXT);

    r = await ok([...src, 'inject'], 'v={{ store:BOM | json }}\n');
    expect(r.out).toBe(`v=${JSON.stringify(TEXT)}\n`);
  });
});

/** An age export of the source store to a new identity, and its payload decrypted. */
async function ageExport(): Promise<{ identity: string; recipient: string; file: string; payload: Uint8Array }> {
  const identity = at('me.txt');
  const recipient = (await ok(['age-keygen', identity])).out.trim();
  const file = at('out.age');
  await ok([...src, 'export', file, '--recipient', recipient]);
  const d = new Decrypter();
  d.addIdentity(readFileSync(identity, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!);
  return { identity, recipient, file, payload: await d.decrypt(readFileSync(file)) };
}

describe('a BOM an editor put first in a file a person writes', () => {
  it('a plaintext import file: skipped, not part of the first name', async () => {
    const json = at('in.json');
    writeFileSync(json, Buffer.concat([BOM, Buffer.from('{"a": "x-SECRET"}\n')]));
    await ok([...dst, 'import', json]);
    const env = at('in.env');
    writeFileSync(env, Buffer.concat([BOM, Buffer.from('b=y-SECRET\n')]));
    await ok([...dst, 'import', env]);
    expect((await bytesOf(dst, 'a')).toString()).toBe('x-SECRET');
    expect((await bytesOf(dst, 'b')).toString()).toBe('y-SECRET');
  });

  it('an age payload decrypted, edited and sealed again: a BOM before its first line is skipped', async () => {
    const { identity, recipient, payload } = await ageExport();
    const e = new Encrypter();
    e.addRecipient(recipient);
    const edited = at('edited.age');
    writeFileSync(edited, await e.encrypt(Buffer.concat([BOM, payload])));
    await ok([...dst, 'import', edited, '--identity', identity]);
    expect(await bytesOf(dst, 'BOM')).toEqual(VALUE);
  });
});
