/**
 * An incremental, strict HTTP/1.1 request parser over raw bytes.
 *
 * Bytes go in with `feed`; `next` hands out what they complete, one step at
 * a time, and parses nothing the caller has not asked for (a pipelined
 * request waits, unparsed, until the one before it is answered). It scans
 * Buffers for line ends instead of converting the head to a string and
 * matching it with expressions: a keep-alive GET costs a few `indexOf`s and
 * one short string per field.
 *
 * Strict where leniency lets two parsers disagree about where a request
 * ends (request smuggling) or lets junk through:
 * - lines end in CRLF only; a bare LF or a bare CR is refused (400). Every
 *   client we serve sends CRLF, and a lone LF is exactly where parsers differ;
 * - obsolete line folding (a field line starting with a space or tab) is
 *   refused (400), as is whitespace between a field name and its colon;
 * - Content-Length must be digits, once: a repeat, even of the same value,
 *   is refused (400); so is a second Host field, or none in HTTP/1.1;
 * - Transfer-Encoding together with Content-Length is refused (400), as is
 *   Transfer-Encoding in HTTP/1.0 and chunked applied twice or not last;
 *   any coding but chunked is not implemented (501);
 * - HTTP/1.0 and HTTP/1.1 only (505 for other versions); a method must be a
 *   token, a target visible ASCII without '#' (400).
 * Empty lines before a request line are skipped, as RFC 9112 asks.
 *
 * Given a budget shared with other connections, body buffers are taken from
 * it as they grow (a body that does not fit is refused with 503), and given
 * back on `releaseBodies`, or at once when the request is refused.
 */
import type { BodyBudget } from './body-budget.js';
import { splitTarget } from './request-target.js';

export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export interface RequestHead {
  method: string;
  target: string;
  path: string;
  query: URLSearchParams;
  /** Lower-case names, repeats joined with ', '; no prototype, so any name is a plain key. */
  headers: Record<string, string>;
  http10: boolean;
  /** Whether the client allows the connection to stay open after the response. */
  keepAlive: boolean;
  /** 'continue' for `Expect: 100-continue`, 'other' for any other expectation (HTTP/1.1 only). */
  expect: 'none' | 'continue' | 'other';
  framing: BodyFraming;
}

export interface ParsedRequest {
  head: RequestHead;
  body: Buffer;
}

export type ParseStep =
  /** Nothing more can be parsed until more bytes arrive. */
  | { type: 'more' }
  /** A head is complete and a body follows (not returned for requests without one). */
  | { type: 'head'; head: RequestHead }
  | { type: 'request'; request: ParsedRequest }
  /** The bytes are not an acceptable request: answer `status` and close. The parser is done. */
  | { type: 'reject'; status: number; message: string };

export interface ParserLimits {
  maxHeaderBytes: number;
  maxBodyBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const SEMICOLON = 0x3b;

/** A chunk-size line (size and extensions) longer than this is refused. */
const MAX_CHUNK_LINE_BYTES = 1024;
/**
 * Chunked framing (size lines with their extensions, the CRLF after each
 * chunk's data) may exceed the data it frames by at most this much; more is
 * refused (413). So a chunked body's wire bytes stay within twice the body
 * limit plus this, and a client cannot make the parser work through
 * unbounded framing: many tiny chunks, or padded extensions, are refused.
 */
export const CHUNK_FRAMING_SLACK_BYTES = 16 * 1024;
/** The first allocation of a body buffer; it grows by doubling up to the body's limit. */
const MIN_BODY_CAPACITY = 4096;
const BUDGET_SPENT = 'too many request bodies in flight';

const EMPTY = Buffer.alloc(0);
const MORE: ParseStep = Object.freeze({ type: 'more' });

/** tchar of RFC 9110: the bytes a method or a field name may hold. */
const TOKEN = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

/** Bytes a request-target may hold: visible ASCII, but not '#' (a fragment is never sent). */
const TARGET = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) TARGET[c] = 1;
TARGET[0x23] = 0;

/** Bytes a field value may hold: tab, visible ASCII, space, and obs-text (0x80 and up); no other control. */
const FIELD_VALUE = new Uint8Array(256);
FIELD_VALUE[HTAB] = 1;
for (let c = 0x20; c <= 0xff; c++) FIELD_VALUE[c] = 1;
FIELD_VALUE[0x7f] = 0;

