/**
 * The columns of a secret row (with its current version's state, `h_…`) and
 * of a version row, as both drivers' queries name them: one table layout,
 * whichever database holds it.
 */
import { NONCE_BYTES } from '../crypto/aead.js';
import { HEADER_BYTES } from '../crypto/format.js';

export type Blob = Buffer | null;

export interface SecretCols {
  id: number; name: string; current_version: number; max_versions: number; custom: string; created_at: number; updated_at: number; mac: Blob;
  h_version: number | null; h_created_at: number; h_deleted_at: number | null; h_destroyed_at: number | null; h_json: unknown;
  /** The current version's nonce (headNonce), cut out by the database: SQLite's substr, PostgreSQL's substring. */
  h_nonce: Blob | string;
}

/**
 * Where a value's nonce lies in its stored ciphertext: after the 5-byte
 * format header (src/crypto/format.ts), 24 bytes. A secret row's MAC covers
 * its current version's nonce (src/store/integrity/rows.ts); the drivers cut
 * it out in SQL for the reads that do not fetch the ciphertext, and with
 * headNonce where they do, and both must give the same bytes.
 */
export const NONCE_FROM = HEADER_BYTES;
export const NONCE_LENGTH = NONCE_BYTES;

/**
 * A stored ciphertext's nonce as SQL's substr gives it: bytes 5 to 29, fewer
 * when the blob is shorter, null for no ciphertext, and anything but bytes
 * handed over as it is (an edit of the file), for the MAC encoding to refuse.
 */
export function headNonce(ciphertext: unknown): unknown {
  return ciphertext instanceof Uint8Array ? ciphertext.subarray(NONCE_FROM, NONCE_FROM + NONCE_LENGTH) : ciphertext;
}

export interface VersionCols {
  secret_id: number; version: number; created_at: number; deleted_at: number | null; destroyed_at: number | null; key_id: number | null; ciphertext: Blob; mac: Blob;
  json: unknown;
}
