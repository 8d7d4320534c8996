/**
 * One client connection: bytes in, requests to the handler one at a time
 * (pipelined requests wait their turn, so responses leave in order), bytes
 * out, and the timers that keep a slow or silent client from holding the
 * connection forever.
 *
 * Timers, one at a time:
 * - head: a new connection, or a keep-alive one once the first byte of its
 *   next request arrives, has headersTimeoutMs for the whole head (408);
 * - body: from the end of the head, bodyTimeoutMs for the whole body (408);
 * - idle: a keep-alive connection between requests is closed after idleTimeoutMs;
 * - drain: a response the client does not read within idleTimeoutMs ends the
 *   connection; the last response (Connection: close) gets the same time to
 *   be flushed before the connection is half-closed;
 * - linger: once the last response is flushed, the connection is half-closed and what
 *   the client still sends is read and dropped for a moment, so that a
 *   close with unread bytes does not reset the connection before the client
 *   has read the answer (a 413 sent while the body is still coming).
 *
 * A request's body is counted against the server's body budget from its
 * first byte until its handler returns, or until the connection closes if
 * no handler has it.
 */
import type { Socket } from 'node:net';
import type { BodyBudget } from './body-budget.js';
import { RequestParser, type ParsedRequest } from './request-parser.js';
import { CONTINUE, errorResponse, serializeResponse, writeSerialized, type SerializedResponse } from './response-writer.js';
import type { HttpHandler, HttpRequest, HttpResponse, TransportLimits } from './types.js';

/** Stop reading from a client whose pipelined bytes pile up this far while a request is being handled. */
const PAUSE_AT_BYTES = 64 * 1024;
/** How long a finished connection reads and drops what the client still sends before it is cut. */
export const LINGER_MS = 2000;

const INTERNAL_ERROR: HttpResponse = errorResponse(500, 'internal error while handling the request');
const EXPECTATION_FAILED: HttpResponse = errorResponse(417, 'only "Expect: 100-continue" is supported');
/** On the parser's 503 (the body budget is spent): other requests will soon give theirs back. */
const RETRY_SOON = Object.freeze({ 'retry-after': '1' });

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly handler: HttpHandler;
  readonly limits: TransportLimits;
  /** Shared by all connections: what their request bodies may hold together. */
  readonly bodyBudget: BodyBudget;
  /** `Keep-Alive: timeout=N\r\n`, precomputed. */
  readonly keepAliveLine: string;
  /** The server is closing: answer what is in flight with Connection: close, accept nothing new. */
  readonly closing: boolean;
  handlerFailed(error: unknown, req: HttpRequest): void;
  forget(connection: Connection): void;
}

type TimerKind = 'head' | 'body' | 'idle' | 'drain' | 'linger';

export class Connection {
  readonly #socket: Socket;
  readonly #host: ConnectionHost;
  readonly #parser: RequestParser;
  readonly #remoteAddress: string;
  /** A request is with the handler, or its response waits for the socket to drain. */
  #busy = false;
  /** The last response is out (or none will come): the socket is half-closed and lingering. */
  #ending = false;
  #peerEnded = false;
  #paused = false;
  /** The server is closing and destroyWhenFlushed watches the socket: no timer of ours any more. */
  #flushWatched = false;
  #served = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerKind: TimerKind | undefined;

