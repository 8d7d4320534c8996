/**
 * Strongbox records v1, the plaintext inside an age bundle
 * (docs/export-format.md, "Age bundles"): a pure codec, no I/O, no age.
 *
 * JSON Lines, one object per line, so that `age -d` alone gives a file a
 * person (or jq) can read: a header line with the counts, then each secret's
 * line followed by one line per version it carries. The records are those of
 * a v1 bundle (the same fields, the same order rules, checked by the same
 * `Sequence`); only their encoding differs. Times are ISO 8601 in UTC with
 * milliseconds, as `Date.prototype.toISOString` writes them; a value is a
 * JSON string when it is UTF-8 text without control characters other than
 * tab, line feed and carriage return, else base64.
 *
 * Decoding is strict: exact key sets, exact types, canonical times and
 * base64, bounded lines. The age layer only says that the file was sealed to
 * us and not changed since; anyone who knows a recipient can seal anything to
 * it, so every line is checked as carefully as a v1 record. A fault is
 * E_TAMPERED; a first line that is not a records header is
 * E_UNSUPPORTED_FORMAT (an age file, but not a Strongbox export).
 */
import { StoreError } from '../errors.js';
import { MAX_RECORDS } from './bundle/header.js';
import { MAX_BUNDLE_VALUE_BYTES, MAX_CUSTOM_BYTES, MAX_NAME_BYTES, type BundleRecord, type SecretRecord, type VersionRecord } from './bundle/records.js';
import { Sequence } from './bundle/sequence.js';
import { toBase64, tryUtf8, utf8, utf8Strict } from './bytes.js';

/** The `format` of the header line; a later layout gets a new number. */
export const RECORDS_FORMAT = 'strongbox-records/v1';
/**
 * v1, and a version line may also hold `"json": true` (its value is a JSON
 * object's text). Written only when some version is JSON (as a v1 bundle's
 * format 0x02), so every other file stays v1 for readers that know only v1;
 * those refuse a v2 file as unsupported instead of losing the flag.
 */
export const RECORDS_FORMAT_CONTENT_TYPES = 'strongbox-records/v2';
const RECORDS_FORMAT_PREFIX = 'strongbox-records/';

/**
 * The longest line a writer produces: a version line whose value is text
 * made entirely of characters JSON escapes in two bytes (`"`, `\`, tab, line
 * feed, carriage return), plus the fixed fields and the longest name. Base64
 * (4/3) stays under it.
 */
export const MAX_LINE_BYTES = 2 * MAX_BUNDLE_VALUE_BYTES + 1024;

export interface RecordsHeader {
  allVersions: boolean;
  createdAt: number;
  secrets: number;
  versions: number;
  /** strongbox-records/v2: version lines may say JSON. Present only when true. */
  contentTypes?: true;
}

/** What a line holds: the header (the first line), then secrets and their versions. */
export type RecordsLine = ({ type: 'header' } & RecordsHeader) | BundleRecord;

const U32_MAX = 0xffff_ffff;
// Control characters JSON would escape as \u00XX (six bytes for one): such values go as base64.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/;
const ISO_TIME = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function damaged(what: string): StoreError {
  return new StoreError('E_TAMPERED', `the age bundle is damaged or was altered: ${what}`, [
    'nothing was imported; get an intact copy of the bundle',
  ]);
}

function line(o: object): Uint8Array {
  return utf8.encode(`${JSON.stringify(o)}\n`);
}

function iso(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new RangeError(`records: time ${ms} is out of range`);
  return d.toISOString();
}

// ---- writing ----------------------------------------------------------------------------------

export function encodeHeaderLine(h: RecordsHeader): Uint8Array {
  const format = h.contentTypes ? RECORDS_FORMAT_CONTENT_TYPES : RECORDS_FORMAT;
  return line({ type: 'header', format, created: iso(h.createdAt), allVersions: h.allVersions, secrets: h.secrets, versions: h.versions });
}

export function encodeSecretLine(r: Omit<SecretRecord, 'type'>): Uint8Array {
  return line({
    type: 'secret', name: r.name, currentVersion: r.currentVersion, maxVersions: r.maxVersions,
    created: iso(r.createdAt), updated: iso(r.updatedAt), custom: r.custom, versionCount: r.versionCount,
  });
}

/**
 * The value is not kept; the line holds it (as text or base64), so the caller should not keep the line longer than needed.
 * A JSON version (`json`) belongs only in a strongbox-records/v2 file: the caller's header says so.
 */
