/**
 * XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §2.3) taken apart: HChaCha20(key,
 * nonce[0..16]) gives a subkey, and the value is the IETF ChaCha20-Poly1305 of
 * RFC 8439 under that subkey with the 12-byte nonce 0⁴ ‖ nonce[16..24]. The
 * rewrap's worker (reseal-worker.ts) runs that second half from node:crypto;
 * the subkey comes from @noble/ciphers' hchacha, which aead.ts's own
 * XChaCha20-Poly1305 runs too. test/crypto/reseal-worker.test.ts checks the
 * two halves together against aead.ts's seal, byte for byte.
 */
import { hchacha } from '@noble/ciphers/chacha.js';
import { KEY_BYTES, NONCE_BYTES } from './aead.js';

export const IETF_NONCE_BYTES = 12;

/** "expand 32-byte k": ChaCha's constants, as the u32 words hchacha takes. */
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
/** Scratch for hchacha's words (it takes the byte views of aligned arrays, on any host), zeroed after each use. */
const KEY_WORDS = new Uint32Array(8);
const NONCE_WORDS = new Uint32Array(4);
const SUBKEY_WORDS = new Uint32Array(8);

/**
 * HChaCha20(key, nonce[0..16]) written at `out` (32 bytes): the subkey
 * XChaCha20 runs the IETF cipher under.
 */
export function xchachaSubkey(key: Uint8Array, nonce: Uint8Array, out: Uint8Array): void {
  if (key.length !== KEY_BYTES || nonce.length < 16 || out.length !== KEY_BYTES) {
    throw new RangeError('xchachaSubkey: a 32-byte key, a nonce of at least 16 bytes and 32 bytes to write to');
  }
  new Uint8Array(KEY_WORDS.buffer).set(key);
  new Uint8Array(NONCE_WORDS.buffer).set(nonce.subarray(0, 16));
  hchacha(SIGMA, KEY_WORDS, NONCE_WORDS, SUBKEY_WORDS);
  out.set(new Uint8Array(SUBKEY_WORDS.buffer));
  KEY_WORDS.fill(0);
  SUBKEY_WORDS.fill(0);
}

/** The IETF nonce XChaCha20 uses under the subkey: four zero bytes, then nonce[16..24]. */
export function xchachaIetfNonce(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`xchachaIetfNonce: a ${NONCE_BYTES}-byte nonce`);
  const iv = new Uint8Array(IETF_NONCE_BYTES);
  iv.set(nonce.subarray(16, 24), 4);
  return iv;
}
