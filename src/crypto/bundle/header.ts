/**
 * Export bundle format v1 (docs/export-format.md): the magic line and the
 * header codec, no I/O.
 *
 *   "strongbox-export/v1\n" ‖ header ‖ key check ‖ record* ‖ trailer record
 *
 * The header holds the public facts (key kind, KDF parameters and salt,
 * flags, time, record counts); the key check that ends it (a known plaintext
 * sealed with AAD over the KDF part of the header) tells a wrong passphrase
 * or key file (E_WRONG_MASTER_KEY, see keys.ts) from a damaged file
 * (E_TAMPERED). The records are records.ts; the framing reader.ts.
 *
 * Decoding is strict: exact lengths, capped KDF parameters, bounded counts.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { StoreError } from '../../errors.js';
import { OVERHEAD, seal } from '../aead.js';
import { concat, equalBytes, utf8 } from '../bytes.js';
import { BUNDLE_SCRYPT_LIMITS, checkScryptParams, type ScryptParams } from '../kdf.js';
import { In, Out, damaged, lp, unsupported } from './wire.js';

/** The ASCII magic line every v1 bundle starts with. */
export const BUNDLE_MAGIC = utf8.encode('strongbox-export/v1\n');
/** What any version's magic line starts with (to tell "newer bundle" from "not a bundle"). */
export const BUNDLE_MAGIC_PREFIX = 'strongbox-export/';
export const BUNDLE_FORMAT_V1 = 0x01;
/**
 * Format 0x02: the layout of 0x01, and a version record's state byte may
 * also say that the value is a JSON object's text (records.ts). Written only
 * for a bundle that holds such a version, so every other bundle stays 0x01
 * and readable by programs that know only 0x01; they refuse a 0x02 bundle
 * as an unknown format (E_UNSUPPORTED_FORMAT) instead of losing the flag.
 */
export const BUNDLE_FORMAT_CONTENT_TYPES = 0x02;

export const KIND_PASSPHRASE = 0x01;
export const KIND_KEYFILE = 0x02;
export type BundleKeyKind = 'passphrase' | 'keyfile';

export const SCRYPT_SALT_BYTES = 16;
export const HKDF_SALT_BYTES = 32;
export const KEY_ID_BYTES = 8;

const FLAG_ALL_VERSIONS = 0x01;

/** Records before the trailer: the trailer's index must fit in a u32. */
export const MAX_RECORDS = 0xffff_fffe;

/** What the key check seals: a known plaintext. */
export const CHECK_PLAINTEXT = utf8.encode('strongbox export key check v1');
export const CHECK_BYTES = CHECK_PLAINTEXT.length + OVERHEAD;
const CHECK_LABEL = utf8.encode('strongbox/export/v1/check');

/** Bytes before the KDF-specific part: magic ‖ format ‖ kind. */
const KDF_START = BUNDLE_MAGIC.length + 2;
/** Bytes a reader needs to learn the header's full length. */
export const HEADER_PEEK_BYTES = KDF_START;

/** The public facts at the head of a bundle (nothing secret). */
export interface BundleHeader {
  kind: BundleKeyKind;
  /** Passphrase bundles: scrypt cost. */
  scrypt?: ScryptParams;
  /** Key-file bundles: the key's id (first 8 bytes of a labelled SHA-256 of the key). */
  keyId?: Uint8Array;
  /** scrypt salt (16 bytes) or HKDF salt (32 bytes). */
  salt: Uint8Array;
  /** Every non-destroyed version, or only each secret's current live version. */
  allVersions: boolean;
  /** When the bundle was written, ms since the epoch. */
  createdAt: number;
  /** Secret records that follow. */
  secrets: number;
  /** Version records that follow. */
  versions: number;
  /** Format 0x02: version records may be marked JSON. Present only when true (format 0x01 otherwise). */
  contentTypes?: true;
}

function kdfLength(kind: number): number {
  if (kind === KIND_PASSPHRASE) return 3 + SCRYPT_SALT_BYTES;
  if (kind === KIND_KEYFILE) return KEY_ID_BYTES + HKDF_SALT_BYTES;
  throw unsupported(`unknown export bundle key kind 0x${kind.toString(16).padStart(2, '0')}`);
}

const TAIL_BYTES = 1 + 8 + 4 + 4;

/**
 * Check the magic line and format byte, and say how long the whole header
 * (key check included) is. `peek` holds at least HEADER_PEEK_BYTES bytes, or
 * the whole file when it is shorter.
 * @throws StoreError E_UNSUPPORTED_FORMAT (not a bundle, or a newer one), E_TAMPERED when cut short
 */
export function bundleHeaderLength(peek: Uint8Array): number {
  const prefix = utf8.encode(BUNDLE_MAGIC_PREFIX);
  if (!equalBytes(peek.subarray(0, prefix.length), prefix)) {
    throw new StoreError('E_UNSUPPORTED_FORMAT', 'this file is not a Strongbox export bundle (no strongbox-export/ magic line)');
  }
  if (peek.length < KDF_START) throw damaged('it is cut short inside the header');
  if (!equalBytes(peek.subarray(0, BUNDLE_MAGIC.length), BUNDLE_MAGIC)) {
    const line = Buffer.from(peek.subarray(0, BUNDLE_MAGIC.length)).toString('latin1').split('\n')[0]!;
    const shown = /^[\x20-\x7e]*$/.test(line) ? `"${line}"` : 'an unreadable magic line';
    throw unsupported(`unsupported export bundle version: ${shown}; this program reads strongbox-export/v1`);
  }
  const format = peek[BUNDLE_MAGIC.length]!;
  if (format !== BUNDLE_FORMAT_V1 && format !== BUNDLE_FORMAT_CONTENT_TYPES) {
    throw unsupported(`unknown export bundle format 0x${format.toString(16).padStart(2, '0')}`);
  }
  return KDF_START + kdfLength(peek[BUNDLE_MAGIC.length + 1]!) + TAIL_BYTES + CHECK_BYTES;
}