export function encodeVersionLine(name: string, r: Omit<VersionRecord, 'type'>): Uint8Array {
  if (r.value.length > MAX_BUNDLE_VALUE_BYTES) throw new RangeError(`records: value of ${r.value.length} bytes`);
  const text = tryUtf8(r.value);
  const value = text !== undefined && !CONTROL.test(text) ? { value: text } : { base64: toBase64(r.value) };
  return line({
    type: 'version', name, version: r.version, created: iso(r.createdAt), deleted: r.deletedAt === null ? null : iso(r.deletedAt),
    ...(r.json ? { json: true } : {}), ...value,
  });
}

// ---- reading ----------------------------------------------------------------------------------

type Fields = Record<string, unknown>;

function keysAre(o: Fields, keys: readonly string[], what: string): void {
  const have = Object.keys(o);
  if (have.length !== keys.length || !keys.every((k) => Object.hasOwn(o, k))) {
    throw damaged(`${what} does not have exactly the fields ${keys.join(', ')}`);
  }
}

function whole(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw damaged(`${what} is not a whole number in ${min}..${max}`);
  return v;
}

function time(v: unknown, what: string): number {
  if (typeof v !== 'string' || !ISO_TIME.test(v)) throw damaged(`${what} is not a time like 2025-01-31T12:00:00.000Z`);
  const ms = Date.parse(v);
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== v) throw damaged(`${what} is not a valid time`);
  return ms;
}

function name(v: unknown, what: string): string {
  // Names are ASCII ([A-Za-z0-9._/-]); the importer applies the full naming rule.
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_NAME_BYTES || !/^[\x21-\x7e]+$/.test(v)) {
    throw damaged(`${what} holds a name that cannot be a secret name`);
  }
  return v;
}

function custom(v: unknown, what: string): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw damaged(`${what} holds custom metadata that is not an object`);
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw damaged(`${what} holds a custom metadata value that is not a string`);
    // defineProperty: a "__proto__" key stays an ordinary key.
    Object.defineProperty(out, k, { value: s, enumerable: true, writable: true, configurable: true });
  }
  if (utf8.encode(JSON.stringify(out)).length > MAX_CUSTOM_BYTES) throw damaged(`${what} holds more than ${MAX_CUSTOM_BYTES} bytes of custom metadata`);
  return out;
}

function value(o: Fields, what: string): Uint8Array {
  if (Object.hasOwn(o, 'value')) {
    const v = o.value;
    // A lone surrogate has no UTF-8 form: encoding it would import U+FFFD instead.
    if (typeof v !== 'string' || /\p{Cs}/u.test(v)) throw damaged(`${what} holds a value that is not text`);
    const bytes = utf8.encode(v);
    if (bytes.length > MAX_BUNDLE_VALUE_BYTES) throw damaged(`${what} holds a value of ${bytes.length} bytes`);
    return bytes;
  }
  const b = o.base64;
  if (typeof b !== 'string' || !BASE64.test(b)) throw damaged(`${what} holds a value that is not canonical base64`);
  if ((b.length / 4) * 3 > MAX_BUNDLE_VALUE_BYTES + 2) throw damaged(`${what} holds a value over ${MAX_BUNDLE_VALUE_BYTES} bytes`);
  const bytes = new Uint8Array(Buffer.from(b, 'base64'));
  if (bytes.length > MAX_BUNDLE_VALUE_BYTES) throw damaged(`${what} holds a value of ${bytes.length} bytes`);
  return bytes;
}

const HEADER_KEYS = ['type', 'format', 'created', 'allVersions', 'secrets', 'versions'] as const;
const SECRET_KEYS = ['type', 'name', 'currentVersion', 'maxVersions', 'created', 'updated', 'custom', 'versionCount'] as const;
const VERSION_KEYS_TEXT = ['type', 'name', 'version', 'created', 'deleted', 'value'] as const;
const VERSION_KEYS_BASE64 = ['type', 'name', 'version', 'created', 'deleted', 'base64'] as const;

/**
 * Reads the records one line at a time (each line without its line feed),
 * checking every rule a v1 bundle reader checks: the header first, the order
 * rules, the counts. `finish()` after the last line.
 */
export class RecordsDecoder {
  #header: RecordsHeader | undefined;
  #seq: Sequence | undefined;
  #secret: string | undefined;
  #line = 0;

  /** The header, once its line has been read. */
  get header(): RecordsHeader | undefined {
    return this.#header;
  }

