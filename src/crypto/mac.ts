/**
 * Keyed MACs over rows and the expansion of a MAC into an LtHash element.
 * SHA-256 and ChaCha20 come from node:crypto (OpenSSL): both run on every
 * get and put, and the native calls are 3× faster here than the pure-JS ones
 * (1.3 µs vs 4 µs for a 120-byte HMAC; 3 µs vs 9 µs for 2 KiB of keystream).
 * Until a process has loaded node:crypto for something else (randomness, an
 * element, a long message) or made a thousand hashes, its SHA-256 comes from
 * WebAssembly instead (wasm/sha256.ts): `store get` never loads node:crypto.
 */
import { LTHASH_BYTES } from './lthash.js';
import { equalBytes, wipe } from './bytes.js';
import { nodeCrypto, nodeCryptoIfLoaded } from '../platform/node-crypto.js';
import { WASM_SHA256_MAX, wasmSha256 } from './wasm/sha256.js';

export const MAC_BYTES = 32;
const BLOCK = 64;

/** OpenSSL's one-shot SHA-256 (Node ≥ 20.12 has crypto.hash; older ones take the streaming API). */
let nativeSha256: ((data: Uint8Array) => Buffer) | undefined;
/**
 * Hashes made in WebAssembly before the MACs load node:crypto themselves: a
 * process that makes more is a long-running one (a server, a library
 * reading), where the ~2.7 ms load is nothing and OpenSSL is faster on the
 * 2 KiB state row. A `store get` makes 34.
 */
const WASM_HASHES = 1000;
let wasmHashes = 0;

/** SHA-256 of `data`: the same digest from either source (test/crypto/sha256-wasm.test.ts holds them to it). */
function sha256(data: Uint8Array): Buffer {
  if (nativeSha256 === undefined) {
    // A long message (a big value's MAC) is worth loading node:crypto for; a short one is not.
    let c = nodeCryptoIfLoaded() ?? (data.length > WASM_SHA256_MAX || ++wasmHashes > WASM_HASHES ? nodeCrypto() : undefined);
    if (c === undefined) {
      const digest = wasmSha256(data);
      if (digest !== undefined) return digest;
      c = nodeCrypto(); // no WebAssembly in this Node (node --jitless)
    }
    nativeSha256 = typeof c.hash === 'function'
      ? (d) => c.hash('sha256', d, 'buffer')
      : (d) => c.createHash('sha256').update(d).digest();
  }
  return nativeSha256(data);
}

/**
 * HMAC-SHA256 (RFC 2104) under one key, for many short messages: the padded
 * keys are computed once, and each MAC is two one-shot SHA-256 calls over
 * buffers made in place, which is 1.3 µs here against 1.8 µs for
 * createHmac, whose cost is mostly making its object. The caller writes the
 * message into `message(length)` right after the inner padded key.
 */
export class Hmac {
  /** Where the message starts in room()'s buffer: right after the inner padded key. */
  static readonly MESSAGE_AT = BLOCK;
  #inner: Buffer;
  readonly #outer = Buffer.alloc(BLOCK + MAC_BYTES);

  constructor(key: Uint8Array) {
    if (key.length > BLOCK) throw new RangeError('HMAC key longer than a block');
    this.#inner = Buffer.alloc(BLOCK + 1024);
    for (let i = 0; i < BLOCK; i++) {
      this.#inner[i] = (key[i] ?? 0) ^ 0x36;
      this.#outer[i] = (key[i] ?? 0) ^ 0x5c;
    }
  }

  /** A buffer with room for `length` message bytes at offset 64 (grown when needed, keeping the padded key and what was written). */
  room(length: number): Buffer {
    if (this.#inner.length < BLOCK + length) {
      const bigger = Buffer.alloc(Math.max(this.#inner.length * 2, BLOCK + length));
      this.#inner.copy(bigger);
      wipe(this.#inner);
      this.#inner = bigger;
    }
    return this.#inner;
  }

  /** The MAC of `message` (copied in after the padded key). */
  of(message: Uint8Array): Uint8Array {
    this.room(message.length).set(message, BLOCK);
    return this.mac(message.length);
  }

  /** The MAC of the `length` message bytes written at offset 64 of `room(length)`. */
  mac(length: number): Uint8Array {
    const inner = sha256(this.#inner.subarray(0, BLOCK + length));
    this.#outer.set(inner, BLOCK);
    return sha256(this.#outer);
  }

  wipe(): void {
    wipe(this.#inner, this.#outer);
  }
}

/**
 * HKDF-SHA256 (RFC 5869) for up to 32 bytes of output: the extract step and
 * one expand step, on this module's HMAC, so a process that has not loaded
 * node:crypto derives keys on WebAssembly too (a key-file `store get`).
 * `salt` of at most 64 bytes (an empty one is HashLen zeros, as the RFC says).
 */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > MAC_BYTES) throw new RangeError(`hkdfSha256: ${length} bytes of output, not 1 to ${MAC_BYTES}`);
  const extract = new Hmac(salt);
  const prk = extract.of(ikm);
  extract.wipe();
  const expand = new Hmac(prk);
  wipe(prk);
  const message = expand.room(info.length + 1); // T(1) = HMAC(PRK, info || 0x01)
  message.set(info, Hmac.MESSAGE_AT);
  message[Hmac.MESSAGE_AT + info.length] = 1;
  const t1 = expand.mac(info.length + 1);
  expand.wipe();
  const okm = new Uint8Array(t1.subarray(0, length)); // a copy (Buffer's slice would be a view of what is wiped next)
  wipe(t1);
  return okm;
}

/** Constant-time check of a stored MAC (null or a wrong length never matches). */
export function macMatches(expected: Uint8Array, stored: Uint8Array | null | undefined): boolean {
  return stored != null && stored.length === MAC_BYTES && equalBytes(expected, stored);
}

const ZEROS = new Uint8Array(LTHASH_BYTES);
const IV = new Uint8Array(16);

/**
 * The LtHash element of a row: 2,048 bytes of ChaCha20 keystream keyed by the
 * row's MAC. The MAC is a PRF output under a key the attacker lacks, so the
 * element is as unpredictable as the LtHash security argument needs.
 */
export function lthashElement(mac: Uint8Array): Uint8Array {
  const c = nodeCrypto().createCipheriv('chacha20', mac, IV);
  const out = c.update(ZEROS);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
