/**
 * The built CLI (dist/bin/store.js) as a child process: a canary value
 * given on stdin never comes back on stdout or stderr when a command fails
 * (CAS conflict, wrong key, too-large value, tampered data, deleted or
 * destroyed versions), with or without --debug; `store set` takes the value
 * from stdin, never from argv (a value typed as an extra argument is
 * refused), and no process it runs carries the value in argv or environment.
 */
import Database from 'better-sqlite3';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', '..', 'dist', 'bin', 'store.js');
const CLI_BUILT = existsSync(CLI);

const base = mkdtempSync(join(tmpdir(), 'strongbox-sec-cli-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: Buffer;
  stderr: Buffer;
}

/** A clean environment: no STORE_* from the caller, a private TMPDIR to check for temp files. */
function envFor(dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, TMPDIR: join(dir, 'tmp'), ...extra };
}

function cli(dir: string, args: string[], input?: string | Buffer, extraEnv: Record<string, string> = {}): Run {
  const r: SpawnSyncReturns<Buffer> = spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    input: input ?? '',
    env: envFor(dir, extraEnv),
    timeout: 30_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function needles(canary: string): Buffer[] {
  const raw = Buffer.from(canary);
  return [raw, Buffer.from(raw.toString('hex')), Buffer.from(raw.toString('base64')), Buffer.from(canary.slice(7))];
}

function expectNoCanary(r: Run, canary: string, what: string): void {
  for (const n of needles(canary)) {
    expect(r.stdout.indexOf(n), `${what}: stdout holds the canary`).toBe(-1);
    expect(r.stderr.indexOf(n), `${what}: stderr holds the canary`).toBe(-1);
  }
}

/** A fresh dir with a key-file store; returns the global args for it. */
function keyfileStore(options: string[] = []): { dir: string; g: string[]; store: string; key: string } {
  const dir = mkdtempSync(join(base, 'c-'));
  const store = join(dir, 'store.db');
  const key = join(dir, 'master.key');
  require0(cli(dir, ['--store', store, '--keyfile', key, 'init', '--master', 'keyfile', ...options]), 'init');
  return { dir, g: ['--store', store, '--keyfile', key], store, key };
}

function require0(r: Run, what: string): Run {
  expect(r.status, `${what} failed: ${r.stderr.toString()}`).toBe(0);
  return r;
}

const newCanary = () => `CANARY-${randomBytes(12).toString('hex')}`;

describe('CLI: no secret on stdout/stderr on failures', () => {
  it('the built CLI is present (npm run build / the global setup makes it)', () => {
    expect(CLI_BUILT, `${CLI} is missing: run npm run build`).toBe(true);
  });

  it('init makes a 0600 key file; set from stdin round-trips through get (control: the canary is visible when asked for)', () => {
    const { dir, g, key, store } = keyfileStore();
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(statSync(store).mode & 0o777).toBe(0o600);
    const c = newCanary();
    const set = require0(cli(dir, [...g, 'set', 'app/token'], c), 'set');
    expectNoCanary(set, c, 'set');
    const got = require0(cli(dir, [...g, 'get', 'app/token']), 'get');
    expect(got.stdout.toString()).toBe(c);
    expect(got.stderr.length).toBe(0);
  });

  it('check-and-set conflict: exit 4, canary absent (also with --debug)', () => {
    const { dir, g } = keyfileStore();
    const c = newCanary();
    require0(cli(dir, [...g, 'set', 'app/token'], `first ${c}`), 'set');
    for (const debug of [[], ['--debug']]) {
      const r = cli(dir, [...debug, ...g, 'set', 'app/token', '--cas', '0'], c);
      expect(r.status).toBe(4);
      expect(r.stderr.toString()).toMatch(/check-and-set/);
      expectNoCanary(r, c, 'cas');
    }
    const rb = cli(dir, [...g, 'rollback', 'app/token', '1', '--cas', '9']);
    expect(rb.status).toBe(4);
    expectNoCanary(rb, c, 'rollback cas');
  });

  it('wrong key file: exit 5 for get and set, canary absent', () => {
    const { dir, g, store } = keyfileStore();
    const c = newCanary();
    require0(cli(dir, [...g, 'set', 'app/token'], c), 'set');
    const other = join(dir, 'other.key');
    require0(cli(dir, ['--store', join(dir, 'other.db'), '--keyfile', other, 'init', '--master', 'keyfile']), 'init other');
    for (const debug of [[], ['--debug']]) {
      const get = cli(dir, [...debug, '--store', store, '--keyfile', other, 'get', 'app/token']);
      expect(get.status).toBe(5);
      expectNoCanary(get, c, 'get wrong key');
      const set = cli(dir, [...debug, '--store', store, '--keyfile', other, 'set', 'app/token'], c);
      expect(set.status).toBe(5);
      expectNoCanary(set, c, 'set wrong key');
    }
    // The key itself is not printed either.
    const keyText = readFileSync(other, 'latin1').trim();
    const get = cli(dir, ['--debug', '--store', store, '--keyfile', other, 'get', 'app/token']);
    expect(Buffer.concat([get.stdout, get.stderr]).toString('latin1')).not.toContain(keyText);
  });

  it('wrong passphrase (canary as the passphrase, env and file): exit 5, canary absent', () => {
    const dir = mkdtempSync(join(base, 'p-'));
    const store = join(dir, 'store.db');
    const right = newCanary();
    const wrong = newCanary();
    require0(cli(dir, ['--store', store, 'init', '--master', 'passphrase', '--scrypt-log-n', '15'], undefined, { STORE_PASSPHRASE: right }), 'init');
    require0(cli(dir, ['--store', store, 'set', 'x'], 'value', { STORE_PASSPHRASE: right }), 'set');
    const viaEnv = cli(dir, ['--debug', '--store', store, 'get', 'x'], undefined, { STORE_PASSPHRASE: wrong });
    expect(viaEnv.status).toBe(5);
    expectNoCanary(viaEnv, wrong, 'wrong passphrase (env)');
    expectNoCanary(viaEnv, right, 'wrong passphrase (env)');
    const pwFile = join(dir, 'pw.txt');
    writeFileSync(pwFile, `${wrong}\n`, { mode: 0o600 });
    const viaFile = cli(dir, ['--store', store, '--passphrase-file', pwFile, 'get', 'x']);
    expect(viaFile.status).toBe(5);
    expectNoCanary(viaFile, wrong, 'wrong passphrase (file)');
  });

  it('value too large: exit 2, canary absent', () => {
    const { dir, g } = keyfileStore(['--max-value-bytes', '64']);
    const c = newCanary();
    for (const debug of [[], ['--debug']]) {
      const r = cli(dir, [...debug, ...g, 'set', 'big'], `${c}|${c}|${c}|${c}`);
      expect(r.status).toBe(2);
      expectNoCanary(r, c, 'too large');
    }
    const file = join(dir, 'value.bin');
    writeFileSync(file, c.repeat(10), { mode: 0o600 });
    const r = cli(dir, [...g, 'set', 'big', '--file', file]);
    expect(r.status).toBe(2);
    expectNoCanary(r, c, 'too large (--file)');
    expect(cli(dir, [...g, 'get', 'big']).status).toBe(3);
  });

  it('tampered ciphertext: exit 5; deleted and destroyed: exit 3; canary absent', () => {
    const { dir, g, store } = keyfileStore();
    const c = newCanary();
    require0(cli(dir, [...g, 'set', 'x'], c), 'set');
    require0(cli(dir, [...g, 'set', 'x'], `two ${c}`), 'set 2');
    require0(cli(dir, [...g, 'set', 'y'], `y ${c}`), 'set y');
    const db = new Database(store, { fileMustExist: true });
    const blob = Buffer.from(db.prepare("SELECT ciphertext FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'y'").pluck().get() as Buffer);
    blob[blob.length - 3]! ^= 0x20;
    db.prepare("UPDATE versions SET ciphertext = ? WHERE secret_id = (SELECT id FROM secrets WHERE name = 'y')").run(blob);
    db.close();
    const tampered = cli(dir, ['--debug', ...g, 'get', 'y', '--json']);
    expect(tampered.status).toBe(5);
    expectNoCanary(tampered, c, 'tampered');

    require0(cli(dir, [...g, 'delete', 'x']), 'delete');
    const deleted = cli(dir, ['--debug', ...g, 'get', 'x']);
    expect(deleted.status).toBe(3);
    expectNoCanary(deleted, c, 'deleted');
    require0(cli(dir, [...g, 'destroy', 'x', '--versions', '1']), 'destroy');
    const destroyed = cli(dir, [...g, 'get', 'x', '--version', '1', '--json']);
    expect(destroyed.status).toBe(3);
    expectNoCanary(destroyed, c, 'destroyed');
    const history = require0(cli(dir, [...g, 'history', 'x', '--json']), 'history');
    const list = require0(cli(dir, [...g, 'list', '--json']), 'list');
    expectNoCanary(history, c, 'history');
    expectNoCanary(list, c, 'list');
  });
});

describe('CLI: the value never travels in argv', () => {
  it('a value given as an extra argument to set is refused (exit 2), not stored, not echoed', () => {
    const { dir, g } = keyfileStore();
    const c = newCanary();
    const r = cli(dir, [...g, 'set', 'app/token', c]);
    expect(r.status).toBe(2);
    expectNoCanary(r, c, 'set with argv value');
    expect(cli(dir, [...g, 'get', 'app/token']).status).toBe(3);
  });

  it('while set reads a value from stdin, no process it runs holds the value in argv or environment; no temp file is left', async () => {
    const { dir, g } = keyfileStore();
    const c = newCanary();
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    expect(readdirSync(tmp)).toEqual([]);
    const child = spawn(process.execPath, [CLI, ...g, 'set', 'app/token'], { cwd: dir, env: envFor(dir), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

    /** Every process in the child's tree (Linux /proc), with argv and environment. */
    const tree = (): { pid: number; cmdline: Buffer; environ: Buffer }[] => {
      const byParent = new Map<number, number[]>();
      for (const e of readdirSync('/proc')) {
        if (!/^\d+$/.test(e)) continue;
        try {
          const ppid = Number(/^\d+ \(.*\) \S (\d+)/s.exec(readFileSync(`/proc/${e}/stat`, 'latin1'))?.[1]);
          byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(e)]);
        } catch {
          // the process ended meanwhile
        }
      }
      const out: { pid: number; cmdline: Buffer; environ: Buffer }[] = [];
      const todo = [child.pid!];
      while (todo.length > 0) {
        const pid = todo.pop()!;
        try {
          out.push({ pid, cmdline: readFileSync(`/proc/${pid}/cmdline`), environ: readFileSync(`/proc/${pid}/environ`) });
        } catch {
          // ended
        }
        todo.push(...(byParent.get(pid) ?? []));
      }
      return out;
    };

    // Let it open the store and wait on stdin, then feed the value without closing stdin yet.
    await new Promise((r) => setTimeout(r, 400));
    child.stdin.write(c);
    await new Promise((r) => setTimeout(r, 200));
    const seen = tree();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]!.cmdline.toString()).toContain('set'); // control: we are reading the right process
    for (const p of seen) {
      for (const n of needles(c)) {
        expect(p.cmdline.indexOf(n), `argv of ${p.pid}`).toBe(-1);
        expect(p.environ.indexOf(n), `environment of ${p.pid}`).toBe(-1);
      }
    }
    child.stdin.end();
    expect(await exited).toBe(0);
    expectNoCanary({ status: 0, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }, c, 'set via stdin');
    expect(readdirSync(tmp)).toEqual([]);
    expect(cli(dir, [...g, 'get', 'app/token']).stdout.toString()).toBe(c);
  });

  it('--value works only with a warning that it is unsafe', () => {
    const { dir, g } = keyfileStore();
    const r = cli(dir, [...g, 'set', 'v', '--value', 'not-a-real-secret']);
    expect(r.status).toBe(0);
    expect(r.stderr.toString()).toMatch(/warning/i);
  });
});

