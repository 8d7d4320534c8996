/** The only source of randomness in Strongbox: the OS CSPRNG. */
import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');
let nodeCrypto: NodeCrypto | undefined;

/**
 * node:crypto is loaded on first use, not at start-up (~8 ms): reading a
 * secret needs no randomness, and `store get` is mostly start-up.
 */
function crypto(): NodeCrypto {
  return (nodeCrypto ??= createRequire(import.meta.url)('node:crypto') as NodeCrypto);
}

export function randomBytes(length: number): Uint8Array {
  return crypto().randomFillSync(new Uint8Array(length));
}

/** A random unsigned 32-bit integer (data key ids). */
export function randomU32(): number {
  const b = randomBytes(4);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}
