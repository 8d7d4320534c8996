/**
 * Reading a value from stdin or a file, never more than the store takes:
 * limit+1 bytes are enough to know a value is too large, and reading the rest
 * (200 MiB piped into a store of 1 MiB values) only burns memory before the
 * same refusal.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { StoreError } from '../errors.js';

const CHUNK = 64 * 1024;

function tooLarge(limit: number, where: string): StoreError {
  return new StoreError('E_VALUE_TOO_LARGE', `the value ${where} is larger than ${limit} bytes, the most this store takes; the rest was not read`, [
    'a store takes larger values only if it was made so (store init --max-value-bytes N)',
  ]);
}

/** Copy the chunks into one array and zero them: they hold the secret too. */
function joined(chunks: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
    c.fill(0);
  }
  return out;
}

/**
 * The whole stream, if it holds at most `limit` bytes.
 * @throws StoreError E_VALUE_TOO_LARGE as soon as more than `limit` bytes have come (the stream is then destroyed)
 */
export async function readStreamAtMost(stream: Readable, limit: number, where = 'on stdin'): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  let over = false;
  // Leaving a for-await early destroys the stream: nothing past the limit is pulled.
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(b);
    length += b.length;
    if (length > limit) {
      over = true;
      break;
    }
  }
  if (over) {
    for (const c of chunks) c.fill(0);
    throw tooLarge(limit, where);
  }
  return joined(chunks, length);
}

/**
 * The whole file, if it holds at most `limit` bytes. Read by chunks, not by
 * its stat size: a FIFO or /dev/stdin has none.
 * @throws StoreError E_VALUE_TOO_LARGE past `limit` bytes; E_IO when it cannot be read
 */
export function readFileAtMost(path: string, limit: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new StoreError('E_IO', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const b = Buffer.alloc(Math.min(CHUNK, limit + 1 - length));
      let n: number;
      try {
        n = readSync(fd, b, 0, b.length, null);
      } catch (e) {
        throw new StoreError('E_IO', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
      length += n;
      if (length > limit) throw tooLarge(limit, `in ${path}`);
    }
  } catch (e) {
    for (const c of chunks) c.fill(0);
    throw e;
  } finally {
    closeSync(fd);
  }
  return joined(chunks, length);
}
