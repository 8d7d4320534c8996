/**
 * What Vault clients send, byte for byte, to a real `store serve`: the LIST
 * verb Node's own HTTP server rejects, HEAD, PATCH with and without the
 * merge-patch type, a missing body, a body over the limit, malformed JSON,
 * a percent-encoded path, and a client too slow to finish its request head.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type ServeChild } from './serve-child.js';

let server: ServeChild;
let port: number;

beforeAll(async () => {
  // A short head timeout so the slow-loris case ends quickly.
  server = await startServe(['--max-connections', '64']);
  port = Number(new URL(server.addr).port);
}, 30_000);

afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Send `request` as is on a new connection and read one response (Connection: close). */
function raw(request: string | Buffer, options: { timeoutMs?: number } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(options.timeoutMs ?? 10_000, () => {
      socket.destroy();
      reject(new Error('no response'));
    });
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = (head ?? '').split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(request);
  });
}

function req(method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}): string {
  const headers = { Host: `127.0.0.1:${port}`, 'X-Vault-Token': server.rootToken, Connection: 'close', ...opts.headers };
  const body = opts.body ?? '';
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  if (opts.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

describe('raw requests', () => {
  it('LIST is a list; HEAD sys/health has no body', async () => {
    await raw(req('POST', '/v1/secret/data/raw/a', { body: '{"data":{"x":1}}' }));
    const list = await raw(req('LIST', '/v1/secret/metadata/raw'));
    expect(list.status).toBe(200);
    expect(list.headers['content-type']).toBe('application/json');
    expect(JSON.parse(list.body).data.keys).toEqual(['a']);
    const head = await raw(req('HEAD', '/v1/sys/health'));
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('PATCH needs the merge-patch type (415 without it)', async () => {
    const without = await raw(req('PATCH', '/v1/secret/data/raw/a', { body: '{"data":{"y":2}}', headers: { 'Content-Type': 'application/json' } }));
    expect(without.status).toBe(415);
    expect(JSON.parse(without.body).errors).toHaveLength(1);
    const ok = await raw(req('PATCH', '/v1/secret/data/raw/a', { body: '{"data":{"y":2}}', headers: { 'Content-Type': 'application/merge-patch+json' } }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).data.version).toBe(2);
  });

  it('a missing body is {}: revoke-self works with none, a write without data is 400', async () => {
    const noData = await raw(req('POST', '/v1/secret/data/raw/b'));
    expect(noData.status).toBe(400);
    expect(JSON.parse(noData.body)).toEqual({ errors: ['no data provided'] });
  });

  it('malformed JSON is 400 with a JSON error list, never a stack trace', async () => {
    const bad = await raw(req('POST', '/v1/secret/data/raw/c', { body: '{"data": {"x": 1,}' }));
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toBe('application/json');
    expect(bad.body).not.toMatch(/at .*\.js/);
    expect(JSON.parse(bad.body).errors[0]).toMatch(/JSON/);
  });

  it('a body over the limit is 413 and writes nothing', async () => {
    const huge = `{"data":{"x":"${'a'.repeat(33 * 1024 * 1024)}"}}`;
    const r = await raw(req('POST', '/v1/secret/data/raw/huge', { body: huge }), { timeoutMs: 30_000 });
    expect(r.status).toBe(413);
    const after = await raw(req('GET', '/v1/secret/data/raw/huge'));
    expect(after.status).toBe(404);
  });

  it('a percent-encoded path is decoded before routing', async () => {
    await raw(req('POST', '/v1/secret/data/raw/enc-oded', { body: '{"data":{"e":1}}' }));
    const r = await raw(req('GET', '/v1/secret/data/raw/enc%2Doded'));
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).data.data).toEqual({ e: 1 });
  });

  it('a slow-loris client that never finishes its request head is cut off', async () => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.write('GET /v1/sys/health HTTP/1.1\r\n');
    const drip = setInterval(() => socket.write('X-A: b\r\n'), 500);
    await closed;
    clearInterval(drip);
    // the default head timeout is 10 s
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});
