/**
 * Master keys: the root of the hierarchy, never written to the store. A
 * `MasterKeySource` says where the key comes from (passphrase, key file,
 * environment, later an HSM); it yields a `MasterKey` that wraps and unwraps
 * data keys. The wrap/unwrap interface (rather than raw key bytes) is what
 * lets an HSM-held key work without ever entering the process.
 */
import { StoreError, WrongMasterKeyError } from '../../errors.js';

export type MasterKind = 'passphrase' | 'keyfile' | 'env' | 'raw' | 'pkcs11';

/**
 * Public parameters the store keeps for its master key: the kind used at init
 * and whatever the source needs to find the same key again (salt, KDF cost,
 * HSM labels). Never key material.
 */
export interface MasterParams {
  kind: MasterKind;
  [field: string]: unknown;
}

/** An unlocked master key. */
export interface MasterKey {
  readonly kind: MasterKind;
  /** Encrypt a data key bound to `aad`. */
  wrap(key: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Decrypt a wrapped data key; throws on any mismatch (the caller decides the error). */
  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Forget the key (zero what the process holds). */
  close(): void;
}

/** Where a master key comes from. */
export interface MasterKeySource {
  readonly kind: MasterKind;
  /** At init: make or load the key, and the public parameters to keep. */
  create(storeId: Uint8Array): Promise<{ key: MasterKey; params: MasterParams }>;
  /** At open: find the same key again from the kept parameters. */
  unlock(storeId: Uint8Array, params: MasterParams): Promise<MasterKey>;
}

/** Raw 32-byte keys from a key file, the environment or the caller are one family. */
export function masterFamily(kind: MasterKind): 'passphrase' | 'key' | 'pkcs11' {
  if (kind === 'passphrase') return 'passphrase';
  if (kind === 'pkcs11') return 'pkcs11';
  return 'key';
}

const HOW_TO_GIVE: Record<ReturnType<typeof masterFamily>, string> = {
  passphrase: 'give the passphrase (--passphrase-file, STORE_PASSPHRASE or the prompt)',
  key: 'give the key (--keyfile / STORE_KEYFILE, or STORE_MASTER_KEY)',
  pkcs11: 'give the PKCS#11 module, token and key (see store init --help)',
};

/** Refuse a source of another family than the store was made with, before any work. */
export function checkFamily(source: MasterKind, stored: MasterParams): void {
  const want = masterFamily(stored.kind);
  if (masterFamily(source) !== want) {
    throw new WrongMasterKeyError(`this store's master key is a ${stored.kind} key, not a ${source} key`, [
      HOW_TO_GIVE[want],
    ]);
  }
}

export function masterKeyMissing(what: string, hints: string[] = []): StoreError {
  return new StoreError('E_MASTER_KEY', what, hints);
}
