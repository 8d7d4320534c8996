import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js';
import { describe, expect, it } from 'vitest';
import {
  BUNDLE_SCRYPT_LIMITS, DEFAULT_SCRYPT, MAX_BUNDLE_LOG_N, MAX_LOG_N, MIN_LOG_N, STORE_SCRYPT_LIMITS, checkScryptParams, scrypt, type ScryptParams,
} from '../../src/crypto/kdf.js';
import { codeOf, errorOf } from '../helpers/errors.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const utf8 = (s: string) => new TextEncoder().encode(s);

describe('scrypt through node:crypto', () => {
  it('the reference (@noble/hashes) gives the RFC 7914 §12 vector (N=2^14, r=8, p=1), so it is a sound oracle', () => {
    // logN 14 is below our floor, so scrypt() itself cannot be run on this vector.
    const out = nobleScrypt(utf8('pleaseletmein'), utf8('SodiumChloride'), { N: 2 ** 14, r: 8, p: 1, dkLen: 64 });
    expect(toHex(out)).toBe(
      '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2' +
        'd5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887',
    );
  });

  it('gives the same bytes as @noble/hashes scrypt for the same parameters (logN 15)', async () => {
    const pw = utf8('correct horse battery staple');
    const salt = new Uint8Array(16).map((_, i) => i * 7);
    const params: ScryptParams = { logN: 15, r: 8, p: 1 };
    const ours = await scrypt(pw, salt, params);
    const noble = nobleScrypt(pw, salt, { N: 2 ** 15, r: 8, p: 1, dkLen: 32 });
    expect(ours).toBeInstanceOf(Uint8Array);
    expect(ours.length).toBe(32);
    expect(toHex(ours)).toBe(toHex(noble));
  });

  it('agrees with noble for other r, p and output lengths', async () => {
    const pw = utf8('pässwörd');
    const salt = utf8('0123456789abcdef');
    const ours = await scrypt(pw, salt, { logN: 15, r: 4, p: 2 }, 64);
    const noble = nobleScrypt(pw, salt, { N: 2 ** 15, r: 4, p: 2, dkLen: 64 });
    expect(toHex(ours)).toBe(toHex(noble));
  });

  it('different salts or passphrases give different keys; same inputs the same key', async () => {
    const p: ScryptParams = { logN: 15, r: 1, p: 1 };
    const a = await scrypt(utf8('pw'), new Uint8Array(16), p);
    const b = await scrypt(utf8('pw'), new Uint8Array(16), p);
    const c = await scrypt(utf8('pw'), new Uint8Array(16).fill(1), p);
    const d = await scrypt(utf8('pW'), new Uint8Array(16), p);
    expect(toHex(a)).toBe(toHex(b));
    expect(toHex(a)).not.toBe(toHex(c));
    expect(toHex(a)).not.toBe(toHex(d));
  });

  it('does not mutate the passphrase or salt', async () => {
    const pw = utf8('pw-unchanged');
    const salt = new Uint8Array(16).fill(9);
    await scrypt(pw, salt, { logN: 15, r: 1, p: 1 });
    expect(new TextDecoder().decode(pw)).toBe('pw-unchanged');
    expect(salt.every((b) => b === 9)).toBe(true);
  });
});

