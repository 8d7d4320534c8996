/**
 * The keyset as the store keeps it: data keys wrapped by the master key, each
 * bound to the store id, its key id and version. Unwrapped once at open and
 * held in memory until close. Also the master-key check, which tells a wrong
 * master key (E_WRONG_MASTER_KEY) apart from a damaged keyset (E_TAMPERED)
 * before any secret is touched.
 */
import { StoreError, TamperedError, WrongMasterKeyError } from '../errors.js';
import { auditKeyAad, integrityKeyAad, keyWrapAad, masterCheckAad } from '../crypto/aad.js';
import { equalBytes, fromBase64, toBase64, utf8, wipe } from '../crypto/bytes.js';
import { randomBytes } from '../crypto/random.js';
import { Keyset, type DataKey } from '../crypto/keyset.js';
import type { MasterKey } from '../crypto/master/master-key.js';
import type { KeyRow, Storage, StorageOps } from '../storage/storage.js';

/**
 * The check's plaintext says which generation of the store wrote it: v2
 * stores authenticate their rows (src/store/integrity). Only the master key
 * can write a check, so a v2 store cannot be passed off as an older one to
 * have its rows trusted and sealed again (short of putting back an old copy
 * of the check, which is rolling the file back).
 */
const CHECK_PLAINTEXTS = [utf8.encode('strongbox master key check v1'), utf8.encode('strongbox master key check v2')];

/** The generation of store a master-key check belongs to: 2 authenticates its rows. */
export type CheckGeneration = 1 | 2;

export async function makeMasterCheck(master: MasterKey, storeId: Uint8Array): Promise<string> {
  return toBase64(await master.wrap(CHECK_PLAINTEXTS[1]!, masterCheckAad(storeId)));
}

/**
 * @returns the check's generation
 * @throws WrongMasterKeyError when `master` is not the key the store was made with
 */
export async function verifyMasterCheck(master: MasterKey, storeId: Uint8Array, check: string | undefined): Promise<CheckGeneration> {
  const blob = check === undefined ? undefined : fromBase64(check);
  let opened: Uint8Array | undefined;
  try {
    if (blob) opened = await master.unwrap(blob, masterCheckAad(storeId));
  } catch (e) {
    // A failing HSM (E_MASTER_KEY) is not a wrong key: say what it is.
    if (e instanceof StoreError) throw e;
    opened = undefined;
  }
  const generation = opened ? CHECK_PLAINTEXTS.findIndex((p) => equalBytes(opened, p)) + 1 : 0;
  wipe(opened);
  if (generation === 0) {
    throw new WrongMasterKeyError('the master key does not open this store', [
      'check the passphrase or key file; nothing was read or changed',
    ]);
  }
  return generation as CheckGeneration;
}

export async function wrapKey(master: MasterKey, storeId: Uint8Array, key: DataKey): Promise<KeyRow> {
  const wrapped = key.material ? await master.wrap(key.material, keyWrapAad(storeId, key.id, key.version)) : null;
  return { id: key.id, version: key.version, status: key.status, createdAt: key.createdAt, wrapped };
}

/** Unwrap every key that still has material. */
export async function unwrapKeyset(master: MasterKey, storeId: Uint8Array, rows: KeyRow[]): Promise<Keyset> {
  const keys: DataKey[] = [];
  try {
    for (const r of rows) {
      const key: DataKey = { id: r.id, version: r.version, status: r.status, createdAt: r.createdAt };
      if (r.wrapped) {
        try {
          key.material = await master.unwrap(r.wrapped, keyWrapAad(storeId, r.id, r.version));
        } catch (e) {
          if (e instanceof StoreError) throw e;
          throw new TamperedError(`data key ${r.version} cannot be unwrapped: the keyset was altered`);
        }
      }
      keys.push(key);
    }
  } catch (e) {
    for (const k of keys) wipe(k.material);
    throw e;
  }
  const keyset = new Keyset(keys);
  if (!keyset.primary()?.material) {
    keyset.wipe();
    throw new TamperedError('the keyset has no usable primary data key');
  }
  return keyset;
}

/**
 * Thrown inside a transaction when the keyset in memory is behind the stored
 * one (another process rotated): the stored primary is not ours, or a version
 * is under a key we have not loaded. withFreshKeyset reloads and runs it again.
 */
