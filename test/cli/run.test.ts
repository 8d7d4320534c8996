/**
 * `store run`, `store env` and `store inject` through the built CLI: the
 * variables a child sees, exit statuses and signals passing through, values
 * kept out of argv, templates rendered whole or not at all.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, cli, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

const VALUES: Record<string, string> = {
  'app/prod/db-password': 'pw-SECRET-one',
  'app/prod/api.key': `it's "quoted" $HOME \`x\` \\ back\nline two`,
  'app/prod/plain': 'SECRET-plain',
  'app/dev/db-password': 'dev-SECRET',
  other: 'other-SECRET',
};

/** A child that prints the variables it sees whose value holds SECRET (or all of `names`). */
const PRINT_ENV = `const o={};for(const [k,v] of Object.entries(process.env)) if(k===k.toUpperCase() && /SECRET|quoted/.test(v)) o[k]=v; process.stdout.write(JSON.stringify(o))`;

beforeEach(() => {
  ws = workspace();
  expect(cli(store('init', '--master', 'keyfile')).status).toBe(0);
  for (const [name, value] of Object.entries(VALUES)) expect(cli(store('set', name), { input: value }).status).toBe(0);
  expect(cli(store('set', 'app/prod/db-password'), { input: 'pw-SECRET-two' }).status).toBe(0);
});
afterEach(() => ws.cleanup());

