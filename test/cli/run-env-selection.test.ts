/**
 * Which secrets `store run` and `store env` take, and what they say when one
 * is missing, in-process through run(argv, io):
 * - `--env VAR=value` (the docker habit; store wants VAR=secret-name): what
 *   follows '=' is never in a message, nor in the audit log as a name;
 * - `--prefix a/b` is `a/b/`: it never takes a/bc or a/b-x, and a glob in it
 *   is refused, not taken as a pattern;
 * - variables named like Object.prototype members (__proto__, toString) are
 *   variables like any other.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let base: string[];
const store = (...args: string[]) => runInProcess([...base, ...args]);
const set = async (name: string, value: string) => expect((await runInProcess([...base, 'set', name], { input: value })).status).toBe(0);

let scripts = 0;
/** `store run ARGS -- node -e <print the environment as JSON>`: the child's environment, as it saw it. */
async function childEnvOf(...args: string[]) {
  const file = join(dir, `child-env-${++scripts}.json`);
  const script = `require('fs').writeFileSync(${JSON.stringify(file)}, JSON.stringify(Object.entries(process.env)))`;
  const r = await runInProcess([...base, 'run', ...args, '--', process.execPath, '-e', script]);
  const env = existsSync(file) ? new Map(JSON.parse(readFileSync(file, 'utf8')) as [string, string][]) : undefined;
  return { ...r, env };
}

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  expect((await store('init', '--master', 'keyfile')).status).toBe(0);
  await set('app/x', 'x-SECRET');
});

describe('--env VAR=value by mistake: the value is never shown or recorded', () => {
  it('a valid name that is no secret: exit 3 naming the variable only, and no audit entry under that name', async () => {
    for (const cmd of [['run', '--env', 'DB_PASSWORD=Hunter2Secret', '--', process.execPath, '-e', '0'], ['env', '--env', 'DB_PASSWORD=Hunter2Secret']]) {
      const r = await store(...cmd);
      expect(r.status).toBe(3);
      expect(r.err).toContain('--env DB_PASSWORD');
      expect(r.err).toContain('never a value');
      expect(r.err).not.toMatch(/hunter2/i);
      expect(r.out).not.toMatch(/hunter2/i);
    }
    const audit = await store('audit', '--json');
    expect(audit.status, audit.err).toBe(0);
    expect(audit.out).not.toMatch(/hunter2/i);
  });

  it('not a valid name: exit 2 naming the variable only', async () => {
    for (const cmd of [['run', '--env', 'DB_PASSWORD=hunter2!', '--', process.execPath, '-e', '0'], ['env', '--env', 'DB_PASSWORD=hunter2!']]) {
      const r = await store(...cmd);
      expect(r.status).toBe(2);
      expect(r.err).toContain('--env DB_PASSWORD');
      expect(r.err).not.toMatch(/hunter2/i);
    }
    expect((await store('audit', '--json')).out).not.toMatch(/hunter2/i);
  });

  it('a real --env read is still audited, under its name', async () => {
    const r = await store('env', '--env', 'X=app/x', '--format', 'json');
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ X: 'x-SECRET' });
    const audit = JSON.parse((await store('audit', '--json', '--action', 'get')).out) as { name?: string; outcome: string }[];
    expect(audit).toContainEqual(expect.objectContaining({ name: 'app/x', outcome: 'ok' }));
  });
});

describe('--prefix is a prefix of whole segments', () => {
  beforeEach(async () => {
    await set('pp/app/prod/db-password', 'prod-db');
    await set('pp/app/production/api-key', 'PRODUCTION-ONLY-KEY');
    await set('pp/app/prod-staging/token', 'staging-x');
  });

  it('--prefix a/b takes a/b/*, not a/bc/* or a/b-x/* (run and env)', async () => {
    for (const prefix of ['pp/app/prod', 'pp/app/prod/']) {
      const e = await store('env', '--prefix', prefix, '--format', 'json');
      expect(e.status, e.err).toBe(0);
      expect(JSON.parse(e.out)).toEqual({ DB_PASSWORD: 'prod-db' });
      const r = await childEnvOf('--prefix', prefix);
      expect(r.status, r.err).toBe(0);
      expect(r.env!.get('DB_PASSWORD')).toBe('prod-db');
      expect([...r.env!.values()]).not.toContain('PRODUCTION-ONLY-KEY');
      expect([...r.env!.values()]).not.toContain('staging-x');
    }
  });

  it('--only names are relative to the prefix, with or without its /', async () => {
    const r = await store('env', '--prefix', 'pp/app/prod', '--only', 'db-password', '--format', 'json');
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ DB_PASSWORD: 'prod-db' });
  });

  it('a glob in --prefix is a usage error, not a pattern (run and env)', async () => {
    for (const prefix of ['pp/**', 'pp/app/*/', 'pp/app/prod?', 'pp/[a]pp/']) {
      const e = await store('env', '--prefix', prefix);
      expect(e.status, prefix).toBe(2);
      expect(e.err).toMatch(/--prefix/);
      expect(e.out).toBe('');
      const r = await childEnvOf('--prefix', prefix);
      expect(r.status).toBe(2);
      expect(r.env).toBeUndefined();
    }
  });
});

describe('variables named like Object.prototype members', () => {
  beforeEach(() => set('proto/x', 'p@ss'));

  it('run --env __proto__=name gives the child __proto__', async () => {
    const r = await childEnvOf('--env', '__proto__=proto/x');
    expect(r.status, r.err).toBe(0);
    expect(r.env!.get('__proto__')).toBe('p@ss');
    const e = await store('env', '--env', '__proto__=proto/x', '--format', 'json');
    expect(e.out).toBe('{"__proto__":"p@ss"}\n');
  });

  it('run --no-override --env toString=name gives the child toString (nothing had set it)', async () => {
    for (const variable of ['toString', 'constructor', 'hasOwnProperty', 'valueOf']) {
      const r = await childEnvOf('--no-override', '--env', `${variable}=proto/x`);
      expect(r.status, r.err).toBe(0);
      expect(r.env!.get(variable), variable).toBe('p@ss');
    }
  });
});
