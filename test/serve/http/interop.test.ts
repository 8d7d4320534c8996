/**
 * Real clients against the transport: Node's http.request (with a
 * keep-alive agent), fetch (undici), and node-vault, the unmodified Vault
 * client that sends LIST. Their parsers must accept our responses, and ours
 * their requests.
 */
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { echoHandler, startServer } from './raw-client.js';
import type { HttpHandler } from '../../../src/serve/http/types.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpRequest(port: number, method: string, path: string, agent: Agent | false, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Node http.request', () => {
  it('GET, POST, PATCH, PUT, DELETE, LIST and HEAD over one keep-alive connection', async () => {
    const { handler, seen } = echoHandler();
    const { port, server } = await startServer(handler);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const get = await httpRequest(port, 'GET', '/v1/secret/data/app?version=2', agent);
      expect(get.status).toBe(200);
      expect(get.headers['content-type']).toBe('application/json');
      expect(JSON.parse(get.body)).toMatchObject({ method: 'GET', path: '/v1/secret/data/app', query: [['version', '2']] });

      const post = await httpRequest(port, 'POST', '/v1/secret/data/app', agent, '{"data":{"k":"v"}}', { 'Content-Type': 'application/json' });
      expect(JSON.parse(post.body)).toMatchObject({ method: 'POST', body: '{"data":{"k":"v"}}' });

      const patch = await httpRequest(port, 'PATCH', '/v1/secret/data/app', agent, '{"data":{"k":null}}', { 'Content-Type': 'application/merge-patch+json' });
      expect(JSON.parse(patch.body)).toMatchObject({ method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' } });

      // Without a Content-Length Node's client sends a chunked body.
      const chunked = await new Promise<Reply>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/chunked', agent }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        });
        req.on('error', reject);
        req.write('part one, ');
        setTimeout(() => req.end('part two'), 20);
      });
      expect(JSON.parse(chunked.body)).toMatchObject({ method: 'PUT', body: 'part one, part two', headers: { 'transfer-encoding': 'chunked' } });

      expect((await httpRequest(port, 'DELETE', '/v1/secret/data/app', agent)).status).toBe(200);
      expect(JSON.parse((await httpRequest(port, 'LIST', '/v1/secret/metadata/', agent)).body).method).toBe('LIST');
      const head = await httpRequest(port, 'HEAD', '/v1/sys/health', agent);
      expect([head.status, head.body]).toEqual([200, '']);
      expect(Number(head.headers['content-length'])).toBeGreaterThan(0);

      expect(seen.map((s) => s.method)).toEqual(['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'LIST', 'HEAD']);
      expect(server.openConnections).toBe(1); // all on one reused socket
    } finally {
      agent.destroy();
    }
  });

  it('sees the transport\'s own errors as JSON with the status', async () => {
    const { port } = await startServer(echoHandler().handler, { limits: { maxBodyBytes: 10 } });
    const r = await httpRequest(port, 'POST', '/v1/x', false, 'x'.repeat(100));
    expect(r.status).toBe(413);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ errors: ['request body larger than 10 bytes'] });
  });
});

describe('fetch', () => {
  it('GET, POST, PATCH and LIST, reusing its connections', async () => {
    const { handler, seen } = echoHandler();
    const { url, server } = await startServer(handler);
    const get = await fetch(`${url}/v1/secret/data/a%20b`, { headers: { 'X-Vault-Token': 'tok' } });
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('application/json');
    expect(await get.json()).toMatchObject({ path: '/v1/secret/data/a b', headers: { 'x-vault-token': 'tok' } });
    const post = await fetch(`${url}/v1/secret/data/x`, { method: 'POST', body: JSON.stringify({ data: { a: 1 } }) });
    expect(await post.json()).toMatchObject({ method: 'POST', body: '{"data":{"a":1}}' });
    const patch = await fetch(`${url}/v1/secret/data/x`, { method: 'PATCH', body: '{}', headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(await patch.json()).toMatchObject({ method: 'PATCH' });
    const list = await fetch(`${url}/v1/secret/metadata`, { method: 'LIST' });
    expect(await list.json()).toMatchObject({ method: 'LIST' });
    const empty = await fetch(`${url}/v1/none`, { method: 'DELETE' });
    expect(empty.status).toBe(200);
    await empty.arrayBuffer();
    expect(seen.map((s) => s.method)).toEqual(['GET', 'POST', 'PATCH', 'LIST', 'DELETE']);
    // Connections are reused: undici opens a second one for its first request with a body
    // (it does the same against node:http), then reuses both.
    expect(server.openConnections).toBeLessThanOrEqual(2);
  });
});

describe('node-vault', () => {
  it('list() sends LIST and reads the answer; read and write go through', async () => {
    const methods: string[] = [];
    const handler: HttpHandler = async (req) => {
      methods.push(`${req.method} ${req.path}`);
      if (req.method === 'LIST') {
        return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ data: { keys: ['a', 'dir/'] } }) };
      }
      if (req.method === 'POST') return { status: 204 };
      return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ data: { data: { k: 'v' } } }) };
    };
    const { url } = await startServer(handler);
    const require = createRequire(import.meta.url);
    const vault = require('node-vault') as (options: { endpoint: string; token: string }) => {
      list(path: string): Promise<{ data: { keys: string[] } }>;
      read(path: string): Promise<{ data: { data: Record<string, string> } }>;
      write(path: string, data: unknown): Promise<unknown>;
    };
    const client = vault({ endpoint: url, token: 'tok' });
    expect((await client.list('secret/metadata/app')).data.keys).toEqual(['a', 'dir/']);
    expect((await client.read('secret/data/app/x')).data.data).toEqual({ k: 'v' });
    await client.write('secret/data/app/x', { data: { k: 'w' } });
    expect(methods).toEqual(['LIST /v1/secret/metadata/app', 'GET /v1/secret/data/app/x', 'POST /v1/secret/data/app/x']);
  });
});
