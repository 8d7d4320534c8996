/**
 * Row MACs: every row that carries meaning (header entries, data keys,
 * secrets, versions, records) and the state row are authenticated with HMAC-SHA256
 * under the store's integrity key, over a canonical encoding of the row as
 * stored, bound to the store id, the row's kind and its identity (primary
 * key). Someone who can write the file but lacks the master key can neither
 * edit a row nor move one to another place without the MAC failing.
 *
 * The encoding is strict about types: a damaged file can hold a string where
 * a number belongs or a NULL where a value must be, and such a row is
 * E_TAMPERED naming the row, not a TypeError later on.
 *
 * A version's ciphertext is covered by its head: the version row's MAC
 * covers the format byte, key id and nonce, the secret row's MAC its current
 * version's nonce, and the AEAD tag binds the rest to (store id, name,
 * version). Audit entries are not row-MAC'd: they are hash-chained
 * (src/store/audit.ts) with the chain's end in the state row.
 */
import { TamperedError } from '../../errors.js';
import { Hmac, macMatches } from '../../crypto/mac.js';
import { wipe } from '../../crypto/bytes.js';
import { NONCE_BYTES } from '../../crypto/aead.js';
import { HEADER_BYTES } from '../../crypto/format.js';
import type { KeyRow, RawMeta, RawRecord, RawSecret, RawVersion } from '../../storage/storage.js';

const LABELS = {
  meta: 'strongbox/row/meta/v1',
  key: 'strongbox/row/key/v1',
  secret: 'strongbox/row/secret/v1',
  secretBound: 'strongbox/row/secret/v2',
  version: 'strongbox/row/version/v1',
  versionBound: 'strongbox/row/version/v2',
  record: 'strongbox/row/record/v1',
  state: 'strongbox/state/v1',
} as const;

/** What a JSON version's MAC'd encoding ends with (Canon.contentType). */
const JSON_CONTENT = 'json';

/** Thrown by the encoder; turned into a TamperedError that names the row. */
class BadField extends Error {}

const BLOCK = 64;

/**
 * A canonical, length-prefixed encoding written straight into the HMAC's
 * buffer after its padded key (the MACs run on every get and put; rows hold
 * no secret, so nothing needs wiping). Numbers are whole, safe integers
 * encoded as 8 bytes; a nullable field has a presence byte; text and bytes
 * carry their length. Each kind starts with its label and the store id,
 * encoded once.
 */
class Canon {
  #buf: Buffer;
  #off = BLOCK;

  constructor(private readonly hmac: Hmac) {
    this.#buf = hmac.room(0);
  }

  start(prefix: Uint8Array): this {
    this.#off = BLOCK;
    this.#room(prefix.length);
    this.#buf.set(prefix, this.#off);
    this.#off += prefix.length;
    return this;
  }

  #room(n: number): void {
    if (this.#off + n > this.#buf.length) this.#buf = this.hmac.room(this.#off - BLOCK + n);
  }

  /** Byte stores, not Buffer.write*: this runs a dozen times per get, and the checked writers cost more than the MAC's hashing. */
  #u32(n: number): void {
    const b = this.#buf;
    const o = this.#off;
    b[o] = n >>> 24;
    b[o + 1] = n >>> 16;
    b[o + 2] = n >>> 8;
    b[o + 3] = n;
    this.#off = o + 4;
  }

  int(n: unknown, field: string): this {
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new BadField(`${field} is not a whole number`);
    this.#room(8);
    const hi = Math.floor(n / 0x1_0000_0000);
    this.#u32(hi >>> 0); // two's complement of the high word for a negative number
    this.#u32(n - hi * 0x1_0000_0000);
    return this;
  }

  /** A presence byte: 0 for null (nothing follows), else 1. */
  #present(v: unknown): boolean {
    this.#room(1);
    this.#buf[this.#off++] = v === null ? 0 : 1;
    return v !== null;
  }

  optInt(n: unknown, field: string): this {
    return this.#present(n) ? this.int(n, field) : this;
  }

  text(s: unknown, field: string): this {
    if (typeof s !== 'string') throw new BadField(`${field} is not text`);
    // At most 3 bytes of UTF-8 per UTF-16 unit: room first, then the exact length after writing.
    this.#room(4 + s.length * 3);
    const b = this.#buf;
    const start = this.#off + 4;
    let i = 0;
    // Names and short metadata are ASCII: copied byte by byte, cheaper than a native call.
    for (; i < s.length && i < 64; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      b[start + i] = c;
    }
    const len = i === s.length ? i : i + b.write(s.slice(i), start + i, 'utf8');
    this.#u32(len);
    this.#off += len;
    return this;
  }

  bytes(b: unknown, field: string): this {
    if (!(b instanceof Uint8Array)) throw new BadField(`${field} is not bytes`);
    this.#room(4 + b.length);
    this.#u32(b.length);
    this.#buf.set(b, this.#off);
    this.#off += b.length;
    return this;
  }

  optBytes(b: unknown, field: string): this {
    return this.#present(b) ? this.bytes(b, field) : this;
  }

  /**
   * A version's content type, appended only when it is JSON: nothing for
   * plain bytes (false; or absent, as in rows built by hand before the flag
   * existed, such as the v1 vectors' rows), lp("json") for JSON. So every
   * row written before the flag existed, and every plain-bytes row since,
   * encodes exactly as in v1 and keeps its MAC and its vectors.
   *
   * Unambiguous because every field before it is self-delimiting: fixed
   * width, or a presence byte or a length first. Reading a message field by
   * field from its start ends at the same place whether or not the flag
   * follows, so the message of a row with the flag is its v1 message plus
   * lp("json"), never the message of another row, and a plain row's message
   * is never a JSON row's. (Nor can a MAC be extended: HMAC is not
   * SHA-256's length-extendable hash.) A later optional field would follow
   * this one the same way, with its own text.
   */
  contentType(json: unknown, field: string): this {
    if (json === false || json === undefined) return this;
    if (json !== true) throw new BadField(`${field} is not 0 or 1`);
    return this.text(JSON_CONTENT, field);
  }

  /** The MAC of what was encoded since start(). */
  mac(): Uint8Array {
    return this.hmac.mac(this.#off - BLOCK);
  }
}

