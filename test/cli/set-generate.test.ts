/**
 * `store set NAME --generate [--length N] [--charset SET]`: a new random
 * value made here, never printed. In-process through run(argv, io).
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let base: string[];
const store = (args: string[], input = '') => runInProcess([...base, ...args], { input });

async function ok(args: string[], input = '') {
  const r = await store(args, input);
  expect(r.status, r.err).toBe(0);
  return r;
}

beforeEach(async () => {
  const dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  await ok(['init', '--master', 'keyfile']);
});

describe('store set --generate', () => {
  it('makes 32 alnum characters by default and never prints them', async () => {
    const r = await ok(['set', 'app/key', '--generate']);
    expect(r.out).toBe('app/key: version 1 (generated 32 alnum characters)\n');
    const value = (await ok(['get', 'app/key'])).out;
    expect(value).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(r.out + r.err).not.toContain(value);
    await ok(['set', 'app/key', '--generate']);
    expect((await ok(['get', 'app/key'])).out).not.toBe(value);
  });

  it('--length and --charset shape it; --json gives the metadata and what was generated, not the value', async () => {
    const r = await ok(['set', 'app/token', '--generate', '--length', '50', '--charset', 'base64url', '--json']);
    const out = JSON.parse(r.out) as Record<string, unknown>;
    expect(out).toMatchObject({ name: 'app/token', version: 1, generated: { length: 50, charset: 'base64url' } });
    expect(Object.keys(out).sort()).toEqual(['createdAt', 'generated', 'json', 'name', 'version']);
    expect((await ok(['get', 'app/token'])).out).toMatch(/^[A-Za-z0-9_-]{50}$/);
    await ok(['set', 'app/pin', '--generate', '--length', '6', '--charset', 'digits']);
    expect((await ok(['get', 'app/pin'])).out).toMatch(/^[0-9]{6}$/);
  });

  it('does not read stdin; --cas 0 makes it only when absent', async () => {
    await ok(['set', 'app/key', '--generate', '--cas', '0'], 'from-stdin');
    expect((await ok(['get', 'app/key'])).out).toMatch(/^[A-Za-z0-9]{32}$/);
    expect((await store(['set', 'app/key', '--generate', '--cas', '0'])).status).toBe(4);
  });

  it('refuses a second source of value and options without --generate (exit 2, nothing written)', async () => {
    const cases: [string[], string][] = [
      [['--generate', '--value', 'v'], '--generate makes the value, so it goes without --value'],
      [['--generate', '--file', '/etc/hostname'], 'goes without --file'],
      [['--generate', '--trim-newline'], 'goes without --trim-newline'],
      [['--length', '8'], '--length and --charset go with --generate'],
      [['--charset', 'hex'], '--length and --charset go with --generate'],
      [['--generate', '--charset', 'emoji'], 'Allowed choices are alnum, hex, base64, base64url, digits, symbols'],
      [['--generate', '--length', '0'], '--length takes a whole number from 1 up'],
      [['--generate', '--length', '4097'], '--length takes 1..4096'],
    ];
    for (const [extra, message] of cases) {
      const r = await store(['set', 'app/x', ...extra], 'v');
      expect(r.status, extra.join(' ')).toBe(2);
      expect(r.err).toContain(message);
    }
    expect((await store(['get', 'app/x'])).status).toBe(3);
  });

  it('store rotate --generate takes the same options', async () => {
    await ok(['set', 'app/db'], 'hunter2');
    const r = await ok(['rotate', 'app/db', '--generate', '--charset', 'digits', '--length', '12']);
    expect(r.out).toBe('app/db: version 2 (rotated, generated 12 digits characters)\n');
    expect((await ok(['get', 'app/db'])).out).toMatch(/^[0-9]{12}$/);
    expect((await store(['rotate', 'app/db', '--generate', '--file', '/etc/hostname'])).status).toBe(2);
  });
});
