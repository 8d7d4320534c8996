/**
 * Scoping mistakes are never silent (issue 11): `store run` and `store env`
 * without a selection refuse instead of taking every secret of every
 * project; a selection that finds nothing refuses instead of starting the
 * command without secrets; the whole store is taken only with --all.
 * In-process through run(argv, io): these paths start no child.
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let base: string[];

const store = (args: string[], input = '') => runInProcess([...base, ...args], { input });

beforeEach(async () => {
  const dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  expect((await store(['init', '--master', 'keyfile'])).status).toBe(0);
  expect((await store(['set', 'app/prod/db'], 'prod-SECRET')).status).toBe(0);
  expect((await store(['set', 'app/dev/db'], 'dev-SECRET')).status).toBe(0);
});

describe('selecting secrets for run and env', () => {
  it('no selection at all: a usage error that names --all, nothing taken', async () => {
    for (const cmd of [['run', '--', 'true'], ['env']]) {
      const r = await store(cmd);
      expect(r.status).toBe(2);
      expect(r.err).toMatch(/--prefix P, --only a,b, --env VAR=name, or --all/);
      expect(r.out).toBe('');
    }
  });

  it('a prefix that matches nothing (a typo): exit 3 naming the prefix, the command not started', async () => {
    const r = await store(['run', '--prefix', 'app/prdo/', '--', process.execPath, '-e', 'process.exit(42)']);
    expect(r.status).toBe(3);
    expect(r.err).toContain('no live secret is under the prefix "app/prdo/"');
    expect((await store(['env', '--prefix', 'nothing/'])).status).toBe(3);
  });

  it('--all takes the whole store, and only alone', async () => {
    const r = await store(['env', '--all', '--format', 'json']);
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ APP_DEV_DB: 'dev-SECRET', APP_PROD_DB: 'prod-SECRET' });
    expect((await store(['env', '--all', '--prefix', 'app/'])).status).toBe(2);
    expect((await store(['env', '--prefix', 'app/prod/', '--format', 'json'])).out).toContain('prod-SECRET');
  });

  it('a prefix holding "=" is not quoted back (it may be a value)', async () => {
    const r = await store(['env', '--prefix', 'TOKEN=hunter2']);
    expect(r.status).not.toBe(0);
    expect(r.err).not.toContain('hunter2');
  });
});

describe('store inject', () => {
  it('reads the template from stdin when -i is absent', async () => {
    const r = await store(['inject'], 'db={{ store:app/prod/db }}\n');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('db=prod-SECRET\n');
  });
});

describe('store get on a terminal', () => {
  it('ends with a newline on a terminal, adds nothing in a pipe', async () => {
    expect(await runInProcess([...base, 'get', 'app/prod/db'], { stdoutIsTTY: true })).toMatchObject({ status: 0, out: 'prod-SECRET\n' });
    expect((await store(['get', 'app/prod/db'])).out).toBe('prod-SECRET');
  });
});
