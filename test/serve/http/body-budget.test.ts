/**
 * maxBodyBytesInFlight: the memory all request bodies together may hold,
 * server-wide. Small limits here (256 KiB a body, 512 KiB in all), so two
 * slow clients fill the budget; a third is refused with 503, and what every
 * request held is given back however it ends.
 */
import { describe, expect, it } from 'vitest';
import { RawClient, createHttpServer, echoHandler, sleep, startServer } from './raw-client.js';
import type { HttpServer, TransportLimits } from '../../../src/serve/http/types.js';

const KiB = 1024;
const LIMITS: Partial<TransportLimits> = { maxBodyBytes: 256 * KiB, maxBodyBytesInFlight: 512 * KiB };
const BUSY = 'too many request bodies in flight';

const post = (length: number) => `POST /v1/secret/data/big HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;
const CHUNKED = 'POST /v1/secret/data/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
const PIECE = 32 * KiB;

/** `bytes` more of a Content-Length body, in 32 KiB pieces a little apart: a slow client. */
async function dribble(client: RawClient, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += PIECE) {
    client.send(Buffer.alloc(Math.min(PIECE, bytes - sent), 0x61));
    await sleep(5);
  }
}

/** `bytes` more of a chunked body, one 32 KiB chunk at a time, a little apart. */
async function dribbleChunks(client: RawClient, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += PIECE) {
    const size = Math.min(PIECE, bytes - sent);
    client.send(`${size.toString(16)}\r\n${'a'.repeat(size)}\r\n`);
    await sleep(5);
  }
}

/** Wait (2 s at most) until the server holds for request bodies exactly `bytes` (or, with `atLeast`, that many or more). */
async function holding(server: HttpServer, bytes: number, atLeast = false): Promise<void> {
  const done = () => (atLeast ? server.bodyBytesInFlight >= bytes : server.bodyBytesInFlight === bytes);
  const deadline = Date.now() + 2000;
  while (!done() && Date.now() < deadline) await sleep(5);
  if (atLeast) expect(server.bodyBytesInFlight).toBeGreaterThanOrEqual(bytes);
  else expect(server.bodyBytesInFlight).toBe(bytes);
}

/** Every connection gone, and nothing left held for bodies. */
async function allGiveBack(server: HttpServer): Promise<void> {
  const deadline = Date.now() + 3000;
  while (server.openConnections > 0 && Date.now() < deadline) await sleep(5);
  expect(server.openConnections).toBe(0);
  expect(server.bodyBytesInFlight).toBe(0);
}

async function expectBusy(client: RawClient): Promise<void> {
  const r = await client.response();
  expect(r.status).toBe(503);
  expect(r.headers['content-type']).toBe('application/json');
  expect(r.headers['retry-after']).toBe('1');
  expect(r.headers.connection).toBe('close');
  expect(JSON.parse(r.body)).toEqual({ errors: [BUSY] });
  await client.ended;
}

/**
 * A body sent all but its last byte holds exactly its declared length (the
 * cap of its doubling buffer): reads of at most 64 KiB cannot leave the buffer
 * short of it. The partial-body tests rely on that for exact counts.
 */
const ALL_BUT_ONE = (length: number) => length - 1;

describe('maxBodyBytesInFlight', () => {
  it('two slow 256 KiB bodies fill the budget: a third gets 503 and is closed; the two are answered, then a fourth fits', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler, { limits: LIMITS });
    const a = await RawClient.connect({ port });
    const b = await RawClient.connect({ port });
    a.send(post(256 * KiB));
    b.send(post(256 * KiB));
    await Promise.all([dribble(a, ALL_BUT_ONE(256 * KiB)), dribble(b, ALL_BUT_ONE(256 * KiB))]);
    await holding(server, 512 * KiB);

    const c = await RawClient.connect({ port });
    c.send(post(256 * KiB));
    await dribble(c, 64 * KiB);
    await expectBusy(c);
    await holding(server, 512 * KiB); // the refused one took nothing

    a.send('a');
    b.send('b');
    expect((await a.response()).status).toBe(200);
    expect((await b.response()).status).toBe(200);
    await holding(server, 0); // given back once answered, while the connections stay open
    expect(server.openConnections).toBe(2);

    const d = await RawClient.connect({ port });
    d.send(post(256 * KiB));
    await dribble(d, 256 * KiB);
    expect((await d.response()).status).toBe(200);
    expect(seen.map((s) => s.body.length)).toEqual([256 * KiB, 256 * KiB, 256 * KiB]);
    for (const client of [a, b, d]) client.socket.end();
    await allGiveBack(server);
  });

  it('chunked bodies count too, by the capacity of their buffer', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler, { limits: LIMITS });
    const a = await RawClient.connect({ port });
    const b = await RawClient.connect({ port });
    a.send(CHUNKED);
    b.send(CHUNKED);
    await Promise.all([dribbleChunks(a, ALL_BUT_ONE(256 * KiB)), dribbleChunks(b, ALL_BUT_ONE(256 * KiB))]);
    await holding(server, 512 * KiB);

    const c = await RawClient.connect({ port });
    c.send(`${CHUNKED}5\r\nhello\r\n`);
    await expectBusy(c);

    a.send('1\r\na\r\n0\r\n\r\n');
    b.send('1\r\nb\r\n0\r\n\r\n');
    expect((await a.response()).status).toBe(200);
    expect((await b.response()).status).toBe(200);
    expect(seen.map((s) => s.body.length)).toEqual([256 * KiB, 256 * KiB]);
    await holding(server, 0);

    // Five bytes received, but the first buffer of a chunked body is 4 KiB: that is what counts.
    a.send(`${CHUNKED}5\r\nhello\r\n`);
    await holding(server, 4096);
    a.send('0\r\n\r\n');
    expect((await a.response()).status).toBe(200);
    await holding(server, 0);
    a.socket.end();
    b.socket.end();
    await allGiveBack(server);
  });

  it('a connection that dies mid-body, times out, or sends a malformed or oversized chunked body gives its share back', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler, { limits: { ...LIMITS, bodyTimeoutMs: 300 } });

    // The client resets mid-body.
    const reset = await RawClient.connect({ port });
    reset.send(post(256 * KiB));
    await dribble(reset, ALL_BUT_ONE(256 * KiB));
    await holding(server, 256 * KiB);
    reset.socket.destroy();
    await allGiveBack(server);

    // The rest of the body never comes: 408. One byte received holds the first 4 KiB buffer.
    const slow = await RawClient.connect({ port });
    slow.send(`${post(256 * KiB)}a`);
    await holding(server, 4096);
    expect((await slow.response()).status).toBe(408);
    await allGiveBack(server);

    // A malformed chunk-size line after 64 KiB of chunks: 400.
    const malformed = await RawClient.connect({ port });
    malformed.send(CHUNKED);
    await dribbleChunks(malformed, 64 * KiB);
    await holding(server, 64 * KiB, true);
    malformed.send('zz\r\n');
    const bad = await malformed.response();
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ errors: ['malformed chunked body: no chunk size'] });
    await allGiveBack(server);

    // Chunks past maxBodyBytes: 413.
    const tooBig = await RawClient.connect({ port });
    tooBig.send(CHUNKED);
    await dribbleChunks(tooBig, 256 * KiB + 1);
    expect((await tooBig.response()).status).toBe(413);
    await allGiveBack(server);

    expect(seen).toEqual([]);
  });

  it('a body stays counted while its handler has it, even once its client has reset; then it is given back, once', async () => {
    let release: () => void = () => undefined;
    const handled = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { port, server } = await startServer(async () => {
      await handled;
      return { status: 200, body: 'late' };
    }, { limits: LIMITS });
    try {
      const client = await RawClient.connect({ port });
      client.send(post(200 * KiB));
      await dribble(client, 200 * KiB);
      await holding(server, 200 * KiB);
      client.socket.resetAndDestroy();
      const deadline = Date.now() + 2000;
      while (server.openConnections > 0 && Date.now() < deadline) await sleep(5);
      expect(server.openConnections).toBe(0);
      expect(server.bodyBytesInFlight).toBe(200 * KiB); // the handler still has the body
    } finally {
      release(); // else close() after a failure would wait for the handler
    }
    await holding(server, 0);
    await sleep(20);
    expect(server.bodyBytesInFlight).toBe(0);
  });

  it('small requests are served while the budget is nearly used up, as long as they fit in what is left', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler, { limits: LIMITS });
    const a = await RawClient.connect({ port });
    const b = await RawClient.connect({ port });
    a.send(post(256 * KiB));
    b.send(post(248 * KiB));
    await Promise.all([dribble(a, ALL_BUT_ONE(256 * KiB)), dribble(b, ALL_BUT_ONE(248 * KiB))]);
    await holding(server, 504 * KiB); // 8 KiB left

    const small = await RawClient.connect({ port });
    small.send('GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await small.response()).status).toBe(200);
    for (let i = 0; i < 20; i++) {
      small.send(`${post(5)}hello`);
      expect((await small.response()).status).toBe(200);
    }
    small.send(`${CHUNKED}5\r\nhello\r\n0\r\n\r\n`); // holds a 4 KiB buffer while it is read
    expect((await small.response()).status).toBe(200);
    small.send(`${post(8 * KiB)}${'x'.repeat(8 * KiB)}`); // exactly what is left
    expect((await small.response()).status).toBe(200);
    await holding(server, 504 * KiB);

    small.send(`${post(8 * KiB + 1)}${'x'.repeat(8 * KiB + 1)}`); // one byte more
    await expectBusy(small);

    a.send('a');
    b.send('b');
    expect((await a.response()).status).toBe(200);
    expect((await b.response()).status).toBe(200);
    expect(seen).toHaveLength(25);
    a.socket.end();
    b.socket.end();
    await allGiveBack(server);
  });

  it('must be a positive integer, at least maxBodyBytes', () => {
    const make = (limits: Partial<TransportLimits>) => () => createHttpServer(echoHandler().handler, { limits });
    expect(make({ maxBodyBytes: 1000, maxBodyBytesInFlight: 999 })).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringContaining('maxBodyBytesInFlight') }));
    expect(make({ maxBodyBytesInFlight: 0 })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(make({ maxBodyBytes: 1000, maxBodyBytesInFlight: 1000 })).not.toThrow();
  });
});
