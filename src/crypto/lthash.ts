/**
 * LtHash16 (Bellare–Micciancio's additive multiset hash, in the shape Facebook
 * uses to check replicated databases): a digest is the lane-wise sum, modulo
 * 2^16, of one 1024-lane vector per element of a multiset. Adding or removing
 * an element is one vector addition or subtraction, so a store can keep the
 * digest of its whole state up to date in O(1) per changed row, and a full
 * recomputation must land on the same 2,048 bytes.
 *
 * Finding a set of changes (old rows put back, rows dropped) whose vectors sum
 * to zero is a short-integer-solution problem in dimension 1024 — infeasible —
 * as long as the vectors are unpredictable; ours are expanded from keyed MACs
 * (src/store/integrity), so someone without the key cannot compute any.
 * Lanes are little-endian u16 in the byte form, whatever the host's order.
 */

export const LTHASH_LANES = 1024;
export const LTHASH_BYTES = LTHASH_LANES * 2;

export class LtHash {
  readonly #lanes: Uint16Array;

  private constructor(lanes: Uint16Array) {
    this.#lanes = lanes;
  }

  /** The digest of the empty multiset. */
  static empty(): LtHash {
    return new LtHash(new Uint16Array(LTHASH_LANES));
  }

  /** A digest from its 2,048-byte form; undefined when the length is wrong. */
  static fromBytes(bytes: Uint8Array): LtHash | undefined {
    if (bytes.length !== LTHASH_BYTES) return undefined;
    const lanes = new Uint16Array(LTHASH_LANES);
    for (let i = 0; i < LTHASH_LANES; i++) lanes[i] = bytes[2 * i]! | (bytes[2 * i + 1]! << 8);
    return new LtHash(lanes);
  }

  /** Add one element, given as its 2,048-byte vector. */
  add(element: Uint8Array): void {
    const l = this.#lanes;
    for (let i = 0; i < LTHASH_LANES; i++) l[i] = l[i]! + (element[2 * i]! | (element[2 * i + 1]! << 8));
  }

  /** Remove one element (the inverse of add). */
  remove(element: Uint8Array): void {
    const l = this.#lanes;
    for (let i = 0; i < LTHASH_LANES; i++) l[i] = l[i]! - (element[2 * i]! | (element[2 * i + 1]! << 8));
  }

  equals(other: LtHash): boolean {
    const a = this.#lanes;
    const b = other.#lanes;
    let diff = 0;
    for (let i = 0; i < LTHASH_LANES; i++) diff |= a[i]! ^ b[i]!;
    return diff === 0;
  }

  clone(): LtHash {
    return new LtHash(this.#lanes.slice());
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(LTHASH_BYTES);
    const l = this.#lanes;
    for (let i = 0; i < LTHASH_LANES; i++) {
      out[2 * i] = l[i]! & 0xff;
      out[2 * i + 1] = l[i]! >>> 8;
    }
    return out;
  }
}
