/**
 * `store unlock` / `store lock` and the agent behind them, run as a user
 * would: the built CLI as child processes, a real agent process on a real
 * Unix socket in a private runtime directory made for each test.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { scryptSync } from 'node:crypto';
import { Database } from '../../src/storage/sqlite/native.js';
import { agent, keyFile, openStore, type MasterKeySource } from '../../src/index.js';
import type { MasterKey } from '../../src/crypto/master/master-key.js';
import { rawMasterKey } from '../../src/crypto/master/raw-master.js';
import { encodeFrame } from '../../src/crypto/master/agent/protocol.js';
import { runInProcessOk } from '../helpers/in-process.js';
import { CLI, cleanEnv, cli, workspace } from './run-cli.js';

const PASSPHRASE = 'correct horse battery staple';
const VALUE = 'agent-test-value-7f3a9c';

let ws: ReturnType<typeof workspace>;
let runtime: string;
let env: Record<string, string>;
const agentDir = () => join(runtime, 'strongbox');
const socketPath = () => join(agentDir(), 'agent.sock');
const store = (...args: string[]) => ['--store', ws.db, ...args];

function run(args: string[], extra: Record<string, string> = {}, input?: string) {
  return cli(store(...args), { env: { ...env, ...extra }, input });
}

function ok(args: string[], extra: Record<string, string> = {}, input?: string) {
  const r = run(args, extra, input);
  expect(r.status, r.stderr).toBe(0);
  return r;
}

function unlock(...args: string[]): { agentPid: number; expiresAt: string } {
  return JSON.parse(ok(['unlock', '--json', ...args], { STORE_PASSPHRASE: PASSPHRASE }).out) as { agentPid: number; expiresAt: string };
}

/** A source giving `root` as a passphrase store's derived root, as the agent holds it. */
function rawKeyOf(root: Uint8Array): MasterKeySource {
  return {
    kind: 'passphrase',
    create: () => Promise.reject(new Error('unused')),
    unlock: async (storeId) => rawMasterKey('passphrase', root, storeId),
  };
}

