/**
 * Reads a v1 bundle (docs/export-format.md) from a byte source: the reader
 * owns the framing (the header's length, each record's length prefix, the
 * end of the file), so the code that reads a file or memory only says where
 * the bytes are, as age's stream reader takes any source.
 *
 * Decoding is strict: bounded length fields, each record authenticated under
 * its index and the header hash, the order rules (sequence.ts), the counts,
 * the trailer's running hash, and no byte after the trailer.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { AeadOpenError, TAG_BYTES, open } from '../aead.js';
import { equalBytes, wipe } from '../bytes.js';
import { HEADER_PEEK_BYTES, bundleHeaderHash, bundleHeaderLength, decodeBundleHeader, type BundleHeader } from './header.js';
import { MAX_RECORD_BYTES, MIN_RECORD_BYTES, decodeRecord, recordAad, type BundleRecord } from './records.js';
import { Sequence } from './sequence.js';
import { damaged } from './wire.js';

/** Bytes read ahead at a time (ciphertext only). */
const READ_AHEAD_BYTES = 1024 * 1024;

/**
 * The length of the record frame starting with these 4 bytes, checked against
 * the bounds and against the bytes left in the file.
 * @throws StoreError E_TAMPERED
 */
export function recordLength(prefix: Uint8Array, remaining: number, index: number): number {
  if (prefix.length < 4) throw damaged(`it is cut short at record ${index}`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0);
  if (n < MIN_RECORD_BYTES || n > MAX_RECORD_BYTES) throw damaged(`record ${index} states an impossible length (${n} bytes)`);
  if (n > remaining) throw damaged(`it is cut short inside record ${index}`);
  return n;
}

/**
 * Opens a bundle's records one at a time, in file order, checking everything
 * the format promises: each tag under its index and the header hash, the
 * order rules, the counts, and the trailer's running hash. `next()` returns
 * the record, or `end` after the trailer, after which no byte may follow.
 */
export class BundleReader {
  readonly header: BundleHeader;
  readonly #key: Uint8Array;
  readonly #headerHash: Uint8Array;
  readonly #seq: Sequence;
  readonly #hash = sha256.create();
  #index = 0;
  #ended = false;

  /** Call verifyBundleKey(key, headerBytes) first, to tell a wrong key from damage. */
  constructor(key: Uint8Array, headerBytes: Uint8Array) {
    this.header = decodeBundleHeader(headerBytes);
    this.#key = key;
    this.#headerHash = bundleHeaderHash(headerBytes);
    this.#seq = new Sequence(this.header, (m) => damaged(m));
  }

  /** Records before the trailer. */
  get total(): number {
    return this.header.secrets + this.header.versions;
  }

