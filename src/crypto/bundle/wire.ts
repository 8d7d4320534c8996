/**
 * The byte-level pieces every part of the v1 bundle codec shares: strict
 * big-endian writers and readers, and the two errors a bundle can raise.
 * Every structural fault after the magic line is E_TAMPERED; an unknown
 * magic version, format byte or key kind is E_UNSUPPORTED_FORMAT.
 */
import { StoreError } from '../../errors.js';
import { MAX_DATE_MS } from '../../platform/dates.js';

/** Any fault in a bundle past its magic line: one code, E_TAMPERED, whatever the cause. */
export function damaged(what: string): StoreError {
  return new StoreError('E_TAMPERED', `the export bundle is damaged or was altered: ${what}`, [
    'nothing was imported; get an intact copy of the bundle',
  ]);
}

export function unsupported(what: string): StoreError {
  return new StoreError('E_UNSUPPORTED_FORMAT', what, ['it may have been written by a newer Strongbox; upgrade this one']);
}

export { lp } from '../bytes.js';

export class Out {
  readonly #b: Uint8Array;
  readonly #v: DataView;
  #o = 0;
  constructor(length: number) {
    this.#b = new Uint8Array(length);
    this.#v = new DataView(this.#b.buffer);
  }
  u8(n: number): this {
    this.#v.setUint8(this.#o, n);
    this.#o += 1;
    return this;
  }
  u16(n: number): this {
    this.#v.setUint16(this.#o, n);
    this.#o += 2;
    return this;
  }
  u32(n: number): this {
    this.#v.setUint32(this.#o, n);
    this.#o += 4;
    return this;
  }
  i64(n: number): this {
    this.#v.setBigInt64(this.#o, BigInt(n));
    this.#o += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#b.set(b, this.#o);
    this.#o += b.length;
    return this;
  }
  done(): Uint8Array {
    if (this.#o !== this.#b.length) throw new Error(`bundle: encoded ${this.#o} of ${this.#b.length} bytes`);
    return this.#b;
  }
}

/** A strict reader: every overrun and every leftover byte is a damaged bundle. */
export class In {
  readonly #b: Uint8Array;
  readonly #v: DataView;
  #o = 0;
  constructor(b: Uint8Array, readonly what: string) {
    this.#b = b;
    this.#v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  #need(n: number): void {
    if (this.#o + n > this.#b.length) throw damaged(`${this.what} is too short`);
  }
  u8(): number {
    this.#need(1);
    return this.#v.getUint8(this.#o++);
  }
  u16(): number {
    this.#need(2);
    const n = this.#v.getUint16(this.#o);
    this.#o += 2;
    return n;
  }
  u32(): number {
    this.#need(4);
    const n = this.#v.getUint32(this.#o);
    this.#o += 4;
    return n;
  }
  i64(): number {
    this.#need(8);
    const n = Number(this.#v.getBigInt64(this.#o));
    this.#o += 8;
    // Every i64 is a time in ms: refuse one no Date can hold, or every later read of it would fail.
    if (!Number.isSafeInteger(n) || Math.abs(n) > MAX_DATE_MS) throw damaged(`${this.what} holds a time out of range`);
    return n;
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    const out = this.#b.subarray(this.#o, this.#o + n);
    this.#o += n;
    return out;
  }
  rest(): Uint8Array {
    return this.bytes(this.#b.length - this.#o);
  }
  end(): void {
    if (this.#o !== this.#b.length) throw damaged(`${this.what} has ${this.#b.length - this.#o} trailing bytes`);
  }
}
