/**
 * Test side of the transport tests: a server stopped after the test, and a
 * client on a raw socket that writes exact bytes and reads responses back
 * one at a time, so the tests see precisely what goes over the wire.
 */
import { connect, type Socket } from 'node:net';
import { onTestFinished } from 'vitest';
import { createHttpServer } from '../../../src/serve/http/server.js';
import type { HttpHandler, HttpServer, HttpServerOptions } from '../../../src/serve/http/types.js';

export interface Started {
  server: HttpServer;
  url: string;
  port: number;
}

/** A server on 127.0.0.1, port 0, closed when the test finishes (close() may also be called by the test). */
export async function startServer(handler: HttpHandler, options?: HttpServerOptions): Promise<Started> {
  const server = createHttpServer(handler, options);
  onTestFinished(() => server.close());
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  return { server, url, port: Number(new URL(url).port) };
}

export interface RawResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: string;
  /** The response's bytes as received, head and body. */
  raw: string;
}

export class RawClient {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;
  /** Resolves when the server closes its side (or the socket closes), with the time it happened. */
  readonly ended: Promise<number>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      this.#wake?.();
    });
    socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => {
      const done = () => {
        this.#ended = true;
        this.#wake?.();
        resolve(Date.now());
      };
      socket.once('end', done);
      socket.once('close', done);
    });
    onTestFinished(() => {
      socket.destroy();
    });
  }

  static connect(where: { port: number } | { path: string }): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = 'port' in where ? connect(where.port, '127.0.0.1') : connect(where.path);
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  get closedByServer(): boolean {
    return this.#ended;
  }

  /** The next response (a 100 Continue counts as one); `headRequest` when it answers a HEAD (no body follows). */
  async response(headRequest = false): Promise<RawResponse> {
    for (;;) {
      const end = this.#buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.#buf.subarray(0, end).toString('latin1');
        const [statusLine, ...lines] = head.split('\r\n');
        const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1]);
        if (!status) throw new Error(`bad status line ${JSON.stringify(statusLine)}`);
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const noBody = headRequest || status < 200 || status === 204 || status === 304;
        const length = noBody ? 0 : Number(headers['content-length'] ?? 0);
        if (this.#buf.length >= end + 4 + length) {
          const raw = this.#buf.subarray(0, end + 4 + length).toString('latin1');
          const body = this.#buf.subarray(end + 4, end + 4 + length).toString('utf8');
          this.#buf = this.#buf.subarray(end + 4 + length);
          return { status, headers, body, raw };
        }
      }
      if (this.#ended) throw new Error(`connection closed before a whole response; received ${JSON.stringify(this.#buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  /** Everything received and not yet read as a response, once the server has closed. */
  async rest(): Promise<string> {
    await this.ended;
    return this.#buf.toString('latin1');
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A handler that echoes what it got as JSON, and the list of requests it saw. */
export function echoHandler(): { handler: HttpHandler; seen: Array<{ method: string; path: string; body: string }> } {
  const seen: Array<{ method: string; path: string; body: string }> = [];
  const handler: HttpHandler = async (req) => {
    seen.push({ method: req.method, path: req.path, body: req.body.toString('utf8') });
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: req.method, target: req.target, path: req.path, query: [...req.query], headers: req.headers, body: req.body.toString('utf8'), remote: req.remoteAddress }),
    };
  };
  return { handler, seen };
}

export { createHttpServer };
