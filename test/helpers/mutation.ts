/**
 * Byte-level damage to a file, as fast-check generates it: flip one bit,
 * truncate, insert, delete or overwrite a few bytes at any offset. Shared by
 * the property tests that hold every damaged bundle to "refused, nothing written".
 */
import fc from 'fast-check';

export const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** `b` with the damage `m` done to a copy (offsets wrap around the length). */
export function mutate(b: Buffer, m: Mutation): Buffer {
  const at = m.at % b.length;
  switch (m.kind) {
    case 'flip': {
      const out = Buffer.from(b);
      out[at]! ^= 1 << m.bit;
      return out;
    }
    case 'truncate':
      return b.subarray(0, at);
    case 'insert':
      return Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
    case 'overwrite': {
      const out = Buffer.from(b);
      out.set(m.bytes.subarray(0, b.length - at), at);
      return out;
    }
  }
}
