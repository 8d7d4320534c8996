/**
 * Turns a handler's HttpResponse into bytes on the socket: status line,
 * the handler's fields, then the framing fields the transport owns
 * (Content-Length, Connection, Keep-Alive, Date), then the body.
 *
 * A body is never sent for HEAD, 204 or 304; a HEAD response still carries
 * the Content-Length its GET would have. The head and a string body go out
 * in one write, a Buffer body with the head in one corked writev.
 */
import type { Socket } from 'node:net';
import { StoreError } from '../../errors.js';
import type { HttpResponse } from './types.js';

export interface ResponseFraming {
  /** The request was HEAD: fields as for GET, no body. */
  headRequest: boolean;
  keepAlive: boolean;
  /** The `Keep-Alive: timeout=N` line (CRLF-terminated) sent on keep-alive responses, or ''. */
  keepAliveLine: string;
}

/** Written before reading the body of a request that sent `Expect: 100-continue`. */
export const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/** The only media type Vault clients accept for error bodies, spelled exactly. */
export const JSON_TYPE = 'application/json';

/** An error the transport answers itself: `{"errors":["<text>"]}`, with `headers` besides its type. */
export function errorResponse(status: number, message: string, headers?: Record<string, string>): HttpResponse {
  return { status, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify({ errors: [message] }) };
}

const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 412: 'Precondition Failed', 413: 'Content Too Large',
  415: 'Unsupported Media Type', 417: 'Expectation Failed', 429: 'Too Many Requests',
  431: 'Request Header Fields Too Large', 472: 'Data Recovery Mode Replication Secondary', 473: 'Performance Standby',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

const statusLines = new Map<number, string>();

function statusLine(status: number): string {
  let line = statusLines.get(status);
  if (line === undefined) {
    line = `HTTP/1.1 ${status} ${REASONS[status] ?? ''}\r\n`;
    statusLines.set(status, line);
  }
  return line;
}

/** Names the transport writes itself; a handler's own value for them is dropped. */
const OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Tab, space and visible ASCII: no CR or LF that would let a value start a field of its own. */
const SAFE_VALUE = /^[\t\x20-\x7e]*$/;

let dateLine = '';
let dateSecond = -1;

/** `Date: ...\r\n`, rebuilt at most once a second. */
function currentDateLine(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}

function bodyAllowed(status: number): boolean {
  return status !== 204 && status !== 304;
}

/** The lines of frozen field sets, checked and written once (handlers share one set for every JSON response). */
const frozenLines = new WeakMap<Readonly<Record<string, string>>, string>();

/** A handler's fields as header lines, those the transport owns left out. @throws E_USAGE for a field that cannot be sent */
function fieldLines(fields: Readonly<Record<string, string>>): string {
  let lines = frozenLines.get(fields);
  if (lines !== undefined) return lines;
  lines = '';
  for (const name in fields) {
    const value = fields[name];
    if (typeof value !== 'string' || !TOKEN.test(name) || !SAFE_VALUE.test(value)) throw new StoreError('E_USAGE', `response header ${JSON.stringify(name)} cannot be sent`);
    if (OWNED.has(name.toLowerCase())) continue;
    lines += `${name}: ${value}\r\n`;
  }
  if (Object.isFrozen(fields)) frozenLines.set(fields, lines);
  return lines;
}

export interface SerializedResponse {
  head: string;
  body: string | Buffer | undefined;
}

/**
 * The bytes of a response, or StoreError E_USAGE when the handler's
 * response cannot be written as given (bad status, unsafe field).
 */
export function serializeResponse(response: HttpResponse, framing: ResponseFraming): SerializedResponse {
  const { status } = response;
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new StoreError('E_USAGE', `response status ${String(status)} is not 200-599`);
  let head = statusLine(status);
  const fields = response.headers;
  if (fields !== undefined) head += fieldLines(fields);
  let body = response.body;
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) throw new StoreError('E_USAGE', 'response body must be a string or a Buffer');
  if (bodyAllowed(status)) {
    const length = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    head += `Content-Length: ${length}\r\n`;
  }
  if (!bodyAllowed(status) || framing.headRequest || (body !== undefined && body.length === 0)) body = undefined;
  head += framing.keepAlive ? `Connection: keep-alive\r\n${framing.keepAliveLine}` : 'Connection: close\r\n';
  head += currentDateLine();
  head += '\r\n';
  return { head, body };
}

/** Write a serialized response; false when the socket's buffer is full (wait for 'drain'). */
export function writeSerialized(socket: Socket, { head, body }: SerializedResponse): boolean {
  if (body === undefined) return socket.write(head, 'latin1');
  if (typeof body === 'string') return socket.write(head + body, 'utf8');
  socket.cork();
  socket.write(head, 'latin1');
  const flushed = socket.write(body);
  socket.uncork();
  return flushed;
}
