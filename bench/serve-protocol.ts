/**
 * What the serve bench's two processes share: the secrets' names and values
 * (so the load client checks every response against the value written
 * without being sent it), and the messages on the client's stdin and stdout
 * (one JSON object a line).
 */
import { nameOf, valueOf } from './data.js';

/** The KV mount the bench's servers use (the default). */
export const MOUNT = 'secret';

/**
 * The JSON text written as secret `i`: what a Vault KV v2 read answers in
 * `data.data`, byte for byte (the server returns the `data` object as sent).
 */
export function valueTextOf(i: number): string {
  return `{"password":"${Buffer.from(valueOf(i, 24)).toString('hex')}","index":${i}}`;
}

/** The request path of secret `i`. */
export function readPathOf(i: number): string {
  return `/v1/${MOUNT}/data/${nameOf(i)}`;
}

/**
 * What a KV v2 read of secret `i` must contain: its `data` member, the value
 * as written, followed by the version metadata (the envelope's key order).
 */
export function expectedFragmentOf(i: number): string {
  return `"data":{"data":${valueTextOf(i)},"metadata":`;
}

/** Sent once, first: who to ask and what for. */
export interface InitMessage {
  op: 'init';
  token: string;
  /** Secrets 0..rows-1 exist, each holding valueTextOf(i). */
  rows: number;
}

/** One timed run against one server: `concurrency` keep-alive connections, each with one request in flight. */
export interface RunMessage {
  op: 'run';
  port: number;
  concurrency: number;
  /** Requests before the timed window (connections opened, JIT warm). */
  warmMs: number;
  /** The timed window: requests started in it are counted. */
  ms: number;
}

export type ClientMessage = InitMessage | RunMessage | { op: 'exit' };

export interface RunResult {
  op: 'result';
  /** Requests started in the timed window, all answered and checked. */
  requests: number;
  /** From the window's start to the last of those answers. */
  elapsedMs: number;
  /** Every request answered, the warm-up's too (what the server's CPU time is divided by). */
  allRequests: number;
  /** Each timed request's latency in ms, as a base64 Float32Array (see decodeLatencies). */
  latencies: string;
}

export interface ClientError {
  op: 'error';
  message: string;
}

export function encodeLatencies(ms: Float32Array): string {
  return Buffer.from(ms.buffer, ms.byteOffset, ms.byteLength).toString('base64');
}

export function decodeLatencies(text: string): Float32Array {
  const b = Buffer.from(text, 'base64');
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