/** Where the parser is in the current request (plain numbers: cheap to compare on every byte batch). */
const Phase = {
  Head: 0,
  Length: 1,
  ChunkSize: 2,
  ChunkData: 3,
  ChunkDataEnd: 4,
  Trailer: 5,
  Rejected: 6,
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** Thrown inside the parser only, turned into a 'reject' step by `next`. */
class Refusal {
  constructor(readonly status: number, readonly message: string) {}
}

function refuse(status: number, message: string): never {
  throw new Refusal(status, message);
}

export class RequestParser {
  readonly #limits: ParserLimits;
  /** Bytes being parsed, from #pos on; later arrivals wait in #queued until `next` needs them. */
  #buf: Buffer = EMPTY;
  #pos = 0;
  #queued: Buffer[] = [];
  #queuedBytes = 0;

  #phase: Phase = Phase.Head;
  /** Head (or trailer) bytes consumed so far for the current request. */
  #headBytes = 0;
  #method = '';
  #target = '';
  #http10 = false;
  #headers: Record<string, string> = Object.create(null) as Record<string, string>;
  #head: RequestHead | undefined;
  /** Body bytes still to come in the current Content-Length body or chunk. */
  #remaining = 0;
  /**
   * The body so far, copied out of the socket's buffers (never a view into
   * them, which would keep each whole read alive): its first #bodyBytes
   * bytes; its size at most twice that (or MIN_BODY_CAPACITY), and never
   * more than the body's limit.
   */
  #body: Buffer = EMPTY;
  #bodyBytes = 0;
  /** Chunked framing bytes of the current body (see CHUNK_FRAMING_SLACK_BYTES). */
  #framingBytes = 0;
  readonly #budget: BodyBudget | undefined;
  /** What this parser has taken from the budget: the current body buffer, and bodies handed out before `releaseBodies`. */
  #held = 0;

  constructor(limits: ParserLimits, budget?: BodyBudget) {
    this.#limits = limits;
    this.#budget = budget;
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0 || this.#phase === Phase.Rejected) return;
    this.#queued.push(chunk);
    this.#queuedBytes += chunk.length;
  }

  /** Bytes received and not yet parsed. */
  get bufferedBytes(): number {
    return this.#buf.length - this.#pos + this.#queuedBytes;
  }

  /**
   * Some bytes of a request not yet complete have arrived (a connection in
   * this state is not idle). Empty lines before a request line do not count:
   * they are skipped (and count against the head limit), but a client that
   * ends a request with an extra CRLF has not started the next one.
   */
  get inProgress(): boolean {
    return this.#phase !== Phase.Head || this.#method !== '' || this.#bufferedNonEmpty();
  }

  /** Whether a byte other than CR or LF waits unparsed (a partial line). */
  #bufferedNonEmpty(): boolean {
    const buf = this.#buf;
    for (let i = this.#pos; i < buf.length; i++) if (buf[i] !== CR && buf[i] !== LF) return true;
    for (const q of this.#queued) for (let i = 0; i < q.length; i++) if (q[i] !== CR && q[i] !== LF) return true;
    return false;
  }

  /** Bytes the parser holds: its unparsed input and its body buffer (for tests of its memory bound). */
  get retainedBytes(): number {
    let n = this.#buf.length + this.#body.length;
    for (const q of this.#queued) n += q.length;
    return n;
  }

  /**
   * Give back to the budget what the bodies held: once the body last handed
   * out is no longer needed (its handler has returned), or when the
   * connection is gone (a body being read is then dropped with the parser).
   */
  releaseBodies(): void {
    this.#budget?.give(this.#held);
    this.#held = 0;
  }

  /** The head is complete and its body is being read. */
  get inBody(): boolean {
    return this.#phase !== Phase.Head && this.#phase !== Phase.Rejected;
  }

  next(): ParseStep {
    if (this.#phase === Phase.Rejected) return MORE;
    this.#takeQueued();
    try {
      return this.#step();
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      this.#phase = Phase.Rejected;
      this.#buf = EMPTY;
      this.#pos = 0;
      this.#queued = [];
      this.#queuedBytes = 0;
      this.#body = EMPTY;
      this.#bodyBytes = 0;
      this.releaseBodies();
      return { type: 'reject', status: e.status, message: e.message };
    }
  }

  #takeQueued(): void {
    if (this.#queuedBytes === 0) return;
    const left = this.#buf.length - this.#pos;
    if (left === 0 && this.#queued.length === 1) this.#buf = this.#queued[0]!;
    else if (left === 0) this.#buf = Buffer.concat(this.#queued, this.#queuedBytes);
    else this.#buf = Buffer.concat([this.#buf.subarray(this.#pos), ...this.#queued], left + this.#queuedBytes);
    this.#pos = 0;
    this.#queued = [];
    this.#queuedBytes = 0;
  }

  #step(): ParseStep {
    for (;;) {
      switch (this.#phase) {
        case Phase.Head: {
          const head = this.#readHead();
          if (head === undefined) return MORE;
          if (head.framing.kind === 'none') return this.#complete(head);
          this.#head = head;
          if (head.framing.kind === 'length') {
            this.#phase = Phase.Length;
            this.#remaining = head.framing.length;
          } else {
            this.#phase = Phase.ChunkSize;
          }
          return { type: 'head', head };
        }
        case Phase.Length:
          this.#readBodyBytes();
          if (this.#remaining > 0) return MORE;
          return this.#complete(this.#head!);
        case Phase.ChunkSize:
          if (!this.#readChunkSize()) return MORE;
          break;
        case Phase.ChunkData:
          this.#readBodyBytes();
          if (this.#remaining > 0) return MORE;
          this.#phase = Phase.ChunkDataEnd;
          break;
        case Phase.ChunkDataEnd: {
          if (this.#buf.length - this.#pos < 2) return MORE;
          if (this.#buf[this.#pos] !== CR || this.#buf[this.#pos + 1] !== LF) refuse(400, 'malformed chunked body: chunk data not followed by CRLF');
          this.#pos += 2;
          this.#countFraming(2);
          this.#phase = Phase.ChunkSize;
          break;
        }
        case Phase.Trailer:
          if (!this.#readTrailer()) return MORE;
          return this.#complete(this.#head!);
        case Phase.Rejected:
          return MORE;
      }
    }
  }

  #complete(head: RequestHead): ParseStep {
    const body = this.#bodyBytes === 0 ? EMPTY : this.#body.subarray(0, this.#bodyBytes);
    this.#phase = Phase.Head;
    this.#headBytes = 0;
    this.#method = '';
    this.#headers = Object.create(null) as Record<string, string>;
    this.#head = undefined;
    this.#body = EMPTY;
    this.#bodyBytes = 0;
    this.#framingBytes = 0;
    if (this.#pos === this.#buf.length) {
      // Let go of the socket's chunk now that everything in it is parsed.
      this.#buf = EMPTY;
      this.#pos = 0;
    }
    return { type: 'request', request: { head, body } };
  }

  /** Consume complete head lines; the finished head, or undefined when more bytes are needed. */
  #readHead(): RequestHead | undefined {
    for (;;) {
      const start = this.#pos;
      const end = this.#nextLine('request head', 'malformed request');
      if (end < 0) return undefined;
      if (this.#method === '') {
        if (end > start) this.#readRequestLine(start, end); // else an empty line before the request: skipped
      } else if (end === start) {
        return this.#finishHead();
      } else {
        this.#readField(start, end, this.#headers);
      }
    }
  }

  #readRequestLine(start: number, end: number): void {
    const buf = this.#buf;
    let i = start;
    while (i < end && TOKEN[buf[i]!] === 1) i++;
    if (i === start || i === end || buf[i] !== SP) refuse(400, 'malformed request line');
    const methodEnd = i;
    const targetStart = ++i;
    while (i < end && TARGET[buf[i]!] === 1) i++;
    if (i === targetStart || i === end || buf[i] !== SP) refuse(400, 'malformed request line');
    const targetEnd = i++;
    // HTTP-version = "HTTP/" DIGIT "." DIGIT, exactly.
    if (end - i !== 8 || !startsWithHttp(buf, i) || !isDigit(buf[i + 5]!) || buf[i + 6] !== 0x2e || !isDigit(buf[i + 7]!)) {
      refuse(400, 'malformed request line');
    }
    const major = buf[i + 5]! - 0x30;
    const minor = buf[i + 7]! - 0x30;
    if (major !== 1 || minor > 1) refuse(505, 'HTTP version not supported: only HTTP/1.0 and HTTP/1.1 are');
    this.#http10 = minor === 0;
    this.#method = buf.toString('latin1', start, methodEnd);
    this.#target = buf.toString('latin1', targetStart, targetEnd);
  }

  /** One `name: value` line; added to `into` (trailer fields are checked the same way, then dropped). */
  #readField(start: number, end: number, into: Record<string, string> | undefined): void {
    const buf = this.#buf;
    const first = buf[start];
    if (first === SP || first === HTAB) refuse(400, 'obsolete line folding is not accepted');
    let i = start;
    while (i < end && TOKEN[buf[i]!] === 1) i++;
    if (i === start || buf[i] !== COLON) refuse(400, 'malformed header field');
    const nameEnd = i++;
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    let valueEnd = end;
    while (valueEnd > i && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HTAB)) valueEnd--;
    for (let j = i; j < valueEnd; j++) {
      if (FIELD_VALUE[buf[j]!] !== 1) refuse(400, 'malformed header field: control character in a value');
    }
    if (into === undefined) return;
    const name = buf.toString('latin1', start, nameEnd).toLowerCase();
    const value = buf.toString('latin1', i, valueEnd);
    const previous = into[name];
    if (previous === undefined) {
      into[name] = value;
    } else {
      if (name === 'content-length') refuse(400, 'more than one Content-Length');
      if (name === 'host') refuse(400, 'more than one Host');
      into[name] = `${previous}, ${value}`;
    }
  }

  #finishHead(): RequestHead {
    const headers = this.#headers;
    const http10 = this.#http10;
    if (!http10 && headers.host === undefined) refuse(400, 'missing Host header');
    const framing = this.#framing(headers, http10);
    const split = splitTarget(this.#target);
    if (split === 'form') refuse(400, 'malformed request target');
    if (split === 'escape') refuse(400, 'invalid percent-encoding in the request path');
    const connection = headers.connection;
    let keepAlive = !http10;
    if (connection !== undefined) {
      const tokens = connection.toLowerCase();
      if (hasToken(tokens, 'close')) keepAlive = false;
      else if (http10 && hasToken(tokens, 'keep-alive')) keepAlive = true;
    }
    let expect: RequestHead['expect'] = 'none';
    // RFC 9110: an Expect in an HTTP/1.0 request is ignored.
    if (headers.expect !== undefined && !http10) expect = headers.expect.toLowerCase() === '100-continue' ? 'continue' : 'other';
    return { method: this.#method, target: this.#target, path: split.path, query: split.query, headers, http10, keepAlive, expect, framing };
  }

  #framing(headers: Record<string, string>, http10: boolean): BodyFraming {
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    if (te !== undefined) {
      if (cl !== undefined) refuse(400, 'Transfer-Encoding and Content-Length together');
      if (http10) refuse(400, 'Transfer-Encoding in an HTTP/1.0 request');
      const codings = te.split(',').map((c) => c.trim().toLowerCase());
      if (codings.some((c) => c === '')) refuse(400, 'malformed Transfer-Encoding');
      const chunked = codings.filter((c) => c === 'chunked').length;
      if (chunked > 1 || (chunked === 1 && codings[codings.length - 1] !== 'chunked')) refuse(400, 'malformed Transfer-Encoding: chunked must be applied once, last');
      if (codings.length > 1 || chunked === 0) refuse(501, 'only the chunked transfer coding is supported');
      return { kind: 'chunked' };
    }
    if (cl === undefined) return { kind: 'none' };
    if (cl.length === 0) refuse(400, 'invalid Content-Length');
    let length = 0;
    for (let i = 0; i < cl.length; i++) {
      const c = cl.charCodeAt(i);
      if (!isDigit(c)) refuse(400, 'invalid Content-Length');
      length = length * 10 + (c - 0x30);
      if (length > this.#limits.maxBodyBytes) refuse(413, `request body larger than ${this.#limits.maxBodyBytes} bytes`);
    }
    return length === 0 ? { kind: 'none' } : { kind: 'length', length };
  }

  /** Move what has arrived of the current Content-Length body or chunk into the body. */
  #readBodyBytes(): void {
    const available = this.#buf.length - this.#pos;
    const take = available < this.#remaining ? available : this.#remaining;
    if (take === 0) return;
    const need = this.#bodyBytes + take;
    if (need > this.#body.length) {
      // Grow by doubling, up to what this body can hold: its declared length, or the limit.
      const head = this.#head!;
      const cap = head.framing.kind === 'length' ? head.framing.length : this.#limits.maxBodyBytes;
      const size = Math.min(cap, Math.max(need, this.#body.length * 2, MIN_BODY_CAPACITY));
      this.#hold(size - this.#body.length);
      const grown = Buffer.allocUnsafe(size);
      this.#body.copy(grown, 0, 0, this.#bodyBytes);
      this.#body = grown;
    }
    this.#buf.copy(this.#body, this.#bodyBytes, this.#pos, this.#pos + take);
    this.#pos += take;
    this.#remaining -= take;
    this.#bodyBytes += take;
    if (this.#pos === this.#buf.length) {
      this.#buf = EMPTY;
      this.#pos = 0;
    }
  }

  /** Take `bytes` more for the body buffer from the budget, before allocating them; refused (503) when they do not fit. */
  #hold(bytes: number): void {
    if (this.#budget === undefined) return;
    if (!this.#budget.take(bytes)) refuse(503, BUDGET_SPENT);
    this.#held += bytes;
  }

  /** chunk-size [ chunk-ext ] CRLF; false when the line is not complete yet. */
  #readChunkSize(): boolean {
    const buf = this.#buf;
    const start = this.#pos;
    const lf = buf.indexOf(LF, start);
    if (lf < 0) {
      if (buf.length - start > MAX_CHUNK_LINE_BYTES) refuse(400, 'malformed chunked body: chunk-size line too long');
      return false;
    }
    if (lf + 1 - start > MAX_CHUNK_LINE_BYTES) refuse(400, 'malformed chunked body: chunk-size line too long');
    if (lf === start || buf[lf - 1] !== CR) refuse(400, 'malformed chunked body: lines must end in CRLF');
    const end = lf - 1;
    const max = this.#limits.maxBodyBytes;
    let size = 0;
    let i = start;
    for (; i < end; i++) {
      const digit = hexValue(buf[i]!);
      if (digit < 0) break;
      size = size * 16 + digit;
      if (this.#bodyBytes + size > max) refuse(413, `request body larger than ${max} bytes`);
    }
    if (i === start) refuse(400, 'malformed chunked body: no chunk size');
    while (i < end && (buf[i] === SP || buf[i] === HTAB)) i++;
    if (i < end) {
      // A chunk extension: meaningless to us, checked only for bytes that do not belong in it.
      if (buf[i] !== SEMICOLON) refuse(400, 'malformed chunked body: bad chunk size');
      for (; i < end; i++) if (FIELD_VALUE[buf[i]!] !== 1) refuse(400, 'malformed chunked body: control character in a chunk extension');
    }
    this.#pos = lf + 1;
    this.#countFraming(lf + 1 - start);
    if (size === 0) {
      this.#phase = Phase.Trailer;
      this.#headBytes = 0;
    } else {
      this.#phase = Phase.ChunkData;
      this.#remaining = size;
    }
    return true;
  }

  /** Count chunked framing; refused (413) once it outgrows the data by more than the slack. */
  #countFraming(bytes: number): void {
    this.#framingBytes += bytes;
    if (this.#framingBytes > this.#bodyBytes + CHUNK_FRAMING_SLACK_BYTES) {
      refuse(413, `chunked framing too large for its data (over ${CHUNK_FRAMING_SLACK_BYTES} bytes more than the body): chunks too small or chunk extensions too long`);
    }
  }

  /** Trailer fields until the empty line; they are checked, counted against the head limit, and dropped. */
  #readTrailer(): boolean {
    for (;;) {
      const start = this.#pos;
      const end = this.#nextLine('chunked trailer', 'malformed chunked body');
      if (end < 0) return false;
      if (end === start) return true;
      this.#readField(start, end, undefined);
    }
  }

  /**
   * The next CRLF-ended line of a head or trailer, counted against the head
   * limit (431 past it): where its text ends (before the CR), the position
   * moved past it; -1 when it has not all arrived yet.
   */
  #nextLine(what: string, malformed: string): number {
    const buf = this.#buf;
    const max = this.#limits.maxHeaderBytes;
    const start = this.#pos;
    const lf = buf.indexOf(LF, start);
    if (lf < 0) {
      if (this.#headBytes + (buf.length - start) > max) refuse(431, `${what} larger than ${max} bytes`);
      return -1;
    }
    this.#headBytes += lf + 1 - start;
    if (this.#headBytes > max) refuse(431, `${what} larger than ${max} bytes`);
    if (lf === start || buf[lf - 1] !== CR) refuse(400, `${malformed}: lines must end in CRLF`);
    this.#pos = lf + 1;
    return lf - 1;
  }
}

/** The five bytes 'HTTP/' at `at`. */
function startsWithHttp(buf: Buffer, at: number): boolean {
  return buf[at] === 0x48 && buf[at + 1] === 0x54 && buf[at + 2] === 0x54 && buf[at + 3] === 0x50 && buf[at + 4] === 0x2f;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Whether a lower-case, comma-separated list holds `token` as one of its elements. */
function hasToken(list: string, token: string): boolean {
  if (list === token) return true;
  let from = 0;
  for (;;) {
    const at = list.indexOf(token, from);
    if (at < 0) return false;
    const before = list.slice(0, at).trimEnd();
    const after = list.slice(at + token.length).trimStart();
    if ((before === '' || before.endsWith(',')) && (after === '' || after.startsWith(','))) return true;
    from = at + 1;
  }
}