/** Where a row lives, for messages: names and numbers, never values. */
export const place = {
  meta: (key: string) => `header entry ${JSON.stringify(key)}`,
  key: (r: { version: unknown }) => `data key ${String(r.version)}`,
  secret: (r: { id: unknown; name?: unknown }) => (typeof r.name === 'string' ? `secret ${r.name}` : `secret id ${String(r.id)}`),
  version: (name: string, r: { version: unknown }) => `${name} version ${String(r.version)}`,
  record: (kind: unknown, id: unknown) => `record ${String(kind)}/${String(id)}`,
};

export function tampered(where: string, what: string): TamperedError {
  return new TamperedError(`${where} ${what}`);
}

/** The bytes of a ciphertext a version's MAC covers: the format header (5 bytes) and the nonce (24). */
const CIPHERTEXT_HEAD_BYTES = HEADER_BYTES + NONCE_BYTES;

function ciphertextHead(ciphertext: unknown): unknown {
  return ciphertext instanceof Uint8Array ? ciphertext.subarray(0, CIPHERTEXT_HEAD_BYTES) : ciphertext;
}

/** `label ‖ store id`, length-prefixed: the fixed start of every MAC'd message of a kind. */
function prefix(label: string, storeId: Uint8Array): Uint8Array {
  const l = Buffer.from(label, 'utf8');
  const out = Buffer.alloc(8 + l.length + storeId.length);
  out.writeUInt32BE(l.length, 0);
  l.copy(out, 4);
  out.writeUInt32BE(storeId.length, 4 + l.length);
  out.set(storeId, 8 + l.length);
  return out;
}

/** MACs rows under the store's integrity key. Holds the key until close(). */
export class RowAuthenticator {
  #key: Uint8Array;
  readonly #hmac: Hmac;
  readonly #canon: Canon;
  readonly #prefix: Record<keyof typeof LABELS, Uint8Array>;

