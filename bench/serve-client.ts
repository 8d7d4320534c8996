/**
 * The serve bench's load client: a process of its own (so it never shares
 * an event loop with the server or with the bench's library side), driven
 * by JSON lines on stdin (serve-protocol.ts). Each run keeps `concurrency`
 * keep-alive connections busy with one KV read each in flight, over a small
 * HTTP/1.1 client on node:net: a request is a few header lines, a response
 * is framed by its Content-Length (the server always sends one). Every
 * response is checked (status 200, the value written for that name) before
 * it counts; a wrong one ends the run with an error.
 */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { readOrder } from './data.js';
import { encodeLatencies, expectedFragmentOf, readPathOf, type ClientMessage, type RunMessage, type RunResult } from './serve-protocol.js';

interface Answer {
  status: number;
  body: string;
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** One keep-alive connection with at most one request in flight. */
class Connection {
  #buf: Buffer = Buffer.alloc(0);
  #waiting: { resolve: (a: Answer) => void; reject: (e: Error) => void } | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => this.#fail(new Error('the server closed the connection')));
  }

  static open(port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  request(text: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error('connection closed'));
        return;
      }
      this.#waiting = { resolve, reject };
      this.socket.write(text, 'latin1');
    });
  }

  #fail(e: Error): void {
    this.closed = true;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.reject(e);
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const end = this.#buf.indexOf(HEAD_END);
    if (end < 0) return;
    const head = this.#buf.toString('latin1', 0, end);
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!m) {
      this.#fail(new Error(`a response without Content-Length: ${head.split('\r\n')[0]}`));
      return;
    }
    const bodyStart = end + 4;
    const total = bodyStart + Number(m[1]);
    if (this.#buf.length < total) return;
    if (this.#buf.length > total) {
      this.#fail(new Error('bytes after the response, with no request pipelined'));
      return;
    }
    const status = Number(head.slice(9, 12));
    const body = this.#buf.toString('utf8', bodyStart, total);
    this.#buf = Buffer.alloc(0);
    if (/\r\nconnection:\s*close/i.test(head)) this.closed = true;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.resolve({ status, body });
  }
}

let token = '';
let rows = 0;
let order: Uint32Array = new Uint32Array(0);
let expected: string[] = [];
const pools = new Map<number, Connection[]>();
const requestTexts = new Map<number, string[]>();
let orderPos = 0;

async function connections(port: number, n: number): Promise<Connection[]> {
  let pool = pools.get(port);
  if (!pool) pools.set(port, (pool = []));
  for (let k = 0; k < n; k++) {
    const c = pool[k];
    if (c === undefined || c.closed) {
      c?.socket.destroy();
      pool[k] = await Connection.open(port);
    }
  }
  return pool.slice(0, n);
}

function requestsFor(port: number): string[] {
  let texts = requestTexts.get(port);
  if (!texts) {
    texts = Array.from({ length: rows }, (_, i) => `GET ${readPathOf(i)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Vault-Token: ${token}\r\n\r\n`);
    requestTexts.set(port, texts);
  }
  return texts;
}

async function run(m: RunMessage): Promise<RunResult> {
  const conns = await connections(m.port, m.concurrency);
  const texts = requestsFor(m.port);
  const start = performance.now() + m.warmMs;
  const end = start + m.ms;
  let lat = new Float32Array(1 << 14);
  let count = 0;
  let all = 0;
  let lastDone = start;
  const worker = async (conn: Connection): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      const i = order[orderPos++ % order.length]!;
      const a = await conn.request(texts[i]!);
      const t1 = performance.now();
      if (a.status !== 200) throw new Error(`GET ${readPathOf(i)} answered ${a.status}: ${a.body.slice(0, 200)}`);
      if (!a.body.includes(expected[i]!)) throw new Error(`GET ${readPathOf(i)} did not answer the value written`);
      all++;
      if (t0 >= start) {
        if (count === lat.length) {
          const bigger = new Float32Array(lat.length * 2);
          bigger.set(lat);
          lat = bigger;
        }
        lat[count++] = t1 - t0;
        lastDone = t1;
      }
    }
  };
  await Promise.all(conns.map(worker));
  return { op: 'result', requests: count, allRequests: all, elapsedMs: Math.max(lastDone, end) - start, latencies: encodeLatencies(lat.subarray(0, count)) };
}

function reply(o: object): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const m = JSON.parse(line) as ClientMessage;
  try {
    if (m.op === 'exit') break;
    if (m.op === 'init') {
      token = m.token;
      rows = m.rows;
      order = readOrder(Math.max(100_000, rows * 4), rows, 7);
      expected = Array.from({ length: rows }, (_, i) => expectedFragmentOf(i));
      requestTexts.clear();
      reply({ op: 'ready' });
    } else {
      reply(await run(m));
    }
  } catch (e) {
    reply({ op: 'error', message: (e as Error).message });
  }
}
for (const pool of pools.values()) for (const c of pool) c.socket.destroy();
