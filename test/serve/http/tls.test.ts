/**
 * HTTPS with self-signed certificates made by openssl for the test, and the
 * certificate swap a SIGHUP does: new connections get the new pair, a
 * connection already open keeps working.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/tmp.js';
import { createHttpServer, echoHandler } from './raw-client.js';

interface Pair {
  cert: Buffer;
  key: Buffer;
}

/** A self-signed EC certificate for 127.0.0.1 with its own common name. */
function selfSigned(dir: string, name: string): Pair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

/** Open a TLS connection trusting only `ca`; resolves with the socket, or rejects with the handshake error. */
function open(port: number, ca: Buffer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: undefined });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One GET over an open TLS socket; the response text. */
function exchange(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text);
      if (end >= 0 && length && text.length >= end + 4 + Number(length[1])) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

describe('TLS', () => {
  it('serves HTTPS with a self-signed pair; setTls swaps it for new connections', async () => {
    const dir = tempDir();
    const first = selfSigned(dir, 'first');
    const second = selfSigned(dir, 'second');
    const server = createHttpServer(echoHandler().handler, { tls: first });
    try {
      const url = await server.listen({ host: '127.0.0.1', port: 0 });
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const port = Number(new URL(url).port);

      const old = await open(port, first.cert);
      expect(old.getPeerCertificate().subject.CN).toBe('first');
      expect(old.alpnProtocol).toBe(false); // the client offered none
      expect(await exchange(old, '/v1/one')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*"path":"\/v1\/one"/);

      server.setTls(second);
      const fresh = await open(port, second.cert);
      expect(fresh.getPeerCertificate().subject.CN).toBe('second');
      expect(await exchange(fresh, '/v1/two')).toContain('"path":"/v1/two"');
      // A client that trusts only the old certificate can no longer connect...
      await expect(open(port, first.cert)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
      // ...while the connection made before the swap keeps working.
      expect(await exchange(old, '/v1/three')).toContain('"path":"/v1/three"');
      old.destroy();
      fresh.destroy();
    } finally {
      await server.close();
    }
  });

  it('Node\'s https client and fetch-style ALPN get HTTP/1.1', async () => {
    const dir = tempDir();
    const pair = selfSigned(dir, 'alpn');
    const server = createHttpServer(echoHandler().handler, { tls: pair });
    try {
      const port = Number(new URL(await server.listen({ host: '127.0.0.1', port: 0 })).port);
      const socket = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, ca: pair.cert, ALPNProtocols: ['h2', 'http/1.1'] });
        s.once('secureConnect', () => resolve(s));
        s.once('error', reject);
      });
      expect(socket.alpnProtocol).toBe('http/1.1');
      expect(await exchange(socket, '/x')).toContain('HTTP/1.1 200 OK');
      socket.destroy();
      const { request } = await import('node:https');
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/v1/y', method: 'LIST', ca: pair.cert, agent: false }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      expect(JSON.parse(body)).toMatchObject({ method: 'LIST', path: '/v1/y' });
    } finally {
      await server.close();
    }
  });

  it('a pair that does not load is E_USAGE, at creation and on swap (the old pair stays)', async () => {
    const dir = tempDir();
    const pair = selfSigned(dir, 'good');
    const other = selfSigned(dir, 'other');
    expect(() => createHttpServer(echoHandler().handler, { tls: { cert: Buffer.from('not a cert'), key: pair.key } })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    const server = createHttpServer(echoHandler().handler, { tls: pair });
    try {
      const port = Number(new URL(await server.listen({ host: '127.0.0.1', port: 0 })).port);
      expect(() => server.setTls({ cert: pair.cert, key: other.key })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
      const socket = await open(port, pair.cert);
      expect(socket.getPeerCertificate().subject.CN).toBe('good');
      socket.destroy();
    } finally {
      await server.close();
    }
    const plain = createHttpServer(echoHandler().handler);
    expect(() => plain.setTls(pair)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});
