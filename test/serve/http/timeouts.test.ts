/**
 * The connection timers with small limits: a slow-loris head, a slow body,
 * an idle keep-alive connection, a silent new connection.
 */
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
