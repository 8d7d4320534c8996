/**
 * `store import FILE` of a plaintext file is strict: a .env line that dotenv
 * would skip or read across lines, a name set twice (.env or JSON), and a
 * shell-quoted value that dotenv reads otherwise than a shell are each a bad
 * entry: all listed at once (line numbers, names, never a value), exit 2
 * (E_INVALID_IMPORT), nothing written. In-process through run(argv, io).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let base: string[];

const store = (args: string[], input: string | Buffer = '') => runInProcess([...base, ...args], { input });

async function ok(args: string[], input = ''): Promise<{ out: string; err: string }> {
  const r = await store(args, input);
  expect(r.status, `${args.join(' ')}: ${r.err}`).toBe(0);
  return r;
}

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

async function names(): Promise<string[]> {
  return (JSON.parse((await ok(['list', '--json'])).out) as { name: string }[]).map((s) => s.name);
}

/** Imports `path` expecting a refusal: exit 2, E_INVALID_IMPORT, nothing written, no value shown; the error text. */
async function refused(path: string, secrets: string[] = ['hunter2', 'orphan', 'SECRET']): Promise<string> {
  for (const extra of [[], ['--dry-run']]) {
    const r = await store(['import', path, '--prefix', 'app/', ...extra]);
    expect(r.status, r.err).toBe(2);
    for (const s of secrets) expect(r.out + r.err).not.toContain(s);
    const j = await store(['import', path, '--prefix', 'app/', '--json', ...extra]);
    expect(j.status).toBe(2);
    expect(j.err + j.out).toContain('E_INVALID_IMPORT');
    for (const s of secrets) expect(j.out + j.err).not.toContain(s);
  }
  expect(await names()).toEqual([]);
  return (await store(['import', path, '--prefix', 'app/'])).err;
}

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  await ok(['init', '--master', 'keyfile']);
});

describe('.env import: every line is understood', () => {
  it('lines dotenv skips or reads across lines are bad entries, all listed by line number', async () => {
    const err = await refused(file('app.env', 'DB_HOST=db.internal\nDB PASSWORD=hunter2\ndb/password=hunter2\nAPI_KEY\n = orphan\nTOKEN: abc\nÜBER=1\n# a comment\n\nOK=1\n'));
    expect(err).toContain('5 problem(s), nothing was written');
    expect(err).toContain('line 2: not a NAME=value line');
    expect(err).toContain('line 3: not a NAME=value line');
    expect(err).not.toMatch(/PASSWORD|password|hunter2/); // a line that is not an assignment may be part of a value: shown by number only
    expect(err).toMatch(/line 4: not a NAME=value line/);
    expect(err).toMatch(/line 5: not a NAME=value line/);
    expect(err).toContain('line 7: ');
    expect(err).not.toMatch(/line (1|6|8|9|10)\b/);
  });

  it('a value on the line below its name (after = or :) is refused, not taken in', async () => {
    expect(await refused(file('a.env', "K=\n'orphan'\n"))).toMatch(/line 1: .*\n {2}line 2: /);
    expect(await refused(file('b.env', 'K:\norphan\n'))).toMatch(/line 1: .*\n {2}line 2: /);
    expect(await refused(file('c.env', 'export\nK=orphan\n'))).toMatch(/line 1: not a NAME=value line/);
  });

  it('a JSON file named .env is refused, not read as nothing', async () => {
    const err = await refused(file('x.env', '{\n  "A": "hunter2",\n  "B": "x=hunter2"\n}\n'));
    expect(err).toContain('4 problem(s)');
  });

  it('what dotenv reads stays importable: comments, export, quotes, multi-line values, blank lines, colons, CRLF', async () => {
    const text = [
      '# header', '', 'export A=1', '  B = two words # comment', "C='single $x'", 'D="line\\nbreak"', 'E=`back`',
      'F="multi', 'line', '# not a comment', 'value"', 'G: colon', 'H=', '', 'I=#', "J='x\\'", '',
    ].join('\r\n');
    await ok(['import', file('ok.env', text), '--allow-empty']);
    const get = async (n: string) => (await ok(['get', n])).out;
    expect(await get('A')).toBe('1');
    expect(await get('B')).toBe('two words');
    expect(await get('C')).toBe('single $x');
    expect(await get('D')).toBe('line\nbreak');
    expect(await get('E')).toBe('back');
    expect(await get('F')).toBe('multi\nline\n# not a comment\nvalue');
    expect(await get('G')).toBe('colon');
    expect(await get('J')).toBe('x\\');
    expect(await names()).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J']);
  });
});

