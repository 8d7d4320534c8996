/**
 * `store run`, `store env` and `store inject` in-process through run(argv,
 * io): the variables a child sees, exit statuses passing through,
 * templates rendered whole or not at all. The child's own environment
 * inherited from a real `store` process, signals and argv are in e2e.test.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess, type InProcessOptions } from '../helpers/in-process.js';
import { PRINT_ENV, VALUES } from './run-fixtures.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

let scripts = 0;

/**
 * `store run ARGS -- node -e script`, with what the child printed as `child`.
 * In-process, `store run` hands its child this test process's own stdout, so
 * the script's stdout goes to a file instead.
 */
async function runScript(args: string[], script: string, options: InProcessOptions = {}) {
  const file = join(ws.dir, `child-stdout-${++scripts}`);
  const capture = `const out=[];process.stdout.write=(s)=>out.push(String(s));process.on('exit',()=>require('fs').writeFileSync(${JSON.stringify(file)},out.join('')));`;
  const r = await runInProcess([...args, '--', process.execPath, '-e', capture + script], options);
  return { ...r, child: existsSync(file) ? readFileSync(file, 'utf8') : '' };
}

beforeEach(async () => {
  ws = workspace();
  expect((await runInProcess(store('init', '--master', 'keyfile'))).status).toBe(0);
  for (const [name, value] of Object.entries(VALUES)) expect((await runInProcess(store('set', name), { input: value })).status).toBe(0);
  expect((await runInProcess(store('set', 'app/prod/db-password'), { input: 'pw-SECRET-two' })).status).toBe(0);
});
afterEach(() => ws.cleanup());

