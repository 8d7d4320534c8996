/**
 * Passphrase to key: scrypt (RFC 7914) through node:crypto, measured ~1.9×
 * faster than @noble/hashes' scrypt with the same output (a test keeps them
 * agreeing). Parameters live in the store header so they can be raised later;
 * they are capped on read so a crafted header cannot make us burn memory.
 */
import { StoreError } from '../errors.js';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  logN: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { logN: 17, r: 8, p: 1 };
/** Never below N=2^15 (docs/design.md §2); never above 2^22 for a store (`init --scrypt-log-n`). */
export const MIN_LOG_N = 15;
export const MAX_LOG_N = 22;

/**
 * What a set of scrypt parameters may ask of us: memory is 128·N·r bytes and
 * time grows as N·r·p. A check against these runs before any derivation, so
 * a crafted header costs nothing but the parse.
 */
export interface ScryptLimits {
  maxLogN: number;
  /** Cap on 128·N·r. */
  maxBytes: number;
  /** Cap on N·r·p. */
  maxWork: number;
}

/**
 * A store header: it must admit every store `init --scrypt-log-n 15..22`
 * (r 8, p 1) ever wrote, or such a store would no longer open; so 4 GiB, but
 * no more work than that costs (a crafted p of 16 on top would be 16× slower).
 */
export const STORE_SCRYPT_LIMITS: ScryptLimits = { maxLogN: MAX_LOG_N, maxBytes: 4 * 1024 ** 3, maxWork: 2 ** MAX_LOG_N * 8 };

/**
 * The largest log2 N an export bundle may carry with r 8: 2^18 is 256 MiB,
 * twice what our default (2^17) needs.
 */
export const MAX_BUNDLE_LOG_N = 18;
/**
 * An export bundle comes from someone else: a 200-byte file must not make
 * `import --dry-run` take gigabytes and half a minute before it can say
 * "wrong passphrase". 256 MiB, and 4× the work of our default, admit every
 * bundle our exporter writes (logN ≤ 18, r 8, p 1).
 */
export const BUNDLE_SCRYPT_LIMITS: ScryptLimits = { maxLogN: MAX_BUNDLE_LOG_N, maxBytes: 256 * 1024 ** 2, maxWork: 4 * 2 ** DEFAULT_SCRYPT.logN * DEFAULT_SCRYPT.r * DEFAULT_SCRYPT.p };

/** @throws StoreError E_UNSUPPORTED_FORMAT when parameters are out of bounds */
export function checkScryptParams(p: ScryptParams, limits: ScryptLimits = STORE_SCRYPT_LIMITS): ScryptParams {
  const shapeOk =
    Number.isInteger(p.logN) && p.logN >= MIN_LOG_N && p.logN <= limits.maxLogN &&
    Number.isInteger(p.r) && p.r >= 1 && p.r <= 32 &&
    Number.isInteger(p.p) && p.p >= 1 && p.p <= 16;
  if (!shapeOk) {
    throw new StoreError(
      'E_UNSUPPORTED_FORMAT',
      `scrypt parameters out of bounds (logN ${p.logN}, r ${p.r}, p ${p.p}; logN must be ${MIN_LOG_N}..${limits.maxLogN}, r 1..32, p 1..16)`,
    );
  }
  const bytes = 128 * 2 ** p.logN * p.r;
  const work = 2 ** p.logN * p.r * p.p;
  if (bytes > limits.maxBytes || work > limits.maxWork) {
    throw new StoreError(
      'E_UNSUPPORTED_FORMAT',
      `scrypt parameters too costly (logN ${p.logN}, r ${p.r}, p ${p.p} would need ${mib(bytes)} MiB and N·r·p = ${work}; ` +
        `the limit here is ${mib(limits.maxBytes)} MiB and N·r·p ≤ ${limits.maxWork})`,
      ['nothing was derived; a file asking for more was not written by Strongbox with its own settings'],
    );
  }
  return p;
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 ** 2);
}

/** Derive `length` bytes from `passphrase` and `salt`. */
export function scrypt(passphrase: Uint8Array, salt: Uint8Array, params: ScryptParams, length = 32, limits = STORE_SCRYPT_LIMITS): Promise<Uint8Array> {
  const { logN, r, p } = checkScryptParams(params, limits); // throws at once, before any work
  const N = 2 ** logN;
  // node:crypto is imported here, not at start-up: key-file stores never need scrypt.
  return import('node:crypto').then(({ scrypt: nodeScrypt }) => new Promise((resolve, reject) => {
    nodeScrypt(passphrase, salt, length, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) => {
      if (err) reject(new StoreError('E_MASTER_KEY', `scrypt failed: ${err.message}`));
      else resolve(new Uint8Array(key.buffer, key.byteOffset, key.byteLength));
    });
  }));
}
