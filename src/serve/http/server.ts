/**
 * The HTTP/1.1 server of `store serve`, over `node:net` (or `node:tls`).
 *
 * Why not `node:http`: Vault clients list secrets with the method `LIST`
 * (hvac and node-vault do by default), and Node's HTTP parser refuses any
 * method outside its fixed table before our code sees the request: a raw
 * `LIST /v1/x HTTP/1.1` to `http.createServer` ends in `HPE_INVALID_METHOD`
 * and a 400, with or without `insecureHTTPParser`. So the request line and
 * the rest are parsed here (request-parser.ts).
 *
 * This file accepts connections (answering 503 beyond maxConnections),
 * holds the body budget its connections share, listens on TCP or a Unix
 * socket, swaps TLS certificates, and closes gracefully; connection.ts
 * serves each connection.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { StoreError } from '../../errors.js';
import { BodyBudget } from './body-budget.js';
import { Connection, LINGER_MS, destroyWhenFlushed, type ConnectionHost } from './connection.js';
import { errorResponse, serializeResponse, writeSerialized } from './response-writer.js';
import { listenOnUnixSocket } from './unix-socket.js';
import {
  DEFAULT_LIMITS,
  type HttpHandler,
  type HttpRequest,
  type HttpServer,
  type HttpServerOptions,
  type ListenAddress,
  type TlsPair,
  type TransportLimits,
} from './types.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

const TOO_MANY = serializeResponse(errorResponse(503, 'too many connections'), { headRequest: false, keepAlive: false, keepAliveLine: '' });

export function createHttpServer(handler: HttpHandler, options: HttpServerOptions = {}): HttpServer {
  return new TransportServer(handler, options);
}

class TransportServer implements HttpServer, ConnectionHost {
  readonly handler: HttpHandler;
  readonly limits: TransportLimits;
  readonly bodyBudget: BodyBudget;
  readonly keepAliveLine: string;
  readonly #onHandlerError: HttpServerOptions['onHandlerError'];
  readonly #server: Server;
  readonly #tlsServer: TlsServer | undefined;
  readonly #connections = new Set<Connection>();
  /** Connections refused with a 503, lingering until they close. */
  readonly #refused = new Set<Socket>();
  #unix = false;
  #listenCalled = false;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(handler: HttpHandler, options: HttpServerOptions) {
    this.handler = handler;
    this.limits = checkLimits({ ...DEFAULT_LIMITS, ...options.limits });
    this.bodyBudget = new BodyBudget(this.limits.maxBodyBytesInFlight);
    // Tells clients when an idle connection will be closed, so they do not send on one as it goes.
    // Rounded down; under a second there is nothing true to say in whole seconds.
    const idleSeconds = Math.floor(this.limits.idleTimeoutMs / 1000);
    this.keepAliveLine = idleSeconds > 0 ? `Keep-Alive: timeout=${idleSeconds}\r\n` : '';
    this.#onHandlerError = options.onHandlerError;
    const accept = (socket: Socket) => this.#accept(socket);
    if (options.tls) {
      try {
        this.#tlsServer = createTlsServer({
          cert: options.tls.cert,
          key: options.tls.key,
          // Not half-open, unlike plain TCP: a client that gives up during the handshake would
          // otherwise leave a socket no event ever closes (and close() waiting for it). TLS
          // clients do not half-close after a request anyway; close_notify ends the session.
          allowHalfOpen: false,
          minVersion: 'TLSv1.2',
          ALPNProtocols: ['http/1.1'],
          handshakeTimeout: this.limits.headersTimeoutMs,
        }, accept);
      } catch (e) {
        throw tlsError(e);
      }
      // A failed handshake (a client that does not trust us, a timeout) ends that connection only.
      this.#tlsServer.on('tlsClientError', (_error, socket) => socket.destroy());
      this.#server = this.#tlsServer;
    } else {
      this.#server = createNetServer({ allowHalfOpen: true, noDelay: true }, accept);
    }
    // A hard ceiling on sockets of every kind (served, refused and lingering, mid-TLS-handshake);
    // past it Node drops new connections without a word. Served and refused are each capped at
    // maxConnections, so this only ever bites on a flood of handshakes.
    this.#server.maxConnections = 2 * this.limits.maxConnections;
    // Accept errors (EMFILE) must not crash the process; listen errors are reported by listen().
    this.#server.on('error', () => undefined);
  }

  get closing(): boolean {
    return this.#closing;
  }

  get openConnections(): number {
    return this.#connections.size;
  }

  get bodyBytesInFlight(): number {
    return this.bodyBudget.inUse;
  }

  async listen(where: ListenAddress): Promise<string> {
    if (this.#listenCalled || this.#closing) throw new StoreError('E_USAGE', 'this HTTP server has already been started (or closed)');
    this.#listenCalled = true;
    if ('socketPath' in where) {
      this.#unix = true;
      await listenOnUnixSocket(this.#server, where.socketPath);
      return `unix://${where.socketPath}`; // the form Vault's Go client takes in VAULT_ADDR
    }
    const { host, port } = where;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => reject(new StoreError('E_IO', `cannot listen on ${host}:${port}: ${e.code ?? e.message}`));
      this.#server.once('error', onError);
      this.#server.listen({ host, port }, () => {
        this.#server.removeListener('error', onError);
        resolve();
      });
    });
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new StoreError('E_IO', `cannot tell where ${host}:${port} listens`);
    const shown = address.address.includes(':') ? `[${address.address}]` : address.address;
    return `${this.#tlsServer ? 'https' : 'http'}://${shown}:${address.port}`;
  }

  setTls(tls: TlsPair): void {
    if (!this.#tlsServer) throw new StoreError('E_USAGE', 'this HTTP server was started without TLS; a certificate cannot be swapped in');
    try {
      this.#tlsServer.setSecureContext({ cert: tls.cert, key: tls.key });
    } catch (e) {
      throw tlsError(e);
    }
  }

  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#closing = true;
      if (!this.#server.listening) {
        resolve();
        return;
      }
      // The callback runs once every connection, including those still in a TLS handshake, is gone.
      this.#server.close(() => resolve());
      for (const connection of this.#connections) connection.shutdown();
      for (const socket of this.#refused) destroyWhenFlushed(socket, LINGER_MS); // a 503 is short
    });
    return this.#closed;
  }

  handlerFailed(error: unknown, req: HttpRequest): void {
    try {
      this.#onHandlerError?.(error, req);
    } catch {
      // A failing log hook must not take the connection down with it.
    }
  }

  forget(connection: Connection): void {
    this.#connections.delete(connection);
  }

  #accept(socket: Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#connections.size >= this.limits.maxConnections) {
      this.#refuse(socket);
      return;
    }
    this.#connections.add(new Connection(socket, this, this.#remoteAddress(socket)));
  }

  /** 503, then close; kept briefly so the client reads the answer instead of a reset. */
  #refuse(socket: Socket): void {
    socket.on('error', () => undefined);
    // A flood of refused connections is not allowed to hold more sockets than the served ones.
    if (this.#refused.size >= this.limits.maxConnections) {
      socket.destroy();
      return;
    }
    writeSerialized(socket, TOO_MANY);
    socket.end();
    socket.resume(); // drop whatever the client sends
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    this.#refused.add(socket);
    socket.on('close', () => {
      clearTimeout(timer);
      this.#refused.delete(socket);
    });
  }

  #remoteAddress(socket: Socket): string {
    if (this.#unix) return 'unix';
    const address = socket.remoteAddress ?? '';
    return address.startsWith('::ffff:') ? address.slice(7) : address;
  }
}

function checkLimits(limits: TransportLimits): TransportLimits {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new StoreError('E_USAGE', `transport limit ${name} must be a positive integer, got ${String(value)}`);
    // setTimeout turns anything longer into 1 ms.
    if (name.endsWith('Ms') && value > MAX_TIMER_MS) throw new StoreError('E_USAGE', `transport limit ${name} must be at most ${MAX_TIMER_MS} ms`);
  }
  // Less, and a body within maxBodyBytes could never be read whole.
  if (limits.maxBodyBytesInFlight < limits.maxBodyBytes) {
    throw new StoreError('E_USAGE', `transport limit maxBodyBytesInFlight (${limits.maxBodyBytesInFlight}) must be at least maxBodyBytes (${limits.maxBodyBytes})`);
  }
  return limits;
}

/** What OpenSSL said is about the certificate or key file, never their contents. */
function tlsError(e: unknown): StoreError {
  return new StoreError('E_USAGE', `the TLS certificate or key cannot be used: ${(e as Error).message}`);
}
