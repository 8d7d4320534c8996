/**
 * `store env --format shell | fish | dotenv` read back by what reads them:
 * sh, dash, bash and zsh source the shell format, fish the fish format, and
 * each gets every value byte for byte (values that quote badly included: a
 * trailing backslash, quotes, $(...), newlines, CR, escapes); dotenv reads
 * the dotenv format back unchanged, whole files included, and its lines are
 * single-quoted whenever dotenv allows, so `set -a; . ./.env` in bash runs
 * nothing in a value. In-process through run(argv, io); the shells are real.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let base: string[];
const store = (...args: string[]) => runInProcess([...base, ...args]);
const set = async (name: string, value: string) => {
  const r = await runInProcess([...base, 'set', name, '--allow-empty'], { input: value });
  expect(r.status, r.err).toBe(0);
};

/** Values that quote badly, under q/ (variable = the upper-cased last segment). */
const VALUES: Record<string, string> = {
  QUOTE: "it's",
  DOLLAR: '$HOME ${PATH} $(echo INJECTED >&2) `echo INJECTED >&2`',
  BS_END: 'ends\\',
  BS_TWO: 'a\\\\b',
  BS_Q: "x\\'y",
  INJECT: "'; echo INJECTED >&2; #",
  NL: 'line1\nline2\n',
  CRLF: 'a\r\nb\r\n',
  BOM: '\uFEFFbom',
  UNI: 'héllo ✓ 🔑',
  DQ: '"\\"',
  EMPTY: '',
  DASH: '-n',
  PCT: '%s %d \\n',
  ESC: '\u001b[31mred',
  TAB: 'a\tb',
  BANG: '!!',
  HASH: '#x',
  SPACES: '  padded  ',
  LIB_PATH: 'a::b:',
};

/** What `shell` prints of each variable after sourcing `file` (the script's syntax is the same in every shell here). */
function sourced(shell: string[], file: string, names: string[]): { values: Record<string, string>; err: string } {
  const script = `${shell[0] === 'fish' ? 'source' : '.'} ${file}; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`;
  const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', script]);
  expect(r.status, `${shell[0]}: ${r.stderr.toString()}`).toBe(0);
  const got = r.stdout.toString('utf8').split('\0').slice(0, -1);
  return { values: Object.fromEntries(names.map((n, i) => [n, got[i]!])), err: r.stderr.toString() };
}

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  expect((await store('init', '--master', 'keyfile')).status).toBe(0);
  for (const [k, v] of Object.entries(VALUES)) await set(`q/${k.toLowerCase()}`, v);
});

describe('store env --format shell and fish', () => {
  it('shell: sh, dash, bash and zsh read back every value', async () => {
    const r = await store('env', '--prefix', 'q/', '--format', 'shell');
    expect(r.status, r.err).toBe(0);
    const file = join(dir, 'env.sh');
    writeFileSync(file, r.out, { mode: 0o600 });
    for (const shell of [['sh'], ['dash'], ['bash', '--norc', '--noprofile'], ['zsh', '-f']]) {
      const { values, err } = sourced(shell, file, Object.keys(VALUES));
      expect(values, shell[0]).toEqual(VALUES);
      expect(err).toBe('');
    }
  });

  it('fish: set -gx lines that fish reads back as every value, nothing run', async () => {
    const r = await store('env', '--prefix', 'q/', '--format', 'fish');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain("set -gx BS_END 'ends\\\\'\n");
    expect(r.out).toContain("set -gx QUOTE 'it\\'s'\n");
    const file = join(dir, 'env.fish');
    writeFileSync(file, r.out, { mode: 0o600 });
    const { values, err } = sourced(['fish', '--no-config'], file, Object.keys(VALUES));
    expect(values).toEqual(VALUES);
    expect(err).toBe('');
    // Exported: a program fish starts has them too.
    const child = spawnSync('fish', ['--no-config', '-c', `source ${file}; ${JSON.stringify(process.execPath)} -e 'process.stdout.write(JSON.stringify([process.env.BS_END, process.env.INJECT]))'`]);
    expect(JSON.parse(child.stdout.toString())).toEqual([VALUES.BS_END, VALUES.INJECT]);
  });

  it('shell refuses a variable that is no shell name; so does fish', async () => {
    await set('digits/1abc', 'v');
    for (const format of ['shell', 'fish']) {
      const r = await store('env', '--prefix', 'digits/', '--format', format);
      expect(r.status, format).toBe(2);
      expect(r.err).toContain('--env VAR=name');
    }
  });

  it('--help says which shells each format is for', async () => {
    const r = await store('env', '--help');
    expect(r.out).toMatch(/shell[^\n]*sh, bash(,| and|, and) zsh/);
    expect(r.out).toMatch(/fish[^\n]*set -gx/);
    expect((await store('env', '--prefix', 'q/', '--format', 'csh')).err).toMatch(/--format is dotenv, json, shell or fish/);
  });
});

describe('store env --format dotenv', () => {
  it('dotenv reads the whole output back unchanged', async () => {
    const r = await store('env', '--prefix', 'q/');
    expect(r.status, r.err).toBe(0);
    expect(parseDotenv(r.out)).toEqual(VALUES);
  });

  it('single quotes whenever dotenv reads them back: $(...) in a value is not run by `set -a; . ./.env`', async () => {
    await set('dq/app/token', 'pw$(echo INJECTED >&2)x$HOME`echo INJECTED >&2`');
    const r = await store('env', '--prefix', 'dq/app/');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe("TOKEN='pw$(echo INJECTED >&2)x$HOME`echo INJECTED >&2`'\n");
    const file = join(dir, 'dq.env');
    writeFileSync(file, r.out, { mode: 0o600 });
    const b = spawnSync('bash', ['--norc', '--noprofile', '-c', `set -a; . ${file}; printf '%s' "$TOKEN"`]);
    expect(b.stderr.toString()).toBe('');
    expect(b.stdout.toString()).toBe('pw$(echo INJECTED >&2)x$HOME`echo INJECTED >&2`');
  });

  it('every line single-quoted unless the value holds a quote or a CR, and such lines read back the same in bash', async () => {
    const r = await store('env', '--prefix', 'q/');
    const lines = r.out.split(/\n(?=[A-Z_]+=)/);
    const single = Object.entries(VALUES).filter(([, v]) => !v.includes("'") && !v.includes('\r') && !v.endsWith('\\')).map(([k]) => k);
    for (const k of single) expect(lines.find((l) => l.startsWith(`${k}=`)), k).toMatch(new RegExp(`^${k}='`));
    const file = join(dir, 'single.env');
    writeFileSync(file, lines.filter((l) => single.some((k) => l.startsWith(`${k}=`))).join('\n'), { mode: 0o600 });
    const { values, err } = sourced(['bash', '--norc', '--noprofile'], file, single);
    expect(values).toEqual(Object.fromEntries(single.map((k) => [k, VALUES[k]])));
    expect(err).toBe('');
  });

  it('a value ending in a backslash does not swallow the line after it', async () => {
    await set('bs/a', 'x\\');
    await set('bs/b', '#y');
    await set('bs/c', "z' # w");
    const r = await store('env', '--prefix', 'bs/');
    expect(r.status, r.err).toBe(0);
    expect(parseDotenv(r.out)).toEqual({ A: 'x\\', B: '#y', C: "z' # w" });
  });
});