/** Gone, or a zombie nobody reaps (a container's PID 1 may not): either way no longer running. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, done: () => boolean, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeEach(async () => {
  ws = workspace();
  runtime = join(ws.dir, 'run');
  mkdirSync(runtime, { mode: 0o700 });
  env = { XDG_RUNTIME_DIR: runtime };
  // The store is made in-process (faster); the commands under test run as processes.
  await runInProcessOk(store('init', '--master', 'passphrase', '--scrypt-log-n', '15'), { env: { ...env, STORE_PASSPHRASE: PASSPHRASE } });
  await runInProcessOk(store('set', 'app/db'), { env: { ...env, STORE_PASSPHRASE: PASSPHRASE }, input: VALUE });
});

afterEach(async () => {
  run(['lock', '--all']);
  const log = join(agentDir(), 'agent.log');
  try {
    await until('the agent socket is gone', () => !existsSync(socketPath()));
    expect(existsSync(log), 'the agent logged a failure').toBe(false);
  } catch (e) {
    if (existsSync(log)) throw new Error(`${(e as Error).message}; agent.log: ${readFileSync(log, 'utf8')}`);
    throw e;
  } finally {
    ws.cleanup();
  }
});

describe('store unlock', () => {
  it('lets commands open a passphrase store with no passphrase until store lock', async () => {
    expect(run(['get', 'app/db']).status, 'locked: no passphrase, no terminal').toBe(6);
    const { agentPid } = unlock();
    expect(ok(['get', 'app/db']).out).toBe(VALUE);
    ok(['set', 'app/other'], {}, 'written through the agent');
    expect(ok(['get', 'app/other']).out).toBe('written through the agent');

    const lock = JSON.parse(ok(['lock', '--json']).out) as { agentRunning: boolean; locked: string[] };
    expect(lock.agentRunning).toBe(true);
    expect(lock.locked).toHaveLength(1);
    const r = run(['get', 'app/db']);
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/store unlock/);
    // Its last store forgotten, the agent removes its socket and exits.
    await until('the agent exits', () => !existsSync(socketPath()) && !running(agentPid));
  });

  it('forgets the key when --for runs out, and the agent exits on its own', async () => {
    const { agentPid, expiresAt } = unlock('--for', '2s');
    expect(ok(['get', 'app/db']).out).toBe(VALUE);
    const end = Date.parse(expiresAt);
    await until('the unlock time has passed', () => Date.now() > end + 100);
    expect(run(['get', 'app/db']).status).toBe(6);
    await until('the agent exits', () => !existsSync(socketPath()) && !running(agentPid));
  });

  it('keeps the socket 0600 in a 0700 directory, and no key bytes in any file there or beside the store', async () => {
    unlock();
    expect(statSync(agentDir()).mode & 0o777).toBe(0o700);
    expect(lstatSync(socketPath()).isSocket()).toBe(true);
    expect(statSync(socketPath()).mode & 0o777).toBe(0o600);

    // The keys the agent holds, derived here from the passphrase and the store's public header.
    const db = new Database(ws.db, { readonly: true });
    const meta = (k: string) => (db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string }).value;
    const params = JSON.parse(meta('master')) as { salt: string; logN: number; r: number; p: number };
    const storeId = Buffer.from(meta('store_id'), 'hex');
    db.close();
    const root = scryptSync(PASSPHRASE, Buffer.from(params.salt, 'base64'), 32, { N: 2 ** params.logN, r: params.r, p: params.p, maxmem: 256 << 20 });
    // The same root the store derives, so the search below looks for the right bytes.
    const master = await openStore(ws.db, rawKeyOf(root));
    await master.close();
    const kek = Buffer.from(hkdf(sha256, root, storeId, new TextEncoder().encode('strongbox/v1/kek'), 32));
    const needles = [root, kek].flatMap((k) => [k, Buffer.from(k.toString('base64')), Buffer.from(k.toString('hex'))]);

    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile()) files.push(p);
      }
    };
    walk(ws.dir); // the runtime dir, and the store's own directory with the store, its WAL and journal
    expect(files).toContain(ws.db);
    for (const f of files) {
      const content = readFileSync(f);
      for (const n of needles) expect(content.includes(n), `key bytes in ${f}`).toBe(false);
    }
  });

  it('never hands the agent the passphrase: not in its argv, not in its environment', () => {
    const { agentPid } = unlock();
    const cmdline = readFileSync(`/proc/${agentPid}/cmdline`, 'utf8');
    const environ = readFileSync(`/proc/${agentPid}/environ`, 'utf8');
    expect(cmdline).toContain('strongbox-agent'); // process.title: argv is overwritten, as ssh-agent's is not, but nothing secret was ever in it
    expect(cmdline).not.toContain(PASSPHRASE);
    expect(environ).not.toContain(PASSPHRASE);
    expect(environ).not.toContain('STORE_');
  });

  it('refuses a wrong passphrase and starts no agent', () => {
    const r = run(['unlock'], { STORE_PASSPHRASE: 'not the passphrase' });
    expect(r.status).toBe(5);
    expect(existsSync(socketPath())).toBe(false);
  });

  it('is for passphrase stores: a key-file store is refused with a usage error', () => {
    const other = join(ws.dir, 'keyed.db');
    const key = join(ws.dir, 'master.key');
    expect(cli(['--store', other, '--keyfile', key, 'init', '--master', 'keyfile'], { env }).status).toBe(0);
    const r = cli(['--store', other, '--keyfile', key, 'unlock'], { env });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/passphrase stores/);
  });

  it('refuses an agent directory that others can enter; reads warn and go on without the agent', () => {
    mkdirSync(agentDir(), { mode: 0o755 });
    chmodSync(agentDir(), 0o755);
    const r = run(['unlock'], { STORE_PASSPHRASE: PASSPHRASE });
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/not 0700/);
    // A squatted directory must not lock anyone out of a store whose passphrase they can give.
    const g = run(['get', 'app/db']);
    expect(g.status).toBe(6);
    expect(g.stderr).toMatch(/warning: not using the unlock agent: .*not 0700/);
    expect(g.stderr).toMatch(/no passphrase given/);
    expect(ok(['get', 'app/db'], { STORE_PASSPHRASE: PASSPHRASE }).out).toBe(VALUE);
  });

  it('rotate-master succeeds (and says why) when it cannot reach the agent to make it forget', () => {
    const other = join(ws.dir, 'keyed.db');
    const key = join(ws.dir, 'master.key');
    expect(cli(['--store', other, '--keyfile', key, 'init', '--master', 'keyfile'], { env }).status).toBe(0);
    mkdirSync(agentDir(), { mode: 0o755 });
    chmodSync(agentDir(), 0o755);
    const r = cli(['--store', other, '--keyfile', key, 'rotate-master', '--to', 'passphrase', '--scrypt-log-n', '15'], { env: { ...env, STORE_NEW_PASSPHRASE: 'new' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: could not make the unlock agent forget/);
    expect(cli(['--store', other, 'list'], { env: { ...env, STORE_PASSPHRASE: 'new' } }).status).toBe(0);
  });

  it('restore makes the agent forget the store (the backup may be under another key)', () => {
    const backup = join(ws.dir, 'backup.db');
    ok(['backup', backup], { STORE_PASSPHRASE: PASSPHRASE });
    unlock();
    const r = ok(['restore', backup, '--json']); // verified through the agent's key
    expect(JSON.parse(r.out)).toMatchObject({ storeId: expect.any(String) });
    expect(run(['get', 'app/db']).status).toBe(6);
    expect(ok(['get', 'app/db'], { STORE_PASSPHRASE: PASSPHRASE }).out).toBe(VALUE);
  });

  it('a passphrase given beats the agent', () => {
    unlock();
    expect(run(['get', 'app/db'], { STORE_PASSPHRASE: 'not the passphrase' }).status).toBe(5);
    expect(ok(['get', 'app/db']).out).toBe(VALUE);
  });

  it('two unlocks at once start one agent', async () => {
    const unlockAsync = () => new Promise<{ status: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...store('unlock', '--json')], { env: cleanEnv({ ...env, STORE_PASSPHRASE: PASSPHRASE }) });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('close', (status) => resolve({ status, out, err }));
    });
    const both = await Promise.all([unlockAsync(), unlockAsync()]);
    for (const r of both) expect(r.status, r.err).toBe(0);
    const pids = both.map((r) => (JSON.parse(r.out) as { agentPid: number }).agentPid);
    expect(pids[0]).toBe(pids[1]);
    expect(ok(['get', 'app/db']).out).toBe(VALUE);
  });

  it('an agent whose socket was removed forgets its keys and exits', async () => {
    const { agentPid } = unlock();
    rmSync(socketPath());
    await until('the orphaned agent exits', () => !running(agentPid));
  });

  it('takes over a socket left by an agent that was killed', async () => {
    mkdirSync(agentDir(), { mode: 0o700 });
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socketPath())}, () => console.log('up'))`]);
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    holder.kill('SIGKILL'); // no chance to remove its socket
    await new Promise((r) => holder.once('exit', r));
    expect(existsSync(socketPath())).toBe(true);

    expect(run(['get', 'app/db']).status, 'no agent answers: as if none ran').toBe(6);
    const { agentPid } = unlock(); // the new agent takes the dead one's socket over
    expect(ok(['get', 'app/db']).out).toBe(VALUE);
    expect(running(agentPid)).toBe(true);
  });

  it('keeps one agent for several stores; lock forgets only the named one', () => {
    const second = join(ws.dir, 'second.db');
    expect(cli(['--store', second, 'init', '--scrypt-log-n', '15'], { env: { ...env, STORE_PASSPHRASE: 'another one' } }).status).toBe(0);
    expect(cli(['--store', second, 'set', 'x'], { env: { ...env, STORE_PASSPHRASE: 'another one' }, input: 'second-value' }).status).toBe(0);
    const first = unlock();
    const r = cli(['--store', second, 'unlock', '--json'], { env: { ...env, STORE_PASSPHRASE: 'another one' } });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.out) as { agentPid: number }).agentPid).toBe(first.agentPid);

    ok(['lock']);
    expect(run(['get', 'app/db']).status).toBe(6);
    const g = cli(['--store', second, 'get', 'x'], { env });
    expect(g.status, g.stderr).toBe(0);
    expect(g.out).toBe('second-value');
  });

  it('forgets the old key after rotate-master, so the new passphrase is asked for', () => {
    unlock();
    ok(['rotate-master', '--to', 'passphrase', '--scrypt-log-n', '15'], { STORE_NEW_PASSPHRASE: 'the new one' });
    expect(run(['get', 'app/db']).status).toBe(6);
    expect(ok(['get', 'app/db'], { STORE_PASSPHRASE: 'the new one' }).out).toBe(VALUE);
  });

  it('cuts off a client that sends garbage or an oversized frame, and goes on serving', async () => {
    unlock();
    for (const junk of [Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), Buffer.from('\x00\x00\x00\x08\x00\x00\x00\x04{{{{')]) {
      const closed = await new Promise<boolean>((resolve) => {
        const c = createConnection(socketPath(), () => c.write(junk));
        c.on('data', () => resolve(false));
        c.on('close', () => resolve(true));
        c.on('error', () => undefined);
      });
      expect(closed).toBe(true);
    }
    expect(ok(['get', 'app/db']).out).toBe(VALUE);
  });

  it('a new agent answers hellos from the moment its socket appears, and waits for its first key', async () => {
    const agentProcess = spawn(process.execPath, [CLI, '__agent', '--socket', socketPath()], { stdio: 'ignore', env: {} });
    try {
      // As store unlock does, but with no pause between tries: a hello during start-up must not end it.
      const deadline = Date.now() + 10_000;
      let answered = 0;
      while (answered < 20 && Date.now() < deadline) {
        const reply = await new Promise<boolean>((resolve) => {
          const c = createConnection(socketPath(), () => c.write(encodeFrame({ id: 1, op: 'hello' })));
          c.on('data', () => {
            c.destroy();
            resolve(true);
          });
          c.on('error', () => resolve(false));
        });
        if (reply) answered++;
      }
      expect(answered).toBe(20);
      await new Promise((r) => setTimeout(r, 300));
      expect(agentProcess.exitCode, 'still waiting for its first key').toBeNull();
      expect(existsSync(socketPath())).toBe(true);
    } finally {
      agentProcess.kill('SIGTERM');
      await new Promise((r) => agentProcess.once('exit', r));
    }
  });

  it('says so when no agent runs', () => {
    const r = JSON.parse(ok(['lock', '--json']).out) as { agentRunning: boolean };
    expect(r.agentRunning).toBe(false);
  });
});

describe('the library through the agent', () => {
  it('a key from the agent, once its store is closed, refuses to be used (E_AGENT); the agent goes on serving new connections', async () => {
    unlock();
    const source = agent({ env });
    let held: MasterKey | undefined;
    const watched: MasterKeySource = { ...source, unlock: async (id, params) => (held = await source.unlock(id, params)) };
    const s = await openStore(ws.db, watched);
    expect((await s.get('app/db')).value.expose()).toEqual(new TextEncoder().encode(VALUE));
    await s.close();
    await expect(held!.unwrap(new Uint8Array(48), new Uint8Array(1))).rejects.toMatchObject({ code: 'E_AGENT', message: expect.stringContaining('closed') });
    const again = await openStore(ws.db, agent({ env }));
    try {
      expect((await again.get('app/db')).value.expose()).toEqual(new TextEncoder().encode(VALUE));
    } finally {
      await again.close();
    }
  });


  it('opens an unlocked store with agent(), and without the agent needs its fallback', async () => {
    await expect(openStore(ws.db, agent({ env }))).rejects.toMatchObject({ code: 'E_MASTER_KEY' });
    unlock();
    const s = await openStore(ws.db, agent({ env }));
    try {
      expect((await s.get('app/db')).value.expose()).toEqual(new TextEncoder().encode(VALUE));
    } finally {
      await s.close();
    }
    ok(['lock']);
    const keyed = join(ws.dir, 'unused.key');
    writeFileSync(keyed, Buffer.alloc(32, 7), { mode: 0o600 });
    // The fallback is of another family: the store says so rather than trying it.
    await expect(openStore(ws.db, agent({ env, fallback: keyFile(keyed) }))).rejects.toMatchObject({ code: 'E_WRONG_MASTER_KEY' });
  });
});
