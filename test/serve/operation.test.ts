/**
 * Running `store serve` as an operator does: real child processes stopped
 * with SIGTERM while requests are under way, TLS files swapped under SIGHUP,
 * where it may listen (loopback, a Unix socket, other addresses only with
 * TLS), the root token file, a passphrase store opened through the unlock
 * agent, a server that starts sealed and is unsealed by `store unlock`, and
 * the per-token rate limit.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:net';
import { request as httpsRequest } from 'node:https';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyFile, openStore } from '../../src/index.js';
import { runInProcessOk } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';
import { cli, cliOk } from '../cli/run-cli.js';
import { RawClient, sleep } from './http/raw-client.js';
import { newKeyfileStore, startServe, type ServeChild } from './serve-child.js';

const PASSPHRASE = 'operation-test passphrase 4d1e';

const portOf = (s: ServeChild) => Number(new URL(s.addr).port);

async function until(what: string, done: () => boolean | Promise<boolean>, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

/** One request over plain HTTP, the body parsed when there is one. */
async function call(s: ServeChild, method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: any; type: string | null }> {
  const res = await fetch(`${s.addr}/v1/${path}`, {
    method,
    headers: token ? { 'X-Vault-Token': token } : {},
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, type: res.headers.get('content-type') };
}

/** Whether a new TCP connection to `port` is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('SIGTERM', () => {
  it('finishes the requests under way, refuses new connections, exits 0, and leaves a store that verifies', async () => {
    const s = await startServe();
    const port = portOf(s);
    const blob = (i: number) => `${i}`.repeat(256 * 1024);
    // Four 256 KiB writes, each on a connection the server has taken and answered once, each
    // with its head read (100 Continue says so) and its body only half sent.
    const uploads = await Promise.all([0, 1, 2, 3].map(async (i) => {
      const c = await RawClient.connect({ port });
      c.send(`GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect((await c.response()).status).toBe(200);
      const body = Buffer.from(JSON.stringify({ data: { blob: blob(i) } }));
      c.send(`POST /v1/secret/data/app/upload-${i} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${s.rootToken}\r\n`
        + `Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
      expect((await c.response()).status).toBe(100);
      c.send(body.subarray(0, body.length / 2));
      return { c, rest: body.subarray(body.length / 2) };
    }));

    s.child.kill('SIGTERM');
    await until('the server stops accepting connections', () => refused(port));
    expect(s.child.exitCode, 'still running while requests are under way').toBeNull();
    // The rest of each body trickles in.
    for (let part = 0; part < 4; part++) {
      for (const { c, rest } of uploads) c.send(rest.subarray((part * rest.length) / 4, ((part + 1) * rest.length) / 4));
      await sleep(50);
    }
    for (const { c } of uploads) {
      const r = await c.response();
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body).data.version).toBe(1);
      expect(r.headers.connection).toBe('close');
    }
    expect(await s.exited).toBe(0);
    expect(s.stderr()).not.toMatch(/error/i);

    const store = await openStore(s.storePath, keyFile(s.keyPath));
    try {
      for (const i of [0, 1, 2, 3]) expect(JSON.parse((await store.get(`app/upload-${i}`)).value.text()).blob).toBe(blob(i));
    } finally {
      await store.close();
    }
    cliOk(['--store', s.storePath, '--keyfile', s.keyPath, 'verify']);
  });
});

/** A self-signed certificate for 127.0.0.1 and its key, as files in `dir`. */
function makeCert(dir: string, name: string): { cert: string; key: string; fingerprint: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'pipe' });
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}

