/**
 * The random credentials `store serve` hands out and how they are kept:
 * tokens (`hvs.` and 32 base62 characters, about 190 bits), accessors (24
 * base62 characters, about 143 bits), and UUIDs (AppRole role ids,
 * secret-ids and their accessors, as Vault makes them: 122 random bits).
 * All from the OS CSPRNG (src/crypto/random.ts). A token or secret-id is
 * stored only as its SHA-256: with this much entropy, no salt or slow hash
 * is needed for a stolen store file not to give them away.
 */
import * as nodeCrypto from 'node:crypto';
import { randomBytes } from '../../crypto/random.js';
import { hex } from '../../crypto/bytes.js';

export const TOKEN_PREFIX = 'hvs.';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` characters of base62, each uniform (bytes of 248 and above are drawn again: 248 = 4 × 62). */
export function base62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return out;
}

/** A new service token. */
export function newToken(): string {
  return `${TOKEN_PREFIX}${base62(32)}`;
}

/** A new token accessor: names a token (to list or revoke it) without being it. */
export function newAccessor(): string {
  return base62(24);
}

/** A random (version 4) UUID. */
export function newUuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The longest credential worth hashing: anything longer is no credential of ours. */
export const MAX_CREDENTIAL_LENGTH = 1024;

/**
 * How a credential is kept: the hex SHA-256 of its UTF-8 text. Every request
 * hashes its token: Node's one-shot hash (OpenSSL, ≥ 20.12) takes 0.2 µs here
 * where a pure-JS SHA-256 takes 1.6 µs.
 */
export const credentialHash: (credential: string) => string = typeof nodeCrypto.hash === 'function'
  ? (credential) => nodeCrypto.hash('sha256', credential, 'hex')
  : (credential) => nodeCrypto.createHash('sha256').update(credential, 'utf8').digest('hex');