  /**
   * The record on `bytes` (one line, no line feed): the header the first
   * time, then secrets and versions. Returned values are fresh arrays the
   * caller owns (and should wipe).
   * @throws StoreError E_TAMPERED, E_UNSUPPORTED_FORMAT (the first line)
   */
  next(bytes: Uint8Array): RecordsLine {
    const at = `line ${++this.#line}`;
    if (bytes.length > MAX_LINE_BYTES) throw damaged(`${at} is longer than ${MAX_LINE_BYTES} bytes`);
    const o = this.#parse(bytes, at);
    if (!this.#header) return this.#readHeader(o, at);
    const seq = this.#seq!;
    if (o.type === 'secret') {
      keysAre(o, SECRET_KEYS, at);
      const r: SecretRecord = {
        type: 'secret', name: name(o.name, at), currentVersion: whole(o.currentVersion, 1, U32_MAX, `${at}: currentVersion`),
        maxVersions: whole(o.maxVersions, 0, U32_MAX, `${at}: maxVersions`), createdAt: time(o.created, `${at}: created`),
        updatedAt: time(o.updated, `${at}: updated`), custom: custom(o.custom, at), versionCount: whole(o.versionCount, 1, U32_MAX, `${at}: versionCount`),
      };
      seq.secret(r, at);
      this.#secret = r.name;
      return r;
    }
    if (o.type === 'version') {
      // v2 only: "json", exactly true when present.
      const json = this.#header.contentTypes && Object.hasOwn(o, 'json');
      if (json && o.json !== true) throw damaged(`${at}: json is not true`);
      const keys = Object.hasOwn(o, 'value') ? VERSION_KEYS_TEXT : VERSION_KEYS_BASE64;
      keysAre(o, json ? [...keys, 'json'] : keys, at);
      if (name(o.name, at) !== this.#secret) throw damaged(`${at}: a version of ${o.name as string} where one of ${this.#secret ?? 'no secret'} belongs`);
      const version = whole(o.version, 1, U32_MAX, `${at}: version`);
      const createdAt = time(o.created, `${at}: created`);
      const deletedAt = o.deleted === null ? null : time(o.deleted, `${at}: deleted`);
      seq.version({ version, deletedAt }, at);
      return { type: 'version', version, createdAt, deletedAt, value: value(o, at), ...(json ? { json: true as const } : {}) };
    }
    throw damaged(`${at} has an unknown type`);
  }

  /** @throws StoreError E_TAMPERED when records are missing (or nothing was read at all) */
  finish(): RecordsHeader {
    if (!this.#header) throw damaged('it holds no records header (empty)');
    this.#seq!.end(`after line ${this.#line}`);
    return this.#header;
  }

  #parse(bytes: Uint8Array, at: string): Fields {
    let parsed: unknown;
    try {
      let text = utf8Strict.decode(bytes);
      // `age -d` gives a file a person may edit and seal again: an editor's BOM before the first line is
      // skipped (as the decoder did before it came to keep a BOM, for values). A BOM anywhere else is refused.
      if (!this.#header && this.#line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      parsed = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the input, which may be a value: never pass it on.
      if (!this.#header) throw notRecords();
      throw damaged(`${at} is not a JSON object`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      if (!this.#header) throw notRecords();
      throw damaged(`${at} is not a JSON object`);
    }
    return parsed as Fields;
  }

  #readHeader(o: Fields, at: string): RecordsLine {
    if (o.type !== 'header' || typeof o.format !== 'string' || !o.format.startsWith(RECORDS_FORMAT_PREFIX)) throw notRecords();
    if (o.format !== RECORDS_FORMAT && o.format !== RECORDS_FORMAT_CONTENT_TYPES) {
      const shown = /^[\x20-\x7e]{1,64}$/.test(o.format) ? `"${o.format}"` : 'an unreadable format';
      throw new StoreError('E_UNSUPPORTED_FORMAT', `unsupported age bundle records: ${shown}; this program reads ${RECORDS_FORMAT} and ${RECORDS_FORMAT_CONTENT_TYPES}`, [
        'it may have been written by a newer Strongbox; upgrade this one',
      ]);
    }
    keysAre(o, HEADER_KEYS, at);
    if (typeof o.allVersions !== 'boolean') throw damaged(`${at}: allVersions is not true or false`);
    const secrets = whole(o.secrets, 0, MAX_RECORDS, `${at}: secrets`);
    const versions = whole(o.versions, 0, MAX_RECORDS, `${at}: versions`);
    if (versions < secrets || secrets + versions > MAX_RECORDS) throw damaged(`${at} states impossible counts (${secrets} secrets, ${versions} versions)`);
    const h: RecordsHeader = { allVersions: o.allVersions, createdAt: time(o.created, `${at}: created`), secrets, versions };
    if (o.format === RECORDS_FORMAT_CONTENT_TYPES) h.contentTypes = true;
    this.#header = h;
    this.#seq = new Sequence(h, damaged);
    return { type: 'header', ...h };
  }
}

function notRecords(): StoreError {
  return new StoreError('E_UNSUPPORTED_FORMAT', `this age file does not hold a Strongbox export (its first line is not a ${RECORDS_FORMAT} header)`, [
    'it may be another kind of age file: open it with age -d',
  ]);
}
