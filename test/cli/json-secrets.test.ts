/**
 * JSON secrets through the CLI, in-process: `store set --type json` checks
 * and records the value as JSON; `store get --field K` prints one top-level
 * field (a string raw, anything else as compact JSON), as `vault kv get
 * -field=K` does; get, set and history say the type in --json (and history
 * in its table); `store edit` keeps a JSON secret JSON. Values never reach
 * an error message.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let base: string[];
let dir: string;
const store = (args: string[], input = '', env?: Record<string, string | undefined>) => runInProcess([...base, ...args], { input, env });
const DB = '{"username":"app","password":"s3cr3t-CANARY","port":5432,"tls":{"verify":true},"tags":["a","b"],"none":null}';

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  expect((await store(['init', '--master', 'keyfile'])).status).toBe(0);
});

describe('store set --type json', () => {
  it('records the version as JSON; --json says so; a plain set stays bytes', async () => {
    const r = await store(['set', 'app/db', '--type', 'json', '--json'], DB);
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: 'app/db', version: 1, json: true });
    const plain = await store(['set', 'app/db', '--json'], 'not json');
    expect(JSON.parse(plain.out)).toMatchObject({ version: 2, json: false });
    expect((await store(['set', 'app/db', '--type', 'bytes'], '{}')).status).toBe(0);
    const h = JSON.parse((await store(['history', 'app/db', '--json'])).out);
    expect(h.versions.map((v: { version: number; json: boolean }) => [v.version, v.json])).toEqual([[1, true], [2, false], [3, false]]);
    expect((await store(['history', 'app/db'])).out).toMatch(/^VERSION\s+CREATED\s+STATE\s+KEY\s+TYPE\n1\s.*\sjson\n2\s.*\sbytes\n/);
  });

  it('reads the value as set does (a file too), and refuses what is not a JSON object with exit 2, never quoting it', async () => {
    const file = join(dir, 'db.json');
    writeFileSync(file, `${DB}\n`);
    expect((await store(['set', 'from/file', '--type', 'json', '--file', file])).status).toBe(0);
    for (const bad of ['{"password":"s3cr3t-CANARY"', '["s3cr3t-CANARY"]', '"s3cr3t-CANARY"', '', 's3cr3t-CANARY']) {
      const r = await store(['set', 'bad', '--type', 'json', '--allow-empty'], bad);
      expect(r.status, bad).toBe(2);
      expect(r.err).toMatch(/E_INVALID_VALUE|not a JSON object/);
      expect(r.err + r.out).not.toContain('s3cr3t');
    }
    expect((await store(['get', 'bad'])).status).toBe(3);
  });

  it('refuses a type it does not know, and --generate with --type json (a generated value is not JSON)', async () => {
    const unknown = await store(['set', 'x', '--type', 'yaml'], '{}');
    expect(unknown.status).toBe(2);
    expect(unknown.err).toMatch(/bytes, json/);
    const gen = await store(['set', 'x', '--type', 'json', '--generate']);
    expect(gen.status).toBe(2);
    expect(gen.err).toContain('--type json');
  });
});

describe('store get', () => {
  beforeEach(async () => {
    expect((await store(['set', 'app/db', '--type', 'json'], DB)).status).toBe(0);
    expect((await store(['set', 'app/raw'], DB)).status).toBe(0); // the same text, as plain bytes
  });

  it('--field prints a string field raw and anything else as compact JSON', async () => {
    const field = async (k: string) => {
      const r = await store(['get', 'app/db', '--field', k]);
      expect(r.status, r.err).toBe(0);
      return r.out;
    };
    expect(await field('password')).toBe('s3cr3t-CANARY');
    expect(await field('port')).toBe('5432');
    expect(await field('tls')).toBe('{"verify":true}');
    expect(await field('tags')).toBe('["a","b"]');
    expect(await field('none')).toBe('null');
    expect((await store(['get', 'app/db', '--field', 'username', '-n'])).out).toBe('app\n');
  });

  it('--field on a missing field is exit 3 naming the field; on a plain-bytes secret exit 2 saying it is not JSON', async () => {
    const missing = await store(['get', 'app/db', '--field', 'Password']);
    expect(missing.status).toBe(3);
    expect(missing.err).toContain('app/db version 1 has no field "Password"');
    expect(missing.err).not.toContain('s3cr3t');
    const plain = await store(['get', 'app/raw', '--field', 'password']);
    expect(plain.status).toBe(2);
    expect(plain.err).toContain('app/raw version 1 is not a JSON secret');
    expect(plain.err + plain.out).not.toContain('s3cr3t');
    const proto = await store(['get', 'app/db', '--field', '__proto__']);
    expect(proto.status).toBe(3);
  });

  it('--json carries the flag, and with --field the field\'s JSON value', async () => {
    const whole = JSON.parse((await store(['get', 'app/db', '--json'])).out);
    expect(whole).toMatchObject({ name: 'app/db', version: 1, json: true, value: DB });
    expect(JSON.parse((await store(['get', 'app/raw', '--json'])).out)).toMatchObject({ json: false, value: DB });
    const one = JSON.parse((await store(['get', 'app/db', '--field', 'tls', '--json'])).out);
    expect(one).toMatchObject({ name: 'app/db', version: 1, json: true, field: 'tls', value: { verify: true } });
    expect(JSON.parse((await store(['get', 'app/db', '--field', 'port', '--json'])).out).value).toBe(5432);
  });

  it('without --field the value is printed byte for byte, as for any secret', async () => {
    expect((await store(['get', 'app/db'])).out).toBe(DB);
  });
});

describe('store edit', () => {
  it('keeps a JSON secret JSON, and refuses an edit that is no longer a JSON object', async () => {
    expect((await store(['set', 'app/db', '--type', 'json'], '{"a":1}')).status).toBe(0);
    const editor = (script: string) => {
      const path = join(dir, `editor-${Math.random().toString(36).slice(2)}.sh`);
      writeFileSync(path, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
      return { EDITOR: path, VISUAL: undefined };
    };
    const ok = await store(['edit', 'app/db', '--json'], '', editor(`printf '{"a":2}' > "$1"`));
    expect(ok.status, ok.err).toBe(0);
    expect((await store(['get', 'app/db', '--field', 'a'])).out).toBe('2');
    expect(JSON.parse((await store(['history', 'app/db', '--json'])).out).versions.map((v: { json: boolean }) => v.json)).toEqual([true, true]);
    const bad = await store(['edit', 'app/db'], '', editor(`printf 'a: 3' > "$1"`));
    expect(bad.status).toBe(2);
    expect(bad.err).toContain('not a JSON object');
    expect((await store(['get', 'app/db', '--field', 'a'])).out).toBe('2');
  });
});
