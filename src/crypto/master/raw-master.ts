/**
 * A master key held as 32 bytes in process memory (key file, environment,
 * passphrase-derived). The bytes are not used directly: HKDF-SHA256 with the
 * store id as salt derives the key-encryption key, so one key file shared by
 * two stores still gives each its own KEK.
 */
import { hkdfSha256 } from '../mac.js';
import { open, seal, KEY_BYTES } from '../aead.js';
import { utf8, wipe } from '../bytes.js';
import type { MasterKey, MasterKind } from './master-key.js';

const KEK_INFO = utf8.encode('strongbox/v1/kek');

export const MASTER_KEY_BYTES = KEY_BYTES;

class RawMasterKey implements MasterKey {
  readonly kind: MasterKind;
  #kek: Uint8Array | undefined;

  constructor(kind: MasterKind, kek: Uint8Array) {
    this.kind = kind;
    this.#kek = kek;
  }

  #key(): Uint8Array {
    if (!this.#kek) throw new Error('master key: used after close');
    return this.#kek;
  }

  async wrap(key: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return seal(this.#key(), key, aad);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return open(this.#key(), wrapped, aad);
  }

  close(): void {
    wipe(this.#kek);
    this.#kek = undefined;
  }
}

/**
 * Build a master key from 32 root bytes. Does not keep or wipe `root`;
 * the caller owns it.
 */
export function rawMasterKey(kind: MasterKind, root: Uint8Array, storeId: Uint8Array): MasterKey {
  if (root.length !== MASTER_KEY_BYTES) throw new RangeError(`master key expected ${MASTER_KEY_BYTES} bytes, got ${root.length}`);
  // Not noble's HKDF: this runs once per process, in a cold one, where pure JS was ~1 ms of `store get` (mac.ts).
  return new RawMasterKey(kind, hkdfSha256(root, storeId, KEK_INFO, KEY_BYTES));
}
