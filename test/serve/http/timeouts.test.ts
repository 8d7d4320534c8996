/**
 * The connection timers with small limits: a slow-loris head, a slow body,
 * an idle keep-alive connection, a silent new connection.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RawClient, echoHandler, sleep, startServer } from './raw-client.js';

describe('timeouts', () => {
  it('slow-loris: a head sent one byte per 100 ms is cut off at headersTimeoutMs with 408', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler, { limits: { headersTimeoutMs: 300 } });
    const client = await RawClient.connect({ port });
    const head = `GET /v1/secret/data/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: ${'t'.repeat(40)}\r\n\r\n`;
    const start = Date.now();
    let sent = 0;
    const dripping = (async () => {
      while (sent < head.length && !client.closedByServer) {
        client.send(head[sent++]!);
        await sleep(100);
      }
    })();
    const r = await client.response();
    const endedAt = await client.ended;
    await dripping;
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body)).toEqual({ errors: ['request head not received in time'] });
    expect(endedAt - start).toBeGreaterThanOrEqual(250);
    expect(endedAt - start).toBeLessThan(1500);
    expect(sent).toBeLessThan(head.length);
    expect(seen).toEqual([]);
    await sleep(20);
    expect(server.openConnections).toBe(0);
  });

  it('the head timer of a keep-alive connection starts with the first byte of the next request', async () => {
    const { handler } = echoHandler();
    const { port } = await startServer(handler, { limits: { headersTimeoutMs: 300, idleTimeoutMs: 5000 } });
    const client = await RawClient.connect({ port });
    client.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await client.response()).status).toBe(200);
    await sleep(400); // idle longer than the head limit: still open, the idle limit applies here
    expect(client.closedByServer).toBe(false);
    client.send('GET / HT');
    await sleep(400);
    expect((await client.response()).status).toBe(408);
    await client.ended;
  });

  it('an extra CRLF after a request does not start the next one: no 408, and close() does not wait', async () => {
    const { handler } = echoHandler();
    const { port, server } = await startServer(handler, { limits: { headersTimeoutMs: 300, idleTimeoutMs: 5000 } });
    const client = await RawClient.connect({ port });
    client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi\r\n');
    expect((await client.response()).status).toBe(200);
    await sleep(500); // past the head limit: an idle connection, not a slow head
    expect(client.closedByServer).toBe(false);
    const start = Date.now();
    await server.close();
    expect(Date.now() - start).toBeLessThan(250);
    expect(await client.rest()).toBe(''); // closed without an unsolicited 408
  });

  it('a connection that sends nothing is closed at headersTimeoutMs, without an answer', async () => {
    const { port } = await startServer(echoHandler().handler, { limits: { headersTimeoutMs: 200 } });
    const client = await RawClient.connect({ port });
    const start = Date.now();
    const endedAt = await client.ended;
    expect(endedAt - start).toBeGreaterThanOrEqual(150);
    expect(endedAt - start).toBeLessThan(1500);
    expect(await client.rest()).toBe('');
  });

  it('an idle keep-alive connection is closed after idleTimeoutMs', async () => {
    const { port, server } = await startServer(echoHandler().handler, { limits: { idleTimeoutMs: 250 } });
    const client = await RawClient.connect({ port });
    client.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await client.response();
    expect(r.headers['keep-alive']).toBeUndefined(); // under a second: no whole-second hint
    const answered = Date.now();
    const endedAt = await client.ended;
    expect(endedAt - answered).toBeGreaterThanOrEqual(200);
    expect(endedAt - answered).toBeLessThan(1500);
    expect(await client.rest()).toBe('');
    await sleep(20);
    expect(server.openConnections).toBe(0);
  });

  it('a body that does not arrive within bodyTimeoutMs gets 408; the handler never sees it', async () => {
    const { handler, seen } = echoHandler();
    const { port } = await startServer(handler, { limits: { bodyTimeoutMs: 250 } });
    const client = await RawClient.connect({ port });
    client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    const start = Date.now();
    const r = await client.response();
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body)).toEqual({ errors: ['request body not received in time'] });
    expect(Date.now() - start).toBeGreaterThanOrEqual(200);
    expect(seen).toEqual([]);
  });

  it('a slow handler is not cut off by any of the timers', async () => {
    const { port } = await startServer(async () => {
      await sleep(500);
      return { status: 200, body: 'done' };
    }, { limits: { headersTimeoutMs: 100, bodyTimeoutMs: 100, idleTimeoutMs: 100 } });
    const client = await RawClient.connect({ port });
    client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok');
    expect((await client.response()).body).toBe('done');
  });
});

describe('the last response on a connection', () => {
  /** Send `request`, read the response slowly (a pause after every 512 KiB); the body bytes received before the close. */
  function slowRead(port: number, request: string, pauseMs: number): Promise<{ statusLine: string; bodyBytes: number; ms: number }> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const start = Date.now();
      let head = Buffer.alloc(0);
      let headEnd = -1;
      let bodyBytes = 0;
      let sincePause = 0;
      socket.on('data', (d: Buffer) => {
        if (headEnd < 0) {
          head = Buffer.concat([head, d]);
          headEnd = head.indexOf('\r\n\r\n');
          if (headEnd >= 0) bodyBytes = head.length - headEnd - 4;
        } else {
          bodyBytes += d.length;
        }
        sincePause += d.length;
        if (sincePause >= 512 * 1024) {
          sincePause = 0;
          socket.pause();
          setTimeout(() => socket.resume(), pauseMs);
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ statusLine: head.toString('latin1').split('\r\n')[0]!, bodyBytes, ms: Date.now() - start }));
      socket.write(request);
    });
  }

  it('Connection: close, HTTP/1.0 and a response in flight at close() reach a slow reader whole', async () => {
    // Read at ~6 MiB/s: 24 MiB takes ~4 s, longer than the 2 s linger after the response is flushed.
    const size = 24 * 1024 * 1024;
    const body = Buffer.alloc(size, 0x61);
    const { port, server } = await startServer(async (req) => {
      if (req.path === '/slow') await sleep(300);
      return { status: 200, body };
    }, { limits: { idleTimeoutMs: 10_000 } });
    const reads = [
      slowRead(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 80),
      slowRead(port, 'GET / HTTP/1.0\r\n\r\n', 80),
      slowRead(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', 80),
    ];
    await sleep(100);
    const closed = server.close();
    const results = await Promise.all(reads);
    for (const r of results) {
      expect(r.statusLine).toBe('HTTP/1.1 200 OK');
      expect(r.bodyBytes).toBe(size);
    }
    expect(Math.max(...results.map((r) => r.ms))).toBeGreaterThan(2500); // the reads did outlast the linger
    await closed;
  }, 20_000);

  it('a Connection: close response the client does not read is still cut off after idleTimeoutMs', async () => {
    const { port, server } = await startServer(async () => ({ status: 200, body: Buffer.alloc(32 * 1024 * 1024) }), { limits: { idleTimeoutMs: 300 } });
    const client = await RawClient.connect({ port });
    client.socket.pause(); // never reads: the server's side cannot flush
    client.send('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await sleep(150);
    expect(server.openConnections).toBe(1);
    await sleep(600);
    expect(server.openConnections).toBe(0);
  });
});
