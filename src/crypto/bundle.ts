/**
 * Export bundle format v1 (docs/export-format.md): a pure codec, no I/O.
 *
 *   "strongbox-export/v1\n" ‖ header ‖ key check ‖ record* ‖ trailer record
 *
 * Each record is `u32 length ‖ nonce ‖ ciphertext ‖ tag`, sealed under the
 * bundle key with AAD = label ‖ SHA-256(header bytes) ‖ record index, so a
 * record cannot be moved, dropped, repeated or carried to another bundle.
 * The header says how many records follow; the last one (the trailer) repeats
 * the counts and a running SHA-256 over every record's length and tag before
 * it (each tag already authenticates its record, so hashing the tags commits
 * to the exact records without a second pass over large values), so a
 * truncated bundle is refused even at a record boundary. The key check (a
 * known plaintext sealed with AAD over the KDF part of the header) tells a
 * wrong passphrase or key file (E_WRONG_MASTER_KEY) from a damaged file
 * (E_TAMPERED).
 *
 * Decoding is strict: exact lengths, bounded length fields, capped KDF
 * parameters, names in ascending order, versions ascending within a secret.
 * Every structural fault after the magic line is E_TAMPERED; an unknown
 * magic version, format byte or key kind is E_UNSUPPORTED_FORMAT.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { StoreError, WrongMasterKeyError } from '../errors.js';
import { AeadOpenError, KEY_BYTES, NONCE_BYTES, OVERHEAD, TAG_BYTES, open, seal } from './aead.js';
import { concat, equalBytes, hex, lp, u32be, utf8, utf8Strict, wipe } from './bytes.js';
import { MAX_VALUE_BYTES } from './envelope.js';
import { BUNDLE_SCRYPT_LIMITS, checkScryptParams, scrypt, type ScryptParams } from './kdf.js';
import { randomBytes } from './random.js';

/** The ASCII magic line every v1 bundle starts with. */
export const BUNDLE_MAGIC = utf8.encode('strongbox-export/v1\n');
/** What any version's magic line starts with (to tell "newer bundle" from "not a bundle"). */
export const BUNDLE_MAGIC_PREFIX = 'strongbox-export/';
export const BUNDLE_FORMAT_V1 = 0x01;

export const KIND_PASSPHRASE = 0x01;
export const KIND_KEYFILE = 0x02;
export type BundleKeyKind = 'passphrase' | 'keyfile';

export const SCRYPT_SALT_BYTES = 16;
export const HKDF_SALT_BYTES = 32;
export const KEY_ID_BYTES = 8;

const FLAG_ALL_VERSIONS = 0x01;

/** Largest value a bundle carries: the largest any store may hold (MAX_VALUE_BYTES_LIMIT). */
export const MAX_BUNDLE_VALUE_BYTES = MAX_VALUE_BYTES;
export const MAX_NAME_BYTES = 256;
/** Custom metadata travels as JSON text of at most this many bytes. */
export const MAX_CUSTOM_BYTES = 64 * 1024;
/** Records before the trailer: the trailer's index must fit in a u32. */
export const MAX_RECORDS = 0xffff_fffe;

const CHECK_PLAINTEXT = utf8.encode('strongbox export key check v1');
export const CHECK_BYTES = CHECK_PLAINTEXT.length + OVERHEAD;
const CHECK_LABEL = utf8.encode('strongbox/export/v1/check');
const RECORD_LABEL = utf8.encode('strongbox/export/v1/record');
const KEY_INFO = utf8.encode('strongbox/export/v1/bundle-key');
const KEY_ID_LABEL = utf8.encode('strongbox/export/v1/key-id');

const REC_SECRET = 0x01;
const REC_VERSION = 0x02;
const REC_TRAILER = 0x03;
const VERSION_FIXED = 1 + 4 + 8 + 1 + 8;
const SECRET_FIXED = 1 + 2 + 4 + 4 + 8 + 8 + 4 + 4;
const TRAILER_BYTES = 1 + 4 + 4 + 32;
/** Upper bound of a record's sealed length (a version record with the largest value). */
export const MAX_RECORD_BYTES = VERSION_FIXED + MAX_BUNDLE_VALUE_BYTES + OVERHEAD;
/** Smallest sealed record: the trailer is the shortest plaintext. */
const MIN_RECORD_BYTES = 1 + OVERHEAD;

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
}

export interface SecretRecord {
  type: 'secret';
  name: string;
  /** The secret's current version in the source store (versions never reuse a number). */
  currentVersion: number;
  /** 0: the store default. */
  maxVersions: number;
  createdAt: number;
  updatedAt: number;
  custom: Record<string, string>;
  /** Version records that follow this one. */
  versionCount: number;
}