describe('a name set twice in one file', () => {
  it('.env: a bad entry naming the key and both lines', async () => {
    const err = await refused(file('dup.env', 'PW=oldSECRET\nX=1\nPW=newSECRET\n'));
    expect(err).toContain('"PW" is set more than once, on lines 1, 3');
  });

  it('JSON: a bad entry naming the key and both lines, escapes decoded, nested objects skipped', async () => {
    expect(await refused(file('dup.json', '{"PW":"oldSECRET","PW":"newSECRET"}'))).toContain('"PW" is set more than once, on lines 1, 1');
    const err = await refused(file('dup2.json', '{\n  "PW": "old\\"SECRET",\n  "N": {"PW": ["}", "SECRET"]},\n  "P\\u0057": "newSECRET"\n}\n'));
    expect(err).toContain('"PW" is set more than once, on lines 2, 4');
    expect(err).not.toContain('"N"'); // N's value is an object: its own problem, not a duplicate
    await ok(['import', file('fine.json', '{"A":"1","B":"2","a":"3"}')]);
    expect(await names()).toEqual(['A', 'B', 'a']);
  });
});

describe('store env --format shell output re-imported', () => {
  it("a value with ' (written '\\'') is refused rather than stored changed; others import unchanged", async () => {
    await ok(['set', 'app/SQ'], "it's");
    await ok(['set', 'app/NL'], 'a\nb');
    await ok(['set', 'app/BSN'], 'x\\ny');
    const shell = (await ok(['env', '--prefix', 'app/', '--format', 'shell'])).out;
    expect(shell).toContain("export SQ='it'\\''s'");
    const other = join(dir, 'other.db');
    const third = join(dir, 'third.db');
    for (const db of [other, third]) expect((await runInProcess(['--store', db, '--keyfile', join(dir, 'master.key'), 'init', '--master', 'keyfile'])).status).toBe(0);
    const imp = (p: string) => runInProcess(['--store', other, '--keyfile', join(dir, 'master.key'), 'import', p, '--prefix', 'app/']);
    const r = await imp(file('sh.env', shell));
    expect(r.status).toBe(2);
    expect(r.err).toContain('line 4 ("SQ"): a single-quoted value with a \' inside is written for a shell');
    expect(r.err).toContain('1 problem(s)');

    const rest = await imp(file('sh2.env', shell.split('\n').filter((l) => !l.startsWith('export SQ')).join('\n')));
    expect(rest.status, rest.err).toBe(0);
    const get = async (n: string) => (await runInProcess(['--store', other, '--keyfile', join(dir, 'master.key'), 'get', n])).out;
    expect(await get('app/NL')).toBe('a\nb');
    expect(await get('app/BSN')).toBe('x\\ny');

    // The dotenv format of the same values round-trips exactly.
    const dotenv = (await ok(['env', '--prefix', 'app/'])).out;
    expect((await runInProcess(['--store', third, '--keyfile', join(dir, 'master.key'), 'import', file('d.env', dotenv), '--prefix', 'app/'])).status).toBe(0);
    expect((await runInProcess(['--store', third, '--keyfile', join(dir, 'master.key'), 'get', 'app/SQ'])).out).toBe("it's");
  });
});