describe('store run', () => {
  it('--env maps explicitly, --only limits, without --prefix the whole store', async () => {
    let r = await runScript(store('run', '--prefix', 'app/prod/', '--only', 'plain', '--env', 'PG=app/dev/db-password'), PRINT_ENV);
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.child)).toEqual({ PLAIN: 'SECRET-plain', PG: 'dev-SECRET' });

    r = await runScript(store('run', '--env', 'O=other'), PRINT_ENV);
    expect(JSON.parse(r.child)).toEqual({ O: 'other-SECRET' });

    // An explicit --env for a secret under the prefix replaces its derived name.
    r = await runScript(store('run', '--prefix', 'app/prod/', '--env', 'PGPASS=app/prod/db-password'), PRINT_ENV);
    expect(Object.keys(JSON.parse(r.child)).sort()).toEqual(['API_KEY', 'PGPASS', 'PLAIN']);

    r = await runScript(store('run', '--only', 'other'), PRINT_ENV);
    expect(JSON.parse(r.child)).toEqual({ OTHER: 'other-SECRET' });
  });

  it('a secret mapped on purpose to a STORE_* variable is still given (it was asked for)', async () => {
    const r = await runScript(store('run', '--env', 'STORE_TOKEN=other'), PRINT_ENV, { env: { STORE_TOKEN: 'ours-SECRET' } });
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.child)).toEqual({ STORE_TOKEN: 'other-SECRET' });
  });

  it('two secrets for one variable: E_USAGE naming both, nothing started', async () => {
    const marker = join(ws.dir, 'started');
    const r = await runInProcess(store('run', '--only', 'app/prod/db-password,app/dev/db-password', '--env', 'APP_PROD_DB_PASSWORD=other', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`));
    expect(r.status).toBe(2);
    expect(r.err).toContain('app/prod/db-password');
    expect(r.err).toContain('other');
    expect(existsSync(marker)).toBe(false);

    const r2 = await runInProcess(store('run', '--prefix', 'app/', '--', process.execPath, '-e', '0'));
    expect(r2.status).toBe(0); // PROD_DB_PASSWORD and DEV_DB_PASSWORD differ
    const r3 = await runInProcess(store('run', '--env', 'X=other', '--env', 'X=app/prod/plain', '--', process.execPath, '-e', '0'));
    expect(r3.status).toBe(2);
    expect(r3.err).toMatch(/other and app\/prod\/plain both map to the variable X/);
  });

  it('values that are not UTF-8 or hold NUL: E_INVALID_VALUE naming the secret', async () => {
    expect((await runInProcess(store('set', 'bin/nul'), { input: Buffer.from('a\0b') })).status).toBe(0);
    expect((await runInProcess(store('set', 'bin2/bad'), { input: Buffer.from([0xff, 0xfe]) })).status).toBe(0);
    let r = await runInProcess(store('run', '--prefix', 'bin/', '--', process.execPath, '-e', '0'));
    expect(r.status).toBe(2);
    expect(r.err).toContain('bin/nul');
    r = await runInProcess(store('run', '--prefix', 'bin2/', '--', process.execPath, '-e', '0'));
    expect(r.status).toBe(2);
    expect(r.err).toContain('bin2/bad');
  });

  it('exit status passes through; no -- or no command is a usage error; unknown secret exits 3', async () => {
    expect((await runInProcess(store('run', '--all', '--', process.execPath, '-e', 'process.exit(7)'))).status).toBe(7);
    expect((await runInProcess(store('run', '--all', '--'))).status).toBe(2);
    expect((await runInProcess(store('run', process.execPath))).status).toBe(2);
    expect((await runInProcess(store('run', '--only', 'nope', '--', process.execPath, '-e', '0'))).status).toBe(3);
    expect((await runInProcess(store('run', '--all', '--', join(ws.dir, 'no-such-program')))).status).toBe(127);
  });

  it('--no-override keeps what the environment already sets; by default the secret replaces it', async () => {
    const show = 'process.stdout.write(JSON.stringify({P: process.env.PLAIN, D: process.env.DB_PASSWORD}))';
    const env = { PLAIN: 'from-the-environment' };
    let r = await runScript(store('run', '--prefix', 'app/prod/'), show, { env });
    expect(JSON.parse(r.child)).toEqual({ P: 'SECRET-plain', D: 'pw-SECRET-two' });
    r = await runScript(store('run', '--prefix', 'app/prod/', '--no-override'), show, { env });
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.child)).toEqual({ P: 'from-the-environment', D: 'pw-SECRET-two' });
  });
});

describe('store env', () => {
  it('dotenv output parses back with dotenv to the same values', async () => {
    const r = await runInProcess(store('env', '--prefix', 'app/prod/'));
    expect(r.status, r.err).toBe(0);
    expect(parseDotenv(r.out)).toEqual({
      API_KEY: VALUES['app/prod/api.key'],
      DB_PASSWORD: 'pw-SECRET-two',
      PLAIN: 'SECRET-plain',
    });
    expect((await runInProcess(store('env', '--prefix', 'app/prod/', '--format', 'dotenv'))).out).toBe(r.out);
  });

  it('json', async () => {
    const r = await runInProcess(store('env', '--prefix', 'app/', '--only', 'dev/db-password,prod/plain', '--format', 'json'));
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ DEV_DB_PASSWORD: 'dev-SECRET', PROD_PLAIN: 'SECRET-plain' });
  });

  it('shell: single-quoted, sh reads back the same values', async () => {
    const r = await runInProcess(store('env', '--prefix', 'app/prod/', '--format', 'shell'));
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain("export PLAIN='SECRET-plain'\n");
    expect(r.out).toContain(`'it'\\''s "quoted"`);
    const script = join(ws.dir, 'env.sh');
    writeFileSync(script, r.out, { mode: 0o600 });
    const sh = spawn('sh', ['-c', `. ${script}; printf '%s' "$API_KEY"`]);
    return new Promise<void>((resolve, reject) => {
      let out = '';
      sh.stdout.on('data', (d: Buffer) => (out += d.toString()));
      sh.once('exit', () => {
        try {
          expect(out).toBe(VALUES['app/prod/api.key']);
          resolve();
        } catch (e) {
          reject(e);
        }
      });
    });
  });

  it('an unknown format is a usage error', async () => {
    expect((await runInProcess(store('env', '--format', 'yaml'))).status).toBe(2);
  });
});

describe('store inject', () => {
  const template = 'db={{ store:app/prod/db-password }}\nold={{store:app/prod/db-password@1}}\n' +
    'o={{  store:other  }} again {{store:other}}\nnot a ref: {{ other }} {store:other}\n';
  const rendered = 'db=pw-SECRET-two\nold=pw-SECRET-one\no=other-SECRET again other-SECRET\nnot a ref: {{ other }} {store:other}\n';

  it('renders several references, including @version, to stdout', async () => {
    const t = join(ws.dir, 't.tpl');
    writeFileSync(t, template);
    const r = await runInProcess(store('inject', '-i', t));
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe(rendered);
  });

  it('-o writes a 0600 file, replacing an existing one', async () => {
    const t = join(ws.dir, 't.tpl');
    const out = join(ws.dir, 'out.conf');
    writeFileSync(t, template);
    writeFileSync(out, 'old', { mode: 0o644 });
    const r = await runInProcess(store('inject', '-i', t, '-o', out));
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(rendered);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('an unknown reference or destroyed version: error naming it, nothing written', async () => {
    const t = join(ws.dir, 't.tpl');
    const out = join(ws.dir, 'out.conf');
    writeFileSync(t, `${template}{{ store:app/missing }}\n`);
    let r = await runInProcess(store('inject', '-i', t, '-o', out));
    expect(r.status).toBe(3);
    expect(r.err).toContain('app/missing');
    expect(existsSync(out)).toBe(false);

    writeFileSync(out, 'keep me');
    r = await runInProcess(store('inject', '-i', t, '-o', out));
    expect(r.status).toBe(3);
    expect(readFileSync(out, 'utf8')).toBe('keep me');

    expect((await runInProcess(store('destroy', 'app/prod/db-password', '--versions', '1'))).status).toBe(0);
    writeFileSync(t, template);
    r = await runInProcess(store('inject', '-i', t));
    expect(r.status).toBe(3);
    expect(r.err).toContain('app/prod/db-password@1');
    expect(r.out).toBe('');
    r = await runInProcess(store('inject', '-i', t, '-o', out));
    expect(r.status).toBe(3);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
  });
});