  get index(): number {
    return this.#index;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Open the record whose frame is `lengthPrefix` (4 bytes) ‖ `sealed`.
   * Returned values are fresh arrays the caller owns (and should wipe).
   * @throws StoreError E_TAMPERED
   */
  next(lengthPrefix: Uint8Array, sealed: Uint8Array): BundleRecord | { type: 'end' } {
    if (this.#ended) throw damaged('bytes follow the trailer');
    const index = this.#index;
    const at = `record ${index}`;
    let plain: Uint8Array;
    try {
      plain = open(this.#key, sealed, recordAad(this.#headerHash, index));
    } catch (e) {
      if (e instanceof AeadOpenError) {
        throw damaged(index === this.total ? 'its trailer is missing or altered (truncated?)' : `${at} does not authenticate (altered, moved or dropped)`);
      }
      throw e;
    }
    try {
      const rec = decodeRecord(plain, index, this.header.contentTypes);
      if (index === this.total) {
        if (rec.type !== 'trailer') throw damaged(`${at} should be the trailer`);
        this.#seq.end(at);
        if (rec.secrets !== this.header.secrets || rec.versions !== this.header.versions || !equalBytes(rec.hash, this.#hash.digest())) {
          throw damaged('the trailer does not match the records');
        }
        this.#ended = true;
        this.#index++;
        return { type: 'end' };
      }
      if (rec.type === 'trailer') throw damaged(`${at} is a trailer before the last record`);
      if (rec.type === 'secret') this.#seq.secret(rec, at);
      else this.#seq.version(rec, at);
      this.#hash.update(lengthPrefix.subarray(0, 4));
      this.#hash.update(sealed.subarray(sealed.length - TAG_BYTES));
      this.#index++;
      return rec;
    } finally {
      wipe(plain);
    }
  }

  /** @throws StoreError E_TAMPERED when the trailer was never reached */
  finish(): void {
    if (!this.#ended) throw damaged(`it ends after record ${this.#index - 1} of ${this.total}, before the trailer (truncated)`);
  }
}

/** Where a bundle's bytes are read from, by position: its file, or memory (an age bundle's spool). */
export interface ByteSource {
  readonly size: number;
  /** As readSync: up to `length` bytes at `position` into `into` at `offset`; 0 at the end. */
  read(into: Uint8Array, offset: number, length: number, position: number): number;
  /** Release it: close the file, wipe the memory. */
  close(): void;
}

/** Bytes in memory as a source; `close()` wipes them. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(into, o, n, pos) {
      const part = bytes.subarray(pos, Math.min(pos + n, bytes.length));
      into.set(part, o);
      return part.length;
    },
    close: () => wipe(bytes),
  };
}

/**
 * A whole bundle read by position from a ByteSource, with a read-ahead
 * buffer: its header bytes at once, then its records, opened in order under
 * a key as often as asked (an import reads them twice).
 */
export class Bundle {
  readonly size: number;
  readonly headerBytes: Uint8Array;
  readonly #source: ByteSource;
  readonly #buf = new Uint8Array(READ_AHEAD_BYTES);
  #bufPos = 0;
  #bufLen = 0;

  /**
   * Reads the header bytes (not their key check: that needs the key).
   * @throws StoreError E_UNSUPPORTED_FORMAT, E_TAMPERED
   */
  constructor(source: ByteSource) {
    this.#source = source;
    this.size = source.size;
    const peek = new Uint8Array(this.#read(0, Math.min(HEADER_PEEK_BYTES, this.size)));
    const length = bundleHeaderLength(peek);
    if (length > this.size) decodeBundleHeader(new Uint8Array(this.#read(0, this.size))); // throws: cut short
    this.headerBytes = new Uint8Array(this.#read(0, length));
  }

  /** `n` bytes at `pos`: a view, valid until the next read. Short reads mean the file changed under us. */
  #read(pos: number, n: number): Uint8Array {
    if (n > this.#buf.length) {
      const out = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const got = this.#source.read(out, done, n - done, pos + done);
        if (got === 0) break;
        done += got;
      }
      return out.subarray(0, done);
    }
    if (pos < this.#bufPos || pos + n > this.#bufPos + this.#bufLen) {
      this.#bufPos = pos;
      this.#bufLen = 0;
      while (this.#bufLen < this.#buf.length) {
        const got = this.#source.read(this.#buf, this.#bufLen, this.#buf.length - this.#bufLen, pos + this.#bufLen);
        if (got === 0) break;
        this.#bufLen += got;
      }
    }
    const start = pos - this.#bufPos;
    return this.#buf.subarray(start, Math.min(start + n, this.#bufLen));
  }

  /**
   * Open every record in order; ends with the checks of the trailer and of
   * the file's end, and returns the header.
   * @throws StoreError E_TAMPERED
   */
  *records(key: Uint8Array): Generator<BundleRecord, BundleHeader> {
    const reader = new BundleReader(key, this.headerBytes);
    let pos = this.headerBytes.length;
    while (pos < this.size) {
      const prefix = new Uint8Array(this.#read(pos, Math.min(4, this.size - pos)));
      if (reader.ended) reader.next(prefix, prefix); // throws: bytes after the trailer
      const n = recordLength(prefix, this.size - pos - 4, reader.index);
      const sealed = this.#read(pos + 4, n);
      if (sealed.length !== n) recordLength(prefix, sealed.length, reader.index); // throws: the file shrank
      pos += 4 + n;
      const rec = reader.next(prefix, sealed);
      if (rec.type !== 'end') yield rec;
    }
    reader.finish();
    return reader.header;
  }

  /** `records`, calling `fn` for each. */
  walk(key: Uint8Array, fn: (rec: BundleRecord) => void): BundleHeader {
    const it = this.records(key);
    for (;;) {
      const step = it.next();
      if (step.done) return step.value;
      fn(step.value);
    }
  }

  close(): void {
    this.#source.close();
  }
}
