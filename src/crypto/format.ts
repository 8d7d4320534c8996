/**
 * Value ciphertext format, Tink-style output prefix:
 *
 *   0x01 (format) ‖ key id (u32, big-endian) ‖ nonce (24) ‖ ciphertext ‖ tag (16)
 *
 * The 5-byte header is only a hint for choosing the data key; it is also part
 * of the associated data, so changing it breaks the tag. Decoding is strict:
 * an unknown format byte is refused by name, a short blob as tampered.
 */
import { StoreError, TamperedError } from '../errors.js';
import { readU32be, u32be } from './bytes.js';
import { OVERHEAD } from './aead.js';

export const FORMAT_V1 = 0x01;
export const HEADER_BYTES = 5;

export function encodeHeader(keyId: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h[0] = FORMAT_V1;
  h.set(u32be(keyId), 1);
  return h;
}

export interface ParsedBlob {
  /** The 5 header bytes, as stored (a view into the blob). */
  header: Uint8Array;
  keyId: number;
  /** nonce ‖ ciphertext ‖ tag (a view into the blob). */
  sealed: Uint8Array;
}

/**
 * @throws StoreError E_UNSUPPORTED_FORMAT for an unknown format byte
 * @throws TamperedError E_TAMPERED when the blob is too short to be one
 */
export function parseBlob(blob: Uint8Array, what: string): ParsedBlob {
  if (blob.length < HEADER_BYTES + OVERHEAD) {
    throw new TamperedError(`cannot decrypt ${what}: ciphertext too short (${blob.length} bytes)`);
  }
  if (blob[0] !== FORMAT_V1) {
    throw new StoreError(
      'E_UNSUPPORTED_FORMAT',
      `cannot decrypt ${what}: unknown ciphertext format 0x${blob[0]!.toString(16).padStart(2, '0')}`,
      ['this store may have been written by a newer Strongbox; upgrade it'],
    );
  }
  return { header: blob.subarray(0, HEADER_BYTES), keyId: readU32be(blob, 1), sealed: blob.subarray(HEADER_BYTES) };
}