/** GET over HTTPS on a new connection, trusting `ca` only; the certificate the server showed. */
function httpsGet(port: number, ca: Buffer[], path: string, token?: string): Promise<{ status: number; body: any; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, ca, agent: false, headers: token ? { 'X-Vault-Token': token } : {} }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined, fingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TLS', () => {
  it('listens on every address with TLS, and SIGHUP swaps the certificate for new connections', async () => {
    const dir = tempDir();
    const first = makeCert(dir, 'first');
    const second = makeCert(dir, 'second');
    const certPath = join(dir, 'serve.crt');
    const keyPath = join(dir, 'serve.key');
    copyFileSync(first.cert, certPath);
    copyFileSync(first.key, keyPath);
    const s = await startServe(['--tls-cert', certPath, '--tls-key', keyPath], undefined, { listen: '0.0.0.0:0' });
    try {
      expect(s.addr).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
      const port = portOf(s);
      const ca = [readFileSync(first.cert), readFileSync(second.cert)];
      const before = await httpsGet(port, ca, '/v1/auth/token/lookup-self', s.rootToken);
      expect(before).toMatchObject({ status: 200, fingerprint: first.fingerprint });
      expect(before.body.data.policies).toEqual(['root']);

      copyFileSync(second.cert, certPath);
      copyFileSync(second.key, keyPath);
      s.child.kill('SIGHUP');
      await until('the TLS files are reloaded', () => s.stderr().includes('TLS files reloaded'));
      const after = await httpsGet(port, ca, '/v1/sys/health');
      expect(after).toMatchObject({ status: 200, fingerprint: second.fingerprint });
      // A client trusting only the old certificate no longer connects.
      await expect(httpsGet(port, [readFileSync(first.cert)], '/v1/sys/health')).rejects.toThrow(/self[- ]signed|certificate/i);

      // A pair that does not load is refused; the one in use stays.
      writeFileSync(keyPath, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
      s.child.kill('SIGHUP');
      await until('the bad pair is refused', () => s.stderr().includes('TLS files not reloaded'));
      expect(await httpsGet(port, ca, '/v1/sys/health')).toMatchObject({ status: 200, fingerprint: second.fingerprint });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});

describe('where it listens', () => {
  it('refuses an address other than loopback without TLS (E_USAGE, exit 2), before opening the store', async () => {
    const { storePath, keyPath, dir } = await newKeyfileStore(tempDir());
    // The last one names no store at all: the address is refused first.
    for (const [listen, store] of [['0.0.0.0:0', storePath], ['[::]:0', storePath], ['192.0.2.1:8200', join(dir, 'absent.db')]]) {
      const r = cli(['--store', store!, '--keyfile', keyPath, 'serve', '--listen', listen!, '--json']);
      expect(r.status, r.stderr).toBe(2);
      expect(JSON.parse(r.stderr.trim().split('\n').pop()!).error.code).toBe('E_USAGE');
      expect(r.stderr).toMatch(/without TLS/);
      expect(r.out).toBe('');
    }
  });

  it('serves on a Unix socket only its owner may use; VAULT_ADDR is unix:PATH', async () => {
    const dir = tempDir();
    const socketPath = join(dir, 'vault.sock');
    const s = await startServe([], undefined, { listen: `unix:${socketPath}` });
    try {
      expect(s.addr).toBe(`unix://${socketPath}`);
      const st = statSync(socketPath);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      const c = await RawClient.connect({ path: socketPath });
      const body = JSON.stringify({ data: { user: 'over-the-socket' } });
      c.send(`POST /v1/secret/data/app/sock HTTP/1.1\r\nHost: localhost\r\nX-Vault-Token: ${s.rootToken}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      expect((await c.response()).status).toBe(200);
      c.send(`GET /v1/secret/data/app/sock HTTP/1.1\r\nHost: localhost\r\nX-Vault-Token: ${s.rootToken}\r\nConnection: close\r\n\r\n`);
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).data.data).toEqual({ user: 'over-the-socket' });
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(existsSync(socketPath), 'the socket is removed on stop').toBe(false);
  });
});

describe('--init-root-token', () => {
  it('writes a working root token to a new 0600 file and prints it nowhere', async () => {
    const s = await startServe();
    try {
      expect(statSync(s.tokenFile).mode & 0o777).toBe(0o600);
      expect(s.rootToken.length).toBeGreaterThan(20);
      const r = await call(s, 'GET', 'auth/token/lookup-self', s.rootToken);
      expect(r.status).toBe(200);
      expect(r.body.data.policies).toEqual(['root']);
      expect(r.body.data.display_name).toBe('token-root');
    } finally {
      expect(await s.stop()).toBe(0);
    }
    expect(s.stdout()).not.toContain(s.rootToken);
    expect(s.stderr()).not.toContain(s.rootToken);
  });

  it('refuses a file that exists, leaves it alone, and makes no token', async () => {
    const { storePath, keyPath, dir } = await newKeyfileStore(tempDir());
    const existing = join(dir, 'root-token');
    writeFileSync(existing, 'keep me\n', { mode: 0o600 });
    const r = cli(['--store', storePath, '--keyfile', keyPath, 'serve', '--listen', '127.0.0.1:0', '--init-root-token', existing]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/exists/);
    expect(readFileSync(existing, 'utf8')).toBe('keep me\n');
    const tokens = JSON.parse(cliOk(['--store', storePath, '--keyfile', keyPath, 'token', 'list', '--json']).out) as unknown[];
    expect(tokens).toEqual([]);
  });
});

describe('a passphrase store and the unlock agent', () => {
  let dir: string;
  let storePath: string;
  let runtime: string;
  const agentEnv = () => ({ XDG_RUNTIME_DIR: runtime, STORE_NO_PROMPT: '1' });
  const unlock = () => cliOk(['--store', storePath, 'unlock'], { env: { XDG_RUNTIME_DIR: runtime, STORE_PASSPHRASE: PASSPHRASE } });

  beforeEach(async () => {
    dir = tempDir();
    storePath = join(dir, 'store.db');
    runtime = join(dir, 'run');
    mkdirSync(runtime, { mode: 0o700 });
    await runInProcessOk(['--store', storePath, 'init', '--master', 'passphrase', '--scrypt-log-n', '15'], { env: { STORE_PASSPHRASE: PASSPHRASE } });
  });

  afterEach(async () => {
    cli(['--store', storePath, 'lock', '--all'], { env: { XDG_RUNTIME_DIR: runtime } });
    await until('the agent is gone', () => !existsSync(join(runtime, 'strongbox', 'agent.sock')));
  });

  it('serves a store unlocked with store unlock, with no passphrase on its command line or in its environment', async () => {
    unlock();
    const s = await startServe([], { storePath, dir }, { env: agentEnv() });
    try {
      expect(s.sealed).toBe(false);
      expect(readFileSync(`/proc/${s.child.pid}/cmdline`, 'utf8')).not.toContain(PASSPHRASE);
      expect(readFileSync(`/proc/${s.child.pid}/environ`, 'utf8')).not.toContain(PASSPHRASE);
      expect((await call(s, 'POST', 'secret/data/app/db', s.rootToken, { data: { password: 'through-the-agent' } })).status).toBe(200);
      expect((await call(s, 'GET', 'secret/data/app/db', s.rootToken)).body.data.data).toEqual({ password: 'through-the-agent' });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('starts sealed when the store is not unlocked, answers 503, and store unlock unseals it without a restart', async () => {
    const s = await startServe([], { storePath, dir }, { env: agentEnv() });
    try {
      expect(s.sealed).toBe(true);
      await until('it says why it is sealed', () => s.stderr().includes('sealed: '));
      expect(s.stderr()).toMatch(/sealed: no passphrase given .*store unlock/);
      expect(existsSync(s.tokenFile), 'no root token while sealed').toBe(false);

      const health = await call(s, 'GET', 'sys/health');
      expect(health.status).toBe(503);
      expect(health.type).toBe('application/json');
      expect(health.body).toMatchObject({ initialized: true, sealed: true, standby: false });
      expect(health.body.cluster_id).toBeUndefined();
      expect((await fetch(`${s.addr}/v1/sys/health`, { method: 'HEAD' })).status).toBe(503);
      expect((await call(s, 'GET', 'sys/health?sealedcode=299')).status).toBe(299);
      for (const [method, path] of [['GET', 'secret/data/app/db'], ['POST', 'auth/token/create'], ['LIST', 'secret/metadata'], ['GET', 'sys/mounts']]) {
        const r = await call(s, method!, path!, 'any-token');
        expect(r, `${method} ${path}`).toMatchObject({ status: 503, type: 'application/json', body: { errors: ['Vault is sealed'] } });
      }

      unlock();
      await until('the server unseals', async () => (await call(s, 'GET', 'sys/health')).status === 200, 10_000);
      const unsealed = await call(s, 'GET', 'sys/health');
      expect(unsealed.body).toMatchObject({ sealed: false, cluster_name: 'strongbox' });
      expect(unsealed.body.cluster_id).toMatch(/\S/);
      expect(s.stderr()).toMatch(/unsealed/);
      // The root token asked for is written once the store opens.
      expect(statSync(s.tokenFile).mode & 0o777).toBe(0o600);
      const token = readFileSync(s.tokenFile, 'utf8').trim();
      expect((await call(s, 'POST', 'secret/data/app/db', token, { data: { password: 'after-unseal' } })).status).toBe(200);
      expect((await call(s, 'GET', 'secret/data/app/db', token)).body.data.data).toEqual({ password: 'after-unseal' });
      expect(s.stdout() + s.stderr()).not.toContain(token);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('stops cleanly while still sealed', async () => {
    const s = await startServe([], { storePath, dir }, { env: agentEnv(), rootToken: false });
    expect(s.sealed).toBe(true);
    expect(await s.stop()).toBe(0);
  });
});

describe('--rate-limit', () => {
  it('answers 429 past N requests a second per token (bursts of 2N), and other tokens are not held back', async () => {
    const s = await startServe(['--rate-limit', '5']);
    try {
      const other = await call(s, 'POST', 'auth/token/create', s.rootToken, { policies: ['default'] });
      expect(other.status).toBe(200);
      const otherToken = other.body.auth.client_token as string;

      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 30 }, () => call(s, 'GET', 'auth/token/lookup-self', s.rootToken)));
      const seconds = (Date.now() - started) / 1000;
      const ok = answers.filter((a) => a.status === 200).length;
      const limited = answers.filter((a) => a.status === 429);
      expect(ok + limited.length).toBe(30);
      // The burst of 10 (one already used by the create), plus what refilled meanwhile.
      expect(ok).toBeGreaterThanOrEqual(9);
      expect(ok).toBeLessThanOrEqual(10 + Math.ceil(5 * seconds));
      expect(limited.length).toBeGreaterThan(0);
      for (const l of limited) expect(l).toMatchObject({ type: 'application/json', body: { errors: ['request rate limit exceeded'] } });

      // Another token has a bucket of its own.
      const others = await Promise.all(Array.from({ length: 8 }, () => call(s, 'GET', 'auth/token/lookup-self', otherToken)));
      expect(others.map((a) => a.status)).toEqual(Array(8).fill(200));
      // And the first one's bucket refills.
      await sleep(1100);
      expect((await call(s, 'GET', 'auth/token/lookup-self', s.rootToken)).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });
});