  /** Takes ownership of `key` (wiped at close). */
  constructor(key: Uint8Array, storeId: Uint8Array) {
    this.#key = key;
    this.#hmac = new Hmac(key);
    this.#canon = new Canon(this.#hmac);
    this.#prefix = {
      meta: prefix(LABELS.meta, storeId), key: prefix(LABELS.key, storeId), secret: prefix(LABELS.secret, storeId),
      secretBound: prefix(LABELS.secretBound, storeId),
      version: prefix(LABELS.version, storeId), versionBound: prefix(LABELS.versionBound, storeId),
      record: prefix(LABELS.record, storeId), state: prefix(LABELS.state, storeId),
    };
  }

  /** `where` is only called to name a damaged row (building the text on every MAC would cost the get path). */
  #mac(kind: keyof typeof LABELS, where: () => string, encode: (c: Canon) => void): Uint8Array {
    if (this.#key.length === 0) throw new Error('row authenticator: used after close');
    try {
      encode(this.#canon.start(this.#prefix[kind]));
      return this.#canon.mac();
    } catch (e) {
      if (e instanceof BadField) throw tampered(where(), `is damaged: ${e.message}`);
      throw e;
    }
  }

  meta(r: Omit<RawMeta, 'mac'>): Uint8Array {
    return this.#mac('meta', () => place.meta(r.key), (c) => c.text(r.key, 'key').text(r.value, 'value'));
  }

  key(r: KeyRow): Uint8Array {
    return this.#mac('key', () => place.key(r), (c) => c
      .int(r.id, 'id').int(r.version, 'version').text(r.status, 'status').int(r.createdAt, 'created_at').optBytes(r.wrapped, 'wrapped'));
  }

  /**
   * A secret row's MAC (v2, schema 9 on): its fields and its current
   * version's state, including that version's nonce, so that a get of the
   * current version checks this one MAC and not the version's too. The
   * nonce ties the MAC to one ciphertext as the version MAC's head does (a
   * purged secret's old ciphertext, made again under the same name and
   * version, has another nonce), and a rewrap keeps it, so the secret row
   * is not written again when its current version is rewrapped. Not the key
   * id: the AEAD binds the header, and only the key that made the
   * ciphertext opens it.
   */
  secret(r: Omit<RawSecret, 'mac'>): Uint8Array {
    return this.#mac('secretBound', () => place.secret(r), (c) => this.#secretFields(c, r)
      .optBytes(r.head === null ? null : r.head.nonce, 'current version nonce'));
  }

  /**
   * The v1 MAC of a secret row, which rows written before schema 9 carry
   * until they are next written: it covers its current version's state but
   * not its nonce, so a get that finds it checks the version's MAC as well.
   */
  secretV1(r: Omit<RawSecret, 'mac'>): Uint8Array {
    return this.#mac('secret', () => place.secret(r), (c) => this.#secretFields(c, r));
  }

  #secretFields(c: Canon, r: Omit<RawSecret, 'mac'>): Canon {
    c.int(r.id, 'id').text(r.name, 'name').int(r.currentVersion, 'current_version').int(r.maxVersions, 'max_versions')
      .text(r.custom, 'custom').int(r.createdAt, 'created_at').int(r.updatedAt, 'updated_at');
    const h = r.head;
    if (h === null) return c.optInt(null, 'current version');
    return c.optInt(1, 'current version').int(h.createdAt, 'current version created_at').optInt(h.deletedAt, 'current version deleted_at')
      .optInt(h.destroyedAt, 'current version destroyed_at').contentType(h.json, 'current version json');
  }

  /**
   * A version row's MAC (v2, schema 8 on): bound to (secret id, version), and
   * to its ciphertext through the ciphertext's head (its format byte, key id
   * and nonce; nothing once destroyed). The value's AEAD binds the ciphertext
   * to (store, name, version) only, which a secret made again after a purge
   * shares with the one purged: without the head, an old ciphertext of the
   * purged secret put into the new one's row would open as its value. No one
   * can make another ciphertext with the same nonce without the data key.
   * The name is the secret row's, itself authenticated.
   */
  version(name: string, r: Omit<RawVersion, 'mac'>): Uint8Array {
    return this.#mac('versionBound', () => place.version(name, r), (c) => this.#versionFields(c, r)
      .optBytes(ciphertextHead(r.ciphertext), 'ciphertext'));
  }

  /**
   * The v1 MAC of a version row, which every version written before schema 8
   * carries until it is next written (a rewrap writes them all): it does not
   * cover the ciphertext. Checked only where the v2 MAC does not match.
   */
  versionV1(name: string, r: Omit<RawVersion, 'mac' | 'ciphertext'>): Uint8Array {
    return this.#mac('version', () => place.version(name, r), (c) => this.#versionFields(c, r));
  }

  #versionFields(c: Canon, r: Omit<RawVersion, 'mac' | 'ciphertext'>): Canon {
    return c.int(r.secretId, 'secret_id').int(r.version, 'version').int(r.createdAt, 'created_at')
      .optInt(r.deletedAt, 'deleted_at').optInt(r.destroyedAt, 'destroyed_at').optInt(r.keyId, 'key_id').contentType(r.json, 'json');
  }

  /** Bound to (kind, id): a record moved to another kind or id fails its MAC there. */
  record(r: Omit<RawRecord, 'mac'>): Uint8Array {
    return this.#mac('record', () => place.record(r.kind, r.id), (c) => c.text(r.kind, 'kind').text(r.id, 'id').text(r.value, 'value'));
  }

  state(digest: Uint8Array, auditSeq: number, auditMac: Uint8Array): Uint8Array {
    return this.#mac('state', () => "the store's state record", (c) => c.bytes(digest, 'digest').int(auditSeq, 'audit_seq').bytes(auditMac, 'audit_mac'));
  }

  /** @throws TamperedError unless `stored` is `expected` */
  static check(expected: Uint8Array, stored: Uint8Array | null, where: string): void {
    if (!macMatches(expected, stored)) throw tampered(where, 'was altered, replaced or moved (its MAC does not match)');
  }

  /** The integrity key wrapped under a new master key (master-key rotation), without letting the key out. */
  async wrapKeyWith(wrap: (key: Uint8Array) => Promise<string>): Promise<string> {
    if (this.#key.length === 0) throw new Error('row authenticator: used after close');
    return wrap(this.#key);
  }

  close(): void {
    wipe(this.#key);
    this.#hmac.wipe();
    this.#key = new Uint8Array(0);
  }
}
