/**
 * Values under data keys: seal under the keyset's primary, open under the key
 * the ciphertext's header names. Every failure to open a value is one
 * E_TAMPERED, whatever the cause, so an attacker learns nothing from which
 * check failed; library errors are replaced, never wrapped.
 */
import { StoreError, TamperedError } from '../errors.js';
import { AeadOpenError, NONCE_BYTES, open, seal } from './aead.js';
import { aadFor } from './aad.js';
import { concat, wipe } from './bytes.js';
import { encodeHeader, HEADER_BYTES, parseBlob } from './format.js';
import type { DataKey, Keyset } from './keyset.js';

/**
 * The largest value any store may hold, and so any bundle carry (SQLite's
 * default blob limit is 1 GB): the one ceiling both answer to.
 */
export const MAX_VALUE_BYTES = 64 * 1024 * 1024;

export interface SealedValue {
  blob: Uint8Array;
  keyId: number;
}

function place(name: string, version: number): string {
  return `${name} version ${version}`;
}

/** Seal `plaintext` as `name`@`version` of store `storeId` under `key`, with a random nonce unless given one (resealValue). */
export function sealValue(key: DataKey, storeId: Uint8Array, name: string, version: number, plaintext: Uint8Array, nonce?: Uint8Array): SealedValue {
  if (!key.material) throw new StoreError('E_TAMPERED', `data key ${key.version} has no material`);
  const header = encodeHeader(key.id);
  const sealed = seal(key.material, plaintext, aadFor(header, storeId, name, version), nonce);
  return { blob: concat(header, sealed), keyId: key.id };
}

/**
 * Open the blob stored as `name`@`version`.
 * @throws TamperedError E_TAMPERED on any failure to authenticate
 * @throws StoreError E_UNSUPPORTED_FORMAT for an unknown format byte
 */
export function openValue(keyset: Keyset, storeId: Uint8Array, name: string, version: number, blob: Uint8Array | null): Uint8Array {
  const what = place(name, version);
  // A live version without a ciphertext can only come from an edit of the file.
  if (blob === null) throw new TamperedError(`cannot decrypt ${what}: its ciphertext is missing`);
  // A damaged file can hold a number or text in the ciphertext column: the row MACs do not cover it (the AEAD does).
  if (!(blob instanceof Uint8Array)) throw new TamperedError(`cannot decrypt ${what}: its ciphertext is not bytes`);
  const { header, keyId, sealed } = parseBlob(blob, what);
  const key = keyset.byId(keyId);
  if (!key?.material) {
    throw new TamperedError(`cannot decrypt ${what}: it names data key ${keyId.toString(16)}, which this store does not hold`);
  }
  try {
    return open(key.material, sealed, aadFor(header, storeId, name, version));
  } catch (e) {
    if (e instanceof AeadOpenError) throw new TamperedError(`cannot decrypt ${what}: data was altered or moved`);
    throw e;
  }
}

/**
 * The value stored as `name`@`version` (`blob`) sealed again under `key`
 * for a rewrap, with its nonce kept. A nonce must never repeat under one
 * key; under two keys it may, for XChaCha20 derives its subkey from key and
 * nonce together and the keys are independent. And it never repeats under
 * `key` with another plaintext: a nonce is drawn at random for one value in
 * one place (the AAD), and a rewrap carries it only to that same value in
 * that same place. Keeping it keeps the secret row's MAC, which covers its
 * current version's nonce (src/store/integrity/rows.ts), standing.
 */
export function resealValue(keyset: Keyset, key: DataKey, storeId: Uint8Array, name: string, version: number, blob: Uint8Array): SealedValue {
  const plaintext = openValue(keyset, storeId, name, version, blob);
  try {
    if (blobKeyId(blob, name, version) === key.id) throw new Error(`reseal: ${place(name, version)} is already under data key ${key.version}`);
    return sealValue(key, storeId, name, version, plaintext, blob.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES));
  } finally {
    wipe(plaintext);
  }
}

/** The key id a blob names, without opening it (for rewrap bookkeeping). */
export function blobKeyId(blob: Uint8Array, name: string, version: number): number {
  return parseBlob(blob, place(name, version)).keyId;
}
