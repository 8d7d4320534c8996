/**
 * Values under data keys: seal under the keyset's primary, open under the key
 * the ciphertext's header names. Every failure to open a value is one
 * E_TAMPERED, whatever the cause, so an attacker learns nothing from which
 * check failed; library errors are replaced, never wrapped.
 */
import { StoreError, TamperedError } from '../errors.js';
import { AeadOpenError, KEY_BYTES, NONCE_BYTES, open, seal } from './aead.js';
import { aadFor, aadWithHeader } from './aad.js';
import { concat, wipe } from './bytes.js';
import type { Resealed, ResealJob } from './reseal-worker.js';
import { xchachaIetfNonce, xchachaSubkey } from './xchacha.js';
import { encodeHeader, HEADER_BYTES, parseBlob, type ParsedBlob } from './format.js';
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
  const material = materialOf(key);
  const header = encodeHeader(key.id);
  const sealed = seal(material, plaintext, aadFor(header, storeId, name, version), nonce);
  return { blob: concat(header, sealed), keyId: key.id };
}

/** The material of a key to seal under. */
function materialOf(key: DataKey): Uint8Array {
  // A bug, not a store's state: code that kept a key past its keyset's wipe. Fail rather than seal under nothing.
  if (key.wiped) throw new Error(`data key ${key.version} was used after its keyset was wiped`);
  if (!key.material) throw new StoreError('E_TAMPERED', `data key ${key.version} has no material`);
  return key.material;
}

/**
 * Open the blob stored as `name`@`version`.
 * @throws TamperedError E_TAMPERED on any failure to authenticate
 * @throws StoreError E_UNSUPPORTED_FORMAT for an unknown format byte
 */
export function openValue(keyset: Keyset, storeId: Uint8Array, name: string, version: number, blob: Uint8Array | null): Uint8Array {
  const what = place(name, version);
  const { header, keyId, sealed } = storedBlob(blob, what);
  try {
    return open(openingKey(keyset, keyId, what), sealed, aadFor(header, storeId, name, version));
  } catch (e) {
    if (e instanceof AeadOpenError) throw altered(what);
    throw e;
  }
}

/** A stored ciphertext's parts, checked before any AEAD runs. */
function storedBlob(blob: Uint8Array | null, what: string): ParsedBlob {
  // A live version without a ciphertext can only come from an edit of the file.
  if (blob === null) throw new TamperedError(`cannot decrypt ${what}: its ciphertext is missing`);
  // A damaged file can hold a number or text in the ciphertext column: the row MACs do not cover it (the AEAD does).
  if (!(blob instanceof Uint8Array)) throw new TamperedError(`cannot decrypt ${what}: its ciphertext is not bytes`);
  return parseBlob(blob, what);
}

/** The material of the key a ciphertext names. */
function openingKey(keyset: Keyset, keyId: number, what: string): Uint8Array {
  const key = keyset.byId(keyId);
  if (!key?.material) {
    throw new TamperedError(`cannot decrypt ${what}: it names data key ${keyId.toString(16)}, which this store does not hold`);
  }
  return key.material;
}

/** A rewrap seals under another key than the one a value is under (the nonce it keeps must not meet the same key twice). */
function refuseSameKey(keyId: number, key: DataKey, what: string): void {
  if (keyId === key.id) throw new Error(`reseal: ${what} is already under data key ${key.version}`);
}

const altered = (what: string) => new TamperedError(`cannot decrypt ${what}: data was altered or moved`);

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
    const what = place(name, version);
    refuseSameKey(parseBlob(blob, what).keyId, key, what);
    return sealValue(key, storeId, name, version, plaintext, blob.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES));
  } finally {
    wipe(plaintext);
  }
}

/** A value made ready to be resealed by the worker (reseal-worker.ts), and what its new blob is made of. */
export interface PreparedReseal {
  job: ResealJob;
  /** The new header and the kept nonce: the new blob is these, then what the worker returns. */
  prefix: Uint8Array;
  keyId: number;
  what: string;
}

/**
 * resealValue's work, split for the worker: every check it makes before any
 * AEAD runs, then the job — the AADs, the row's MAC (the worker expands it
 * into the row's digest element too) — and the two XChaCha20 subkeys (the
 * old key's, then `key`'s, both with the kept nonce) written into `subkeys`
 * (64 bytes), which the caller hands to the worker.
 */
export function prepareReseal(keyset: Keyset, key: DataKey, storeId: Uint8Array, name: string, version: number, blob: Uint8Array | null, mac: Uint8Array, subkeys: Uint8Array): PreparedReseal {
  const what = place(name, version);
  const { header, keyId, sealed } = storedBlob(blob, what);
  const oldKey = openingKey(keyset, keyId, what);
  const material = materialOf(key);
  refuseSameKey(keyId, key, what);
  const nonce = sealed.subarray(0, NONCE_BYTES);
  xchachaSubkey(oldKey, nonce, subkeys.subarray(0, KEY_BYTES));
  xchachaSubkey(material, nonce, subkeys.subarray(KEY_BYTES, 2 * KEY_BYTES));
  const newHeader = encodeHeader(key.id);
  const oldAad = aadFor(header, storeId, name, version);
  return {
    job: { iv: xchachaIetfNonce(nonce), oldAad, newAad: aadWithHeader(oldAad, newHeader), body: sealed.subarray(NONCE_BYTES), mac },
    prefix: concat(newHeader, nonce),
    keyId: key.id,
    what,
  };
}

/** The resealed value from the worker's answer for `p` (null: the old value did not open), with the read row's digest element. @throws TamperedError */
export function resealed(p: PreparedReseal, answer: Resealed | null): SealedValue & { readElement: Uint8Array } {
  if (answer === null) throw altered(p.what);
  return { blob: concat(p.prefix, answer.body), keyId: p.keyId, readElement: answer.readElement };
}

/** The key id a blob names, without opening it (for rewrap bookkeeping). */
export function blobKeyId(blob: Uint8Array, name: string, version: number): number {
  return parseBlob(blob, place(name, version)).keyId;
}
