/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) with random 24-byte nonces:
 * sealed = nonce ‖ ciphertext ‖ tag. A random 192-bit nonce makes collisions
 * negligible, so no nonce counter or budget is kept. A fresh cipher instance
 * per message; associated data is part of the contract, never optional.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from './random.js';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
export const OVERHEAD = NONCE_BYTES + TAG_BYTES;

/** Failure to open; carries no detail by design. Callers map it to their own error. */
export class AeadOpenError extends Error {
  constructor() {
    super('aead: decryption failed');
    this.name = 'AeadOpenError';
  }
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new RangeError(`aead: key expected Uint8Array of length ${KEY_BYTES}, got length=${key?.length}`);
  }
}

/** Encrypt `plaintext` bound to `aad`. Returns nonce ‖ ciphertext ‖ tag. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, nonce = randomBytes(NONCE_BYTES)): Uint8Array {
  checkKey(key);
  const out = new Uint8Array(NONCE_BYTES + plaintext.length + TAG_BYTES);
  out.set(nonce, 0);
  xchacha20poly1305(key, nonce, aad).encrypt(plaintext, out.subarray(NONCE_BYTES));
  return out;
}

/**
 * Decrypt nonce ‖ ciphertext ‖ tag bound to `aad`.
 * @throws AeadOpenError when the tag does not verify or the input is too short.
 */
export function open(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKey(key);
  if (sealed.length < OVERHEAD) throw new AeadOpenError();
  try {
    return xchacha20poly1305(key, sealed.subarray(0, NONCE_BYTES), aad).decrypt(sealed.subarray(NONCE_BYTES));
  } catch {
    throw new AeadOpenError();
  }
}