function encodeUnchecked(h: BundleHeader): Uint8Array {
  const kind = h.kind === 'passphrase' ? KIND_PASSPHRASE : KIND_KEYFILE;
  const format = h.contentTypes ? BUNDLE_FORMAT_CONTENT_TYPES : BUNDLE_FORMAT_V1;
  const out = new Out(KDF_START + kdfLength(kind) + TAIL_BYTES).bytes(BUNDLE_MAGIC).u8(format).u8(kind);
  if (h.kind === 'passphrase') {
    const s = checkScryptParams(h.scrypt ?? { logN: 0, r: 0, p: 0 }, BUNDLE_SCRYPT_LIMITS);
    if (h.salt.length !== SCRYPT_SALT_BYTES) throw new RangeError(`bundle: scrypt salt must be ${SCRYPT_SALT_BYTES} bytes`);
    out.u8(s.logN).u8(s.r).u8(s.p).bytes(h.salt);
  } else {
    if (h.keyId?.length !== KEY_ID_BYTES) throw new RangeError(`bundle: key id must be ${KEY_ID_BYTES} bytes`);
    if (h.salt.length !== HKDF_SALT_BYTES) throw new RangeError(`bundle: HKDF salt must be ${HKDF_SALT_BYTES} bytes`);
    out.bytes(h.keyId).bytes(h.salt);
  }
  checkCounts(h.secrets, h.versions, (m) => new RangeError(`bundle: ${m}`));
  return out.u8(h.allVersions ? FLAG_ALL_VERSIONS : 0).i64(h.createdAt).u32(h.secrets).u32(h.versions).done();
}

function checkCounts(secrets: number, versions: number, fail: (m: string) => Error): void {
  if (!Number.isSafeInteger(secrets) || !Number.isSafeInteger(versions) || secrets < 0 || versions < secrets || secrets + versions > MAX_RECORDS) {
    throw fail(`impossible counts (${secrets} secrets, ${versions} versions)`);
  }
}

/** The key check's AAD: its label and the header up to the end of its KDF part. */
export function checkAad(unchecked: Uint8Array): Uint8Array {
  const kind = unchecked[BUNDLE_MAGIC.length + 1]!;
  return concat(lp(CHECK_LABEL), lp(unchecked.subarray(0, KDF_START + kdfLength(kind))));
}

/**
 * The header bytes, key check included, for a bundle sealed under `key`.
 * `nonce` is for test vectors only.
 */
export function encodeBundleHeader(h: BundleHeader, key: Uint8Array, nonce?: Uint8Array): Uint8Array {
  const unchecked = encodeUnchecked(h);
  return concat(unchecked, seal(key, CHECK_PLAINTEXT, checkAad(unchecked), nonce));
}

/**
 * Decode the whole header (exactly bundleHeaderLength bytes). The key check
 * is not verified here: that needs the key (verifyBundleKey).
 * @throws StoreError E_UNSUPPORTED_FORMAT (also for scrypt parameters above BUNDLE_SCRYPT_LIMITS), E_TAMPERED
 */
export function decodeBundleHeader(bytes: Uint8Array): BundleHeader {
  const length = bundleHeaderLength(bytes);
  if (bytes.length < length) throw damaged('it is cut short inside the header');
  if (bytes.length > length) throw new RangeError('bundle: decodeBundleHeader takes the header bytes only');
  const r = new In(bytes, 'the header');
  r.bytes(BUNDLE_MAGIC.length);
  const format = r.u8(); // one of the two bundleHeaderLength accepted
  const kind = r.u8();
  let h: Pick<BundleHeader, 'kind' | 'scrypt' | 'keyId' | 'salt'>;
  if (kind === KIND_PASSPHRASE) {
    const [logN, rr, p] = [r.u8(), r.u8(), r.u8()];
    // The bundle's author picks these: capped tighter than a store's own, before anyone derives.
    h = { kind: 'passphrase', scrypt: checkScryptParams({ logN, r: rr, p }, BUNDLE_SCRYPT_LIMITS), salt: new Uint8Array(r.bytes(SCRYPT_SALT_BYTES)) };
  } else {
    h = { kind: 'keyfile', keyId: new Uint8Array(r.bytes(KEY_ID_BYTES)), salt: new Uint8Array(r.bytes(HKDF_SALT_BYTES)) };
  }
  const flags = r.u8();
  if ((flags & ~FLAG_ALL_VERSIONS) !== 0) throw damaged(`unknown header flags 0x${flags.toString(16)}`);
  const createdAt = r.i64();
  const secrets = r.u32();
  const versions = r.u32();
  checkCounts(secrets, versions, (m) => damaged(`the header states ${m}`));
  r.bytes(CHECK_BYTES);
  r.end();
  return {
    ...h, allVersions: (flags & FLAG_ALL_VERSIONS) !== 0, createdAt, secrets, versions,
    ...(format === BUNDLE_FORMAT_CONTENT_TYPES ? { contentTypes: true as const } : {}),
  };
}

/** SHA-256 of the header bytes: bound into every record's AAD. */
export function bundleHeaderHash(headerBytes: Uint8Array): Uint8Array {
  return sha256(headerBytes);
}
