/**
 * The transport over real sockets on 127.0.0.1: what reaches the handler,
 * what goes back on the wire, keep-alive, pipelining, and the errors the
 * transport answers itself.
 */
import { describe, expect, it } from 'vitest';
import { RawClient, echoHandler, sleep, startServer } from './raw-client.js';
import type { HttpRequest } from '../../../src/serve/http/types.js';

const GET = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

describe('requests reaching the handler', () => {
  it('LIST, HEAD, PATCH and the rest arrive with method, path, query, headers and remote address', async () => {
    const { handler } = echoHandler();
    const { port } = await startServer(handler);
    const client = await RawClient.connect({ port });
    client.send('LIST /v1/secret/metadata/app HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Vault-Token: t\r\n\r\n');
    const list = JSON.parse((await client.response()).body);
    expect(list).toMatchObject({ method: 'LIST', path: '/v1/secret/metadata/app', headers: { host: '127.0.0.1', 'x-vault-token': 't' }, body: '', remote: '127.0.0.1' });

    const patch = '{"data":{"a":null}}';
    client.send(`PATCH /v1/secret/data/app HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/merge-patch+json\r\nContent-Length: ${patch.length}\r\n\r\n${patch}`);
    expect(JSON.parse((await client.response()).body)).toMatchObject({ method: 'PATCH', body: '{"data":{"a":null}}', headers: { 'content-type': 'application/merge-patch+json' } });

    client.send(GET('/v1/secret/metadata?list=true&x=a%20b'));
    expect(JSON.parse((await client.response()).body)).toMatchObject({ method: 'GET', path: '/v1/secret/metadata', query: [['list', 'true'], ['x', 'a b']] });
  });

  it('HEAD gets the Content-Length of the body and no body; the connection stays usable', async () => {
    const { port } = await startServer(async () => ({ status: 200, headers: { 'Content-Type': 'application/json' }, body: '{"initialized":true}' }));
    const client = await RawClient.connect({ port });
    client.send('HEAD /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n');
    const head = await client.response(true);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('20');
    expect(head.raw.endsWith('\r\n\r\n')).toBe(true);
    client.send(GET('/v1/sys/health'));
    const get = await client.response();
    expect(get.body).toBe('{"initialized":true}');
    expect(head.headers).toEqual({ ...get.headers, date: head.headers.date });
  });

  it('decodes a percent-encoded path once', async () => {
    const { handler, seen } = echoHandler();
    const { port } = await startServer(handler);
    const client = await RawClient.connect({ port });
    client.send(GET('/v1/secret/data/a%20b'));
    client.send(GET('/v1/secret/data/x%2Fy%2541'));
    await client.response();
    await client.response();
    expect(seen.map((s) => s.path)).toEqual(['/v1/secret/data/a b', '/v1/secret/data/x/y%41']);
  });

  it('a chunked body arrives de-chunked; a missing body arrives empty', async () => {
    const { handler, seen } = echoHandler();
    const { port } = await startServer(handler);
    const client = await RawClient.connect({ port });
    client.send('POST /v1/secret/data/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"data":{\r\n');
    await sleep(30);
    client.send('8\r\n"k":"v"}\r\n1\r\n}\r\n0\r\n\r\n');
    expect((await client.response()).status).toBe(200);
    client.send('POST /v1/auth/token/revoke-self HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await client.response()).status).toBe(200);
    expect(seen).toEqual([
      { method: 'POST', path: '/v1/secret/data/c', body: '{"data":{"k":"v"}}' },
      { method: 'POST', path: '/v1/auth/token/revoke-self', body: '' },
    ]);
  });

  it('a body that arrives in pieces is handed over whole', async () => {
    const { handler, seen } = echoHandler();
    const { port } = await startServer(handler);
    const client = await RawClient.connect({ port });
    const body = 'x'.repeat(200_000);
    client.send(`PUT /v1/p HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    for (let i = 0; i < body.length; i += 50_000) {
      await sleep(5);
      client.send(body.slice(i, i + 50_000));
    }
    expect((await client.response()).status).toBe(200);
    expect(seen[0]!.body).toBe(body);
  });
});

describe('keep-alive and pipelining', () => {
  it('serves several requests on one connection, each response framed by Content-Length', async () => {
    let count = 0;
    const { port, server } = await startServer(async () => ({ status: 200, body: `n=${++count}` }));
    const client = await RawClient.connect({ port });
    for (let i = 1; i <= 5; i++) {
      client.send(GET(`/r${i}`));
      const r = await client.response();
      expect(r.body).toBe(`n=${i}`);
      expect(r.headers['content-length']).toBe(String(`n=${i}`.length));
      expect(r.headers.connection).toBe('keep-alive');
      expect(r.headers['keep-alive']).toBe('timeout=60');
    }
    expect(server.openConnections).toBe(1);
    expect(client.closedByServer).toBe(false);
  });

  it('answers pipelined requests in order, even when a later one would finish first', async () => {
    const delays: Record<string, number> = { '/slow': 150, '/fast': 0, '/mid': 40 };
    const started: string[] = [];
    const { port } = await startServer(async (req) => {
      started.push(req.path);
      await sleep(delays[req.path] ?? 0);
      return { status: 200, body: req.path };
    });
    const client = await RawClient.connect({ port });
    client.send(GET('/slow') + GET('/fast') + `POST /mid HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc` + GET('/fast', 'Connection: close\r\n'));
    const bodies = [];
    for (let i = 0; i < 4; i++) bodies.push((await client.response()).body);
    expect(bodies).toEqual(['/slow', '/fast', '/mid', '/fast']);
    // One at a time: the handler never saw a request before the previous one was answered.
    expect(started).toEqual(['/slow', '/fast', '/mid', '/fast']);
    await client.ended;
  });

  it('a thousand pipelined requests in one burst are all answered, in order', async () => {
    const { port } = await startServer(async (req) => ({ status: 200, body: req.path }));
    const client = await RawClient.connect({ port });
    const paths = Array.from({ length: 1000 }, (_, i) => `/v1/secret/data/k${i}`);
    client.send(paths.map((p) => GET(p, `X-Pad: ${'p'.repeat(100)}\r\n`)).join(''));
    const bodies: string[] = [];
    for (let i = 0; i < paths.length; i++) bodies.push((await client.response()).body);
    expect(bodies).toEqual(paths);
  });

  it('a client that does not read its responses is cut off after idleTimeoutMs, not buffered without end', async () => {
    const big = 'x'.repeat(1024 * 1024);
    let answered = 0;
    const { port, server } = await startServer(async () => {
      answered++;
      return { status: 200, body: big };
    }, { limits: { idleTimeoutMs: 300 } });
    const client = await RawClient.connect({ port });
    client.socket.pause();
    client.send(GET('/big').repeat(200));
    const start = Date.now();
    while (server.openConnections > 0 && Date.now() - start < 5000) await sleep(20);
    expect(server.openConnections).toBe(0);
    // It stopped answering once the socket's buffers were full: far fewer than 200 (200 MiB) went out.
    expect(answered).toBeGreaterThan(0);
    expect(answered).toBeLessThan(100);
  });

  it('HTTP/1.0 closes after the response unless it asks for keep-alive', async () => {
    const { port } = await startServer(async () => ({ status: 200, body: 'ok' }));
    const a = await RawClient.connect({ port });
    a.send('GET / HTTP/1.0\r\n\r\n');
    const r = await a.response();
    expect(r.headers.connection).toBe('close');
    await a.ended;
    const b = await RawClient.connect({ port });
    b.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect((await b.response()).headers.connection).toBe('keep-alive');
    b.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect((await b.response()).body).toBe('ok');
  });

  it('Connection: close is honoured; a client that half-closes still gets its answer', async () => {
    const { port } = await startServer(async () => {
      await sleep(30);
      return { status: 200, body: 'late' };
    });
    const a = await RawClient.connect({ port });
    a.send(GET('/', 'Connection: close\r\n'));
    expect((await a.response()).headers.connection).toBe('close');
    await a.ended;
    const b = await RawClient.connect({ port });
    b.socket.end(GET('/') + GET('/'));
    expect((await b.response()).body).toBe('late');
    expect((await b.response()).body).toBe('late');
    await b.ended;
  });

  it('204 and 304 carry no body and no Content-Length', async () => {
    const { port } = await startServer(async (req) => ({ status: req.path === '/a' ? 204 : 304, body: 'ignored' }));
    const client = await RawClient.connect({ port });
    client.send(GET('/a') + GET('/b') + GET('/a', 'Connection: close\r\n'));
    const responses = [await client.response(), await client.response(), await client.response()];
    expect(responses.map((r) => [r.status, r.headers['content-length']])).toEqual([[204, undefined], [304, undefined], [204, undefined]]);
    expect(await client.rest()).toBe('');
  });

  it('answers Expect: 100-continue with 100 Continue, then the response', async () => {
    const { handler, seen } = echoHandler();
    const { port } = await startServer(handler);
    const client = await RawClient.connect({ port });
    client.send('PUT /v1/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n');
    const interim = await client.response();
    expect(interim.raw).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    expect(seen).toEqual([]);
    client.send('data');
    expect((await client.response()).status).toBe(200);
    expect(seen[0]!.body).toBe('data');
  });
});

describe('errors the transport answers itself', () => {
  async function expectJsonError(raw: string, status: number, message: string, limits = {}) {
    const { handler, seen } = echoHandler();
    const { port } = await startServer(handler, { limits });
    const client = await RawClient.connect({ port });
    client.send(raw);
    const r = await client.response();
    expect(r.status).toBe(status);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers.connection).toBe('close');
    expect(JSON.parse(r.body)).toEqual({ errors: [message] });
    await client.ended;
    expect(seen).toEqual([]);
    return r;
  }

  it('a malformed request line gets 400', async () => {
    await expectJsonError('GET /x HTTP/1.1 extra\r\nHost: x\r\n\r\n', 400, 'malformed request line');
    await expectJsonError('LI ST /x HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'malformed request line');
  });

  it('a bad percent-escape in the path gets 400', async () => {
    await expectJsonError(GET('/v1/secret/data/a%zzb'), 400, 'invalid percent-encoding in the request path');
  });

  it('a head over maxHeaderBytes gets 431', async () => {
    await expectJsonError(GET('/', `X-Big: ${'b'.repeat(3000)}\r\n`), 431, 'request head larger than 2048 bytes', { maxHeaderBytes: 2048 });
  });

  it('a body over maxBodyBytes gets 413 and nothing reaches the handler (declared, or chunked)', async () => {
    await expectJsonError('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n' + 'x'.repeat(1001), 413, 'request body larger than 1000 bytes', { maxBodyBytes: 1000 });
    await expectJsonError(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n${'x'.repeat(512)}\r\n200\r\n${'x'.repeat(512)}\r\n0\r\n\r\n`, 413, 'request body larger than 1000 bytes', { maxBodyBytes: 1000 });
  });

  it('a 413 is read by a client still sending its body, not lost to a reset', async () => {
    const { handler, seen } = echoHandler();
    const { port } = await startServer(handler, { limits: { maxBodyBytes: 1000 } });
    const client = await RawClient.connect({ port });
    client.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n');
    for (let i = 0; i < 10; i++) client.send(Buffer.alloc(64 * 1024, 0x61));
    expect((await client.response()).status).toBe(413);
    expect(seen).toEqual([]);
  });

  it('Expect: 100-continue with a body over the limit gets 413 and no 100', async () => {
    await expectJsonError('PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n', 413, 'request body larger than 1000 bytes', { maxBodyBytes: 1000 });
  });

  it('smuggling shapes get 400, unknown transfer codings 501, other versions 505, other expectations 417', async () => {
    await expectJsonError('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, 'Transfer-Encoding and Content-Length together');
    await expectJsonError('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', 400, 'more than one Content-Length');
    await expectJsonError('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501, 'only the chunked transfer coding is supported');
    await expectJsonError('GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505, 'HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are');
    await expectJsonError(GET('/', 'Expect: 200-ok\r\n'), 417, 'only "Expect: 100-continue" is supported');
    await expectJsonError(GET('/', 'X-Folded: a\r\n b\r\n'), 400, 'obsolete line folding is not accepted');
  });

  it('a handler that throws gets a 500 with a fixed text, never its message or stack', async () => {
    const errors: unknown[] = [];
    const { port } = await startServer(async (req: HttpRequest) => {
      if (req.path === '/sync') throw new Error('SECRET-detail at /some/file.ts:12');
      await sleep(1);
      throw new Error('SECRET-detail at /some/file.ts:12');
    }, { onHandlerError: (e) => errors.push(e) });
    for (const path of ['/sync', '/async']) {
      const client = await RawClient.connect({ port });
      client.send(GET(path));
      const r = await client.response();
      expect(r.status).toBe(500);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers.connection).toBe('close');
      expect(r.body).toBe('{"errors":["internal error while handling the request"]}');
      expect(r.raw).not.toContain('SECRET');
      await client.ended;
    }
    expect(errors).toHaveLength(2);
  });

  it('a response that cannot be written (header injection, bad status) becomes that 500', async () => {
    const { port } = await startServer(async (req) => (req.path === '/inject'
      ? { status: 200, headers: { 'X-A': 'ok\r\nSet-Cookie: evil=1' }, body: 'x' }
      : { status: 1000, body: 'x' }));
    for (const path of ['/inject', '/status']) {
      const client = await RawClient.connect({ port });
      client.send(GET(path));
      const r = await client.response();
      expect(r.status).toBe(500);
      expect(r.raw).not.toContain('evil');
    }
  });

  it('the framing fields are the transport\'s: a handler\'s Content-Length or Connection is dropped', async () => {
    const { port } = await startServer(async () => ({ status: 200, headers: { 'Content-Length': '999', Connection: 'close', 'Cache-Control': 'no-store' }, body: 'four' }));
    const client = await RawClient.connect({ port });
    client.send(GET('/') + GET('/'));
    const r = await client.response();
    expect(r.headers).toMatchObject({ 'content-length': '4', connection: 'keep-alive', 'cache-control': 'no-store' });
    expect((await client.response()).body).toBe('four');
  });
});
