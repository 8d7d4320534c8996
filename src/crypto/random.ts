/** The only source of randomness in Strongbox: the OS CSPRNG. */
import { nodeCrypto } from '../platform/node-crypto.js';

/** node:crypto is loaded on first use (platform/node-crypto.ts): reading a secret needs no randomness. */
export function randomBytes(length: number): Uint8Array {
  return nodeCrypto().randomFillSync(new Uint8Array(length));
}

/** A random unsigned 32-bit integer (data key ids). */
export function randomU32(): number {
  const b = randomBytes(4);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}