export class StaleKeyset extends Error {
  constructor() {
    super('the keyset changed in another process');
    this.name = 'StaleKeyset';
  }
}

/** Reloads before a transaction that keeps meeting a newer keyset gives up. */
const MAX_RELOADS = 3;

/**
 * Run `run` (a transaction); when it throws StaleKeyset, reload the keyset
 * and run it again. `beforeRetry` undoes what a failed attempt left outside
 * the transaction (a half-written export file).
 */
export async function withFreshKeyset<T>(c: KeysetHolder, run: () => Promise<T>, beforeRetry?: () => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (!(e instanceof StaleKeyset) || attempt >= MAX_RELOADS) throw e;
      beforeRetry?.();
      await reloadKeyset(c);
    }
  }
}

/** A write transaction that seals values (under withFreshKeyset). */
export function sealingWrite<T>(c: { storage: Pick<Storage, 'write'>; keyset: Keyset }, fn: (tx: StorageOps) => Promise<T>): Promise<T> {
  return c.storage.write(async (tx) => {
    // Inside the write lock: never seal under a key another process has demoted.
    if (await tx.primaryKeyId() !== c.keyset.primary()?.id) throw new StaleKeyset();
    return fn(tx);
  });
}

/** Before opening a version under key `keyId` (null: none) inside a transaction: StaleKeyset when we have not loaded that key. */
export function requireKey(keyset: Keyset, keyId: number | null): void {
  if (keyId !== null && !keyset.byId(keyId)) throw new StaleKeyset();
}

/** What reloading needs from an open store. */
export interface KeysetHolder {
  storage: { keys(): Promise<KeyRow[]>; getMeta(key: string): Promise<string | undefined> };
  header: { storeId: Uint8Array };
  master: MasterKey;
  keyset: Keyset;
}

/** Replace the in-memory keyset with the stored one (another process may have rotated). */
export async function reloadKeyset(c: KeysetHolder): Promise<void> {
  let fresh: Keyset;
  try {
    fresh = await unwrapKeyset(c.master, c.header.storeId, await c.storage.keys());
  } catch (e) {
    // Keys that no longer open under our master key: was the master rotated meanwhile?
    if (e instanceof TamperedError) {
      const stillOurs = await verifyMasterCheck(c.master, c.header.storeId, await c.storage.getMeta('master_check')).then(() => true, () => false);
      if (!stillOurs) {
        throw new WrongMasterKeyError('the master key was rotated by another process since this store was opened', [
          'close the store and open it again with the new master key',
        ]);
      }
    }
    throw e;
  }
  c.keyset.wipe();
  c.keyset = fresh;
}

/**
 * Keys the header keeps wrapped by the master key, each bound to the store
 * and its purpose by the AAD: the audit-log key and the integrity key.
 */
const HEADER_KEYS = {
  audit: { aad: auditKeyAad, what: 'the audit key' },
  integrity: { aad: integrityKeyAad, what: 'the integrity key' },
} as const;
export type HeaderKey = keyof typeof HEADER_KEYS;

/** A new 32-byte header key of kind `kind`, and its wrapped form for the header. */
export async function makeHeaderKey(kind: HeaderKey, master: MasterKey, storeId: Uint8Array): Promise<{ key: Uint8Array; wrapped: string }> {
  const key = randomBytes(32);
  return { key, wrapped: await wrapHeaderKey(kind, master, storeId, key) };
}

export async function wrapHeaderKey(kind: HeaderKey, master: MasterKey, storeId: Uint8Array, key: Uint8Array): Promise<string> {
  return toBase64(await master.wrap(key, HEADER_KEYS[kind].aad(storeId)));
}

/** @throws TamperedError when the wrapped key does not open */
export async function unwrapHeaderKey(kind: HeaderKey, master: MasterKey, storeId: Uint8Array, wrapped: string): Promise<Uint8Array> {
  const blob = fromBase64(wrapped);
  try {
    if (blob) return await master.unwrap(blob, HEADER_KEYS[kind].aad(storeId));
  } catch (e) {
    if (e instanceof StoreError) throw e;
  }
  throw new TamperedError(`${HEADER_KEYS[kind].what} cannot be unwrapped: the header was altered`);
}
