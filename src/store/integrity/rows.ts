/**
 * Row MACs: every row that carries meaning (header entries, data keys,
 * secrets, versions) and the state row are authenticated with HMAC-SHA256
 * under the store's integrity key, over a canonical encoding of the row as
 * stored, bound to the store id, the row's kind and its identity (primary
 * key). Someone who can write the file but lacks the master key can neither
 * edit a row nor move one to another place without the MAC failing.
 *
 * The encoding is strict about types: a damaged file can hold a string where
 * a number belongs or a NULL where a value must be, and such a row is
 * E_TAMPERED naming the row, not a TypeError later on.
 *
 * Not covered by a row MAC: a version's ciphertext, which its AEAD tag
 * already binds to (store id, name, version); and audit entries, which are
 * hash-chained (src/store/audit.ts) with the chain's end in the state row.
 */
import { TamperedError } from '../../errors.js';
import { hmacSha256, macMatches } from '../../crypto/mac.js';
import { wipe } from '../../crypto/bytes.js';
import type { KeyRow, RawMeta, RawSecret, RawVersion } from '../storage.js';

const LABELS = {
  meta: 'strongbox/row/meta/v1',
  key: 'strongbox/row/key/v1',
  secret: 'strongbox/row/secret/v1',
  version: 'strongbox/row/version/v1',
  state: 'strongbox/state/v1',
} as const;

/** Thrown by the encoder; turned into a TamperedError that names the row. */
class BadField extends Error {}

/**
 * A canonical, length-prefixed encoding written into one reused buffer (the
 * MACs run on every get and put; rows hold no secret, so nothing needs
 * wiping). Numbers are whole, safe integers encoded as
 * 8 bytes; a nullable field has a presence byte; text and bytes carry their length.
 */
class Canon {
  #buf = Buffer.alloc(1024);
  #off = 0;

  start(label: string, storeId: Uint8Array): this {
    this.#off = 0;
    this.text(label, 'label');
    return this.bytes(storeId, 'store id');
  }

  #room(n: number): void {
    if (this.#off + n <= this.#buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.#buf.length * 2, this.#off + n));
    this.#buf.copy(bigger, 0, 0, this.#off);
    this.#buf = bigger;
  }

  int(n: unknown, field: string): this {
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new BadField(`${field} is not a whole number`);
    this.#room(8);
    const hi = Math.floor(n / 0x1_0000_0000);
    this.#buf.writeInt32BE(hi, this.#off);
    this.#buf.writeUInt32BE(n - hi * 0x1_0000_0000, this.#off + 4);
    this.#off += 8;
    return this;
  }

  optInt(n: unknown, field: string): this {
    this.#room(1);
    if (n === null) {
      this.#buf[this.#off++] = 0;
      return this;
    }
    this.#buf[this.#off++] = 1;
    return this.int(n, field);
  }

  text(s: unknown, field: string): this {
    if (typeof s !== 'string') throw new BadField(`${field} is not text`);
    const len = Buffer.byteLength(s, 'utf8');
    this.#room(4 + len);
    this.#buf.writeUInt32BE(len, this.#off);
    this.#buf.write(s, this.#off + 4, 'utf8');
    this.#off += 4 + len;
    return this;
  }

  bytes(b: unknown, field: string): this {
    if (!(b instanceof Uint8Array)) throw new BadField(`${field} is not bytes`);
    this.#room(4 + b.length);
    this.#buf.writeUInt32BE(b.length, this.#off);
    this.#buf.set(b, this.#off + 4);
    this.#off += 4 + b.length;
    return this;
  }

  optBytes(b: unknown, field: string): this {
    this.#room(1);
    if (b === null) {
      this.#buf[this.#off++] = 0;
      return this;
    }
    this.#buf[this.#off++] = 1;
    return this.bytes(b, field);
  }

  /** The encoded bytes (a view into the shared buffer: MAC it at once). */
  view(): Uint8Array {
    return this.#buf.subarray(0, this.#off);
  }
}

/** Where a row lives, for messages: names and numbers, never values. */
export const place = {
  meta: (key: string) => `header entry ${JSON.stringify(key)}`,
  key: (r: { version: unknown }) => `data key ${String(r.version)}`,
  secret: (r: { id: unknown; name?: unknown }) => (typeof r.name === 'string' ? `secret ${r.name}` : `secret id ${String(r.id)}`),
  version: (name: string, r: { version: unknown }) => `${name} version ${String(r.version)}`,
};

export function tampered(where: string, what: string): TamperedError {
  return new TamperedError(`${where} ${what}`);
}

/** MACs rows under the store's integrity key. Holds the key until close(). */
export class RowAuthenticator {
  #key: Uint8Array;
  readonly #storeId: Uint8Array;
  readonly #canon = new Canon();

  /** Takes ownership of `key` (wiped at close). */
  constructor(key: Uint8Array, storeId: Uint8Array) {
    this.#key = key;
    this.#storeId = storeId;
  }

  #mac(where: string, encode: (c: Canon) => void): Uint8Array {
    if (this.#key.length === 0) throw new Error('row authenticator: used after close');
    try {
      encode(this.#canon);
      return hmacSha256(this.#key, this.#canon.view());
    } catch (e) {
      if (e instanceof BadField) throw tampered(where, `is damaged: ${e.message}`);
      throw e;
    }
  }

  meta(r: Omit<RawMeta, 'mac'>): Uint8Array {
    return this.#mac(place.meta(r.key), (c) => c.start(LABELS.meta, this.#storeId).text(r.key, 'key').text(r.value, 'value'));
  }

  key(r: KeyRow): Uint8Array {
    return this.#mac(place.key(r), (c) => c.start(LABELS.key, this.#storeId)
      .int(r.id, 'id').int(r.version, 'version').text(r.status, 'status').int(r.createdAt, 'created_at').optBytes(r.wrapped, 'wrapped'));
  }

  secret(r: Omit<RawSecret, 'mac'>): Uint8Array {
    return this.#mac(place.secret(r), (c) => c.start(LABELS.secret, this.#storeId)
      .int(r.id, 'id').text(r.name, 'name').int(r.currentVersion, 'current_version').int(r.maxVersions, 'max_versions')
      .text(r.custom, 'custom').int(r.createdAt, 'created_at').int(r.updatedAt, 'updated_at'));
  }

  /** Bound to (secret id, version); the name is the secret row's, itself authenticated. */
  version(name: string, r: Omit<RawVersion, 'mac' | 'ciphertext'>): Uint8Array {
    return this.#mac(place.version(name, r), (c) => c.start(LABELS.version, this.#storeId)
      .int(r.secretId, 'secret_id').int(r.version, 'version').int(r.createdAt, 'created_at')
      .optInt(r.deletedAt, 'deleted_at').optInt(r.destroyedAt, 'destroyed_at').optInt(r.keyId, 'key_id'));
  }

  state(digest: Uint8Array, auditSeq: number, auditMac: Uint8Array): Uint8Array {
    return this.#mac("the store's state record", (c) => c.start(LABELS.state, this.#storeId)
      .bytes(digest, 'digest').int(auditSeq, 'audit_seq').bytes(auditMac, 'audit_mac'));
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
    this.#key = new Uint8Array(0);
  }
}
