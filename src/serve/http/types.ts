/**
 * The transport's contract with the rest of `store serve`: one request in,
 * one response out. The router and the routes see only these shapes, never a
 * socket, so they can be tested without a network.
 */

export interface HttpRequest {
  /** As sent, e.g. 'LIST', 'GET', 'HEAD', 'PATCH' (methods are case-sensitive). */
  method: string;
  /** The request-target as sent, query included. */
  target: string;
  /** The path part of the target, percent-decoded once ('%2F' becomes '/'), without the query. */
  path: string;
  query: URLSearchParams;
  /**
   * Lower-case names; a repeated field's values joined with ', '. A
   * prototype-less object, so a field named `__proto__` or `constructor`
   * is just a key (use `in` or indexing, not `hasOwnProperty`).
   */
  headers: Record<string, string>;
  /** Empty when there is none; a chunked body arrives here de-chunked. */
  body: Buffer;
  /** '127.0.0.1', '::1' (IPv4-mapped addresses unwrapped), or 'unix'. */
  remoteAddress: string;
}

export interface HttpResponse {
  status: number;
  /**
   * The transport writes Content-Length, Connection and Date itself; those
   * names are ignored here. Values must be printable ASCII.
   */
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>;

export interface TransportLimits {
  /** Largest request body (declared or de-chunked); more gets 413. */
  maxBodyBytes: number;
  /**
   * Memory all request bodies may hold together, server-wide, while they are
   * read or handled (their buffers' size, which grows by doubling); at least
   * maxBodyBytes. A body that would take more gets 503 and its connection is closed.
   */
  maxBodyBytesInFlight: number;
  /** Largest request head (request line and header fields), and largest chunked trailer; more gets 431. */
  maxHeaderBytes: number;
  /** The whole request head must arrive within this (slow-loris); else 408 and close. */
  headersTimeoutMs: number;
  /** The whole body must arrive within this, counted from the end of the head; else 408 and close. */
  bodyTimeoutMs: number;
  /** A keep-alive connection with no request for this long is closed; also bounds a response the client does not read. */
  idleTimeoutMs: number;
  /** Open connections served at once; one more gets 503 and is closed. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: Readonly<TransportLimits> = Object.freeze({
  maxBodyBytes: 32 * 1024 * 1024,
  maxBodyBytesInFlight: 128 * 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  maxConnections: 256,
});

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

export type ListenAddress = { host: string; port: number } | { socketPath: string };

export interface HttpServer {
  /** Resolves to where it listens: 'http://127.0.0.1:8200', 'https://[::1]:8200' or 'unix:///path' (VAULT_ADDR's form for a socket). */
  listen(where: ListenAddress): Promise<string>;
  /** Stop accepting, let in-flight requests finish (answered with Connection: close), close idle connections. */
  close(): Promise<void>;
  /** New connections use this pair from now on (SIGHUP reload); open ones keep theirs. */
  setTls(tls: TlsPair): void;
  readonly openConnections: number;
  /** Bytes request bodies hold now, being read or with the handler (at most maxBodyBytesInFlight). */
  readonly bodyBytesInFlight: number;
}

export interface HttpServerOptions {
  limits?: Partial<TransportLimits>;
  tls?: TlsPair;
  /**
   * Told about a handler that threw or returned a response that cannot be
   * written (answered 500). The integrator maps its errors before this; the
   * hook is for a log line. The error may hold anything: never echo it to a client.
   */
  onHandlerError?: (error: unknown, req: HttpRequest) => void;
}