export interface VersionRecord {
  type: 'version';
  version: number;
  createdAt: number;
  /** Soft-deleted at this time; null when live. */
  deletedAt: number | null;
  value: Uint8Array;
}

export type BundleRecord = SecretRecord | VersionRecord;

/** Any fault in a bundle past its magic line: one code, E_TAMPERED, whatever the cause. */
function damaged(what: string): StoreError {
  return new StoreError('E_TAMPERED', `the export bundle is damaged or was altered: ${what}`, [
    'nothing was imported; get an intact copy of the bundle',
  ]);
}

function unsupported(what: string): StoreError {
  return new StoreError('E_UNSUPPORTED_FORMAT', what, ['it may have been written by a newer Strongbox; upgrade this one']);
}

// ---- small big-endian writers/readers ------------------------------------------------------

class Out {
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
class In {
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
    if (!Number.isSafeInteger(n)) throw damaged(`${this.what} holds a time out of range`);
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

// ---- header ----------------------------------------------------------------------------------

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
  if (format !== BUNDLE_FORMAT_V1) {
    throw unsupported(`unknown export bundle format 0x${format.toString(16).padStart(2, '0')}`);
  }
  return KDF_START + kdfLength(peek[BUNDLE_MAGIC.length + 1]!) + TAIL_BYTES + CHECK_BYTES;
}

function encodeUnchecked(h: BundleHeader): Uint8Array {
  const kind = h.kind === 'passphrase' ? KIND_PASSPHRASE : KIND_KEYFILE;
  const out = new Out(KDF_START + kdfLength(kind) + TAIL_BYTES).bytes(BUNDLE_MAGIC).u8(BUNDLE_FORMAT_V1).u8(kind);
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

function checkAad(unchecked: Uint8Array): Uint8Array {
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
  r.u8();
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
  return { ...h, allVersions: (flags & FLAG_ALL_VERSIONS) !== 0, createdAt, secrets, versions };
}

/** SHA-256 of the header bytes: bound into every record's AAD. */
export function bundleHeaderHash(headerBytes: Uint8Array): Uint8Array {
  return sha256(headerBytes);
}

// ---- keys -------------------------------------------------------------------------------------

/** The id a key-file bundle records for its key: not secret, lets a reader say "wrong key file". */
export function bundleKeyId(fileKey: Uint8Array): Uint8Array {
  return sha256(concat(lp(KEY_ID_LABEL), fileKey)).subarray(0, KEY_ID_BYTES);
}

function bundleKeyFromRoot(root: Uint8Array, salt: Uint8Array): Uint8Array {
  return hkdf(sha256, root, salt, KEY_INFO, KEY_BYTES);
}

/** A fresh header for a passphrase bundle (random salt); counts filled in by the writer. */
export function passphraseHeader(scryptParams: ScryptParams, fields: Pick<BundleHeader, 'allVersions' | 'createdAt'>, salt = randomBytes(SCRYPT_SALT_BYTES)): BundleHeader {
  return { kind: 'passphrase', scrypt: checkScryptParams(scryptParams, BUNDLE_SCRYPT_LIMITS), salt, ...fields, secrets: 0, versions: 0 };
}

/** A fresh header for a key-file bundle (random HKDF salt). */
export function keyFileHeader(fileKey: Uint8Array, fields: Pick<BundleHeader, 'allVersions' | 'createdAt'>, salt = randomBytes(HKDF_SALT_BYTES)): BundleHeader {
  return { kind: 'keyfile', keyId: bundleKeyId(fileKey), salt, ...fields, secrets: 0, versions: 0 };
}

/**
 * The bundle key from a passphrase: scrypt (capped like the store's) then HKDF.
 * @throws StoreError E_USAGE when the header is not a passphrase header
 */
export async function passphraseBundleKey(passphrase: Uint8Array, h: BundleHeader): Promise<Uint8Array> {
  if (h.kind !== 'passphrase' || !h.scrypt) {
    throw new WrongMasterKeyError('this bundle is sealed to a key file, not a passphrase', ['give the key file (--recipient-keyfile)']);
  }
  const root = await scrypt(passphrase, h.salt, h.scrypt, 32, BUNDLE_SCRYPT_LIMITS);
  try {
    return bundleKeyFromRoot(root, h.salt);
  } finally {
    wipe(root);
  }
}

/**
 * The bundle key from a 32-byte key-file key.
 * @throws WrongMasterKeyError when the header names another key (by id) or is a passphrase bundle
 */
export function keyFileBundleKey(fileKey: Uint8Array, h: BundleHeader): Uint8Array {
  if (fileKey.length !== KEY_BYTES) throw new RangeError(`bundle: a key-file key is ${KEY_BYTES} bytes`);
  if (h.kind !== 'keyfile' || !h.keyId) {
    throw new WrongMasterKeyError('this bundle is sealed with a passphrase, not a key file', ['give the export passphrase']);
  }
  const given = bundleKeyId(fileKey);
  if (!equalBytes(given, h.keyId)) {
    throw new WrongMasterKeyError(
      `this bundle is sealed to key file id ${hex(h.keyId)}; the key file given has id ${hex(given)}`,
      ['give the key file the bundle was exported for; nothing was imported'],
    );
  }
  return bundleKeyFromRoot(fileKey, h.salt);
}

/**
 * Open the key check with `key`.
 * @throws WrongMasterKeyError when it does not open: a wrong passphrase or key (or a damaged check)
 */
export function verifyBundleKey(key: Uint8Array, headerBytes: Uint8Array): void {
  const unchecked = headerBytes.subarray(0, headerBytes.length - CHECK_BYTES);
  let opened: Uint8Array | undefined;
  try {
    opened = open(key, headerBytes.subarray(headerBytes.length - CHECK_BYTES), checkAad(unchecked));
  } catch (e) {
    if (!(e instanceof AeadOpenError)) throw e;
  }
  if (!opened || !equalBytes(opened, CHECK_PLAINTEXT)) {
    throw new WrongMasterKeyError('the passphrase or key does not open this export bundle', [
      'check the export passphrase or recipient key file; nothing was imported',
    ]);
  }
}

// ---- records ----------------------------------------------------------------------------------

function recordAad(headerHash: Uint8Array, index: number): Uint8Array {
  return concat(lp(RECORD_LABEL), headerHash, u32be(index));
}

function encodeSecret(r: Omit<SecretRecord, 'type'>): Uint8Array {
  const name = utf8.encode(r.name);
  const custom = utf8.encode(JSON.stringify(r.custom));
  if (name.length === 0 || name.length > MAX_NAME_BYTES) throw new RangeError(`bundle: name length ${name.length}`);
  if (custom.length > MAX_CUSTOM_BYTES) throw new RangeError(`bundle: custom metadata of ${r.name} is ${custom.length} bytes`);
  return new Out(SECRET_FIXED + name.length + custom.length)
    .u8(REC_SECRET).u16(name.length).bytes(name).u32(r.currentVersion).u32(r.maxVersions).i64(r.createdAt).i64(r.updatedAt)
    .u32(custom.length).bytes(custom).u32(r.versionCount).done();
}

function encodeVersion(r: Omit<VersionRecord, 'type'>): Uint8Array {
  if (r.value.length > MAX_BUNDLE_VALUE_BYTES) throw new RangeError(`bundle: value of ${r.value.length} bytes`);
  return new Out(VERSION_FIXED + r.value.length)
    .u8(REC_VERSION).u32(r.version).i64(r.createdAt).u8(r.deletedAt === null ? 0 : 1).i64(r.deletedAt ?? 0).bytes(r.value).done();
}


function decodeCustom(b: Uint8Array, what: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8Strict.decode(b));
  } catch {
    throw damaged(`${what} holds unreadable custom metadata`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw damaged(`${what} holds custom metadata that is not an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw damaged(`${what} holds a custom metadata value that is not a string`);
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function decodeRecord(plain: Uint8Array, index: number): BundleRecord | { type: 'trailer'; secrets: number; versions: number; hash: Uint8Array } {
  const what = `record ${index}`;
  const r = new In(plain, what);
  const type = r.u8();
  if (type === REC_SECRET) {
    const nameBytes = r.bytes(r.u16());
    // Names are ASCII ([A-Za-z0-9._/-]); the importer applies the full naming rule.
    if (nameBytes.length === 0 || nameBytes.length > MAX_NAME_BYTES || nameBytes.some((c) => c < 0x21 || c > 0x7e)) {
      throw damaged(`${what} holds a name that cannot be a secret name`);
    }
    const name = Buffer.from(nameBytes).toString('latin1');
    const currentVersion = r.u32();
    const maxVersions = r.u32();
    const createdAt = r.i64();
    const updatedAt = r.i64();
    const customLength = r.u32();
    if (customLength > MAX_CUSTOM_BYTES) throw damaged(`${what} holds ${customLength} bytes of custom metadata`);
    const custom = decodeCustom(r.bytes(customLength), what);
    const versionCount = r.u32();
    r.end();
    if (currentVersion < 1 || versionCount < 1) throw damaged(`${what} states version ${currentVersion} with ${versionCount} versions`);
    return { type: 'secret', name, currentVersion, maxVersions, createdAt, updatedAt, custom, versionCount };
  }
  if (type === REC_VERSION) {
    const version = r.u32();
    const createdAt = r.i64();
    const state = r.u8();
    const deletedAt = r.i64();
    if (version < 1 || state > 1 || (state === 0 && deletedAt !== 0)) throw damaged(`${what} holds an impossible version`);
    return { type: 'version', version, createdAt, deletedAt: state === 1 ? deletedAt : null, value: new Uint8Array(r.rest()) };
  }
  if (type === REC_TRAILER) {
    const secrets = r.u32();
    const versions = r.u32();
    const hash = new Uint8Array(r.bytes(32));
    r.end();
    return { type: 'trailer', secrets, versions, hash };
  }
  throw damaged(`${what} has unknown type 0x${type.toString(16).padStart(2, '0')}`);
}

/**
 * The order rules both sides enforce: secrets in strictly ascending name
 * order, each followed by exactly its announced number of version records in
 * strictly ascending version order, none above the secret's current version.
 * Also the rules of the records inside an age bundle (src/crypto/age-records.ts).
 */
export class Sequence {
  secrets = 0;
  versions = 0;
  #lastName: string | undefined;
  #pending = 0;
  #lastVersion = 0;
  #current = 0;

  constructor(private readonly h: Pick<BundleHeader, 'allVersions' | 'secrets' | 'versions'>, private readonly fail: (m: string) => Error) {}

  secret(r: Pick<SecretRecord, 'name' | 'currentVersion' | 'versionCount'>, at: string): void {
    if (this.#pending > 0) throw this.fail(`${at}: a secret where a version of ${this.#lastName} was expected`);
    if (this.#lastName !== undefined && !(r.name > this.#lastName)) throw this.fail(`${at}: secret names out of order`);
    if (this.secrets + 1 > this.h.secrets) throw this.fail(`${at}: more secrets than the header states`);
    if (!this.h.allVersions && r.versionCount !== 1) throw this.fail(`${at}: a current-only bundle has one version per secret`);
    this.secrets++;
    this.#lastName = r.name;
    this.#pending = r.versionCount;
    this.#lastVersion = 0;
    this.#current = r.currentVersion;
  }

  version(r: Pick<VersionRecord, 'version' | 'deletedAt'>, at: string): void {
    if (this.#pending === 0) throw this.fail(`${at}: a version with no secret before it`);
    if (r.version <= this.#lastVersion || r.version > this.#current) throw this.fail(`${at}: versions out of order`);
    if (!this.h.allVersions && (r.version !== this.#current || r.deletedAt !== null)) {
      throw this.fail(`${at}: a current-only bundle holds only live current versions`);
    }
    if (this.versions + 1 > this.h.versions) throw this.fail(`${at}: more versions than the header states`);
    this.versions++;
    this.#pending--;
    this.#lastVersion = r.version;
  }

  end(at: string): void {
    if (this.#pending > 0 || this.secrets !== this.h.secrets || this.versions !== this.h.versions) {
      throw this.fail(`${at}: ${this.secrets} secrets and ${this.versions} versions, the header states ${this.h.secrets} and ${this.h.versions}`);
    }
  }
}

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
  #index = 0;
  #ended = false;

  /** `key` is used, not copied: keep it alive until the trailer is written, then wipe it. */
  constructor(key: Uint8Array, header: BundleHeader, options: BundleWriterOptions = {}) {
    this.#key = key;
    this.#nonce = options.nonce ?? (() => randomBytes(NONCE_BYTES));
    this.#headerBytes = encodeBundleHeader(header, key, this.#nonce());
    this.#headerHash = bundleHeaderHash(this.#headerBytes);
    this.#seq = new Sequence(header, (m) => new Error(`bundle writer: ${m}`));
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
    const plain = encodeVersion(r);
    try {
      return this.#frame(plain, true);
    } finally {
      wipe(plain);
    }
  }

  trailer(): Uint8Array {
    this.#seq.end(`record ${this.#index}`);
    const plain = new Out(TRAILER_BYTES).u8(REC_TRAILER).u32(this.#seq.secrets).u32(this.#seq.versions).bytes(this.#hash.digest()).done();
    const out = this.#frame(plain, false);
    this.#ended = true;
    return out;
  }
}

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
      const rec = decodeRecord(plain, index);
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

/** For tests only: seal records the writer would refuse, to check the reader refuses them too. */
export const __TESTS = { recordAad, encodeSecret, encodeVersion, TRAILER: REC_TRAILER };
