/**
 * Writes a v1 bundle (docs/export-format.md): header, records and trailer,
 * each sealed under the bundle key and framed with its length. No I/O: the
 * caller appends the bytes it returns.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { NONCE_BYTES, TAG_BYTES, seal } from '../aead.js';
import { wipe } from '../bytes.js';
import { randomBytes } from '../random.js';
import { bundleHeaderHash, encodeBundleHeader, type BundleHeader } from './header.js';
import { encodeSecret, encodeTrailer, encodeVersion, recordAad, type SecretRecord, type VersionRecord } from './records.js';
import { Sequence } from './sequence.js';

export interface BundleWriterOptions {
  /** Nonce source, for test vectors only (default: random). */
  nonce?: () => Uint8Array;
}

/**
 * Produces a bundle's bytes piece by piece: `header()`, then `secret()` and
 * its `version()`s for each secret, then `trailer()`. The header must already
 * hold the final counts. Each call returns bytes to append to the file.
 */
export class BundleWriter {
  readonly #key: Uint8Array;
  readonly #headerBytes: Uint8Array;
  readonly #headerHash: Uint8Array;
  readonly #seq: Sequence;
  readonly #hash = sha256.create();
  readonly #nonce: () => Uint8Array;
  readonly #contentTypes: boolean;
  #index = 0;
  #ended = false;

  /** `key` is used, not copied: keep it alive until the trailer is written, then wipe it. */
  constructor(key: Uint8Array, header: BundleHeader, options: BundleWriterOptions = {}) {
    this.#key = key;
    this.#nonce = options.nonce ?? (() => randomBytes(NONCE_BYTES));
    this.#headerBytes = encodeBundleHeader(header, key, this.#nonce());
    this.#headerHash = bundleHeaderHash(this.#headerBytes);
    this.#seq = new Sequence(header, (m) => new Error(`bundle writer: ${m}`));
    this.#contentTypes = header.contentTypes ?? false;
  }

  header(): Uint8Array {
    return this.#headerBytes;
  }

  #frame(plain: Uint8Array, track: boolean): Uint8Array {
    if (this.#ended) throw new Error('bundle writer: already ended');
    const sealed = seal(this.#key, plain, recordAad(this.#headerHash, this.#index), this.#nonce());
    const frame = new Uint8Array(4 + sealed.length);
    new DataView(frame.buffer).setUint32(0, sealed.length);
    frame.set(sealed, 4);
    if (track) {
      this.#hash.update(frame.subarray(0, 4));
      this.#hash.update(sealed.subarray(sealed.length - TAG_BYTES));
    }
    this.#index++;
    return frame;
  }

  secret(r: Omit<SecretRecord, 'type'>): Uint8Array {
    this.#seq.secret(r, `record ${this.#index}`);
    return this.#frame(encodeSecret(r), true);
  }

  /** The value is copied into the record and not kept; the caller may wipe it afterwards. */
  version(r: Omit<VersionRecord, 'type'>): Uint8Array {
    this.#seq.version(r, `record ${this.#index}`);
    const plain = encodeVersion(r, this.#contentTypes);
    try {
      return this.#frame(plain, true);
    } finally {
      wipe(plain);
    }
  }

  trailer(): Uint8Array {
    this.#seq.end(`record ${this.#index}`);
    const plain = encodeTrailer(this.#seq.secrets, this.#seq.versions, this.#hash.digest());
    const out = this.#frame(plain, false);
    this.#ended = true;
    return out;
  }
}