describe('scrypt parameter bounds', () => {
  it('defaults to N=2^17, r=8, p=1 and never below N=2^15', () => {
    expect(DEFAULT_SCRYPT).toEqual({ logN: 17, r: 8, p: 1 });
    expect(MIN_LOG_N).toBe(15);
    expect(MAX_LOG_N).toBe(22);
    expect(checkScryptParams(DEFAULT_SCRYPT)).toEqual(DEFAULT_SCRYPT);
    expect(checkScryptParams({ logN: 15, r: 8, p: 1 })).toEqual({ logN: 15, r: 8, p: 1 });
  });

  const bad: [string, ScryptParams][] = [
    ['logN 14 (below the floor)', { logN: 14, r: 8, p: 1 }],
    ['logN 1', { logN: 1, r: 8, p: 1 }],
    ['logN 0', { logN: 0, r: 8, p: 1 }],
    ['logN -1', { logN: -1, r: 8, p: 1 }],
    ['logN 23 (above the cap)', { logN: 23, r: 8, p: 1 }],
    ['logN 64', { logN: 64, r: 8, p: 1 }],
    ['logN 15.5', { logN: 15.5, r: 8, p: 1 }],
    ['logN NaN', { logN: Number.NaN, r: 8, p: 1 }],
    ['logN Infinity', { logN: Number.POSITIVE_INFINITY, r: 8, p: 1 }],
    ['r 0', { logN: 15, r: 0, p: 1 }],
    ['r 33', { logN: 15, r: 33, p: 1 }],
    ['r 1e6', { logN: 15, r: 1e6, p: 1 }],
    ['r 1.5', { logN: 15, r: 1.5, p: 1 }],
    ['p 0', { logN: 15, r: 8, p: 0 }],
    ['p 17', { logN: 15, r: 8, p: 17 }],
    ['p 2^30', { logN: 15, r: 8, p: 2 ** 30 }],
    ['p -1', { logN: 15, r: 8, p: -1 }],
  ];
  for (const [what, params] of bad) {
    it(`refuses ${what} with E_UNSUPPORTED_FORMAT`, async () => {
      expect(codeOf(() => checkScryptParams(params))).toBe('E_UNSUPPORTED_FORMAT');
      // scrypt() checks before it starts any work (synchronous throw).
      expect(codeOf(() => scrypt(utf8('pw'), new Uint8Array(16), params))).toBe('E_UNSUPPORTED_FORMAT');
    });
  }

  it('refuses a non-number parameter (as read from a crafted header)', () => {
    expect(codeOf(() => checkScryptParams({ logN: '15' as unknown as number, r: 8, p: 1 }))).toBe('E_UNSUPPORTED_FORMAT');
  });
});

describe('scrypt cost caps: a store header admits what init writes, a bundle header far less (issue 10, 9a)', () => {
  const cost = (logN: number, r = 8, p = 1): ScryptParams => ({ logN, r, p });

  it('a store header: every `init --scrypt-log-n 15..22` store (r 8, p 1) still opens', () => {
    for (let logN = MIN_LOG_N; logN <= MAX_LOG_N; logN++) {
      expect(checkScryptParams(cost(logN), STORE_SCRYPT_LIMITS)).toEqual(cost(logN));
      expect(checkScryptParams(cost(logN))).toEqual(cost(logN)); // the default limits are the store's
    }
  });

  it('a store header may not ask for more work than logN 22 r 8 p 1 (a crafted p on top)', () => {
    expect(codeOf(() => checkScryptParams(cost(22, 8, 2)))).toBe('E_UNSUPPORTED_FORMAT');
    expect(codeOf(() => checkScryptParams(cost(21, 8, 4)))).toBe('E_UNSUPPORTED_FORMAT');
    expect(codeOf(() => checkScryptParams(cost(22, 16, 1)))).toBe('E_UNSUPPORTED_FORMAT'); // 8 GiB
  });

  it('a bundle header: 256 MiB and 4× the default work at most; the default and logN 15..18 pass', () => {
    expect(MAX_BUNDLE_LOG_N).toBe(18);
    expect(128 * 2 ** MAX_BUNDLE_LOG_N * 8).toBeLessThanOrEqual(BUNDLE_SCRYPT_LIMITS.maxBytes);
    expect(BUNDLE_SCRYPT_LIMITS.maxBytes).toBe(256 * 1024 ** 2);
    for (const ok of [DEFAULT_SCRYPT, cost(15), cost(16), cost(18), cost(16, 4, 2), cost(15, 8, 16), cost(17, 8, 4)]) {
      expect(checkScryptParams(ok, BUNDLE_SCRYPT_LIMITS)).toEqual(ok);
    }
    for (const bad of [cost(22), cost(19), cost(18, 16), cost(17, 8, 5), cost(15, 32, 16), cost(18, 8, 3)]) {
      const e = errorOf(() => checkScryptParams(bad, BUNDLE_SCRYPT_LIMITS));
      expect(e.code, JSON.stringify(bad)).toBe('E_UNSUPPORTED_FORMAT');
    }
  });

  it('scrypt() refuses above its limits synchronously, before any work (the 4 GiB crafted bundle)', () => {
    const started = Date.now();
    expect(codeOf(() => scrypt(utf8('pw'), new Uint8Array(16), cost(22), 32, BUNDLE_SCRYPT_LIMITS))).toBe('E_UNSUPPORTED_FORMAT');
    expect(Date.now() - started).toBeLessThan(100);
  });
});