describe('store run', () => {
  it('passes the secrets under the prefix by the mapping rule, on top of the environment', () => {
    const r = cli(store('run', '--prefix', 'app/prod/', '--', process.execPath, '-e', `${PRINT_ENV}; if(process.env.KEEP!=='1') process.exit(9)`), { env: { KEEP: '1' } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      DB_PASSWORD: 'pw-SECRET-two',
      API_KEY: VALUES['app/prod/api.key'],
      PLAIN: 'SECRET-plain',
    });
  });

  it('--env maps explicitly, --only limits, without --prefix the whole store', () => {
    let r = cli(store('run', '--prefix', 'app/prod/', '--only', 'plain', '--env', 'PG=app/dev/db-password', '--', process.execPath, '-e', PRINT_ENV));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ PLAIN: 'SECRET-plain', PG: 'dev-SECRET' });

    r = cli(store('run', '--env', 'O=other', '--', process.execPath, '-e', PRINT_ENV));
    expect(JSON.parse(r.out)).toEqual({ O: 'other-SECRET' });

    // An explicit --env for a secret under the prefix replaces its derived name.
    r = cli(store('run', '--prefix', 'app/prod/', '--env', 'PGPASS=app/prod/db-password', '--', process.execPath, '-e', PRINT_ENV));
    expect(Object.keys(JSON.parse(r.out)).sort()).toEqual(['API_KEY', 'PGPASS', 'PLAIN']);

    r = cli(store('run', '--only', 'other', '--', process.execPath, '-e', PRINT_ENV));
    expect(JSON.parse(r.out)).toEqual({ OTHER: 'other-SECRET' });
  });

  it('strips every STORE_* variable from the child: the key, passphrase, PIN and paths that unlocked the store (issue 10, 11)', () => {
    // A child that prints its whole environment, as a program being given secrets could.
    const PRINT_ALL = 'process.stdout.write(JSON.stringify(process.env))';
    const own = {
      STORE_PASSPHRASE: 'pp-CANARY', STORE_PASSPHRASE_FILE: join(ws.dir, 'pw'), STORE_PKCS11_PIN: '1234-CANARY', STORE_PKCS11_MODULE: '/m.so',
      STORE_EXPORT_PASSPHRASE: 'exp-CANARY', STORE_NEW_PASSPHRASE: 'new-CANARY', STORE_PROFILE: 'p', STORE_NO_PROMPT: '1',
      STORE_SOMETHING_LATER: 'x', store_lower: 'y', KEEP: '1', NOT_STORE_X: 'kept',
    };
    // The store found and unlocked through STORE_PATH and STORE_KEYFILE, not flags.
    const r = cli(['run', '--only', 'other', '--', process.execPath, '-e', PRINT_ALL], {
      env: { ...own, STORE_PATH: ws.db, STORE_KEYFILE: ws.key, STORE_PROFILE: undefined },
    });
    expect(r.status, r.stderr).toBe(0);
    const seen = JSON.parse(r.out) as Record<string, string>;
    expect(Object.keys(seen).filter((k) => /^store_/i.test(k))).toEqual([]);
    expect(r.out).not.toContain('CANARY');
    expect(r.out).not.toContain(ws.key);
    expect(seen).toMatchObject({ OTHER: 'other-SECRET', KEEP: '1', NOT_STORE_X: 'kept' });
    expect(seen.PATH).toBe(process.env.PATH);

    // An env master key: the child must not get the key to every secret.
    const masterKey = Buffer.alloc(32, 7).toString('base64');
    const envDb = join(ws.dir, 'env.db');
    expect(cli(['--store', envDb, 'init', '--master', 'env'], { env: { STORE_MASTER_KEY: masterKey } }).status).toBe(0);
    expect(cli(['--store', envDb, 'set', 'a/b'], { input: 'ab-SECRET', env: { STORE_MASTER_KEY: masterKey } }).status).toBe(0);
    const e = cli(['--store', envDb, 'run', '--all', '--', process.execPath, '-e', PRINT_ALL], { env: { STORE_MASTER_KEY: masterKey } });
    expect(e.status, e.stderr).toBe(0);
    expect(e.out).not.toContain(masterKey);
    expect(JSON.parse(e.out)).toMatchObject({ A_B: 'ab-SECRET' });
    expect(JSON.parse(e.out)).not.toHaveProperty('STORE_MASTER_KEY');
  });

  it('a secret mapped on purpose to a STORE_* variable is still given (it was asked for)', () => {
    const r = cli(store('run', '--env', 'STORE_TOKEN=other', '--', process.execPath, '-e', PRINT_ENV), { env: { STORE_TOKEN: 'ours-SECRET' } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ STORE_TOKEN: 'other-SECRET' });
  });

  it('two secrets for one variable: E_USAGE naming both, nothing started', () => {
    const marker = join(ws.dir, 'started');
    const r = cli(store('run', '--only', 'app/prod/db-password,app/dev/db-password', '--env', 'APP_PROD_DB_PASSWORD=other', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('app/prod/db-password');
    expect(r.stderr).toContain('other');
    expect(existsSync(marker)).toBe(false);

    const r2 = cli(store('run', '--prefix', 'app/', '--', process.execPath, '-e', '0'));
    expect(r2.status).toBe(0); // PROD_DB_PASSWORD and DEV_DB_PASSWORD differ
    const r3 = cli(store('run', '--env', 'X=other', '--env', 'X=app/prod/plain', '--', process.execPath, '-e', '0'));
    expect(r3.status).toBe(2);
    expect(r3.stderr).toMatch(/other and app\/prod\/plain both map to the variable X/);
  });

  it('values that are not UTF-8 or hold NUL: E_INVALID_VALUE naming the secret', () => {
    expect(cli(store('set', 'bin/nul'), { input: Buffer.from('a\0b') }).status).toBe(0);
    expect(cli(store('set', 'bin2/bad'), { input: Buffer.from([0xff, 0xfe]) }).status).toBe(0);
    let r = cli(store('run', '--prefix', 'bin/', '--', process.execPath, '-e', '0'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('bin/nul');
    r = cli(store('run', '--prefix', 'bin2/', '--', process.execPath, '-e', '0'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('bin2/bad');
  });

  it('exit status passes through; no -- or no command is a usage error; unknown secret exits 3', () => {
    expect(cli(store('run', '--all', '--', process.execPath, '-e', 'process.exit(7)')).status).toBe(7);
    expect(cli(store('run', '--all', '--')).status).toBe(2);
    expect(cli(store('run', process.execPath)).status).toBe(2);
    expect(cli(store('run', '--only', 'nope', '--', process.execPath, '-e', '0')).status).toBe(3);
    expect(cli(store('run', '--all', '--', join(ws.dir, 'no-such-program'))).status).toBe(127);
  });

  it('forwards SIGTERM to the child and exits with its status; values are in neither argv', async () => {
    const marker = join(ws.dir, 'got-term');
    const ready = join(ws.dir, 'ready');
    const script = `const fs=require('fs');process.on('SIGTERM',()=>{fs.writeFileSync(${JSON.stringify(marker)},'term');process.exit(143)});fs.writeFileSync(${JSON.stringify(ready)},String(process.pid));setInterval(()=>{},1000)`;
    const p = spawn(process.execPath, [CLI, ...store('run', '--prefix', 'app/prod/', '--', process.execPath, '-e', script)], {
      env: cleanEnv(),
      stdio: 'ignore',
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 20_000;
    while (!existsSync(ready) || readFileSync(ready, 'utf8') === '') {
      if (Date.now() > deadline) throw new Error('child never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const childPid = Number(readFileSync(ready, 'utf8'));
    for (const pid of [p.pid!, childPid]) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      for (const v of Object.values(VALUES)) expect(cmdline).not.toContain(v);
      expect(cmdline).not.toContain('pw-SECRET-two');
    }
    // The child does have them in its environment.
    expect(readFileSync(`/proc/${childPid}/environ`, 'utf8')).toContain('DB_PASSWORD=pw-SECRET-two');
    p.kill('SIGTERM');
    const { code } = await exited;
    expect(readFileSync(marker, 'utf8')).toBe('term');
    expect(code).toBe(143);
  }, 30_000);

  it('--no-override keeps what the environment already sets; by default the secret replaces it', () => {
    const show = 'process.stdout.write(JSON.stringify({P: process.env.PLAIN, D: process.env.DB_PASSWORD}))';
    const env = { PLAIN: 'from-the-environment' };
    let r = cli(store('run', '--prefix', 'app/prod/', '--', process.execPath, '-e', show), { env });
    expect(JSON.parse(r.out)).toEqual({ P: 'SECRET-plain', D: 'pw-SECRET-two' });
    r = cli(store('run', '--prefix', 'app/prod/', '--no-override', '--', process.execPath, '-e', show), { env });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ P: 'from-the-environment', D: 'pw-SECRET-two' });
  });

  it('a child killed by a signal gives 128+N', () => {
    expect(cli(store('run', '--all', '--', process.execPath, '-e', "process.kill(process.pid,'SIGKILL')")).status).toBe(137);
  });
});

describe('store env', () => {
  it('dotenv output parses back with dotenv to the same values', () => {
    const r = cli(store('env', '--prefix', 'app/prod/'));
    expect(r.status, r.stderr).toBe(0);
    expect(parseDotenv(r.out)).toEqual({
      API_KEY: VALUES['app/prod/api.key'],
      DB_PASSWORD: 'pw-SECRET-two',
      PLAIN: 'SECRET-plain',
    });
    expect(cli(store('env', '--prefix', 'app/prod/', '--format', 'dotenv')).out).toBe(r.out);
  });

  it('json', () => {
    const r = cli(store('env', '--prefix', 'app/', '--only', 'dev/db-password,prod/plain', '--format', 'json'));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ DEV_DB_PASSWORD: 'dev-SECRET', PROD_PLAIN: 'SECRET-plain' });
  });

  it('shell: single-quoted, sh reads back the same values', () => {
    const r = cli(store('env', '--prefix', 'app/prod/', '--format', 'shell'));
    expect(r.status, r.stderr).toBe(0);
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

  it('an unknown format is a usage error', () => {
    expect(cli(store('env', '--format', 'yaml')).status).toBe(2);
  });
});

describe('store inject', () => {
  const template = 'db={{ store:app/prod/db-password }}\nold={{store:app/prod/db-password@1}}\n' +
    'o={{  store:other  }} again {{store:other}}\nnot a ref: {{ other }} {store:other}\n';
  const rendered = 'db=pw-SECRET-two\nold=pw-SECRET-one\no=other-SECRET again other-SECRET\nnot a ref: {{ other }} {store:other}\n';

  it('renders several references, including @version, to stdout', () => {
    const t = join(ws.dir, 't.tpl');
    writeFileSync(t, template);
    const r = cli(store('inject', '-i', t));
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toBe(rendered);
  });

  it('-o writes a 0600 file, replacing an existing one', () => {
    const t = join(ws.dir, 't.tpl');
    const out = join(ws.dir, 'out.conf');
    writeFileSync(t, template);
    writeFileSync(out, 'old', { mode: 0o644 });
    const r = cli(store('inject', '-i', t, '-o', out));
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toBe('');
    expect(readFileSync(out, 'utf8')).toBe(rendered);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });

  it('an unknown reference or destroyed version: error naming it, nothing written', () => {
    const t = join(ws.dir, 't.tpl');
    const out = join(ws.dir, 'out.conf');
    writeFileSync(t, `${template}{{ store:app/missing }}\n`);
    let r = cli(store('inject', '-i', t, '-o', out));
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('app/missing');
    expect(existsSync(out)).toBe(false);

    writeFileSync(out, 'keep me');
    r = cli(store('inject', '-i', t, '-o', out));
    expect(r.status).toBe(3);
    expect(readFileSync(out, 'utf8')).toBe('keep me');

    expect(cli(store('destroy', 'app/prod/db-password', '--versions', '1')).status).toBe(0);
    writeFileSync(t, template);
    r = cli(store('inject', '-i', t));
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('app/prod/db-password@1');
    expect(r.out).toBe('');
    r = cli(store('inject', '-i', t, '-o', out));
    expect(r.status).toBe(3);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
  });
});
