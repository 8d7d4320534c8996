/** The transport of `store serve`: our own HTTP/1.1 over net/tls (see server.ts for why). */
export { createHttpServer } from './server.js';
export { DEFAULT_LIMITS } from './types.js';
export type { HttpHandler, HttpRequest, HttpResponse, HttpServer, HttpServerOptions, ListenAddress, TlsPair, TransportLimits } from './types.js';
