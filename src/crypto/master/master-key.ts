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

/** Errors that say no master key was given at all (rather than that a key given or recorded cannot be used). */
const NOT_GIVEN = new WeakSet<object>();

/**
 * E_MASTER_KEY for a key that was not given at all (no file, variable,
 * passphrase or PIN): `store doctor` skips the checks that need the key for
 * this one, and fails for every other E_MASTER_KEY (a key given or recorded
 * that cannot be used).
 */
export function masterKeyNotGiven(what: string, hints: string[] = []): StoreError {
  const e = masterKeyMissing(what, hints);
  NOT_GIVEN.add(e);
  return e;
}

/** Whether `e` says that no master key was given (masterKeyNotGiven). */
export function isMasterKeyNotGiven(e: unknown): boolean {
  return typeof e === 'object' && e !== null && NOT_GIVEN.has(e);
}

/** The options object of a master-key source: undefined is {}; anything but a plain object is E_MASTER_KEY. */
export function sourceOptions<T extends object>(options: T | undefined, what: string): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw masterKeyMissing(`${what} takes an options object`);
  return options;
}

/**
 * A secret a source is given (a passphrase, a PIN), copied: a string (as
 * UTF-8) or bytes, nothing else (a number must never become that many zero
 * bytes). @throws E_MASTER_KEY
 */
export function secretCopy(secret: unknown, what: string): Uint8Array {
  if (typeof secret === 'string') return new TextEncoder().encode(secret);
  if (secret instanceof Uint8Array) return new Uint8Array(secret);
  throw masterKeyMissing(`the ${what} must be a string or a Uint8Array, not ${typeName(secret)}`);
}

/** What kind of value `v` is, for a message (never the value). */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : t === 'undefined' ? 'undefined' : `a ${t}`;
}

/**
 * A MasterKeySource as the caller gave it: an object with create and
 * unlock (what passphrase(), keyFile(), rawKey(), pkcs11()… return);
 * with `choice`, a function choosing one is allowed too (openStore's MasterKeyChoice).
 * @throws E_MASTER_KEY
 */
export function checkMasterKeySource(source: unknown, choice = false): void {
  if (choice && typeof source === 'function') return;
  const s = source as Partial<MasterKeySource> | null;
  if (typeof s !== 'object' || s === null || typeof s.unlock !== 'function' || typeof s.create !== 'function' || typeof s.kind !== 'string') {
    throw masterKeyMissing(`the master key must be a MasterKeySource (passphrase(), keyFile(), rawKey(), envKey(), pkcs11() or agent())${choice ? ' or a function choosing one' : ''}, not ${typeName(source)}`);
  }
}
