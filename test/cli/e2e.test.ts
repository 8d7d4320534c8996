/**
 * The built CLI (dist/bin/store.js) run as a user runs it, for what only a
 * real process shows: the launcher and its code cache, bytes through real
 * pipes, a process's exit status, output that is a pipe and not a terminal,
 * the environment a `store run` child inherits, signals, and argv as other
 * users see it. Everything else about the commands is tested in-process
 * (test/helpers/in-process.ts), which is much faster.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcessOk } from '../helpers/in-process.js';
import { PRINT_ENV, VALUES } from './run-fixtures.js';
import { CLI, cleanEnv, cli, cliOk, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.cleanup());

describe('the bundled launcher', () => {
  it('runs the bundle with the V8 code cache made at build time', () => {
    cliOk(store('init', '--master', 'keyfile'));
    cliOk(store('set', 'app/db'), { input: 'cached' });
    const r = cliOk(store('get', 'app/db'), { env: { STRONGBOX_BUILD_CODE_CACHE: 'check' } });
    expect(r.out).toBe('cached');
    expect(r.stderr).toContain('strongbox: code cache accepted');
  });

  it('reads and writes under node --jitless, a Node without WebAssembly: the MACs take their SHA-256 from node:crypto', () => {
    const jitless = { env: { NODE_OPTIONS: '--jitless' } };
    cliOk(store('init', '--master', 'keyfile'), jitless);
    cliOk(store('set', 'app/db'), { ...jitless, input: 'no wasm' });
    expect(cliOk(store('get', 'app/db'), jitless).out).toBe('no wasm');
    expect(cliOk(store('verify', '--deep'), jitless).status).toBe(0);
    expect(cliOk(store('get', 'app/db')).out).toBe('no wasm'); // and the same MACs with WebAssembly
  });

  it('--debug traces name the bundle by its path in the package, never the build machine\'s', () => {
    cliOk(store('init', '--master', 'keyfile'));
    const r = cli(store('--debug', 'get', 'missing'));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^store: error: no secret named missing$/m);
    expect(r.stderr).toMatch(/\n\s+at .*strongbox\/dist\/bin\/store-main\.cjs:\d+:\d+/);
    expect(r.stderr).not.toContain(resolve('dist'));
  });
});

describe('a real process', () => {
  it('init, set and get carry every byte value through real stdin and stdout pipes, adding no newline', () => {
    const value = new Uint8Array(256).map((_, i) => i);
    cliOk(store('init', '--master', 'keyfile'));
    cliOk(store('set', 'bin/all-bytes'), { input: value });
    const r = cliOk(store('get', 'bin/all-bytes'));
    expect(new Uint8Array(r.stdout)).toEqual(value);
    expect(r.stderr).toBe('');
  });

  it('exits with the status of the outcome: 0, 2 for usage, 3 for not found, 7 for no store; messages without stack traces', () => {
    expect(cli(store('get', 'x')).status).toBe(7);
    cliOk(store('init', '--master', 'keyfile'));
    const missing = cli(store('get', 'missing'));
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/^store: error: no secret named missing/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    expect(cli(store('frobnicate')).status).toBe(2);
    expect(cli(['--version'])).toMatchObject({ status: 0, out: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
  });

  it('piped output never holds an escape, whatever TERM says', () => {
    cliOk(store('init', '--master', 'keyfile'));
    const r = cli(store('doctor'), { env: { TERM: 'xterm-256color', NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.out).toMatch(/^ok {4}store-file/);
    expect(r.out + r.stderr).not.toContain('\x1b');
  });

  it('store set on a real pipe stops reading past the limit and exits while the writer still has most of 64 MiB to give', async () => {
    const MiB = 1024 * 1024;
    const CHUNK = 64 * 1024;
    cliOk(store('init', '--master', 'keyfile', '--max-value-bytes', String(MiB)));
    const child = spawn(process.execPath, [CLI, ...store('set', 'big')], { env: cleanEnv(), stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {}); // EPIPE once the CLI has stopped reading: what we expect
    let accepted = 0;
    const chunk = Buffer.alloc(CHUNK, 0x62);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (status) => resolve(status)));
    let done = false;
    void exited.then(() => (done = true));
    while (!done && accepted < 64 * MiB) {
      const ok = child.stdin.write(chunk);
      accepted += chunk.length;
      if (!ok) await new Promise((r) => { child.stdin.once('drain', r); void exited.then(r); });
    }
    child.stdin.end();
    expect(await exited, stderr).toBe(2);
    expect(stderr).toContain('larger than');
    // The kernel's pipe buffer and Node's stream buffers hold a little more than the limit; never the whole.
    expect(accepted).toBeLessThan(16 * MiB);
  }, 60_000);

  it('`store get big | head -c 1`: a reader that goes away mid-value ends the command quietly, exit 0', async () => {
    const MiB = 1024 * 1024;
    cliOk(store('init', '--master', 'keyfile', '--max-value-bytes', String(MiB)));
    cliOk(store('set', 'big'), { input: Buffer.alloc(MiB, 0x61) });
    // More than a pipe holds (64 KiB), written straight to the pipe (src/cli/fd-output.ts): EPIPE once it is closed.
    const child = spawn(process.execPath, [CLI, ...store('get', 'big')], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
  }, 60_000);
});

describe('store run: a real store process and its child', () => {
  // The store is made in-process (fast); only the commands under test run as processes.
  beforeEach(async () => {
    await runInProcessOk(store('init', '--master', 'keyfile'));
    for (const [name, value] of Object.entries(VALUES)) await runInProcessOk(store('set', name), { input: value });
    await runInProcessOk(store('set', 'app/prod/db-password'), { input: 'pw-SECRET-two' });
  });

  it('passes the secrets under the prefix by the mapping rule, on top of the environment', () => {
    const r = cli(store('run', '--prefix', 'app/prod/', '--', process.execPath, '-e', `${PRINT_ENV}; if(process.env.KEEP!=='1') process.exit(9)`), { env: { KEEP: '1' } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      DB_PASSWORD: 'pw-SECRET-two',
      API_KEY: VALUES['app/prod/api.key'],
      PLAIN: 'SECRET-plain',
    });
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

  it('a child killed by a signal ends store by the same signal (as the shell would see of the child), one that dumps core gives 128+N', () => {
    // The command kills itself with core files off (ulimit -c 0), so SIGABRT leaves none behind.
    const killed = (sig: string) => spawnSync(process.execPath, [CLI, ...store('run', '--all', '--', 'sh', '-c', `ulimit -c 0; kill -${sig} $$`)], { env: cleanEnv() });
    expect(killed('KILL')).toMatchObject({ status: null, signal: 'SIGKILL' });
    expect(killed('TERM')).toMatchObject({ status: null, signal: 'SIGTERM' });
    expect(killed('ABRT')).toMatchObject({ status: 134, signal: null });
  });
});
