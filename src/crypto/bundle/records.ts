/**
 * The records of a v1 bundle (docs/export-format.md): their plaintext codec
 * and the AAD each is sealed with. No I/O; the framing is reader.ts's.
 *
 * Each record is `u32 length ‖ nonce ‖ ciphertext ‖ tag`, sealed under the
 * bundle key with AAD = label ‖ SHA-256(header bytes) ‖ record index, so a
 * record cannot be moved, dropped, repeated or carried to another bundle.
 * The header says how many records follow; the last one (the trailer) repeats
 * the counts and a running SHA-256 over every record's length and tag before
 * it (each tag already authenticates its record, so hashing the tags commits
 * to the exact records without a second pass over large values), so a
 * truncated bundle is refused even at a record boundary.
 *
 * Decoding is strict: exact lengths, bounded length fields, names of
 * printable ASCII; the order rules are sequence.ts's.
 */
import { OVERHEAD } from '../aead.js';
import { concat, u32be, utf8, utf8Strict } from '../bytes.js';
import { MAX_VALUE_BYTES } from '../envelope.js';
import { In, Out, damaged, lp } from './wire.js';

/** Largest value a bundle carries: the largest any store may hold (MAX_VALUE_BYTES_LIMIT). */
export const MAX_BUNDLE_VALUE_BYTES = MAX_VALUE_BYTES;
export const MAX_NAME_BYTES = 256;
/** Custom metadata travels as JSON text of at most this many bytes. */
export const MAX_CUSTOM_BYTES = 64 * 1024;

const RECORD_LABEL = utf8.encode('strongbox/export/v1/record');

const REC_SECRET = 0x01;
const REC_VERSION = 0x02;
const REC_TRAILER = 0x03;
const VERSION_FIXED = 1 + 4 + 8 + 1 + 8;
/** Bits of a version record's state byte: format 0x01 knows only DELETED; format 0x02 adds JSON. */
const STATE_DELETED = 0x01;
const STATE_JSON = 0x02;
const SECRET_FIXED = 1 + 2 + 4 + 4 + 8 + 8 + 4 + 4;
const TRAILER_BYTES = 1 + 4 + 4 + 32;
/** Upper bound of a record's sealed length (a version record with the largest value). */
export const MAX_RECORD_BYTES = VERSION_FIXED + MAX_BUNDLE_VALUE_BYTES + OVERHEAD;
/** Smallest sealed record: the trailer is the shortest plaintext. */
export const MIN_RECORD_BYTES = 1 + OVERHEAD;

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
  /**
   * The value is the UTF-8 text of a JSON object (a store's JSON secret):
   * only in a bundle of format 0x02 (BundleHeader.contentTypes), and only
   * present when true (absent: plain bytes).
   */
  json?: true;
}

export type BundleRecord = SecretRecord | VersionRecord;

export function recordAad(headerHash: Uint8Array, index: number): Uint8Array {
  return concat(lp(RECORD_LABEL), headerHash, u32be(index));
}

export function encodeSecret(r: Omit<SecretRecord, 'type'>): Uint8Array {
  const name = utf8.encode(r.name);
  const custom = utf8.encode(JSON.stringify(r.custom));
  if (name.length === 0 || name.length > MAX_NAME_BYTES) throw new RangeError(`bundle: name length ${name.length}`);
  if (custom.length > MAX_CUSTOM_BYTES) throw new RangeError(`bundle: custom metadata of ${r.name} is ${custom.length} bytes`);
  return new Out(SECRET_FIXED + name.length + custom.length)
    .u8(REC_SECRET).u16(name.length).bytes(name).u32(r.currentVersion).u32(r.maxVersions).i64(r.createdAt).i64(r.updatedAt)
    .u32(custom.length).bytes(custom).u32(r.versionCount).done();
}

/** `contentTypes`: the bundle is of format 0x02, whose state byte may say JSON. */
export function encodeVersion(r: Omit<VersionRecord, 'type'>, contentTypes = false): Uint8Array {
  if (r.value.length > MAX_BUNDLE_VALUE_BYTES) throw new RangeError(`bundle: value of ${r.value.length} bytes`);
  if (r.json && !contentTypes) throw new RangeError('bundle: a JSON version needs a bundle of format 0x02');
  const state = (r.deletedAt === null ? 0 : STATE_DELETED) | (r.json ? STATE_JSON : 0);
  return new Out(VERSION_FIXED + r.value.length)
    .u8(REC_VERSION).u32(r.version).i64(r.createdAt).u8(state).i64(r.deletedAt ?? 0).bytes(r.value).done();
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

/** `contentTypes`: the bundle is of format 0x02, whose version records may say JSON. */
export function decodeRecord(
  plain: Uint8Array, index: number, contentTypes = false,
): BundleRecord | { type: 'trailer'; secrets: number; versions: number; hash: Uint8Array } {
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
    const known = contentTypes ? STATE_DELETED | STATE_JSON : STATE_DELETED;
    const deleted = (state & STATE_DELETED) !== 0;
    if (version < 1 || (state & ~known) !== 0 || (!deleted && deletedAt !== 0)) throw damaged(`${what} holds an impossible version`);
    const rec: VersionRecord = { type: 'version', version, createdAt, deletedAt: deleted ? deletedAt : null, value: new Uint8Array(r.rest()) };
    if ((state & STATE_JSON) !== 0) rec.json = true;
    return rec;
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

/** The trailer's plaintext: the counts and the running hash of the records before it. */
export function encodeTrailer(secrets: number, versions: number, hash: Uint8Array): Uint8Array {
  return new Out(TRAILER_BYTES).u8(REC_TRAILER).u32(secrets).u32(versions).bytes(hash).done();
}

/** For tests only: seal records the writer would refuse, to check the reader refuses them too. */
export const __TESTS = { recordAad, encodeSecret, encodeVersion, TRAILER: REC_TRAILER };
