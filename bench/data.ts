/**
 * Deterministic bench data: names and 64-byte values derived from an index,
 * so any value read back can be checked against the one written without
 * keeping 100,000 of them in memory, plus a fixed random read order shared
 * by a floor and its subject.
 */

export const VALUE_BYTES = 64;

/** Every name has the same length, so every AAD has the same length too. */
export function nameOf(i: number): string {
  return `bench/secret-${i.toString().padStart(6, '0')}`;
}

/** xorshift32: cheap and reproducible; not for anything secret. */
function xorshift(seed: number): () => number {
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** The value stored under `nameOf(i)`. Its first byte is `firstByteOf(i)`. */
export function valueOf(i: number, length = VALUE_BYTES): Uint8Array {
  const next = xorshift(i + 1);
  const out = new Uint8Array(length);
  for (let j = 0; j < length; j++) out[j] = next() & 0xff;
  return out;
}

export function firstByteOf(i: number): number {
  return xorshift(i + 1)() & 0xff;
}

/** `count` indexes in 0..rows-1, uniformly at random, from a fixed seed. */
export function readOrder(count: number, rows: number, seed = 42): Uint32Array {
  const next = xorshift(seed);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = next() % rows;
  return out;
}

/** What the timed loop's running sum of first bytes must come to. */
export function expectedSum(order: Uint32Array, from: number, ops: number): number {
  let s = 0;
  for (let k = 0; k < ops; k++) s += firstByteOf(order[(from + k) % order.length]!);
  return s;
}
