/**
 * The keyset of data keys, Tink-style: every key has a random 32-bit id that
 * ciphertexts name, a version (1, 2, 3 … in creation order) and a status.
 * Exactly one key is `primary` (encrypts new values); `active` keys only
 * decrypt; `retired` keys are referenced by nothing; `destroyed` keys have no
 * material left. Pure data: persistence lives in the store layer.
 */
import { randomBytes, randomU32 } from './random.js';
import { KEY_BYTES } from './aead.js';
import { wipe } from './bytes.js';

export type KeyStatus = 'primary' | 'active' | 'retired' | 'destroyed';

export interface DataKeyInfo {
  id: number;
  version: number;
  status: KeyStatus;
  createdAt: number;
}

export interface DataKey extends DataKeyInfo {
  /** 32 bytes of key material; absent once destroyed, or once its keyset was wiped. */
  material?: Uint8Array;
  /** Its keyset was wiped (replaced by a reload): the material is gone from memory, not destroyed in the store. */
  wiped?: true;
}

export class Keyset {
  readonly #byId = new Map<number, DataKey>();

  constructor(keys: DataKey[] = []) {
    for (const k of keys) this.#byId.set(k.id, k);
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The key new values are sealed under. */
  primary(): DataKey | undefined {
    for (const k of this.#byId.values()) if (k.status === 'primary') return k;
    return undefined;
  }

  byId(id: number): DataKey | undefined {
    return this.#byId.get(id);
  }

  /** Id and status only: never key material. */
  info(): DataKeyInfo[] {
    return [...this.#byId.values()]
      .map(({ id, version, status, createdAt }) => ({ id, version, status, createdAt }))
      .sort((a, b) => a.version - b.version);
  }

  /** A new key with a fresh id, the next version, not yet in the set. */
  generate(createdAt: number, status: KeyStatus = 'primary'): DataKey {
    let id = randomU32();
    while (this.#byId.has(id) || id === 0) id = randomU32();
    const version = Math.max(0, ...[...this.#byId.values()].map((k) => k.version)) + 1;
    return { id, version, status, createdAt, material: randomBytes(KEY_BYTES) };
  }

  add(key: DataKey): void {
    this.#byId.set(key.id, key);
  }

  /** Zero every key's material; the keyset is unusable afterwards. */
  /**
   * Zero every key's material and let go of it: a key object someone still
   * holds then has no material, so sealing or opening under it fails
   * (envelope.ts) instead of using 32 zero bytes as a key.
   */
  wipe(): void {
    for (const k of this.#byId.values()) {
      wipe(k.material);
      k.material = undefined;
      k.wiped = true;
    }
    this.#byId.clear();
  }

  toString(): string {
    return `Keyset(${this.info().map((k) => `${k.version}:${k.id.toString(16)}:${k.status}`).join(', ')})`;
  }
}