describe('CLI: NAME=value typed where a name goes never echoes the value (issue 10, 12)', () => {
  it('set, get, history, delete, rotate, run, list, check, import and an unknown --opt=value: non-zero exit, value absent, with and without --debug', () => {
    const { dir, g } = keyfileStore();
    const c = newCanary();
    const nv = `FOO=${c}`;
    const json = join(dir, 'in.json');
    writeFileSync(json, JSON.stringify({ [nv]: 'x', [`app/${nv}`]: 'y' }));
    const file = join(dir, 'value');
    writeFileSync(file, 'x');
    const cases: [string, string[], string?][] = [
      ['set from stdin', ['set', nv], 'x'],
      ['set --file', ['set', nv, '--file', file]],
      ['set with a path-like name', ['set', `app/${nv}`], 'x'],
      ['get', ['get', nv]],
      ['history', ['history', nv]],
      ['delete', ['delete', nv]],
      ['rotate --generate', ['rotate', nv, '--generate']],
      ['run --env VAR=NAME=value', ['run', '--env', `X=${nv}`, '--', process.execPath, '-e', '0']],
      ['run --env with a bad VAR', ['run', '--env', `1${nv}`, '--', process.execPath, '-e', '0']],
      ['run --only', ['run', '--only', nv, '--', process.execPath, '-e', '0']],
      ['list with a bad pattern', ['list', `${nv}[`]],
      ['check --require', ['check', '--require', nv]],
      ['check --require with rules', ['check', '--require', `${nv}:min=3`]],
      ['an unknown --opt=value', ['set', `--password=${c}`, 'x'], 'x'],
      ['import of a JSON file with such names', ['import', json]],
    ];
    for (const [what, args, input] of cases) {
      for (const debug of [[], ['--debug']]) {
        const r = cli(dir, [...g, ...debug, ...args], input);
        expect(r.status, `${what}: ${r.stderr.toString()}`).not.toBe(0);
        expectNoCanary(r, c, `${what}${debug.length ? ' --debug' : ''}`);
      }
    }
    const set = cli(dir, [...g, 'set', nv], 'x');
    expect(set.status).toBe(2);
    expect(set.stderr.toString()).toMatch(/stdin or with --file/);
    expect(cli(dir, [...g, 'list']).stdout.toString()).toBe('');
  });
});
