/**
 * SecretBytes: a value that refuses to print itself. `toString`, `toJSON` and
 * `util.inspect` give `[redacted N bytes]`, so a secret that slips into a log
 * line or a JSON dump shows its length only. The bytes come out only through
 * `expose()` (search for `.expose(` to find every plaintext site).
 */
import { inspect } from 'node:util';
import { utf8, wipe } from './bytes.js';

const decoder = new TextDecoder();

export class SecretBytes {
  readonly #bytes: Uint8Array;

  /** Takes ownership of `bytes` (no copy): do not reuse the array. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  static from(value: Uint8Array | string | SecretBytes): SecretBytes {
    if (value instanceof SecretBytes) return value;
    if (typeof value === 'string') return new SecretBytes(utf8.encode(value));
    if (value instanceof Uint8Array) return new SecretBytes(new Uint8Array(value));
    throw new TypeError('secret value must be a Uint8Array, a string or SecretBytes');
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** The plaintext bytes (a live view: wipe() clears them). */
  expose(): Uint8Array {
    return this.#bytes;
  }

  /** The plaintext decoded as UTF-8 (invalid sequences become U+FFFD). */
  text(): string {
    return decoder.decode(this.#bytes);
  }

  /** Zero the bytes (best effort: JS may hold copies). */
  wipe(): void {
    wipe(this.#bytes);
  }

  toString(): string {
    return `[redacted ${this.#bytes.length} bytes]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