  constructor(socket: Socket, host: ConnectionHost, remoteAddress: string) {
    this.#socket = socket;
    this.#host = host;
    this.#remoteAddress = remoteAddress;
    this.#parser = new RequestParser(host.limits, host.bodyBudget);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.#onPeerEnd());
    socket.on('error', () => undefined); // a client that resets: 'close' follows and cleans up
    socket.on('close', () => {
      this.#clearTimer();
      // A handler still at work has the body: #dispatch gives it back when the handler returns.
      if (!this.#busy) this.#parser.releaseBodies();
      host.forget(this);
    });
    this.#arm('head', host.limits.headersTimeoutMs);
  }

  /** The server is closing: drop an idle connection now; one with a request under way finishes it first. */
  shutdown(): void {
    if (this.#ending) {
      this.#destroyWhenFlushed();
      return;
    }
    if (this.#busy || this.#parser.inProgress) return; // its response will carry Connection: close
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#ending) return; // lingering: dropped
    this.#parser.feed(chunk);
    if (!this.#busy) {
      this.#pump();
    } else if (!this.#paused && this.#parser.bufferedBytes > PAUSE_AT_BYTES) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #onPeerEnd(): void {
    this.#peerEnded = true;
    if (!this.#busy && !this.#ending) this.#pump();
  }

  /** Parse and act until a request goes to the handler, more bytes are needed, or the connection ends. */
  #pump(): void {
    while (!this.#ending) {
      const step = this.#parser.next();
      switch (step.type) {
        case 'more':
          this.#waitForBytes();
          return;
        case 'reject':
          this.#answerAndEnd(errorResponse(step.status, step.message, step.status === 503 ? RETRY_SOON : undefined));
          return;
        case 'head':
          if (step.head.expect === 'other') {
            this.#answerAndEnd(EXPECTATION_FAILED);
            return;
          }
          this.#arm('body', this.#host.limits.bodyTimeoutMs);
          // A client that sent its body without waiting needs no go-ahead.
          if (step.head.expect === 'continue' && this.#parser.bufferedBytes === 0) this.#socket.write(CONTINUE);
          break;
        case 'request':
          if (step.request.head.expect === 'other') {
            this.#answerAndEnd(EXPECTATION_FAILED);
            return;
          }
          this.#dispatch(step.request).catch(() => this.#socket.destroy());
          return;
      }
    }
  }

  #waitForBytes(): void {
    const parser = this.#parser;
    if (this.#peerEnded) {
      // The client will send nothing more: a request it left unfinished can never complete.
      if (parser.inProgress) this.#socket.destroy();
      else this.#end();
      return;
    }
    if (!parser.inProgress && this.#host.closing) {
      this.#end();
      return;
    }
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    if (parser.inBody) return; // the body timer runs from the end of the head
    if (parser.inProgress || this.#served === 0) this.#arm('head', this.#host.limits.headersTimeoutMs);
    else this.#arm('idle', this.#host.limits.idleTimeoutMs);
  }

  async #dispatch({ head, body }: ParsedRequest): Promise<void> {
    this.#busy = true;
    this.#served++;
    this.#clearTimer();
    const req: HttpRequest = {
      method: head.method,
      target: head.target,
      path: head.path,
      query: head.query,
      headers: head.headers,
      body,
      remoteAddress: this.#remoteAddress,
    };
    let response: HttpResponse;
    let keepAlive = head.keepAlive;
    try {
      response = await this.#host.handler(req);
    } catch (e) {
      this.#host.handlerFailed(e, req);
      response = INTERNAL_ERROR;
      keepAlive = false;
    }
    this.#parser.releaseBodies(); // the body is not needed any more
    if (this.#socket.destroyed) return; // the client left; 'close' cleans up
    keepAlive &&= !this.#host.closing;
    const headRequest = head.method === 'HEAD';
    let bytes: SerializedResponse;
    try {
      bytes = serializeResponse(response, { headRequest, keepAlive, keepAliveLine: this.#host.keepAliveLine });
    } catch (e) {
      this.#host.handlerFailed(e, req);
      keepAlive = false;
      bytes = serializeResponse(INTERNAL_ERROR, { headRequest, keepAlive, keepAliveLine: '' });
    }
    const flushed = writeSerialized(this.#socket, bytes);
    if (!keepAlive) {
      this.#end();
    } else if (flushed) {
      this.#nextRequest();
    } else {
      this.#arm('drain', this.#host.limits.idleTimeoutMs);
      this.#socket.once('drain', () => this.#nextRequest());
    }
  }

  #nextRequest(): void {
    this.#clearTimer();
    this.#busy = false;
    this.#pump();
  }

  /** An answer of the transport's own (an error), then the end of the connection. */
  #answerAndEnd(response: HttpResponse): void {
    if (this.#socket.writable) writeSerialized(this.#socket, serializeResponse(response, { headRequest: false, keepAlive: false, keepAliveLine: '' }));
    this.#end();
  }

  /** Half-close after the last response and linger, dropping what still arrives (see the module comment). */
  #end(): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#socket.end();
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    if (this.#host.closing) {
      this.#destroyWhenFlushed();
    } else if (this.#socket.writableFinished) {
      this.#arm('linger', LINGER_MS);
    } else {
      // The response is still going out: it gets what a keep-alive one gets to drain, then the linger.
      this.#arm('drain', this.#host.limits.idleTimeoutMs);
      this.#socket.once('finish', () => {
        if (this.#flushWatched || this.#socket.destroyed) return;
        this.#clearTimer();
        this.#arm('linger', LINGER_MS);
      });
    }
  }

  #destroyWhenFlushed(): void {
    if (this.#flushWatched) return;
    this.#flushWatched = true;
    this.#clearTimer();
    destroyWhenFlushed(this.#socket, this.#host.limits.idleTimeoutMs);
  }

  #arm(kind: TimerKind, ms: number): void {
    if (this.#timerKind === kind) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerKind = kind;
    this.#timer = setTimeout(() => this.#onTimeout(kind), ms);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerKind = undefined;
  }

  #onTimeout(kind: TimerKind): void {
    this.#timer = undefined;
    this.#timerKind = undefined;
    switch (kind) {
      case 'head':
        // A connection that never sent a byte gets no answer: there is no request to answer.
        if (this.#parser.inProgress) this.#answerAndEnd(errorResponse(408, 'request head not received in time'));
        else this.#end();
        break;
      case 'body':
        this.#answerAndEnd(errorResponse(408, 'request body not received in time'));
        break;
      case 'idle':
        this.#end();
        break;
      case 'drain':
      case 'linger':
        this.#socket.destroy();
        break;
    }
  }
}

/**
 * Destroy a socket that has been ended once its last bytes are out (at the
 * latest after `flushMs`, the time a client has to read a response):
 * what close() does instead of lingering.
 */
export function destroyWhenFlushed(socket: Socket, flushMs: number): void {
  if (socket.writableFinished || socket.destroyed) {
    socket.destroy();
    return;
  }
  const timer = setTimeout(() => socket.destroy(), flushMs);
  socket.once('finish', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
}
