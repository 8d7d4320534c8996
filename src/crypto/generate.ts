/**
 * Random secret values for `store set --generate` and `store rotate --generate`: characters drawn from
 * the OS CSPRNG (random.ts) by rejection sampling, so every character of the
 * charset is exactly equally likely (no modulo bias).
 */
import { StoreError } from '../errors.js';
import { randomBytes } from './random.js';

export type Charset = 'alnum' | 'hex' | 'base64' | 'base64url' | 'digits' | 'symbols';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';

/**
 * The punctuation `symbols` adds to alnum: ASCII punctuation without the
 * characters that most often break shells, config files and URLs when pasted
 * (space, quotes ' " `, backslash).
 */
export const SYMBOL_PUNCTUATION = '!#$%&()*+,-./:;<=>?@[]^_{|}~';

/**
 * The alphabet of each charset. base64 and base64url are the alphabets only,
 * not padded base64 encoding; base64url's is safe in URLs and file names,
 * digits is for PINs.
 */
export const CHARSETS: Readonly<Record<Charset, string>> = {
  alnum: UPPER + LOWER + DIGITS,
  hex: DIGITS + 'abcdef',
  base64: UPPER + LOWER + DIGITS + '+/',
  base64url: UPPER + LOWER + DIGITS + '-_',
  digits: DIGITS,
  symbols: UPPER + LOWER + DIGITS + SYMBOL_PUNCTUATION,
};

export const MIN_LENGTH = 1;
export const MAX_LENGTH = 4096;

export function isCharset(name: string): name is Charset {
  return Object.prototype.hasOwnProperty.call(CHARSETS, name);
}

/** A source of uniformly random bytes (randomBytes in production; a fixed sequence in tests). */
export type ByteSource = (length: number) => Uint8Array;

/**
 * `count` indices in [0, size), each uniform: a byte b is used (as b % size)
 * only when b < the largest multiple of size not above 256; larger bytes are
 * rejected and more are drawn.
 */
export function uniformIndices(count: number, size: number, source: ByteSource = randomBytes): number[] {
  if (!Number.isSafeInteger(size) || size < 1 || size > 256) throw new RangeError('size must be 1..256');
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError('count must be a whole number');
  const limit = 256 - (256 % size); // largest multiple of size ≤ 256; bytes ≥ limit are rejected
  const out: number[] = [];
  while (out.length < count) {
    const missing = count - out.length;
    // Enough bytes on average for the rest, plus a little.
    const batch = source(Math.ceil((missing * 256) / limit) + 8);
    for (const b of batch) {
      if (b >= limit) continue;
      out.push(b % size);
      if (out.length === count) break;
    }
    batch.fill(0);
  }
  return out;
}

/** A random value of `length` characters (1..4096) from `charset`. */
export function generateValue(length: number, charset: Charset = 'alnum', source: ByteSource = randomBytes): string {
  if (!Number.isSafeInteger(length) || length < MIN_LENGTH || length > MAX_LENGTH) {
    throw new StoreError('E_USAGE', `a generated value is ${MIN_LENGTH}..${MAX_LENGTH} characters long, not ${String(length)}`);
  }
  if (!isCharset(charset)) throw new StoreError('E_USAGE', `unknown charset "${String(charset)}"; known: ${Object.keys(CHARSETS).join(', ')}`);
  const alphabet = CHARSETS[charset];
  return uniformIndices(length, alphabet.length, source).map((i) => alphabet[i]!).join('');
}
