/**
 * Starting and stopping: the connection cap, graceful close, listen errors,
 * and the Unix socket (private mode, stale file removed, live one kept).
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { lstatSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/tmp.js';
import { RawClient, createHttpServer, echoHandler, sleep, startServer } from './raw-client.js';

const GET = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('connection cap', () => {
  it('beyond maxConnections a new connection gets 503 JSON and is closed; a freed slot is reused', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler, { limits: { maxConnections: 2 } });
    const a = await RawClient.connect({ port });
    const b = await RawClient.connect({ port });
    await until(() => server.openConnections === 2, 'two connections');
    const c = await RawClient.connect({ port });
    c.send(GET('/third'));
    const r = await c.response();
    expect(r.status).toBe(503);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.connection).toBe('close');
    expect(JSON.parse(r.body)).toEqual({ errors: ['too many connections'] });
    await c.ended;
    expect(server.openConnections).toBe(2);
    expect(seen).toEqual([]);

    a.socket.destroy();
    await until(() => server.openConnections === 1, 'a slot to free up');
    const d = await RawClient.connect({ port });
    d.send(GET('/fourth'));
    expect((await d.response()).status).toBe(200);
    b.send(GET('/second'));
    expect((await b.response()).status).toBe(200);
  });
});

describe('close()', () => {
  it('lets an in-flight slow handler finish and its response arrive, then resolves', async () => {
    let release: () => void = () => undefined;
    const entered = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { port, server } = await startServer(async () => {
      release();
      await sleep(300);
      return { status: 200, body: 'finished' };
    });
    const busy = await RawClient.connect({ port });
    const idle = await RawClient.connect({ port });
    idle.send(GET('/'));
    // The idle one is answered first (its handler also sleeps), then sits idle.
    await idle.response();
    busy.send(GET('/slow'));
    await entered;
    await sleep(20);
    const closing = server.close();
    let closed = false;
    void closing.then(() => {
      closed = true;
    });
    // The idle keep-alive connection is closed at once, the busy one is not.
    await idle.ended;
    expect(closed).toBe(false);
    const r = await busy.response();
    expect(r.body).toBe('finished');
    expect(r.headers.connection).toBe('close');
    await closing;
    await busy.ended;
    expect(server.openConnections).toBe(0);
    // Nothing listens any more.
    const refused = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('a request half-received when close() is called is still completed and answered', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler);
    const client = await RawClient.connect({ port });
    client.send('POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab');
    await until(() => server.openConnections === 1, 'the connection');
    await sleep(30);
    const closing = server.close();
    await sleep(30);
    client.send('cd');
    const r = await client.response();
    expect(r.headers.connection).toBe('close');
    expect(seen).toEqual([{ method: 'POST', path: '/p', body: 'abcd' }]);
    await closing;
  });

  it('is idempotent, works before listen, and listen after close is refused', async () => {
    const server = createHttpServer(echoHandler().handler);
    await server.close();
    await server.close();
    await expect(server.listen({ host: '127.0.0.1', port: 0 })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('listen', () => {
  it('returns the URL with the real port; a port in use is E_IO', async () => {
    const { url, port } = await startServer(echoHandler().handler);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const second = createHttpServer(echoHandler().handler);
    await expect(second.listen({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining('EADDRINUSE') });
    await second.close();
  });

  it('shows an IPv6 address in brackets and reports ::1 as the remote address', async () => {
    const { handler } = echoHandler();
    const server = createHttpServer(handler);
    let url: string;
    try {
      url = await server.listen({ host: '::1', port: 0 });
    } catch (e) {
      await server.close();
      throw new Error(`this machine has no IPv6 loopback: ${(e as Error).message}`);
    }
    try {
      expect(url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const r = await fetch(`${url}/v1/x`);
      expect(JSON.parse(await r.text()).remote).toBe('::1');
    } finally {
      await server.close();
    }
  });

  it('rejects limits that are not positive integers', () => {
    expect(() => createHttpServer(echoHandler().handler, { limits: { maxBodyBytes: 0 } })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(() => createHttpServer(echoHandler().handler, { limits: { idleTimeoutMs: 2 ** 31 } })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});

describe('Unix socket', () => {
  it('listens on a socket only its owner can connect to, serves on it, removes it on close', async () => {
    const socketPath = join(tempDir(), 'serve.sock');
    const { handler, seen } = echoHandler();
    const server = createHttpServer(handler);
    try {
      expect(await server.listen({ socketPath })).toBe(`unix://${socketPath}`);
      const stat = lstatSync(socketPath);
      expect(stat.isSocket()).toBe(true);
      expect((stat.mode & 0o777).toString(8)).toBe('600');
      const client = await RawClient.connect({ path: socketPath });
      client.send('LIST /v1/secret/metadata HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const r = await client.response();
      expect(JSON.parse(r.body)).toMatchObject({ method: 'LIST', remote: 'unix' });
      expect(seen).toHaveLength(1);
    } finally {
      await server.close();
    }
    expect(existsSync(socketPath)).toBe(false);
  });

  it('refuses a socket path longer than the system allows (E_USAGE), leaving no file behind', async () => {
    const dir = tempDir();
    const limit = process.platform === 'linux' ? 108 : 104; // sun_path, with the terminating NUL
    const name = (length: number) => join(dir, 's'.repeat(length - dir.length - 1));
    const tooLong = name(limit);
    expect(Buffer.byteLength(tooLong)).toBe(limit);
    const server = createHttpServer(echoHandler().handler);
    try {
      await expect(server.listen({ socketPath: tooLong })).rejects.toMatchObject({
        code: 'E_USAGE',
        message: expect.stringContaining(`is ${limit} bytes long, and this system allows at most ${limit - 1}`),
      });
    } finally {
      await server.close();
    }
    expect(readdirSync(dir).filter((f) => !f.endsWith('.lock'))).toEqual([]);
    // The longest path that fits still works.
    const longest = name(limit - 1);
    const ok = createHttpServer(echoHandler().handler);
    try {
      await ok.listen({ socketPath: longest });
      const client = await RawClient.connect({ path: longest });
      client.send(GET('/'));
      expect((await client.response()).status).toBe(200);
    } finally {
      await ok.close();
    }
  });

  it('takes over a stale socket file, but never a live socket or a file that is not a socket', async () => {
    const dir = tempDir();
    // A stale socket: its server was killed and could not remove it.
    const stalePath = join(dir, 'stale.sock');
    const child = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", stalePath], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(lstatSync(stalePath).isSocket()).toBe(true);
    const server = createHttpServer(echoHandler().handler);
    try {
      await server.listen({ socketPath: stalePath });
      const client = await RawClient.connect({ path: stalePath });
      client.send(GET('/'));
      expect((await client.response()).status).toBe(200);

      // A live socket (our own server's) is refused, and left working.
      const second = createHttpServer(echoHandler().handler);
      await expect(second.listen({ socketPath: stalePath })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining('another server is listening') });
      await second.close();
      client.send(GET('/'));
      expect((await client.response()).status).toBe(200);
    } finally {
      await server.close();
    }

    const plainFile = join(dir, 'not-a-socket');
    writeFileSync(plainFile, 'keep me');
    const third = createHttpServer(echoHandler().handler);
    await expect(third.listen({ socketPath: plainFile })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining('not a socket') });
    await third.close();
    expect(lstatSync(plainFile).isFile()).toBe(true);
  });
});
